"""The per-region statistics kernels (batteryzoom._kernels.regions) against the numpy
reference paths they replace (BATTERYZOOM_NUMBA=0).

Counts, NaN counts, means, stds, percentiles and histograms are bit-identical (the same
float64 additions in the same order); peak and FWHM agree to float rounding (direct
Gaussian convolution vs FFT).
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz
from batteryzoom import _kernels
from batteryzoom.regions import RegionStats, _engine, widths

pytestmark = pytest.mark.skipif(not _kernels.enabled(), reason="numba kernels disabled")


def _assert_same_stats(got: RegionStats, ref: RegionStats) -> None:
    assert list(got.table.columns) == list(ref.table.columns)
    pd.testing.assert_index_equal(got.table.index, ref.table.index)
    for col in got.table.columns:
        a, b = got.table[col].to_numpy(), ref.table[col].to_numpy()
        if col.endswith(("_peak", "_fwhm")):
            # direct convolution vs FFT: float rounding of the smoothed curve
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.nanmax(np.abs(b)), equal_nan=True,
                                       err_msg=col)
        else:  # the same arithmetic in the same order: identical
            np.testing.assert_array_equal(a, b, err_msg=col)
    np.testing.assert_array_equal(got.histograms, ref.histograms)
    np.testing.assert_array_equal(got.fine_histograms, ref.fine_histograms)
    np.testing.assert_array_equal(got.bin_edges, ref.bin_edges)


def _random_map(seed: int, shape=(40, 36, 30), n_labels=50, dtype=np.float32):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_labels + 1, shape).astype(np.int32)
    # smooth-ish regions (runs of one label along x) plus isolated voxels
    labels = np.repeat(labels[..., ::3], 3, axis=-1)[..., : shape[-1]]
    centre = rng.normal(8342, 1.0, n_labels + 1)
    spread = rng.uniform(0.05, 1.5, n_labels + 1)
    values = (centre[labels] + spread[labels] * rng.standard_normal(shape)).astype(dtype)
    return rng, values, labels


@pytest.mark.parametrize("seed", [0, 1])
def test_region_stats_kernels_equal_numpy_with_nan_inf_and_mask(numpy_path, seed):
    rng, values, labels = _random_map(seed)
    values[rng.random(values.shape) < 0.02] = np.nan
    values[rng.random(values.shape) < 0.005] = np.inf
    values[rng.random(values.shape) < 0.005] = -np.inf
    mask = rng.random(values.shape) < 0.85
    labels[0, 0, :5] = 7  # a run across the mask and non-finite values
    kwargs = dict(mask=mask, percentiles=(2.5, 10, 50, 90, 97.5), voxel_size_um=(0.2, 0.1, 0.1))
    got = bz.regions.region_stats(values, labels, **kwargs)
    ref = numpy_path(bz.regions.region_stats, values, labels, **kwargs)
    assert got.table["n_nan"].sum() > 0 and got.table["count"].sum() < mask.sum()
    _assert_same_stats(got, ref)


@pytest.mark.parametrize(
    "vdtype, ldtype",
    [(np.float64, np.uint8), (np.float32, np.uint16), (np.int16, np.int64), (np.bool_, np.uint32)],
)
def test_region_stats_kernels_equal_numpy_for_other_dtypes(numpy_path, vdtype, ldtype):
    rng, values, labels = _random_map(3, shape=(20, 18, 16), n_labels=30)
    if vdtype == np.bool_:
        values = values > 8342
    else:
        values = values.astype(vdtype) if np.dtype(vdtype).kind == "f" else (values * 10).astype(vdtype)
    labels = labels.astype(ldtype)
    got = bz.regions.region_stats(values, labels, bins=16)
    ref = numpy_path(bz.regions.region_stats, values, labels, bins=16)
    _assert_same_stats(got, ref)


def test_user_range_sparse_labels_and_no_histogram_paths_equal_numpy(numpy_path):
    rng, values, labels = _random_map(5)
    # a range that cuts the distribution: under/overflow bins and values == hi
    values.flat[:10] = 8342.5
    kw = dict(value_range=(8341.0, 8342.5), bins=30, subbins=4)
    _assert_same_stats(bz.regions.region_stats(values, labels, **kw),
                       numpy_path(bz.regions.region_stats, values, labels, **kw))
    huge = labels.astype(np.int64) * 1_000_003  # compacted through a lookup table
    _assert_same_stats(bz.regions.region_stats(values, huge),
                       numpy_path(bz.regions.region_stats, values, huge))
    got = bz.regions.heterogeneity(values, labels)  # histogram=False: counts per row
    ref = numpy_path(bz.regions.heterogeneity, values, labels)
    assert got == ref


def test_constant_single_voxel_and_all_nan_regions_equal_numpy(numpy_path):
    labels = np.zeros((8, 9, 10), np.int32)
    values = np.zeros(labels.shape)
    labels[0, 0, 0] = 1  # one voxel
    labels[1:3] = 2
    values[1:3] = 4.25  # constant
    labels[4] = 3
    values[4] = np.nan  # all NaN
    labels[5:] = 4
    values[5:] = np.linspace(0, 1, values[5:].size).reshape(values[5:].shape)
    got = bz.regions.region_stats(values, labels)
    ref = numpy_path(bz.regions.region_stats, values, labels)
    _assert_same_stats(got, ref)
    assert got.table.loc[3, "count"] == 0 and got.table.loc[3, "n_nan"] == 90


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_range_kernel_reads_float_bits_like_numpy(dtype):
    """The range pass's integer keys order like the floats: signed zeros, subnormals,
    huge values, infinities and NaNs of either sign, across several of its slices."""
    rng = np.random.default_rng(4)
    n = 3 * 4096 + 123
    info = np.finfo(dtype)
    special = np.array([0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal, info.max, -info.max,
                        np.inf, -np.inf, np.nan, -np.nan, -3.5, 8342.25], dtype)
    labels = rng.integers(0, 4, n).astype(np.int32)
    mask = rng.random(n) < 0.7
    for values in (
        rng.choice(special, n),
        rng.normal(8342, 1, n).astype(dtype),
        np.full(n, np.nan, dtype),  # no finite value
        np.where(rng.random(n) < 0.5, -np.nan, rng.normal(-5, 1, n)).astype(dtype),
    ):
        for m in (None, mask):
            got = _engine._range_block(values, labels, m)
            ref = _engine._range_block_numpy(values, labels, m)
            assert got == ref, (got, ref)
            assert got[6] == np.count_nonzero(np.isfinite(values) & (labels > 0) & (True if m is None else m))
    assert _engine._range_block(special, np.ones(special.size, np.int32), None)[2:4] == (-info.max, info.max)


def test_region_stats_skip_the_per_voxel_checks_only_when_every_labelled_value_is_finite(monkeypatch, numpy_path):
    from batteryzoom._kernels import regions as kernels

    calls = []
    fast = kernels.stats_block_finite
    monkeypatch.setattr(kernels, "stats_block_finite", lambda *a: calls.append(1) or fast(*a))
    rng, values, labels = _random_map(8)
    values[labels == 0] = np.nan  # background only: still the fast path
    values[(labels == 0) & (rng.random(values.shape) < 0.3)] = -np.inf
    got = bz.regions.region_stats(values, labels)
    assert calls and got.table["n_nan"].sum() == 0
    _assert_same_stats(got, numpy_path(bz.regions.region_stats, values, labels))
    huge = labels.astype(np.int64) * 1_000_003  # through the lookup table
    _assert_same_stats(bz.regions.region_stats(values, huge),
                       numpy_path(bz.regions.region_stats, values, huge))
    calls.clear()
    values[labels == 5] = np.nan  # a labelled NaN: the checked kernel counts it
    got = bz.regions.region_stats(values, labels)
    assert not calls and got.table.loc[5, "n_nan"] == np.count_nonzero(labels == 5)
    _assert_same_stats(got, numpy_path(bz.regions.region_stats, values, labels))
    assert got.fine_histograms.dtype == np.int32


def test_fine_counts_move_to_int64_before_an_int32_could_overflow(monkeypatch, numpy_path):
    import dask.array as da

    rng, values, labels = _random_map(9)
    ref = numpy_path(bz.regions.region_stats, values, labels)
    # a thread's int32 counts spill into the int64 total once they could pass the limit
    monkeypatch.setattr(_engine._FineSink, "_LIMIT", 3000)
    got = bz.regions.region_stats(da.from_array(values, chunks=(4, 12, 30)), da.from_array(labels, chunks=4))
    assert got.fine_histograms.dtype == np.int64
    _assert_same_stats(got, ref)


def test_twin_grain_map_equal_numpy(numpy_path):
    """The twin's true edge-energy map over its grains, and a noisy copy with NaN holes."""
    truth = bz.data.load("twin/particle-xanes", part="truth")
    edge, labels = truth["edge_energy_ev"], truth["grain_labels"]
    got = bz.regions.region_stats(edge, labels, name="edge_energy_ev")
    ref = numpy_path(bz.regions.region_stats, edge, labels, name="edge_energy_ev")
    _assert_same_stats(got, ref)
    rng = np.random.default_rng(2)
    noisy = (edge.values + rng.normal(0, 0.3, edge.shape)).astype(np.float32)
    noisy[rng.random(edge.shape) < 0.01] = np.nan
    got = bz.regions.region_stats(noisy, labels.values, mask=edge.values > 8341.5)
    ref = numpy_path(bz.regions.region_stats, noisy, labels.values, mask=edge.values > 8341.5)
    _assert_same_stats(got, ref)


