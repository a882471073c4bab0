"""batteryzoom: a macro-to-nano zoom through battery degradation.

``import batteryzoom as bz`` is cheap: submodules load on first attribute access, and
napari, Qt and kaleido load only when a viewer or a static export is asked for.

Submodules, by technique (the README's contributor map has the layers):

- ``bz.frames``: the physical frame (voxel size, origin) of any array, and a zoom level.
- ``bz.data``: the data manifest, the cache, the offline mirror, ``load(name)``;
  ``bz.data.twin``: the synthetic twin.
- ``bz.io``: readers (cycler files, TXM frames, volumes, spectra).
- ``bz.cycling``, ``bz.cell``, ``bz.segment``, ``bz.xanes``, ``bz.regions``: analyses;
  ``bz.tomo``: raw tomography acquisitions to volumes.
- ``bz.zoom``: the hierarchy of scales in one physical frame.
- ``bz.plots``, ``bz.widgets``, ``bz.viewer``: figures, notebook widgets, napari.
- ``bz.report``, ``bz.cli``: the main job and the ``batteryzoom`` command.
"""

import lazy_loader as _lazy

__version__ = "0.1.0"

__getattr__, _lazy_dir, _names = _lazy.attach_stub(__name__, __file__)
__all__ = [*_names, "__version__"]


def __dir__():
    return list(__all__)
