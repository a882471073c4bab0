"""The per-voxel XANES kernels (batteryzoom._kernels.xanes) against the numpy reference
paths they replace (BATTERYZOOM_NUMBA=0): the fused edge kernel against the numpy fused
path and the general float64 path; the mean spectrum, Otsu histogram and masks kernels.
"""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom import _kernels

pytestmark = pytest.mark.skipif(not _kernels.enabled(), reason="numba kernels disabled")

# --- per-voxel XANES: the fused kernel (xanes._fused._FixedPlan.run_kernel) --------------------
#
# The kernel computes in float64 what the numpy fused path (BATTERYZOOM_NUMBA=0) computes
# in float32, so it equals the general float64 path (fast=False) to float64 rounding, and
# the numpy fused path to float32 rounding: the same valid/NaN pattern and masks, edge
# steps to ~1e-5, edge energies to ~1e-3 eV except where float32 rounding moves a noisy
# spectrum across half its step and so changes the crossing picked (rare, asserted below).

XANES_FIELDS = ("e0_ev", "edge_step", "pre_edge_noise", "valid")


def _xanes_stack(seed=0, shape=(24, 30), noise=0.01, dtype=np.float32):
    """Arctan edges plus noise, with broken spectra in row 0: NaN, +-inf, all zero, constant."""
    from batteryzoom.data.twin.xanes import energy_grid

    rng = np.random.default_rng(seed)
    energy = energy_grid()
    e_half = 8341.0 + rng.uniform(-2.0, 2.0, shape)
    jump = rng.uniform(0.05, 0.6, shape)
    mu = 0.5 + np.arctan((energy[:, None, None] - e_half[None]) / 2.0) / np.pi
    stack = 0.4 + jump[None] * mu + 1e-4 * (energy[:, None, None] - 8300) + rng.normal(0, noise, (len(energy),) + shape)
    stack = stack.astype(dtype)
    stack[:, 0, 0] = np.nan  # all NaN
    stack[0, 0, 1] = np.inf  # first energy: outside the pre-edge and edge-step rows
    stack[30, 0, 2] = -np.inf  # inside the edge window
    stack[5, 0, 3] = np.nan  # inside the pre-edge range
    stack[-1, 0, 4] = np.nan  # last energy, a post-edge row
    stack[:, 0, 5] = 0  # all zero
    stack[:, 0, 6] = 1.5  # constant
    return energy, stack


def _xanes_pair(numpy_path, stack, energy, **kw):
    got = bz.xanes.edge_maps(stack, energy, **kw)
    ref = numpy_path(bz.xanes.edge_maps, stack, energy, **kw)
    assert list(got) == list(ref)
    return got, ref


def _assert_close_to_numpy_fused(got, ref, max_flips=0):
    """float64 kernel vs float32 numpy path: same pattern, values within float32 rounding.

    ``max_flips`` voxels may differ: a noisy spectrum that touches half its step within
    float32 rounding has a crossing in one path and another (or none: NaN) in the other.
    """
    np.testing.assert_array_equal(np.asarray(got["valid"]), np.asarray(ref["valid"]))
    for key in got:
        a, b = np.asarray(got[key], float), np.asarray(ref[key], float)
        if max_flips == 0:
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=key)
        else:
            assert (np.isnan(a) != np.isnan(b)).sum() <= max_flips, (key, int((np.isnan(a) != np.isnan(b)).sum()))
            a, b = np.where(np.isnan(a) != np.isnan(b), np.nan, a), np.where(np.isnan(a) != np.isnan(b), np.nan, b)
        if key in ("edge_step", "pre_edge_noise"):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6, equal_nan=True, err_msg=key)
        elif key.endswith("_ev"):
            # the error's slope term amplifies float32 rounding: compare it loosely
            diff = np.abs(a - b)
            off = diff > (0.05 * np.abs(b) + 1e-3 if key.endswith("err_ev") else 1e-2)
            assert off.sum() <= max_flips, (key, int(off.sum()), np.nanmax(diff))
            # rounding, not a systematic difference: the typical voxel agrees far closer
            assert np.isnan(diff).all() or np.nanmedian(diff) < (1e-3 * np.nanmedian(np.abs(b)) if key.endswith("err_ev") else 1e-4), key
    method = next(k for k in got if k.startswith("edge_energy_"))[len("edge_energy_") : -3]
    ma, mb = bz.xanes.masks(got, method=method), bz.xanes.masks(ref, method=method)
    for key in ("edge_jump", "snr", "failed", "mask"):
        if max_flips == 0:
            np.testing.assert_array_equal(np.asarray(ma[key]), np.asarray(mb[key]), err_msg=key)
        else:  # a crossing that flipped to none, or a step/noise ratio at the threshold in float32
            assert (np.asarray(ma[key]) != np.asarray(mb[key])).sum() <= max_flips, key


