"""The twin's cell CT: frames, determinism, and ground truth that agrees with the image."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.data.twin import cell as tc
from batteryzoom.data.twin import frames

M = tc.MATERIALS


@pytest.fixture(scope="module")
def twin():
    # through the manifest: generated once, then read from the cache (shared with test_cell)
    return {part: bz.data.load("twin/cell-ct", part=part) for part in ("main", "materials", "layers", "defects", "spiral")}


def _index(lv, z_um, y_um, x_um):
    return tuple(int(round(c / v)) for c, v in zip((z_um, y_um, x_um), lv.voxel_size_um))


def test_frame_shape_coords_and_attrs_follow_frames(twin):
    lv = frames.level("twin/cell-ct", "small")
    main = twin["main"]
    assert main.dims == ("z", "y", "x") and main.shape == lv.shape == (64, 736, 736)
    assert main.dtype == np.uint16
    for dim, coord in lv.coords().items():
        np.testing.assert_allclose(main[dim].values, coord)
    assert main.attrs["voxel_size_um"] == [25.0, 25.0, 25.0]
    assert main.attrs["origin_um"] == list(lv.origin_um)
    for part in ("materials", "layers"):
        assert twin[part].shape == lv.shape and twin[part].dtype == np.uint8
    # the manifest's frame is this one
    entry = bz.data.info("twin/cell-ct")
    assert entry.frame["origin_um"] == list(lv.origin_um) and entry.seed == 18650


def test_same_seed_same_bytes_and_another_seed_other_noise(twin):
    lv = frames.level("twin/cell-ct", "small")
    d = tc.design("small")
    again = tc._Renderer(d, lv, 18650)
    other = tc._Renderer(d, lv, 18651)
    for iz in (0, 31, 63):
        grey, mats, wind = again.render(iz)
        assert np.array_equal(grey, twin["main"].values[iz])  # bitwise
        assert np.array_equal(mats, twin["materials"].values[iz])
        assert np.array_equal(wind, twin["layers"].values[iz])
        grey2, mats2, _ = other.render(iz)
        assert not np.array_equal(grey2, grey) and np.array_equal(mats2, mats)  # noise differs, geometry not


def test_grey_levels_rank_the_materials_as_ct_does(twin):
    grey, mats = twin["main"].values[::8], twin["materials"].values[::8]
    mean = {name: grey[mats == lab].mean() for name, lab in M.items() if (mats == lab).any()}
    assert mean["inclusion"] > mean["cathode"] and mean["can"] > mean["cathode"]
    assert mean["cathode"] > mean["anode"] > mean["separator"] > mean["air"]
    # contrast to noise between cathode and anode is what a lab CT of a cell gives (~5-10)
    noise = grey[:, :40, :40].std()  # the empty corner outside the can
    assert 4 < (mean["cathode"] - mean["anode"]) / noise < 15


def test_layer_map_has_22_windings_following_the_ideal_spiral(twin):
    sp = twin["spiral"]
    layers, mats = twin["layers"].values, twin["materials"].values
    assert sp["n_windings"] == 22 and 20 <= sp["n_windings"] <= 25
    assert set(np.unique(layers[40])) == set(range(23))  # 0 outside, windings 1..22
    # the roll's voxels (electrodes, separator, foils) and only them carry a winding
    roll = np.isin(mats, [M["cathode"], M["al_foil"], M["anode"], M["cu_foil"], M["void"]])
    assert np.all(layers[roll] > 0)
    assert np.all(layers[np.isin(mats, [M["air"], M["can"], M["inclusion"]])] == 0)
    # along a defect-free ray, winding k's cathode mid-plane sits at a + b(phi + 2 pi k) + 60
    lv = frames.level("twin/cell-ct", "small")
    phi = np.pi / 2 + 0.3
    for k in (0, 7, 21):
        r = sp["a_um"] + sp["b_um_per_rad"] * (phi + 2 * np.pi * k) + sp["cathode_centre_offset_um"]
        iz, iy, ix = _index(lv, 100.0, sp["centre_y_um"] + r * np.sin(phi), sp["centre_x_um"] + r * np.cos(phi))
        assert mats[iz, iy, ix] in (M["cathode"], M["al_foil"]) and layers[iz, iy, ix] == k + 1
    assert sp["pitch_um"] == pytest.approx(2 * np.pi * sp["b_um_per_rad"])
    assert sp["can_outer_diameter_um"] == pytest.approx(18000.0)


def test_defect_table_points_at_the_defects(twin):
    lv = frames.level("twin/cell-ct", "small")
    df = twin["defects"].set_index("type")
    mats, grey = twin["materials"].values, twin["main"].values
    assert sorted(df.index) == sorted(tc.DEFECT_TYPES)

    def label(kind, dr_um=0.0):
        row = df.loc[kind]
        r = row.radius_um + dr_um
        y = twin["spiral"]["centre_y_um"] + r * np.sin(row.angle_rad)
        x = twin["spiral"]["centre_x_um"] + r * np.cos(row.angle_rad)
        return mats[_index(lv, row.z_um, y, x)]

    inc = df.loc["inclusion"]
    assert label("inclusion") == M["inclusion"]
    # snapped into the gap after winding 11, at the nominal inclusion (the electrode ROI centre)
    world = np.array([inc.z_world_um, inc.y_world_um, inc.x_world_um])
    np.testing.assert_allclose(world, frames.INCLUSION_WORLD_UM, atol=1e-6)
    assert label("gap") == M["void"]
    assert label("tear") == M["separator"]  # the cathode is missing there...
    tear = df.loc["tear"]
    for dphi in (-0.15, 0.15):  # ...but present on both sides along the same winding
        a = tear.angle_rad + dphi
        r_here = tear.radius_um + twin["spiral"]["b_um_per_rad"] * dphi
        y = twin["spiral"]["centre_y_um"] + r_here * np.sin(a)
        x = twin["spiral"]["centre_x_um"] + r_here * np.cos(a)
        assert mats[_index(lv, tear.z_um, y, x)] in (M["cathode"], M["al_foil"])
    assert label("buckling") in (M["cathode"], M["al_foil"])  # the displaced cathode is where the table says
    # the buckled winding moved towards the axis by the tabulated magnitude: the ideal place is empty
    assert label("buckling", df.loc["buckling"].magnitude_um) not in (M["cathode"], M["al_foil"])
    # the dent: the can's outer surface sits `depth` inside the undented ellipse there
    assert label("dent", -0.6 * lv.voxel_size_um[1]) == M["can"]
    assert label("dent", +1.0 * lv.voxel_size_um[1]) == M["air"]
    assert df.loc["dent"].magnitude_um == pytest.approx(110.0)
    # every defect lies inside the cell's slab and the image
    for row in df.itertuples():
        assert 0 <= row.z_um <= (lv.shape[0] - 1) * lv.voxel_size_um[0]
        assert row.severity == pytest.approx(row.magnitude_um / twin["spiral"]["pitch_um"])


def test_healthy_control_has_no_defects():
    d = tc.design("small", defects=False)
    lv = frames.level("twin/cell-ct", "small")
    grey, mats, _ = tc._Renderer(d, lv, 1).render(31)
    assert not (mats == M["inclusion"]).any() and not (mats == M["void"]).any()
    assert tc._defect_table(d, lv).empty
    only = tc.design("small", defects=("gap",))
    assert only.defects["gap"]["planted"] and not only.defects["tear"]["planted"]
    with pytest.raises(bz.errors.InputError, match="unknown"):
        tc.design("small", defects=("crack",))


def test_large_preset_is_lazy_and_describes_the_same_cell():
    import dask.array as da

    big = tc.cell_ct(18650, preset="large")
    lv = frames.level("twin/cell-ct", "large")
    assert isinstance(big["main"].data, da.Array) and big["main"].shape == lv.shape == (128, 1472, 1472)
    inc = big["defects"].set_index("type").loc["inclusion"]
    np.testing.assert_allclose([inc.z_world_um, inc.y_world_um, inc.x_world_um], frames.INCLUSION_WORLD_UM, atol=1e-6)
    iz, iy, ix = _index(lv, inc.z_um, inc.y_um, inc.x_um)
    mats = big["materials"][iz].values  # one slice computed, not the volume
    assert mats[iy, ix] == M["inclusion"]


def test_load_through_the_manifest_caches_every_part(twin):
    parts = bz.data.parts("twin/cell-ct")
    assert {"main", "materials", "layers", "defects", "spiral"} <= set(parts)
    assert list(twin["defects"].type) == list(tc.DEFECT_TYPES)
    main = bz.data.load("twin/cell-ct", lazy=True)
    assert main.shape == (64, 736, 736) and main.attrs["voxel_size_um"] == [25.0, 25.0, 25.0]
    assert np.array_equal(main[10].values, twin["main"][10].values)
