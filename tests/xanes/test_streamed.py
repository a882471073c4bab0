"""The streamed 3D XANES pipeline (``bz.xanes.aligned_edge_maps``, #29): the maps of small
blocks equal the whole-volume (in-memory) path's on the twin, on numpy, dask, a zarr store
and a 2-process LocalCluster; the aligned stack is never built; bad input is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError
from batteryzoom.xanes import _blockshift as streamed

MAPS = ("edge_energy_half_step_ev", "edge_energy_half_step_err_ev", "e0_ev", "edge_step", "pre_edge_noise")


@pytest.fixture(scope="module")
def twin_stack(twin):
    stack = twin("particle-xanes")
    return np.asarray(stack.values), np.asarray(stack["energy"].values)


@pytest.fixture(scope="module")
def streamed_and_whole(twin_stack):
    """The streamed maps in 24³ blocks (shifts estimated inside) and the in-memory path's:
    the whole aligned stack (the same cubic spline), then ``edge_maps``."""
    od, energy = twin_stack
    maps, shifts = bz.xanes.aligned_edge_maps(od, energy, block_px=24, show_progress=False)
    whole = bz.xanes.edge_maps(bz.xanes.apply_shifts(od, shifts, method="spline"), energy, methods=("half_step",))
    return maps, {k: np.asarray(whole[k]) for k in whole}, shifts


def _assert_same_maps(maps, whole, tol_ev=1e-3):
    assert np.array_equal(np.asarray(maps["valid"]), whole["valid"])
    assert whole["valid"].sum() > 50_000  # the particle, not an empty field
    edge, ref = np.asarray(maps["edge_energy_half_step_ev"]), whole["edge_energy_half_step_ev"]
    assert np.array_equal(np.isnan(edge), np.isnan(ref))
    assert np.nanmax(np.abs(edge - ref)) <= tol_ev
    for k in MAPS[1:]:
        np.testing.assert_allclose(np.asarray(maps[k]), whole[k], rtol=1e-4, atol=1e-6, equal_nan=True)


def test_small_blocks_give_the_whole_volume_maps_on_the_twin(streamed_and_whole, twin_stack):
    maps, whole, shifts = streamed_and_whole
    _assert_same_maps(maps, whole)
    # the shifts are the alignment's own estimate (a few pixels, sub-pixel parts included)
    od, energy = twin_stack
    assert np.abs(shifts).max() > 1 and np.any(np.abs(shifts - np.round(shifts)) > 0.1)
    # and the blocks did align: the unaligned stack's maps differ by far more than 1e-3 eV
    raw = np.asarray(bz.xanes.edge_maps(od, energy, methods=("half_step",))["edge_energy_half_step_ev"])
    assert np.nanmedian(np.abs(raw - whole["edge_energy_half_step_ev"])) > 0.01


def test_masks_and_grain_statistics_follow(streamed_and_whole, twin_particle_grains):
    maps, whole, _ = streamed_and_whole
    mask_s, mask_w = bz.xanes.masks(maps)["mask"], bz.xanes.masks(whole)["mask"]
    assert np.array_equal(mask_s, mask_w) and mask_s.sum() > 10_000
    _, labels = twin_particle_grains
    labels = np.asarray(labels)
    a = bz.xanes.region_edge_stats(maps, labels, mask=mask_s)
    b = bz.xanes.region_edge_stats(whole, labels, mask=mask_w)
    assert len(a) == len(b) > 5
    np.testing.assert_allclose(a["edge_energy_mean_ev"], b["edge_energy_mean_ev"], atol=1e-4)


def test_cubic_unshift_is_the_cubic_spline_shift(monkeypatch):
    """The separable block shift (compiled and numpy) is scipy's cubic spline shift inside the halo."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    block = ndimage.gaussian_filter(rng.standard_normal((44, 46, 48)), 1.5).astype(np.float32)
    fraction = np.array([0.3, -0.45, 0.0])
    h = streamed.SPLINE_HALO_PX
    expected = ndimage.shift(block.astype(np.float64), -fraction, order=3, mode="nearest")[h:-h, h:-h, h:-h]
    compiled = streamed.cubic_unshift(block, fraction, h)
    monkeypatch.setenv("BATTERYZOOM_NUMBA", "0")
    plain = streamed.cubic_unshift(block, fraction, h)
    scale = np.abs(block).max()
    assert compiled.shape == plain.shape == expected.shape == (12, 14, 16)
    assert np.abs(compiled - expected).max() < 1e-5 * scale
    assert np.abs(plain - expected).max() < 1e-5 * scale
    assert np.abs(block[h:-h, h:-h, h:-h] - expected).max() > 0.05 * scale  # it did move


