"""bz.cell.unrolling: the polar grid's geometry and angle convention, its frame, and the guards
that refuse a grid that would exhaust memory (tiny drawn slices, no twin)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import xarray as xr
from conftest import spiral_image

from batteryzoom import cell
from batteryzoom.errors import InputError


@pytest.fixture(scope="module")
def img():
    return spiral_image((120, 120), (60.3, 59.6), a=8.0, pitch=6.0, turns=7.0, width=1.2, start=0.0)


def test_unroll_geometry_and_angle_convention():
    img = np.zeros((201, 201), np.float32)
    yy, xx = np.indices(img.shape)
    img[:] = np.hypot(yy - 100, xx - 100)  # value = radius in pixels
    img[100, 160] += 1000  # a bright dot at +x ...
    img[160, 100] += 2000  # ... and one at +y
    u = cell.unroll(img, (100 * 3.0, 100 * 3.0), 3.0, r_max_um=80 * 3.0, n_angles=360)
    assert u.dims == ("radius", "angle") and u.radius.values[1] - u.radius.values[0] == pytest.approx(3.0)
    inner = u.sel(radius=slice(30, 150)).values
    # away from the dots the value is the radius (pixels) itself
    np.testing.assert_allclose(np.median(inner, axis=1), u.radius.sel(radius=slice(30, 150)).values / 3.0, atol=0.01)
    ring = u.sel(radius=180.0, method="nearest").values
    dot_x = (ring > 500) & (ring < 1500)  # the +x dot (1000 above the background)
    dot_y = ring > 1500  # the +y dot (2000)
    assert np.abs(((u.angle.values[dot_x] + np.pi) % (2 * np.pi)) - np.pi).max() < 0.02
    assert np.abs(u.angle.values[dot_y] - np.pi / 2).max() < 0.02
    assert np.isnan(cell.unroll(img, (0.0, 0.0), 1.0, r_max_um=150, n_angles=64).values).any()  # outside -> NaN


def test_unroll_reads_the_frame_of_the_slice():
    """The centre is in the slice's own coordinates (its origin and pixel size), and the output
    records the frame it came from: µm, or px on purpose."""
    img = spiral_image((120, 120), (60.3, 59.6), a=8.0, pitch=6.0, turns=7.0, width=1.2, start=0.0)
    da = xr.DataArray(img, dims=("y", "x"), coords={"y": 1000 + np.arange(120) * 2.0, "x": -50 + np.arange(120) * 2.0})
    u = cell.unroll(da, (1000 + 60.3 * 2, -50 + 59.6 * 2), r_max_um=100)
    ref = cell.unroll(img, (60.3, 59.6), "px", r_max_um=50)
    np.testing.assert_allclose(u.values, ref.values, atol=1e-5)  # the same samples
    assert u.attrs["voxel_size_um"] == 2.0 and u.attrs["length_unit"] == "um" and u.radius.attrs["units"] == "µm"
    assert ref.attrs["voxel_size_um"] is None and ref.attrs["length_unit"] == "px" and ref.radius.attrs["units"] == "px"
    with pytest.raises(InputError, match="voxel size is unknown"):
        cell.unroll(img, (60.3, 59.6))


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


@pytest.mark.parametrize("call, words", [
    (lambda img: cell.unroll(img, (np.nan, np.nan), 1.0), "centre_yx_um"),
    (lambda img: cell.unroll(img, (1.0,), 1.0), "centre_yx_um"),
    (lambda img: cell.unroll(img, (60.0, 60.0), 1.0, r_min_um=50, r_max_um=10), "radial range is empty"),
    (lambda img: cell.unroll(img, (60.0, 60.0), 1.0, dr_um=-1), "dr_um"),
    (lambda img: cell.unroll(img, (60.0, 60.0), 1.0, n_angles=0), "n_angles"),
])
def test_bad_arguments_raise_input_errors_that_name_them(img, call, words):
    with pytest.raises(InputError, match=words):
        call(img)
