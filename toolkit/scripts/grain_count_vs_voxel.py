"""Grain count of bz.segment.segment_grains against the voxel size, in both routes.

    PYTHONPATH=toolkit python toolkit/scripts/grain_count_vs_voxel.py [--sizes 112,141,178,224,282]
        [--markers valleys|distance] [--raw]

The twin's particle nano-CT (112³ of 80 nm) is resampled (trilinear, ``scipy.ndimage.zoom``)
to each grid of the same 8.96 µm box before segmentation, as in issue #25; the true labels are
resampled by nearest neighbour for the adjusted Rand index (solid voxels). Then, on the
twin's own grid, the true grains are split by size and depth below the surface into those
the segmentation finds (one segment holds more than half of the grain, and the grain more
than half of that segment) and those it does not. ``--raw`` adds the honest route: the raw
propagation-based acquisition (``twin/particle-nanoct-raw``), Paganin retrieval and
reconstruction, then the same segmentation. ``--markers distance`` runs the former method
(issue #25's -27 %). The adjusted Rand index is over the truth's solid voxels (cracks and
pores left out), as the report's.

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
    ap.add_argument("--markers", default="valleys", choices=("valleys", "distance"),
                    help="segment_grains' marker method (distance: the former one)")
    ap.add_argument("--raw", action="store_true", help="also the route from the raw acquisition")
    args = ap.parse_args()
    nano = bz.data.load("twin/particle-nanoct")
    truth = bz.data.load("twin/particle-nanoct", part="grains").values
    solid = truth > 0
    for part in ("cracks", "pores"):
        solid &= ~bz.data.load("twin/particle-nanoct", part=part).values
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
        res = bz.segment.segment_grains(da, markers=args.markers)
        secs = time.perf_counter() - t0
        lab_true = truth if n == own else ndimage.zoom(truth, f, order=0)
        lab_solid = solid if n == own else ndimage.zoom(solid.astype(np.uint8), f, order=0).astype(bool)
        ari = bz.segment.adjusted_rand_index(lab_true, res.labels.values, mask=lab_solid)
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
    if args.raw:
        raw_route(args.markers, truth, solid, n_true)


def raw_route(markers: str, truth: np.ndarray, solid: np.ndarray, n_true: int) -> None:
    """The raw acquisition -> Paganin + reconstruction (axis found, no stripe removal) -> grains."""
    name = "twin/particle-nanoct-raw"
    acq, model = bz.data.load(name), bz.data.load(name, part="model")
    vol = bz.tomo.reconstruct(acq, phase={"delta_beta": model["delta_beta"], "distance_m": model["distance_m"]},
                              rings=False, progress=False)
    (r, c, _), n = model["truth_origin_px"], truth.shape[0]
    rec = vol[r:r + n, c:c + n, c:c + n]
    t0 = time.perf_counter()
    res = bz.segment.segment_grains(rec, markers=markers)
    secs = time.perf_counter() - t0
    ari = bz.segment.adjusted_rand_index(truth, res.labels.values, mask=solid)
    ids, found = found_grains(truth, res.labels.values)
    count = len(res.table)
    print(f"raw route (Paganin + reconstruction, {n}³): {count} grains ({count / n_true - 1:+.1%}), ARI {ari:.3f}, "
          f"{found.sum()} true grains found, segment_grains {secs:.1f} s")


if __name__ == "__main__":
    main()