def test_peak_and_fwhm_kernel_equals_fft_for_narrow_wide_cut_and_empty_rows(monkeypatch, numpy_path):
    rng = np.random.default_rng(11)
    edges = np.linspace(0, 10, 401)
    rows = [
        np.histogram(rng.normal(5, 1.2, 20000), edges)[0],  # wide kernel: direct
        np.histogram(rng.normal(5, 0.05, 20000), edges)[0],  # narrow kernel: FFT
        np.histogram(rng.normal(0.3, 1.0, 5000), edges)[0],  # cut by the range's left edge
        np.histogram(rng.uniform(2, 8, 3000), edges)[0],  # flat top
        np.histogram(np.r_[rng.normal(3, 0.3, 4000), rng.normal(7, 0.5, 6000)], edges)[0],  # two peaks
        np.zeros(400, int),  # empty
    ]
    counts = np.array(rows)
    smoothed_by_fft = []
    fft = widths._smooth_rows
    monkeypatch.setattr(widths, "_smooth_rows", lambda c, *a: smoothed_by_fft.append(len(c)) or fft(c, *a))
    # Silverman: rows 0 and 2 direct; FFT for row 1 (0.25 bins), 3 and 4 (kernels so wide
    # that the FFT is cheaper) and 5 (empty); bandwidth 0 (no smoothing) is the FFT's
    for bw, n_fft in ((None, 4), (0.08, 0), (0.0, 6)):
        smoothed_by_fft.clear()
        got = bz.regions.peak_and_fwhm(counts, edges, bandwidth=bw)
        assert sum(smoothed_by_fft) == n_fft, (bw, smoothed_by_fft)
        ref = numpy_path(bz.regions.peak_and_fwhm, counts, edges, bandwidth=bw)
        for key in ("peak", "fwhm", "bandwidth"):
            np.testing.assert_allclose(got[key], ref[key], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=key)
    assert np.isnan(got["peak"][-1]) and np.isfinite(got["fwhm"][:2]).all()


