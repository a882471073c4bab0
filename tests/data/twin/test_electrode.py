"""The twin's electrode CT: layers, packing, damage-vs-depth truth, and the image agrees with it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import batteryzoom as bz
from batteryzoom.data.twin import electrode, frames, particle
from batteryzoom.errors import InputError

SEED = bz.data.info("twin/electrode-ct").seed


@pytest.fixture(scope="module")
def twin():
    return electrode.electrode_ct(SEED)


@pytest.fixture(scope="module")
def interior(twin):
    table = twin["particle_table"]
    return table[~table["border"]]


def test_same_seed_same_bytes_through_the_manifest(twin):
    loaded = bz.data.load("twin/electrode-ct", lazy=False)
    assert loaded.shape == (128, 128, 160) and loaded.dtype == np.float32
    assert np.array_equal(loaded.values, twin["main"].values)
    for part in ("phases", "particles", "cracks"):
        assert np.array_equal(bz.data.load("twin/electrode-ct", part=part, lazy=False).values,
                              twin[part].values), part
    assert bz.data.load("twin/electrode-ct", part="particle_table").equals(twin["particle_table"])


def test_different_seeds_pack_differently():
    a, da = electrode.pack_particles(np.random.default_rng(1))
    b, db = electrode.pack_particles(np.random.default_rng(2))
    assert not np.array_equal(da, db)
    # the designated particle is fixed whatever the seed
    np.testing.assert_array_equal(a[0], frames.PARTICLE_CENTRE_IN_ELECTRODE_UM)
    np.testing.assert_array_equal(a[0], b[0])


def test_layers_and_phase_fractions(twin):
    phases = twin["phases"].values
    x = twin["main"]["x"].values
    info = twin["info"]
    assert np.all(phases[:, :, x < info["collector_end_um"]] == electrode.PHASES["current_collector"])
    assert np.all(phases[:, :, x >= info["separator_start_um"]] == electrode.PHASES["separator"])
    coating = phases[:, :, (x >= info["collector_end_um"]) & (x < info["separator_start_um"])]
    assert coating.shape[2] == 120  # 60 µm at 0.5 µm
    porosity = (coating == electrode.PHASES["pore"]).mean()
    assert porosity == pytest.approx(0.30, abs=0.005) and porosity == pytest.approx(info["porosity"])
    cbd = (coating == electrode.PHASES["carbon_binder"]).mean()
    assert 0.05 < cbd < 0.20
    assert 0.50 < (coating == electrode.PHASES["nmc"]).mean() < 0.65


def test_particle_labels_cover_the_nmc(twin):
    phases, labels, cracks = (twin[k].values for k in ("phases", "particles", "cracks"))
    nmc = phases == electrode.PHASES["nmc"]
    assert np.all(labels[nmc] > 0)
    assert np.all(nmc[(labels > 0) & ~cracks])
    assert np.all(phases[cracks] == electrode.PHASES["pore"])
    table = twin["particle_table"]
    assert set(table["label"]) == set(np.unique(labels)) - {0}
    counts = np.bincount(labels.ravel())
    np.testing.assert_allclose(table["volume_um3"], counts[table["label"]] * 0.125)


def test_particle_sizes_in_the_stated_range(interior):
    assert 8.5 < interior["diameter_um"].median() < 11.5  # D50 ≈ 10 µm
    # the voxels of whole particles measure the sphere (4 % overlaps at contacts)
    rel = interior["equivalent_diameter_um"] / interior["diameter_um"]
    assert 0.95 < rel.median() < 1.01
    assert len(interior) > 80


def test_designated_particle_is_the_nanoct_particle(twin):
    table = twin["particle_table"].set_index("label")
    row = table.loc[1]
    assert row["designated"] and row["diameter_um"] == frames.PARTICLE_DIAMETER_UM
    np.testing.assert_allclose(row[["centre_z_um", "centre_y_um", "centre_x_um"]].to_numpy(float),
                               frames.particle_centre_in_electrode_um(0.5))
    sampled = particle.particle_structure(twin["info"]["particle_seed"], frames.level("twin/electrode-ct"))
    mine = twin["particles"].values == 1
    inside = sampled["grains"] > 0
    assert (mine & inside).sum() / inside.sum() > 0.97
    assert np.array_equal(twin["cracks"].values[mine], sampled["cracks"][mine])


def test_damage_classes_and_depth_trend(interior):
    assert electrode.DAMAGE_THRESHOLDS == bz.segment.DAMAGE_THRESHOLDS
    by_class = interior.groupby("damage_class", observed=True)["crack_fraction"]
    assert by_class.max()["least"] < 0.02 <= by_class.min()["mild"]
    assert by_class.max()["mild"] < 0.10 <= by_class.min()["severe"]
    # the drawn levels land in their class for nearly every whole particle
    assert (interior["damage_class"] == interior["damage_drawn"]).mean() > 0.9
    rho = stats.spearmanr(interior["depth_from_collector_um"], interior["crack_fraction"]).statistic
    assert rho > 0.2
    near_sep = interior[interior["depth_from_separator_um"] < 20]
    near_col = interior[interior["depth_from_collector_um"] < 20]
    assert (near_sep["damage_class"] == "severe").mean() > (near_col["damage_class"] == "severe").mean()
    assert near_sep["crack_fraction"].mean() > 2 * near_col["crack_fraction"].mean()


def test_image_shows_the_truth(twin):
    grey, phases, cracks = twin["main"].values, twin["phases"].values, twin["cracks"].values
    mean = {k: grey[phases == v].mean() for k, v in electrode.PHASES.items()}
    # NMC (heavy transition metals) far above everything else; the pore darkest; the
    # carbon-binder sits between bright particles, so blur lifts its mean a little
    assert mean["nmc"] - max(mean["carbon_binder"], mean["current_collector"]) > 0.4
    assert mean["pore"] < min(mean["carbon_binder"], mean["current_collector"], mean["separator"])
    assert mean["current_collector"] == pytest.approx(0.35, abs=0.03)
    intact = (phases == electrode.PHASES["nmc"])
    assert grey[cracks].mean() < grey[intact].mean() - 0.3


def test_bad_porosity_names_the_argument():
    with pytest.raises(InputError, match="porosity"):
        electrode.electrode_ct(SEED, porosity=0.8)
