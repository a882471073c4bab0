"""Notebook widgets: ipywidgets + plotly FigureWidget compositions.

- :class:`GrainExplorer`: the particle's grains in 3D; click a grain (or pick it in a
  dropdown) to see its edge-energy distribution with mean and FWHM, its mean spectrum and its
  table row; a second grain gives the side-by-side comparison of the study's Fig. S3.
- :class:`SliceViewer`: orthogonal slices of any volume, sliders, a physical scale bar and a
  labels overlay.
- :class:`ZoomNavigator`: a breadcrumb of the zoom's levels and a slice of the current level
  with its children's boxes; click a box to descend, a breadcrumb to ascend.
- :class:`CycleExplorer`: cycles and the rest period of a cycler record: V–Q, dQ/dV and the
  self-discharge fit.

Widgets take results (statistics, hierarchies, analyses) and compute no science. They are
ipywidgets 8 compositions of plotly FigureWidgets (rendered through anywidget), the widget
stack JupyterLab 4 and Notebook 7 share; the end-to-end test runs them in JupyterLab.
Each submodule loads on first use, so ``import batteryzoom`` does not import ipywidgets.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "GrainExplorer": "grains",
    "SliceViewer": "slices",
    "ZoomNavigator": "zoom",
    "CycleExplorer": "cycling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'batteryzoom.widgets' has no attribute {name!r}")


def __dir__():
    return __all__
