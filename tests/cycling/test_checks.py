"""What every bz.cycling analysis refuses (cycling/_checks.py): time that does not increase,
voltages that are not volts, limits that are not positive numbers."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom import cycling
from batteryzoom.errors import InputError


def _rest_rows(df):
    return np.flatnonzero((df["step_count"] == df["step_count"].max()).to_numpy())


def test_time_running_backwards_is_refused_naming_the_rows(twin):
    """The whole table backwards gave the defective cell a negative K-value and PASS; two
    samples swapped inside the rest too. Time must increase (bz.io.read_cycler repairs it)."""
    df = twin("cycling-self-discharge")
    backwards = df.copy()
    backwards["test_time_second"] = backwards["test_time_second"].to_numpy()[::-1]
    with pytest.raises(InputError, match=r"df.test_time_second runs backwards at row 1, 2, 3, 4, 5 and \d+ more"):
        cycling.self_discharge(backwards)
    swapped = df.copy()
    i = int(_rest_rows(df)[100])
    t = swapped["test_time_second"].to_numpy().copy()
    t[i], t[i + 1] = t[i + 1], t[i]
    swapped["test_time_second"] = t
    with pytest.raises(InputError, match=rf"runs backwards at row {i + 1} \(.*\): time must increase; read the file "
                                         r"with bz.io.read_cycler"):
        cycling.self_discharge(swapped)
    with pytest.raises(InputError, match="runs backwards"):
        cycling.cycle_summary(swapped)
    gap = df.copy()
    gap.loc[[7, 9], "test_time_second"] = np.nan
    with pytest.raises(InputError, match=r"test_time_second is missing \(NaN or inf\) at row 7, 9"):
        cycling.steps(gap)


def test_equal_time_stamps_are_allowed(twin):
    """Two samples in the same second (a cycler's clock resolution) are not time running
    backwards."""
    df = twin("cycling-one-cycle").copy()
    df.loc[11, "test_time_second"] = df.loc[10, "test_time_second"]
    assert len(cycling.cycle_summary(df)) == 1


def test_millivolts_under_a_volt_column_are_refused(twin):
    """The defective cell's record in mV read K = 6,072 mV/day and FAIL."""
    df = twin("cycling-self-discharge").copy()
    df["voltage_volt"] = df["voltage_volt"] * 1000
    with pytest.raises(InputError, match=r"df.voltage_volt reaches 4200: no cell reaches 100 V, so this column is not "
                                         r"in volts; is it in mV\? divide it by 1000"):
        cycling.self_discharge(df)
    with pytest.raises(InputError, match="is it in mV"):
        cycling.cycle_summary(twin("cycling-one-cycle").assign(voltage_volt=lambda d: d["voltage_volt"] * 1e3))


def test_negative_thresholds_are_refused_by_every_entry_point(twin):
    lot = twin("cycling-population")
    with pytest.raises(InputError, match=r"threshold_mv_per_day=-1: must be a number above 0 \(mV/day\)"):
        cycling.screen_population(lot, threshold_mv_per_day=-1)
    with pytest.raises(InputError, match=r"z_threshold=0: must be a number above 0"):
        cycling.screen_population(lot, z_threshold=0)
    with pytest.raises(InputError, match=r"threshold_mv_per_day=-1"):
        cycling.cycler_qc(twin("cycling-one-cycle"), threshold_mv_per_day=-1)
    with pytest.raises(InputError, match=r"threshold_mv_per_day='high'"):
        cycling.analyze_record(twin("cycling-one-cycle"), threshold_mv_per_day="high")
