"""bz.regions.stats: per-region statistics recovered from maps whose distributions we construct."""

from __future__ import annotations

import math
import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import batteryzoom as bz
from batteryzoom.data.twin import frames, grains
from batteryzoom.errors import InputError
from batteryzoom.regions import _engine

FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))


def _per_label(values, labels, func):
    ids = np.unique(labels[labels > 0])
    return ids, np.array([func(values[labels == i]) for i in ids])


def test_gaussian_regions_mean_std_exact_and_fwhm_within_stated_bias(gaussian_map):
    values, labels, mu, sigma = gaussian_map
    stats = bz.regions.region_stats(values, labels, name="edge_energy_ev")
    t = stats.table
    assert list(t.index) == list(range(1, 21)) and t.index.name == "label"
    v64 = values.astype(np.float64)
    _, mean = _per_label(v64, labels, np.mean)
    _, std = _per_label(v64, labels, np.std)
    # exact arithmetic: float64 sums, nothing estimated
    np.testing.assert_allclose(t["edge_energy_ev_mean"], mean, rtol=1e-14, atol=0)
    np.testing.assert_allclose(t["edge_energy_ev_std"], std, rtol=1e-10)
    np.testing.assert_allclose(t["edge_energy_ev_fwhm_gauss"], FWHM_PER_SIGMA * std, rtol=1e-10)
    assert (t["count"] == 20_000).all() and (t["n_nan"] == 0).all() and (t["n_outside"] == 0).all()
    # KDE FWHM vs the true 2.3548 sigma: documented bias -0.3 %, scatter 1.5 % at n = 20,000
    ratio = t["edge_energy_ev_fwhm"].to_numpy() / (FWHM_PER_SIGMA * sigma)
    assert abs(ratio.mean() - 1) < 0.015, ratio
    assert np.all(np.abs(ratio - 1) < 0.06), ratio
    # the peak of a Gaussian is its mean
    assert np.all(np.abs(t["edge_energy_ev_peak"] - mu) < 0.5 * sigma)
    # percentiles: within one fine bin of numpy's
    res = stats.percentile_resolution_
    assert res < 0.02
    for q in (5, 25, 50, 75, 95):
        _, ref = _per_label(v64, labels, lambda x: np.percentile(x, q))
        np.testing.assert_allclose(t[f"edge_energy_ev_p{q}"], ref, atol=res)
    np.testing.assert_array_equal(t["edge_energy_ev_median"], t["edge_energy_ev_p50"])


def test_uniform_regions_fwhm_is_the_width():
    rng = np.random.default_rng(1)
    widths = np.array([0.5, 1.0, 2.0, 3.0])
    labels = np.repeat(np.arange(1, 5), 20_000)
    values = 10.0 * labels + widths[labels - 1] * (rng.random(labels.size) - 0.5)
    t = bz.regions.region_stats(values, labels, name="x").table
    ratio = t["x_fwhm"].to_numpy() / widths
    # documented: ~0.7 % low at 20,000 values (the smoothed plateau's edges)
    assert np.all((ratio > 0.98) & (ratio < 1.005)), ratio
    assert np.all(np.abs(t["x_peak"].to_numpy() - 10.0 * np.arange(1, 5)) < 0.5 * widths)


def test_constant_and_single_voxel_regions_are_exact():
    rng = np.random.default_rng(3)
    labels = np.zeros((20, 20, 20), np.int32)
    values = rng.normal(8342.0, 1.0, labels.shape)
    labels[:5] = 1  # Gaussian
    labels[5:10] = 2
    values[5:10] = 8342.37  # constant
    labels[12, 3, 4] = 3
    values[12, 3, 4] = 8339.125  # a single voxel
    t = bz.regions.region_stats(values, labels, name="e").table
    for lab, value in ((2, 8342.37), (3, 8339.125)):
        row = t.loc[lab]
        assert row["e_mean"] == pytest.approx(value, abs=1e-11)
        assert row["e_std"] == 0.0 and row["e_fwhm"] == 0.0 and row["e_fwhm_gauss"] == 0.0
        assert row["e_peak"] == row["e_mean"]
        for col in ("e_median", "e_p5", "e_p25", "e_p75", "e_p95"):
            assert row[col] == row["e_mean"]
    assert t.loc[3, "count"] == 1 and t.loc[2, "count"] == 5 * 400
    # a map that is one value everywhere
    t1 = bz.regions.region_stats(np.full((4, 4), 7.5), np.ones((4, 4), int)).table
    assert t1.loc[1, "value_mean"] == 7.5 and t1.loc[1, "value_fwhm"] == 0.0
    assert t1.loc[1, "value_median"] == 7.5


