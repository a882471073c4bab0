"""bz.zoom: the twin's levels nest in one frame; points map between any two levels."""

from __future__ import annotations

import dataclasses
import itertools
import warnings

import numpy as np
import pytest
import xarray as xr

import batteryzoom as bz
from batteryzoom.data.twin import frames, grains, particle_raw, xanes_raw
from batteryzoom.errors import InputError
from batteryzoom.zoom import BoxOutsideParentWarning, Hierarchy, Level

TWIN = ["twin/cell-ct", "twin/electrode-ct", "twin/particle-nanoct", "twin/particle-xanes"]


@pytest.fixture(scope="module", params=frames.PRESETS)
def twin(request):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the twin nests without a single warning
        return Hierarchy.from_twin(request.param)


def test_twin_path_children_and_scales(twin):
    assert twin.names == TWIN and twin.roots == ["twin/cell-ct"]
    assert twin.path("twin/particle-xanes") == TWIN
    assert twin.path("twin/cell-ct") == ["twin/cell-ct"]
    assert twin.children("twin/electrode-ct") == ["twin/particle-nanoct"]
    assert twin.children("twin/particle-xanes") == []
    assert [twin[n].scale for n in TWIN] == ["cell", "electrode", "particle", "grain"]
    assert twin.common_ancestor("twin/particle-xanes", "twin/electrode-ct") == "twin/electrode-ct"
    text = repr(twin)
    assert all(n in text for n in TWIN) and "└─" in text
    table = twin.table()
    assert list(table.index) == TWIN and list(table["depth"]) == [0, 1, 2, 3]


def test_electrode_box_sits_on_the_inclusion_in_the_cell_frame(twin):
    lo, hi = twin.box_in("twin/electrode-ct", "twin/cell-ct")
    inclusion_in_cell = twin.from_world("twin/cell-ct", frames.INCLUSION_WORLD_UM)
    np.testing.assert_allclose((lo + hi) / 2, inclusion_in_cell, atol=1e-9)
    np.testing.assert_allclose(hi - lo, frames.ELECTRODE_SIZE_UM, atol=1e-9)
    wlo, whi = twin.world_box("twin/electrode-ct")
    np.testing.assert_allclose((wlo + whi) / 2, frames.INCLUSION_WORLD_UM, atol=1e-9)
    # the inclusion at r = 5 mm on +x, halfway up the 1.6 mm slab
    assert np.hypot(*((wlo + whi) / 2)[1:]) == pytest.approx(5000.0)
    clo, chi = twin.world_box("twin/cell-ct")
    assert np.all(clo <= wlo) and np.all(whi <= chi)
    # the cell generator's planted inclusion (snapped to a separator gap, in the cell's
    # local frame): the electrode box's centre lies inside the inclusion itself
    from batteryzoom.data.twin import cell

    design = cell.design(_preset(twin))
    planted = np.asarray(cell.inclusion_centre_um(design))
    radius = design.defects["inclusion"]["diameter_um"] / 2
    assert np.all((planted > lo) & (planted < hi))
    assert np.linalg.norm(planted - (lo + hi) / 2) < radius
    # the cell CT voxels holding the electrode box: the box spans them
    sl = twin.slices_in("twin/electrode-ct", "twin/cell-ct")
    v = twin["twin/cell-ct"].voxel_size_um[0]
    for s, a, b in zip(sl, lo, hi):
        assert s.start * v >= a and (s.stop - 1) * v < b and (s.start - 1) * v < a and s.stop * v >= b


def test_particle_and_xanes_boxes_centre_on_the_designated_particle(twin):
    e = twin["twin/electrode-ct"]
    centre_e = frames.particle_centre_in_electrode_um(e.voxel_size_um[0])
    for name in ("twin/particle-nanoct", "twin/particle-xanes"):
        lo, hi = twin.box_in(name, "twin/electrode-ct")
        np.testing.assert_allclose((lo + hi) / 2, centre_e, atol=0.51 * twin[name].voxel_size_um[0])
        # the twin's grain geometry puts the particle centre at the same physical point
        centre_local = grains.particle_centre_um(frames.level(name, _preset(twin)))
        np.testing.assert_allclose(twin.map_points(centre_local, name, e.name), centre_e, atol=1e-9)
    # the XANES field of view is the nano-CT's box (co-registered)
    a = twin.box_in("twin/particle-xanes", "twin/particle-nanoct")
    b = twin.box_in("twin/particle-nanoct", "twin/particle-nanoct")
    np.testing.assert_allclose(a, b, atol=0.51 * twin["twin/particle-xanes"].voxel_size_um[0])
    assert twin.child_at("twin/electrode-ct", centre_e) == "twin/particle-nanoct"
    assert twin.child_at("twin/electrode-ct", [1.0, 1.0, 1.0]) is None


