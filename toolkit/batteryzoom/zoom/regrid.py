"""A label image carried from one level's grid onto another's (majority vote)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["regrid_labels"]


def regrid_labels(hierarchy: Any, labels: Any, src: str, dst: str, *, min_purity: float | None = None) -> Any:
    """:meth:`Hierarchy.regrid_labels <batteryzoom.zoom.Hierarchy.regrid_labels>`, on ``hierarchy``."""
    import xarray as xr

    ls, ld = hierarchy[src], hierarchy[dst]
    if ls.shape is None or ld.shape is None:
        raise InputError(f"regrid_labels: {src if ls.shape is None else dst} has no known shape")
    if min_purity is not None and not (isinstance(min_purity, (int, float, np.floating)) and 0 < min_purity <= 1):
        raise InputError(f"min_purity={min_purity!r}: give a fraction in (0, 1], e.g. 0.75, or None")
    lab = np.asarray(labels.values if hasattr(labels, "dims") else labels)
    if lab.shape != tuple(ls.shape) or not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"labels: need integer labels of {src}'s shape {ls.shape}, got {lab.dtype} {lab.shape}")
    vs, vd = np.asarray(ls.voxel_size_um), np.asarray(ld.voxel_size_um)
    off = hierarchy.map_points(np.zeros(ls.ndim), src, dst)  # src voxel 0's centre, in dst's frame
    if np.all(vd >= vs):
        # dst index of every src voxel centre, per axis (-1 when outside dst)
        axes = []
        for a in range(ls.ndim):
            i = np.floor((off[a] + np.arange(ls.shape[a]) * vs[a]) / vd[a] + 0.5).astype(np.int64)
            axes.append(np.where((i >= 0) & (i < ld.shape[a]), i, -1))
        grids = np.meshgrid(*axes, indexing="ij")
        inside = np.all([g >= 0 for g in grids], axis=0)
        flat = np.ravel_multi_index(tuple(g[inside] for g in grids), ld.shape)
        values = lab[inside]
        if values.min(initial=0) < 0:
            raise InputError("labels: negative labels; labels are 0 (background) or positive")
        # count (dst voxel, label) pairs, then keep the most counted label of each dst voxel
        n_labels = int(values.max(initial=0)) + 1
        pairs, counts = np.unique(flat * n_labels + values.astype(np.int64), return_counts=True)
        voxel, label = np.divmod(pairs, n_labels)
        order = np.lexsort((-counts, voxel))  # by voxel, most votes first (ties: smaller label)
        first = order[np.r_[True, voxel[order][1:] != voxel[order][:-1]]]
        out = np.zeros(int(np.prod(ld.shape)), np.int64)
        out[voxel[first]] = label[first]
        if min_purity is not None:
            # the winner's share of the labelled centres (background votes left out, so
            # a grain's surface voxels stay: they hold one grain)
            labelled = np.bincount(voxel[label > 0], weights=counts[label > 0], minlength=out.size)
            share = counts[first] / np.maximum(labelled[voxel[first]], 1)
            out[voxel[first][(label[first] > 0) & (share < min_purity)]] = 0
        out = out.reshape(ld.shape)
    else:
        idx = []
        for a in range(ld.ndim):
            i = np.rint((np.arange(ld.shape[a]) * vd[a] - off[a]) / vs[a]).astype(np.int64)
            idx.append(i)
        grids = np.meshgrid(*idx, indexing="ij")
        inside = np.all([(g >= 0) & (g < n) for g, n in zip(grids, ls.shape)], axis=0)
        out = np.zeros(ld.shape, np.int64)
        out[inside] = lab[tuple(g[inside] for g in grids)]
    coords = {d: np.arange(n) * v for d, n, v in zip(ld.dims, ld.shape, ld.voxel_size_um)}
    return xr.DataArray(out.astype(np.int32), dims=ld.dims, coords=coords, name="labels",
                        attrs={"voxel_size_um": [float(v) for v in ld.voxel_size_um], "level": dst,
                               "regridded_from": src})
