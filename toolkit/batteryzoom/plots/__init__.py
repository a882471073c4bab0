"""Plotly figure builders, one house template.

Plots draw results they are given (tables, arrays); they compute no science. Each scale has
its own module (``plots.cycling``, ``plots.cell``, ``plots.electrode``, ``plots.xanes``,
``plots.grains``); :mod:`.style` holds the house template, registered in plotly as
``"batteryzoom"`` and applied by every builder.

Submodules load on first use.
"""

from __future__ import annotations

import importlib

_SUBMODULES = {"style", "cycling", "cell", "electrode", "particle", "xanes", "grains", "zoom", "twin"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'batteryzoom.plots' has no attribute {name!r}")