def test_dask_chunks_and_a_plan_sent_to_another_process(numpy_path):
    import dask.array as da

    rng, values, labels = _random_map(7)
    values[rng.random(values.shape) < 0.01] = np.nan
    ref = numpy_path(bz.regions.region_stats, values, labels)
    got = bz.regions.region_stats(da.from_array(values, chunks=(16, 20, 30)), da.from_array(labels, chunks=16))
    _assert_same_stats(got, ref)
    # a pickled plan (what dask distributed ships) has no per-thread sink: its blocks
    # return the fine-histogram rows they touched, and those add up to the same table
    plan = _engine._Plan(n_rows=51, n_fine=64, ref=8342.0, lo=8338.0, hi=8346.0, offset=33.0, scale=8.0,
                         upper_clip=64, lut=None)
    plan.sink = _engine._FineSink(51 * 66)
    local = _engine._stats_block(values, labels, None, plan=plan)
    shipped = pickle.loads(pickle.dumps(plan))
    assert shipped.sink is None
    remote = _engine._stats_block(values, labels, None, plan=shipped)
    dense = np.zeros((51, 66), np.int64)
    dense[remote["fine_rows"]] = remote["fine"]
    np.testing.assert_array_equal(dense.ravel(), plan.sink.total())
    for key in ("sum", "sumsq", "nonfinite"):
        np.testing.assert_array_equal(remote[key], local[key])


def test_a_fresh_process_loads_the_compiled_kernels_from_the_cache(tmp_path):
    # first process compiles into NUMBA_CACHE_DIR, the second finds them there
    code = (
        "import numpy as np; from batteryzoom._kernels.regions import range_block as k; "
        "k(np.arange(10.0), np.ones(10, np.int32), np.ones(1, bool), False, True); "
        "print(len(k.stats.cache_hits), len(k.stats.cache_misses))"
    )
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "BATTERYZOOM_PROGRESS": "0"}
    import os

    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    first, second = (tuple(int(x) for x in r.stdout.split()) for r in runs)
    assert first == (0, 1) and second == (1, 0), (first, second)
