"""bz.tomo.reconstruct: an acquisition to a volume in µm (the frame of bz.frames), the centre
found and recorded, streamed block by block (only blocks of rows are ever read), written to
zarr atomically and never over a store it did not write, multi-energy, 360° offset axis,
phase retrieval and jitter on the way, a dask.distributed cluster unchanged."""

from __future__ import annotations

import json

import time

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError
from batteryzoom.frames import frame_of


def _rmse(vol_um, truth_px, pixel_um, margin=8):
    """RMSE (1/px) inside the reconstruction circle."""
    n = truth_px.shape[-1]
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    inside = np.hypot(yy, xx) < n / 2 - margin
    return float(np.sqrt(np.mean((np.asarray(vol_um) * pixel_um - truth_px)[..., inside] ** 2)))


def test_volume_in_um_with_its_frame_centre_and_parameters(scan):
    acq, truth = scan(centre=33.4)
    vol = bz.tomo.reconstruct(acq, chunks=4, progress=False)
    assert vol.dims == ("z", "y", "x") and vol.shape == (10, 64, 64) and vol.dtype == np.float32
    f = frame_of(vol)
    assert f.voxel_size_um == (0.5, 0.5, 0.5)
    assert f.origin_um == pytest.approx((0.0, -15.75, -15.75))  # x, y centred on the axis
    assert vol.attrs["units"] == "1/um" and vol.attrs["written_by"] == "batteryzoom.tomo.reconstruct"
    assert abs(vol.attrs["centre_px"] - 33.4) <= 0.5
    fit = vol.attrs["centre_fits"]
    assert fit["centre_method"] == "pair+sharpness" and len(fit["centre_rows"]) == 5
    params = vol.attrs["reconstruction"]
    assert params["method"] == "fbp" and params["rings"] == {} and params["outliers_threshold_sigma"] == 6.0
    assert "interpolated in acquisition order between 2 runs" in vol.attrs["normalization"]
    err = _rmse(vol, truth, 0.5)
    print(f"\npipeline: centre {vol.attrs['centre_px']:.2f} px (true 33.4), RMSE {err:.4f}/px of 0.02-0.05/px")
    assert err < 0.004


def test_zarr_written_atomically_and_never_over_a_foreign_store(scan, tmp_path, monkeypatch):
    acq, _ = scan(centre=32.0, rows=6)
    mem = bz.tomo.reconstruct(acq, centre=32.0, rings=False, chunks=4, progress=False)
    out = tmp_path / "vol.zarr"
    lazy = bz.tomo.reconstruct(acq, centre=32.0, rings=False, chunks=4, out=out, progress=False)
    assert type(lazy.data).__module__.startswith("dask") and lazy.data.chunks[0] == (4, 2)
    np.testing.assert_array_equal(lazy.values, mem.values)
    assert lazy.attrs["centre_px"] == 32.0 and bz.tomo.pipeline.written_by_us(out)
    with pytest.raises(InputError, match="overwrite=True"):
        bz.tomo.reconstruct(acq, centre=32.0, rings=False, out=out, progress=False)
    bz.tomo.reconstruct(acq, centre=31.0, rings=False, out=out, overwrite=True, progress=False)
    import xarray as xr

    assert xr.open_zarr(out, consolidated=False).volume.attrs["centre_px"] == 31.0
    foreign = tmp_path / "mine.zarr"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="not written by batteryzoom"):
        bz.tomo.reconstruct(acq, centre=32.0, out=foreign, overwrite=True, progress=False)
    assert (foreign / "notes.txt").read_text() == "keep"
    # a failure half-way leaves nothing under the name, and no temporary store behind
    from batteryzoom.tomo import pipeline

    calls = {"n": 0}
    real = pipeline._block_task

    def fail_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        if calls["n"] == 1:  # a slow neighbour still writing when the other task fails
            time.sleep(0.5)
            out = real(*args, **kwargs)
            calls["slow_done"] = time.monotonic()
            return out
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_block_task", fail_second)
    with pytest.raises(RuntimeError, match="disk full"):
        bz.tomo.reconstruct(acq, centre=32.0, rings=False, chunks=2, out=tmp_path / "new.zarr", progress=False)
    raised = time.monotonic()
    # the error is raised only once no task writes into the temporary store any more:
    # removing it under a still-writing neighbour left a half-removed .tmp folder behind
    assert calls.get("slow_done", np.inf) <= raised
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.zarr", "vol.zarr"]


