"""bz.report.electrode: the electrode scale's findings (bz.segment.electrode_damage) on the twin."""

from __future__ import annotations

import pytest

import batteryzoom as bz


def test_electrode_findings_agree_with_the_twin_truth(twin_report):
    # the electrode's damage grows toward the separator
    assert twin_report.value("electrode", "cracked_near_separator") > 2 * twin_report.value(
        "electrode", "cracked_near_collector")
    assert twin_report.value("electrode", "depth_rank_correlation") < -0.2
    table = bz.data.load("twin/electrode-ct", part="particle_table")
    assert twin_report.value("electrode", "n_particles") == pytest.approx((table["volume_um3"] >= 8).sum(), rel=0.05)
