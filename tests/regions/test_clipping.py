"""bz.regions.clipping: per-region sigma clipping drops strays and keeps a Gaussian region."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

import batteryzoom as bz
from batteryzoom.errors import InputError
from batteryzoom.regions import clipping


def test_sigma_clipping_drops_stray_voxels_and_keeps_a_gaussian_region(gaussian_map):
    values, labels, mu, sigma = gaussian_map
    # 6 % of each region's voxels carry a neighbour's value, 6 sd of the widest region out
    rng = np.random.default_rng(7)
    stray = rng.random(values.shape) < 0.06
    dirty = np.where(stray, values + np.float32(6.0), values)
    plain = bz.regions.region_stats(dirty, labels, voxel_size_um=0.1)
    clipped = bz.regions.region_stats(dirty, labels, voxel_size_um=0.1, clip_sigma=3)
    clean = bz.regions.region_stats(values, labels, clip_sigma=3).table
    t, p = clipped.table, plain.table
    # the strays (and a Gaussian's 0.27 % beyond 3 sd) are clipped; the volume still counts them
    per_label = np.bincount(labels[stray], minlength=21)[1:]
    assert (t["n_clipped"].to_numpy() >= per_label).all()
    assert (t["n_clipped"].to_numpy() - per_label < 0.006 * 20_000).all()
    assert (t["count"] + t["n_clipped"] == p["count"]).all()
    np.testing.assert_array_equal(t["volume_um3"], p["volume_um3"])
    assert "n_clipped" not in p.columns
    # unclipped, the strays move the mean by ~0.36 eV and widen the sd 1.7-7x; clipped, the
    # mean and sd are the Gaussian's (sd corrected for the truncation)
    assert (np.abs(p["value_mean"] - mu) > 0.3).all() and (p["value_std"] > 1.3 * sigma).all()
    np.testing.assert_allclose(t["value_mean"], mu, atol=0.03)
    np.testing.assert_allclose(t["value_std"], sigma, rtol=0.02)
    np.testing.assert_allclose(t["value_fwhm"], 2.3548 * sigma, rtol=0.05)
    # on a clean map clipping leaves a Gaussian alone: the sd comes back within sampling
    # error (without the truncation correction it would sit 1.35 % low on every region)
    ratio = clean["value_std"] / sigma
    assert abs(ratio.mean() - 1) < 0.004 and (np.abs(ratio - 1) < 0.015).all()
    assert (clean["n_clipped"] < 0.006 * 20_000).all()


def test_sigma_clip_mask_is_the_same_on_every_path(monkeypatch):
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 9, (24, 30, 36)).astype(np.int32)
    values = rng.normal(0, 1, labels.shape) + labels
    values[rng.random(values.shape) < 0.03] += 8.0
    values[0, 0, :4] = [np.nan, np.inf, -np.inf, np.nan]
    mask = rng.random(values.shape) < 0.8
    keep = bz.regions.sigma_clip(values, labels, mask)
    assert keep.dtype == bool and keep.shape == values.shape
    assert not keep[labels == 0].any() and not keep[~mask].any()
    # labelled NaN/inf stay in the mask, for region_stats to count them
    bad = ~np.isfinite(values) & mask & (labels > 0)
    assert bad.sum() > 0 and keep[bad].all()
    # each region's kept voxels sit within 3 of its (truncation-corrected) sds of its mean
    for i in range(1, 9):
        x = values[keep & (labels == i) & np.isfinite(values)]
        assert np.abs(x - x.mean()).max() <= 3 * x.std() / np.sqrt(0.97334) + 1e-9
    lazy = bz.regions.sigma_clip(da.from_array(values, chunks=(8, 15, 36)), da.from_array(labels, chunks=12),
                                 da.from_array(mask, chunks=12))
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), keep)
    labelled = bz.regions.sigma_clip(xr.DataArray(values, dims=("z", "y", "x")), labels, mask)
    assert labelled.dims == ("z", "y", "x") and labelled.attrs["clip_sigma"] == 3.0
    np.testing.assert_array_equal(labelled.values, keep)
    # sparse huge labels (compacted through a lookup table) clip the same
    np.testing.assert_array_equal(bz.regions.sigma_clip(values, labels * 1_000_003, mask), keep)
    monkeypatch.setenv("BATTERYZOOM_NUMBA", "0")
    np.testing.assert_array_equal(bz.regions.sigma_clip(values, labels, mask), keep)
    monkeypatch.delenv("BATTERYZOOM_NUMBA")
    stats = bz.regions.region_stats(values, labels, mask=mask, clip_sigma=3)
    finite = np.isfinite(values)
    np.testing.assert_array_equal(stats.table["count"], np.bincount(labels[keep & finite], minlength=9)[1:])
    np.testing.assert_array_equal(stats.table["n_nan"], bz.regions.region_stats(values, labels, mask=mask).table["n_nan"])
    # a region of NaNs only is still reported, its NaNs counted
    nan_region = np.where(labels == 4, np.nan, values)
    t = bz.regions.region_stats(nan_region, labels, clip_sigma=3).table
    assert t.loc[4, "count"] == 0 and t.loc[4, "n_nan"] == (labels == 4).sum() and t.loc[4, "n_clipped"] == 0
    for bad in (0, -1.0, np.nan, np.inf, True, "3"):
        with pytest.raises(InputError, match="clip_sigma"):
            bz.regions.region_stats(values, labels, clip_sigma=bad)
    with pytest.raises(InputError, match="sigma: need a positive"):
        bz.regions.sigma_clip(values, labels, sigma=-3)
    # out of rounds (one), the clipped counts still describe the mask returned
    short, n_clipped = clipping._sigma_clip(values, labels, mask, sigma=3, max_iter=1, show=False)
    considered = mask & np.isfinite(values) & (labels > 0)
    expected = np.bincount(labels[considered & ~short], minlength=9)[1:]
    assert expected.sum() > 0 and not np.array_equal(short, keep)
    np.testing.assert_array_equal(n_clipped.reindex(range(1, 9), fill_value=0).to_numpy(), expected)
    with pytest.raises(InputError, match="max_iter"):
        bz.regions.sigma_clip(values, labels, max_iter=0)
    with pytest.raises(InputError, match="no labelled voxel"):
        bz.regions.sigma_clip(values, np.zeros_like(labels))
    with pytest.raises(InputError, match="mask: selects no voxel"):
        bz.regions.sigma_clip(values, labels, np.zeros(labels.shape, bool))
    with pytest.raises(InputError, match="no finite value"):
        bz.regions.region_stats(np.full(labels.shape, np.nan), labels, clip_sigma=3)
