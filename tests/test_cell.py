"""bz.cell: can, unrolling, layer tracking and defects, scored against the twin and real slices."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

import batteryzoom as bz
from batteryzoom import cell
from batteryzoom.errors import InputError

VOXEL = 25.0  # the small twin's voxel (µm)


@pytest.fixture(scope="module")
def twin():
    return {p: bz.data.load("twin/cell-ct", part=p) for p in ("main", "defects", "spiral")}


@pytest.fixture(scope="module")
def twin_volume(twin):
    """The whole twin analysed once (every test below reads this)."""
    return cell.analyze_volume(twin["main"], progress=False)


def _spiral_image(shape=(300, 300), centre=(151.3, 148.6), a=18.0, pitch=9.0, turns=11.5, hand=1,
                  width=1.6, start=0.4):
    """An ideal bright spiral r = a + pitch·Θ/2π (Θ from `start`) drawn with a Gaussian profile."""
    yy, xx = np.indices(shape, dtype=float)
    dy, dx = yy - centre[0], xx - centre[1]
    r, phi = np.hypot(dy, dx), np.arctan2(dy, dx) % (2 * np.pi)
    s = (r - a) / pitch - (phi if hand > 0 else (2 * np.pi - phi) % (2 * np.pi)) / (2 * np.pi)
    k = np.round(s)
    theta = 2 * np.pi * k + (phi if hand > 0 else (2 * np.pi - phi) % (2 * np.pi))
    on = (theta >= start) & (theta <= start + 2 * np.pi * turns)
    d = (s - k) * pitch
    return np.where(on, np.exp(-0.5 * (d / width) ** 2), 0.0).astype(np.float32)


# --------------------------------------------------------------------------- can


def test_can_of_the_twin_matches_its_design(twin):
    sp = twin["spiral"]
    can = cell.find_can(twin["main"].isel(z=2))  # z = 50 µm: the dent is negligible here
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
    truth = twin["defects"].set_index("type").loc["dent"]
    iz = int(round(truth.z_um / VOXEL))
    can = cell.find_can(twin["main"].isel(z=iz))
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


def test_a_slice_without_a_can_is_refused_by_name():
    rng = np.random.default_rng(0)
    noise = rng.normal(100, 5, (200, 200)).astype(np.float32)
    with pytest.raises(InputError, match="slice 7.*no can found"):
        cell.find_can(noise, 10.0, name="slice 7")
    with pytest.raises(InputError, match="no can found"):
        cell.analyze_slice(_spiral_image(), 10.0, name="roll only")  # a roll but no can


# --------------------------------------------------------------------------- unrolling


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


# --------------------------------------------------------------------------- layers


@pytest.mark.parametrize("hand", [1, -1])
def test_layers_of_an_ideal_spiral(hand):
    img = _spiral_image(hand=hand)
    u = cell.unroll(img, (151.3, 148.6), 1.0, r_max_um=140)
    L = cell.track_layers(u)
    assert L.handedness == hand
    assert L.pitch_um == pytest.approx(9.0, abs=0.05)
    assert L.b_um_per_rad == pytest.approx(9.0 / (2 * np.pi), rel=0.01)
    assert L.n_windings == pytest.approx(11.5, abs=0.1)
    assert L.n_layers == 12
    assert L.residual_robust_um < 0.15 and L.residual_rms_um < 0.3
    assert np.hypot(*L.centre_offset_yx_um) < 0.2
    turns = L.turns
    assert turns.coverage.iloc[1:-1].min() > 0.98
    assert turns.thickness_um.median() == pytest.approx(2.355 * 1.6, rel=0.15)  # FWHM of the drawn profile
    assert turns.spacing_um.median() == pytest.approx(9.0, abs=0.2)


def test_layers_of_the_twin_match_its_spiral(twin, twin_volume):
    sp = twin["spiral"]
    s = twin_volume.summary
    assert (s.status == "ok").all()
    assert (s.n_layers == sp["n_windings"]).all()  # layer count = truth in every slice
    assert s.n_windings.between(21.9, 22.1).all()
    assert s.pitch_um.sub(sp["pitch_um"]).abs().max() < 0.5
    # the ridge is the cathode's mid-plane: a + 60 µm on the ideal spiral
    assert s.spiral_a_um.sub(sp["a_um"] + sp["cathode_centre_offset_um"]).abs().max() < 0.2 * VOXEL
    assert s.residual_robust_um.max() < 0.15 * VOXEL
    assert s.spiral_centre_y_um.sub(sp["centre_y_um"]).abs().max() < 0.2 * VOXEL
    assert s.can_diameter_um.sub(18000).abs().max() < VOXEL


# --------------------------------------------------------------------------- defects


def test_every_planted_defect_found_within_two_voxels(twin, twin_volume):
    truth = twin["defects"]
    found = twin_volume.defects
    score = cell.score_defects(found, truth, tolerance_um=2 * VOXEL)
    missed = score[score.status == "missed"]
    assert missed.empty, f"missed {missed.to_dict('records')}"
    hits = score[score.status == "found"].set_index("type")
    assert set(hits.index) == set(truth.type)
    assert (hits.distance_um <= 2 * VOXEL).all()
    # magnitudes: buckling displacement, gap opening and dent depth within 15 %
    for kind in ("buckling", "gap", "dent"):
        assert hits.loc[kind, "found_magnitude_um"] == pytest.approx(hits.loc[kind, "true_magnitude_um"], rel=0.15)
    # false alarms: at most one per 100 slices
    n_false = int((score.status == "false alarm").sum())
    assert n_false / len(twin_volume.summary) * 100 <= 1.0


def test_healthy_twin_gives_no_false_alarms():
    from batteryzoom.data.twin import cell as tc

    healthy = tc.cell_ct(3, defects=False)["main"]
    res = cell.analyze_volume(healthy.isel(z=slice(0, 64, 4)), progress=False)  # 16 slices
    assert res.detections.empty and res.defects.empty
    assert (res.summary.n_layers == 22).all()


def test_per_slice_detections_and_deformation_map(twin, twin_volume):
    det = twin_volume.detections
    assert {"slice", "z_um", "type", "y_um", "x_um", "severity"} <= set(det.columns)
    # the buckle shows in the deformation map: inner turns pulled towards the axis
    b = twin["defects"].set_index("type").loc["buckling"]
    res = twin_volume.residual.sel(z=b.z_um, method="nearest")
    j = int(np.argmin(np.abs(res.angle.values - b.angle_rad)))
    assert float(res.isel(turn=0, angle=j)) == pytest.approx(-b.magnitude_um, rel=0.15)
    assert abs(float(res.isel(turn=10, angle=j))) < 0.2 * VOXEL  # the middle of the roll is undisturbed
    assert twin_volume.residual.dims == ("z", "turn", "angle")


def test_link_defects_joins_slices_and_drops_single_slice_noise():
    det = pd.DataFrame({
        "slice": [3, 4, 5, 6, 20], "z_um": [30.0, 40, 50, 60, 200], "type": ["gap"] * 5,
        "y_um": [100.0, 101, 102, 101, 400], "x_um": [50.0, 50, 51, 50, 80], "radius_um": 1.0,
        "angle_rad": 0.0, "turn": 3, "size_um": 20.0, "magnitude_um": [2.0, 4.0, 4.0, 2.0, 9.0],
        "severity": 0.1, "detail": "", "weight": [2.0, 4.0, 4.0, 2.0, 9.0],
    })
    linked = cell.link_defects(det, (10.0, 1.0, 1.0), pitch_um=10.0)
    assert len(linked) == 1  # the lone slice-20 deformation is not a defect
    row = linked.iloc[0]
    assert row.n_slices == 4 and row.z_um == pytest.approx(45.0, abs=1.0) and row.magnitude_um == 4.0
    # a bright inclusion seen in a single slice is kept (brightness alone is unambiguous)
    one = det.iloc[[4]].assign(type="inclusion")
    kept = cell.link_defects(pd.concat([det, one], ignore_index=True), (10.0, 1.0, 1.0), pitch_um=10.0)
    assert sorted(kept.type) == ["gap", "inclusion"] and kept.set_index("type").loc["inclusion", "z_um"] == 200.0


# --------------------------------------------------------------------------- bad input


def test_off_centre_and_cropped_cells(twin):
    sl = twin["main"].isel(z=5).values
    shifted = np.full((800, 800), np.median(sl[:40, :40]), sl.dtype)
    shifted[20:756, 60:796] = sl  # the cell 60 px right, 20 px down of where it was
    res = cell.analyze_slice(shifted, VOXEL)
    assert res.can.centre_x_um == pytest.approx(twin["spiral"]["centre_x_um"] + 60 * VOXEL, abs=0.2 * VOXEL)
    assert res.layers.n_layers == 22
    cropped = sl[:, 40:]  # the left edge of the can cut off
    with pytest.warns(UserWarning, match="runs outside the image"):
        res = cell.analyze_slice(cropped, VOXEL, name="cropped slice")
    assert res.can.cropped
    assert res.can.centre_x_um == pytest.approx(twin["spiral"]["centre_x_um"] - 40 * VOXEL, abs=0.5 * VOXEL)


def test_empty_volume_and_slices_without_a_cell(twin):
    with pytest.raises(InputError, match="empty"):
        cell.analyze_volume(np.zeros((0, 50, 50), np.float32), 1.0)
    with pytest.raises(InputError, match="empty or tiny"):
        cell.analyze_slice(np.zeros((0, 0)), 1.0)
    vol = twin["main"].isel(z=slice(0, 3)).copy()
    data = vol.values.copy()
    data[1] = np.median(data[0, :40, :40])  # slice 1: beyond the cell, no can
    vol = vol.copy(data=data)
    with pytest.warns(UserWarning, match="slice 1 .*skipped.*no can"):
        res = cell.analyze_volume(vol, progress=False, link=False)
    assert list(res.summary.status.str[:7]) == ["ok", "skipped", "ok"]
    with pytest.raises(InputError, match="no slice could be analysed"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cell.analyze_volume(vol.isel(z=[1]), progress=False)


def test_unknown_voxel_size_warns_and_reports_pixels():
    img = np.asarray(_spiral_image())
    with pytest.warns(UserWarning, match="voxel size unknown"):
        res = cell.analyze_slice(img, can=False)
    assert res.layers.length_unit == "pixel" and res.defects.attrs["length_unit"] == "pixel"
    assert res.layers.pitch_um == pytest.approx(9.0, abs=0.05)  # in pixels


def test_volume_progress_is_shown(twin, capsys):
    cell.analyze_volume(twin["main"].isel(z=slice(0, 2)), progress=True, link=False)
    assert "analysing slices" in capsys.readouterr().err


# --------------------------------------------------------------------------- real slices


@pytest.fixture(scope="module")
def im1(fetch_real):
    fetch_real("real/ct/cell-slice-im1")
    fetch_real("real/ct/cell-slice-im1-mask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pixel units: no voxel size upstream
        image = cell.analyze_slice(bz.data.load("real/ct/cell-slice-im1"))
        mask = bz.data.load("real/ct/cell-slice-im1-mask")
        own = cell.analyze_slice(mask, can=False)
    return image, mask, own


def _ray_crossings(binary: np.ndarray, centre, n_rays: int = 72) -> np.ndarray:
    """How many separate bands a ray from the centre crosses, for each of n_rays rays."""
    out = []
    for phi in np.arange(n_rays) * 2 * np.pi / n_rays:
        r = np.arange(0, max(binary.shape), 0.5)
        y, x = centre[0] + r * np.sin(phi), centre[1] + r * np.cos(phi)
        inside = (y >= 0) & (y < binary.shape[0] - 1) & (x >= 0) & (x < binary.shape[1] - 1)
        v = ndimage.map_coordinates(binary.astype(np.float32), [y[inside], x[inside]], order=1) > 0.5
        v = ndimage.binary_closing(v, np.ones(3))  # one-sample breaks in a traced line
        out.append(int(np.count_nonzero(np.diff(v.astype(int)) == 1)))
    return np.array(out)


@pytest.mark.realdata
def test_real_im1_windings_match_its_mask(im1):
    image, mask, own = im1
    L = image.layers
    # the can of the real cell: round, one wall all round, no dent
    assert image.can.eccentricity < 0.1 and image.can.dents.empty and not image.can.cropped
    # the image's windings and the mask's spiral agree (independently analysed)
    assert L.n_windings == pytest.approx(own.layers.n_windings, abs=0.15)
    assert L.n_layers == own.layers.n_layers == 19
    # ...and a third count with no spiral model: bands crossed by rays through the mask
    crossings = _ray_crossings(np.asarray(mask.values) > 0, (L.centre_y_um, L.centre_x_um))
    assert np.median(crossings) in (np.floor(L.n_windings), np.ceil(L.n_windings))
    # the fitted spiral: small residuals (pixels; the pitch is ~10 px)
    assert L.pitch_um == pytest.approx(own.layers.pitch_um, rel=0.01)
    assert L.residual_robust_um < 0.1 * L.pitch_um and L.residual_rms_um < 0.15 * L.pitch_um
    assert own.layers.residual_robust_um < 0.15 * L.pitch_um
    assert np.hypot(L.centre_y_um - own.layers.centre_y_um, L.centre_x_um - own.layers.centre_x_um) < 1.5


@pytest.mark.realdata
def test_real_dented_can_mask(fetch_real):
    fetch_real("real/ct/can-dent-mask")
    mask = np.asarray(bz.data.load("real/ct/can-dent-mask").values)
    can = cell.find_can(mask)
    assert len(can.dents) == 1
    d = can.dents.iloc[0]
    # the dent is the flattened top of the ring (x ~ 200-400 px): it lies on that stretch,
    # on the mask's outer edge (the first mask pixel down that column, edge half a pixel up)
    assert 200 < d.x_um < 400
    assert 4.5 < d.angle_rad < 5.0  # towards -y: the top of the image
    ys, xs = np.nonzero(mask)
    edge_y = ys[xs == int(round(d.x_um))].min() - 0.5
    assert d.y_um == pytest.approx(edge_y, abs=1.5)
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
    assert d.depth_um == pytest.approx((mask_y - ell_y).max(), abs=1.5)
    assert 12 < d.depth_um < 30


@pytest.mark.realdata
def test_real_jellybamm_skeletons_give_turns_per_electrode(fetch_real):
    fetch_real("real/ct/jellybamm-cc-skeleton")
    cc = bz.data.load("real/ct/jellybamm-cc-skeleton")
    turns = {}
    for label in (1, 2):
        lines = cell.line_image(cc == label, sigma_px=1.0, bin=3)  # 583² at 31.2 µm
        assert lines.attrs["voxel_size_um"] == pytest.approx([31.2, 31.2])
        res = cell.analyze_slice(lines, can=False)
        L = res.layers
        turns[label] = L.n_windings
        # independent count: how many skeleton lines a ray from the centre crosses; the
        # traced lines are dashed, so some rays miss a turn: the upper decile is the count
        crossings = _ray_crossings(cc.values == label, (L.centre_y_um / 10.4, L.centre_x_um / 10.4))
        assert np.floor(L.n_windings) <= np.percentile(crossings, 90) <= np.ceil(L.n_windings)
        assert L.pitch_um == pytest.approx(365, rel=0.05)  # ~35 px at 10.4 µm
        assert L.residual_robust_um < 0.15 * L.pitch_um
    assert 18 <= turns[1] <= 20 and 18 <= turns[2] <= 20
    assert abs(turns[1] - turns[2]) < 1.0  # the two electrodes are wound together


@pytest.mark.realdata
def test_real_header_region_sequence_can_and_roll_per_slice(fetch_real):
    fetch_real("real/ct/cell-header-volume")
    vol = bz.data.load("real/ct/cell-header-volume")  # the TIFF sequence, one volume
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pixel units
        res = cell.analyze_volume(vol.isel(z=[20, 40, 85, 95]), progress=False)
    s = res.summary.set_index("z_um")
    # the cap/tab slices hold the can but no wound roll; lower down the roll appears
    assert s.loc[20.0, "status"].startswith("can only") and s.loc[40.0, "status"].startswith("can only")
    assert (s.loc[[85.0, 95.0], "status"] == "ok").all()
    assert s.loc[[85.0, 95.0], "n_windings"].between(20, 25).all()
    # one can all the way down: same centre and diameter within a few pixels
    assert s.can_diameter_um.max() - s.can_diameter_um.min() < 20
    assert s.can_centre_x_um.max() - s.can_centre_x_um.min() < 3
