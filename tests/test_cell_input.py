"""bz.cell on bad input: sizes that would exhaust memory or hang are refused up front, and
bad arguments raise InputErrors that name them (tiny drawn slices, no twin)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from batteryzoom import cell
from batteryzoom.errors import InputError
from batteryzoom.segment import VoxelSizeWarning


def _spiral(shape=(120, 120), centre=(60.3, 59.6), a=8.0, pitch=6.0, turns=7.0, width=1.2):
    """A bright Archimedean spiral r = a + pitch·θ/2π, Gaussian profile (pixels)."""
    yy, xx = np.indices(shape, dtype=float)
    dy, dx = yy - centre[0], xx - centre[1]
    r, phi = np.hypot(dy, dx), np.arctan2(dy, dx) % (2 * np.pi)
    s = (r - a) / pitch - phi / (2 * np.pi)
    k = np.round(s)
    theta = 2 * np.pi * k + phi
    on = (theta >= 0) & (theta <= 2 * np.pi * turns)
    return np.where(on, np.exp(-0.5 * ((s - k) * pitch / width) ** 2), 0.0).astype(np.float32)


@pytest.fixture(scope="module")
def img():
    return _spiral()


@pytest.fixture(scope="module")
def un(img):
    return cell.unroll(img, (60.3, 59.6), 1.0, r_max_um=55)


@pytest.fixture(scope="module")
def layers(un):
    return cell.track_layers(un)


# ------------------------------------------------------------------ size guards


@pytest.mark.parametrize("kwargs, words", [
    (dict(centre_yx_um=(1e7, 1e7)), "far outside the slice"),
    (dict(centre_yx_um=(3e4, 3e4)), "far outside the slice"),
    (dict(centre_yx_um=(60.0, 60.0), dr_um=1e-4), "dr_um"),
    (dict(centre_yx_um=(60.0, 60.0), n_angles=10**7), "n_angles"),
])
def test_unroll_refuses_grids_that_would_exhaust_memory(img, kwargs, words):
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=words):
        cell.unroll(img, voxel_size_um=1.0, **kwargs)
    assert time.perf_counter() - t0 < 1


def test_unroll_still_samples_a_centre_just_off_the_image(img):
    u = cell.unroll(img, (-20.0, -20.0), 1.0, r_max_um=60, n_angles=64)
    assert np.isnan(u.values).any() and np.isfinite(u.values).any()


@pytest.mark.parametrize("pitch", [1e6, 0, -10, np.nan, 0.1])
def test_track_layers_refuses_an_impossible_pitch_quickly(un, pitch):
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="pitch_um"):
        cell.track_layers(un, pitch_um=pitch)
    assert time.perf_counter() - t0 < 1


def test_a_plausible_pitch_is_still_accepted(un, layers):
    assert cell.track_layers(un, pitch_um=6.0).pitch_um == pytest.approx(layers.pitch_um, abs=0.1)


# ------------------------------------------------------------------ bad arguments


def _calls(img, un, layers):
    det = pd.DataFrame({"slice": [1, 2], "z_um": [1.0, 2.0], "type": ["gap"] * 2, "y_um": [5.0, 5.0],
                        "x_um": [5.0, 5.0], "radius_um": 1.0, "angle_rad": 0.0, "turn": 1, "size_um": 2.0,
                        "magnitude_um": 1.0, "severity": 0.1, "detail": "", "weight": 1.0})
    vol = np.stack([img, img])
    return [
        (lambda: cell.unroll(img, (np.nan, np.nan), 1.0), "centre_yx_um"),
        (lambda: cell.unroll(img, (1.0,), 1.0), "centre_yx_um"),
        (lambda: cell.unroll(img, (60.0, 60.0), 1.0, r_min_um=50, r_max_um=10), "radial range is empty"),
        (lambda: cell.unroll(img, (60.0, 60.0), 1.0, dr_um=-1), "dr_um"),
        (lambda: cell.unroll(img, (60.0, 60.0), 1.0, n_angles=0), "n_angles"),
        (lambda: cell.track_layers(un.values), "output of bz.cell.unroll"),
        (lambda: cell.track_layers(xr.DataArray(un.values, dims=("a", "b"))), "output of bz.cell.unroll"),
        (lambda: cell.track_layers(un, handedness=2), "handedness"),
        (lambda: cell.track_layers(un, window=0), "window"),
        (lambda: cell.track_layers(un, min_strength=np.nan), "min_strength"),
        (lambda: cell.find_can(img, 1.0, n_angles=0), "n_angles"),
        (lambda: cell.find_can(np.full((100, 100), np.nan), 25.0), "no finite pixel"),
        (lambda: cell.analyze_slice(np.full((100, 100), np.nan), 25.0), "no finite pixel"),
        (lambda: cell.analyze_slice(img.astype(complex), 1.0, can=False), "not a real"),
        (lambda: cell.analyze_slice(img, 1.0, can=False, handedness=2), "handedness"),
        (lambda: cell.find_defects(img, None, None, un, 1.0), "layers"),
        (lambda: cell.find_defects(img, None, layers, un.values, 1.0), "unrolled"),
        (lambda: cell.analyze_volume(vol, 1.0, slices=[10], progress=False), "slices"),
        (lambda: cell.analyze_volume(vol, (1.0, 1.0), progress=False), "three"),
        (lambda: cell.link_defects(pd.DataFrame({"a": [1]}), 25.0), "missing column"),
        (lambda: cell.link_defects(np.ones((3, 3)), 25.0), "DataFrame"),
        (lambda: cell.link_defects(det, -25.0), "voxel_size_um"),
        (lambda: cell.link_defects(det, 25.0, max_skip=-1), "max_skip"),
        (lambda: cell.score_defects(det, det.drop(columns="z_um"), 5.0), "truth: missing column"),
        (lambda: cell.score_defects(det, det, -1), "tolerance_um"),
        (lambda: cell.score_defects(det, det, np.nan), "tolerance_um"),
        (lambda: cell.line_image(img), "0/1 line mask"),
        (lambda: cell.line_image(img > 0.5, bin=0), "bin"),
        (lambda: cell.line_image(img > 0.5, bin=-2), "bin"),
        (lambda: cell.line_image(img > 0.5, sigma_px=-1), "sigma_px"),
    ]


N_CALLS = 30


@pytest.mark.parametrize("i", range(N_CALLS))
def test_bad_arguments_raise_input_errors_that_name_them(img, un, layers, i):
    calls = _calls(img, un, layers)
    assert len(calls) == N_CALLS
    call, words = calls[i]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VoxelSizeWarning)
        with pytest.raises(InputError, match=words):
            call()


def test_a_bad_volume_voxel_size_is_refused_once_not_per_slice(img):
    vol = np.stack([img] * 4)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with pytest.raises(InputError, match=r"voxel_size_um=-25\.0.*positive"):
            cell.analyze_volume(vol, -25.0, progress=False)
    assert rec == []


def test_an_unknown_voxel_size_warns_with_the_package_warning_and_the_fix(img):
    with pytest.warns(VoxelSizeWarning, match="voxel_size_um"):
        cell.analyze_volume(np.stack([img] * 2), can=False, progress=False, link=False)
