"""Indigo (io/cycler/indigo.py): the real HDFStore read with h5py against pandas.read_hdf
(PyTables); its per-half-cycle coulomb count made per step."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from batteryzoom.io.cycler import detect_format, read_cycler


@pytest.mark.realdata
def test_indigo_store_matches_pandas_read_hdf(fetch_real, unchanged, matches_reference):
    pytest.importorskip("tables", reason="PyTables (pandas.read_hdf) is the reference: pip install -e '.[test]'")
    path = fetch_real("real/cycler/indigo-beep-indigo-test-sample")[0]
    assert detect_format(path) == "indigo-h5"
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    raw = pd.read_hdf(path, "time_series_data")
    # the coulomb count is signed and restarts with each half cycle ("step")
    ref = pd.DataFrame({"t": raw["time_s"], "v": raw["cell_voltage_v"], "i": raw["cell_current_a"],
                        "q": raw["cell_coulomb_count_c"] / 3600, "step": raw["half_cycle_count"]})
    matches_reference(df, ref, scope="step", t_atol=0, v_atol=0, i_atol=0)
    np.testing.assert_array_equal(df["unix_time_second"], raw["system_time_us"] * 1e-6)
    np.testing.assert_array_equal(df["cycle_count"], raw["cycle_count"])
    # the store holds every 25th-500th record of a faster log: the logged current cannot
    # reproduce the coulomb counter (9 % off on discharge), and the reader says so
    assert df.attrs["capacity_check"]["discharge"] > 0.02
    assert any("integral of the logged current" in r for r in df.attrs["repairs"])
