"""Battery Data Format tables (io/cycler/bdf.py): the SINTEF record's defects repaired and
reported."""

from __future__ import annotations

import pytest


@pytest.mark.realdata
def test_bdf_record_defects_are_repaired_and_reported(read_real):
    sintef = read_real("real/cycler/bdf-sintef-g20m7")
    assert any("cycle_count" in r for r in sintef.attrs["repairs"])  # the 6.283185 defect
    assert any("discharging_capacity_ah fell" in r for r in sintef.attrs["repairs"])


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["real/cycler/bdf-sintef-g20m7", "real/cycler/bdf-cellpy-batmo-bdf"])
def test_every_bdf_table_matches_its_raw_columns(name, fetch_real, unchanged, matches_reference):
    import warnings

    import numpy as np
    import pandas as pd

    from batteryzoom.io.cycler import read_cycler

    path = fetch_real(name)[0]
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    assert df.attrs["format"] == "bdf-csv"
    raw = pd.read_csv(path)
    if "test_time_second" in raw:  # machine names
        ref = pd.DataFrame({"t": raw["test_time_second"], "v": raw["voltage_volt"], "i": raw["current_ampere"],
                            "q_ch": raw["charging_capacity_ah"], "q_dis": raw["discharging_capacity_ah"],
                            "step": raw["step_count"]})
    else:  # preferred labels; this file writes the current positive on discharge (its step types say so)
        assert (np.sign(raw.loc[raw["Step Type / 1"] == "discharge", "Current / A"]) >= 0).all()
        ref = pd.DataFrame({"t": raw["Test Time / h"] * 3600, "v": raw["Voltage / V"], "i": -raw["Current / A"],
                            "q_ch": raw["Charge Capacity / Ah"], "q_dis": raw["Discharge Capacity / Ah"],
                            "step": raw["Cycle Count / 1"] * 10_000 + raw["Step Index / 1"]})
        assert any("positive on discharge" in n for n in df.attrs["notes"])
    # per step; SINTEF's discharge count falls inside one or two steps (a file defect:
    # read_cycler counts on from before each drop and warns, the file's own amount there is
    # the defect's), so those steps are left out of the comparison
    q_rtol = 1e-3
    if name.endswith("sintef-g20m7"):
        bad_steps = {int(s) for s in raw.loc[raw["discharging_capacity_ah"].diff() < -0.1, "step_count"]}
        keep = ~raw["step_count"].isin(bad_steps).to_numpy()
        df, ref = df[keep], ref[keep]
        assert 1 <= len(bad_steps) <= 2
    matches_reference(df, ref, scope="step", t_atol=1e-9, v_atol=1e-12, i_atol=1e-12, q_rtol=q_rtol)
