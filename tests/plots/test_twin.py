"""plots.twin: the twin beside real data."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError
from batteryzoom.plots import twin as pt
from batteryzoom.plots import zoom as pz


def test_side_by_side_draws_each_slice_in_its_own_units():
    rng = np.random.default_rng(0)
    a = rng.normal(100, 10, (40, 60)).astype(np.float32)
    b = np.arange(30 * 20, dtype=np.uint16).reshape(30, 20)
    fig = pt.side_by_side([("twin", a, 0.5), ("real", b, None)], title="likeness")
    assert [t.type for t in fig.data] == ["image", "image"]
    # physical placement: pixel (0, 0) at 0 µm, 0.5 µm pixels; the real one in pixels
    assert fig.data[0].dx == 0.5 and fig.data[1].dx == 1.0
    assert fig.layout.xaxis.range == (-0.25, 29.75) and fig.layout.xaxis2.range == (-0.5, 19.5)
    assert fig.layout.xaxis.title.text == "x (µm)" and fig.layout.xaxis2.title.text == "x (px)"
    # the images are the slices, windowed to their own 1-99 % range
    img = pz.decode_png_uri(fig.data[1].source)
    assert img.shape == (30, 20)
    lo, hi = pz.window(b)
    expected = np.clip(np.rint((b.astype(np.float32) - lo) / (hi - lo) * 255), 0, 255)
    np.testing.assert_array_equal(img, expected.astype(np.uint8))
    # a scale bar only where the pixel size is known; titles say the size
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].xref == "x"
    titles = [a.text for a in fig.layout.annotations]
    assert any("0.5 µm/px" in t for t in titles) and any("pixel size unknown" in t for t in titles)


def test_side_by_side_rejects_bad_panels():
    with pytest.raises(InputError, match="at least one"):
        pt.side_by_side([])
    with pytest.raises(InputError, match="must be 2D"):
        pt.side_by_side([("volume", np.zeros((2, 3, 4)), 1.0)])
