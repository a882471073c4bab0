"""Plausible physical values read from instrument files, and the caller's overrides.

A pixel size, photon energy or exposure time read from a file is checked against what an
instrument can record; a value outside is a damaged header (or a unit mistake), refused
with the value and the keyword that overrides it. :func:`choose` takes the caller's value
when given (checked the same way), else the file's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, InputError

__all__ = ["PIXEL_RANGE_UM", "ENERGY_RANGE_EV", "EXPOSURE_RANGE_S", "choose"]

# a detector pixel at the sample from 1 nm (nano-tomography) to 1 mm (coarse lab CT); a
# photon energy from 100 eV (soft X-rays) to 1 MeV (hard, high-energy); an exposure from
# 100 ns (a pulsed source) to a day
PIXEL_RANGE_UM = (1e-3, 1e3)
ENERGY_RANGE_EV = (100.0, 1e6)
EXPOSURE_RANGE_S = (1e-7, 86400.0)


def choose(
    quantity: str,
    given: Any,
    recorded: Any,
    recorded_from: str | None,
    path: Path,
    *,
    low: float,
    high: float,
    unit: str,
    arg: str,
) -> tuple[Any, str | None]:
    """The caller's value, else the file's; each checked against ``[low, high]`` (in
    ``unit``). Scalars or arrays (one per energy). Returns (value or None, source)."""

    def bad(v) -> bool:
        a = np.atleast_1d(np.asarray(v, dtype=np.float64))
        return a.size == 0 or not np.all(np.isfinite(a)) or bool(np.any(a < low)) or bool(np.any(a > high))

    if given is not None:
        if bad(given):
            raise InputError(f"{arg}={given!r} is outside the plausible {quantity} range {low:g}–{high:g} {unit}; "
                             f"give it in {unit}")
        note = "given: " + arg
        if recorded is not None and not bad(recorded) and not np.allclose(recorded, given):
            note += f" (the file's {recorded_from} says {_fmt(recorded)} {unit})"
        return given, note
    if recorded is None:
        return None, None
    if bad(recorded):
        raise FileFormatError(path, f"{recorded_from} records a {quantity} of {_fmt(recorded)} {unit}, outside the "
                                    f"plausible {low:g}–{high:g} {unit}", f"pass {arg}= with the right value")
    return recorded, recorded_from


def _fmt(value) -> str:
    a = np.atleast_1d(np.asarray(value, dtype=np.float64))
    return f"{a[0]:.6g}" if a.size == 1 else f"{a.min():.6g}–{a.max():.6g}"
