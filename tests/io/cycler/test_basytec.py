"""BaSyTec (io/cycler/basytec.py): the real result file against pandas reading its raw
columns; its T1[°C] header, written in a legacy code page, still Celsius."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from batteryzoom.io.cycler import detect_format, read_cycler


@pytest.mark.realdata
def test_basytec_result_file_matches_its_raw_columns(fetch_real, unchanged, matches_reference):
    path = fetch_real("real/cycler/basytec-pyprobe-sample-data-basytec")[0]
    assert detect_format(path) == "basytec-txt"
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    raw = pd.read_csv(path, sep="\t", skiprows=12, encoding="latin-1")
    raw.columns = [c.lstrip("~") for c in raw.columns]
    # Ah-Step: the signed charge of the step ("step"); steps by program line and cycle
    ref = pd.DataFrame({"t": raw["Time[s]"], "v": raw["U[V]"], "i": raw["I[A]"], "q": raw["Ah-Step"],
                        "step": raw["Cyc-Count"] * 10_000 + raw["Line"]})
    matches_reference(df, ref, scope="step", t_atol=1e-9, v_atol=1e-12, i_atol=1e-12)
    temp = next(c for c in raw.columns if c.startswith("T1["))
    np.testing.assert_allclose(df["temperature_celsius"], raw[temp])
    assert not df.attrs["flagged_columns"]  # the mangled degree sign is Celsius, not an unknown unit
    assert df.attrs["record_counter"] and list(df["step_type"].astype(str).unique()) == ["rest", "cc_charge"]