def _preset(h):
    return "small" if h["twin/cell-ct"].voxel_size_um[0] == 25.0 else "large"


def test_points_round_trip_between_every_pair_of_levels(twin):
    rng = np.random.default_rng(0)
    for src, dst in itertools.permutations(TWIN + ["world"], 2):
        pts = rng.uniform(-100, 100, (7, 3))
        there = twin.map_points(pts, src, dst)
        back = twin.map_points(there, dst, src)
        np.testing.assert_allclose(back, pts, atol=1e-9)
        # composing through any third level gives the same point
        for via in TWIN:
            np.testing.assert_allclose(
                twin.map_points(twin.map_points(pts, src, via), via, dst), there, atol=1e-9
            )
    # a voxel of the particle seen from the cell: to_world then from_world
    p = twin.index_to_um("twin/particle-nanoct", [10, 20, 30])
    w = twin.to_world("twin/particle-nanoct", p)
    np.testing.assert_allclose(twin.from_world("twin/particle-nanoct", w), p)
    np.testing.assert_array_equal(twin.to_index("twin/particle-nanoct", p), [10, 20, 30])


def test_napari_transform_places_voxels_in_the_world(twin):
    for name in TWIN:
        t = twin.napari_transform(name)
        idx = np.array([[0, 0, 0], [3, 5, 7]])
        world = idx * np.asarray(t["scale"]) + np.asarray(t["translate"])
        np.testing.assert_allclose(world, twin.to_world(name, twin.index_to_um(name, idx)), atol=1e-9)
    t4 = twin.napari_transform("twin/particle-xanes", leading_dims=1)
    assert len(t4["scale"]) == 4 and t4["scale"][0] == 1.0 and t4["translate"][0] == 0.0


def test_manifest_and_twin_frames_agree():
    manifest_h = Hierarchy.from_manifest(root="twin/cell-ct")
    twin_h = Hierarchy.from_twin("small")
    assert [n for n in manifest_h.names if n in TWIN] == twin_h.names
    # a raw acquisition of a twin level is placed as the grid it reconstructs to: its
    # module's own Level (wider than the finished volume by the detector's margin of air,
    # stated as its overhang)
    own = {lv.name: lv for lv in (particle_raw.level("small"), xanes_raw.level("small"))}
    assert set(manifest_h.names) - set(TWIN) == set(own)
    for name, ref in own.items():
        lv = manifest_h[name]
        assert name == f"{lv.parent}-raw" and lv.parent in TWIN
        assert (lv.shape, lv.voxel_size_um, lv.overhang_um) == (ref.shape, ref.voxel_size_um, ref.overhang_um)
        np.testing.assert_allclose(lv.origin_um, ref.origin_um, atol=1e-9)
    for name in TWIN:
        a, b = manifest_h[name], twin_h[name]
        assert (a.parent, a.scale, a.voxel_size_um) == (b.parent, b.scale, b.voxel_size_um)
        np.testing.assert_allclose(a.origin_um, b.origin_um, atol=1e-9)
        if a.shape is not None:  # the cell entry has no box, so no shape in the manifest
            assert a.shape == b.shape
        if a.parent:
            entry = bz.data.info(name)
            np.testing.assert_allclose(twin_h.box_in(name, a.parent), [entry.box_um["min"], entry.box_um["max"]], atol=1e-6)
            assert twin_h.manifest_fields(name) == {"parent": entry.parent, "box_um": entry.box_um, "frame": entry.frame}
    # points map the same way through both
    pts = np.random.default_rng(1).uniform(0, 10, (5, 3))
    np.testing.assert_allclose(
        manifest_h.map_points(pts, "twin/particle-xanes", "twin/cell-ct"),
        twin_h.map_points(pts, "twin/particle-xanes", "twin/cell-ct"),
        atol=1e-9,
    )
    # the whole manifest builds too (every entry with a frame)
    assert set(TWIN) <= set(Hierarchy.from_manifest().names)


