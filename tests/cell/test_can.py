"""bz.cell.can: the can's ellipse, wall and dents on the twin, on drawn rings and on a real mask."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import spiral_image

import batteryzoom as bz
from batteryzoom import cell
from batteryzoom.errors import InputError

VOXEL = 25.0  # the small twin's voxel (µm)


def test_can_of_the_twin_matches_its_design(twin):
    sp = twin("cell-ct", part="spiral")
    can = cell.find_can(twin("cell-ct").isel(z=2))  # z = 50 µm: the dent is negligible here
    assert can.length_unit == "um"
    assert can.centre_y_um == pytest.approx(sp["centre_y_um"], abs=0.1 * VOXEL)
    assert can.centre_x_um == pytest.approx(sp["centre_x_um"], abs=0.1 * VOXEL)
    a, b = sp["can_outer_semi_axes_um"]
    assert can.semi_major_um == pytest.approx(a, abs=0.5 * VOXEL)
    assert can.semi_minor_um == pytest.approx(b, abs=0.5 * VOXEL)
    assert can.orientation_rad == pytest.approx(sp["can_orientation_rad"], abs=0.1)
    assert can.wall_thickness_um == pytest.approx(sp["can_wall_um"], abs=VOXEL)
    assert can.diameter_um == pytest.approx(18000, abs=VOXEL)
    assert 0.03 < can.eccentricity < 0.09  # sqrt(1 - (8992/9008)^2) = 0.06
    assert can.dents.empty


def test_dent_depth_and_position_on_the_twin(twin):
    truth = twin("cell-ct", part="defects").set_index("type").loc["dent"]
    iz = int(round(truth.z_um / VOXEL))
    can = cell.find_can(twin("cell-ct").isel(z=iz))
    assert len(can.dents) == 1
    d = can.dents.iloc[0]
    assert d.depth_um == pytest.approx(truth.magnitude_um, rel=0.1)
    assert np.hypot(d.y_um - truth.y_um, d.x_um - truth.x_um) < VOXEL
    assert d.severity == pytest.approx(d.depth_um / can.wall_thickness_um)


def test_can_of_a_drawn_ellipse_with_a_dent():
    # an elliptical ring (semi-axes 170 / 150 px, rotated 0.3 rad) pushed in by a Gaussian
    # dent 12 px deep at 4.2 rad; supersampled so its edges have partial pixels
    yy, xx = (np.indices((800, 840)) + 0.5) / 2 - 0.5
    dy, dx = yy - 200, xx - 215
    phi = np.arctan2(dy, dx) % (2 * np.pi)
    t = phi - 0.3
    r_ell = 170 * 150 / np.sqrt((150 * np.cos(t)) ** 2 + (170 * np.sin(t)) ** 2)
    dent = 12 * np.exp(-0.5 * (((phi - 4.2 + np.pi) % (2 * np.pi) - np.pi) / 0.12) ** 2)
    r = np.hypot(dy, dx)
    ring = (r <= r_ell - dent) & (r > r_ell - dent - 8)
    img = np.where(ring, 1.0, np.where(r < r_ell - dent - 8, 0.2, 0.0))
    img = img.reshape(400, 2, 420, 2).mean(axis=(1, 3)).astype(np.float32)
    can = cell.find_can(img, 2.0)
    assert can.centre_y_um / 2 == pytest.approx(200, abs=0.3) and can.centre_x_um / 2 == pytest.approx(215, abs=0.3)
    assert (can.semi_major_um / 2, can.semi_minor_um / 2) == pytest.approx((170, 150), abs=0.7)
    assert can.orientation_rad == pytest.approx(0.3, abs=0.02)
    assert can.wall_thickness_um / 2 == pytest.approx(8, abs=0.7)
    assert len(can.dents) == 1
    d = can.dents.iloc[0]
    assert d.angle_rad == pytest.approx(4.2, abs=0.02)
    assert d.depth_um / 2 == pytest.approx(12, abs=1.0)
    r_true = 170 * 150 / np.sqrt((150 * np.cos(4.2 - 0.3)) ** 2 + (170 * np.sin(4.2 - 0.3)) ** 2) - 12
    assert d.y_um / 2 == pytest.approx(200 + r_true * np.sin(4.2), abs=1.0)
    assert d.x_um / 2 == pytest.approx(215 + r_true * np.cos(4.2), abs=1.0)
    # the same ring in pixels: every length halves, and every table says px
    px = cell.find_can(img, "px")
    assert px.length_unit == "px" and px.diameter_um == pytest.approx(can.diameter_um / 2)
    assert px.dents.depth_px.iloc[0] == pytest.approx(d.depth_um / 2)
    assert px.profile.attrs["length_unit"] == "px" and not any(c.endswith("_um") for c in px.profile.columns)
    summary = px.summary()
    assert summary["can_diameter_px"] == pytest.approx(can.summary()["can_diameter_um"] / 2)
    assert not any(k.endswith("_um") for k in summary)


def test_a_slice_without_a_can_is_refused_by_name():
    rng = np.random.default_rng(0)
    noise = rng.normal(100, 5, (200, 200)).astype(np.float32)
    with pytest.raises(InputError, match="slice 7.*no can found"):
        cell.find_can(noise, 10.0, name="slice 7")
    with pytest.raises(InputError, match="no can found"):
        cell.analyze_slice(spiral_image(), 10.0, name="roll only")  # a roll but no can


def test_an_unknown_pixel_size_is_refused_with_the_fix():
    ring = np.zeros((64, 64), np.float32)
    with pytest.raises(InputError, match=r'dent mask: the voxel size is unknown.*voxel_size_um="px"'):
        cell.find_can(ring, name="dent mask")


@pytest.mark.parametrize("image, kwargs, words", [
    (spiral_image((120, 120)), dict(n_angles=0), "n_angles"),
    (np.full((100, 100), np.nan), {}, "no finite pixel"),
])
def test_bad_arguments_raise_input_errors_that_name_them(image, kwargs, words):
    with pytest.raises(InputError, match=words):
        cell.find_can(image, 25.0, **kwargs)


@pytest.mark.realdata
def test_real_dented_can_mask(fetch_real):
    fetch_real("real/ct/can-dent-mask")
    mask = np.asarray(bz.data.load("real/ct/can-dent-mask").values)
    can = cell.find_can(mask, "px")  # no pixel size upstream
    assert len(can.dents) == 1
    d = can.dents.iloc[0]
    # the dent is the flattened top of the ring (x ~ 200-400 px): it lies on that stretch,
    # on the mask's outer edge (the first mask pixel down that column, edge half a pixel up)
    assert 200 < d.x_px < 400
    assert 4.5 < d.angle_rad < 5.0  # towards -y: the top of the image
    ys, xs = np.nonzero(mask)
    edge_y = ys[xs == int(round(d.x_px))].min() - 0.5
    assert d.y_px == pytest.approx(edge_y, abs=1.5)
    # depth: the deepest point of the mask's top edge below the fitted ellipse, column by
    # column (near the top the rays from the centre are nearly vertical)
    t = np.linspace(0, 2 * np.pi, 20000)
    a, b, th = can.semi_major_um, can.semi_minor_um, can.orientation_rad
    ex = can.centre_x_um + a * np.cos(t) * np.cos(th) - b * np.sin(t) * np.sin(th)
    ey = can.centre_y_um + a * np.cos(t) * np.sin(th) + b * np.sin(t) * np.cos(th)
    upper = ey < can.centre_y_um
    order = np.argsort(ex[upper])
    cols = np.arange(200, 400)
    ell_y = np.interp(cols, ex[upper][order], ey[upper][order])
    mask_y = np.array([ys[xs == x].min() - 0.5 for x in cols])
    assert d.depth_px == pytest.approx((mask_y - ell_y).max(), abs=1.5)
    assert 12 < d.depth_px < 30
