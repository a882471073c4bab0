"""bz.cell._slice: how every cell function reads its slice — the frame (frames' one rule and
its policy for an unknown voxel size), square pixels, and what is no slice."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import spiral_image

import batteryzoom as bz
from batteryzoom import cell
from batteryzoom.errors import InputError


def test_an_unknown_voxel_size_raises_with_the_fix():
    img = spiral_image()
    for call in (lambda: cell.analyze_slice(img, can=False), lambda: cell.find_can(img),
                 lambda: cell.unroll(img, (150.0, 150.0))):
        with pytest.raises(InputError, match=r'slice: the voxel size is unknown\. Pass voxel_size_um=\.\.\. in µm.*'
                                             r'voxel_size_um="px"'):
            call()
    # a size recorded as unknown (what read_volume writes for a file without one) is unknown
    recorded = xr.DataArray(img, dims=("y", "x"), attrs={"voxel_size_um": None, "source": "im_1.tif"})
    with pytest.raises(InputError, match="im_1.tif: the voxel size is unknown"):
        cell.analyze_slice(recorded, can=False)


def test_px_measures_in_pixels_and_says_so_in_every_name():
    res = cell.analyze_slice(spiral_image(), "px", can=False)
    assert res.layers.length_unit == "px" and res.defects.attrs["length_unit"] == "px"
    assert res.layers.pitch_um == pytest.approx(9.0, abs=0.05)  # in pixels
    assert res.summary["pitch_px"] == res.layers.pitch_um and res.summary["n_layers"] == res.layers.n_layers
    assert not [k for k in res.summary if "_um" in k]
    assert not [c for c in res.defects.columns if c.endswith("_um")]
    assert res.unrolled.radius.attrs["units"] == "px"


def test_the_frame_comes_from_the_data_and_the_argument_wins():
    img = spiral_image()
    da = xr.DataArray(img, dims=("y", "x"), coords={"y": 10 + np.arange(300) * 2.0, "x": 20 + np.arange(300) * 2.0})
    from_coords = cell.analyze_slice(da, can=False)  # µm coordinates give the size and the origin
    in_px = cell.analyze_slice(img, "px", can=False)
    assert from_coords.layers.pitch_um == pytest.approx(2 * in_px.layers.pitch_um)
    assert from_coords.layers.centre_y_um == pytest.approx(10 + 2 * in_px.layers.centre_y_um, abs=1e-6)
    assert from_coords.layers.centre_x_um == pytest.approx(20 + 2 * in_px.layers.centre_x_um, abs=1e-6)
    given = cell.analyze_slice(da, 4.0, can=False)
    assert given.layers.pitch_um == pytest.approx(4 * in_px.layers.pitch_um)


def test_a_slice_of_a_volume_keeps_the_volume_frame(twin):
    ct = twin("cell-ct")  # attrs: three sizes; a slice keeps them with z a scalar coordinate
    assert cell.find_can(ct.isel(z=2)).diameter_um == pytest.approx(18000, abs=25)
    cropped = ct.isel(z=2, y=slice(4, None))  # the crop's y coordinates start at 100 µm
    assert cell.find_can(cropped).centre_y_um == pytest.approx(cell.find_can(ct.isel(z=2)).centre_y_um, abs=2.5)


def test_anisotropic_pixels_are_refused_in_a_slice():
    with pytest.raises(InputError, match=r"pixels must be square in the slice plane \(dy = dx\)"):
        cell.analyze_slice(spiral_image(), (1.0, 2.0), can=False)


@pytest.mark.parametrize("image, words", [
    (np.zeros((0, 0)), "empty or tiny"),
    (np.zeros((4, 40, 40)), "expected one 2D slice"),
    (np.full((100, 100), np.nan), "no finite pixel"),
    (spiral_image((120, 120)).astype(complex), "not a real"),
])
def test_what_is_no_slice_is_refused(image, words):
    with pytest.raises(InputError, match=words):
        cell.analyze_slice(image, 1.0, can=False)


def test_compute_package_loads_lazily_and_exports_every_name():
    names = set(bz.cell.__all__)
    assert {"analyze_volume", "cell_pipeline", "CellFindings", "DEFECT_COLUMNS"} <= names
    assert all(getattr(bz.cell, n) is not None for n in names)