class _Spy:
    """An array that records how many detector rows each read takes (for da.from_array)."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.ndim, self.rows = data, data.shape, data.dtype, data.ndim, []

    def __getitem__(self, key):
        out = self.data[key]
        self.rows.append(out.shape[-2] if out.ndim >= 2 else 1)
        return out


def test_only_blocks_are_read_and_progress_counts_slices(scan, monkeypatch):
    import dask.array as da

    from batteryzoom.tomo import pipeline

    acq, _ = scan(centre=30.5, rows=12, energies=[8300.0, 8400.0])
    spy = _Spy(np.asarray(acq.projections.values))
    lazy = acq.copy()
    lazy["projections"] = acq.projections.copy(data=da.from_array(spy, chunks=(1, 90, 3, 64)))
    seen = {}

    def count(iterable, desc, total=None, enabled=None, unit="it"):
        seen.update(desc=desc, total=total, unit=unit)
        items = list(iterable)
        seen["n"] = len(items)
        return iter(items)

    monkeypatch.setattr(pipeline, "_progress", count)
    vol = bz.tomo.reconstruct(lazy, chunks=3, progress=True)
    assert vol.dims == ("energy", "z", "y", "x") and vol.shape == (2, 12, 64, 64)
    assert max(spy.rows) <= 3  # never more than a block of rows at once
    assert seen == {"desc": "reconstructing 2 energies × 12 slices", "total": 24, "unit": "slice", "n": 24}
    assert len(vol.attrs["centre_px"]) == 2 and all(abs(c - 30.5) <= 0.5 for c in vol.attrs["centre_px"])
    ratio = float(vol[1].mean() / vol[0].mean())
    assert abs(ratio - 1.1) < 0.02  # the second energy attenuates 10 % more


def test_offset_axis_360_scan_folds_into_a_wider_field(scan):
    acq, truth = scan(centre=12.0, ncol=40, rows=4, n_angle=240, span=360.0)
    vol = bz.tomo.reconstruct(acq, centre=12.0, rings=False, progress=False)
    assert vol.shape == (4, 55, 55)  # 2·⌈max(12, 27)⌉ + 1
    assert vol.attrs["reconstruction"]["scan"] == "360"
    with pytest.raises(InputError, match="360° scan treated as 180°"):
        bz.tomo.reconstruct(acq, centre=12.0, scan="180", progress=False)


def test_phase_retrieval_and_jitter_run_on_the_way(scan):
    acq, truth = scan(centre=31.5, rows=16)
    vol = bz.tomo.reconstruct(acq, centre=31.5, rings=False, progress=False,
                              phase={"delta_beta": 50, "distance_m": 0.01, "energy_ev": 20_000})
    assert vol.attrs["quantity"].endswith("after Paganin phase retrieval")
    assert vol.attrs["reconstruction"]["phase"]["delta_beta"] == 50
    from batteryzoom.tomo import shift_projections

    jittered = acq.copy()
    shifts = np.random.default_rng(1).uniform(-2, 2, (acq.sizes["angle"], 2))
    jittered["projections"] = acq.projections.copy(
        data=np.round(shift_projections(acq.projections.values.astype(np.float32), shifts)).astype(np.uint16))
    plain = bz.tomo.reconstruct(jittered, centre=31.5, rings=False, progress=False)
    fixed = bz.tomo.reconstruct(jittered, centre=31.5, rings=False, jitter={"rows": 16}, progress=False)
    assert fixed.attrs["staging"]["jitter_rounds"] >= 1
    assert _rmse(fixed, truth, 0.5) < 0.7 * _rmse(plain, truth, 0.5)


def test_a_two_worker_cluster_gives_the_same_volume(scan, tmp_path):
    """dask.distributed LocalCluster, 2 workers in processes: the same call, unchanged,
    spreads blocks over the workers."""
    from distributed import Client, LocalCluster

    acq, _ = scan(centre=30.0, rows=8, seed=3)
    local = bz.tomo.reconstruct(acq, centre=30.0, chunks=2, progress=False)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        vol = bz.tomo.reconstruct(acq, centre=30.0, chunks=2, out=tmp_path / "v.zarr", progress=False)
        workers = client.run(lambda: 1)
    print(f"\ncluster of {len(workers)} worker processes")
    np.testing.assert_allclose(vol.values, local.values, rtol=1e-6, atol=1e-7)


def test_bad_inputs_are_named(scan):
    acq, _ = scan(rows=3)
    with pytest.raises(InputError, match="outside the detector"):
        bz.tomo.reconstruct(acq, centre=80.0, progress=False)
    with pytest.raises(InputError, match="detector has rows 0 … 2"):
        bz.tomo.reconstruct(acq, centre=30.0, rows=(1, 9), progress=False)
    with pytest.raises(InputError, match="method="):
        bz.tomo.reconstruct(acq, centre=30.0, method="art", progress=False)
    with pytest.raises(InputError, match="Paganin needs delta_beta, distance_m"):
        bz.tomo.reconstruct(acq, centre=30.0, phase={"delta_beta": 10}, progress=False)
    with pytest.raises(InputError, match="2 values for 1 energies"):
        bz.tomo.reconstruct(acq, centre=[30.0, 31.0], progress=False)


def test_parameters_json_is_what_the_command_writes(scan):
    acq, _ = scan(rows=2)
    vol = bz.tomo.reconstruct(acq, centre=30.0, rings=False, progress=False)
    body = json.loads(bz.tomo.parameters_json(vol))
    assert body["written_by"] == "batteryzoom.tomo.reconstruct" and body["centre_px"] == 30.0
    assert body["shape"] == {"z": 2, "y": 64, "x": 64} and body["voxel_size_um"] == [0.5, 0.5, 0.5]
