"""What the viewer prints: the status bar's position in µm and the grain dock's text.

Qt-free: the dock (:mod:`._qt`) only draws what these functions decide, so the wording,
the units and the histogram's range are tested without a window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..plots.style import value_label
from ..plots.zoom import nice_length

__all__ = ["position_text", "status_in_um", "summary_title", "axis_title", "shown_bins", "ticks"]

_AXES = ("z", "y", "x")


def position_text(position_um: Sequence[float], decimals: int = 2) -> str:
    """A world position as the status bar shows it.

    >>> position_text((32800.0, -4.123, 5018.5))
    'z 32800.00, y -4.12, x 5018.50 µm'
    """
    parts = [f"{axis} {float(v):.{decimals}f}" for axis, v in zip(_AXES, list(position_um)[-3:])]
    return ", ".join(parts) + " µm"


def status_in_um(status: Any, position_um: Sequence[float]) -> Any:
    """napari's status with its bare coordinates (``[32800, -4, 5018]: 7``) replaced by
    the position in µm (``z 32800.00, y -4.00, x 5018.00 µm: 7``); a plain string (no
    cursor over a layer) is returned as it is.

    >>> status_in_um({"coordinates": "[1.000, 2.000, 3.000]: 7", "coords": "[1.000, 2.000, 3.000]",
    ...               "value": "7"}, (1, 2, 3))["coordinates"]
    'z 1.00, y 2.00, x 3.00 µm: 7'
    """
    if not isinstance(status, Mapping) or "coordinates" not in status:
        return status
    where = position_text(position_um)
    value = status.get("value", "")
    return {**status, "coords": where, "coordinates": f"{where}: {value}" if value != "" else where}


def axis_title(value_name: str) -> str:
    """The dock's x-axis title from the statistics' map name.

    >>> axis_title("edge_energy_ev")
    'edge energy (eV)'
    """
    return value_label(value_name)[0]


def summary_title(summary: Any, value_name: str, label: int | None = None) -> str:
    """The dock's heading for a picked region (``summary``: a ``RegionSummary`` or None).

    The FWHM is that of the grain's measured distribution (noise included), and says so.

    >>> import numpy as np, batteryzoom as bz
    >>> stats = bz.regions.region_stats(np.array([8341.0, 8342.0, 8343.0]), np.array([5, 5, 5]),
    ...                                 name="edge_energy_ev")
    >>> summary_title(bz.regions.RegionLookup(stats).summary(5), "edge_energy_ev")
    'grain 5: mean edge energy 8342.00 eV, FWHM 1.92 eV as measured (3 voxels)'
    >>> summary_title(None, "edge_energy_ev", label=7)
    'grain 7 (no statistics given)'
    """
    if summary is None:
        return "no grain selected" if label is None else f"grain {label} (no statistics given)"
    what, unit = value_label(value_name)
    what = what.replace(f" ({unit})", "") if unit else what
    unit = f" {unit}" if unit else ""
    n = int(np.asarray(summary.counts).sum())
    if not np.isfinite(summary.mean):
        return f"grain {summary.label}: no {what} (none of its voxels has a finite value)"
    fwhm = f"FWHM {summary.fwhm:.2f}{unit} as measured" if np.isfinite(summary.fwhm) else "FWHM undefined"
    return f"grain {summary.label}: mean {what} {summary.mean:.2f}{unit}, {fwhm} ({n} voxels)"


def shown_bins(counts: np.ndarray, pad: int = 2) -> tuple[int, int]:
    """The bins to draw, ``[first, stop)``: the region's non-empty bins padded by ``pad``
    (the shared binning spans every region; one grain occupies a few bins of it).

    >>> shown_bins(np.array([0, 0, 0, 0, 3, 5, 0, 0, 0, 0]))
    (2, 8)
    """
    counts = np.asarray(counts)
    nz = np.flatnonzero(counts)
    if not nz.size:
        return 0, len(counts)
    return max(int(nz[0]) - pad, 0), min(int(nz[-1]) + 1 + pad, len(counts))


def ticks(lo: float, hi: float, most: int = 4) -> tuple[np.ndarray, int]:
    """Round tick positions inside ``[lo, hi]`` (a step of 1, 2 or 5 × 10ⁿ, at most
    ``most`` ticks: the dock is ~300 px wide) and the decimals that print them alike.

    >>> ticks(8340.3, 8343.1)
    (array([8341., 8342., 8343.]), 0)
    >>> ticks(8340.8, 8342.0)
    (array([8341. , 8341.5, 8342. ]), 1)
    """
    step = nice_length(hi - lo, 0.25)
    while np.floor(hi / step) - np.ceil(lo / step) + 1 > most:
        step = nice_length(step * 2.5, 1.0)  # the next round step: 1 -> 2 -> 5 -> 10
    values = np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)
    decimals = max(0, int(np.ceil(-np.log10(step) - 1e-9)))
    return np.round(values, decimals), decimals
