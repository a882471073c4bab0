"""bz.segment on bad input: unknown voxel sizes warn, unit slips and absurd sizes are refused
before any large allocation, and bad arguments raise InputErrors that name them.

Tiny synthetic volumes: two touching balls (phase code 1) in pore (0).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz
from batteryzoom import segment
from batteryzoom.errors import InputError
from batteryzoom.segment import VoxelSizeWarning


@pytest.fixture(scope="module")
def phases():
    z, y, x = np.mgrid[:20, :20, :28]
    balls = ((z - 10) ** 2 + (y - 10) ** 2 + (x - 8) ** 2 <= 36) | ((z - 10) ** 2 + (y - 10) ** 2 + (x - 19) ** 2 <= 36)
    return balls.astype(np.uint8)


@pytest.fixture(scope="module")
def grey(phases):
    rng = np.random.default_rng(0)
    return (phases * 1.0 + rng.normal(0, 0.05, phases.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def labels(phases):
    from scipy import ndimage

    lab, _ = ndimage.label(phases)
    lab[:, :, 14:] *= 2  # two objects: ids 1 and 2
    return lab.astype(np.int32)


# ------------------------------------------------------------------ unknown voxel size (A3)


def test_a_volume_read_without_voxel_size_warns_and_names_the_fix(tmp_path, phases):
    path = tmp_path / "phases.npy"
    np.save(path, phases)
    vol = bz.io.read_volume(path)  # no voxel size in the file: coordinates are pixel indices
    assert vol.attrs["voxel_size_um"] is None
    with pytest.warns(VoxelSizeWarning, match=r"voxel_size_um=.*read_volume\(path, voxel_size_um=") as rec:
        seg = segment.segment_particles(vol, cracks=False, progress_bar=False)
    assert len(rec) == 1  # one warning per call, not one per internal step
    assert seg.params["voxel_size_um"] == [1.0, 1.0, 1.0]
    # the warning applies to every segment function that measures lengths
    for call in (lambda: segment.particle_mask(vol.astype(np.float32)),
                 lambda: segment.depth_profile(vol),
                 lambda: segment.find_coating(vol == 1)):
        with pytest.warns(VoxelSizeWarning):
            call()


def test_a_given_voxel_size_gives_no_warning_and_the_same_result(tmp_path, phases):
    path = tmp_path / "phases.npy"
    np.save(path, phases)
    with pytest.warns(VoxelSizeWarning):
        unknown = segment.segment_particles(bz.io.read_volume(path), cracks=False, progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given = segment.segment_particles(bz.io.read_volume(path), voxel_size_um=1.0, cracks=False,
                                          progress_bar=False)
        read_with = segment.segment_particles(bz.io.read_volume(path, voxel_size_um=1.0), cracks=False,
                                              progress_bar=False)
        plain = segment.segment_particles(phases, voxel_size_um=0.5, cracks=False, progress_bar=False)
    np.testing.assert_array_equal(given.labels.values, unknown.labels.values)
    np.testing.assert_array_equal(read_with.labels.values, unknown.labels.values)
    assert len(plain.table) == 2


def test_the_twin_carries_its_voxel_size_so_nothing_warns():
    grey = bz.data.load("twin/electrode-ct", lazy=False).isel(z=slice(0, 24), y=slice(0, 24), x=slice(0, 48))
    nano = bz.data.load("twin/particle-nanoct", lazy=False).isel(z=slice(30, 54), y=slice(30, 54),
                                                                   x=slice(30, 54))
    with warnings.catch_warnings():
        warnings.simplefilter("error", VoxelSizeWarning)
        segment.segment_particles(grey, cracks=True, progress_bar=False)
        segment.depth_profile(segment.classify_phases(grey))
        segment.particle_mask(nano)


# ------------------------------------------------------------------ size guards


def test_a_voxel_size_in_mm_is_refused_before_allocating(phases):
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=r"opening_radius_um=1 µm spans 1e\+04 voxels.*mm"):
        segment.segment_particles(phases, voxel_size_um=1e-4)
    assert time.perf_counter() - t0 < 2
    with pytest.raises(InputError, match="close_um"):
        segment.crack_analysis(phases.astype(np.int32), phases == 1, voxel_size_um=1e-4)
    with pytest.raises(InputError, match="close_um"):
        segment.particle_mask(phases.astype(np.float32), voxel_size_um=1e-4)


@pytest.mark.parametrize("n", [6, 50, 1, 0, 2.5, True])
def test_phase_count_is_bounded_for_multi_otsu(grey, n):
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=r"n_phases=.*thresholds"):
        segment.phase_thresholds(grey, n)
    assert time.perf_counter() - t0 < 1


def test_sparse_huge_label_ids_are_measured_and_kept(labels):
    dense = segment.particle_table(labels, voxel_size_um=0.5, sphericity=False)
    sparse = segment.particle_table(labels.astype(np.int64) * 10**9, voxel_size_um=0.5, sphericity=False)
    assert sparse["label"].tolist() == [10**9, 2 * 10**9]
    pd.testing.assert_frame_equal(sparse.drop(columns="label"), dense.drop(columns="label"))


# ------------------------------------------------------------------ bad arguments


BAD = [
    # (call on (phases, grey, labels), words the message must hold)
    (lambda p, g, l: segment.phase_thresholds(g, max_samples=0), "max_samples"),
    (lambda p, g, l: segment.phase_thresholds(p == 1), "boolean mask"),
    (lambda p, g, l: segment.phase_thresholds(g.astype(complex)), "complex128 is not a real"),
    (lambda p, g, l: segment.phase_thresholds(g.astype(str)), "is not a real"),
    (lambda p, g, l: segment.phase_thresholds(g.astype(object)), "object is not a real"),
    (lambda p, g, l: segment.classify_phases(g, [0.8, 0.2], voxel_size_um=1), "must increase"),
    (lambda p, g, l: segment.classify_phases(g, [np.nan, 0.5], voxel_size_um=1), "finite"),
    (lambda p, g, l: segment.classify_phases(g, [0.5], voxel_size_um=1, denoise_sigma_um=-1), "denoise_sigma_um"),
    (lambda p, g, l: segment.classify_phases(g, [0.3, 0.6], voxel_size_um=1, codes=(0, 1, 300)), "0 to 255"),
    (lambda p, g, l: segment.segment_particles(g, voxel_size_um=1, thresholds=[0.6, 0.3]), "must increase"),
    (lambda p, g, l: segment.segment_particles(p, voxel_size_um=1, h_um=np.nan), "h_um"),
    (lambda p, g, l: segment.segment_particles(p, voxel_size_um=1, min_volume_um3=-1), "min_volume_um3"),
    (lambda p, g, l: segment.segment_particles(p, voxel_size_um=1, collector_um=np.nan), "collector_um"),
    (lambda p, g, l: segment.segment_particles(g.astype(complex), voxel_size_um=1), "not a real"),
    (lambda p, g, l: segment.find_coating(p == 1, voxel_size_um=1, min_fraction=2), "min_fraction"),
    (lambda p, g, l: segment.find_coating(p == 1, voxel_size_um=1, min_fraction=np.nan), "min_fraction"),
    (lambda p, g, l: segment.find_coating(g, voxel_size_um=1), "solid: expected a boolean mask"),
    (lambda p, g, l: segment.phase_fractions(p, region=g), "region: expected a boolean mask"),
    (lambda p, g, l: segment.crack_analysis(l, g, voxel_size_um=1), "solid: expected a boolean mask"),
    (lambda p, g, l: segment.crack_analysis(l, p == 1, voxel_size_um=1, close_um=-1), "close_um"),
    (lambda p, g, l: segment.particle_table(-l, voxel_size_um=1), "negative label"),
    (lambda p, g, l: segment.grain_table(l + 0.5, voxel_size_um=1), "integer label"),
    (lambda p, g, l: segment.grain_table(-l, voxel_size_um=1), "negative label"),
    (lambda p, g, l: segment.damage_class([-0.5, 1.5]), r"outside \[0, 1\]"),
    (lambda p, g, l: segment.damage_class(["a"]), "crack_fraction"),
    (lambda p, g, l: segment.damage_depth_profile(np.ones((3, 3))), "DataFrame"),
    (lambda p, g, l: segment.void_mask(g, p == 1, voxel_size_um=1, threshold=np.nan), "threshold"),
    (lambda p, g, l: segment.void_mask(g, g, voxel_size_um=1), "particle: expected a boolean mask"),
    (lambda p, g, l: segment.segment_grains(g, voxel_size_um=1, particle=p == 1, sigma_um=-1), "sigma_um"),
    (lambda p, g, l: segment.segment_grains(g, voxel_size_um=1, particle=g), "particle: expected a boolean"),
    (lambda p, g, l: segment.segment_grains_chemical(g, voxel_size_um=1, supervoxel_um=0), "supervoxel_um"),
    (lambda p, g, l: segment.segment_grains_chemical(g, voxel_size_um=1, supervoxel_um=-1), "supervoxel_um"),
    (lambda p, g, l: segment.segment_grains_chemical(g, voxel_size_um=1, merge_z=-1), "merge_z"),
    (lambda p, g, l: segment.segment_grains_chemical(g.astype(complex), voxel_size_um=1), "not a real"),
    (lambda p, g, l: segment.particle_mask(g, voxel_size_um=(1.0, 1.0)), "voxel_size_um"),
]


@pytest.mark.parametrize("call, words", BAD, ids=[w for _, w in BAD])
def test_bad_arguments_raise_input_errors_that_name_them(phases, grey, labels, call, words):
    with pytest.raises(InputError, match=words):
        call(phases, grey, labels)


@pytest.mark.parametrize("n_bins", [0, -1, 2.5])
def test_damage_depth_profile_needs_bins_and_finite_depths(n_bins):
    table = pd.DataFrame({"depth_from_collector_um": [1.0, 2.0], "crack_fraction": [0.1, 0.2],
                          "damage_class": segment.damage_class([0.1, 0.2]), "border": [False, False]})
    with pytest.raises(InputError, match="n_bins"):
        segment.damage_depth_profile(table, n_bins=n_bins)
    with pytest.raises(InputError, match="no finite depth"):
        segment.damage_depth_profile(table.assign(depth_from_collector_um=np.nan))
