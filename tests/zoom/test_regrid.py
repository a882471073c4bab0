"""Hierarchy.regrid_labels: a label image carried onto another level's grid."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError
from batteryzoom.zoom import BoxOutsideParentWarning, Hierarchy, Level


def _pair(dst_voxel: float, dst_shape: tuple[int, int, int]) -> Hierarchy:
    # src: 4x4x4 voxels of 1 µm, centres at 0..3; dst in the same frame, its voxel 0 edge at -0.5
    src = Level(name="src", shape=(4, 4, 4), voxel_size_um=(1.0,) * 3, origin_um=(0.0,) * 3)
    dst = Level(name="dst", shape=dst_shape, voxel_size_um=(dst_voxel,) * 3,
                origin_um=(dst_voxel / 2 - 0.5,) * 3, parent="src")
    return Hierarchy([src, dst])


def test_coarser_grid_takes_the_majority_label():
    lab = np.zeros((4, 4, 4), np.int32)
    lab[:2, :2, :2] = 7          # a whole 2x2x2 block
    lab[2:, 2:, 2:] = 3
    lab[3, 3, 3] = 9             # one dissenting voxel: outvoted 7 to 1
    lab[:2, 2:, :2] = 5
    lab[0, 2, 0] = lab[0, 2, 1] = lab[0, 3, 0] = lab[0, 3, 1] = 0  # 4 background vs 4 label 5: tie
    out = _pair(2.0, (2, 2, 2)).regrid_labels(lab, "src", "dst")
    assert out.dims == ("z", "y", "x") and out.dtype == np.int32
    assert out.attrs["voxel_size_um"] == [2.0, 2.0, 2.0]
    assert out.values[0, 0, 0] == 7 and out.values[1, 1, 1] == 3
    assert out.values[0, 1, 0] == 0  # a tie goes to the smaller label
    assert out.values[1, 0, 0] == 0
    np.testing.assert_allclose(out["x"].values, [0.0, 2.0])


def test_min_purity_drops_voxels_that_mix_two_labels_and_keeps_surfaces():
    lab = np.zeros((4, 4, 4), np.int32)
    lab[:2, :2, :2] = 7                      # pure
    lab[:2, :2, 2:] = 4
    lab[0, 0, 2] = lab[0, 1, 2] = 6          # 6 of 8 label 4, 2 of 8 label 6: 0.75
    lab[2:, :2, :2] = 5
    lab[3, 1, 1] = 8                         # 7 of 8: 0.875
    lab[:2, 2:, :2] = 1
    lab[0, 2:, :] = 2                        # 4 of 1, 4 of 2: a tie across a boundary
    h = _pair(2.0, (2, 2, 2))
    plain = h.regrid_labels(lab, "src", "dst").values
    strict = h.regrid_labels(lab, "src", "dst", min_purity=0.8).values
    loose = h.regrid_labels(lab, "src", "dst", min_purity=0.75).values
    assert plain[0, 0, 0] == strict[0, 0, 0] == 7
    assert plain[0, 0, 1] == loose[0, 0, 1] == 4 and strict[0, 0, 1] == 0
    assert strict[1, 0, 0] == 5
    assert plain[0, 1, 0] == 1 and loose[0, 1, 0] == 0  # the 4-4 boundary voxel is mixed
    # a surface voxel holds one grain: background votes do not make it impure
    surface = lab.copy()
    surface[2:, 2:, 2:] = 3
    surface[3, 3, 2:] = 0                    # 6 of label 3, 2 background
    assert h.regrid_labels(surface, "src", "dst", min_purity=1.0).values[1, 1, 1] == 3
    for bad in (0, -0.5, 1.5, "0.75"):
        with pytest.raises(InputError, match="min_purity"):
            h.regrid_labels(lab, "src", "dst", min_purity=bad)


def test_finer_grid_takes_the_nearest_label_and_outside_is_background():
    lab = np.arange(64, dtype=np.int32).reshape(4, 4, 4) + 1
    with pytest.warns(BoxOutsideParentWarning, match="by up to 1"):  # dst's last voxels lie outside src
        out = _pair(0.5, (10, 10, 10)).regrid_labels(lab, "src", "dst")
    # dst centres at -0.25, 0.25, 0.75, ...: nearest src voxel index rint(c)
    centre = np.arange(10) * 0.5 - 0.25
    idx = np.rint(centre).astype(int)
    ok = (idx >= 0) & (idx < 4)
    assert out.values[1, 1, 1] == lab[idx[1], idx[1], idx[1]]
    assert out.values[9, 9, 9] == 0 and not ok[9]


def test_twin_grains_onto_the_xanes_grid_match_its_truth():
    h = Hierarchy.from_twin()
    grains = bz.data.load("twin/particle-nanoct", part="grains")
    out = h.regrid_labels(grains, "twin/particle-nanoct", "twin/particle-xanes")
    truth = bz.data.load("twin/particle-xanes", part="truth")["grain_labels"].values
    assert out.shape == truth.shape
    agree = (out.values == truth)[truth > 0].mean()
    print(f"nano-CT grains regridded onto the XANES grid: {agree:.1%} of the particle's voxels as in its truth")
    assert agree > 0.9


def test_regrid_rejects_bad_labels():
    h = _pair(2.0, (2, 2, 2))
    with pytest.raises(InputError, match="integer labels"):
        h.regrid_labels(np.zeros((4, 4, 4), np.float32), "src", "dst")
    with pytest.raises(InputError, match="integer labels"):
        h.regrid_labels(np.zeros((4, 4, 5), np.int32), "src", "dst")
    with pytest.raises(InputError, match="negative"):
        h.regrid_labels(np.full((4, 4, 4), -1, np.int32), "src", "dst")
