"""bz.frames: one rule for voxel size and origin, one policy for an unknown size."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from batteryzoom.errors import InputError
from batteryzoom.frames import Frame, frame_of


def _vol(shape=(4, 5, 6), step=(2.0, 0.5, 0.25), start=(0.0, 0.0, 0.0), attrs=None, units=None):
    coords = {d: s0 + np.arange(n) * s for d, n, s, s0 in zip("zyx", shape, step, start)}
    v = xr.DataArray(np.zeros(shape, np.float32), dims=("z", "y", "x"), coords=coords, attrs=attrs or {})
    if units:
        for d in "zyx":
            v[d].attrs["units"] = units
    return v


def test_argument_wins_over_attrs_and_coordinates():
    v = _vol(attrs={"voxel_size_um": [9.0, 9.0, 9.0]})
    assert frame_of(v, voxel_size_um=(1.0, 2.0, 3.0)).voxel_size_um == (1.0, 2.0, 3.0)
    assert frame_of(v, voxel_size_um=0.5).voxel_size_um == (0.5, 0.5, 0.5)


def test_attrs_win_over_coordinates_and_anisotropy_is_kept():
    v = _vol(attrs={"voxel_size_um": [1.0, 0.5, 0.5]})
    f = frame_of(v)
    assert f.voxel_size_um == (1.0, 0.5, 0.5) and f.unit == "um" and not f.isotropic


def test_uniform_coordinates_give_the_size_and_the_origin():
    f = frame_of(_vol(start=(10.0, -3.0, 0.5)))
    assert f.voxel_size_um == (2.0, 0.5, 0.25)
    assert f.origin_um == (10.0, -3.0, 0.5)
    np.testing.assert_allclose(f.to_um([1, 2, 4]), [12.0, -2.0, 1.5])
    np.testing.assert_allclose(f.to_index(f.to_um([[1, 2, 3], [0, 0, 0]])), [[1, 2, 3], [0, 0, 0]])


def test_arange_rounding_does_not_leak_into_the_size():
    v = _vol(shape=(3, 50, 50), step=(0.08, 0.08, 0.08))
    assert frame_of(v).voxel_size_um == (0.08, 0.08, 0.08)


def test_recorded_unknown_size_is_unknown_even_with_coordinates():
    v = _vol(attrs={"voxel_size_um": None})  # what read_volume writes for a file without a size
    with pytest.raises(InputError, match="voxel size is unknown"):
        frame_of(v)
    assert frame_of(v, missing="px").unit == "px"


@pytest.mark.parametrize("units", ["pixel", "px", "voxel"])
def test_coordinates_marked_as_pixels_give_no_size(units):
    with pytest.raises(InputError, match="voxel size is unknown"):
        frame_of(_vol(step=(1.0, 1.0, 1.0), units=units))


def test_uneven_or_decreasing_coordinates_give_no_size():
    v = _vol()
    v = v.assign_coords(x=np.array([0.0, 1.0, 3.0, 4.0, 5.0, 6.0]))
    with pytest.raises(InputError, match="unknown"):
        frame_of(v)
    with pytest.raises(InputError, match="unknown"):
        frame_of(_vol().isel(z=slice(None, None, -1)))


def test_plain_arrays_need_a_size_or_the_voxel_choice():
    with pytest.raises(InputError, match=r"electrode.tif: the voxel size is unknown.*voxel_size_um=\"px\""):
        frame_of(np.zeros((5, 6, 7)), name="electrode.tif")
    f = frame_of(np.zeros((5, 6, 7)), missing="px")
    assert f.unit == "px" and f.voxel_size_um == (1.0, 1.0, 1.0) and f.length_suffix == "_px"
    g = frame_of(np.zeros((5, 6, 7)), voxel_size_um="px")
    assert g == f
    assert frame_of(np.zeros((5, 6, 7)), voxel_size_um=0.4).length_suffix == "_um"


def test_voxel_frame_ignores_coordinate_origins():
    v = _vol(start=(5.0, 5.0, 5.0), attrs={"voxel_size_um": None})
    assert frame_of(v, missing="px").origin_um == (0.0, 0.0, 0.0)


def test_spectral_stacks_and_2d_maps_have_their_spatial_dims():
    stack = xr.DataArray(np.zeros((3, 4, 5, 6)), dims=("energy", "z", "y", "x"),
                         coords={"energy": [1.0, 2.0, 3.0]}, attrs={"voxel_size_um": 0.16})
    f = frame_of(stack)
    assert f.dims == ("z", "y", "x") and f.voxel_size_um == (0.16, 0.16, 0.16)
    m = xr.DataArray(np.zeros((4, 5)), dims=("y", "x"), attrs={"voxel_size_um": [0.03, 0.03]})
    assert frame_of(m).dims == ("y", "x")
    assert frame_of(np.zeros((7, 8)), voxel_size_um=2.0).dims == ("y", "x")
    assert frame_of(np.zeros((3, 4, 5, 6)), voxel_size_um=1.0).dims == ("z", "y", "x")


def test_dask_arrays_datasets_and_shapes():
    assert frame_of(da.zeros((8, 8, 8), chunks=4), voxel_size_um=2).voxel_size_um == (2.0, 2.0, 2.0)
    ds = xr.Dataset({"a": _vol()}, attrs={"voxel_size_um": [1, 1, 1]})
    assert frame_of(ds).voxel_size_um == (1.0, 1.0, 1.0)
    assert frame_of((10, 20, 30), voxel_size_um=1).dims == ("z", "y", "x")


def test_placement_and_parent_come_from_the_attributes():
    v = _vol(attrs={"voxel_size_um": [2.0, 0.5, 0.25], "origin_um": [100.0, 200.0, 300.0], "parent": "cell"})
    f = frame_of(v)
    assert f.placement_um == (100.0, 200.0, 300.0) and f.parent == "cell"
    assert f.attrs() == {"voxel_size_um": [2.0, 0.5, 0.25], "origin_um": [100.0, 200.0, 300.0], "parent": "cell"}


def test_a_slice_of_a_volume_keeps_the_frame_of_the_axes_it_kept():
    v = _vol(start=(10.0, -3.0, 0.5), attrs={"voxel_size_um": [2.0, 0.5, 0.25], "origin_um": [100.0, 200.0, 300.0]})
    f = frame_of(v.isel(z=2))  # the volume's three values; z now a scalar coordinate
    assert f.dims == ("y", "x") and f.voxel_size_um == (0.5, 0.25) and f.origin_um == (-3.0, 0.5)
    assert f.placement_um == (200.0, 300.0)
    assert frame_of(v.isel(y=1)).voxel_size_um == (2.0, 0.25)
    # a 2-D map that is no slice (no scalar coordinate of the missing axis) still needs its own size
    plain = xr.DataArray(np.zeros((5, 6)), dims=("y", "x"), attrs={"voxel_size_um": [2.0, 0.5, 0.25]})
    with pytest.raises(InputError, match="voxel_size_um"):
        frame_of(plain)


@pytest.mark.parametrize("bad", [0, -1.0, np.nan, (1.0, 2.0), (1, 1, 1, 1), "abc", [[1, 2, 3]]])
def test_bad_sizes_name_the_argument_and_the_fix(bad):
    with pytest.raises(InputError, match="voxel_size_um"):
        frame_of(np.zeros((4, 4, 4)), voxel_size_um=bad)


def test_bad_recorded_sizes_name_the_object_and_the_attribute():
    with pytest.raises(InputError, match=r"my-volume: attrs\['voxel_size_um'\].*positive"):
        frame_of(_vol(attrs={"voxel_size_um": [1.0, -1.0, 1.0], "level": "my-volume"}))


def test_bad_origin_and_missing_choice():
    with pytest.raises(InputError, match="origin_um"):
        frame_of(np.zeros((4, 4, 4)), voxel_size_um=1, origin_um=(0, np.inf, 0))
    with pytest.raises(InputError, match="missing="):
        frame_of(np.zeros((4, 4, 4)), missing="guess")


def test_frame_checks_its_own_lengths_and_unit():
    with pytest.raises(InputError):
        Frame(voxel_size_um=(1.0,), origin_um=(0.0, 0.0), dims=("y", "x"))
    with pytest.raises(InputError):
        Frame(voxel_size_um=(1.0,), origin_um=(0.0,), dims=("x",), unit="mm")
    f = Frame(voxel_size_um=(1.0, 2.0), origin_um=(0.0, 0.0), dims=("y", "x"))
    assert f.voxel_volume_um3 == 2.0
    np.testing.assert_allclose(f.coords((2, 3))["x"], [0.0, 2.0, 4.0])


def test_pixel_index_coordinates_give_the_origin_in_the_frames_unit():
    crop = _vol(step=(1.0, 1.0, 1.0), start=(10.0, 20.0, 30.0), units="px", attrs={"voxel_size_um": None})
    assert frame_of(crop, missing="px").origin_um == (10.0, 20.0, 30.0)  # a crop keeps its offset
    f = frame_of(crop, voxel_size_um=0.5)  # a µm size for a pixel-indexed crop: indices scaled
    assert f.origin_um == (5.0, 10.0, 15.0) and f.unit == "um"
    um = _vol(start=(1.0, 2.0, 3.0), attrs={"voxel_size_um": None})  # µm coordinates, size unknown
    assert frame_of(um, missing="px").origin_um == (0.0, 0.0, 0.0)
