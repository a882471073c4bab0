"""How heterogeneous a map is: its variance split between and within regions.

The law of total variance over all labelled voxels: ``total = between + within``, where
``between`` is the spread of the region means (weighted by size) and ``within`` the
size-weighted mean of the regions' own variances. ``between / total`` (the correlation
ratio η²) is the share of the variance explained by which region a voxel is in: for the
Ni K-edge energy of a particle's grains, inter- against intra-granular heterogeneity.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._inputs import _check_inputs
from .stats import RegionStats, _region_stats

__all__ = ["Heterogeneity", "heterogeneity"]


@dataclass(frozen=True)
class Heterogeneity:
    """The variance of a map over all labelled voxels, split by regions.

    ``total_var = between_var + within_var`` (law of total variance, population
    variances, value units squared). ``between_fraction`` is the correlation ratio η²:
    the share of the variance explained by which region a voxel is in.
    """

    total_var: float
    between_var: float
    within_var: float
    between_fraction: float
    within_fraction: float
    grand_mean: float
    n_regions: int
    n_voxels: int

    def as_series(self) -> pd.Series:
        """The numbers as a pandas Series (for a table or a report)."""
        return pd.Series(self.__dict__)


def heterogeneity(
    values: Any,
    labels: Any = None,
    *,
    mask: Any = None,
    progress: bool | None = None,
) -> Heterogeneity:
    """Split the variance of a map into between-region and within-region parts.

    Parameters
    ----------
    values : array_like (numpy, dask, xarray) or RegionStats
        The map (with ``labels``), or the result of :func:`region_stats` (no new pass).
    labels : array_like of int, optional
        Region labels (0 = background), required with a map.
    mask : array_like of bool, optional
        Only voxels where True.

    Returns
    -------
    Heterogeneity
        ``between_var = Σ n_i (mean_i − mean)² / N``, ``within_var = Σ n_i std_i² / N``,
        their sum and fractions; N counts finite labelled voxels. The fractions are NaN
        (with a warning) when the map has no variance.

    Examples
    --------
    Two regions with means 2 and 6, each of variance 1:

    >>> import numpy as np, batteryzoom as bz
    >>> h = bz.regions.heterogeneity(np.array([1.0, 3.0, 5.0, 7.0]), np.array([1, 1, 2, 2]))
    >>> h.total_var, h.between_var, h.within_var, h.between_fraction
    (5.0, 4.0, 1.0, 0.8)

    From statistics already computed (no new pass over the map):

    >>> stats = bz.regions.region_stats(np.array([1.0, 3.0, 5.0, 7.0]), np.array([1, 1, 2, 2]))
    >>> bz.regions.heterogeneity(stats).grand_mean
    4.0
    """
    if isinstance(values, RegionStats):
        table, name = values.table, values.name
    else:
        if labels is None:
            raise InputError("labels: required when values is a map (or pass a RegionStats)")
        v, lab, m = _check_inputs(values, labels, mask)
        res = _region_stats(
            v, lab, m, bins=1, value_range=None, percentiles=[], name="value", frame=None,
            bandwidth=None, subbins=1, show=progress, histogram=False,
        )
        table, name = res.table, "value"
    table = table[table["count"] > 0]
    if table.empty:
        raise InputError("values: no finite value inside the labelled regions")
    n = table["count"].to_numpy(float)
    mean = table[f"{name}_mean"].to_numpy(float)
    var = table[f"{name}_std"].to_numpy(float) ** 2
    total_n = n.sum()
    grand = float(np.sum(n * mean) / total_n)
    between = float(np.sum(n * (mean - grand) ** 2) / total_n)
    within = float(np.sum(n * var) / total_n)
    total = between + within
    if total <= 0:
        warnings.warn(
            "values: the map has no variance inside the labelled regions (every value the same), "
            "so between_fraction and within_fraction are NaN",
            UserWarning,
            stacklevel=2,
        )
    return Heterogeneity(
        total_var=total,
        between_var=between,
        within_var=within,
        between_fraction=between / total if total > 0 else float("nan"),
        within_fraction=within / total if total > 0 else float("nan"),
        grand_mean=grand,
        n_regions=int(len(table)),
        n_voxels=int(total_n),
    )
