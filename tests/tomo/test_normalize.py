"""bz.tomo.normalize: -ln((I-D)/(I0-D)) with flats interpolated in time, dead pixels,
lazy (dask) input, multi-energy acquisitions, flats exposed for another time (the real
Xradia chip .xrm), and the refusals (zero, saturated, missing flats, a .txrm read without
its reference)."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError
from batteryzoom.io.acquisition import check_acquisition, make_acquisition
from batteryzoom.tomo import normalize


def _drifting_scan(n_angle=40, shape=(6, 20), transmission=0.6):
    """A beam that fades linearly by 20 % over the scan; 5 flats before, 5 after, 4 darks."""
    order_flats = np.r_[np.arange(4, 9), np.arange(9 + n_angle, 14 + n_angle)]
    order_proj = np.arange(9, 9 + n_angle)
    beam = lambda t: 1000.0 * (1 - 0.2 * (t - 6) / (n_angle + 6))  # noqa: E731
    dark = 50.0
    flats = np.stack([np.full(shape, beam(t) + dark) for t in order_flats])
    proj = np.stack([np.full(shape, beam(t) * transmission + dark) for t in order_proj])
    darks = np.full((4,) + shape, dark)
    return make_acquisition(proj, np.linspace(0, 180, n_angle, endpoint=False), flats=flats, darks=darks,
                            angle_unit="deg", order={"darks": np.arange(4), "flats": order_flats,
                                                     "projections": order_proj})


def test_flats_interpolated_in_time_follow_a_drifting_beam():
    acq = _drifting_scan()
    od = normalize(acq)
    assert od.dims == ("angle", "row", "col") and od.dtype == np.float32
    np.testing.assert_allclose(od.values, -np.log(0.6), atol=1e-4)
    assert "interpolated in acquisition order between 2 runs" in od.attrs["normalization"]
    flat_mean = normalize(acq, interpolate=False).values  # the same scan with one mean flat
    assert np.abs(flat_mean - (-np.log(0.6))).max() > 0.05  # ... is off at the scan's ends


def test_dask_input_stays_lazy_and_equals_numpy():
    import dask.array as da

    acq = _drifting_scan()
    lazy = acq.copy()
    lazy["projections"] = lazy.projections.copy(data=da.from_array(acq.projections.values, chunks=(7, 6, 20)))
    od = normalize(lazy)
    assert type(od.data).__module__.startswith("dask")
    np.testing.assert_allclose(od.values, normalize(acq).values, rtol=1e-6)


def test_dead_flat_pixels_and_empty_counts_stay_finite(i13):
    """The real I13 flat has a dead pixel (0, 0): filled along its row, counted."""
    od = normalize(i13)
    assert np.isfinite(od.values).all()
    assert "1 dead flat pixel(s) filled" in od.attrs["normalization"]
    acq = make_acquisition(np.zeros((4, 2, 3)), [0, 45, 90, 135], flats=np.full((1, 2, 3), 100.0),
                           angle_unit="deg")
    np.testing.assert_allclose(normalize(acq).values, -np.log(0.5 / 100))  # half a count: finite


def test_multi_energy_acquisitions_normalise_per_energy():
    flats = np.stack([np.full((2, 3, 4), 1000.0), np.full((2, 3, 4), 500.0)])
    proj = np.stack([np.full((5, 3, 4), 1000.0 * np.exp(-0.3)), np.full((5, 3, 4), 500.0 * np.exp(-0.7))])
    acq = make_acquisition(proj, np.arange(5) * 36.0, flats=flats, energy_ev=[8300.0, 8400.0], angle_unit="deg")
    od = normalize(acq)
    assert od.dims == ("energy", "angle", "row", "col")
    np.testing.assert_allclose(od.values.mean(axis=(1, 2, 3)), [0.3, 0.7], atol=1e-5)


def test_bad_flats_are_refused_naming_the_frame():
    proj = np.full((4, 8, 8), 500, np.uint16)
    angles = [0, 45, 90, 135]
    zero = np.stack([np.full((8, 8), 1000, np.uint16), np.full((8, 8), 100, np.uint16)])
    acq = make_acquisition(proj, angles, flats=zero, darks=np.full((1, 8, 8), 100, np.uint16), angle_unit="deg",
                           source_path="scan.h5")
    with pytest.raises(InputError, match=r"scan.h5: flat frame 1 \(acquisition frame 2\) holds no signal"):
        normalize(acq)
    saturated = np.random.default_rng(0).integers(30000, 40000, (2, 8, 8)).astype(np.uint16)
    saturated[1, :4] = 65535
    acq = make_acquisition(proj, angles, flats=saturated, angle_unit="deg", source_path="scan.h5")
    with pytest.raises(InputError, match=r"flat frame 1 .* is saturated: 50.0% of its pixels sit at its maximum"):
        normalize(acq)
    with pytest.raises(InputError, match="at 39000 counts"):
        normalize(make_acquisition(proj, angles, flats=saturated[:1], angle_unit="deg"), saturation_counts=39000)
    ds = make_acquisition(proj, angles, flats=saturated[:1], angle_unit="deg").drop_vars("flats")
    with pytest.raises(InputError, match="raw projections without flats"):
        check_acquisition(ds)


def test_xradia_xrm_reference_exposure_compared_as_count_rates(chip_xrm):
    """The chip .xrm's projection was exposed 39.88 s, its embedded reference 40 s: the
    optical density compares count rates, -ln(I / (I0 · t/t0)), through normalize and
    through the pipeline's block path (references + normalize_block) alike."""
    from batteryzoom.tomo.normalize import normalize_block, references

    t, t0 = chip_xrm.attrs["exposure_s"], chip_xrm.attrs["flat_exposure_s"]
    assert abs(t - 39.88) < 0.01 and t0 == 40.0 and "flats" in chip_xrm
    od = normalize(chip_xrm)
    assert od.attrs["exposure_ratio"] == pytest.approx(t / t0, rel=1e-6)
    assert "exposure ratio t/t0 = 0.997" in od.attrs["normalization"]
    counts = np.maximum(chip_xrm.projections.values.astype(np.float64), 0.5)
    flat = chip_xrm.flats.values.astype(np.float64).mean(axis=0)
    good = flat > 0
    expected = -np.log(counts / (flat * t / t0))
    np.testing.assert_allclose(od.values[:, good], expected[:, good], atol=2e-5)
    # without the ratio every pixel would read ln(t0/t) = 0.0029 too high
    unscaled = -np.log(counts / flat)
    assert np.log(t0 / t) > 0.0025
    np.testing.assert_allclose((unscaled - od.values)[:, good], np.log(t0 / t), atol=2e-5)
    refs = references(chip_xrm)
    block = normalize_block(chip_xrm.projections.values[:, 100:140], refs, rows=slice(100, 140))
    np.testing.assert_allclose(block, od.values[:, 100:140], atol=1e-6)


