"""Grain count of bz.segment.segment_grains against the voxel size, and why it undercounts.

    PYTHONPATH=toolkit python toolkit/scripts/grain_count_vs_voxel.py [--sizes 112,141,178,224,282]

The twin's particle nano-CT (112³ of 80 nm) is resampled (trilinear, ``scipy.ndimage.zoom``)
to each grid of the same 8.96 µm box before segmentation, as in issue #25; the true labels are
resampled by nearest neighbour for the adjusted Rand index (solid voxels). Then, on the
twin's own grid, the true grains are split by size and depth below the surface into those
the segmentation finds (one segment holds more than half of the grain, and the grain more
than half of that segment) and those it does not: the reason for the undercount.

Prints one line per grid and the breakdown; writes nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr
from scipy import ndimage
from scipy.sparse import coo_matrix

import batteryzoom as bz


def found_grains(truth: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, found)``: the true grain ids and whether one segment matches each (> 50 % both ways)."""
    m = (truth > 0) & (labels > 0)
    table = coo_matrix((np.ones(m.sum()), (truth[m], labels[m]))).tocsr()
    t_size, s_size = np.bincount(truth.ravel()), np.bincount(labels.ravel())
    ids = np.nonzero(t_size)[0]
    ids = ids[ids > 0]
    found = np.zeros(len(ids), bool)
    for k, g in enumerate(ids):
        row = table.getrow(g)
        if row.nnz:
            j, overlap = row.indices[np.argmax(row.data)], row.data.max()
            found[k] = overlap > 0.5 * t_size[g] and overlap > 0.5 * s_size[j]
    return ids, found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="112,141,178,224,282", help="grid edges (voxels) of the 8.96 µm box")
    args = ap.parse_args()
    nano = bz.data.load("twin/particle-nanoct")
    truth = bz.data.load("twin/particle-nanoct", part="grains").values
    table = bz.data.load("twin/particle-nanoct", part="grain_table").set_index("label")
    n_true = len(table)
    own = nano.shape[0]
    print(f"true grains: {n_true}")
    print("grid   voxel_nm  grains  vs_truth  ARI    seconds")
    for n in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        f = n / own
        grey = nano.values if n == own else ndimage.zoom(nano.values, f, order=1)
        voxel = float(nano.attrs["voxel_size_um"][0]) * own / n
        da = xr.DataArray(grey, dims=("z", "y", "x"), attrs={"voxel_size_um": [voxel] * 3})
        res = bz.segment.segment_grains(da)
        secs = time.perf_counter() - t0
        lab_true = truth if n == own else ndimage.zoom(truth, f, order=0)
        ari = bz.segment.adjusted_rand_index(lab_true, res.labels.values, mask=lab_true > 0)
        count = len(res.table)
        print(f"{n:4d}³  {1000 * voxel:7.1f}  {count:6d}  {count / n_true - 1:+7.1%}  {ari:.3f}  {secs:6.1f}",
              flush=True)
        if n == own:
            ids, found = found_grains(truth, res.labels.values)
            size = np.bincount(truth.ravel())[ids]
            depth = table.loc[ids, "distance_from_surface_um"].to_numpy()
            print("  on the own grid, true grains found by size (voxels):")
            for lo, hi in ((0, 20), (20, 50), (50, 150), (150, 400), (400, None)):
                s = (size >= lo) & (size < (hi or np.inf))
                print(f"    {lo:>4}-{hi or '':<4} {s.sum():5d} true, {found[s].sum():5d} found, "
                      f"median centroid depth {np.median(depth[s]):.2f} µm")
            seg_d = np.median(res.table["equivalent_diameter_um"])
            true_d = np.median(table["equivalent_diameter_um"])
            print(f"  median equivalent diameter {seg_d:.3f} µm vs {true_d:.3f} µm true ({seg_d / true_d - 1:+.0%})")


if __name__ == "__main__":
    main()
