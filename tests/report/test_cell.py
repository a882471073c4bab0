"""bz.report.cell: the cell scale's findings (bz.cell.cell_pipeline) on the twin."""

from __future__ import annotations

import numpy as np

import batteryzoom as bz


def test_cell_findings_agree_with_the_twin_truth(twin_report):
    # where the defect is: the inclusion found within 2 voxels (50 µm) of where it was planted
    assert twin_report.scales["cell"].status == "done"
    defects = bz.data.load("twin/cell-ct", part="defects").set_index("type")
    true_pos = defects.loc["inclusion", ["z_um", "y_um", "x_um"]].to_numpy(float)
    found = np.asarray(twin_report.value("cell", "inclusion_um"))
    assert np.linalg.norm(found - true_pos) <= 50.0
    assert twin_report.value("cell", "defects_found") == len(defects)
    world = defects.loc["inclusion", ["z_world_um", "y_world_um", "x_world_um"]].to_numpy(float)
    np.testing.assert_allclose(twin_report.value("cell", "inclusion_world_um"), world, atol=50.0)
    # the electrode region the zoom enters holds the inclusion
    h = bz.zoom.Hierarchy.from_twin()
    lo, hi = h.box_in("twin/electrode-ct", "twin/cell-ct")
    assert np.all(found >= lo) and np.all(found <= hi)
    assert f"({found[0]:.0f}, {found[1]:.0f}, {found[2]:.0f}) µm in the cell frame" in twin_report.summary_text()