def test_a_users_hierarchy_by_hand_and_from_xarray():
    h = Hierarchy([
        Level("roi", (20, 30, 40), (0.4, 0.2, 0.2), origin_um=(500.0, 1000.0, 900.0), parent="cell"),
        Level("cell", (100, 200, 200), 10.0, origin_um=(0.0, -995.0, -995.0), scale="cell"),
    ])
    assert h.names == ["cell", "roi"]  # parents first, whatever the order given
    lo, hi = h.box_in("roi", "cell")
    np.testing.assert_allclose(lo, [499.8, 999.9, 899.9])
    np.testing.assert_allclose(hi, [499.8 + 8.0, 999.9 + 6.0, 899.9 + 8.0])
    data = xr.DataArray(
        np.zeros((8, 10, 12)), dims=("z", "y", "x"),
        coords={"z": np.arange(8) * 0.05, "y": np.arange(10) * 0.05, "x": np.arange(12) * 0.05},
        attrs={"level": "particle", "parent": "roi", "origin_um": [2.0, 2.0, 2.0]},
    )
    lv = h.add(Level.from_xarray(data))
    assert lv.voxel_size_um == (0.05, 0.05, 0.05) and lv.shape == (8, 10, 12) and lv.data is data
    assert h.path("particle") == ["cell", "roi", "particle"]
    np.testing.assert_allclose(h.map_points([0, 0, 0], "particle", "cell"), [502.0, 1002.0, 902.0])
    h.add(name="spot", shape=(2, 2, 2), voxel_size_um=0.01, origin_um=(0.1, 0.1, 0.1), parent="particle")
    assert h.children("particle") == ["spot"]
    h.set_data("roi", np.ones((20, 30, 40), np.float32))
    assert h["roi"].data.shape == (20, 30, 40)
    with pytest.raises(InputError, match="spatial shape"):
        h.set_data("roi", np.ones((2, 3, 4)))
    # an (energy, z, y, x) stack: spatial dims only
    stack = xr.DataArray(np.zeros((5, 8, 10, 12)), dims=("energy", "z", "y", "x"),
                         attrs={"voxel_size_um": [0.05] * 3})
    lv2 = Level.from_xarray(stack, name="xanes", parent="particle")
    assert lv2.shape == (8, 10, 12)
    # a 2-D hierarchy works the same way
    h2 = Hierarchy([Level("slice", (100, 100), 1.0), Level("zoom", (10, 10), 0.1, origin_um=(50, 50), parent="slice")])
    np.testing.assert_allclose(h2.map_points([[0.0, 0.0]], "zoom", "slice"), [[50.0, 50.0]])


