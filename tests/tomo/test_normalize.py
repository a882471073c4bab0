"""bz.tomo.normalize: -ln((I-D)/(I0-D)) with flats interpolated in time, dead pixels,
lazy (dask) input, multi-energy acquisitions, and the refusals (zero, saturated, missing
flats)."""

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
