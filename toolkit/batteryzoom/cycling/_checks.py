"""What every analysis of :mod:`batteryzoom.cycling` asks of a record before it starts.

One home for the checks of a BDF table (and the step types that count as a charge or a
discharge), so that a rule about bad input is written once: time must increase (the
reader's contract: :func:`batteryzoom.io.read_cycler` repairs backward jumps and says so),
a voltage must be one a cell can have (a column in mV under a volt name is refused), and an
option that is a limit must be a positive number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

# row step types (bz.io.cycler.STEP_TYPES) of a charge and of a discharge
_CHARGE = ("cc_charge", "cv_charge")
_DISCHARGE = ("cc_discharge", "cv_discharge")
_REQUIRED = ("test_time_second", "voltage_volt", "current_ampere", "step_count", "cycle_count", "step_type")
# no cell (nor a module a cell cycler tests) reaches it; a cell's voltage in mV always does
_MAX_CELL_VOLT = 100.0


def _check(df: pd.DataFrame, name: str = "df") -> None:
    """Raise :class:`~batteryzoom.errors.InputError` unless ``df`` is a non-empty BDF table
    whose time increases and whose voltages are volts."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{name} must be a BDF DataFrame (from bz.io.read_cycler), got {type(df).__name__}")
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise InputError(f"{name} lacks the BDF columns {missing}; read the file with bz.io.read_cycler")
    if len(df) == 0:
        raise InputError(f"{name} has no rows")
    _check_time(df, name)
    _check_volts(df, name)


def _rows(where: np.ndarray, first: int = 5) -> str:
    """Row positions for a message: the first few and how many more."""
    shown = ", ".join(str(int(i)) for i in where[:first])
    return shown + (f" and {len(where) - first} more" if len(where) > first else "")


def _check_time(df: pd.DataFrame, name: str) -> None:
    """``test_time_second`` must be finite and never decrease (equal stamps are allowed)."""
    t = df["test_time_second"].to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise InputError(
            f"{name}.test_time_second is missing (NaN or inf) at row {_rows(bad)} (positions in the table): an "
            "analysis cannot place those samples in time; read the file with bz.io.read_cycler (it fills gaps by "
            "interpolation and says so) or drop those rows")
    back = np.flatnonzero(np.diff(t) < 0) + 1
    if back.size:
        raise InputError(
            f"{name}.test_time_second runs backwards at row {_rows(back)} (positions in the table; row "
            f"{back[0]} is at {t[back[0]]:g} s after {t[back[0] - 1]:g} s): time must increase; read the file "
            "with bz.io.read_cycler (it repairs backward jumps and says so), or sort the rows by time if they "
            "were only shuffled")


def _check_volts(df: pd.DataFrame, name: str) -> None:
    """``voltage_volt`` must be volts: a cell's voltage in mV is in the thousands."""
    v = df["voltage_volt"].to_numpy(np.float64)
    finite = v[np.isfinite(v)]
    if finite.size and np.abs(finite).max() > _MAX_CELL_VOLT:
        top = float(np.abs(finite).max())
        raise InputError(
            f"{name}.voltage_volt reaches {top:.6g}: no cell reaches {_MAX_CELL_VOLT:g} V, so this column is not in "
            f"volts; is it in mV? divide it by 1000 (bz.io.read_cycler converts the units it reads from the headers)")


def _check_positive(name: str, value, unit: str, example: str) -> None:
    """A limit option must be a finite number above 0."""
    try:
        ok = bool(np.isfinite(value) and value > 0)
    except TypeError:
        ok = False
    if not ok:
        raise InputError(f"{name}={value!r}: must be a number above 0 ({unit}); {example}")


def _check_threshold(threshold_mv_per_day) -> None:
    """The QC limit on the K-value: a voltage fall per day, above 0."""
    _check_positive("threshold_mv_per_day", threshold_mv_per_day, "mV/day",
                    "the K-value limit of a good cell, e.g. 2.0 (a K-value is a voltage fall, positive)")