def test_dask_from_a_zarr_store_gives_the_same_maps(streamed_and_whole, twin_stack, tmp_path):
    zarr = pytest.importorskip("zarr")
    import dask

    od, energy = twin_stack
    maps, whole, shifts = streamed_and_whole
    store = zarr.create_array(str(tmp_path / "stack.zarr"), shape=od.shape, chunks=(1, 16, 16, 16), dtype="float32")
    store[...] = od
    # blocks of 28 across the store's 16³ chunks: each block reads parts of several chunks
    lazy, again = bz.xanes.aligned_edge_maps(store, energy, block_px=28, shifts=shifts, show_progress=False)
    assert np.array_equal(again, shifts)
    edge = lazy["edge_energy_half_step_ev"]
    assert bz._blocks.is_dask(edge) and edge.chunks[0] == (28, 28)
    with dask.config.set(scheduler="threads"):
        computed = dict(zip(lazy, dask.compute(*lazy.values())))
    _assert_same_maps(computed, whole)


def test_the_dask_graph_never_holds_the_aligned_stack(twin_stack, streamed_and_whole):
    """One task per block reads the stack itself: the maps' graph holds none of the stack's
    chunks and no task whose result spans the energies over more than a block."""
    import dask.array as da

    od, energy = twin_stack
    _, _, shifts = streamed_and_whole
    lazy_stack = da.from_array(od, chunks=(1, 28, 28, 28))
    maps, _ = bz.xanes.aligned_edge_maps(lazy_stack, energy, block_px=28, shifts=shifts, show_progress=False)
    graph = dict(maps["edge_step"].__dask_graph__())
    stack_keys = {k for k in lazy_stack.__dask_graph__()}
    assert not stack_keys & set(graph)
    block_tasks = [k for k in graph if str(k).startswith("_block_maps")]
    assert len(block_tasks) == 8  # 2 x 2 x 2 blocks of 28³
    assert maps["edge_step"].chunks == ((28, 28),) * 3