def test_validation():
    cell = Level("cell", (10, 10, 10), 1.0)
    with pytest.raises(InputError, match="parent 'nope'"):
        Hierarchy([cell, Level("a", (2, 2, 2), 1.0, parent="nope")])
    with pytest.raises(InputError, match="cycle"):
        Hierarchy([Level("a", (2, 2, 2), 1.0, parent="b"), Level("b", (2, 2, 2), 1.0, parent="a")])
    with pytest.raises(InputError, match="own parent"):
        Level("a", (2, 2, 2), 1.0, parent="a")
    with pytest.raises(InputError, match="duplicate"):
        Hierarchy([cell, Level("cell", (2, 2, 2), 1.0)])
    for bad in (0.0, -1.0, (1.0, 0.0, 1.0)):
        with pytest.raises(InputError, match="> 0"):
            Level("a", (2, 2, 2), bad)
    with pytest.raises(InputError, match="finite"):
        Level("a", (2, 2, 2), 1.0, origin_um=(0, np.nan, 0))
    with pytest.raises(InputError, match="shape"):
        Level("a", (2, 0, 2), 1.0)
    with pytest.raises(InputError, match="spatial axes"):
        Hierarchy([cell, Level("flat", (2, 2), 1.0, parent="cell")])
    # a box entirely outside its parent: a unit mistake (origin in voxels of another level)
    with pytest.raises(InputError, match="entirely outside"):
        Hierarchy([cell, Level("far", (2, 2, 2), 1.0, origin_um=(500.0, 0, 0), parent="cell")])
    # partly outside: a warning, or an error when strict
    over = Level("edge", (4, 4, 4), 1.0, origin_um=(8.0, 0, 0), parent="cell")
    with pytest.warns(BoxOutsideParentWarning, match="by up to 2"):
        Hierarchy([cell, over])
    with pytest.raises(InputError, match="sticks out"):
        Hierarchy([cell, over], strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # within half a parent voxel: silent
        Hierarchy([cell, Level("ok", (4, 4, 4), 1.0, origin_um=(6.4, 0, 0), parent="cell")])
    h = Hierarchy([cell])
    with pytest.raises(InputError, match="add the parent first"):
        h.add(Level("x", (2, 2, 2), 1.0, parent="missing"))
    with pytest.raises(InputError, match="not a level"):
        h.path("missing")
    with pytest.raises(InputError, match="coordinates"):
        h.to_world("cell", [1.0, 2.0])



def test_a_stated_overhang_is_silent_and_a_misplacement_beyond_it_still_warns():
    """A reconstruction's grid holds air around its sample: 2 µm of it on every side of a
    10 µm parent, stated, is silent; the same grid placed 3 µm off (a wrong origin) sticks
    out 5 µm on one side, beyond what it states, and warns (raises when strict)."""
    parent = Level("nano", (10, 10, 10), 1.0)
    recon = Level("recon", (14, 14, 14), 1.0, origin_um=(-2.0, -2.0, -2.0), parent="nano", overhang_um=2.0)
    assert recon.overhang_um == (2.0, 2.0, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = Hierarchy([parent, recon])
    assert h.manifest_fields("recon")["frame"]["overhang_um"] == [2.0, 2.0, 2.0]
    with pytest.warns(BoxOutsideParentWarning, match="beyond its stated overhang_um"):
        Hierarchy([parent, dataclasses.replace(recon, origin_um=(-5.0, -2.0, -2.0))])
    with pytest.raises(InputError, match="state overhang_um"):
        Hierarchy([parent, dataclasses.replace(recon, origin_um=(-2.0, 1.0, -2.0))], strict=True)
    # without the statement the same grid warns, as any field of view sticking out does
    with pytest.warns(BoxOutsideParentWarning, match="by up to 4"):
        Hierarchy([parent, dataclasses.replace(recon, overhang_um=None)])
    with pytest.raises(InputError, match="overhang_um must be >= 0"):
        Level("bad", (2, 2, 2), 1.0, overhang_um=(0.0, -1.0, 0.0))


def test_the_twins_raw_reconstruction_grids_need_no_warning():
    """The twin's raw acquisitions' reconstruction grids overhang their finished volumes by
    the detector's margin of air, stated in the manifest (frame.overhang_um): no warning."""
    names = ["twin/cell-ct", "twin/electrode-ct", "twin/particle-nanoct", "twin/particle-xanes",
             "twin/particle-nanoct-raw", "twin/particle-xanes-raw"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = Hierarchy.from_manifest(names=names)
    assert h["twin/particle-nanoct-raw"].overhang_um == (0.32, 0.64, 0.64)
    assert h["twin/particle-xanes-raw"].shape == (64, 72, 72)


def test_manifest_problems_are_reported(tmp_path):
    from batteryzoom.data.manifest import parse_manifest

    base = {
        "scale": "electrode", "modality": "m", "description": "d", "licence": "l", "citation": "c",
        "units": {}, "generator": "batteryzoom.data.twin.particle:particle_nanoct", "seed": 1,
    }
    raw = {"datasets": {
        "p": {**base, "frame": {"voxel_size_um": [1.0, 1.0, 1.0], "origin_um": [0.0, 0.0, 0.0]}},
        "c": {**base, "parent": "p", "frame": {"voxel_size_um": [0.5, 0.5, 0.5], "origin_um": [1.25, 1.25, 1.25]},
              "box_um": {"min": [1.0, 1.0, 1.0], "max": [3.0, 3.0, 3.0]}},
        "bad": {**base, "parent": "p", "frame": {"voxel_size_um": [0.5, 0.5, 0.5], "origin_um": [9.0, 1.25, 1.25]},
                "box_um": {"min": [1.0, 1.0, 1.0], "max": [3.0, 3.0, 3.0]}},
    }}
    m = parse_manifest(raw)
    h = Hierarchy.from_manifest(m, names=["p", "c"])
    assert h["c"].shape == (4, 4, 4) and h.path("c") == ["p", "c"]
    with pytest.raises(InputError, match="bad: box_um.min"):
        Hierarchy.from_manifest(m)


@pytest.mark.realdata
def test_a_real_volume_as_a_level(fetch_real):
    """The NREL electrode (398 nm voxels) as the root of a user's hierarchy, with a sub-ROI."""
    fetch_real("real/ct/electrode-nrel-nmc1cal")
    vol = bz.data.load("real/ct/electrode-nrel-nmc1cal")
    lv = Level.from_xarray(vol, name="nrel", scale="electrode")
    assert lv.shape == (251, 301, 301) and lv.voxel_size_um == (0.398,) * 3 and lv.data is vol
    h = Hierarchy([lv])
    # a 10 µm particle field of view, 50 voxels in from the electrode's corner
    h.add(name="particle", shape=(100, 100, 100), voxel_size_um=0.1, origin_um=(50 * 0.398,) * 3, parent="nrel")
    crop = vol[h.slices_in("particle", "nrel")]
    assert crop.shape == (25, 25, 25)  # 10 µm / 0.398 µm, centres inside the box
    lo, hi = h.box_in("particle", "nrel")
    assert float(crop["z"][0]) >= lo[0] and float(crop["z"][-1]) < hi[0]
    np.testing.assert_allclose(h.napari_transform("particle")["translate"], (50 * 0.398,) * 3)