def test_exposures_per_projection_and_per_flat_frame():
    """Projections exposed 2 s and 4 s, flats 1 s and 3 s: each flat frame is brought to
    the mean flat exposure (2 s), then scaled per projection; a transmission of 0.6 reads
    -ln 0.6 everywhere. Bad exposure attributes are refused by name."""
    rate, dark, shape = 500.0, 20.0, (3, 8)
    t_proj, t_flat = np.array([2.0, 4.0, 2.0, 4.0]), np.array([1.0, 3.0])
    proj = np.stack([np.full(shape, 0.6 * rate * t + dark) for t in t_proj])
    flats = np.stack([np.full(shape, rate * t + dark) for t in t_flat])
    acq = make_acquisition(proj, [0, 45, 90, 135], flats=flats, darks=np.full((1,) + shape, dark),
                           angle_unit="deg")
    acq.attrs.update(exposure_s=list(t_proj), flat_exposure_s=list(t_flat))
    od = normalize(acq)
    np.testing.assert_allclose(od.values, -np.log(0.6), atol=1e-5)
    assert od.attrs["exposure_ratio"] == [1.0, 2.0, 1.0, 2.0]
    acq.attrs["exposure_s"] = [2.0, 4.0]
    with pytest.raises(InputError, match=r"attrs\['exposure_s'\].*one per projection \(4\)"):
        normalize(acq)
    acq.attrs.update(exposure_s=2.0, flat_exposure_s=0.0)
    with pytest.raises(InputError, match=r"flat_exposure_s.*positive exposure"):
        normalize(acq)


def test_xradia_txrm_without_reference_is_refused_until_flats_are_given(chip_txrm):
    """The chip .txrm embeds no reference (read with flats='absent'): normalising,
    checking flats and reconstructing refuse it, naming the file and the ways to give
    flats; given flats (here a flat made of its own brightest counts) it normalises."""
    import batteryzoom as bz
    from batteryzoom.tomo import reconstruct
    from batteryzoom.tomo.normalize import check_flats, references

    assert chip_txrm.attrs["flats_absent"] and "flats" not in chip_txrm
    path = chip_txrm.attrs["source_path"]
    for call in (normalize, check_flats, references, reconstruct):
        with pytest.raises(InputError, match=r"txrm_test_chip_tomo\.txrm: the projections were read without "
                                             r"flats.*flats='reference\.xrm' or an array.*normalized=True"):
            call(chip_txrm)
    flat = np.full(chip_txrm.projections.shape[1:], float(chip_txrm.projections.max()) + 1, np.float32)
    given = bz.io.read_acquisition(path, flats=flat)
    od = normalize(given)
    assert np.isfinite(od.values).all() and float(od.min()) > 0