def test_histograms_share_one_binning_and_match_numpy():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 30, (30, 40, 50))
    values = rng.gamma(3.0, 1.0, labels.shape)
    stats = bz.regions.region_stats(values, labels, bins=40)
    edges = stats.bin_edges
    inside = values[labels > 0]
    assert edges.shape == (41,) and edges[0] == inside.min() and edges[-1] == inside.max()
    assert stats.histograms.shape == (29, 40)
    for i, lab in enumerate(stats.labels):
        ref, _ = np.histogram(values[labels == lab], bins=edges)
        np.testing.assert_array_equal(stats.histograms[i], ref)
        counts, e = stats.histogram(lab)
        np.testing.assert_array_equal(counts, ref)
        np.testing.assert_array_equal(e, edges)
    np.testing.assert_array_equal(stats.histograms.sum(1), stats.table["count"])
    np.testing.assert_array_equal(stats.fine_histograms.reshape(29, 40, -1).sum(2), stats.histograms)
    x, pdf = stats.density(5)
    assert x.shape == pdf.shape and np.sum(pdf) * (x[1] - x[0]) == pytest.approx(1.0, rel=1e-6)
    assert stats.row(5)["count"] == np.sum(labels == 5)
    with pytest.raises(InputError, match="label 99"):
        stats.histogram(99)


def test_value_range_outside_values_are_counted_not_binned():
    rng = np.random.default_rng(5)
    labels = rng.integers(1, 4, 100_000)
    values = rng.normal(0, 1, labels.size)
    values[:3] = [-1.5, 1.5, 1.5]  # exactly on the range's edges: inside, like numpy
    stats = bz.regions.region_stats(values, labels, bins=30, value_range=(-1.5, 1.5))
    t = stats.table
    for i, lab in enumerate(stats.labels):
        v = values[labels == lab]
        ref, _ = np.histogram(v, bins=30, range=(-1.5, 1.5))
        np.testing.assert_array_equal(stats.histograms[i], ref)
        assert t.loc[lab, "n_outside"] == np.sum((v < -1.5) | (v > 1.5))
        assert t.loc[lab, "value_mean"] == pytest.approx(v.mean(), abs=1e-12)  # all finite values
    # the tails are cut at half maximum? no: the range holds the main peak, FWHM is defined
    assert np.all(np.isfinite(t["value_fwhm"]))
    # a range that cuts the main peak gives NaN rather than a wrong width
    cut = bz.regions.region_stats(values, labels, value_range=(0.2, 3.0)).table
    assert cut["value_fwhm"].isna().all()


def test_nans_are_excluded_and_counted_and_a_mask_selects_voxels():
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 6, (40, 40, 40)).astype(np.uint16)
    values = rng.normal(5, 2, labels.shape).astype(np.float32)
    values[rng.random(labels.shape) < 0.05] = np.nan
    values[0, 0, :3] = [np.inf, -np.inf, np.nan]
    mask = rng.random(labels.shape) < 0.7
    t = bz.regions.region_stats(values, labels, mask=mask).table
    for lab in range(1, 6):
        v = values[(labels == lab) & mask].astype(np.float64)
        assert t.loc[lab, "n_nan"] == np.sum(~np.isfinite(v))
        assert t.loc[lab, "count"] == np.sum(np.isfinite(v))
        assert t.loc[lab, "value_mean"] == pytest.approx(np.mean(v[np.isfinite(v)]), rel=1e-13)
        assert t.loc[lab, "value_std"] == pytest.approx(np.std(v[np.isfinite(v)]), rel=1e-9)
    # a region whose voxels are all NaN is listed with its NaN count and no statistics
    labels2 = labels.copy()
    labels2[1, 1, 1] = 9
    values[1, 1, 1] = np.nan
    t2 = bz.regions.region_stats(values, labels2).table
    assert t2.loc[9, "count"] == 0 and t2.loc[9, "n_nan"] == 1 and np.isnan(t2.loc[9, "value_mean"])


