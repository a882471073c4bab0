"""Percentiles (and median) per region from a fine histogram, and the histogram's sums.

A region's percentiles come from its fine histogram (``bins * subbins`` bins over the value
range, plus an under- and an overflow bin), the density taken as uniform inside each fine
bin: the error is below one fine bin (:attr:`RegionStats.percentile_resolution_`). A
region with one value (one voxel, or no spread) gets that value exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import _kernels
from ._engine import _run_row_ranges


def _hist_percentiles(
    counts_ext: np.ndarray, total: np.ndarray, lo: float, width: float, qs: Sequence[float]
) -> np.ndarray:
    """Percentiles of each row of an extended histogram (underflow, bins..., overflow).

    The density is taken as uniform inside each bin (linear interpolation of the CDF).
    NaN when the percentile falls in the under/overflow bin or the row is empty.

    Returns
    -------
    numpy.ndarray, shape (len(qs), n_rows)
    """
    if _kernels.enabled():
        from .._kernels.regions import hist_percentiles

        qs_arr = np.asarray(qs, np.float64).reshape(-1)
        out = np.empty((qs_arr.size, counts_ext.shape[0]))
        args = (counts_ext, np.asarray(total, np.float64), float(lo), float(width), qs_arr,
                np.argsort(qs_arr, kind="stable"), out)
        _run_row_ranges(hist_percentiles, args, counts_ext.shape[0])
        return out
    n_rows, width_ext = counts_ext.shape
    cum = np.cumsum(counts_ext, axis=1)
    nonempty = counts_ext > 0
    rows = np.arange(n_rows)
    out = np.full((len(qs), n_rows), np.nan)
    for k, q in enumerate(qs):
        target = q / 100.0 * total
        hit = (cum >= target[:, None] - 1e-9 * np.maximum(total, 1)[:, None]) & nonempty
        c = np.argmax(hit, axis=1)
        found = hit[rows, c] & (total > 0)
        prev = np.where(c > 0, cum[rows, np.maximum(c - 1, 0)], 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip((target - prev) / counts_ext[rows, c], 0.0, 1.0)
        x = lo + (c - 1 + frac) * width
        inside = found & (c >= 1) & (c <= width_ext - 2)
        out[k] = np.where(inside, x, np.nan)
    return out


def _fine_row_sums(counts_ext: np.ndarray, bins: int, subbins: int) -> tuple[np.ndarray, np.ndarray]:
    """``(total, hists)`` of an extended fine histogram ``(n_rows, bins * subbins + 2)``:
    every count of a row, shape (n_rows,), and its display histogram, (n_rows, bins);
    both int64."""
    n_rows = counts_ext.shape[0]
    if not _kernels.enabled():
        inner = counts_ext[:, 1:-1]
        return counts_ext.sum(axis=1), inner.reshape(n_rows, bins, subbins).sum(axis=2)
    from .._kernels.regions import fine_row_sums

    total = np.empty(n_rows, np.int64)
    hists = np.empty((n_rows, bins), np.int64)
    _run_row_ranges(fine_row_sums, (counts_ext, subbins, total, hists), n_rows)
    return total, hists


def _pct_name(q: float) -> str:
    return f"p{q:g}".replace(".", "_") if not float(q).is_integer() else f"p{int(q)}"


def _region_percentiles(fine_ext: np.ndarray, count: np.ndarray, mean: np.ndarray, var: np.ndarray, lo: float,
                        fine_w: float, percentiles: Sequence[float]) -> dict[float, np.ndarray]:
    """``{q: values}`` for the requested percentiles and 25, 50, 75 (the median and the
    IQR of the widths' bandwidth), one value per row of ``fine_ext``; exact (the mean)
    where a region has one value."""
    qs = sorted(set(percentiles) | {50.0, 25.0, 75.0})
    pvals = dict(zip(qs, _hist_percentiles(fine_ext, count.astype(float), lo, fine_w, qs)))
    # exact where the region has one value (one voxel, or no spread)
    degenerate = (var == 0) & (count > 0)
    for q in qs:
        pvals[q] = np.where(degenerate, mean, pvals[q])
    return pvals
