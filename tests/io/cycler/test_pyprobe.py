"""PyProBE's processed parquet (io/cycler/pyprobe.py): steps from Event, capacity from the
net Capacity column, current kept positive on charge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batteryzoom.errors import FileFormatError
from batteryzoom.io.cycler import read_cycler


def test_pyprobe_parquet_steps_and_capacity(tmp_path):
    t = np.arange(300) * 10.0
    current = np.r_[np.zeros(100), np.full(100, 2.0), np.full(100, -1.0)]  # rest, charge, discharge
    # PyProBE's capacity: net charge over the test (Ah), from an arbitrary start value
    capacity = 4.0 + np.r_[0.0, np.cumsum(0.5 * (current[1:] + current[:-1]) * np.diff(t))] / 3600
    frame = pd.DataFrame({"Time [s]": t, "Step": np.repeat([0, 1, 2], 100), "Event": np.repeat([0, 1, 2], 100),
                          "Current [A]": current, "Voltage [V]": 3.7 + current * 0.01,
                          "Capacity [Ah]": capacity, "Temperature [C]": 25.0})
    path = tmp_path / "rpt.parquet"
    frame.to_parquet(path)
    df = read_cycler(path)
    assert df.attrs["format"] == "pyprobe-parquet"
    assert list(df["step_type"].astype(str).unique()) == ["rest", "cc_charge", "cc_discharge"]
    np.testing.assert_array_equal(df["current_ampere"], current)
    # per step from the net count: 99 intervals of 10 s at 2 A in the charge step...
    assert df["charging_capacity_ah"].max() == pytest.approx(2.0 * 99 * 10 / 3600 + 2.0 * 5 / 3600, rel=1e-9)
    assert df["temperature_celsius"].iloc[0] == 25.0
    frame.drop(columns="Current [A]").to_parquet(path)
    with pytest.raises(FileFormatError, match=r"PyProBE table lacks \['Current \[A\]'\]"):
        read_cycler(path)


@pytest.mark.realdata
def test_the_real_pyprobe_parquet_matches_its_raw_columns(fetch_real, unchanged, matches_reference):
    path = fetch_real("real/cycler/lgm50-rest")[0]
    with unchanged(path):
        df = read_cycler(path)
    raw = pd.read_parquet(path)
    ref = pd.DataFrame({"t": raw["Time [s]"], "v": raw["Voltage [V]"], "i": raw["Current [A]"],
                        "q": raw["Capacity [Ah]"], "step": raw["Event"]})
    matches_reference(df, ref, scope="net", t_atol=0, v_atol=0, i_atol=0)
