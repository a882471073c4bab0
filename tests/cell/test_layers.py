"""bz.cell.layers: windings tracked and the spiral fitted, on ideal spirals and on the twin;
impossible pitches and bad arguments refused quickly."""

from __future__ import annotations

import time

import numpy as np
import pytest
import xarray as xr
from conftest import spiral_image

from batteryzoom import cell
from batteryzoom.errors import InputError

VOXEL = 25.0  # the small twin's voxel (µm)


@pytest.fixture(scope="module")
def un():
    img = spiral_image((120, 120), (60.3, 59.6), a=8.0, pitch=6.0, turns=7.0, width=1.2, start=0.0)
    return cell.unroll(img, (60.3, 59.6), 1.0, r_max_um=55)


@pytest.fixture(scope="module")
def layers(un):
    return cell.track_layers(un)


@pytest.mark.parametrize("hand", [1, -1])
def test_layers_of_an_ideal_spiral(hand):
    img = spiral_image(hand=hand)
    u = cell.unroll(img, (151.3, 148.6), 1.0, r_max_um=140)
    L = cell.track_layers(u)
    assert L.handedness == hand
    assert L.pitch_um == pytest.approx(9.0, abs=0.05)
    assert L.b_um_per_rad == pytest.approx(9.0 / (2 * np.pi), rel=0.01)
    assert L.n_windings == pytest.approx(11.5, abs=0.1)
    assert L.n_layers == 12
    assert L.residual_robust_um < 0.15 and L.residual_rms_um < 0.3
    assert np.hypot(*L.centre_offset_yx_um) < 0.2
    turns = L.turns
    assert turns.coverage.iloc[1:-1].min() > 0.98
    assert turns.thickness_um.median() == pytest.approx(2.355 * 1.6, rel=0.15)  # FWHM of the drawn profile
    assert turns.spacing_um.median() == pytest.approx(9.0, abs=0.2)


def test_layers_in_pixels_name_their_unit():
    u = cell.unroll(spiral_image(), (151.3, 148.6), "px", r_max_um=140)
    L = cell.track_layers(u)
    assert L.length_unit == "px" and L.pitch_um == pytest.approx(9.0, abs=0.05)  # pixels
    assert {"radius_px", "thickness_px", "gap_px", "spacing_px"} <= set(L.turns.columns)
    s = L.summary()
    assert s["pitch_px"] == L.pitch_um and "spiral_b_px_per_rad" in s
    assert not [k for k in s if "_um" in k]


def test_layers_of_the_twin_match_its_spiral(twin, cell_twin_findings):
    sp = twin("cell-ct", part="spiral")
    s = cell_twin_findings.volume.summary
    assert (s.status == "ok").all()
    assert (s.n_layers == sp["n_windings"]).all()  # layer count = truth in every slice
    assert s.n_windings.between(21.9, 22.1).all()
    assert s.pitch_um.sub(sp["pitch_um"]).abs().max() < 0.5
    # the ridge is the cathode's mid-plane: a + 60 µm on the ideal spiral
    assert s.spiral_a_um.sub(sp["a_um"] + sp["cathode_centre_offset_um"]).abs().max() < 0.2 * VOXEL
    assert s.residual_robust_um.max() < 0.15 * VOXEL
    assert s.spiral_centre_y_um.sub(sp["centre_y_um"]).abs().max() < 0.2 * VOXEL
    assert s.can_diameter_um.sub(18000).abs().max() < VOXEL


@pytest.mark.parametrize("pitch", [1e6, 0, -10, np.nan, 0.1])
def test_track_layers_refuses_an_impossible_pitch_quickly(un, pitch):
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="pitch_um"):
        cell.track_layers(un, pitch_um=pitch)
    assert time.perf_counter() - t0 < 1


def test_a_plausible_pitch_is_still_accepted(un, layers):
    assert cell.track_layers(un, pitch_um=6.0).pitch_um == pytest.approx(layers.pitch_um, abs=0.1)


@pytest.mark.parametrize("call, words", [
    (lambda un: cell.track_layers(un.values), "output of bz.cell.unroll"),
    (lambda un: cell.track_layers(xr.DataArray(un.values, dims=("a", "b"))), "output of bz.cell.unroll"),
    (lambda un: cell.track_layers(un, handedness=2), "handedness"),
    (lambda un: cell.track_layers(un, window=0), "window"),
    (lambda un: cell.track_layers(un, min_strength=np.nan), "min_strength"),
])
def test_bad_arguments_raise_input_errors_that_name_them(un, call, words):
    with pytest.raises(InputError, match=words):
        call(un)