def test_anisotropic_voxels_give_volumes_and_xarray_attrs_are_used():
    labels = np.zeros((10, 12, 14), np.int32)
    labels[2:5, 3:9, 4:6] = 1  # 3 x 6 x 2 = 36 voxels
    labels[6:9, 0:2, :] = 2  # 3 x 2 x 14 = 84 voxels
    values = np.ones(labels.shape)
    values[3, 4, 4] = np.nan  # NaN voxels still belong to the region's volume
    t = bz.regions.region_stats(values, labels, voxel_size_um=(2.0, 0.5, 0.25)).table
    np.testing.assert_allclose(t["volume_um3"], [36 * 0.25, 84 * 0.25])
    da_values = xr.DataArray(values, dims=("z", "y", "x"), attrs={"voxel_size_um": [2.0, 0.5, 0.25]})
    t2 = bz.regions.region_stats(da_values, xr.DataArray(labels, dims=("z", "y", "x"))).table
    pd.testing.assert_frame_equal(t, t2)
    # no voxel size known (a plain array, or a size recorded as unknown): the volume in
    # voxels, in a column that says so (bz.frames' policy for a reported length)
    t0 = bz.regions.region_stats(values, labels).table
    assert "volume_um3" not in t0
    np.testing.assert_array_equal(t0["volume_px3"], [36.0, 84.0])
    unknown = xr.DataArray(values, dims=("z", "y", "x"), attrs={"voxel_size_um": None})
    pd.testing.assert_frame_equal(bz.regions.region_stats(unknown, labels).table, t0)
    assert "volume_um3" in bz.regions.region_stats(values, labels, voxel_size_um=1.0).table
    pd.testing.assert_frame_equal(bz.regions.region_stats(values, labels, voxel_size_um="px").table, t0)
    # no attribute: the z/y/x coordinates (µm) give the voxel size
    coords = {d: np.arange(n) * v for d, n, v in zip("zyx", labels.shape, (2.0, 0.5, 0.25))}
    t3 = bz.regions.region_stats(xr.DataArray(values, dims=("z", "y", "x"), coords=coords), labels).table
    np.testing.assert_allclose(t3["volume_um3"], t["volume_um3"])
    with pytest.raises(InputError, match="voxel_size_um"):
        bz.regions.region_stats(values, labels, voxel_size_um=(1.0, -1.0, 1.0))


def test_bad_input_raises_clear_errors():
    values = np.zeros((4, 5, 6))
    labels = np.ones((4, 5, 6), np.int32)

    class Pyramid:  # as napari's MultiScaleData: the finest level's shape, the coarsest as an array
        shape = (4, 5, 6)

        def __array__(self, dtype=None, copy=None):
            return np.zeros((2, 3, 3))

    with pytest.raises(InputError, match=r"values: a Pyramid of shape \(4, 5, 6\) reads as.*data\[0\]"):
        bz.regions.region_stats(Pyramid(), labels)
    with pytest.raises(InputError, match=r"labels: shape \(4, 5\).*\(4, 5, 6\)"):
        bz.regions.region_stats(values, labels[:, :, 0])
    with pytest.raises(InputError, match="all False"):
        bz.regions.region_stats(values, labels, mask=np.zeros(values.shape, bool))
    with pytest.raises(InputError, match="all background"):
        bz.regions.region_stats(values, np.zeros_like(labels))
    with pytest.raises(InputError, match="inside the mask"):
        lab = np.zeros_like(labels)
        lab[0, 0, 0] = 1
        mask = np.zeros(values.shape, bool)
        mask[1, 1, 1] = True
        bz.regions.region_stats(values, lab, mask=mask)
    with pytest.raises(InputError, match="not an integer type"):
        bz.regions.region_stats(values, labels.astype(float))
    with pytest.raises(InputError, match="negative label"):
        bz.regions.region_stats(values, -labels)
    with pytest.raises(InputError, match="all NaN"):
        bz.regions.region_stats(np.full(values.shape, np.nan), labels)
    with pytest.raises(InputError, match="mask: dtype"):
        bz.regions.region_stats(values, labels, mask=np.ones(values.shape, int))
    with pytest.raises(InputError, match="value_range"):
        bz.regions.region_stats(values, labels, value_range=(2, 1))
    with pytest.raises(InputError, match="percentiles"):
        bz.regions.region_stats(values, labels, percentiles=(50, 120))
    with pytest.raises(InputError, match="bins"):
        bz.regions.region_stats(values, labels, bins=0)
    with pytest.raises(InputError, match="bandwidth"):
        bz.regions.region_stats(values, labels, bandwidth=-0.1)
    with pytest.raises(InputError, match="map is empty"):
        bz.regions.region_stats(np.empty(0), np.empty(0, int))
    with pytest.raises(InputError, match="got a dict"):
        bz.regions.heterogeneity({"a": 1}, labels)


