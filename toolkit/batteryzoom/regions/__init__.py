"""Statistics of a scalar map per labelled region, and how heterogeneous the map is.

Any scalar map (edge energy in eV, grey level, crack fraction) measured over any label
image (particles, grains, depth shells): per-label count, mean, standard deviation,
median and percentiles, a histogram on one shared binning, and the distribution's peak
and full width at half maximum (FWHM) -- the numbers the study compares between two
grains in its Fig. S3 (grain 2 has the higher mean edge energy; grain 1 the wider
distribution).

>>> import numpy as np, batteryzoom as bz
>>> grain_labels = np.array([[1, 1, 2, 2], [1, 1, 2, 2]])
>>> edge_map_ev = np.array([[8341.0, 8342.0, 8342.4, 8342.6], [8341.4, 8341.6, 8342.5, 8342.5]])
>>> stats = bz.regions.region_stats(edge_map_ev, grain_labels, name="edge_energy_ev")
>>> stats.table.loc[[1, 2], ["count", "edge_energy_ev_mean"]]
       count  edge_energy_ev_mean
label
1          4               8341.5
2          4               8342.5

One module per technique:

- :mod:`.stats`: :func:`region_stats` and its result :class:`RegionStats` (one pass over
  the voxels, numpy or dask, by compiled kernels; the module says how, and how precise);
- :mod:`.widths`: peak and FWHM of a distribution (:func:`peak_and_fwhm`, :func:`fwhm`);
- :mod:`.percentiles`: percentiles from a fine histogram;
- :mod:`.clipping`: per-region sigma clipping against a segmentation's stray voxels
  (:func:`sigma_clip`, :func:`truncated_normal_variance`; ``region_stats(...,
  clip_sigma=3)``);
- :mod:`.heterogeneity`: the variance split between and within regions
  (:func:`heterogeneity`);
- :mod:`.profiles`: distance from a surface and surface-to-core profiles
  (:func:`surface_distance_um`, :func:`radial_profile`);
- :mod:`.selection`: results indexed for constant-time selection by the widgets, plots
  and viewer (:class:`RegionLookup`, :class:`RegionSummary`).

The block engine the passes share is :mod:`._engine` (numpy slabs or dask chunks through
:func:`batteryzoom._blocks.iter_blocks`); input checks are in :mod:`._inputs`.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
