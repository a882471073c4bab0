"""napari: every level of the zoom in one world frame, and grain picking in 3D.

``bz.viewer`` is the optional desktop view (``pip install 'batteryzoom[napari]'``). napari
and Qt are imported inside the functions that need them, so ``import batteryzoom`` (and even
``import batteryzoom.viewer``) never loads them.

Every layer gets ``scale`` (voxel size, µm) and ``translate`` (where its voxel ``(0, 0, 0)``
centre sits in the world frame, µm), so the cell, the electrode, the particle and its grains
overlap where they physically are, and zooming the canvas is a physical zoom from the cell
(mm) down to a grain (a fraction of a µm).

Picking: a click (press and release without dragging) on the canvas casts the ray along the
camera's view direction through the clicked point and asks each pickable labels layer for
the first non-background label along it (napari's ``Layer.get_value(position,
view_direction=..., dims_displayed=..., world=True)``). The picked label goes to the
callbacks registered with :meth:`ZoomViewer.on_pick` and, when statistics were given, its
edge-energy histogram is drawn in a dock widget.

Modules: :mod:`.zoom_viewer` (:class:`ZoomViewer`, :func:`show`) and :mod:`._qt` (the Qt
dock widget, loaded only when a dock is shown).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
