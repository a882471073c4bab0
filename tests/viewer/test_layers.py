"""bz.viewer.layers: what each napari layer is given (no window needed)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from batteryzoom.errors import InputError
from batteryzoom.viewer import layers


def test_voxel_size_from_the_argument_the_attrs_or_the_coordinates_never_assumed():
    vol = np.zeros((3, 4, 5))
    np.testing.assert_array_equal(layers.volume_scale_um(vol, (2.0, 0.5, 0.25)), [2.0, 0.5, 0.25])
    da = xr.DataArray(vol, dims=("z", "y", "x"), attrs={"voxel_size_um": [0.16, 0.16, 0.16]})
    np.testing.assert_array_equal(layers.volume_scale_um(da), [0.16, 0.16, 0.16])
    spaced = xr.DataArray(vol, dims=("z", "y", "x"),
                          coords={"z": np.arange(3) * 3.0, "y": np.arange(4) * 1.0, "x": 7 + np.arange(5) * 0.5})
    np.testing.assert_array_equal(layers.volume_scale_um(spaced), [3.0, 1.0, 0.5])
    with pytest.raises(InputError, match="voxel_size_um"):
        layers.volume_scale_um(vol)
    with pytest.raises(InputError):
        layers.volume_scale_um(vol, (1.0, -1.0, 1.0))


def test_labels_are_shown_in_the_smallest_unsigned_dtype_with_their_values():
    lab = np.array([[[0, 5], [255, 1]]], dtype=np.int32)
    small = layers.display_labels(lab)
    assert small.dtype == np.uint8 and np.array_equal(small, lab)
    wide = lab * 200  # 51000: uint16
    assert layers.display_labels(wide).dtype == np.uint16 and np.array_equal(layers.display_labels(wide), wide)
    big = lab.astype(np.int64) * 1000  # 255000: kept
    assert layers.display_labels(big).dtype == np.int64
    negative = lab - 1
    assert layers.display_labels(negative) is negative


def test_a_dask_volume_is_cast_lazily_only_when_its_largest_label_is_known():
    da = pytest.importorskip("dask.array")
    lab = da.from_array(np.arange(24, dtype=np.int32).reshape(2, 3, 4), chunks=2)
    assert layers.display_labels(lab) is lab  # no pass over the data to find the largest label
    cast = layers.display_labels(lab, max_label=23)
    assert isinstance(cast, da.Array) and cast.dtype == np.uint8
    np.testing.assert_array_equal(cast.compute(), np.arange(24).reshape(2, 3, 4))


def test_a_3d_volume_is_required_and_xarray_is_unwrapped_not_loaded():
    da = pytest.importorskip("dask.array")
    lazy = xr.DataArray(da.zeros((2, 3, 4), chunks=1), dims=("z", "y", "x"))
    assert layers.as_array(lazy) is lazy.data
    with pytest.raises(InputError, match=r"3D volume .* shape \(3, 4\)"):
        layers.as_array(np.zeros((3, 4)))


def test_box_edges_are_the_twelve_unit_steps_of_the_box():
    edges = layers.box_edges_um((0, 0, 0), (1, 2, 3))
    lengths = sorted(float(np.linalg.norm(e[1] - e[0])) for e in edges)
    assert lengths == [1.0] * 4 + [2.0] * 4 + [3.0] * 4


def test_grains_coloured_by_mean_and_the_picked_one_in_magenta():
    import batteryzoom as bz

    values = np.array([1.0, 1.0, 2.0, 2.0, 9.0, 9.0, np.nan, np.nan])
    labels = np.array([1, 1, 2, 2, 3, 3, 4, 4])
    lookup = bz.regions.RegionLookup(bz.regions.region_stats(values, labels, name="e"))
    colors = layers.label_colors(lookup)
    assert colors[0][3] == 0 and colors[None][3] == 0  # background and unknown labels transparent
    lum = {k: colors[k][:3].sum() for k in (1, 2, 3)}
    assert lum[1] < lum[2] < lum[3]  # viridis: dark low means, bright high means
    picked = layers.label_colors(lookup, highlight=2)
    assert tuple(picked[2]) == layers.HIGHLIGHT_RGBA
    assert np.array_equal(picked[1], colors[1]) and np.array_equal(picked[3], colors[3])
    # without statistics: the picked grain magenta, the others grey
    plain = layers.label_colors(None, highlight=7)
    assert tuple(plain[7]) == layers.HIGHLIGHT_RGBA and plain[None][:3].tolist() == [0.7, 0.7, 0.7]
