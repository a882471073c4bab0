"""bz.report.cycler: the cycler scale's findings (bz.cycling.cycler_qc) on the twin and on a short rest."""

from __future__ import annotations

import pytest

import batteryzoom as bz
from batteryzoom import report as rp


def test_cycler_findings_agree_with_the_twin_truth(twin_report):
    truth = bz.data.load("twin/cycling-self-discharge", part="truth")
    k = twin_report.value("cycler", "k_value_mv_per_day")
    assert k == pytest.approx(truth["k_value_mv_per_day"], rel=0.05)
    assert twin_report.value("cycler", "leakage_current_a") == pytest.approx(truth["leakage_current_a"], rel=0.10)
    assert twin_report.value("cycler", "cell_id") == truth["cell_id"]
    assert twin_report.value("cycler", "verdict") == "fail" and truth["defective"]
    assert twin_report.value("cycler", "robust_z") > 3.5
    text = twin_report.summary_text()
    assert f"K = {k:.2f} mV/day" in text and "FAIL" in text


def test_a_rest_too_short_for_a_k_value_gets_no_k_value_and_no_verdict(dataset):
    """A user's folder whose rest lasts 2 h (the relaxation is not over): the report said
    "loses 37.96 mV/day once the relaxation is over (after 2.0 h) ... Something inside the
    can is draining it". It now says there is no K-value yet, and why."""
    rest = bz.data.load("twin/cycling-self-discharge")
    step = int(bz.cycling.find_rests(rest).index[0])
    start = rest.loc[rest["step_count"] == step, "test_time_second"].iloc[0]
    data = dataset("name: a short rest\ncycler:\n  self_discharge: rest.csv\n")
    rest[rest["test_time_second"] <= start + 2 * 3600].to_csv(data / "rest.csv", index=False)
    report = rp.run_zoom(data, progress=False)
    res = report.scales["cycler"]
    assert res.status == "done" and report.value("cycler", "verdict") == "inconclusive"
    said = res.text + " " + report.summary_text()
    assert "relaxation is over" not in said and "draining" not in said
    assert "no K-value" in said and "INCONCLUSIVE" in said
    table = report.table("cycler").set_index("finding")
    assert table.loc["K-value (voltage drop after relaxation)", "value"] == "not determined"
    assert "relaxation over after" not in table.index or table.loc["relaxation over after", "value"] == "not within the rest"
    # nor does Fig. S2: its caption and legend name the dashed line the fit's leakage term
    s2 = report.figures["S2_self_discharge"]
    assert "K-value line" not in s2.caption and "leakage term" in s2.caption
    assert not any("K =" in t.name or "K-value" in t.name for t in s2.figure.data)
