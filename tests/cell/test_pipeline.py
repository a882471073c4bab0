"""bz.cell.pipeline: the cell scale's findings in one call, the numbers the report prints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz
from batteryzoom import cell
from batteryzoom.errors import InputError

REFERENCE = Path(__file__).parents[1] / "reference" / "report_findings_twin.csv"
# the report's cell rows: the pipeline's number behind each, and the report's format
REPORT_ROWS = {
    "windings (median over slices)": ("n_windings", ".1f"),
    "winding pitch": ("pitch_um", ".1f"),
    "can diameter": ("can_diameter_um", ".0f"),
    "defects found (3D, linked across slices)": ("n_defects", ".4g"),
    "planted defects found within 2 voxels": ("n_found", ".4g"),
    "inclusion position z (cell frame)": ("inclusion_z_um", ".0f"),
    "inclusion position y (cell frame)": ("inclusion_y_um", ".0f"),
    "inclusion position x (cell frame)": ("inclusion_x_um", ".0f"),
    "inclusion size": ("inclusion_size_um", ".0f"),
}


def test_the_twin_gives_the_numbers_of_the_report(cell_twin_findings):
    ref = pd.read_csv(REFERENCE, dtype=str, keep_default_na=False)
    rows = ref[ref.scale == "cell"].set_index("finding")
    assert set(rows.index) == set(REPORT_ROWS)
    s = cell_twin_findings.summary
    for finding, (key, fmt) in REPORT_ROWS.items():
        assert format(float(s[key]), fmt) == rows.loc[finding, "value"], finding
        assert rows.loc[finding, "unit"] == ("µm" if key.endswith("_um") else "")
    assert rows.loc["windings (median over slices)", "note"] == f"{s['n_slices_analysed']} of {s['n_slices']} slices analysed"
    assert rows.loc["defects found (3D, linked across slices)", "note"] == s["defect_kinds"]
    assert rows.loc["planted defects found within 2 voxels", "note"] == f"{s['n_false_alarms']} false alarm(s)"
    assert s["n_planted"] == 5


def test_the_findings_hold_the_tables_behind_the_numbers(twin, cell_twin_findings):
    f = cell_twin_findings
    assert f.length_unit == "um" and f.defects is f.volume.defects
    assert (f.score.status == "found").sum() == f.summary["n_found"]
    # the inclusion: the most severe one, and the slice through it analysed on its own
    inc = f.defects[f.defects.type == "inclusion"].sort_values("severity").iloc[-1]
    assert f.inclusion.z_um == inc.z_um and f.summary["inclusion_angle_deg"] == pytest.approx(np.degrees(inc.angle_rad))
    z = twin("cell-ct").z.values
    assert f.focus_index == int(np.argmin(np.abs(z - inc.z_um))) and f.summary["focus_z_um"] == z[f.focus_index]
    assert f.focus.summary["z_um"] == f.summary["focus_z_um"] and "inclusion" in set(f.focus.defects.type)
    # the truth's inclusion within 2 voxels
    t = twin("cell-ct", part="defects").set_index("type").loc["inclusion"]
    d = np.hypot(np.hypot(inc.z_um - t.z_um, inc.y_um - t.y_um), inc.x_um - t.x_um)
    assert d <= 50.0


def test_in_pixels_every_number_says_px(twin):
    vol = twin("cell-ct").isel(z=slice(30, 33))
    f = cell.cell_pipeline(vol.values, "px", focus=False, progress=False)
    assert f.length_unit == "px" and f.focus is None
    assert f.summary["pitch_px"] == pytest.approx(290.0 / 25, rel=0.01) and "pitch_um" not in f.summary
    assert f.inclusion is not None and "z_px" in f.inclusion.index
    with pytest.raises(InputError, match="voxel size is unknown"):
        cell.cell_pipeline(vol.values, progress=False)
    with pytest.raises(InputError, match="found is in px, truth in um"):
        cell.cell_pipeline(vol.values, "px", truth=twin("cell-ct", part="defects"), focus=False, progress=False)


@pytest.mark.realdata
def test_a_volume_without_a_wound_roll_is_refused(fetch_real):
    fetch_real("real/ct/cell-header-volume")
    header = bz.data.load("real/ct/cell-header-volume")  # the cap and tabs: a can, no roll
    with pytest.raises(InputError, match="no slice could be analysed.*can only"):
        cell.cell_pipeline(header, "px", slices=[20, 40], progress=False)
