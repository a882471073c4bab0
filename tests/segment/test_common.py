"""bz.segment._common: the helpers the segment modules share (h-maxima, label compaction,
length naming, the frame of a volume argument)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from batteryzoom.errors import InputError
from batteryzoom.frames import frame_of
from batteryzoom.segment import _common


def test_h_maxima_matches_scikit_image():
    from scipy import ndimage
    from skimage.morphology import h_maxima

    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(rng.normal(size=(40, 40, 40)), 2.0).astype(np.float32)
    for h in (0.01, 0.05):
        assert np.array_equal(_common.h_maxima(image, h), h_maxima(image, h).astype(bool))


def test_sparse_labels_are_compacted_with_their_ids():
    lab = np.zeros((4, 4, 4), np.int64)
    lab[0, 0, 0], lab[3, 3, 3] = 7 * 10**9, 10**12
    dense, ids = _common.compact_labels(lab)
    assert dense.max() == 2 and ids[dense[0, 0, 0]] == 7 * 10**9 and ids[dense[3, 3, 3]] == 10**12
    small, none = _common.compact_labels(np.arange(8).reshape(2, 2, 2))
    assert none is None and small.max() == 7


def test_lengths_are_renamed_only_in_voxels():
    table = pd.DataFrame(columns=["label", "volume_um3", "centroid_x_um", "density_per_um", "sphericity"])
    px = _common.lengths_named(table, frame_of((2, 2, 2), "px"))
    assert list(px.columns) == ["label", "volume_px3", "centroid_x_px", "density_per_px", "sphericity"]
    assert _common.lengths_named(table, frame_of((2, 2, 2), 0.5)) is table


def test_the_frame_of_a_volume_names_its_file_when_unknown():
    vol = xr.DataArray(np.zeros((3, 3, 3)), dims=("z", "y", "x"),
                       attrs={"voxel_size_um": None, "source": "/data/scan_042.tif"})
    with pytest.raises(InputError, match=r"^volume \(read from scan_042\.tif\): the voxel size is unknown"):
        _common.volume_frame(vol, None, "volume")
    assert _common.volume_frame(vol, (1.0, 0.5, 0.5), "volume").voxel_size_um == (1.0, 0.5, 0.5)


def test_outputs_keep_the_template_frame_or_mark_voxels():
    template = xr.DataArray(np.zeros((2, 3, 4)), dims=("z", "y", "x"),
                            coords={"z": [10.0, 11.0], "y": [0.0, 0.5, 1.0], "x": [0.0, 0.5, 1.0, 1.5]},
                            attrs={"voxel_size_um": [1.0, 0.5, 0.5], "level": "demo"})
    frame = _common.volume_frame(template, None, "volume")
    out = _common.like(np.ones((2, 3, 4), bool), template, frame, "mask", units="mask")
    assert out.attrs == {"level": "demo", "voxel_size_um": [1.0, 0.5, 0.5], "units": "mask"}
    assert out["z"].values.tolist() == [10.0, 11.0]
    px = _common.like(np.ones((2, 3, 4), bool), np.zeros((2, 3, 4)), frame_of((2, 3, 4), "px"), "mask")
    assert px.attrs["voxel_size_um"] is None and px["x"].attrs["units"] == "px"
    with pytest.raises(InputError, match="voxel size is unknown"):
        frame_of(px)  # a result in voxels stays in voxels downstream
