"""bz.cell.defects: every planted defect of the twin found, none on a healthy twin; the slice's
frame taken from its unrolling; scoring against a truth in the same frame only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import spiral_image

from batteryzoom import cell
from batteryzoom.errors import InputError

VOXEL = 25.0  # the small twin's voxel (µm)


@pytest.fixture(scope="module")
def small():
    img = spiral_image((120, 120), (60.3, 59.6), a=8.0, pitch=6.0, turns=7.0, width=1.2, start=0.0)
    un = cell.unroll(img, (60.3, 59.6), 1.0, r_max_um=55)
    return img, un, cell.track_layers(un)


def _det():
    return pd.DataFrame({"slice": [1, 2], "z_um": [1.0, 2.0], "type": ["gap"] * 2, "y_um": [5.0, 5.0],
                         "x_um": [5.0, 5.0], "radius_um": 1.0, "angle_rad": 0.0, "turn": 1, "size_um": 2.0,
                         "magnitude_um": 1.0, "severity": 0.1, "detail": "", "weight": 1.0})


def test_every_planted_defect_found_within_two_voxels(twin, cell_twin_findings):
    truth = twin("cell-ct", part="defects")
    volume = cell_twin_findings.volume
    score = cell.score_defects(volume.defects, truth, tolerance_um=2 * VOXEL)
    missed = score[score.status == "missed"]
    assert missed.empty, f"missed {missed.to_dict('records')}"
    hits = score[score.status == "found"].set_index("type")
    assert set(hits.index) == set(truth.type)
    assert (hits.distance_um <= 2 * VOXEL).all()
    # magnitudes: buckling displacement, gap opening and dent depth within 15 %
    for kind in ("buckling", "gap", "dent"):
        assert hits.loc[kind, "found_magnitude_um"] == pytest.approx(hits.loc[kind, "true_magnitude_um"], rel=0.15)
    # false alarms: at most one per 100 slices
    n_false = int((score.status == "false alarm").sum())
    assert n_false / len(volume.summary) * 100 <= 1.0


def test_healthy_twin_gives_no_false_alarms():
    from batteryzoom.data.twin import cell as tc

    healthy = tc.cell_ct(3, defects=False)["main"]
    res = cell.analyze_volume(healthy.isel(z=slice(0, 64, 4)), progress=False)  # 16 slices
    assert res.detections.empty and res.defects.empty
    assert (res.summary.n_layers == 22).all()


def test_find_defects_reads_the_frame_the_slice_was_unrolled_in(twin):
    sl = twin("cell-ct").sel(z=700.0)  # a buckle and a dent
    can = cell.find_can(sl)
    u = cell.unroll(sl, (can.centre_y_um, can.centre_x_um), r_max_um=can.inner_radius_um)
    L = cell.track_layers(u)
    ref = cell.find_defects(sl, can, L, u)
    # the bare values carry no size: the unrolled slice's is the one
    pd.testing.assert_frame_equal(cell.find_defects(sl.values, can, L, u), ref)
    assert sorted(ref.type) == ["buckling", "dent"] and ref.attrs["length_unit"] == "um"
    with pytest.raises(InputError, match="lengths are in px but the layers' in um"):
        cell.find_defects(sl.values, can, L, u, "px")


def test_defects_in_pixels_name_their_unit(small):
    img, _, _ = small
    un = cell.unroll(img, (60.3, 59.6), "px", r_max_um=55)
    d = cell.find_defects(img, None, cell.track_layers(un), un)
    assert d.attrs["length_unit"] == "px"
    assert {"z_px", "y_px", "x_px", "radius_px", "size_px", "magnitude_px"} <= set(d.columns)
    assert not [c for c in d.columns if c.endswith("_um")]


def test_scoring_needs_one_frame():
    truth = _det()
    found = _det().rename(columns=lambda c: c.replace("_um", "_px"))
    both_px = cell.score_defects(found, found, tolerance_um=2.0)
    assert (both_px.status == "found").all() and "distance_px" in both_px and "distance_um" not in both_px
    with pytest.raises(InputError, match="found is in px, truth in um"):
        cell.score_defects(found, truth, tolerance_um=2.0)


@pytest.mark.parametrize("call, words", [
    (lambda img, un, layers: cell.find_defects(img, None, None, un, 1.0), "layers"),
    (lambda img, un, layers: cell.find_defects(img, None, layers, un.values, 1.0), "unrolled"),
    (lambda img, un, layers: cell.score_defects(_det(), _det().drop(columns="z_um"), 5.0), "truth: missing column"),
    (lambda img, un, layers: cell.score_defects(_det(), _det(), -1), "tolerance_um"),
    (lambda img, un, layers: cell.score_defects(_det(), _det(), np.nan), "tolerance_um"),
])
def test_bad_arguments_raise_input_errors_that_name_them(small, call, words):
    with pytest.raises(InputError, match=words):
        call(*small)
