"""The streamed 3D XANES pipeline at 256³ and 512³ (#29): ``aligned_edge_maps`` → masks →
per-region statistics.

Case (group "xanes"): the synthetic stack of ``bench_xanes_scaling`` (60 energies, each
displaced by a few pixels) written as a zarr store energy by energy
(``xanes_stream_store.py``), then the whole pipeline in a fresh process per run
(time; peak resident memory ``ru_maxrss``):

- ``zarr``: the store (uncompressed, chunks ``(1, 32, 32, 32)``) read block by block by
  dask's threaded scheduler in the process (two blocks in flight).
- ``float16``: the store loaded first into an in-memory float16 stack (half of the 3.75 GB
  float32 at 256³; a float32 stack alone would not leave room in 4 GB), then the numpy
  path; the peak counts the loaded stack, and the note says how much of it it was.
- ``cluster`` (``BZ_BENCH_XANES_512=1``): 60 × 512³ (32 GB float32; Blosc-zstd store,
  ~26 GB on disk, deleted afterwards) on a ``LocalCluster(n_workers=2,
  threads_per_worker=1, memory_limit="4GB")``: the maps written to a zarr store by the
  workers (their peak RSS asked of each worker at the end), then masks and per-region
  statistics read back in the client.

Sizes: ``BZ_BENCH_XANES_STREAM_N`` (default 128; 256 is #29's size: a 3.75 GB store);
``BZ_BENCH_XANES_STREAM_DIR`` where the stores go (default a temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Measurement, case

ROOT = Path(__file__).resolve().parents[1]

_RUN = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, zarr
import batteryzoom as bz
mode, path, block_px = sys.argv[1], sys.argv[2], int(sys.argv[3])
z = zarr.open_array(path, mode="r")
energy = np.array(z.attrs["energy_ev"])
n = z.shape[1]
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
extra = {}
if mode == "float16":
    stack = np.empty(z.shape, np.float16)
    for i in range(z.shape[0]):
        stack[i] = z[i]
    extra["loaded_bytes"] = rss()
    extra["stack_bytes"] = stack.nbytes
else:
    stack = z
t0 = time.perf_counter()
usage0 = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage0.ru_utime + usage0.ru_stime  # the process's CPU seconds (the cluster's workers not counted)
if mode == "cluster":
    from dask.distributed import Client, LocalCluster
    out = path + ".maps.zarr"
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="4GB", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        maps, shifts = bz.xanes.aligned_edge_maps(stack, energy, block_px=block_px, show_progress=False)
        import dask, dask.array as da
        writes = [da.to_zarr(v.astype(np.uint8) if k == "valid" else v, f"{out}/{k}", compute=False, overwrite=True)
                  for k, v in maps.items()]
        dask.compute(*writes)
        extra["maps_s"] = time.perf_counter() - t0
        peaks = client.run(lambda: __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss * 1024)
        extra["worker_peak_bytes"] = sorted(peaks.values())
    maps = {k: zarr.open_array(f"{out}/{k}", mode="r")[...] for k in maps if k != "e0_ev"}  # e0: one number
    maps["valid"] = maps["valid"].astype(bool)
else:
    maps, shifts = bz.xanes.aligned_edge_maps(stack, energy, block_px=block_px, show_progress=False)
    if mode == "zarr":
        import dask
        with dask.config.set(scheduler="threads", num_workers=2):
            maps = dict(zip(maps, dask.compute(*maps.values())))
    extra["maps_s"] = time.perf_counter() - t0
masks = bz.xanes.masks(maps)
r = np.arange(n, dtype=np.int32) // 4  # regions of 4³ voxels, as scaling_stages labels them
labels = 1 + r[:, None, None] * (n // 4 + 1) ** 2 + r[None, :, None] * (n // 4 + 1) + r[None, None, :]
stats = bz.xanes.region_edge_stats(maps, labels, mask=masks["mask"])
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "peak_bytes": rss(), "n_regions": int(len(stats)),
                  "cpu_s": usage.ru_utime + usage.ru_stime - cpu0,
                  "masked_voxels": int(masks["mask"].sum()), **extra}))
"""


def _run(args: list[str], env_extra: dict | None = None) -> dict | None:
    env = dict(os.environ, BATTERYZOOM_PROGRESS="0", PYTHONPATH=str(ROOT / "toolkit"), **(env_extra or {}))
    env.setdefault("BATTERYZOOM_CACHE", str(ROOT / ".cache" / "batteryzoom"))
    done = subprocess.run([sys.executable, "-c", _RUN, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _store(n: int, path: Path, chunk: int, codec: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "toolkit"))
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "xanes_stream_store.py"), str(n), str(path),
                    str(chunk), codec], env=env, check=True, capture_output=True)


def _note(r: dict) -> str:
    text = (f"peak {r['peak_bytes'] / 1e9:.2f} GB; maps {r['maps_s']:.1f} s; CPU {r['cpu_s']:.0f} s; "
            f"{r['n_regions']} regions")
    if "stack_bytes" in r:
        text += f"; the in-memory float16 stack {r['stack_bytes'] / 1e9:.2f} GB of it"
    if "worker_peak_bytes" in r:
        text += "; worker peaks " + ", ".join(f"{b / 1e9:.2f}" for b in r["worker_peak_bytes"]) + " GB"
    return text


@case("xanes")
def xanes_streamed_pipeline():
    n = int(os.environ.get("BZ_BENCH_XANES_STREAM_N", "128"))
    base = os.environ.get("BZ_BENCH_XANES_STREAM_DIR")
    rows = []
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        store = Path(tmp) / f"xanes{n}.zarr"
        _store(n, store, 32, "none")
        for mode in ("zarr", "float16"):
            r = _run([mode, str(store), "128"])
            if r:
                rows.append(Measurement(f"streamed XANES pipeline 60 x {n}^3 from {mode}", r["seconds"], goal=30.0,
                                        note=_note(r), extra={"n": n, "mode": mode, **r}))
        shutil.rmtree(store, ignore_errors=True)
        if os.environ.get("BZ_BENCH_XANES_512"):
            store = Path(tmp) / "xanes512.zarr"
            _store(512, store, 64, "zstd")
            r = _run(["cluster", str(store), "128"])
            if r:
                rows.append(Measurement("streamed XANES pipeline 60 x 512^3, zarr, 2-worker LocalCluster",
                                        r["seconds"], note=_note(r), extra={"n": 512, "mode": "cluster", **r}))
    return rows
