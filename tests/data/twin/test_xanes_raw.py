"""bz.data.twin.xanes_raw, the twin's 3D XANES as a TXM acquires it: an acquisition Dataset
whose counts carry what the truth states (flux, flats with defect columns, the axis,
the magnification across energies, jitter), on the volume twin's grains and chemistry."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.data.twin import xanes_raw
from batteryzoom.io.acquisition import check_acquisition

NAME = "twin/particle-xanes-raw"


@pytest.fixture(scope="module")
def raw():
    return {"acq": bz.data.load(NAME), "truth": bz.data.load(NAME, part="truth").load(),
            "model": bz.data.load(NAME, part="model")}


def _od(acq, e):
    a = acq.isel(energy=e)
    dark = a.darks.values.mean(0)
    flat = a.flats.values.mean(0) - dark
    return -np.log((a.projections.values - dark) / flat)


def test_an_acquisition_dataset_with_the_stated_layout(raw):
    acq, truth = raw["acq"], raw["truth"]
    check_acquisition(acq)
    assert acq.projections.dims == ("energy", "angle", "row", "col") and acq.projections.dtype == np.uint16
    n_angles = bz.data.info(NAME).params["n_angles"]
    assert acq.sizes["angle"] == n_angles and acq.sizes["energy"] == 60
    np.testing.assert_allclose(acq.angle.values, np.arange(n_angles) * 180.0 / n_angles)
    assert acq.attrs["pixel_size_um"] == pytest.approx(truth["pixel_size_um"].values[-1])
    # the pixel size at the sample is proportional to the energy (zone-plate focus)
    e = acq.energy.values
    np.testing.assert_allclose(truth["pixel_size_um"].values, 0.16 * e / e[-1], rtol=1e-12)
    # same grains and chemistry as the volume twin
    vol_truth = bz.data.load("twin/particle-xanes", part="truth")
    np.testing.assert_array_equal(truth["grain_labels"].values, vol_truth["grain_labels"].values)
    np.testing.assert_array_equal(truth["edge_energy_ev"].values, vol_truth["edge_energy_ev"].values)


def test_open_beam_counts_and_the_defect_columns_that_make_rings(raw):
    acq, truth, model = raw["acq"], raw["truth"], raw["model"]
    e = 5
    flats = acq.flats.values[e].astype(float) - acq.darks.values[e].mean(0)
    t = (acq.energy.values[e] - acq.energy.values[0]) / (acq.energy.values[-1] - acq.energy.values[0])
    expected = model["flux_photons_per_px"] * (1 - model["flux_drop"] * t)
    assert np.median(flats) == pytest.approx(expected, rel=0.02)
    # open-beam rows (above the particle): after flat-field correction each defect column
    # keeps ln(1 + d) at every angle; other columns average to 0 within counting noise
    od = _od(acq, e)[:, :2].mean(axis=(0, 1))
    # the averaged flats' counting noise dominates (the same at every angle): per pixel
    # 1/sqrt(n_flats * counts), over the two rows averaged
    sigma = 1.0 / np.sqrt(model["n_flats"] * expected * 2)
    defect = truth["defect_gain"].values
    bad = defect != 0
    assert bad.sum() == len(model["defect_columns"]) >= 3
    np.testing.assert_allclose(od[bad], np.log1p(defect[bad]), atol=4.5 * sigma)
    assert np.abs(od[~bad]).max() < 4.5 * sigma < np.abs(np.log1p(defect[bad])).min()


def test_the_axis_found_where_the_truth_puts_it_and_the_particle_magnified(raw):
    acq, truth = raw["acq"], raw["truth"]
    for e in (0, 59):
        od = _od(acq, e)
        fit = bz.tomo.find_centre_rows(od[:, 16:48], acq.angle.values)
        assert float(np.median(fit.centres_px)) == pytest.approx(truth["axis_col_px"].values[e], abs=0.3)
    # the particle's projected area (above half its maximum OD) scales as 1 / pixel²
    area = [float((o > 0.5 * o.max()).sum()) for o in (_od(acq, 0)[:, 4:60], _od(acq, 59)[:, 4:60])]
    ratio = truth["pixel_size_um"].values[-1] / truth["pixel_size_um"].values[0]
    assert area[0] / area[1] == pytest.approx(ratio**2, rel=0.01)
    assert ratio**2 > 1.09  # a change far above that tolerance


def test_same_seed_same_bytes():
    seed = bz.data.info(NAME).seed
    a = xanes_raw.particle_xanes_raw(seed, n_angles=8)
    b = bz.data.load(NAME, n_angles=8)
    np.testing.assert_array_equal(a["main"].projections.values, b.projections.values)
    np.testing.assert_array_equal(a["main"].flats.values, b.flats.values)
    with pytest.raises(ValueError, match="n_angles"):
        xanes_raw.particle_xanes_raw(seed, n_angles=2)
