"""What every analysis of :mod:`batteryzoom.cycling` asks of a record before it starts.

One home for the checks of a BDF table (and the step types that count as a charge or a
discharge), so that a new rule about bad input (see the issue on verdicts: NaN voltages,
time running backwards, a voltage in mV under a volt column) is written once.
"""

from __future__ import annotations

import pandas as pd

from ..errors import InputError

# row step types (bz.io.cycler.STEP_TYPES) of a charge and of a discharge
_CHARGE = ("cc_charge", "cv_charge")
_DISCHARGE = ("cc_discharge", "cv_discharge")
_REQUIRED = ("test_time_second", "voltage_volt", "current_ampere", "step_count", "cycle_count", "step_type")


def _check(df: pd.DataFrame, name: str = "df") -> None:
    """Raise :class:`~batteryzoom.errors.InputError` unless ``df`` is a non-empty BDF table."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{name} must be a BDF DataFrame (from bz.io.read_cycler), got {type(df).__name__}")
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise InputError(f"{name} lacks the BDF columns {missing}; read the file with bz.io.read_cycler")
    if len(df) == 0:
        raise InputError(f"{name} has no rows")
