"""bz.cycling.analyze_record: what the CycleExplorer shows of a record, computed once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batteryzoom import cycling
from batteryzoom.errors import InputError


def test_analysis_holds_the_curves_and_rests_and_keeps_each_result(twin):
    one, rest = twin("cycling-one-cycle"), twin("cycling-self-discharge")
    a = cycling.analyze_record(one, rest, threshold_mv_per_day=5.0)
    pd.testing.assert_frame_equal(a.curves, cycling.vq_curves(one))
    assert a.cycles == [1] and a.rests.index.tolist() == cycling.find_rests(rest).index.tolist()
    d = a.dqdv(1, "charge")
    np.testing.assert_array_equal(d["dqdv_ah_per_v"], cycling.dqdv(one, cycle=1, direction="charge")["dqdv_ah_per_v"])
    assert a.dqdv(1, "charge") is d  # kept
    r = a.self_discharge(int(a.rests.index[0]))
    assert r.threshold_mv_per_day == 5.0 and r.verdict == "fail"
    assert r.k_value_mv_per_day == cycling.self_discharge(rest, threshold_mv_per_day=5.0).k_value_mv_per_day
    assert a.self_discharge(int(a.rests.index[0])) is r


def test_the_rests_default_to_the_record_itself(twin):
    one = twin("cycling-one-cycle")
    a = cycling.analyze_record(one)
    assert a.rest_record is one and a.rests.index.tolist() == [3]


def test_a_record_without_charge_or_discharge_is_refused(twin):
    rest_only = twin("cycling-one-cycle")
    rest_only = rest_only[rest_only["step_type"] == "rest"].reset_index(drop=True)
    with pytest.raises(InputError, match="no charge or discharge steps"):
        cycling.analyze_record(rest_only)
