"""bz.widgets.SliceViewer at the model level: slices in µm, clicks, dask/xarray input, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError


@pytest.fixture(scope="module")
def anisotropic_volume():
    rng = np.random.default_rng(3)
    shape = (20, 30, 40)
    volume = rng.normal(100.0, 20.0, shape).astype(np.float32)
    labels = np.zeros(shape, np.int32)
    labels[5:15, 10:20, 10:30] = 3
    labels[2:6, 2:8, 30:38] = 7
    return volume, labels, (0.5, 0.25, 0.2), (10.0, -3.0, 100.0)


def test_slice_viewer_shows_the_slice_in_micrometres(anisotropic_volume):
    from batteryzoom.plots import zoom as pz
    from batteryzoom.widgets import SliceViewer

    volume, labels, vs, origin = anisotropic_volume
    sv = SliceViewer(volume, labels=labels, voxel_size_um=vs, origin_um=origin, window=(50.0, 150.0))
    sv.set_index("z", 7)
    shown = pz.decode_png_uri(sv.figures["z"].data[0].source)
    expected = np.clip(np.rint((volume[7] - 50.0) / 100.0 * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(shown, expected)
    img = sv.figures["z"].data[0]
    assert (img.x0, img.dx, img.y0, img.dy) == (origin[2], vs[2], origin[1], vs[1])
    # the slice normal to x shows z down and y across
    sv.set_index("x", 12)
    np.testing.assert_array_equal(sv.slice("x"), volume[:, :, 12])
    assert sv.figures["x"].layout.xaxis.title.text == "y (µm)"
    assert sv.figures["x"].layout.yaxis.range == (origin[0] + (20 - 0.5) * vs[0], origin[0] - vs[0] / 2)
    # the scale bar is as long as its label says, in axis units (µm)
    fig = sv.figures["y"]
    bar = [s for s in fig.layout.shapes if s.name == "scale bar"][0]
    label = [a for a in fig.layout.annotations if a.name == "scale bar"][0].text
    assert label == pz.format_length(bar.x1 - bar.x0)
    assert bar.x1 - bar.x0 == pz.nice_length(40 * vs[2])  # a round 1/2/5 × 10^n of ~20 % of x
    # labels overlay: coloured exactly where labels are, transparent elsewhere
    overlay = pz.decode_png_uri(sv.figures["z"].data[1].source)
    np.testing.assert_array_equal(overlay[..., 3] > 0, labels[7] > 0)
    # the other panels' crosshairs follow the z plane
    z_line = [s for s in sv.figures["y"].layout.shapes if s.name == "z plane"][0]
    assert z_line.y0 == pytest.approx(origin[0] + 7 * vs[0])
    assert sv.readouts["z"].value == f"z = {origin[0] + 7 * vs[0]:.3g} µm"


def test_slice_viewer_click_moves_the_other_planes(anisotropic_volume, send_click):
    from batteryzoom.widgets import SliceViewer

    volume, labels, vs, origin = anisotropic_volume
    sv = SliceViewer(volume, voxel_size_um=vs, origin_um=origin)
    fig = sv.figures["z"]
    x_um, y_um = origin[2] + 33 * vs[2], origin[1] + 4 * vs[1]
    send_click(fig, x=x_um, y=y_um)
    assert (sv.index["x"], sv.index["y"]) == (33, 4)
    assert sv.sliders["x"].value == 33
    np.testing.assert_array_equal(sv.slice("y"), volume[:, 4, :])
    sv.sliders["z"].value = 3  # the slider drives the panel too
    np.testing.assert_array_equal(sv.slice("z"), volume[3])


def test_slice_viewer_reads_dask_and_xarray_volumes(anisotropic_volume):
    import dask.array as da
    import xarray as xr

    from batteryzoom.widgets import SliceViewer

    volume, labels, vs, origin = anisotropic_volume
    lazy = da.from_array(volume, chunks=(4, 30, 40))
    coords = {d: o + np.arange(n) * v for d, o, n, v in zip("zyx", origin, volume.shape, vs)}
    cube = xr.DataArray(lazy, dims=("z", "y", "x"), coords=coords, attrs={"voxel_size_um": list(vs)})
    sv = SliceViewer(cube)
    np.testing.assert_allclose(sv.voxel_size_um, vs)
    np.testing.assert_allclose(sv.origin_um, origin)
    sv.set_index("z", 13)
    np.testing.assert_array_equal(sv.slice("z"), volume[13])


def test_slice_viewer_bad_inputs_say_what_is_wrong(anisotropic_volume):
    from batteryzoom.widgets import SliceViewer

    volume, labels, vs, origin = anisotropic_volume
    with pytest.raises(InputError, match="voxel_size_um"):
        SliceViewer(volume)
    with pytest.raises(InputError, match="3D volume"):
        SliceViewer(volume[0], voxel_size_um=vs)
    with pytest.raises(InputError, match="labels have shape"):
        SliceViewer(volume, labels=labels[:5], voxel_size_um=vs)
    sv = SliceViewer(volume, voxel_size_um=vs)
    with pytest.raises(InputError, match="z index 99 is outside 0..19"):
        sv.set_index("z", 99)
