"""bz.segment.cracks: crack fractions and damage classes against the twin's truth, damage
against depth, the radial grey profile; lengths in voxels named px; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from batteryzoom import segment
from batteryzoom.errors import InputError


@pytest.fixture(scope="module")
def cracked():
    """Labels of one 6-voxel cube and its solid, split by a one-voxel crack inside."""
    labels = np.zeros((8, 8, 8), np.int32)
    labels[1:7, 1:7, 1:7] = 1
    solid = labels > 0
    solid[2:6, 2:6, 4] = False
    return labels, solid


def test_crack_fraction_correlates_with_truth_and_classes_agree(twin_matched):
    matched = twin_matched
    r = np.corrcoef(matched["crack_fraction"], matched["crack_fraction_seg"])[0, 1]
    agree = (matched["damage_class"].astype(str) == matched["damage_class_seg"].astype(str)).mean()
    print(f"crack fraction: Pearson r = {r:.3f} over {len(matched)} interior particles; "
          f"damage class agreement {agree:.1%}")
    assert r > 0.8
    assert agree > 0.85


def test_damage_vs_depth_trend_is_recovered(twin_electrode, twin_particles):
    _, _, table = twin_electrode
    seg = twin_particles.table[~twin_particles.table["border"]]
    rho_seg = stats.spearmanr(seg["depth_from_collector_um"], seg["crack_fraction"]).statistic
    interior = table[~table["border"]]
    rho_true = stats.spearmanr(interior["depth_from_collector_um"], interior["crack_fraction"]).statistic
    print(f"Spearman(depth from collector, crack fraction): segmented {rho_seg:.2f}, truth {rho_true:.2f}")
    assert rho_seg > 0.2 and rho_true > 0.2
    profile = segment.damage_depth_profile(twin_particles.table, n_bins=3)
    assert profile["n_particles"].sum() == len(seg)
    assert profile["mean_crack_fraction"].iloc[-1] > 2 * profile["mean_crack_fraction"].iloc[0]
    assert profile["fraction_severe"].iloc[-1] > profile["fraction_severe"].iloc[0]


def test_radial_grey_profile_shows_core_cracking(twin_electrode, twin_particles, twin_matched):
    grey = twin_electrode[0]
    prof = segment.radial_grey_profile(grey, twin_particles.labels, shell_width_um=1.0)
    assert prof.index.names == ["label", "shell"]
    core = prof[prof["distance_min_um"] >= 2].groupby(level="label")["grey_mean"].mean()
    rim = prof[(prof["distance_min_um"] >= 1) & (prof["distance_min_um"] < 2)].groupby(level="label")["grey_mean"].mean()
    ratio = (core / rim).reindex(twin_matched["seg"].to_numpy())
    cls = twin_matched["damage_class"].astype(str).to_numpy()
    # intact particles are flat to the core; cracked ones darken inward
    assert np.nanmedian(ratio[cls == "least"]) > 0.95
    assert np.nanmedian(ratio[cls != "least"]) < 0.85


def test_damage_classes_have_documented_boundaries():
    cls = segment.damage_class([0.0, 0.019, 0.02, 0.099, 0.10, 0.5, np.nan])
    assert list(cls[:6]) == ["least", "least", "mild", "mild", "severe", "severe"]
    assert pd.isna(cls[6])


def test_crack_fraction_is_the_crack_volume_over_the_closed_particle(cracked):
    labels, solid = cracked
    table = segment.crack_analysis(labels, solid, voxel_size_um=0.5, close_um=0.5)
    assert table["crack_fraction"].iloc[0] == pytest.approx(16 / 216)  # 4 × 4 crack voxels in the 6³ cube
    assert table["crack_volume_um3"].iloc[0] == pytest.approx(16 * 0.125)
    # the crack's faces on the solid: 2 × 16 normal to x, 8 normal to y and 8 normal to z (its
    # rims), of 0.25 µm² each, × 2/3, over the closed cube's 27 µm³
    assert table["crack_surface_density_per_um"].iloc[0] == pytest.approx(2 / 3 * 48 * 0.25 / 27)


def test_anisotropic_voxels_weigh_faces_and_volumes(cracked):
    """The crack lies in a plane normal to x: its 32 main faces are dz × dy, its 8 rims normal
    to z dy × dx and its 8 normal to y dz × dx; its volume is 16 dz dy dx."""
    labels, solid = cracked
    voxel = (1.0, 0.5, 0.25)
    table = segment.crack_analysis(labels, solid, voxel_size_um=voxel, close_um=0.5)
    assert table["crack_fraction"].iloc[0] == pytest.approx(16 / 216)
    assert table["crack_volume_um3"].iloc[0] == pytest.approx(16 * np.prod(voxel))
    assert table["crack_surface_density_per_um"].iloc[0] == pytest.approx(2 / 3 * (32 * 0.5 + 8 * 0.125 + 8 * 0.25)
                                                                           / (216 * np.prod(voxel)))


def test_lengths_in_voxels_are_named_px(cracked):
    labels, solid = cracked
    px = segment.crack_analysis(labels, solid, voxel_size_um="px", close_um=1.0)
    assert list(px.columns) == ["label", "crack_fraction", "crack_volume_px3", "crack_surface_density_per_px",
                                "damage_class"]
    assert px["crack_volume_px3"].iloc[0] == 16
    radial = segment.radial_grey_profile(solid.astype(np.float32), labels, voxel_size_um="px")
    assert {"distance_min_px", "distance_max_px", "distance_px"} <= set(radial.columns)
    assert not any(str(c).endswith("_um") for c in radial.columns)
    table = pd.DataFrame({"depth_from_collector_px": [1.0, 2.0, 9.0, 10.0], "crack_fraction": [0.0, 0.01, 0.05, 0.2]})
    table["damage_class"] = segment.damage_class(table["crack_fraction"])
    profile = segment.damage_depth_profile(table, n_bins=2)
    assert profile["depth_px"].tolist() == [3.25, 7.75] and "depth_um" not in profile.columns


@pytest.mark.parametrize("n_bins", [0, -1, 2.5])
def test_damage_depth_profile_needs_bins_and_finite_depths(n_bins):
    table = pd.DataFrame({"depth_from_collector_um": [1.0, 2.0], "crack_fraction": [0.1, 0.2],
                          "damage_class": segment.damage_class([0.1, 0.2]), "border": [False, False]})
    with pytest.raises(InputError, match="n_bins"):
        segment.damage_depth_profile(table, n_bins=n_bins)
    with pytest.raises(InputError, match="no finite depth"):
        segment.damage_depth_profile(table.assign(depth_from_collector_um=np.nan))


def test_a_voxel_size_in_mm_is_refused_before_allocating(cracked):
    labels, solid = cracked
    with pytest.raises(InputError, match="close_um"):
        segment.crack_analysis(labels, solid, voxel_size_um=1e-4)


BAD = [
    # (call on (labels, solid, grey), words the message must hold)
    (lambda l, s, g: segment.crack_analysis(np.ones((4, 4, 4), int), np.ones((4, 4, 5), bool), voxel_size_um=1),
     "shape"),
    (lambda l, s, g: segment.crack_analysis(l, g, voxel_size_um=1), "solid: expected a boolean mask"),
    (lambda l, s, g: segment.crack_analysis(l, s, voxel_size_um=1, close_um=-1), "close_um"),
    (lambda l, s, g: segment.crack_analysis(l + 0.5, s, voxel_size_um=1), "integer label"),
    (lambda l, s, g: segment.damage_class([-0.5, 1.5]), r"outside \[0, 1\]"),
    (lambda l, s, g: segment.damage_class(["a"]), "crack_fraction"),
    (lambda l, s, g: segment.damage_class([0.1], thresholds=(0.2, 0.1)), "thresholds"),
    (lambda l, s, g: segment.damage_depth_profile(np.ones((3, 3))), "DataFrame"),
    (lambda l, s, g: segment.damage_depth_profile(pd.DataFrame({"crack_fraction": [0.1]})), "depth_from_collector_um"),
    (lambda l, s, g: segment.radial_grey_profile(g, l[:4], voxel_size_um=1), "labels: shape"),
]


@pytest.mark.parametrize("call, words", BAD, ids=[w for _, w in BAD])
def test_bad_arguments_raise_input_errors_that_name_them(cracked, call, words):
    labels, solid = cracked
    grey = np.random.default_rng(0).random(labels.shape)
    with pytest.raises(InputError, match=words):
        call(labels, solid, grey)
