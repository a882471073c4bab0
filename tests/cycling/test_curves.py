"""bz.cycling V–Q curves, dQ/dV and dV/dQ against the twin's ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batteryzoom import cycling
from batteryzoom.data.twin import cycling as twin_cycling
from batteryzoom.errors import InputError
from batteryzoom.io.cycler import STEP_TYPES


def _slow_record(current_a: float = 0.04) -> pd.DataFrame:
    """A C/50 charge along the twin's OCV (no resistance): dQ/dV shows the OCV's peaks."""
    ocv = twin_cycling.ocv_curve()
    cap = 2.0
    q = np.linspace(0, cap, 20001)
    v = np.interp(q / cap, ocv["soc"], ocv["voltage_volt"])
    t = q / current_a * 3600
    return pd.DataFrame({
        "test_time_second": t, "step_time_second": t, "voltage_volt": v, "current_ampere": current_a,
        "step_count": 1, "step_index": 1, "cycle_count": 1,
        "step_type": pd.Categorical(["cc_charge"] * len(t), categories=STEP_TYPES),
        "charging_capacity_ah": q, "discharging_capacity_ah": 0.0,
        "charging_energy_wh": np.r_[0, np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(q))], "discharging_energy_wh": 0.0,
    })


def test_vq_curves_end_at_the_cycle_capacities(twin):
    df, truth = twin("cycling-one-cycle"), twin("cycling-one-cycle", part="truth")
    vq = cycling.vq_curves(df)
    ch = vq[vq["direction"] == "charge"]
    dis = vq[vq["direction"] == "discharge"]
    assert np.all(np.diff(ch["capacity_ah"]) >= 0) and np.all(np.diff(dis["capacity_ah"]) >= 0)
    assert ch["capacity_ah"].iloc[-1] == pytest.approx(truth["charge_capacity_ah"], rel=1e-6)
    assert dis["capacity_ah"].iloc[-1] == pytest.approx(truth["discharge_capacity_ah"], rel=1e-6)


@pytest.mark.parametrize("method", ["binned", "savgol"])
def test_dqdv_peaks_at_the_ocv_features(method):
    rec = _slow_record()
    curve = cycling.dqdv(rec, direction="charge", method=method)
    # the curve integrates back to the capacity it came from
    dv = np.gradient(curve["voltage_volt"].to_numpy())
    assert float(np.sum(curve["dqdv_ah_per_v"] * dv)) == pytest.approx(2.0, rel=0.02)
    peaks = cycling.find_dqdv_peaks(curve, prominence=0.02)
    found = peaks["voltage_volt"].to_numpy()
    # the model's dQ/dV maxima with a prominence above 2 % are found within 5 mV
    truth = twin_cycling.ocv_dqdv_peaks()
    for centre in truth.loc[truth["relative_prominence"] > 0.02, "voltage_volt"]:
        assert np.min(np.abs(found - centre)) < 0.005, (centre, found)
    assert len(found) <= 4
    assert curve.attrs["method"]


def test_dvdq_integrates_to_the_voltage_span(twin):
    df = twin("cycling-one-cycle")
    d = cycling.dvdq(df, direction="discharge")
    dq = np.gradient(d["capacity_ah"].to_numpy())
    span = d["voltage_volt"].iloc[0] - d["voltage_volt"].iloc[-1]
    assert -float(np.sum(d["dvdq_v_per_ah"] * dq)) == pytest.approx(span, rel=0.02)


def test_bad_curve_arguments_raise_input_errors(twin):
    df = twin("cycling-one-cycle")
    with pytest.raises(InputError, match="direction must be"):
        cycling.dqdv(df, direction="up")
    with pytest.raises(InputError, match="method must be 'binned' or 'savgol'"):
        cycling.dqdv(df, method="spline")
    with pytest.raises(InputError, match="bin_width_v must be > 0"):
        cycling.dqdv(df, bin_width_v=0.0)
    with pytest.raises(InputError, match="cycle 7 has no discharge"):
        cycling.dqdv(df, cycle=7)
