"""bz.regions: per-region statistics recovered from maps whose distributions we construct."""

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
from scipy import stats as sps

import batteryzoom as bz
from batteryzoom import regions
from batteryzoom.data.twin import frames, grains
from batteryzoom.errors import InputError

FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))


def _per_label(values, labels, func):
    ids = np.unique(labels[labels > 0])
    return ids, np.array([func(values[labels == i]) for i in ids])


@pytest.fixture(scope="module")
def gaussian_map():
    """20 regions of 20,000 voxels, each Gaussian with its own known mean and sigma (eV)."""
    rng = np.random.default_rng(42)
    n_labels, n = 20, 20_000
    mu = rng.uniform(8340.0, 8345.0, n_labels)
    sigma = rng.uniform(0.2, 1.0, n_labels)
    labels = np.repeat(np.arange(1, n_labels + 1, dtype=np.int32), n)
    values = (mu[labels - 1] + sigma[labels - 1] * rng.standard_normal(labels.size)).astype(np.float32)
    order = rng.permutation(labels.size)  # regions interleaved, as voxels of real grains are
    shape = (50, 80, 100)
    return values[order].reshape(shape), labels[order].reshape(shape), mu, sigma


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


def test_histogram_peak_fwhm_removes_the_estimator_broadening_exactly():
    """A noiseless binned Gaussian: the quadrature correction returns 2.3548 sigma."""
    sigma, mu = 0.4, 8342.5
    edges = np.linspace(8338, 8347, 901)
    counts = 1e6 * np.diff(sps.norm.cdf(edges, mu, sigma))
    for bw in (0.0, 0.05, 0.2, 0.4):
        out = bz.regions.peak_and_fwhm(counts, edges, bandwidth=bw)
        assert out["fwhm"] == pytest.approx(FWHM_PER_SIGMA * sigma, rel=2e-3), bw
        assert out["peak"] == pytest.approx(mu, abs=2e-3)
    # several rows at once, Silverman bandwidth from the histogram itself
    rows = np.stack([counts, np.roll(counts, 100)])
    out = bz.regions.peak_and_fwhm(rows, edges)
    np.testing.assert_allclose(out["fwhm"], FWHM_PER_SIGMA * sigma, rtol=2e-3)
    np.testing.assert_allclose(out["peak"], [mu, mu + 1.0], atol=2e-3)
    with pytest.raises(InputError, match="bin_edges"):
        bz.regions.peak_and_fwhm(counts, edges[:-1])


def test_fwhm_of_a_sample():
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 0.5, 50_000)
    peak, width = bz.regions.fwhm(x, return_peak=True)
    assert width == pytest.approx(FWHM_PER_SIGMA * 0.5, rel=0.03)
    assert peak == pytest.approx(3.0, abs=0.05)
    assert bz.regions.fwhm(np.full(100, 2.0)) == 0.0
    with pytest.raises(InputError, match="samples"):
        bz.regions.fwhm([np.nan])


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
    assert "volume_um3" not in bz.regions.region_stats(values, labels).table
    # no attribute: the z/y/x coordinates (µm) give the voxel size
    coords = {d: np.arange(n) * v for d, n, v in zip("zyx", labels.shape, (2.0, 0.5, 0.25))}
    t3 = bz.regions.region_stats(xr.DataArray(values, dims=("z", "y", "x"), coords=coords), labels).table
    np.testing.assert_allclose(t3["volume_um3"], t["volume_um3"])
    with pytest.raises(InputError, match="voxel_size_um"):
        bz.regions.region_stats(values, labels, voxel_size_um=(1.0, -1.0, 1.0))


def test_bad_input_raises_clear_errors():
    values = np.zeros((4, 5, 6))
    labels = np.ones((4, 5, 6), np.int32)
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


def test_helpers_reject_bad_input_by_name():
    edges = np.arange(11.0)
    with pytest.raises(InputError, match="counts: need a histogram"):
        bz.regions.peak_and_fwhm(np.array([]), np.array([0.0]))
    with pytest.raises(InputError, match="bandwidth: give one value or one per row"):
        bz.regions.peak_and_fwhm(np.ones((3, 10)), edges, bandwidth=np.ones(2))
    with pytest.raises(InputError, match="counts: dtype complex"):
        bz.regions.peak_and_fwhm(np.ones(10) + 1j, edges)
    x = np.random.default_rng(0).normal(0, 1, 500)
    with pytest.raises(InputError, match="bins: need an integer >= 2"):
        bz.regions.fwhm(x, bins=0)
    with pytest.raises(InputError, match="samples: dtype <U1"):
        bz.regions.fwhm(np.array(["a", "b"]))
    with pytest.raises(InputError, match="samples: dtype complex"):
        bz.regions.fwhm(x + 1j)


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
    kernel = regions._stats_block

    def spy(v, lab, m, **kw):
        seen.append(np.asarray(v).shape)
        return kernel(v, lab, m, **kw)

    monkeypatch.setattr(regions, "_stats_block", spy)
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


