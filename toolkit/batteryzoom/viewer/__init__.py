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

Every layer's units are µm (napari's ``units``): the scale bar, the axes (``z (µm)``,
``y (µm)``, ``x (µm)``) and the status bar's position say so. A picked grain is drawn in
magenta and its histogram, mean and FWHM (eV) appear in the dock at once, before the 3D
frame is redrawn.

.. code-block:: python

    import batteryzoom as bz

    hierarchy = bz.zoom.Hierarchy.from_twin("small")
    truth = bz.data.load("twin/particle-xanes", part="truth")
    grains = truth["grain_labels"]
    stats = bz.regions.region_stats(truth["edge_energy_ev"], grains, name="edge_energy_ev")
    zv = bz.viewer.show(hierarchy, labels={"twin/particle-xanes": grains},
                        stats={"twin/particle-xanes": stats})
    zv.on_pick(lambda layer, label: print(layer, label))
    zv.focus_level("twin/particle-xanes")

(a window opens: not run as a doctest). What the viewer decides without a window runs
here, e.g. the voxel size every layer is given:

>>> import batteryzoom as bz
>>> bz.viewer.volume_scale_um(bz.data.load("twin/particle-xanes", part="truth")["grain_labels"])
array([0.16, 0.16, 0.16])

Modules, Qt-free first (as napari keeps its models apart from ``napari._qt``):

- :mod:`.layers`: what each napari layer is given (scale and units in µm, the labels'
  display dtype, colours, the picked grain's highlight, box outlines);
- :mod:`.picking`: the label a click picks along the camera's ray;
- :mod:`.readout`: the status bar's position in µm, the dock's title, axis and bins;
- :mod:`.zoom_viewer`: :class:`ZoomViewer` and :func:`show` (napari);
- :mod:`._qt`: the dock widget (Qt), loaded only when a dock is shown.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
