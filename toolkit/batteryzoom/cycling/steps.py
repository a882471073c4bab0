"""The steps of a cycler record: one row per step, and the rests that follow a charge."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import _check

__all__ = ["steps", "find_rests"]


def _step_bounds(step_count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last row of each run of equal ``step_count`` (int arrays, inclusive)."""
    new = np.r_[True, step_count[1:] != step_count[:-1]]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(step_count)] - 1
    return starts, ends


def _step_label(present: set[str]) -> str:
    """A step's type from the row types it holds (CC then CV rows: ``cccv_...``)."""
    if present <= {"rest"}:
        return "rest"
    for d in ("charge", "discharge"):
        cc, cv = f"cc_{d}" in present, f"cv_{d}" in present
        if cc and cv:
            return f"cccv_{d}"
        if cc:
            return f"cc_{d}"
        if cv:
            return f"cv_{d}"
    return "other"


def steps(df: pd.DataFrame) -> pd.DataFrame:
    """One row per step.

    Parameters
    ----------
    df : pandas.DataFrame
        BDF table (:func:`batteryzoom.io.read_cycler`), one row per sample.

    Returns
    -------
    pandas.DataFrame
        ``step_count`` (index), ``cycle_count``, ``step_index``, ``step_type`` (``rest``,
        ``cc_charge``, ``cccv_charge``, ``cv_charge``, ``cc_discharge``, ``cccv_discharge``,
        ``cv_discharge``, ``other``), ``start_time_second``, ``duration_second``,
        ``start_voltage_volt``, ``end_voltage_volt``, ``mean_current_ampere``,
        ``charge_capacity_ah``, ``discharge_capacity_ah``, ``charge_energy_wh``,
        ``discharge_energy_wh``, ``rows``.

    Examples
    --------
    The twin's one-cycle test: a rest, a CCCV charge to 4.2 V, a rest, a 2 C discharge.

    >>> import batteryzoom as bz
    >>> one = bz.data.load("twin/cycling-one-cycle")
    >>> st = bz.cycling.steps(one)
    >>> st["step_type"].tolist()
    ['rest', 'cccv_charge', 'rest', 'cc_discharge', 'rest']
    >>> round(float(st.loc[2, "charge_capacity_ah"]), 3)
    2.042
    """
    _check(df)
    sc = df["step_count"].to_numpy()
    starts, ends = _step_bounds(sc)
    t = df["test_time_second"].to_numpy(np.float64)
    v = df["voltage_volt"].to_numpy(np.float64)
    i = df["current_ampere"].to_numpy(np.float64)
    codes = df["step_type"].cat.codes.to_numpy() if hasattr(df["step_type"], "cat") else None
    cats = list(df["step_type"].cat.categories) if codes is not None else None
    types = []
    if codes is not None:
        # which row types a step holds -> its step label
        for s, e in zip(starts, ends):
            present = {cats[c] for c in np.unique(codes[s:e + 1])}
            types.append(_step_label(present))
    else:
        types = [_step_label(set(df["step_type"].iloc[s:e + 1])) for s, e in zip(starts, ends)]

    def peak(col):
        return np.maximum.reduceat(df[col].to_numpy(np.float64), starts) if col in df else np.zeros(len(starts))

    seg = ends - starts + 1
    return pd.DataFrame({
        "step_count": sc[starts],
        "cycle_count": df["cycle_count"].to_numpy()[starts],
        "step_index": df["step_index"].to_numpy()[starts] if "step_index" in df else sc[starts],
        "step_type": types,
        "start_time_second": t[starts],
        "duration_second": t[ends] - t[starts],
        "start_voltage_volt": v[starts],
        "end_voltage_volt": v[ends],
        "mean_current_ampere": np.add.reduceat(i, starts) / seg,
        "charge_capacity_ah": peak("charging_capacity_ah"),
        "discharge_capacity_ah": peak("discharging_capacity_ah"),
        "charge_energy_wh": peak("charging_energy_wh"),
        "discharge_energy_wh": peak("discharging_energy_wh"),
        "rows": seg,
    }).set_index("step_count")


def find_rests(df: pd.DataFrame, after: str = "charge") -> pd.DataFrame:
    """Rest steps that follow a charge (or a discharge), longest first.

    Parameters
    ----------
    df : pandas.DataFrame
        BDF table.
    after : {"charge", "discharge"}
        The kind of step the rest must follow.

    Returns
    -------
    pandas.DataFrame
        Rows of :func:`steps` for those rests (index ``step_count``), plus
        ``previous_step_type``.

    Examples
    --------
    The twin's self-discharge test: one 25-day rest after a 1 A charge.

    >>> import batteryzoom as bz
    >>> rests = bz.cycling.find_rests(bz.data.load("twin/cycling-self-discharge"))
    >>> rests[["duration_second", "previous_step_type"]]
                duration_second previous_step_type
    step_count
    3                 2160000.0          cc_charge
    """
    st = steps(df)
    prev = st["step_type"].shift(1)
    kinds = ("cc_charge", "cccv_charge", "cv_charge") if after == "charge" else (
        "cc_discharge", "cccv_discharge", "cv_discharge")
    mask = (st["step_type"] == "rest") & prev.isin(kinds)
    rests = st.loc[mask].copy()
    rests["previous_step_type"] = prev[mask]
    return rests.sort_values("duration_second", ascending=False)
