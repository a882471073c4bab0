"""bz.xanes.chemistry: the grain scale's recipe in one call gives the report's grain findings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import batteryzoom as bz
from batteryzoom.errors import InputError

REFERENCE = Path(__file__).parents[1] / "reference" / "report_findings_twin.csv"


def _overlap(truth_labels: np.ndarray, labels: np.ndarray, label: int) -> int:
    """The label of ``labels`` that overlaps grain ``label`` of ``truth_labels`` most."""
    inside = labels[truth_labels == label]
    return int(np.bincount(inside[inside > 0]).argmax())


@pytest.mark.slow
def test_on_the_twin_it_gives_the_grain_rows_of_the_reference_findings(twin):
    """What the report's grain scale prints, from the pipeline: segmented grains carried onto
    the XANES grid, the voxels mixing two grains left out, 3-sigma clipped, the twin's two
    designated grains matched by overlap. Every value of the reference's grain rows, as
    the report formats it."""
    stack = twin("particle-xanes")
    truth = twin("particle-xanes", part="truth")
    model = twin("particle-xanes", part="model")
    true_grains = twin("particle-xanes", part="grains").set_index("label")
    found = bz.segment.segment_grains(twin("particle-nanoct"))
    h = bz.zoom.Hierarchy.from_twin("small")
    labels = h.regrid_labels(found.labels, "twin/particle-nanoct", "twin/particle-xanes")
    pure = h.regrid_labels(found.labels, "twin/particle-nanoct", "twin/particle-xanes", min_purity=0.75).values > 0
    t_lab = truth["grain_labels"].values
    designated = [_overlap(t_lab, labels.values, int(model["designated"][k])) for k in ("grain 1", "grain 2")]
    chem = bz.xanes.grain_chemistry(stack, labels, mask=pure, clip_sigma=3, designated=designated, progress=False)
    assert chem.designated == designated and not chem.designated_auto

    valid = np.isfinite(chem.edge.values)
    rmse = float(np.sqrt(np.nanmean((chem.edge.values - truth["edge_energy_ev"].values)[valid] ** 2)))
    het = chem.heterogeneity
    ours = {
        "voxels with a trusted edge (mask)": format(100 * chem.trusted_fraction, ".1f"),
        "largest alignment shift": format(chem.max_shift_px, ".2f"),
        "per-voxel uncertainty (median, from the pre-edge noise)": format(chem.voxel_uncertainty_ev, ".3f"),
        "per-voxel edge-energy error vs truth (RMSE)": format(rmse, ".3f"),
        "grains with a measured edge energy": format(float(chem.n_grains), ".4g"),
        "particle-mean edge energy": format(het.grand_mean, ".2f"),
        "variance between grains (share of total)": format(100 * het.between_fraction, ".1f"),
    }
    table = chem.designated_table()
    for k, (name, row) in enumerate(table.iterrows()):
        assert name == f"grain {k + 1}" and row["label"] == designated[k]
        # the report names them in both label spaces (segmented, and the twin's true one)
        named = f"grain {k + 1} (segmented #{designated[k]} ↔ true #{model['designated'][f'grain {k + 1}']})"
        ours[f"{named}: mean edge energy"] = format(row["edge_energy_mean_ev"], ".3f")
        ours[f"{named}: FWHM as measured"] = format(row["edge_energy_fwhm_ev"], ".3f")
        ours[f"{named}: FWHM noise-deconvolved"] = format(row["edge_energy_fwhm_deconvolved_ev"], ".3f")
        true = true_grains.loc[int(model["designated"][f"grain {k + 1}"])]
        assert float(row["edge_energy_mean_ev"]) == pytest.approx(true["edge_energy_mean_ev"], abs=0.1)
    ref = pd.read_csv(REFERENCE, dtype=str, keep_default_na=False)
    ref = ref[ref["scale"] == "grain"].set_index("finding")
    assert list(ref.index) == list(ours), "the pipeline gives every grain finding of the report, in its order"
    assert ref["value"].to_dict() == ours
    # the numbers the notes carry
    assert f"total {het.total_var:.3f} eV²" in ref.loc["variance between grains (share of total)", "note"]
    assert f"PCA-denoised ({chem.pca_components} components)" in ref["note"].iloc[-1]
    # the pieces the report draws from
    assert chem.lookup.labels.tolist() == chem.stats.table.index.tolist()
    assert [s.label for s in chem.summaries] == designated
    assert chem.labels.attrs["voxel_size_um"] == stack.attrs["voxel_size_um"]
    assert "volume_um3" in chem.stats.table and "n_clipped" in chem.stats.table


@pytest.fixture(scope="module")
def disc():
    """A small 2-D particle of two grains (edges at 8341 and 8342.5 eV) and a third, small one."""
    energy = np.r_[np.arange(8200.0, 8321.0, 10.0), np.arange(8325.0, 8361.0, 1.0), np.arange(8370.0, 8601.0, 20.0)]
    y, x = np.mgrid[:24, :24] - 11.5
    inside = np.hypot(y, x) < 10
    labels = np.where(inside, np.where(x < 0, 1, 2), 0)
    labels[inside & (y > 6) & (x > 2)] = 3
    centre = np.select([labels == 1, labels == 2], [8341.0, 8342.5], 8342.0)
    od = inside * (0.4 + 0.5 * (0.5 + np.arctan((energy[:, None, None] - centre) / 1.5) / np.pi))
    od = od + np.random.default_rng(0).normal(0, 0.002, od.shape)
    stack = xr.DataArray(od, dims=("energy", "y", "x"), coords={"energy": energy, "y": np.arange(24) * 0.1,
                                                                 "x": np.arange(24) * 0.1})
    return stack, labels


def test_regroup_reuses_the_maps_and_equals_a_fresh_run(disc):
    stack, labels = disc
    maps_only = bz.xanes.grain_chemistry(stack, progress=False)
    assert maps_only.stats is None and maps_only.designated is None and maps_only.n_grains == 0
    # the voxel size from the µm coordinates (bz.frames): volumes in µm² for a 2-D map
    assert maps_only.edge.attrs["voxel_size_um"] == [0.1, 0.1]
    fresh = bz.xanes.grain_chemistry(stack, labels, progress=False)
    again = maps_only.regroup(labels)
    pd.testing.assert_frame_equal(again.stats.table, fresh.stats.table)
    pd.testing.assert_frame_equal(again.widths, fresh.widths)
    assert again.designated == fresh.designated and fresh.n_grains == 3
    np.testing.assert_allclose(fresh.stats.table["volume_um3"], fresh.stats.table["count"] * 0.01)
    # numpy or xarray labels, in any dim order: the same tables
    named = xr.DataArray(labels.T, dims=("x", "y"))
    pd.testing.assert_frame_equal(bz.xanes.grain_chemistry(stack, named, progress=False).stats.table,
                                  fresh.stats.table)
    # the PCA maps are computed once and carried on
    other = fresh.regroup(np.where(labels == 3, 0, labels))
    assert other.pca is fresh.pca and other.n_grains == 2


def test_designated_grains_given_or_chosen_by_the_rule(disc):
    stack, labels = disc
    chem = bz.xanes.grain_chemistry(stack, labels, progress=False)
    # the rule: grain 2 the most oxidized, grain 1 the widest of the others
    t = chem.stats.table
    assert chem.designated_auto and chem.designated[1] == t["edge_energy_ev_mean"].idxmax() == 2
    given = chem.regroup(labels, designated=(3, 1))
    assert given.designated == [3, 1] and not given.designated_auto
    assert given.designated_table()["label"].tolist() == [3, 1]
    # a designated grain without a measured voxel: the rule instead
    assert chem.regroup(labels, designated=[1, 99]).designated_auto
    # a mask and clipping reach both tables
    keep = np.ones(labels.shape, bool)
    keep[:, :3] = False
    clipped = chem.regroup(labels, mask=keep, clip_sigma=3)
    assert clipped.clip_sigma == 3 and "n_clipped" in clipped.stats.table
    assert (clipped.widths["n_voxels"] + clipped.widths["n_clipped"] <= chem.widths["n_voxels"]).all()
    assert clipped.stats.table["count"].sum() < t["count"].sum()
    one = chem.regroup(np.where(labels > 0, 1, 0))
    assert one.designated is None and one.n_grains == 1
    with pytest.raises(InputError, match="no grain labels"):
        bz.xanes.grain_chemistry(stack, progress=False).designated_table()


def test_bad_input_is_named(disc):
    stack, labels = disc
    with pytest.raises(InputError, match="stack: got a ndarray"):
        bz.xanes.grain_chemistry(stack.values, labels)
    with pytest.raises(InputError, match="no 'energy'"):
        bz.xanes.grain_chemistry(stack.rename(energy="e"), labels)
    chem = bz.xanes.grain_chemistry(stack, progress=False)
    with pytest.raises(InputError, match=r"grain_labels: shape \(24, 23\)"):
        chem.regroup(labels[:, :-1])
    with pytest.raises(InputError, match="designated: give two labels"):
        chem.regroup(labels, designated=[1, 2, 3])
    with pytest.raises(InputError, match="designated: give two labels"):
        chem.regroup(labels, designated=5)
    with pytest.raises(InputError, match="no labelled voxel has a trusted edge"):
        chem.regroup(np.where(np.hypot(*np.mgrid[:24, :24] - 11.5) >= 11, 1, 0))
