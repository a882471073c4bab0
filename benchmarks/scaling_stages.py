"""One stage of the scaling table (``bench_scaling.py``), in its own process.

    python scaling_stages.py make STAGE N PATH   # the input of STAGE at size N, to PATH (.npy)
    python scaling_stages.py run STAGE N PATH    # STAGE on it: one JSON line

``run`` loads the input, then times the stage and reports the process's peak resident
memory (``ru_maxrss``, the loaded input included) and the input's bytes. Inputs:

- ``xanes``: 60 energies × N³ (the synthetic stack of ``bench_xanes_scaling``), the
  pipeline align → normalize → edge maps → masks → per-region statistics (4³-voxel
  regions standing in for grains);
- ``particles`` / ``porespy``: the twin electrode (0.5 µm voxels) mirrored to N³;
  ``segment_particles`` (default ``chunk_voxels="auto"``: blocks above 256³;
  ``BZ_BENCH_CHUNK_VOXELS=128`` forces blocks; no crack columns) or PoreSpy's ``snow_partitioning`` of the same solid (the volume thresholded
  at segment_particles' threshold);
- ``grains``: the twin particle nano-CT (80 nm) mirrored to N³, ``segment_grains``;
- ``cell``: the first N slices of the twin cell CT (736² px), ``analyze_volume``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import warnings

import numpy as np


def _mirrored(volume: np.ndarray, n: int) -> np.ndarray:
    """``volume`` mirrored (symmetric padding: no seams) and cut to ``n``³."""
    pad = [(0, max(0, n - s)) for s in volume.shape]
    return np.ascontiguousarray(np.pad(volume, pad, mode="symmetric")[:n, :n, :n])


def make(stage: str, n: int, path: str) -> None:
    import batteryzoom as bz

    if stage == "xanes":
        sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
        import subprocess

        from bench_xanes_scaling import _MAKE

        subprocess.run([sys.executable, "-c", _MAKE, str(n), path], check=True)
        return
    if stage in ("particles", "porespy"):
        vol = _mirrored(bz.data.load("twin/electrode-ct", lazy=False).values, n)
    elif stage == "grains":
        vol = _mirrored(bz.data.load("twin/particle-nanoct", lazy=False).values, n)
    elif stage == "cell":
        vol = bz.data.load("twin/cell-ct", lazy=False).values[:n]
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    np.save(path, vol)


def run(stage: str, n: int, path: str) -> dict:
    import batteryzoom as bz

    warnings.simplefilter("ignore")
    vol = np.load(path)
    extra = {}
    if stage == "xanes":
        energy = np.load(path + ".energy.npy")
        t0 = time.perf_counter()
        aligned, _ = bz.xanes.align(vol, energy, show_progress=False)
        bz.xanes.normalize(aligned, energy, e0="mean")
        maps = bz.xanes.edge_maps(aligned, energy)
        bz.xanes.masks(maps)
        regions = np.indices(vol.shape[1:]).__floordiv__(4)
        labels = 1 + regions[0] * (n // 4 + 1) ** 2 + regions[1] * (n // 4 + 1) + regions[2]
        bz.xanes.region_edge_stats(maps, labels)
    elif stage in ("particles", "porespy"):
        v = 0.5
        if stage == "particles":
            t0 = time.perf_counter()
            chunk = os.environ.get("BZ_BENCH_CHUNK_VOXELS", "auto")  # an int forces blocks
            res = bz.segment.segment_particles(vol, voxel_size_um=v, cracks=False, progress_bar=False,
                                               chunk_voxels=chunk if chunk == "auto" else int(chunk))
            extra = {"n_objects": len(res.table)}
        else:
            import porespy as ps
            from scipy import ndimage

            threshold = bz.segment.phase_thresholds(vol, 3)[-1]
            solid = ndimage.gaussian_filter(vol, 0.5) > threshold
            del vol
            t0 = time.perf_counter()
            snow = ps.filters.snow_partitioning(solid)
            extra = {"n_objects": int(snow.regions.max())}
    elif stage == "grains":
        t0 = time.perf_counter()
        res = bz.segment.segment_grains(vol, voxel_size_um=0.08)
        extra = {"n_objects": int(res.labels.max())}
    elif stage == "cell":
        ct = bz.data.load("twin/cell-ct")
        t0 = time.perf_counter()
        bz.cell.analyze_volume(ct.isel(z=slice(0, n)), progress=False)
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    seconds = time.perf_counter() - t0
    return {"stage": stage, "n": n, "seconds": seconds, "input_bytes": int(np.load(path, mmap_mode="r").nbytes),
            "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, **extra}


if __name__ == "__main__":
    action, stage, n, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if action == "make":
        make(stage, n, path)
    else:
        print(json.dumps(run(stage, n, path)))