def test_heterogeneity_is_the_law_of_total_variance():
    rng = np.random.default_rng(12)
    labels = rng.integers(0, 10, (30, 30, 30))
    offsets = rng.normal(0, 2.0, 10)
    values = offsets[labels] + rng.normal(0, 0.5, labels.shape)
    h = bz.regions.heterogeneity(values, labels)
    inside = labels > 0
    v = values[inside]
    assert h.total_var == pytest.approx(v.var(), rel=1e-12)
    assert h.n_voxels == inside.sum() and h.n_regions == 9
    means = np.array([values[labels == i].mean() for i in range(1, 10)])
    sizes = np.array([(labels == i).sum() for i in range(1, 10)])
    assert h.between_var == pytest.approx(np.sum(sizes * (means - v.mean()) ** 2) / sizes.sum(), rel=1e-10)
    assert h.between_fraction + h.within_fraction == pytest.approx(1.0)
    assert h.between_fraction > 0.9  # offsets of sd 2 against noise of sd 0.5
    stats = bz.regions.region_stats(values, labels)
    h2 = bz.regions.heterogeneity(stats)
    assert h2.total_var == pytest.approx(h.total_var, rel=1e-12)
    assert set(h.as_series().index) >= {"total_var", "between_var", "within_var", "between_fraction"}
    # regions that are constant: all the variance is between regions
    hc = bz.regions.heterogeneity(offsets[labels], labels)
    assert hc.within_var == 0 and hc.between_fraction == 1.0
    with pytest.raises(InputError, match="labels"):
        bz.regions.heterogeneity(values)


def test_surface_distance_is_exact_for_a_slab_with_anisotropic_voxels():
    mask = np.zeros((12, 60, 60), bool)
    mask[2:10, :, :] = True  # a slab 8 voxels thick along z, filling y and x
    vs = (0.5, 0.1, 0.1)
    d = bz.regions.surface_distance_um(mask, vs)
    # the array border is outside too: away from it (> 2.9 µm), depth is along z only
    col = d[2:10, 30, 30]
    np.testing.assert_allclose(col, [0.25, 0.75, 1.25, 1.75, 1.75, 1.25, 0.75, 0.25], atol=1e-6)
    assert d[0, 30, 30] == 0
    # near the y border the nearest surface is the border, in µm of y voxels
    assert d[5, 0, 30] == pytest.approx(0.05, abs=1e-6)


def test_radial_profile_recovers_a_surface_to_core_gradient():
    # a sphere of radius 4 µm whose value is its true depth below the surface
    for vs in ((0.2, 0.2, 0.2), (0.4, 0.2, 0.1)):
        shape = tuple(int(round(10.0 / v)) for v in vs)
        z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * v for n, v in zip(shape, vs)], indexing="ij")
        r = np.sqrt(z**2 + y**2 + x**2)
        mask = r <= 4.0
        depth = 4.0 - r
        prof = bz.regions.radial_profile(depth, mask, vs, shell_width_um=0.4, name="depth_um")
        assert prof.index.name == "shell" and prof.index[0] == 1
        assert np.all(np.diff(prof["depth_um_mean"].to_numpy()) > 0)
        # measured distance agrees with the true depth: voxel by voxel within 0.6 of the
        # coarsest voxel edge, shell by shell (means) within 0.4 of it
        d = bz.regions.surface_distance_um(mask, vs)
        assert np.abs(d[mask] - depth[mask]).max() < 0.6 * max(vs)
        good = prof["count"] > 50
        err = np.abs(prof.loc[good, "distance_um"] - prof.loc[good, "depth_um_mean"])
        assert err.max() < 0.4 * max(vs), (vs, err.max())
        assert np.all(prof["distance_min_um"] < prof["distance_max_um"])
    # two touching cubes profiled each from its own surface
    labels = np.zeros((10, 10, 20), np.int32)
    labels[1:9, 1:9, 1:9] = 1
    labels[1:9, 1:9, 9:17] = 2  # touches region 1
    prof2 = bz.regions.radial_profile(np.ones(labels.shape), None, 1.0, labels=labels)
    assert prof2.index.names == ["label", "shell"]
    assert list(prof2.loc[1].index) == [1, 2, 3, 4] and list(prof2.loc[2].index) == [1, 2, 3, 4]
    np.testing.assert_array_equal(prof2.loc[1, "count"], prof2.loc[2, "count"])
    assert prof2.loc[(1, 1), "count"] == 8**3 - 6**3
    with pytest.raises(InputError, match="mask"):
        bz.regions.radial_profile(np.ones((3, 3, 3)), np.zeros((3, 3, 3), bool), 1.0)


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


# ------------------------------------------------------------------ sigma clipping


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
    short, n_clipped = regions._sigma_clip(values, labels, mask, sigma=3, max_iter=1, show=False)
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
