"""bz.segment.phases: thresholds, the phase map, fractions, porosity, depth profiles and the
coating, on the twin, on the real labelled electrodes and on bad input."""

from __future__ import annotations

import time

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom import segment
from batteryzoom.errors import InputError


def test_phases_and_porosity_of_the_twin(twin_electrode):
    grey, truth, _ = twin_electrode
    phases = segment.classify_phases(grey)
    x = grey["x"].values
    coating = np.zeros(grey.shape, bool)
    coating[:, :, (x >= 9.75) & (x < 69.75)] = True
    measured = segment.porosity(phases, region=coating)
    true = segment.porosity(truth["phases"], region=coating)
    print(f"twin porosity: measured {measured:.3f}, truth {true:.3f}")
    assert true == pytest.approx(0.30, abs=0.005)
    assert measured == pytest.approx(true, abs=0.03)
    nmc = (phases.values == segment.PHASE_CODES["nmc"])[coating].mean()
    assert nmc == pytest.approx((truth["phases"] == 1)[coating].mean(), abs=0.03)
    profile = segment.depth_profile(truth["phases"], voxel_size_um=0.5)
    assert len(profile) == 160
    assert profile.loc[profile["position_um"] < 9.75, "3_fraction"].eq(1).all()  # Al foil


REAL = {
    "real/ct/electrode-taufactor-nmc": {"pore": 0, "nmc": 85},
    "real/ct/electrode-nrel-nmc1cal": {"pore": 0, "nmc": 1},
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_electrode_porosity_is_the_phase_count(name, fetch_real):
    fetch_real(name)
    volume = bz.data.load(name)
    spec = REAL[name]
    values = np.asarray(volume.values)
    assert segment.porosity(volume, pore=spec["pore"]) == np.count_nonzero(values == spec["pore"]) / values.size
    table = segment.phase_fractions(volume, names={"pore": spec["pore"], "nmc": spec["nmc"]})
    assert table["voxels"].sum() == values.size and table["fraction"].sum() == pytest.approx(1.0)


def test_nan_voxels_get_the_darkest_code_and_are_counted(two_balls):
    vol = two_balls.astype(np.float32)
    vol[:2] = np.nan
    out = segment.classify_phases(vol, [0.5], voxel_size_um=0.5)
    assert out.attrs["n_nan"] == 2 * vol.shape[1] * vol.shape[2]
    assert (out.values[:2] == 0).all()


# ------------------------------------------------------------------ the frame policy


def test_lengths_in_voxels_are_named_px(two_balls):
    """``voxel_size_um="px"``: positions in voxels, in columns that say so."""
    profile = segment.depth_profile(two_balls, voxel_size_um="px")
    assert "position_px" in profile.columns and "position_um" not in profile.columns
    np.testing.assert_array_equal(profile["position_px"], np.arange(two_balls.shape[2]))
    in_um = segment.depth_profile(two_balls, voxel_size_um=0.5)
    np.testing.assert_array_equal(in_um["position_um"], 0.5 * np.arange(two_balls.shape[2]))
    slab = (two_balls == 1).mean(axis=(0, 1))
    occupied = np.flatnonzero(slab >= 0.02 * slab.max())
    px = segment.find_coating(two_balls == 1, voxel_size_um="px")
    assert px == (occupied[0] - 0.5, occupied[-1] + 0.5)  # slab edges, in voxels
    assert segment.find_coating(two_balls == 1, voxel_size_um=0.5) == (0.5 * px[0], 0.5 * px[1])
    px = segment.classify_phases(two_balls.astype(np.float32), [0.5], voxel_size_um="px")
    assert px.attrs["voxel_size_um"] is None and px["x"].attrs["units"] == "px"


def test_a_crop_of_a_pixel_indexed_volume_keeps_its_offset(tmp_path, two_balls):
    """Positions follow bz.frames: a crop starting at voxel 5 starts at 5 px, or at 2.5 µm
    when a 0.5 µm size is given for the pixel-indexed volume."""
    np.save(tmp_path / "phases.npy", two_balls)
    crop = bz.io.read_volume(tmp_path / "phases.npy")[:, :, 5:]
    assert segment.depth_profile(crop, voxel_size_um="px")["position_px"].iloc[0] == 5
    assert segment.depth_profile(crop, voxel_size_um=0.5)["position_um"].iloc[0] == 2.5
    low, _ = segment.find_coating(crop == 1, voxel_size_um=0.5)
    assert low == 0.5 * segment.find_coating(crop == 1, voxel_size_um="px")[0]


def test_anisotropic_voxels_place_the_slabs():
    solid = np.zeros((4, 6, 10), bool)
    solid[:, :, 3:7] = True
    assert segment.find_coating(solid, axis="x", voxel_size_um=(2.0, 1.0, 0.25)) == (0.625, 1.625)
    assert segment.find_coating(solid.transpose(2, 1, 0), axis="z", voxel_size_um=(0.25, 1.0, 2.0)) == (0.625, 1.625)


@pytest.mark.parametrize("call", [
    lambda p: segment.classify_phases(p.astype(np.float32)),
    lambda p: segment.depth_profile(p),
    lambda p: segment.find_coating(p == 1),
])
def test_an_unknown_voxel_size_raises_and_names_the_fix(two_balls, call):
    with pytest.raises(InputError, match=r"voxel size is unknown.*voxel_size_um=.*\"px\""):
        call(two_balls)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("n", [6, 50, 1, 0, 2.5, True])
def test_phase_count_is_bounded_for_multi_otsu(two_balls_grey, n):
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=r"n_phases=.*thresholds"):
        segment.phase_thresholds(two_balls_grey, n)
    assert time.perf_counter() - t0 < 1


