"""XANES accuracy on the twin: a calibrated per-voxel uncertainty, PCA denoising, per-grain
statistics.

Scored against the twin's truth (default noise 0.02 of the edge jump, misaligned and
re-aligned). Rules for which grains a claim covers are stated in bz.xanes.regional and
computed from the measurement alone. Numbers for every noise level and size class:
toolkit/scripts/xanes_accuracy.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz

NAME = "twin/particle-xanes"


@pytest.fixture(scope="module")
def twin_maps():
    stack = bz.data.load(NAME).load()
    truth = bz.data.load(NAME, part="truth")
    aligned, _ = bz.xanes.align(stack, show_progress=False)
    raw = bz.xanes.edge_maps(aligned, methods=("half_step",))
    mask = bz.xanes.masks(raw)["mask"].values
    pca = bz.xanes.pca_edge_maps(aligned, mask=mask)
    detectable = bz.xanes.pca_edge_maps(aligned, mask=mask, n_components="detectable")
    victoreen = bz.xanes.edge_maps(aligned, methods=("half_step",), nvict=3)
    return {"raw": raw, "pca": pca, "detectable": detectable, "victoreen": victoreen, "mask": mask,
            "edge": truth["edge_energy_ev"].values,
            "labels": truth["grain_labels"].values, "grains": bz.data.load(NAME, part="grains").set_index("label"),
            "designated": bz.data.load(NAME, part="model")["designated"]}


def test_per_voxel_uncertainty_is_calibrated_and_pca_cuts_the_noise(robust_sd, twin_maps):
    t = twin_maps
    use = t["mask"] & (t["labels"] > 0)
    rows = {}
    for method in ("raw", "pca"):
        maps = t[method]
        d = (np.asarray(maps["edge_energy_half_step_ev"]) - t["edge"])[use]
        z = d / np.asarray(maps["edge_energy_half_step_err_ev"])[use]
        rows[method] = (np.sqrt(np.nanmean(d**2)), robust_sd(z[np.isfinite(z)]))
    print("\nper voxel: " + ", ".join(f"{m} RMSE {r:.3f} eV, robust sd(err/predicted) {s:.2f}"
                                      for m, (r, s) in rows.items()))
    # was 1.77 with the interpolation-only estimate, 1.12 with each voxel's own noise
    # estimate (5 degrees of freedom: a Student-t); the pooled noise (default): 1.03
    assert 0.95 < rows["raw"][1] < 1.07
    assert rows["pca"][0] < 0.3 * rows["raw"][0]  # 0.066 vs 0.272 eV
    # denoised errors also carry alignment residuals the propagated noise cannot know
    assert rows["pca"][1] < 1.5  # 1.30 (1.59 with on-grid shifts and even FFT lengths)


def test_per_grain_mean_and_fwhm_on_the_grains_the_rules_cover(twin_maps):
    t = twin_maps
    use = t["mask"] & (t["labels"] > 0)
    truth = t["grains"]
    tables = {m: bz.xanes.region_edge_stats(t[m], t["labels"], mask=use)
              .merge(truth, left_index=True, right_index=True, suffixes=("", "_true"))
              for m in ("raw", "pca", "detectable")}
    # the mean from the undenoised map (unbiased; calibrated standard error)
    raw = tables["raw"]
    err = (raw["edge_energy_mean_ev"] - raw["edge_energy_mean_ev_true"]).abs()
    reliable = raw["mean_reliable"]
    print(f"\nmean: {int(reliable.sum())} grains with standard error < 0.02 eV, max |err| {err[reliable].max():.3f} eV;"
          f" grains >= 50 voxels: median {err[raw['n_voxels_true'] >= 50].median():.3f} eV")
    assert reliable.sum() >= 8
    # 0.05 eV is 2.5 standard errors at the rule's limit, on top of the half-step's -0.015 eV
    # bias: most, not all (13 of 14; the worst 0.053 eV)
    assert np.mean(err[reliable] < 0.05) >= 0.8 and err[reliable].max() < 0.08
    assert not raw.loc[raw["n_voxels"] < 10, "mean_reliable"].any()
    # a Victoreen pre-edge (nvict=3) follows the matrix background's curvature: half the
    # bias, and more of the reliable grains within 0.05 eV (16 of 16)
    vic = bz.xanes.region_edge_stats(t["victoreen"], t["labels"], mask=use).merge(
        truth, left_index=True, right_index=True, suffixes=("", "_true"))
    vic_err = vic["edge_energy_mean_ev"] - vic["edge_energy_mean_ev_true"]
    big = raw["n_voxels_true"] >= 50
    signed = (raw["edge_energy_mean_ev"] - raw["edge_energy_mean_ev_true"])[big]
    print(f"nvict=3: {int(vic['mean_reliable'].sum())} reliable grains, within 0.05 eV "
          f"{np.mean(vic_err[vic['mean_reliable']].abs() < 0.05):.0%}; mean error over grains >= 50 voxels "
          f"{vic_err[big].mean():+.4f} eV (nvict=0: {signed.mean():+.4f})")
    assert np.mean(vic_err[vic["mean_reliable"]].abs() < 0.05) >= 0.9
    assert abs(vic_err[big].mean()) < 0.7 * abs(signed.mean())
    # the FWHM from the denoised map, noise deconvolved: with the 'auto' rule's 3 components
    # the dropped second-order chemistry pulls some grains' extremes in (up to -40 %, the
    # error correlated with the true value within the grain); 'detectable' keeps them
    pca, det = tables["pca"], tables["detectable"]
    assert t["pca"].attrs["pca_components"] < t["detectable"].attrs["pca_components"]

    def fwhm_err(table):
        return (table["edge_energy_fwhm_deconvolved_ev"] / table["edge_energy_fwhm_ev_true"] - 1).abs()

    rel, rel_det = fwhm_err(pca), fwhm_err(det)
    rel_raw = (raw["edge_energy_fwhm_ev"] / raw["edge_energy_fwhm_ev_true"] - 1).abs()
    fr, fr_det = pca["fwhm_reliable"], det["fwhm_reliable"]
    print(f"FWHM: 'detectable' ({t['detectable'].attrs['pca_components']} components) {int(fr_det.sum())} grains with"
          f" relative standard error < 5 %: within 10 % {np.mean(rel_det[fr_det] < 0.1):.0%} (worst"
          f" {rel_det[fr_det].max():.3f}); 'auto' ({t['pca'].attrs['pca_components']}) {int(fr.sum())} grains: within 10 %"
          f" {np.mean(rel[fr] < 0.1):.0%}, within 20 % {np.mean(rel[fr] < 0.2):.0%}; grains >= 50 voxels within 10 %:"
          f" auto {np.mean(rel[big] < 0.1):.0%}, measured raw {np.mean(rel_raw[big] < 0.1):.0%}")
    assert fr_det.sum() >= 15
    assert (rel_det[fr_det] < 0.1).all()  # the 10 %, on every grain the rule covers
    assert np.mean(rel[fr] < 0.2) >= 0.88 and np.mean(rel[fr] < 0.1) >= 0.7
    # the denoised maps' means: every reliable grain within 0.05 eV with 'detectable'
    # (most with 'auto', whose dropped components bias the extreme grains)
    for table, share in ((pca, 0.85), (det, 1.0)):
        pca_err = (table["edge_energy_mean_ev"] - table["edge_energy_mean_ev_true"]).abs()
        print(f"mean from a denoised map: {int(table['mean_reliable'].sum())} reliable grains,"
              f" within 0.05 eV {np.mean(pca_err[table['mean_reliable']] < 0.05):.0%}")
        assert table["mean_reliable"].sum() >= 100
        assert np.mean(pca_err[table["mean_reliable"]] < 0.05) >= share
    assert np.mean(rel[big] < 0.1) > np.mean(rel_raw[big] < 0.1) + 0.4
    # Fig. S3: grain 2's narrow distribution (0.32 eV) is no longer buried in the noise (1.03 eV)
    g1, g2 = t["designated"]["grain 1"], t["designated"]["grain 2"]
    assert pca.loc[g2, "edge_energy_fwhm_deconvolved_ev"] < 0.55 < raw.loc[g2, "edge_energy_fwhm_ev"]
    for table in (pca, det):
        assert table.loc[g1, "edge_energy_fwhm_deconvolved_ev"] > 2 * table.loc[g2, "edge_energy_fwhm_deconvolved_ev"]
    assert det.loc[g2, "edge_energy_fwhm_deconvolved_ev"] < 0.55
    assert pd.api.types.is_bool_dtype(pca["fwhm_reliable"])


def test_victoreen_pre_edge_removes_the_background_curvature_bias():
    """Noise-free, aligned twin: what a straight pre-edge line does to the half-step."""
    stack = bz.data.load(NAME, noise=0.0, shift_std_px=0.0).load()
    truth = bz.data.load(NAME, part="truth", noise=0.0, shift_std_px=0.0)
    use = truth["grain_labels"].values > 0
    bias = {}
    for nvict in (0, 3):
        maps = bz.xanes.edge_maps(stack, methods=("half_step",), nvict=nvict)
        err = (maps["edge_energy_half_step_ev"].values - truth["edge_energy_ev"].values)[use]
        assert np.isfinite(err).mean() > 0.99
        bias[nvict] = float(np.nanmean(err))
    # Larch's straight line: -0.007 eV of background curvature plus -0.004 eV of linear
    # interpolation between grid points (measured -0.0112 eV); E**3: the interpolation's
    assert -0.015 < bias[0] < -0.008, bias
    assert -0.006 < bias[3] < 0.0 and abs(bias[3]) < 0.5 * abs(bias[0]), bias


def test_segmented_grain_labels_recover_grain_statistics_without_mixed_voxels_and_strays(twin_maps):
    """The whole chain a user runs: grains segmented in the nano-CT, carried onto the
    XANES grid, per-grain statistics of the 'detectable' PCA map. The segmentation puts
    some neighbouring grains' voxels into each grain (10 % of the voxels, mostly along
    boundaries); sigma clipping keeps them out of the spread, and leaving out the XANES
    voxels that mix two grains (min_purity) removes most of them before."""
    from batteryzoom.zoom import Hierarchy

    nano = bz.data.load("twin/particle-nanoct")
    seg = bz.segment.segment_grains(nano)
    hierarchy = Hierarchy.from_twin("small")
    lab = hierarchy.regrid_labels(seg.labels, "twin/particle-nanoct", NAME).values
    pure = hierarchy.regrid_labels(seg.labels, "twin/particle-nanoct", NAME, min_purity=0.75).values > 0
    assert (pure <= (lab > 0)).all() and 0.75 < pure.sum() / (lab > 0).sum() < 0.9  # 82 % of the voxels
    t = twin_maps
    true_lab = t["labels"]
    # each segmented grain scored against the true grain it overlaps most
    both = (lab > 0) & (true_lab > 0)
    pairs = pd.DataFrame({"seg": lab[both], "true": true_lab[both]}).value_counts().reset_index()
    best = pairs.sort_values("count", ascending=False).drop_duplicates("seg").set_index("seg")["true"]
    scores = {}
    for clip, only_pure in ((None, False), (3, False), (3, True)):
        use = t["mask"] & (lab > 0) & (pure if only_pure else True)
        tab = bz.xanes.region_edge_stats(t["detectable"], lab, mask=use, clip_sigma=clip)
        tab = tab[tab.index.isin(best.index)]
        truth = t["grains"].loc[best.loc[tab.index].to_numpy()]
        rel = (tab["edge_energy_fwhm_deconvolved_ev"].to_numpy() / truth["edge_energy_fwhm_ev"].to_numpy() - 1)
        err = tab["edge_energy_mean_ev"].to_numpy() - truth["edge_energy_mean_ev"].to_numpy()
        fr, mr = tab["fwhm_reliable"].to_numpy(), tab["mean_reliable"].to_numpy()
        scores[clip, only_pure] = (fr.sum(), np.mean(np.abs(rel[fr]) < 0.1), np.median(np.abs(rel[fr])),
                                   mr.sum(), np.mean(np.abs(err[mr]) < 0.05))
    print("\nsegmented labels (reliable FWHM grains, within 10 %, median |rel|; reliable mean grains, within "
          "0.05 eV): " + "; ".join(f"clip {k}{' pure' if p else ''}: {a} {b:.0%} {c:.3f}, {d} {e:.0%}"
                                   for (k, p), (a, b, c, d, e) in scores.items()))
    plain, clipped, both_fixes = scores[None, False], scores[3, False], scores[3, True]
    # (numbers with segment_grains' valley markers, issue #25; the former markers' in brackets)
    assert plain[1] < 0.35 and plain[2] > 0.2  # 30 % (18 %): the stray voxels inflate the variance (median +29 %)
    assert clipped[0] >= 15 and clipped[1] >= 0.45 and clipped[2] < 0.12  # 22 grains, 64 %, median 7.6 % (23, 52 %)
    assert clipped[3] >= 2 * plain[3] and clipped[4] >= 0.9  # 162 grains (58 without), 93 % within 0.05 eV
    # without the mixed voxels: 12 of 12 reliable FWHMs within 10 % (median 3.3 %), 145 of 153 means
    # within 0.05 eV, 94.8 % (former markers: 13 of 14, 5.3 %; 155 means, 97 %); issue #25's goal: 90 %
    assert both_fixes[0] >= 10 and both_fixes[1] >= 0.85 and both_fixes[2] < 0.08
    assert both_fixes[3] >= 120 and both_fixes[4] >= 0.9
    # with the true labels clipping costs little: 18 of the 19 reliable FWHMs within 10 %
    tab = bz.xanes.region_edge_stats(t["detectable"], true_lab, mask=t["mask"] & (true_lab > 0), clip_sigma=3)
    tab = tab.merge(t["grains"], left_index=True, right_index=True, suffixes=("", "_true"))
    rel = (tab["edge_energy_fwhm_deconvolved_ev"] / tab["edge_energy_fwhm_ev_true"] - 1).abs()[tab["fwhm_reliable"]]
    err = (tab["edge_energy_mean_ev"] - tab["edge_energy_mean_ev_true"]).abs()[tab["mean_reliable"]]
    assert len(rel) >= 15 and np.mean(rel < 0.1) >= 0.9 and rel.max() < 0.15
    assert len(err) >= 100 and (err < 0.05).all()
