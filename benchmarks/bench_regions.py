"""bz.regions: per-region statistics of a 256³ float32 map over ~2,000 grains.

Ours: ``region_stats`` (count, NaNs, mean, std, median and percentiles, the shared
histogram, peak and FWHM) against

- one numpy pass over the map (``values.sum()``): the memory-bandwidth floor the issue
  states the goal against (≤ 2×);
- one labelled pass (``numpy.bincount(labels, weights=values)``): the cheapest
  per-label reduction numpy has, i.e. the mean alone.

and the dask path (the same map in 64³ chunks) against one dask pass (``sum()``).
"""

from __future__ import annotations

import numpy as np
from harness import Measurement, case, median_time
from scipy.spatial import cKDTree

import batteryzoom as bz


def _grain_map(n: int = 256, n_grains: int = 2000, seed: int = 0):
    """Voronoi grains (drawn on a 32³ grid, upsampled 8×) with a per-grain edge energy."""
    rng = np.random.default_rng(seed)
    coarse = n // 8
    seeds = rng.uniform(0, coarse, (n_grains, 3))
    grid = np.stack(np.meshgrid(*[np.arange(coarse) + 0.5] * 3, indexing="ij"), -1).reshape(-1, 3)
    lab = (cKDTree(seeds).query(grid)[1] + 1).reshape((coarse,) * 3).astype(np.int32)
    labels = lab.repeat(8, 0).repeat(8, 1).repeat(8, 2)
    mean_ev = rng.normal(8342.0, 0.5, n_grains + 1)
    values = (mean_ev[labels] + rng.normal(0, 0.4, labels.shape)).astype(np.float32)
    return values, labels


@case("regions")
def region_stats_2000_grains_256cubed():
    values, labels = _grain_map()
    n_labels = int(np.unique(labels).size)
    stats = bz.regions.region_stats(values, labels, name="edge_energy_ev", progress=False)
    assert len(stats) == n_labels
    ours = median_time(lambda: bz.regions.region_stats(values, labels, progress=False), repeat=3)
    one_pass = median_time(lambda: values.sum(), repeat=5)
    v64 = values.astype(np.float64)
    flat = labels.ravel()
    labelled = median_time(lambda: np.bincount(flat, weights=v64.ravel()), repeat=3)
    note = f"{n_labels} grains; floor of 3 bincounts/voxel in numpy"
    return [
        Measurement("region_stats 256³, ~2000 grains vs values.sum()", ours, one_pass, goal=2.0, note=note),
        Measurement("region_stats 256³ vs one np.bincount(labels, w)", ours, labelled),
    ]


@case("regions")
def region_stats_dask_path():
    import dask.array as da

    values, labels = _grain_map()
    dv = da.from_array(values, chunks=64)
    dl = da.from_array(labels, chunks=64)
    ours = median_time(lambda: bz.regions.region_stats(dv, dl, progress=False), repeat=3)
    one_pass = median_time(lambda: dv.sum().compute(), repeat=3)
    numpy_path = median_time(lambda: bz.regions.region_stats(values, labels, progress=False), repeat=3)
    return [
        Measurement("region_stats dask 64³ chunks vs dask sum()", ours, one_pass, goal=2.0),
        Measurement("region_stats dask vs numpy path", ours, numpy_path),
    ]
