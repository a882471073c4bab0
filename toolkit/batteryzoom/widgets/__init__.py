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

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
