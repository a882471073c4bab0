"""Cell CT at instrument size: does ``bz.cell.analyze_volume`` stream? (issue #29)

A synthetic 2000 × 2000 px × N-slice uint16 CT of the twin's cell geometry (the twin's
736² × 64 slab at 25 µm upsampled: 9.2 µm pixels, 8 µm slices) is written to a zarr
store one slice per chunk, then analysed read lazily from that store:

    python toolkit/scripts/cell_large.py make /tmp/cell2000.zarr --slices 200
    python toolkit/scripts/cell_large.py run /tmp/cell2000.zarr --slices 50
    python toolkit/scripts/cell_large.py run /tmp/cell2000.zarr --slices 200
    python toolkit/scripts/cell_large.py run /tmp/cell2000.zarr --slices 40 --workers 2

``run`` prints one JSON line: wall time, seconds per slice, the peak resident memory of
this process (``ru_maxrss``) and the resident memory sampled every 0.5 s (psutil) at each
quarter of the run (flat memory: the last quarter no higher than the first); with
``--workers`` the slices run on a ``dask.distributed`` LocalCluster of that many
single-threaded worker processes, each worker's peak reported. Run it under ``nice -n 19``
on a shared machine. The README's "Large data" section quotes its numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
import warnings

import numpy as np

PIXELS = 2000


def make(path: str, n_slices: int) -> None:
    """The upsampled twin cell CT as a zarr array (chunks of one slice), slice by slice."""
    import zarr
    from scipy import ndimage

    import batteryzoom as bz

    twin = bz.data.load("twin/cell-ct", lazy=False)
    src = twin.values
    vz, vy, _ = (float(v) for v in twin.attrs["voxel_size_um"])
    scale = PIXELS / src.shape[1]
    voxel = [vz * (src.shape[0] - 1) / max(n_slices - 1, 1), vy / scale, vy / scale]
    out = zarr.open_array(path, mode="w", shape=(n_slices, PIXELS, PIXELS), chunks=(1, PIXELS, PIXELS),
                          dtype=np.uint16)
    out.attrs["voxel_size_um"] = voxel
    for k in range(n_slices):
        z = k * (src.shape[0] - 1) / max(n_slices - 1, 1)
        z0 = min(int(np.floor(z)), src.shape[0] - 2)
        w = z - z0
        plane = (1 - w) * src[z0].astype(np.float32) + w * src[z0 + 1].astype(np.float32)
        big = ndimage.zoom(plane, PIXELS / plane.shape[0], order=1)[:PIXELS, :PIXELS]
        out[k] = np.clip(np.rint(big), 0, 65535).astype(np.uint16)
    print(json.dumps({"path": path, "shape": [n_slices, PIXELS, PIXELS], "voxel_size_um": voxel}))


def _lazy(path: str, n_slices: int):
    """The first ``n_slices`` of the store as a dask-backed DataArray with its voxel size."""
    import dask.array as da
    import xarray as xr
    import zarr

    arr = zarr.open_array(path, mode="r")
    data = da.from_zarr(arr)[:n_slices]
    voxel = [float(v) for v in arr.attrs["voxel_size_um"]]
    coords = {d: np.arange(n) * v for d, n, v in zip(("z", "y", "x"), data.shape, voxel)}
    return xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name="ct",
                        attrs={"voxel_size_um": voxel, "units": "grey value"})


class _Sampler(threading.Thread):
    """Resident memory of this process every ``dt`` seconds."""

    def __init__(self, dt: float = 0.5):
        super().__init__(daemon=True)
        import psutil

        self.proc, self.dt, self.samples, self.stop = psutil.Process(), dt, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.proc.memory_info().rss)
            time.sleep(self.dt)


def _worker_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(path: str, n_slices: int, workers: int) -> dict:
    import batteryzoom as bz

    warnings.simplefilter("ignore")
    ct = _lazy(path, n_slices)
    client = cluster = None
    if workers:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit="4GB")
        client = Client(cluster)
    sampler = _Sampler()
    sampler.start()
    t0 = time.perf_counter()
    res = bz.cell.analyze_volume(ct, progress=False, parallel=bool(workers))
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    out = {"slices": n_slices, "pixels": PIXELS, "workers": workers, "seconds": round(seconds, 1),
           "s_per_slice": round(seconds / n_slices, 2), "ok_slices": int((res.summary.status == "ok").sum()),
           "defects": len(res.defects), "peak_rss_gb": round(_worker_peak() / 1e9, 3)}
    s = np.asarray(sampler.samples, float) / 1e9
    if s.size >= 4:
        q = np.array_split(s, 4)
        out["rss_max_by_quarter_gb"] = [round(float(part.max()), 3) for part in q]
    if client is not None:
        peaks = client.run(_worker_peak)
        out["worker_peak_rss_gb"] = [round(v / 1e9, 3) for v in peaks.values()]
        client.close()
        cluster.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("make", "run"))
    parser.add_argument("path")
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0, help="a LocalCluster of this many workers (0: none)")
    args = parser.parse_args()
    os.environ.setdefault("BATTERYZOOM_PROGRESS", "0")
    if args.action == "make":
        make(args.path, args.slices)
    else:
        print(json.dumps(run(args.path, args.slices, args.workers)))


if __name__ == "__main__":
    main()
