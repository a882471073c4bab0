"""PEC (io/cycler/pec.py): both real layouts (mV/mA with seconds; V/A with hh:mm:ss.xxx
clocks) against pandas reading their raw columns; the 19.5 h open-circuit rest read as a
rest."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from batteryzoom.io.cycler import detect_format, read_cycler

PEC = {"real/cycler/pec-cellpy-pec": 33, "real/cycler/pec-cellpy-pec-test25205": 46}  # header line (1-based)


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(PEC))
def test_every_pec_export_matches_its_raw_columns(name, fetch_real, unchanged, clock_seconds, matches_reference):
    path = fetch_real(name)[0]
    assert detect_format(path) == "pec-csv"
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    raw = pd.read_csv(path, skiprows=PEC[name] - 1, encoding="utf-8", index_col=False)
    if "Total Time (Seconds)" in raw:
        t, v, i = raw["Total Time (Seconds)"], raw["Voltage (mV)"] * 1e-3, raw["Current (mA)"] * 1e-3
        q_ch, q_dis = raw["Charge Capacity (mAh)"] * 1e-3, raw["Discharge Capacity (mAh)"] * 1e-3
    else:
        t = clock_seconds(raw["Total Time (Hours in hh:mm:ss.xxx)"])
        v, i = raw["Voltage (V)"], raw["Current (A)"]
        q_ch, q_dis = raw["Charge Capacity (mAh)"] * 1e-3, raw["Discharge Capacity (mAh)"] * 1e-3
    # charge and discharge counted per cycle ("running")
    ref = pd.DataFrame({"t": t, "v": v, "i": i, "q_ch": q_ch, "q_dis": q_dis,
                        "step": raw["Cycle"] * 10_000 + raw["Step"]})
    rest = name.endswith("test25205")
    # the open-circuit rest's counter holds 0.012 mAh charge and 0.021 mAh discharge: the
    # 1 uA resolution of its current (0 and -1e-6 A logged) integrated over 19.5 h; a rest
    # counts no capacity in BDF, so its capacities are checked below instead
    matches_reference(df, ref, scope=None if rest else "running", t_atol=1e-6, v_atol=1e-9, i_atol=1e-9)
    if rest:
        assert (df["step_type"].astype(str) == "rest").all()
        assert (df["charging_capacity_ah"] == 0).all() and (df["discharging_capacity_ah"] == 0).all()
        assert q_dis.max() == pytest.approx(2.1e-5) and df.attrs["capacity_check"]["discharge"] is None
        assert df["test_time_second"].iloc[-2] / 3600 == pytest.approx(19.48, abs=0.01)