BAD = [
    # (call on (phases, grey), words the message must hold)
    (lambda p, g: segment.phase_thresholds(g, max_samples=0), "max_samples"),
    (lambda p, g: segment.phase_thresholds(p == 1), "boolean mask"),
    (lambda p, g: segment.phase_thresholds(g.astype(complex)), "complex128 is not a real"),
    (lambda p, g: segment.phase_thresholds(g.astype(str)), "is not a real"),
    (lambda p, g: segment.phase_thresholds(g.astype(object)), "object is not a real"),
    (lambda p, g: segment.classify_phases(g, [0.8, 0.2], voxel_size_um=1), "must increase"),
    (lambda p, g: segment.classify_phases(g, [np.nan, 0.5], voxel_size_um=1), "finite"),
    (lambda p, g: segment.classify_phases(g, [0.5], voxel_size_um=1, denoise_sigma_um=-1), "denoise_sigma_um"),
    (lambda p, g: segment.classify_phases(g, [0.3, 0.6], voxel_size_um=1, codes=(0, 1, 300)), "0 to 255"),
    (lambda p, g: segment.classify_phases(np.ones((4, 4, 4)), voxel_size_um=-1), "voxel_size_um"),
    (lambda p, g: segment.phase_fractions(np.random.default_rng(0).random((4, 4, 4))), "integer"),
    (lambda p, g: segment.phase_fractions(p, region=g), "region: expected a boolean mask"),
    (lambda p, g: segment.find_coating(p == 1, voxel_size_um=1, min_fraction=2), "min_fraction"),
    (lambda p, g: segment.find_coating(p == 1, voxel_size_um=1, min_fraction=np.nan), "min_fraction"),
    (lambda p, g: segment.find_coating(g, voxel_size_um=1), "solid: expected a boolean mask"),
    (lambda p, g: segment.depth_profile(p, voxel_size_um=1, axis="w"), "axis='w'"),
]


@pytest.mark.parametrize("call, words", BAD, ids=[w for _, w in BAD])
def test_bad_arguments_raise_input_errors_that_name_them(two_balls, two_balls_grey, call, words):
    with pytest.raises(InputError, match=words):
        call(two_balls, two_balls_grey)
