"""bz.segment.pipelines: the electrode and particle scales' recipes give exactly the numbers
of the twin report (``tests/reference/report_findings_twin.csv``), with the truth beside
them; phase-labelled input, the summary tables, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batteryzoom import segment
from batteryzoom.errors import InputError

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "report_findings_twin.csv"


@pytest.fixture(scope="module")
def reference():
    ref = pd.read_csv(REFERENCE, dtype=str, keep_default_na=False)
    return {(row.scale, row.finding): row for row in ref.itertuples()}


@pytest.fixture(scope="module")
def electrode(twin):
    truth = {part: twin("electrode-ct", part) for part in ("particle_table", "phases")}
    return segment.electrode_damage(twin("electrode-ct"), truth=truth)


@pytest.fixture(scope="module")
def particle(twin):
    truth = {part: twin("particle-nanoct", part) for part in ("grain_table", "grains", "cracks", "pores")}
    return segment.particle_structure(twin("particle-nanoct"), truth=truth)


def _shown(value, fmt: str = ".4g") -> str:
    """A number as the report shows it (``_Scale.finding``)."""
    return "" if value is None else format(float(value), fmt)


def test_electrode_numbers_are_the_reports(electrode, reference):
    e, t = electrode.census, electrode.truth
    lo, hi = electrode.coating_um
    expected = {
        "particles (including those cut by the faces)": (e.n_particles, t.n_particles, ".4g",
                                                         f"{e.n_interior} not cut by the faces"),
        "median equivalent diameter": (e.median_diameter_um, t.median_diameter_um, ".2f", ""),
        "porosity of the coating": (100 * electrode.porosity, 100 * electrode.truth_porosity, ".1f",
                                    f"coating {lo:.1f}–{hi:.1f} µm along {electrode.thickness_axis}"),
        "cracked particles (mild or severe)": (100 * e.cracked_fraction, 100 * t.cracked_fraction, ".0f", ""),
        "cracked particles in the third nearest the separator": (100 * e.cracked_near_separator,
                                                                 100 * t.cracked_near_separator, ".0f", ""),
        "cracked particles in the third nearest the collector": (100 * e.cracked_near_collector,
                                                                 100 * t.cracked_near_collector, ".0f", ""),
        "rank correlation of crack fraction with depth from the separator": (
            e.depth_rank_correlation, t.depth_rank_correlation, ".2f",
            "Spearman; negative: more cracking near the separator"),
    }
    assert {f for s, f in reference if s == "electrode"} == set(expected)
    for finding, (value, truth, fmt, note) in expected.items():
        row = reference["electrode", finding]
        assert (_shown(value, fmt), _shown(truth, fmt), note) == (row.value, row.truth, row.note), finding


def test_particle_numbers_are_the_reports(particle, reference):
    p, t = particle.census, particle.truth
    expected = {
        "primary grains": (p.n_grains, t.n_grains, ".4g"),
        "median grain equivalent diameter": (p.median_diameter_um, t.median_diameter_um, ".2f"),
        "grain segmentation vs truth (adjusted Rand index)": (particle.ari, None, ".3f"),
        "crack and pore volume in the particle": (100 * p.void_fraction, 100 * t.void_fraction, ".1f"),
    }
    assert {f for s, f in reference if s == "particle"} == set(expected)
    for finding, (value, truth, fmt) in expected.items():
        row = reference["particle", finding]
        assert (_shown(value, fmt), _shown(truth, fmt)) == (row.value, row.truth), finding


def test_results_hold_what_the_figures_draw(electrode, particle):
    tab = electrode.table
    assert electrode.particles.labels.shape == electrode.phases.shape
    assert len(electrode.interior) == electrode.census.n_interior == int((~tab["border"]).sum())
    profile = electrode.census.profile
    assert len(profile) == 3 and profile.attrs["depth_column"] == "depth_from_separator_um"
    assert profile["n_particles"].sum() == electrode.census.n_interior
    assert particle.table is particle.grains.table and particle.grains.particle.dtype == bool
    assert particle.voids["crack_fraction"].iloc[0] == particle.census.void_fraction


def test_summaries_list_the_numbers_beside_the_truth(electrode, particle):
    s = electrode.summary().set_index("quantity")
    assert s.loc["particles (including those cut by the faces)", "value"] == electrode.census.n_particles
    assert s.loc["porosity of the coating", "value"] == pytest.approx(100 * electrode.porosity)
    assert s.loc["porosity of the coating", "truth"] == pytest.approx(100 * electrode.truth_porosity)
    assert s.loc["median equivalent diameter", "unit"] == "µm"
    g = particle.summary().set_index("quantity")
    assert g.loc["grain segmentation vs truth (adjusted Rand index)", "value"] == particle.ari
    assert g.loc["primary grains", "truth"] == particle.truth.n_grains


def test_a_phase_labelled_electrode_is_used_as_it_is():
    """Real labelled electrodes: the phase map is the input; porosity counts its pore code."""
    z, y, x = np.mgrid[:20, :20, :40]
    phases = np.zeros((20, 20, 40), np.uint8)
    phases[:, :, :2] = 3  # a current collector at low x (fewer voxels than the NMC, code 1)
    for cx in (10, 22, 33):
        phases[(z - 10) ** 2 + (y - 10) ** 2 + (x - cx) ** 2 <= 25] = 1
    res = segment.electrode_damage(phases, voxel_size_um=0.5)
    assert res.phases is phases and res.truth is None and res.truth_porosity is None
    assert res.census.n_particles == 3
    lo, hi = res.coating_um
    keep = (np.arange(40) * 0.5 >= lo) & (np.arange(40) * 0.5 < hi)
    assert res.porosity == pytest.approx((phases[:, :, keep] == 0).mean())
    assert res.summary()["truth"].isna().all()
    assert res.census.cracked_fraction == 0 and np.isnan(res.census.depth_rank_correlation)  # no crack: no trend


def test_bad_input_is_named():
    vol = np.zeros((8, 8, 8), np.float32)
    with pytest.raises(InputError, match="electrode_damage reports lengths in µm"):
        segment.electrode_damage(vol, voxel_size_um="px")
    with pytest.raises(InputError, match="particle_structure reports lengths in µm"):
        segment.particle_structure(vol, voxel_size_um="px")
    with pytest.raises(InputError, match=r"truth: no \['phases'\].*truth=None"):
        segment.electrode_damage(vol, voxel_size_um=1, truth={"particle_table": pd.DataFrame()})
    with pytest.raises(InputError, match=r"truth: no \['cracks', 'pores'\]"):
        segment.particle_structure(vol, voxel_size_um=1, truth={"grain_table": 1, "grains": 1})
    with pytest.raises(InputError, match="voxel size is unknown"):
        segment.electrode_damage(vol)
    with pytest.raises(InputError, match="table: no column"):
        segment.DamageCensus.of(pd.DataFrame({"volume_um3": [1.0]}))
