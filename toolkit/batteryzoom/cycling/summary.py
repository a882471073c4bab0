"""One row per cycle: capacities, energies, efficiencies, mean voltages, CV share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import _check
from .steps import _step_bounds

__all__ = ["cycle_summary"]


def cycle_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cycle: capacities, energies, efficiencies, mean voltages, CV share.

    Capacities and energies are the sums over the cycle's charge (discharge) steps of each
    step's final value in the BDF per-step columns (the instrument's own counts).

    Parameters
    ----------
    df : pandas.DataFrame
        BDF table (:func:`batteryzoom.io.read_cycler`) with the per-step capacity and
        energy counts ``charging_capacity_ah``, ``discharging_capacity_ah``,
        ``charging_energy_wh``, ``discharging_energy_wh``.

    Returns
    -------
    pandas.DataFrame
        Index ``cycle_count``; columns ``charge_capacity_ah``, ``discharge_capacity_ah``,
        ``charge_energy_wh``, ``discharge_energy_wh``, ``coulombic_efficiency`` and
        ``energy_efficiency`` (discharge / charge of the same cycle, NaN when there is no
        charge), ``mean_charge_voltage_volt`` and ``mean_discharge_voltage_volt`` (energy /
        capacity), ``cv_charge_share`` (fraction of the charge capacity passed at constant
        voltage), ``start_time_second``, ``duration_second``.

    Examples
    --------
    The twin's one-cycle test (Fig. S1): 2.04 Ah in, 2.03 Ah out at 2 C.

    >>> import batteryzoom as bz
    >>> s = bz.cycling.cycle_summary(bz.data.load("twin/cycling-one-cycle"))
    >>> s[["charge_capacity_ah", "discharge_capacity_ah", "coulombic_efficiency"]].round(4)
                 charge_capacity_ah  discharge_capacity_ah  coulombic_efficiency
    cycle_count
    1                        2.0416                 2.0336                0.9961
    """
    _check(df)
    sc = df["step_count"].to_numpy()
    starts, ends = _step_bounds(sc)
    cyc = df["cycle_count"].to_numpy()[starts]
    codes = df["step_type"].cat.codes.to_numpy()
    cats = list(df["step_type"].cat.categories)
    cv_ch = codes == cats.index("cv_charge")
    q_ch_col = df["charging_capacity_ah"].to_numpy(np.float64)
    per_step = {
        "q_ch": np.maximum.reduceat(q_ch_col, starts),
        "q_dis": np.maximum.reduceat(df["discharging_capacity_ah"].to_numpy(np.float64), starts),
        "e_ch": np.maximum.reduceat(df["charging_energy_wh"].to_numpy(np.float64), starts),
        "e_dis": np.maximum.reduceat(df["discharging_energy_wh"].to_numpy(np.float64), starts),
    }
    # capacity passed during the CV rows of each step: the count's rise over those rows
    dq = np.diff(q_ch_col, prepend=q_ch_col[0])
    dq[starts] = 0.0
    per_step["q_cv"] = np.add.reduceat(np.where(cv_ch, np.clip(dq, 0, None), 0.0), starts)
    t = df["test_time_second"].to_numpy(np.float64)
    g = pd.DataFrame(per_step).assign(cycle_count=cyc, t0=t[starts], t1=t[ends]).groupby("cycle_count")
    agg = g.agg(q_ch=("q_ch", "sum"), q_dis=("q_dis", "sum"), e_ch=("e_ch", "sum"), e_dis=("e_dis", "sum"),
                q_cv=("q_cv", "sum"), t0=("t0", "min"), t1=("t1", "max"))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "charge_capacity_ah": agg["q_ch"],
            "discharge_capacity_ah": agg["q_dis"],
            "charge_energy_wh": agg["e_ch"],
            "discharge_energy_wh": agg["e_dis"],
            "coulombic_efficiency": np.where(agg["q_ch"] > 0, agg["q_dis"] / agg["q_ch"], np.nan),
            "energy_efficiency": np.where(agg["e_ch"] > 0, agg["e_dis"] / agg["e_ch"], np.nan),
            "mean_charge_voltage_volt": np.where(agg["q_ch"] > 0, agg["e_ch"] / agg["q_ch"], np.nan),
            "mean_discharge_voltage_volt": np.where(agg["q_dis"] > 0, agg["e_dis"] / agg["q_dis"], np.nan),
            "cv_charge_share": np.where(agg["q_ch"] > 0, agg["q_cv"] / agg["q_ch"], np.nan),
            "start_time_second": agg["t0"],
            "duration_second": agg["t1"] - agg["t0"],
        }, index=agg.index)
    out.index.name = "cycle_count"
    return out