def _assert_equal_to_general_path(got, general):
    """float64 kernel vs the general float64 path: float64 rounding on the valid voxels
    (then float32 rounding for a float32 stack's maps)."""
    both = np.asarray(got["valid"]) & np.asarray(general["valid"])
    assert both.mean() > 0.9
    for key in got:
        if key == "valid":
            continue
        a, b = np.asarray(got[key], float)[both], np.asarray(general[key], float)[both]
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=key)
        # float32 maps (a float32 stack's): both rounded once from float64, so at most an ulp apart
        f32 = np.asarray(got[key]).dtype == np.float32
        rtol = 2.5e-7 if f32 else 1e-7 if key.endswith("err_ev") else 1e-9
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True, err_msg=key)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xanes_kernel_equals_numpy_paths_for_every_method_combination(numpy_path, dtype):
    import itertools

    energy, stack = _xanes_stack(dtype=dtype)
    combos = [c for r in (1, 2, 3) for c in itertools.combinations(bz.xanes.EDGE_METHODS, r)]
    general = bz.xanes.edge_maps(stack, energy, methods=bz.xanes.EDGE_METHODS, fast=False)
    for methods in combos:
        got, ref = _xanes_pair(numpy_path, stack, energy, methods=methods, block_voxels=200)
        assert list(got)[: len(methods)] == [f"edge_energy_{m}_ev" for m in methods]
        _assert_close_to_numpy_fused(got, ref)
        _assert_equal_to_general_path(got, {k: general[k] for k in got})
        bad = ~np.asarray(got["valid"])[0, :7]
        assert bad.all(), bad  # NaN/inf anywhere, all-zero, constant: not valid
        for key in got:
            if key != "valid":
                assert np.isnan(np.asarray(got[key])[0, :7]).all(), key
        assert np.asarray(got["valid"]).sum() > 0.9 * stack[0].size


@pytest.mark.parametrize("noise", ["voxel", 0.012])
def test_xanes_kernel_equals_numpy_paths_with_each_voxels_or_a_given_noise(numpy_path, noise):
    """The kernel's uncertainty uses the noise asked for (pooled by default, tested above;
    each voxel's own; a given level), as the numpy paths do."""
    energy, stack = _xanes_stack()
    got, ref = _xanes_pair(numpy_path, stack, energy, methods=("half_step",), noise=noise, block_voxels=200)
    _assert_close_to_numpy_fused(got, ref)
    _assert_equal_to_general_path(got, bz.xanes.edge_maps(stack, energy, methods=("half_step",), noise=noise,
                                                          fast=False))
    pooled = bz.xanes.edge_maps(stack, energy, methods=("half_step",))
    ratio = np.asarray(got["edge_energy_half_step_err_ev"], float) / np.asarray(pooled["edge_energy_half_step_err_ev"],
                                                                                 float)
    ok = np.isfinite(ratio)
    if noise == "voxel":  # each voxel's own residual: scattered about the pooled level
        assert 0.05 < np.std(ratio[ok]) < 0.6
    else:  # one level for all: proportional to the pooled one
        assert np.std(ratio[ok]) < 1e-5 * np.mean(ratio[ok])


