"""bz.data.twin.particle_raw, the twin's particle as a propagation-based tomography acquires
it: an acquisition whose counts carry what the truth states (flux, gain, flats, the axis,
Fresnel fringes at the stated distance, energy and δ/β), on the nano-CT twin's grains."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.data.twin import particle_raw
from batteryzoom.io.acquisition import check_acquisition

NAME = "twin/particle-nanoct-raw"


@pytest.fixture(scope="module")
def raw(twin):
    return {"acq": twin(NAME), "truth": twin(NAME, "truth").load(), "model": twin(NAME, "model")}


def _transmission(acq):
    dark = acq.darks.values.mean(0)
    return (acq.projections.values - dark) / (acq.flats.values.mean(0) - dark)


def test_an_acquisition_of_the_nanoct_twins_particle_with_the_stated_layout(raw, twin):
    acq, truth, model = raw["acq"], raw["truth"], raw["model"]
    check_acquisition(acq)
    n_angles = bz.data.info(NAME).params["n_angles"]
    assert acq.projections.dims == ("angle", "row", "col") and acq.projections.dtype == np.uint16
    assert acq.sizes["angle"] == n_angles and (acq.sizes["row"], acq.sizes["col"]) == tuple(model["detector_shape"])
    np.testing.assert_allclose(acq.angle.values, np.arange(n_angles) * 180.0 / n_angles)
    assert acq.attrs["energy_ev"] == model["energy_ev"] == particle_raw.ENERGY_EV
    assert acq.attrs["pixel_size_um"] == 0.08 and acq.attrs["distance_m"] == model["distance_m"]
    assert truth.attrs["delta_beta"] == pytest.approx(particle_raw.DELTA / particle_raw.BETA)
    # the same particle as the nano-CT twin: same grid, grains, cracks and pores
    np.testing.assert_array_equal(truth["grains"].values, twin("particle-nanoct", "grains").values)
    np.testing.assert_array_equal(truth["cracks"].values, twin("particle-nanoct", "cracks").values)
    assert len(twin(NAME, "grain_table")) == len(twin("particle-nanoct", "grain_table"))


def test_the_manifest_places_the_reconstruction_grid_in_the_nanocts_frame(raw):
    from batteryzoom.zoom import Hierarchy

    lv = particle_raw.level("small")
    entry = bz.data.info(NAME)
    assert entry.parent == lv.parent == "twin/particle-nanoct" and entry.scale == lv.scale
    names = ["twin/cell-ct", "twin/electrode-ct", "twin/particle-nanoct", NAME]
    # the detector is wider than the nano-CT's box: the margin of air is stated, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fields = Hierarchy([*Hierarchy.from_twin("small"), lv]).manifest_fields(NAME)
        manifest_h = Hierarchy.from_manifest(names=names)
    assert fields == {"parent": entry.parent, "box_um": entry.box_um, "frame": entry.frame}
    assert entry.frame["overhang_um"] == [0.32, 0.64, 0.64]
    assert manifest_h[NAME].shape == lv.shape
    # the reconstruction's voxel truth_origin_px is the nano-CT's voxel 0
    np.testing.assert_allclose(-np.asarray(lv.origin_um) / 0.08, raw["model"]["truth_origin_px"])


def test_counts_flats_and_darks_carry_the_stated_flux_and_noise(raw):
    acq, model = raw["acq"], raw["model"]
    dark = acq.darks.values.astype(float)
    assert dark.mean() == pytest.approx(model["dark_counts"], abs=0.5)
    assert dark.std() == pytest.approx(model["read_noise_counts"], rel=0.1)
    flats = acq.flats.values.astype(float) - model["dark_counts"]
    assert np.median(flats) == pytest.approx(model["flux_photons_per_px"], rel=0.01)
    # the per-pixel gain is the same in every flat: its spread is the stated one, the
    # flat-to-flat difference is counting (Poisson) plus read noise
    assert (flats.mean(0) / np.median(flats)).std() == pytest.approx(model["gain_spread"], rel=0.15)
    diff = np.diff(flats[:2], axis=0) / np.sqrt(2)
    assert diff.std() == pytest.approx(np.sqrt(model["flux_photons_per_px"] + model["read_noise_counts"] ** 2),
                                       rel=0.05)
    # the open beam beside the particle transmits everything
    t = _transmission(acq)
    assert np.abs(t[:, :, :3].mean() - 1) < 0.005


def test_fresnel_fringes_at_the_stated_distance_and_paganin_undoes_them(raw):
    """The raw transmission overshoots 1 at the particle's edge (no absorption image can);
    Paganin's retrieval with the stated δ/β, distance and energy returns μ·L (L the true
    projected solid length) within 3 % on the particle, where -ln(I/I0) misses by far more."""
    acq, truth, model = raw["acq"], raw["truth"], raw["model"]
    t = _transmission(acq)[::30]
    angles = acq.angle.values[::30]
    noise = 1 / np.sqrt(model["flux_photons_per_px"])
    assert t.max() > 1 + 6 * noise
    mr, mc, _ = model["truth_origin_px"]
    nz = truth.sizes["z"]
    lines = np.zeros(t.shape, np.float32)
    lines[:, mr:mr + nz] = bz.tomo.project(truth["density"].values, angles, model["axis_col_px"], t.shape[-1])
    mu_l = 4 * np.pi * model["beta"] / model["wavelength_um"] * lines * model["pixel_size_um"]
    retrieved = bz.tomo.paganin(t, delta_beta=model["delta_beta"], distance_m=model["distance_m"],
                                energy_ev=model["energy_ev"], pixel_size_um=model["pixel_size_um"])
    inside = lines > 0.5 * lines.max()
    err = np.abs(retrieved - mu_l)[inside].mean() / mu_l[inside].mean()
    naive = np.abs(-np.log(t) - mu_l)[inside].mean() / mu_l[inside].mean()
    print(f"\nPaganin: mean |error| {err:.1%} of mu*L on the particle; -ln(I/I0) alone {naive:.0%}")
    assert err < 0.03 and naive > 5 * err


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="n_angles"):
        particle_raw.particle_nanoct_raw(1, n_angles=2)
    with pytest.raises(ValueError, match="preset"):
        particle_raw.particle_nanoct_raw(1, preset="large")
