"""Plotly figure builders, one house template.

Plots draw results they are given (tables, arrays); they compute no science. Each scale has
its own module (``plots.cycling``, ``plots.cell``, ``plots.electrode``, ``plots.xanes``,
``plots.grains``); :mod:`.style` holds the house template, registered in plotly as
``"batteryzoom"`` and applied by every builder.

Submodules load on first use.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
