"""The twin's cycler records (bz.data.twin.cycling): determinism, ground truth, exports."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz
from batteryzoom.data.twin import cycling as twin
from batteryzoom.io.cycler import BDF_COLUMNS, TimeRepairWarning, read_cycler

NAMES = ["twin/cycling-one-cycle", "twin/cycling-self-discharge", "twin/cycling-population"]


def test_same_seed_same_bytes_different_seed_different_record():
    a = twin.self_discharge(seed=5)
    b = twin.self_discharge(seed=5)
    c = twin.self_discharge(seed=6)
    pd.testing.assert_frame_equal(a["main"], b["main"])
    assert a["btsda.csv"] == b["btsda.csv"]
    assert a["truth"] == b["truth"]
    assert not np.array_equal(a["main"]["voltage_volt"].to_numpy()[:500], c["main"]["voltage_volt"].to_numpy()[:500])
    x = twin.one_cycle(seed=5)
    y = twin.one_cycle(seed=5)
    pd.testing.assert_frame_equal(x["main"], y["main"])


def test_generation_is_fast():
    t0 = time.perf_counter()
    twin.one_cycle()
    twin.self_discharge()
    assert time.perf_counter() - t0 < 3.0


@pytest.mark.parametrize("name", NAMES)
def test_manifest_entries_load_with_bdf_columns(name):
    df = bz.data.load(name)
    cols = [c for c in df.columns if c != "cell_id"]
    assert cols[: len(BDF_COLUMNS)] == BDF_COLUMNS
    assert bz.data.info(name).scale == "cycler"
    assert "truth" in bz.data.parts(name)
    assert name in bz.data.list(scale="cycler", synthetic=True)


def test_ocv_model_is_an_nmc_graphite_curve():
    ocv = twin.ocv_curve()
    v_at = lambda soc: float(np.interp(soc, ocv["soc"], ocv["voltage_volt"]))  # noqa: E731
    assert v_at(0.0) == pytest.approx(2.5) and v_at(1.0) == pytest.approx(4.2)
    assert 3.4 < v_at(0.05) < 3.5 and 3.65 < v_at(0.45) < 3.75 and 3.95 < v_at(0.85) < 4.05
    assert np.all(np.diff(ocv["soc"]) > 0)


def test_one_cycle_follows_the_study_protocol_and_truth_matches_the_record():
    df = bz.data.load("twin/cycling-one-cycle")
    truth = bz.data.load("twin/cycling-one-cycle", part="truth")
    charge = df[df["step_type"].isin(["cc_charge", "cv_charge"])]
    cc = df[df["step_type"] == "cc_charge"]
    dis = df[df["step_type"] == "cc_discharge"]
    assert cc["current_ampere"].median() == pytest.approx(2.0, abs=0.01)  # 1 C
    assert dis["current_ampere"].median() == pytest.approx(-4.0, abs=0.01)  # 2 C
    assert charge["voltage_volt"].max() <= 4.2 + 5e-4
    assert dis["voltage_volt"].min() >= 2.5 - 5e-3
    cv = df[df["step_type"] == "cv_charge"]
    assert cv["current_ampere"].min() == pytest.approx(0.1, abs=0.01)  # CV to C/20
    # the truth's capacities equal the record's own (instrument) counts
    assert df["charging_capacity_ah"].max() == pytest.approx(truth["charge_capacity_ah"], rel=1e-9)
    assert df["discharging_capacity_ah"].max() == pytest.approx(truth["discharge_capacity_ah"], rel=1e-9)
    # and an independent integration of current over time (1 s steps recorded every 5 s)
    t, i = df["test_time_second"].to_numpy(), df["current_ampere"].to_numpy()
    q = np.trapezoid(np.clip(i, 0, None), t) / 3600
    assert q == pytest.approx(truth["charge_capacity_ah"], rel=5e-3)
    # at 2 C, the 2 Ah nominal cell delivers within 10 % of its OCV capacity
    assert 0.9 * truth["ocv_capacity_ah"] < truth["discharge_capacity_ah"] < truth["ocv_capacity_ah"]


def test_self_discharge_truth_is_consistent_with_the_record():
    df = bz.data.load("twin/cycling-self-discharge")
    truth = bz.data.load("twin/cycling-self-discharge", part="truth")
    assert 0.3e-3 <= truth["leakage_current_a"] <= 1e-3
    rest = df[df["step_type"] == "rest"]
    rest = rest[rest["step_count"] == rest["step_count"].max()]
    days = (rest["test_time_second"] - rest["test_time_second"].iloc[0]) / 86400
    assert days.iloc[-1] == pytest.approx(25.0)
    assert np.diff(rest["test_time_second"]).max() <= 300.01  # sampled every few minutes
    # the truth K-value is the record's own slope over days 2-25 (noise 0.1 mV)
    win = days >= 2
    slope = np.polyfit(days[win], rest["voltage_volt"][win], 1)[0]
    assert -slope * 1e3 == pytest.approx(truth["k_value_mv_per_day"], rel=0.01)
    # leakage x time = capacity lost: the 25-day drop matches the OCV model within 2 %
    assert truth["capacity_lost_ah"] == pytest.approx(truth["leakage_current_a"] * 25 * 24, rel=0.05)
    # relaxation: the first hours fall much faster than the leakage trend
    early = rest["voltage_volt"].iloc[0] - rest["voltage_volt"][days <= 0.25].iloc[-1]
    assert early * 1e3 > 4 * truth["k_value_mv_per_day"] * 0.25


def test_rest_truth_gives_the_truth_over_any_window():
    """part rest_truth is the noise-free rest behind the record: over days 2-25 it gives the
    headline truth exactly, over an earlier window a steeper K (the short drains less as
    the voltage falls), and it follows the noisy record within its noise."""
    df = bz.data.load("twin/cycling-self-discharge")
    truth = bz.data.load("twin/cycling-self-discharge", part="truth")
    rest = bz.data.load("twin/cycling-self-discharge", part="rest_truth")
    headline = twin.window_truth(rest, 2.0, 25.0)
    assert headline["k_value_mv_per_day"] == pytest.approx(truth["k_value_mv_per_day"], rel=1e-12)
    assert headline["leakage_current_a"] == pytest.approx(truth["leakage_current_a"], rel=1e-12)
    early = twin.window_truth(rest, 1.0)
    assert early["k_value_mv_per_day"] > headline["k_value_mv_per_day"]
    assert early["leakage_current_a"] > headline["leakage_current_a"]
    noisy = df[df["step_count"] == df["step_count"].max()]["voltage_volt"].to_numpy()
    assert len(noisy) == len(rest)
    assert np.abs(noisy - rest["voltage_volt"].to_numpy()).max() < 1e-3  # 0.1 mV noise, 0.1 mV steps
    with pytest.raises(ValueError, match="need at least 2"):
        twin.window_truth(rest, 30.0)
    # the leakage-driven slope (the OCV's) is the voltage's once the relaxation is over, and
    # below it while the relaxation still falls
    assert headline["leakage_k_value_mv_per_day"] == pytest.approx(headline["k_value_mv_per_day"], rel=1e-4)
    first_hours = twin.window_truth(rest, 0.0, 0.25)
    assert first_hours["k_value_mv_per_day"] > 2 * first_hours["leakage_k_value_mv_per_day"] > 0
    lot = bz.data.load("twin/cycling-population", part="rest_truth")
    assert lot["cell_id"].nunique() == 13


def test_population_has_one_defective_cell_among_healthy_ones():
    pop = bz.data.load("twin/cycling-population")
    truth = bz.data.load("twin/cycling-population", part="truth")
    assert truth["defective"].sum() == 1
    healthy = truth[~truth["defective"]]
    assert len(healthy) == 12
    assert healthy["leakage_current_a"].between(8e-6, 52e-6).all()
    assert truth.loc[truth["defective"], "leakage_current_a"].between(0.3e-3, 1e-3).all()
    assert set(pop["cell_id"].astype(str)) == set(truth["cell_id"])
    # the defective cell of the population is the self-discharge record, byte for byte
    sd = bz.data.load("twin/cycling-self-discharge")
    sd_truth = bz.data.load("twin/cycling-self-discharge", part="truth")
    cell = pop[pop["cell_id"] == sd_truth["cell_id"]].drop(columns="cell_id").reset_index(drop=True)
    np.testing.assert_array_equal(cell["voltage_volt"].to_numpy(), sd["voltage_volt"].to_numpy())


@pytest.mark.parametrize("name,part", [("twin/cycling-self-discharge", "btsda.csv"),
                                       ("twin/cycling-one-cycle", "btsda.csv")])
def test_btsda_exports_read_back_to_the_bdf_table(name, part):
    main = bz.data.load(name)
    path = bz.data.load(name, part=part)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TimeRepairWarning)
        back = read_cycler(path)
    assert back.attrs["format"] == ("neware-btsda" if "self" in name else "neware-btsda-3level")
    assert len(back) == len(main)
    np.testing.assert_allclose(back["test_time_second"], main["test_time_second"], atol=2e-3)
    np.testing.assert_allclose(back["voltage_volt"], main["voltage_volt"], atol=1e-4)
    np.testing.assert_allclose(back["current_ampere"], main["current_ampere"], atol=1e-7)
    np.testing.assert_allclose(back["charging_capacity_ah"], main["charging_capacity_ah"], atol=1e-7)
    np.testing.assert_allclose(back["discharging_capacity_ah"], main["discharging_capacity_ah"], atol=1e-7)
    np.testing.assert_array_equal(back["step_count"], main["step_count"])
    assert (back["step_type"].astype(str) == main["step_type"].astype(str)).mean() > 0.99


def test_cut_rest_is_the_record_stopped_early():
    """A shorter rest is the same record cut: the charge and the kept part of the rest are
    the 25-day record's rows, byte for byte, and the truth is cut the same way."""
    df = bz.data.load("twin/cycling-self-discharge")
    rest = bz.data.load("twin/cycling-self-discharge", part="rest_truth")
    cut, cut_rest_truth = twin.cut_rest(df, 0.5, rest)
    last = cut[cut["step_count"] == cut["step_count"].max()]
    assert (last["test_time_second"].iloc[-1] - last["test_time_second"].iloc[0]) / 86400 == pytest.approx(0.5)
    pd.testing.assert_frame_equal(cut, df.iloc[:len(cut)].reset_index(drop=True))
    assert cut.attrs["cell"] == df.attrs["cell"]
    assert len(cut_rest_truth) == len(last) and cut_rest_truth["time_day"].iloc[-1] == pytest.approx(0.5)
    assert twin.cut_rest(df, 0.5)[1] is None
    with pytest.raises(ValueError, match="rest_day must be > 0"):
        twin.cut_rest(df, 0.0)
    with pytest.raises(ValueError, match="does not end in a rest"):
        twin.cut_rest(bz.data.load("twin/cycling-one-cycle").iloc[:-200], 1.0)