def test_silent_nan_results_come_with_a_warning():
    rng = np.random.default_rng(1)
    values = rng.normal(5, 1, (10, 10, 10))
    labels = np.ones(values.shape, np.int32)
    labels[:5] = 2
    with pytest.warns(UserWarning, match=r"value_range: \(0, 1\) holds none of the 1000"):
        res = bz.regions.region_stats(values, labels, value_range=(0, 1))
    assert res.table["value_median"].isna().all()
    with pytest.warns(UserWarning, match="no variance"):
        het = bz.regions.heterogeneity(np.full(values.shape, 3.0), labels)
    assert math.isnan(het.between_fraction)
    # a range holding some of the values: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bz.regions.region_stats(values, labels, value_range=(0, 5))


def test_dask_input_matches_numpy_and_is_read_chunk_by_chunk(monkeypatch):
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 40, (48, 40, 36)).astype(np.int32)
    values = rng.normal(8342, 0.7, labels.shape).astype(np.float32)
    values[rng.random(labels.shape) < 0.01] = np.nan
    mask = rng.random(labels.shape) < 0.8
    ref = bz.regions.region_stats(values, labels, mask=mask, voxel_size_um=0.16)
    seen = []
    kernel = _engine._stats_block

    def spy(v, lab, m, **kw):
        seen.append(np.asarray(v).shape)
        return kernel(v, lab, m, **kw)

    monkeypatch.setattr(_engine, "_stats_block", spy)
    dv = da.from_array(values, chunks=(16, 20, 36))
    dl = da.from_array(labels, chunks=(24, 40, 12))  # other chunks: aligned inside
    got = bz.regions.region_stats(dv, dl, mask=da.from_array(mask, chunks=8), voxel_size_um=0.16)
    assert len(seen) == dv.npartitions and max(np.prod(s) for s in seen) == 16 * 20 * 36
    pd.testing.assert_frame_equal(got.table, ref.table, rtol=1e-12)
    np.testing.assert_array_equal(got.histograms, ref.histograms)
    # numpy values with dask labels: split along the labels' chunks, not loaded whole
    seen.clear()
    got3 = bz.regions.region_stats(values, dl, mask=mask, voxel_size_um=0.16)
    assert len(seen) == dl.npartitions and max(np.prod(s) for s in seen) == 24 * 40 * 12
    pd.testing.assert_frame_equal(got3.table, ref.table, rtol=1e-12)
    # an xarray map backed by dask goes the same way
    got2 = bz.regions.region_stats(xr.DataArray(dv), labels, mask=mask, voxel_size_um=0.16)
    pd.testing.assert_frame_equal(got2.table, ref.table, rtol=1e-12)


def test_sparse_huge_labels_are_compacted():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 20, (30, 30, 30))
    values = rng.normal(0, 1, labels.shape)
    dense = bz.regions.region_stats(values, labels)
    sparse = bz.regions.region_stats(values, labels * 1_000_003)
    assert list(sparse.table.index) == [i * 1_000_003 for i in dense.table.index]
    np.testing.assert_array_equal(sparse.table.to_numpy(), dense.table.to_numpy())
    np.testing.assert_array_equal(sparse.histograms, dense.histograms)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_labels=st.integers(1, 12),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9)),
    scale=st.sampled_from([1e-3, 1.0, 1e4]),
)
def test_counts_means_stds_agree_with_pandas(seed, n_labels, shape, scale):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_labels + 1, shape)
    labels.flat[0] = 1  # at least one labelled voxel
    values = 8342.0 + scale * rng.standard_normal(shape)
    t = bz.regions.region_stats(values, labels).table
    df = pd.DataFrame({"label": labels.ravel(), "v": values.ravel()})
    g = df[df.label > 0].groupby("label")["v"]
    np.testing.assert_array_equal(t.index, g.size().index)
    np.testing.assert_array_equal(t["count"], g.size())
    np.testing.assert_allclose(t["value_mean"], g.mean(), rtol=1e-13)
    np.testing.assert_allclose(t["value_std"], g.std(ddof=0), rtol=1e-6, atol=1e-12 * scale)


