"""bz.cell.lines: a traced line mask made trackable, in the mask's frame."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import spiral_image

from batteryzoom import cell
from batteryzoom.errors import InputError


def test_binned_lines_sit_where_their_source_pixels_are():
    m = np.zeros((90, 90), bool)
    m[40, 10:80] = True  # one line along x at y index 40
    da = xr.DataArray(m, dims=("y", "x"), coords={"y": 100 + np.arange(90) * 2.0, "x": np.arange(90) * 2.0},
                      attrs={"voxel_size_um": [2.0, 2.0]})
    lines = cell.line_image(da, sigma_px=0.5, bin=3)
    assert lines.shape == (30, 30) and lines.attrs["voxel_size_um"] == [6.0, 6.0]
    row = int(np.argmax(lines.values.max(axis=1)))
    assert float(lines.y[row]) == pytest.approx(100 + 40 * 2.0, abs=2.0)  # the line's height (µm), kept
    np.testing.assert_allclose(np.diff(lines.x.values), 6.0)
    plain = cell.line_image(m, bin=3)  # no frame: binned pixels, no size to invent
    assert "voxel_size_um" not in plain.attrs and not plain.coords


@pytest.mark.parametrize("kwargs, words", [
    (dict(mask=spiral_image((120, 120))), "0/1 line mask"),
    (dict(mask=spiral_image((120, 120)) > 0.5, bin=0), "bin"),
    (dict(mask=spiral_image((120, 120)) > 0.5, bin=-2), "bin"),
    (dict(mask=spiral_image((120, 120)) > 0.5, sigma_px=-1), "sigma_px"),
])
def test_bad_arguments_raise_input_errors_that_name_them(kwargs, words):
    with pytest.raises(InputError, match=words):
        cell.line_image(**kwargs)
