"""bz.report.particle: the particle scale's findings (bz.segment.particle_structure) on the twin."""

from __future__ import annotations


def test_particle_findings_agree_with_the_twin_truth(twin_report):
    # the grains segmented match the twin's true grains (adjusted Rand index)
    assert twin_report.value("particle", "ari") >= 0.85
    row = twin_report.table("particle").set_index("finding").loc["primary grains"]
    assert int(row["value"]) == twin_report.value("particle", "n_grains") and row["truth"] != ""
