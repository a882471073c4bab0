"""The shared BDF finalisation (io/cycler/finalize.py): time repairs reported, and the
vectorized step statistics against brute force."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from batteryzoom.io.cycler import CyclerDataWarning, TimeRepairWarning, read_cycler
from batteryzoom.io.cycler.finalize import _after_last_peak, _step_median_sign


def test_step_time_that_resets_is_accumulated_and_reported(tmp_path, cycle_table):
    tab = cycle_table()
    step = np.repeat(np.arange(1, 5), 100)
    step_time = np.tile(np.arange(100) * 10.0, 4)
    csv = tmp_path / "steptime.csv"
    pd.DataFrame({"Step Time (s)": step_time, "Step Index": step, "Voltage(V)": tab.v, "Current(A)": tab.i}).to_csv(
        csv, index=False)
    with pytest.warns(TimeRepairWarning, match="rebuilt from a step time"):
        df = read_cycler(csv)
    t = df["test_time_second"].to_numpy()
    assert np.all(np.diff(t) >= 0)
    assert t[-1] == pytest.approx(4 * 990.0)
    assert any("rebuilt" in r for r in df.attrs["time_repairs"])


def test_backwards_time_jump_is_repaired_and_reported(tmp_path, cycle_table):
    tab = cycle_table()
    t = tab.t.to_numpy().copy()
    t[250:] -= 500.0  # the clock jumps back 500 s at row 250
    csv = tmp_path / "jump.csv"
    pd.DataFrame({"Test Time (s)": t, "Voltage (V)": tab.v, "Current (A)": tab.i}).to_csv(csv, index=False)
    with pytest.warns(TimeRepairWarning, match="jumps backwards 1 times") as record:
        df = read_cycler(csv)
    # the warning points at the caller of read_cycler, not inside the package
    assert record[0].filename == __file__
    out = df["test_time_second"].to_numpy()
    assert np.all(np.diff(out) > 0)
    np.testing.assert_allclose(np.diff(out), 10.0)  # the jump became one median interval
    assert "largest 490" in df.attrs["time_repairs"][0]


def test_exactly_0_v_under_current_is_warned_about_and_kept(tmp_path, cycle_table):
    """Zeroed bytes that still decode (a parquet page without checksums, under the fuzzer)
    read as 0 V in a 4 V record; a cell under current never reads exactly 0 V."""
    tab = cycle_table()
    v = tab.v.to_numpy().copy()
    v[130:170] = 0.0  # inside the charge
    path = tmp_path / "zeroed.parquet"
    pd.DataFrame({"test_time_second": tab.t, "voltage_volt": v, "current_ampere": tab.i}).to_parquet(path)
    with pytest.warns(CyclerDataWarning, match=r"40 rows read exactly 0 V while a current flows \(first at row 131\)"):
        df = read_cycler(path)
    assert len(df) == len(tab) and (df["voltage_volt"].to_numpy()[130:170] == 0).all()
    # 0 V at rest (a disconnected channel, an open-circuit record at 0 V) is not warned about
    v = tab.v.to_numpy().copy()
    v[:100] = 0.0
    pd.DataFrame({"test_time_second": tab.t, "voltage_volt": v, "current_ampere": tab.i}).to_parquet(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = read_cycler(path)
    assert not any("exactly 0 V" in str(w.message) for w in caught)


def test_step_median_sign_and_cv_hold_rows_match_brute_force():
    """The count-based median sign and the after-last-peak rows (the vectorized forms the
    reader uses on 700k-row files) against a per-step np.median and a per-row scan."""
    rng = np.random.default_rng(3)
    for _ in range(30):
        seg_len = rng.integers(1, 9, 40)  # short steps: even lengths with ties are common
        starts = np.r_[0, np.cumsum(seg_len)[:-1]]
        x = rng.choice([-2.0, -1.0, 0.0, 0.0, 1.0, 2.0], seg_len.sum())
        got = _step_median_sign(x, starts, seg_len)
        want = [np.sign(np.median(x[a : a + m])) for a, m in zip(starts, seg_len)]
        np.testing.assert_array_equal(got, want)

        absi = np.abs(x) + rng.random(x.size)
        sid = np.repeat(np.arange(len(starts)), seg_len)
        peak = np.maximum.reduceat(absi, starts)[sid]
        ends = np.r_[starts[1:], x.size][sid]
        brute = np.array([absi[r : ends[r]].max() < 0.98 * peak[r] for r in range(x.size)])
        np.testing.assert_array_equal(_after_last_peak(absi, starts, sid, peak), brute)
        assert not brute.all() and brute.any()