def test_numpy_peak_memory_is_far_below_the_aligned_stack(twin_stack, streamed_and_whole):
    od, energy = twin_stack
    _, _, shifts = streamed_and_whole
    aligned_bytes = od.shape[0] * od[0].size * 4  # what align() would hold beside the input
    e0_ev = float(streamed_and_whole[0]["e0_ev"][28, 28, 28])
    tracemalloc.start()
    try:
        # e0 and noise given: no box aligned for them (on the twin that box is the whole volume)
        maps, _ = bz.xanes.aligned_edge_maps(od, energy, block_px=16, shifts=shifts, e0=e0_ev, noise=0.01,
                                             show_progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isfinite(maps["edge_energy_half_step_ev"]).sum() > 50_000
    # a block's aligned spectra (60 x 16³ float32: 1 MB), one energy's read with its halo
    # (48³: 0.4 MB) per thread, the maps (6 x 56³ float32: 4 MB) and the kernel's
    # temporaries: ~0.2x the aligned stack (8.6 MB measured), where align() holds all of it
    assert peak < 0.3 * aligned_bytes


@pytest.mark.parametrize("kwargs, named", [
    ({"block_px": 4}, "block_px"),
    ({"block_px": 24.0}, "block_px"),
    ({"shifts": np.zeros((3, 3))}, "shifts"),
    ({"fov": "some"}, "fov"),
    ({"e0": None}, "e0"),
    ({"e0": "median"}, "e0"),
    ({"e0": [8342.0]}, "e0"),
])
def test_bad_arguments_are_refused_by_name(twin_stack, kwargs, named):
    od, energy = twin_stack
    with pytest.raises(InputError, match=named):
        bz.xanes.aligned_edge_maps(od, energy, show_progress=False, **kwargs)


def test_a_dataarray_gives_a_dataset_on_its_space(twin, streamed_and_whole):
    stack = twin("particle-xanes").isel(z=slice(0, 24), y=slice(0, 24), x=slice(0, 24))
    _, _, shifts = streamed_and_whole
    ds, _ = bz.xanes.aligned_edge_maps(stack, shifts=shifts, block_px=12, e0=8342.0, noise=0.01,
                                       show_progress=False)
    plain, _ = bz.xanes.aligned_edge_maps(stack.values, stack["energy"].values, shifts=shifts, block_px=24,
                                          e0=8342.0, noise=0.01, show_progress=False)
    assert ds["edge_energy_half_step_ev"].dims == ("z", "y", "x")
    np.testing.assert_array_equal(ds["x"].values, stack["x"].values)
    edge = ds["edge_energy_half_step_ev"].values
    assert np.isfinite(edge).sum() > 1000
    assert np.nanmax(np.abs(edge - plain["edge_energy_half_step_ev"])) <= 1e-3


def test_a_plain_array_needs_its_energies(twin_stack):
    with pytest.raises(InputError, match="energy"):
        bz.xanes.aligned_edge_maps(twin_stack[0])


def test_a_stack_of_maps_not_volumes_is_refused(twin_stack):
    od, energy = twin_stack
    with pytest.raises(InputError, match=r"stack: shape .*\(E, z, y, x\)"):
        bz.xanes.aligned_edge_maps(od[:, 0], energy, show_progress=False)


SCRIPT = textwrap.dedent('''
    import json, sys

    import numpy as np


    def main():
        from dask.distributed import Client, LocalCluster

        import batteryzoom as bz

        lazy = bz.data.load("twin/particle-xanes", lazy=True)  # dask, chunk by chunk from zarr
        energy = lazy["energy"].values
        shifts = np.load(sys.argv[1])
        local, _ = bz.xanes.aligned_edge_maps(lazy.data.compute(), energy, shifts=shifts, block_px=28,
                                              show_progress=False)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GB",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            maps, _ = bz.xanes.aligned_edge_maps(lazy.data, energy, shifts=shifts, block_px=28, show_progress=False)
            edge = maps["edge_energy_half_step_ev"].compute()
            workers = len(client.scheduler_info()["workers"])
        a = local["edge_energy_half_step_ev"]
        print(json.dumps({"workers": workers, "finite": int(np.isfinite(a).sum()),
                          "same_nan": bool((np.isnan(a) == np.isnan(edge)).all()),
                          "max_diff_ev": float(np.nanmax(np.abs(a - edge)))}))


    if __name__ == "__main__":
        main()
''')


def test_the_same_call_runs_on_a_two_process_local_cluster(twin, streamed_and_whole, tmp_path):
    twin("particle-xanes")  # generated (or verified) in the cache before the script reads it
    _, _, shifts = streamed_and_whole
    np.save(tmp_path / "shifts.npy", shifts)
    script = tmp_path / "streamed_on_a_cluster.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "BATTERYZOOM_PROGRESS": "0"}
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "shifts.npy")], env=env,
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["workers"] == 2
    assert info["same_nan"] and info["finite"] > 50_000
    assert info["max_diff_ev"] <= 1e-3
