"""bz.cycling.steps: one row per step, and the rests that follow a charge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom import cycling
from batteryzoom.cycling.steps import _step_bounds


def test_steps_of_the_one_cycle_test_follow_its_protocol(twin):
    df = twin("cycling-one-cycle")
    truth = twin("cycling-one-cycle", part="truth")
    st = cycling.steps(df)
    assert list(st["step_type"]) == ["rest", "cccv_charge", "rest", "cc_discharge", "rest"]
    # each step's counts are the instrument's own: the charge holds the cycle's charge capacity
    assert st.loc[st["step_type"] == "cccv_charge", "charge_capacity_ah"].iloc[0] == pytest.approx(
        truth["charge_capacity_ah"], rel=1e-9)
    assert st["rows"].sum() == len(df)
    assert np.all(st["duration_second"] > 0)


def test_step_bounds_split_runs_of_equal_step_count():
    starts, ends = _step_bounds(np.array([1, 1, 2, 2, 2, 5, 1]))
    assert starts.tolist() == [0, 2, 5, 6] and ends.tolist() == [1, 4, 5, 6]


def test_find_rests_keeps_rests_after_a_charge_longest_first(twin):
    one = twin("cycling-one-cycle")
    after_charge = cycling.find_rests(one)
    assert after_charge.index.tolist() == [3]
    assert after_charge["previous_step_type"].tolist() == ["cccv_charge"]
    after_discharge = cycling.find_rests(one, after="discharge")
    assert after_discharge.index.tolist() == [5]
    rest = twin("cycling-self-discharge")
    rests = cycling.find_rests(rest)
    assert rests["duration_second"].iloc[0] == pytest.approx(25 * 86400)
    assert bz.cycling.find_rests is cycling.find_rests


def test_functions_named_as_their_module_stay_the_functions():
    """``steps`` lives in ``cycling/steps.py`` and ``self_discharge`` in ``self_discharge.py``:
    importing those modules (as the package's other modules do) must not turn
    ``bz.cycling.steps`` into the module (lazy_loader >= 0.6 guards the package)."""
    code = ("import batteryzoom.cycling.summary, batteryzoom.cycling.qc\n"
            "import batteryzoom as bz\n"
            "from batteryzoom.cycling import steps\n"
            "assert callable(bz.cycling.steps) and bz.cycling.steps is steps, bz.cycling.steps\n"
            "assert callable(bz.cycling.self_discharge), bz.cycling.self_discharge\n"
            "import batteryzoom.cycling.self_discharge\n"
            "assert callable(bz.cycling.self_discharge), bz.cycling.self_discharge\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(bz.__file__).parents[1])})
    assert run.returncode == 0, run.stderr[-2000:]
