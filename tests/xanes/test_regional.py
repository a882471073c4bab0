"""bz.xanes.regional: per-grain edge statistics, noise deconvolved, sigma-clipped against strays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz


def test_sigma_clipping_keeps_a_gaussian_grain_and_drops_a_neighbours_voxels(monkeypatch):
    rng = np.random.default_rng(3)
    lab = np.repeat(np.arange(1, 9), 5000).reshape(8, 50, 100)
    sd = np.repeat(np.linspace(0.1, 0.4, 8), 5000).reshape(lab.shape)
    clean = 8345 + rng.standard_normal(lab.shape) * sd
    err = np.full(lab.shape, 0.05)
    # 8 % of each grain's voxels from a neighbour 1.5 eV away (a segmentation's boundary error)
    stray = rng.random(lab.shape) < 0.08
    dirty = np.where(stray, clean + 1.5, clean)
    true_fwhm = 2.3548 * np.sqrt(np.linspace(0.1, 0.4, 8) ** 2 - 0.05**2)

    def table(values, **kw):
        return bz.xanes.region_edge_stats({"edge_energy_half_step_ev": values, "edge_energy_half_step_err_ev": err},
                                          lab, **kw)

    plain, clipped = table(clean), table(clean, clip_sigma=3)
    # a Gaussian grain keeps its width and mean: the cut is placed, and the variance
    # corrected, for the truncation (without the correction: -1.4 % on every grain)
    ratio = clipped["edge_energy_fwhm_deconvolved_ev"] / plain["edge_energy_fwhm_deconvolved_ev"]
    assert abs(ratio.mean() - 1) < 0.005 and np.abs(ratio - 1).max() < 0.015
    assert np.abs(clipped["edge_energy_mean_ev"] - plain["edge_energy_mean_ev"]).max() < 0.002
    assert (clipped["n_clipped"] < 0.006 * 5000).all() and (plain["n_clipped"] == 0).all()
    assert (clipped["n_voxels"] + clipped["n_clipped"] == 5000).all()
    # with the neighbour's voxels: the plain variance doubles a narrow grain's FWHM; clipping
    # drops them where they sit well beyond 3 sd; the widest grains (1.5 eV under 4 of their
    # sd) keep the nearest of them: +8 and +12 %, against +52 and +44 % unclipped
    bad, fixed = table(dirty), table(dirty, clip_sigma=3)
    rel_bad = bad["edge_energy_fwhm_deconvolved_ev"] / true_fwhm - 1
    rel_fixed = fixed["edge_energy_fwhm_deconvolved_ev"] / true_fwhm - 1
    print(f"\nclipping: FWHM error {rel_bad.abs().max():.0%} -> {rel_fixed.abs().max():.1%} (worst grain)")
    assert rel_bad.iloc[0] > 1.0
    assert (rel_fixed.abs().iloc[:6] < 0.03).all() and rel_fixed.abs().max() < 0.15
    assert (rel_fixed.abs() < 0.5 * rel_bad.abs()).all()
    assert (fixed["edge_energy_mean_ev"] - 8345).abs().iloc[:6].max() < 0.01
    assert (fixed["n_clipped"].iloc[:6] >= stray.reshape(8, -1).sum(1)[:6] * 0.95).all()
    # the compiled rounds equal numpy's, and a constant grain (sd 0) keeps every voxel
    flat = clean.copy()
    flat[lab == 8] = 8346.1
    maps = {"edge_energy_half_step_ev": dirty, "edge_energy_half_step_err_ev": err}
    some = rng.random(lab.shape) < 0.7
    compiled = [bz.xanes.region_edge_stats(maps, lab, clip_sigma=3, mask=m) for m in (None, some)]
    monkeypatch.setenv("BATTERYZOOM_NUMBA", "0")
    for m, c in zip((None, some), compiled):
        pd.testing.assert_frame_equal(c, bz.xanes.region_edge_stats(maps, lab, clip_sigma=3, mask=m), rtol=1e-9)
    monkeypatch.delenv("BATTERYZOOM_NUMBA")
    # dask maps (as a large stack's) stay lazy and give the same table
    import dask.array as da

    lazy = {k: da.from_array(x, chunks=(4, 25, 50)) for k, x in maps.items()}
    pd.testing.assert_frame_equal(bz.xanes.region_edge_stats(lazy, da.from_array(lab, chunks=4), clip_sigma=3,
                                                             mask=da.from_array(some, chunks=4)),
                                  compiled[1], rtol=1e-9)
    const = table(flat, clip_sigma=3)
    assert const.loc[8, "n_clipped"] == 0 and const.loc[8, "n_voxels"] == 5000
    assert const.loc[8, "edge_energy_mean_ev"] == pytest.approx(8346.1, abs=1e-9)
    for bad_clip in (0, -1, np.nan):
        with pytest.raises(bz.errors.InputError, match="clip_sigma"):
            table(clean, clip_sigma=bad_clip)
