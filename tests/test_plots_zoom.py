"""bz.plots.zoom: scale bars and children's boxes stay readable on any image."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.plots import zoom as pz


def _luminance(color: str) -> float:
    c = color.strip().lower()
    c = {"white": "#ffffff", "black": "#000000", "#333": "#333333"}.get(c, c)
    if c.startswith("#"):
        r, g, b = (int(c[i:i + 2], 16) for i in (1, 3, 5))
    else:
        r, g, b = (float(v) for v in c[c.index("(") + 1:c.index(")")].split(",")[:3])
    return 0.299 * r + 0.587 * g + 0.114 * b


@pytest.mark.parametrize("color", ["white", "#333"])
def test_scale_bar_shows_on_bright_and_dark_pixels(color):
    shape, label, length = pz.scale_bar((0.0, 80.0), (0.0, 64.0), color=color)
    # the bar is filled in its colour and outlined in a contrasting one: over a particle as
    # bright as the bar its ends still show
    assert shape["type"] == "rect" and shape["fillcolor"] == color
    assert abs(_luminance(shape["line"]["color"]) - _luminance(color)) > 150
    assert shape["x1"] - shape["x0"] == length and label["text"] == pz.format_length(length)
    # the label sits on a backing that contrasts with its text
    assert label.get("bgcolor") and abs(_luminance(label["bgcolor"]) - _luminance(color)) > 150


def test_child_boxes_are_labelled_readably_and_not_clipped():
    slice2d = np.random.default_rng(0).normal(100, 20, (40, 50))
    fig = pz.level_figure(slice2d, voxel_size_um=(0.5, 0.5, 0.5),
                          boxes=[("twin/particle-nanoct", (0, 0, 0), (20, 19.75, 24.75), "#CC79A7", True,
                                  "particle nano-CT"),
                                 ("twin/other", (0, 2, 2), (5, 6, 6), "#E69F00", False)])
    box, other = fig.data[1], fig.data[2]
    # the label a reader understands (not the dataset's name), the name for clicks and hover
    assert box.text[-1] == "particle nano-CT" and box.name == "twin/particle-nanoct"
    assert other.text[-1] == "other"  # without a label: the name after the last "/"
    # coloured text keeps a dark outline on grey pixels; a box as large as the image is
    # drawn whole, not half hidden under the axes
    assert box.textfont.shadow and box.cliponaxis is False


def test_volume_frame_reads_the_frame_by_frame_of():
    """An unknown size is never drawn as 1 µm (pixel-index coordinates, as read_volume
    writes them without a size, raise); anisotropic spacing and a crop's origin are kept."""
    import xarray as xr

    from batteryzoom.errors import InputError

    px = xr.DataArray(np.zeros((3, 4, 5)), dims=("z", "y", "x"),
                      coords={d: (d, np.arange(n), {"units": "pixel"}) for d, n in zip("zyx", (3, 4, 5))},
                      attrs={"voxel_size_um": None})
    with pytest.raises(InputError, match="voxel size is unknown"):
        pz.volume_frame(px)
    um = xr.DataArray(np.zeros((3, 4, 5)), dims=("z", "y", "x"),
                      coords={"z": 2.0 * np.arange(3), "y": 10 + 0.5 * np.arange(4), "x": 0.25 * np.arange(5)})
    vs, origin = pz.volume_frame(um)
    assert vs.tolist() == [2.0, 0.5, 0.25] and origin.tolist() == [0.0, 10.0, 0.0]
    assert pz.volume_frame(px, "px")[0].tolist() == [1.0, 1.0, 1.0]
