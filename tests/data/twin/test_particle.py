"""The twin's particle nano-CT: deterministic, co-registered on every grid, truth agrees with image."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.data.twin import frames, grains, particle
from batteryzoom.errors import InputError

SEED = bz.data.info("twin/particle-nanoct").seed


@pytest.fixture(scope="module")
def nanoct():
    return particle.particle_nanoct(SEED)


@pytest.fixture(scope="module")
def structure():
    return particle.particle_structure(SEED, frames.level("twin/particle-nanoct"))


@pytest.fixture(scope="module")
def coarse():
    return particle.particle_structure(SEED, "twin/particle-xanes")


def test_same_seed_same_bytes_through_the_manifest(nanoct):
    loaded = bz.data.load("twin/particle-nanoct", lazy=False)
    assert loaded.dtype == np.float32 and loaded.shape == (112, 112, 112)
    assert np.array_equal(loaded.values, nanoct["main"].values)
    for part in ("grains", "cracks", "pores", "density"):
        assert np.array_equal(bz.data.load("twin/particle-nanoct", part=part, lazy=False).values,
                              nanoct[part].values), part
    table = bz.data.load("twin/particle-nanoct", part="grain_table")
    assert table.equals(nanoct["grain_table"])


def test_different_seeds_give_different_particles(coarse):
    other = particle.particle_structure(SEED + 1, "twin/particle-xanes")
    assert not np.array_equal(other["grains"], coarse["grains"])
    assert not np.array_equal(other["cracks"], coarse["cracks"])


def test_frame_and_coordinates_follow_the_level(nanoct):
    lv = frames.level("twin/particle-nanoct")
    main = nanoct["main"]
    assert main.dims == ("z", "y", "x") and main.attrs["voxel_size_um"] == [0.08] * 3
    np.testing.assert_allclose(main["x"].values, np.arange(112) * 0.08)
    assert main.attrs["origin_um"] == list(lv.origin_um) and main.attrs["parent"] == "twin/electrode-ct"


def test_grain_labels_are_the_shared_geometry(structure, coarse):
    geometry = grains.particle_geometry(SEED)
    for level, sampled in ((frames.level("twin/particle-nanoct"), structure),
                           (frames.level("twin/particle-xanes"), coarse)):
        assert np.array_equal(sampled["grains"], grains.grain_labels(geometry, level)), level.name


def test_xanes_grid_samples_the_same_particle(structure, coarse):
    # XANES voxel k spans nano-CT voxels 2k and 2k+1 on every axis (frames.py): the coarse
    # density must be the block mean of the fine one up to partial-volume approximations
    fine = structure["density"].reshape(56, 2, 56, 2, 56, 2).mean(axis=(1, 3, 5))
    solid = coarse["grains"] > 0
    r = np.corrcoef(fine[solid], coarse["density"][solid])[0, 1]
    assert r > 0.85
    assert abs(fine.sum() - coarse["density"].sum()) / fine.sum() < 0.02
    # cracks seen by the coarse grid sit where the fine grid has cracks
    fine_cracks = structure["cracks"].reshape(56, 2, 56, 2, 56, 2).any(axis=(1, 3, 5))
    assert fine_cracks[coarse["cracks"]].mean() > 0.9


def test_particle_samples_on_the_electrode_grid():
    lv = frames.level("twin/electrode-ct")
    sampled = particle.particle_structure(SEED, lv)
    volume = sampled["density"].sum() * 0.5**3
    sphere = np.pi / 6 * frames.PARTICLE_DIAMETER_UM**3
    # solid volume = sphere minus cracks, pores and boundary losses (a few %)
    assert 0.85 * sphere < volume < 1.01 * sphere
    centre = np.argwhere(sampled["grains"] > 0).mean(axis=0) * 0.5
    np.testing.assert_allclose(centre, frames.particle_centre_in_electrode_um(0.5), atol=0.1)


def test_cracks_run_along_grain_boundaries_and_open_in_the_core(structure, nanoct):
    cracks, bd = structure["cracks"], structure["boundary_distance_um"]
    max_half_width = 2 * 0.09  # core cracks open twice as wide (particle_defects)
    assert np.all(bd[cracks] <= max_half_width + 1e-6)
    # every cracked face separates two grains that are really neighbours in the labels
    table = nanoct["crack_table"]
    assert len(table) > 100
    labels = structure["grains"]
    pairs = set()
    for axis in range(3):
        a = np.moveaxis(labels, axis, 0)
        lo, hi = a[:-1].ravel(), a[1:].ravel()
        diff = (lo != hi) & (lo > 0) & (hi > 0)
        pairs |= set(zip(np.minimum(lo, hi)[diff].tolist(), np.maximum(lo, hi)[diff].tolist()))
    listed = set(zip(table["grain_a"].tolist(), table["grain_b"].tolist()))
    assert len(listed & pairs) / len(listed) > 0.95
    # radial pattern: crack fraction in the core > in the outer shell
    lv = frames.level("twin/particle-nanoct")
    r = np.linalg.norm(np.indices(lv.shape).reshape(3, -1).T * 0.08 - grains.particle_centre_um(lv), axis=1)
    r = r.reshape(lv.shape) / 4.0
    inside = labels > 0
    core = cracks[inside & (r < 0.5)].mean()
    shell = cracks[inside & (r > 0.75)].mean()
    assert core > 2 * shell


def test_statistics_in_the_stated_ranges(nanoct):
    inside = nanoct["grains"].values > 0
    crack_fraction = nanoct["cracks"].values[inside].mean()
    pore_fraction = nanoct["pores"].values[inside].mean()
    assert 0.01 < crack_fraction < 0.10
    assert 0.002 < pore_fraction < 0.03
    table = nanoct["grain_table"]
    # grains ≈ 0.3–1 µm (issue 3) away from the surface (surface grains are cut by the sphere);
    # the Laguerre weights leave a thin tail of small grains
    interior = table[table["distance_from_surface_um"] > 0.6]
    eqd = interior["equivalent_diameter_um"]
    assert 0.5 < eqd.median() < 0.9
    assert np.percentile(eqd, 95) < 1.3 and np.percentile(eqd, 10) > 0.3
    assert 800 < len(table) < 2000


def test_grain_table_agrees_with_the_labels(nanoct):
    table = nanoct["grain_table"]
    labels = nanoct["grains"].values
    counts = np.bincount(labels.ravel())
    np.testing.assert_allclose(table["volume_um3"], counts[table["label"]] * 0.08**3)
    assert set(table["label"]) == set(np.unique(labels)) - {0}
    row = table.iloc[len(table) // 2]
    zyx = np.argwhere(labels == row["label"]).mean(axis=0) * 0.08
    np.testing.assert_allclose(row[["centroid_z_um", "centroid_y_um", "centroid_x_um"]].to_numpy(float), zyx)
    cracked = table["n_cracked_faces"] > 0
    assert table.loc[cracked, "crack_fraction"].mean() > 5 * table.loc[~cracked, "crack_fraction"].mean()
    # pores: every pore centre inside the particle is in a pore voxel
    pores = nanoct["pore_table"]
    idx = np.round(pores[["centre_z_um", "centre_y_um", "centre_x_um"]].to_numpy() / 0.08).astype(int)
    big = pores["radius_um"].to_numpy() > 0.08
    assert nanoct["pores"].values[tuple(idx[big].T)].all()


def test_image_shows_the_truth(nanoct, structure):
    grey = nanoct["main"].values
    labels, cracks, pores = (nanoct[k].values for k in ("grains", "cracks", "pores"))
    solid = (labels > 0) & ~cracks & ~pores
    bd = structure["boundary_distance_um"]
    interior = solid & (bd > 0.16)
    boundary = solid & (bd < 0.04)
    assert grey[labels == 0].mean() < 0.1 * grey[interior].mean()
    assert grey[cracks].mean() < 0.6 * grey[interior].mean()
    # decohered grain boundaries are darker than grain interiors by several noise sigmas of the mean
    assert grey[interior].mean() - grey[boundary].mean() > 0.08
    assert 0.02 < grey[interior].std() < 0.12  # noisy, but not swamped


def test_bad_level_names_the_argument():
    with pytest.raises(InputError, match="level"):
        particle.particle_structure(SEED, (56, 56, 56))
    with pytest.raises(InputError, match="preset"):
        particle.particle_structure(SEED, "twin/particle-xanes", preset="huge")