def test_twin_grains_recovered_exactly():
    """Twin grain geometry at the XANES voxel size, a Gaussian edge-energy map per grain."""
    level = frames.level("twin/particle-xanes", "small")
    labels = grains.grain_labels(grains.particle_geometry(8342), level)
    n_grains = labels.max()
    rng = np.random.default_rng(0)
    mean_ev = rng.normal(8342.0, 0.5, n_grains + 1)
    sigma_ev = rng.uniform(0.2, 0.6, n_grains + 1)
    edge = mean_ev[labels] + sigma_ev[labels] * rng.standard_normal(labels.shape)
    edge[labels == 0] = np.nan  # outside the particle: no edge
    stats = bz.regions.region_stats(edge, labels, name="edge_energy_ev", voxel_size_um=level.voxel_size_um)
    t = stats.table
    ids, mean = _per_label(edge, labels, np.mean)
    _, std = _per_label(edge, labels, np.std)
    np.testing.assert_array_equal(t.index, ids)
    np.testing.assert_allclose(t["edge_energy_ev_mean"], mean, rtol=1e-14)
    np.testing.assert_allclose(t["edge_energy_ev_fwhm_gauss"], FWHM_PER_SIGMA * std, rtol=1e-9)
    assert (t["n_nan"] == 0).all()
    np.testing.assert_allclose(t["volume_um3"], t["count"] * 0.16**3)


def test_twin_xanes_truth_table_recovered_exactly():
    """The twin's per-grain truth (mean, std, FWHM = 2.3548 std of the true edge-energy map)."""
    truth = bz.data.load("twin/particle-xanes", part="truth")
    table = bz.data.load("twin/particle-xanes", part="grains").set_index("label")
    stats = bz.regions.region_stats(truth["edge_energy_ev"], truth["grain_labels"], name="edge_energy_ev")
    t = stats.table
    assert (t["n_nan"] == 0).all()
    np.testing.assert_array_equal(t.index, table.index)
    np.testing.assert_array_equal(t["count"], table["n_voxels"])
    np.testing.assert_allclose(t["edge_energy_ev_mean"], table["edge_energy_mean_ev"], rtol=1e-12)
    np.testing.assert_allclose(t["edge_energy_ev_std"], table["edge_energy_std_ev"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(t["edge_energy_ev_fwhm_gauss"], table["edge_energy_fwhm_ev"], rtol=1e-7, atol=1e-9)
    # the voxel size comes from the map's attrs: volumes in µm³
    np.testing.assert_allclose(t["volume_um3"], table["n_voxels"] * 0.16**3)
    # the study's Fig. S3 pair: grain 2 is the more oxidized (higher mean edge energy)
    g = table["designation"]
    g1, g2 = g.index[g == "grain 1"][0], g.index[g == "grain 2"][0]
    assert t.loc[g2, "edge_energy_ev_mean"] > t.loc[g1, "edge_energy_ev_mean"]


@pytest.mark.realdata
def test_real_electrode_phase_statistics_are_exact(fetch_real):
    """NREL nmc-1-cal (251x301x301, 398 nm voxels): per-phase counts are the phase counts."""
    fetch_real("real/ct/electrode-nrel-nmc1cal")
    vol = bz.data.load("real/ct/electrode-nrel-nmc1cal")
    phase = vol.values.astype(np.int32)
    labels = phase + 1  # 1 pore, 2 NMC, 3 carbon-binder: every voxel is a region
    # the through-thickness coordinate (µm) as a map; xr.broadcast puts x first, and the
    # label image is matched to it by dim name
    depth = xr.broadcast(vol["x"], vol)[0].astype(np.float32)
    assert depth.dims != vol.dims
    stats = bz.regions.region_stats(depth, xr.DataArray(labels, dims=vol.dims), name="x_um")
    depth = depth.transpose(*vol.dims)
    t = stats.table
    counts = np.bincount(phase.ravel())
    np.testing.assert_array_equal(t["count"], counts)
    np.testing.assert_allclose(t["volume_um3"], counts * 0.398**3)
    porosity = t.loc[1, "count"] / t["count"].sum()
    assert porosity == counts[0] / phase.size and 0.2 < porosity < 0.6
    for lab in (1, 2, 3):
        x = depth.values[labels == lab].astype(np.float64)
        assert t.loc[lab, "x_um_mean"] == pytest.approx(x.mean(), rel=1e-13)
        assert t.loc[lab, "x_um_std"] == pytest.approx(x.std(), rel=1e-9)
    # the same numbers from dask chunks
    lazy = bz.regions.region_stats(da.from_array(depth.values, chunks=64), da.from_array(labels, chunks=64),
                                   name="x_um", voxel_size_um=0.398)
    pd.testing.assert_frame_equal(lazy.table, t, rtol=1e-12)
