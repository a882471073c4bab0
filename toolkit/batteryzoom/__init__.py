"""batteryzoom: a macro-to-nano zoom through battery degradation.

``import batteryzoom as bz`` is cheap: submodules load on first attribute access, and
napari, Qt and kaleido load only when a viewer or a static export is asked for.

Submodules, by technique (see DESIGN.md):

- ``bz.data``: the data manifest, the cache, the offline mirror, ``load(name)``;
  ``bz.data.twin``: the synthetic twin.
- ``bz.io``: readers (cycler files, TXM frames, volumes, spectra).
- ``bz.cycling``, ``bz.cell``, ``bz.segment``, ``bz.xanes``, ``bz.regions``: analyses;
  ``bz.tomo``: raw tomography acquisitions to volumes.
- ``bz.zoom``: the hierarchy of scales in one physical frame.
- ``bz.plots``, ``bz.widgets``, ``bz.viewer``: figures, notebook widgets, napari.
- ``bz.report``, ``bz.cli``: the main job and the ``batteryzoom`` command.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "errors",
    "data",
    "io",
    "cycling",
    "cell",
    "segment",
    "xanes",
    "regions",
    "zoom",
    "tomo",
    "plots",
    "widgets",
    "viewer",
    "report",
    "cli",
}

__all__ = sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'batteryzoom' has no attribute {name!r}")


def __dir__():
    return __all__