@pytest.mark.parametrize("nvict", [3.0, 2.5])
def test_normalization_operators_reproduce_the_victoreen_pre_edge_and_step(nvict):
    """With fixed energies a Victoreen pre-edge (a line fitted to mu * E**nvict, divided
    by E**nvict) is still linear in the spectrum: the operators give normalize's curves."""
    from batteryzoom.xanes.normalization import LarchDefaults
    from batteryzoom.xanes.uncertainty import normalization_operators

    energy, stack = _xanes_stack(dtype=np.float64)
    mu = stack[:, 1:, :].reshape(len(energy), -1)
    e0 = 8341.0
    ref = bz.xanes.normalize(mu, energy, e0=e0, nvict=nvict)
    ops = normalization_operators(energy, e0, LarchDefaults(nvict=nvict))
    coef = ops["line"] @ mu
    pre = ops["scale"][:, None] * (coef[0][None] + energy[:, None] * coef[1][None])
    np.testing.assert_allclose(pre, ref["pre_edge"], rtol=1e-10)
    np.testing.assert_allclose(np.abs(ops["step"] @ mu), ref["edge_step"], rtol=1e-9)
    straight = normalization_operators(energy, e0)
    assert np.all(straight["scale"] == 1.0)
    assert not np.allclose(np.abs(straight["step"] @ mu), ref["edge_step"], rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xanes_kernel_with_a_victoreen_pre_edge_equals_the_general_path(numpy_path, dtype):
    energy, stack = _xanes_stack(dtype=dtype)
    for methods in (("half_step",), bz.xanes.EDGE_METHODS):
        got = bz.xanes.edge_maps(stack, energy, methods=methods, nvict=3, block_voxels=200)
        general = bz.xanes.edge_maps(stack, energy, methods=methods, nvict=3, fast=False)
        _assert_equal_to_general_path(got, general)
        np.testing.assert_array_equal(np.asarray(got["valid"]), np.asarray(general["valid"]))
        assert not np.asarray(got["valid"])[0, :7].any()  # NaN/inf, all-zero, constant
        # the scale reached every output: not the straight line's numbers
        straight = bz.xanes.edge_maps(stack, energy, methods=methods, block_voxels=200)
        for key in ("edge_step", "pre_edge_noise", "edge_energy_half_step_ev"):
            a, b = np.asarray(got[key], float), np.asarray(straight[key], float)
            assert np.nanmedian(np.abs(a - b)) > 1e-6 * np.nanmedian(np.abs(b)), key
        # without numba: the general path (the float32 fused path has no Victoreen)
        ref = numpy_path(bz.xanes.edge_maps, stack, energy, methods=methods, nvict=3)
        for key in got:
            np.testing.assert_array_equal(np.asarray(ref[key]), np.asarray(general[key]), err_msg=key)


def test_xanes_maps_keep_a_float32_stacks_precision_rounded_once(numpy_path):
    """A float32 stack gives float32 maps (half the memory), each the float64 result rounded
    once: equal to the maps of the same values as float64, rounded; on every path."""
    import dask.array as da

    energy, stack = _xanes_stack(seed=5)
    methods = bz.xanes.EDGE_METHODS
    m64 = bz.xanes.edge_maps(stack.astype(np.float64), energy, methods=methods)
    m32 = bz.xanes.edge_maps(stack, energy, methods=methods)
    lazy = bz.xanes.edge_maps(da.from_array(stack, chunks=(-1, 8, 16)), energy, methods=methods)
    general = bz.xanes.edge_maps(stack, energy, methods=methods, fast=False)
    numpy_fused = numpy_path(bz.xanes.edge_maps, stack, energy, methods=methods)
    for key in m64:
        if key == "valid":
            continue
        assert m64[key].dtype == np.float64, key
        for other in (m32, lazy, general, numpy_fused):
            assert other[key].dtype == np.float32, key
        np.testing.assert_array_equal(m32[key], m64[key].astype(np.float32), err_msg=key)
        np.testing.assert_array_equal(np.asarray(lazy[key]), m32[key], err_msg=key)
    # the masks compare float32 maps in float64, as after a conversion (no converted copy)
    as64 = {k: (v if k == "valid" else v.astype(np.float64)) for k, v in m32.items()}
    got, ref = bz.xanes.masks(m32), bz.xanes.masks(as64)
    assert got["min_edge_step"] == ref["min_edge_step"]
    slow = numpy_path(bz.xanes.masks, m32)
    for key in ("edge_jump", "snr", "failed", "mask"):
        np.testing.assert_array_equal(got[key], ref[key], err_msg=key)
        np.testing.assert_array_equal(got[key], slow[key], err_msg=key)
    assert got["mask"].sum() > 0.3 * got["mask"].size


def test_xanes_kernel_on_pure_noise_another_e0_and_no_interval_in_the_window(numpy_path):
    energy, stack = _xanes_stack(seed=4)
    noise = np.random.default_rng(1).normal(1.0, 0.5, stack.shape).astype(np.float32)
    got, ref = _xanes_pair(numpy_path, noise, energy, methods=bz.xanes.EDGE_METHODS)
    _assert_close_to_numpy_fused(got, ref, max_flips=2)
    got, ref = _xanes_pair(numpy_path, stack, energy, e0=8345.0)
    _assert_close_to_numpy_fused(got, ref, max_flips=2)
    _assert_equal_to_general_path(got, bz.xanes.edge_maps(stack, energy, e0=8345.0, fast=False))
    # big-endian or integer data take the numpy fused path (no compilation per dtype);
    # integer counts have no NaN/inf: the planted ones become 0 (casting them is undefined)
    counts = np.nan_to_num(stack * 1000, nan=0.0, posinf=0.0, neginf=0.0).astype(np.int16)
    for other in (stack.astype(">f4"), counts):
        got = bz.xanes.edge_maps(other, energy)
        ref = numpy_path(bz.xanes.edge_maps, other.astype(np.float32), energy)
        for key in got:  # maps keep a 4-byte float's precision; ints give float64
            want = bool if key == "valid" else np.float32 if other.dtype.itemsize == 4 else np.float64
            assert got[key].dtype == want, key
            np.testing.assert_array_equal(got[key].astype(ref[key].dtype), ref[key], err_msg=key)
    # a window narrower than the energy step holds no interval: NaN half-step, not a crash
    for methods in (("half_step",), bz.xanes.EDGE_METHODS):
        got, ref = _xanes_pair(numpy_path, stack, energy, methods=methods, window_ev=(0.1, 0.2))
        assert np.isnan(got["edge_energy_half_step_ev"]).all() and np.isnan(got["edge_energy_half_step_err_ev"]).all()
        _assert_close_to_numpy_fused(got, ref)
        assert np.asarray(got["valid"]).sum() > 0.9 * stack[0].size


def test_xanes_kernel_on_the_twin_stack_and_dask_chunks(numpy_path):
    import dask.array as da

    stack = bz.data.load("twin/particle-xanes").load()
    got, ref = _xanes_pair(numpy_path, stack, None)
    # noisy particle spectra cross half their step several times: float32 rounding in the
    # numpy path picks another crossing (or none) in a few voxels (~45 of 175,616 here)
    n_vox = stack[0].size
    _assert_close_to_numpy_fused(got, ref, max_flips=n_vox // 2000)
    masks = bz.xanes.masks(got)
    assert 0.1 < float(masks["mask"].mean()) < 0.9  # particle and background both present
    # dask chunks run the kernel block by block: the same numbers
    lazy = bz.xanes.edge_maps(da.from_array(stack.values, chunks=(60, 20, 28, 56)), stack["energy"].values,
                              methods=("half_step",))
    for key in lazy:
        np.testing.assert_allclose(np.asarray(lazy[key], float), np.asarray(got[key], float), rtol=1e-12,
                                   equal_nan=True, err_msg=key)


def test_mean_spectrum_kernel_equals_numpy_with_non_finite_blocks(numpy_path):
    from batteryzoom.xanes.stack import mean_spectrum

    rng = np.random.default_rng(6)
    y = rng.normal(1.0, 0.3, (60, 3, 50_000)).astype(np.float32)  # 150,000 voxels: 3 blocks
    y[7, 0, 10] = np.nan  # a block with a NaN spectrum: that voxel is left out
    y[59, 2, 49_999] = -np.inf  # and one with an inf in the last voxel's last energy
    for arr in (y, y.astype(np.float64)):
        got = mean_spectrum(arr)
        ref = numpy_path(mean_spectrum, arr)
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=0)
        flat = arr.reshape(60, -1)
        keep = np.isfinite(flat).all(axis=0)
        assert keep.sum() == flat.shape[1] - 2
        np.testing.assert_allclose(got, flat[:, keep].mean(axis=1, dtype=np.float64), rtol=1e-12)


def test_mean_spectrum_of_an_even_sample(numpy_path):
    from batteryzoom.xanes.stack import even_sample, mean_spectrum

    rng = np.random.default_rng(7)
    y = rng.normal(1.0, 0.3, (20, 40, 30, 50)).astype(np.float32)  # 60,000 voxels
    view = even_sample(y, 4000)
    # stride ceil(sqrt(15)) = 4 on z and y from half a stride in; whole x rows, no copy
    assert view.shape == (20, 10, 7, 50) and np.shares_memory(view, y)
    np.testing.assert_array_equal(view, y[:, 2::4, 2::4, :])
    assert even_sample(y, 60_000) is y and even_sample(y, None) is y
    flat = rng.normal(size=(5, 10_000))
    np.testing.assert_array_equal(even_sample(flat, 1000), flat[:, 5::10])  # 1-D space: strided itself
    y[3, 2, 6, 7] = np.nan  # a sampled voxel that is not finite: left out of the sample's mean
    sample = y[:, 2::4, 2::4, :].reshape(20, -1)
    keep = np.isfinite(sample).all(axis=0)
    want = sample[:, keep].mean(axis=1, dtype=np.float64)
    import dask.array as da

    lazy = da.from_array(y, chunks=(20, 16, 30, 25))  # chunked over space: the sample slices them
    for got in (mean_spectrum(y, max_voxels=4000), numpy_path(mean_spectrum, y, max_voxels=4000),
                mean_spectrum(lazy, max_voxels=4000)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # a sample without one finite spectrum falls back to every voxel
    y[:, 2::4, 2::4, :] = np.nan
    rest = y.reshape(20, -1)
    np.testing.assert_allclose(mean_spectrum(y, max_voxels=4000),
                               rest[:, np.isfinite(rest).all(axis=0)].mean(axis=1, dtype=np.float64), rtol=1e-12)


def test_e0_of_the_sampled_mean_equals_that_of_every_voxel_on_the_twin(monkeypatch):
    from batteryzoom.xanes import normalization
    from batteryzoom.xanes.stack import mean_spectrum

    stack = bz.data.load("twin/particle-xanes").load()
    energy = stack["energy"].values
    full = float(normalization.find_e0(mean_spectrum(stack.values), energy))
    monkeypatch.setattr(normalization, "E0_SAMPLE_VOXELS", 3000)  # 175,616 voxels -> a 1 in 64 sample
    assert normalization.e0_of_mean_spectrum(stack.values, energy) == full
    sampled = bz.xanes.edge_maps(stack, methods=("half_step",))
    assert sampled.attrs["e0"] == full


def test_otsu_histogram_kernel_equals_numpy_histogram_and_skimage(numpy_path):
    from batteryzoom._kernels.xanes import histogram_edges, kept_histogram
    from batteryzoom.xanes.masks import otsu_threshold

    rng = np.random.default_rng(8)
    cases = [
        np.r_[rng.normal(0.02, 0.01, 50_000), rng.normal(0.3, 0.05, 20_000)],  # background + particle
        np.linspace(0.0, 1.0, 10_001),  # values on the bin edges: numpy's one-ulp corrections
        rng.integers(0, 300, 20_000) * 0.1,  # a coarse grid, many values on edges
        np.array([1.0, 2.0]),
    ]
    for v in cases:
        np.testing.assert_array_equal(kept_histogram(v, np.ones(v.size, bool), 0, v.size, float(v.min()),
                                                     float(v.max()), 256), np.histogram(v, 256)[0])
        with_nan = np.r_[v, np.nan, np.inf]
        assert otsu_threshold(with_nan) == numpy_path(otsu_threshold, with_nan)
    assert otsu_threshold(np.ones(5)) == float("inf")
    # the kernel computes its edges instead of looking them up: numpy's linspace arithmetic
    for _ in range(2000):
        lo = rng.normal() * 10.0 ** rng.integers(-6, 6)
        hi = lo + (abs(rng.normal()) + 1e-3) * 10.0 ** rng.integers(-8, 6)
        if hi > lo:
            np.testing.assert_array_equal(histogram_edges(lo, hi, 256), np.linspace(lo, hi, 257))
    # masked-out voxels, NaN and values outside the range are left out
    v = rng.normal(0.0, 1.0, 30_000)
    keep = rng.random(v.size) > 0.3
    v[::97] = np.nan
    got = kept_histogram(v, keep, 0, v.size, -1.5, 2.0, 64)
    want = np.histogram(v[keep & np.isfinite(v)], 64, range=(-1.5, 2.0))[0]
    np.testing.assert_array_equal(got, want)


def test_masks_kernel_equals_numpy_with_invalid_nan_and_fixed_threshold(numpy_path):
    from batteryzoom.xanes.masks import masks

    rng = np.random.default_rng(9)
    shape = (12, 300, 400)  # 1.44 M voxels: two blocks on the thread pool
    particle = rng.random(shape) < 0.3
    step = np.where(particle, rng.normal(0.3, 0.05, shape), rng.normal(0.02, 0.01, shape))
    noise = np.abs(rng.normal(0.01, 0.005, shape))
    valid = rng.random(shape) > 0.05
    energy = rng.normal(8345.0, 1.0, shape)
    energy[rng.random(shape) < 0.02] = np.nan  # no crossing found
    step[0, 0, :7] = [np.nan, np.inf, -np.inf, np.nan, 0.5, 0.5, 0.5]  # non-finite where "valid"
    valid[0, 0, :4] = True
    maps = {"edge_step": step, "pre_edge_noise": noise, "valid": valid, "edge_energy_half_step_ev": energy}
    for kwargs in ({}, {"min_edge_step": 0.1, "min_snr": 3.0}):
        got = masks(maps, **kwargs)
        ref = numpy_path(masks, maps, **kwargs)
        assert got["min_edge_step"] == ref["min_edge_step"]
        for key in ("edge_jump", "snr", "failed", "mask"):
            assert got[key].shape == shape
            np.testing.assert_array_equal(got[key], ref[key], err_msg=key)
        assert 0.2 < got["mask"].mean() < 0.35  # the particle voxels, not all or none
    # nothing valid: no Otsu threshold (inf), every voxel failed
    none = dict(maps, valid=np.zeros(shape, bool))
    got, ref = masks(none), numpy_path(masks, none)
    assert got["min_edge_step"] == ref["min_edge_step"] == float("inf")
    assert got["failed"].all() and not got["mask"].any()
