"""bz.report.results: the report object's findings table, as notebook 00 and the page show it."""

from __future__ import annotations

import pytest

import batteryzoom as bz


def test_findings_table_prints_truth_beside_each_number(twin_report):
    f = twin_report.findings.set_index("finding")
    truth = bz.data.load("twin/cycling-self-discharge", part="truth")
    row = f.loc["K-value (voltage drop after relaxation)"]
    assert row["truth"] == pytest.approx(truth["k_value_mv_per_day"])
    assert row["value"] == pytest.approx(twin_report.value("cycler", "k_value_mv_per_day"))
    assert f.loc["QC verdict", "text"] == "fail" and "truth: fail" in f.loc["QC verdict", "note"]
    # the truth is shown with the value's precision (8341.301 eV, not 8341)
    row = f.loc[f.index.str.startswith("grain 1 (segmented #") & f.index.str.endswith("mean edge energy")].iloc[0]
    assert row["truth_text"] == f"{row['truth']:.3f}" and len(row["text"].split(".")[1]) == 3


def test_table_shows_the_truth_as_the_page_does(twin_report):
    """``report.table()`` (what notebook 00 displays) shows the truth as the HTML page does,
    with the value's precision ("236", not "236.000000"), blank where the twin has none."""
    t = twin_report.table()
    f = twin_report.findings
    assert list(t["truth"]) == list(f["truth_text"])
    shown = t[t["truth"] != ""]
    assert len(shown) >= 6
    for value, truth in zip(shown["value"], shown["truth"]):
        decimals = len(value.split(".")[1]) if "." in value else 0
        assert (len(truth.split(".")[1]) if "." in truth else 0) == decimals, (value, truth)
    # the electrode's particle count counts every particle and says how many are whole
    row = twin_report.table("electrode").iloc[0]
    assert row["finding"].startswith("particles") and "not cut" not in row["finding"]
    assert int(row["value"]) == twin_report.value("electrode", "n_particles")
    whole = int(row["note"].split()[0])
    assert 0 < whole < int(row["value"]) and row["note"].endswith("not cut by the faces")
