"""Statistics of a scalar map in every labelled region, in one pass over the voxels.

How it is computed
------------------
One pass over the voxels, block by block (numpy slabs on one thread per core, or dask
chunks, never the whole dask array at once), by a compiled kernel
(:mod:`batteryzoom._kernels.regions`, numba; the ``numpy.bincount`` formulation it
replaces is kept as its reference, ``BATTERYZOOM_NUMBA=0``, and gives identical
numbers) -- no Python loop over labels touches the volume. A first pass finds the label
and value ranges (for float32/float64 maps on the values' bit patterns, which vectorizes)
and counts the finite labelled values: when every one is finite and there is no mask,
the second pass skips its per-voxel checks. Each block of
the second pass contributes, per label, the count of non-finite values, the sum and
the sum of squares of ``value - ref`` (``ref`` is the middle of the value range; the shift
keeps the one-pass variance accurate for maps like edge energies near 8342 eV whose
spread is ~1 eV), and a *fine* histogram: ``bins * subbins`` bins over the value range
plus an under- and an overflow bin. The fine histogram is summed into the shared display
histogram (``bins`` bins) and gives the percentiles, the peak and the FWHM.

Precision
---------
- ``count``, ``n_nan``, ``mean``, ``std``: exact arithmetic in float64 (sums of the shifted
  values; relative rounding ~ n·1e-16). ``std`` is the population standard deviation
  (ddof = 0). A variance below the resolution of the one-pass formula
  (``3·n·eps·mean((v - ref)²)``) is reported as exactly 0, so a constant region has
  ``std = fwhm = 0``.
- percentiles and median: from the fine histogram, interpolated linearly inside the
  fine bin; the error is below one fine bin, ``(hi - lo) / (bins · subbins)``
  (:attr:`RegionStats.percentile_resolution_`; 0.015 eV for a 15 eV range with the
  defaults). Regions with one voxel or no spread get exact percentiles (the value).
- peak and FWHM: see :func:`peak_and_fwhm` (binned Gaussian KDE, Silverman bandwidth,
  bandwidth and binning removed in quadrature: unbiased for Gaussian distributions).
- volume: every voxel of the region times the voxel volume, in ``volume_um3`` when the
  map's frame is known (:func:`batteryzoom.frames.frame_of`), else in voxels,
  ``volume_px3`` (the frame's policy for a length that is only reported).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..frames import Frame, frame_of
from ._engine import _accumulate, _labels_plan, _make_plan, _Plan, _scan
from ._inputs import _check_inputs
from .clipping import _CLIP_MAX_ITER, _sigma_clip, truncated_normal_variance
from .percentiles import _fine_row_sums, _pct_name, _region_percentiles
from .widths import FWHM_PER_SIGMA, _region_widths, _smooth_rows

__all__ = ["RegionStats", "region_stats"]


@dataclass
class RegionStats:
    """Per-region statistics of a scalar map (returned by :func:`region_stats`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per label (index ``label``, labels > 0 that occur), columns:
        ``count`` (finite voxels), ``n_nan`` (NaN/±inf voxels, excluded), ``n_outside``
        (finite voxels outside the histogram range: in mean/std, not in the histogram),
        ``{name}_mean``, ``{name}_std`` (ddof = 0), ``{name}_median``, ``{name}_p5`` …
        (one per requested percentile; ``p2_5`` for 2.5), ``{name}_peak``,
        ``{name}_fwhm`` (KDE estimator, :func:`peak_and_fwhm`), ``{name}_fwhm_gauss``
        (``2.3548 · std``: the Gaussian-equivalent FWHM, exact arithmetic -- the
        definition of the twin XANES per-grain truth), and the volume of all voxels of
        the region (NaN and clipped ones included): ``volume_um3`` when the voxel size is
        known, else ``volume_px3`` in voxels (:func:`batteryzoom.frames.frame_of`,
        ``missing="px"``; an area in µm² or px² for a 2-D map). Units follow the map:
        name the map after its unit, e.g. ``edge_energy_ev``.
    histograms : numpy.ndarray, shape (n_labels, n_bins), int64
        Counts on the shared binning, rows in the order of ``table.index``.
    bin_edges : numpy.ndarray, shape (n_bins + 1,), float64
        The shared bin edges (value units); the last bin includes its right edge.
    name : str
        The map's name (column prefix).
    subbins : int
        Fine bins per display bin (percentiles, peak, FWHM use the fine histogram).
    fine_histograms : numpy.ndarray, shape (n_labels, n_bins * subbins), int32 or int64
        Counts on the fine binning: int32 from the compiled kernels for maps of fewer
        than 2**31 voxels (half the memory), else int64.
    kde_bandwidth : numpy.ndarray, shape (n_labels,)
        The Gaussian kernel bandwidth used per region (value units; NaN where the
        Gaussian-equivalent fallback was used).
    """

    table: pd.DataFrame
    histograms: np.ndarray
    bin_edges: np.ndarray
    name: str
    subbins: int
    fine_histograms: np.ndarray = field(repr=False)
    kde_bandwidth: np.ndarray = field(repr=False)

    @property
    def labels(self) -> np.ndarray:
        """Label ids in table order, shape (n_labels,)."""
        return self.table.index.to_numpy()

    @property
    def fine_bin_edges(self) -> np.ndarray:
        """Edges of the fine histogram, shape (n_bins * subbins + 1,)."""
        n = self.fine_histograms.shape[1]
        return np.linspace(self.bin_edges[0], self.bin_edges[-1], n + 1)

    @property
    def percentile_resolution_(self) -> float:
        """Width of one fine bin: the bound on the percentile error (value units)."""
        return float(self.bin_edges[-1] - self.bin_edges[0]) / self.fine_histograms.shape[1]

    def __len__(self) -> int:
        return len(self.table)

    def _row(self, label: int) -> int:
        try:
            return int(self.table.index.get_loc(int(label)))
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"label {label!r} is not a region of this map (labels {self.labels[:5].tolist()}"
                f"{'…' if len(self) > 5 else ''}; {len(self)} in all)"
            ) from None

    def histogram(self, label: int) -> tuple[np.ndarray, np.ndarray]:
        """``(counts, bin_edges)`` of one region on the shared binning.

        Returns
        -------
        counts : numpy.ndarray, shape (n_bins,), int64
        bin_edges : numpy.ndarray, shape (n_bins + 1,), value units
        """
        return self.histograms[self._row(label)].copy(), self.bin_edges.copy()

    def density(self, label: int) -> tuple[np.ndarray, np.ndarray]:
        """The smoothed distribution behind ``peak``/``fwhm`` (for plotting).

        Returns
        -------
        x : numpy.ndarray, shape (n_points,)
            Fine-bin centres (value units), extended beyond the range where the
            kernel's tails reach.
        pdf : numpy.ndarray, same shape
            Probability density (1/value unit; integrates to the in-range fraction).
        """
        r = self._row(label)
        counts = self.fine_histograms[r].astype(float)
        edges = self.fine_bin_edges
        w = edges[1] - edges[0]
        bw = self.kde_bandwidth[r]
        sigma = np.array([0.0 if not np.isfinite(bw) else bw / w])
        y, pad = _smooth_rows(counts[None, :], sigma)
        x = edges[0] + (np.arange(y.shape[1]) - pad + 0.5) * w
        total = float(self.table["count"].iloc[r])
        return x, np.maximum(y[0], 0.0) / (max(total, 1.0) * w)

    def row(self, label: int) -> pd.Series:
        """The table row of one region."""
        return self.table.iloc[self._row(label)]


def region_stats(
    values: Any,
    labels: Any,
    *,
    mask: Any = None,
    bins: int = 64,
    value_range: tuple[float, float] | None = None,
    percentiles: Sequence[float] = (5, 25, 50, 75, 95),
    name: str = "value",
    voxel_size_um: float | Sequence[float] | None = None,
    bandwidth: float | None = None,
    subbins: int | None = None,
    clip_sigma: float | None = None,
    progress: bool | None = None,
) -> RegionStats:
    """Statistics of a scalar map in every labelled region, in one pass over the voxels.

    Parameters
    ----------
    values : array_like, numpy or dask (or xarray.DataArray), shape S
        The scalar map, any real dtype (e.g. edge energy in eV, float32). NaN and ±inf
        voxels are excluded and counted per region (``n_nan``).
    labels : array_like of int, numpy or dask (or xarray), shape S
        Region labels; 0 is background (ignored); labels need not be consecutive. An
        xarray label image (or mask) with the map's dims in another order is transposed
        to the map's order.
    mask : array_like of bool, shape S, optional
        Only voxels where ``mask`` is True are used.
    bins : int
        Bins of the shared histogram (``histograms``, ``bin_edges``).
    value_range : (float, float), optional
        Histogram range. Default: the finite values' min and max over the labelled
        (and masked) voxels. Values outside it are counted in ``n_outside``: they enter
        mean and std, not the histogram, percentiles, peak or FWHM.
    percentiles : sequence of float
        Percentiles (0-100) reported as ``{name}_p{q}`` columns; the median is always
        reported as ``{name}_median``.
    name : str
        Prefix of the value columns; put the unit in it (``"edge_energy_ev"``).
    voxel_size_um : float, (float, float, float) or "px", optional
        Voxel size (µm) per axis -- anisotropic voxels are honoured -- for the
        ``volume_um3`` column. Default: the map's frame
        (:func:`batteryzoom.frames.frame_of`: an xarray map's ``attrs["voxel_size_um"]``,
        else the spacing of its ``z``/``y``/``x`` coordinates in µm); when it is unknown
        (a plain array) the volume is in voxels, column ``volume_px3``.
    bandwidth : float, optional
        KDE bandwidth (value units) for peak/FWHM, one for all regions; default
        Silverman's rule per region (:func:`peak_and_fwhm`).
    subbins : int, optional
        Fine bins per display bin (percentiles, peak, FWHM). Default: as many as keep
        the fine histogram within 2**21 cells, at most 16 (16 for 2,000 regions and 64 bins).
    clip_sigma : float, optional
        Leave out, per region, the voxels more than this many standard deviations from
        the region's mean (iterative sigma clipping, :func:`sigma_clip`; 3 is usual):
        for labels that put some of a neighbour's voxels into a region (a segmentation's
        boundary errors, partial volume). Adds an ``n_clipped`` column; ``volume_um3``
        still counts them; ``std`` (and what derives from it) is corrected for the
        truncation, so a Gaussian region keeps its standard deviation. Default: every
        voxel.
    progress : bool, optional
        Show a progress bar (default: for dask input or more than 2**27 voxels).

    Returns
    -------
    RegionStats
        ``table``, ``histograms``, ``bin_edges``, ``histogram(label)``, ``density(label)``.

    Raises
    ------
    InputError
        Shape mismatch, non-integer labels, negative labels, an empty mask, no labelled
        voxel (all background), no finite value in any region, a bad ``value_range``.

    Notes
    -----
    Cost: one range pass (label min/max, the finite labelled values counted, their
    range unless ``value_range`` is given) and one statistics pass, both compiled kernels run block by block on every
    core; a dask map is read chunk by chunk, a few chunks at a time. The first call in a
    fresh environment compiles the kernels (a few seconds, then cached on disk). See the
    module docstring for the precision of each column.

    Examples
    --------
    Two grains of an edge-energy map (eV); grain 1 is the wider:

    >>> import numpy as np, batteryzoom as bz
    >>> grain_labels = np.array([[1, 1, 2, 2], [1, 1, 2, 2]])
    >>> edge_map_ev = np.array([[8341.0, 8342.0, 8342.4, 8342.6], [8341.4, 8341.6, 8342.5, 8342.5]])
    >>> stats = bz.regions.region_stats(edge_map_ev, grain_labels, name="edge_energy_ev")
    >>> stats.table[["count", "edge_energy_ev_mean", "edge_energy_ev_std", "volume_px3"]].round(3)
           count  edge_energy_ev_mean  edge_energy_ev_std  volume_px3
    label
    1          4               8341.5               0.361         4.0
    2          4               8342.5               0.071         4.0

    With the voxel size known (an xarray map's attributes, or ``voxel_size_um``), the
    volume is in µm³ (here µm², a 2-D map):

    >>> bz.regions.region_stats(edge_map_ev, grain_labels, voxel_size_um=0.5).table["volume_um3"].tolist()
    [1.0, 1.0]
    """
    v, lab, m = _check_inputs(values, labels, mask)
    pcts = _check_options(bandwidth, bins, percentiles)
    # lengths are only reported: an unknown voxel size gives volumes in voxels (volume_px3)
    frame = frame_of(values, voxel_size_um, missing="px", name="values")
    clipped = None
    if clip_sigma is not None:
        m, n_clipped = _sigma_clip(v, lab, m, sigma=clip_sigma, max_iter=_CLIP_MAX_ITER, show=progress)
        clipped = (n_clipped, 1.0 / math.sqrt(truncated_normal_variance(float(clip_sigma))))
    return _region_stats(
        v, lab, m, bins=int(bins), value_range=value_range, percentiles=pcts, name=str(name),
        frame=frame, bandwidth=bandwidth, subbins=subbins, show=progress, histogram=True, clipped=clipped,
    )


def _check_options(bandwidth: Any, bins: Any, percentiles: Sequence[float]) -> list[float]:
    """Check :func:`region_stats`' options; the percentiles as floats."""
    if bandwidth is not None and not (np.isscalar(bandwidth) and math.isfinite(bandwidth) and bandwidth >= 0):
        raise InputError(f"bandwidth: must be one number >= 0 in value units, got {bandwidth!r}")
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1:
        raise InputError(f"bins: must be an integer >= 1, got {bins!r}")
    pcts = [float(q) for q in np.atleast_1d(np.asarray(percentiles, dtype=float))] if len(percentiles) else []
    if any(not (0 <= q <= 100) for q in pcts):
        raise InputError(f"percentiles: must lie in [0, 100], got {list(percentiles)}")
    return pcts


def _region_stats(v, lab, m, *, bins: int, value_range: Any, percentiles: Sequence[float], name: str,
                  frame: Frame | None, bandwidth: float | None, subbins: int | None, show: bool | None,
                  histogram: bool, clipped: tuple[pd.Series, float] | None = None) -> RegionStats:
    """:func:`region_stats` on checked inputs (``frame`` None: no volume column; without
    ``histogram`` only count, n_nan, mean and std). ``clipped``: (voxels clipped per label,
    the truncated normal's sd correction)."""
    # pass 1: label range, and the value range over labelled voxels when not given
    found = _scan(v, lab, m, values_needed=value_range is None, show=show,
                  fix="check the segmentation, or the mask, before measuring regions")
    lut, ids = _labels_plan(found.lmin, found.lmax, v, lab, m, show)
    plan = _make_plan(found, lut, ids.size, bins=bins, value_range=value_range, subbins=subbins,
                      histogram=histogram, masked=m is not None)
    # pass 2: per-label partial sums, block by block
    acc, fine_acc = _accumulate(v, lab, m, plan, show)
    return _tabulate(plan, acc, fine_acc, ids, bins=bins, percentiles=percentiles, name=name, frame=frame,
                     bandwidth=bandwidth, clipped=clipped)


def _moments(acc: dict[str, np.ndarray], rows: np.ndarray, count: np.ndarray, ref: float,
             clipped: tuple[pd.Series, float] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, var, std)`` of the rows from the sums of ``value - ref``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_d = acc["sum"][rows] / count
        msq = acc["sumsq"][rows] / count
        var = msq - mean_d**2
    # below the one-pass formula's rounding (3 n eps E[d²]) a variance is zero
    var = np.where(var <= 3 * np.maximum(count, 1) * np.finfo(float).eps * msq, 0.0, var)
    std = np.sqrt(var)
    if clipped is not None:  # the kept voxels' sd is a clipped Gaussian's: undo the truncation
        std = std * clipped[1]
    return ref + mean_d, var, std


def _tabulate(plan: _Plan, acc: dict[str, np.ndarray], fine_acc: np.ndarray, ids: np.ndarray, *, bins: int,
              percentiles: Sequence[float], name: str, frame: Frame | None, bandwidth: float | None,
              clipped: tuple[pd.Series, float] | None) -> RegionStats:
    """The table and histograms of the labels present, from the passes' sums."""
    n_rows, lo, hi = plan.n_rows, plan.lo, plan.hi
    if plan.histogram:
        fine_ext = fine_acc.reshape(n_rows, plan.n_fine + 2)
        count, hists_all = _fine_row_sums(fine_ext, bins, plan.subbins)
    else:
        fine_ext = None
        count = acc["count"]
    nonfinite = acc["nonfinite"]
    present = (count + nonfinite) > 0
    present[0] = False
    rows = np.flatnonzero(present)
    count = count[rows]
    nonfinite = nonfinite[rows]
    mean, var, std = _moments(acc, rows, count, plan.ref, clipped)

    # columns in table order, framed once at the end (a column at a time costs ~0.4 ms each)
    columns: dict[str, np.ndarray] = {}
    columns["count"] = count.astype(np.int64)
    columns["n_nan"] = nonfinite.astype(np.int64)
    n_clipped = 0
    if clipped is not None:
        n_clipped = clipped[0].reindex(ids[rows], fill_value=0).to_numpy(np.int64)
        columns["n_clipped"] = n_clipped
    fine_w = (hi - lo) / plan.n_fine
    if plan.histogram:
        # every row present (the usual case): a view, not a copy
        fine_ext = fine_ext[1:] if rows.size == n_rows - 1 else fine_ext[rows]
        columns["n_outside"] = (fine_ext[:, 0] + fine_ext[:, -1]).astype(np.int64)
        if plan.user_range and count.sum() > 0 and columns["n_outside"].sum() == count.sum():
            warnings.warn(
                f"value_range: ({lo:g}, {hi:g}) holds none of the {int(count.sum())} labelled values, so "
                "percentiles are NaN and peak/FWHM fall back to mean and 2.3548 std; widen value_range "
                "or leave it None (the labelled values' range)",
                UserWarning,
                stacklevel=5,  # region_stats' caller
            )
    columns[f"{name}_mean"] = mean
    columns[f"{name}_std"] = std
    if plan.histogram:
        pvals = _region_percentiles(fine_ext, count, mean, var, lo, fine_w, percentiles)
        columns[f"{name}_median"] = pvals[50.0]
        for q in percentiles:
            columns[f"{name}_{_pct_name(q)}"] = pvals[q]
        fine = fine_ext[:, 1:-1]  # a view of the counts (int32 below 2**31 voxels), not a copy
        peak, width, bw_out = _region_widths(fine, count, count - columns["n_outside"], mean, std,
                                             pvals[75.0] - pvals[25.0], bandwidth, lo, fine_w)
        columns[f"{name}_peak"] = peak
        columns[f"{name}_fwhm"] = width
        columns[f"{name}_fwhm_gauss"] = FWHM_PER_SIGMA * std
        hists = hists_all[rows]
    else:
        fine = np.zeros((rows.size, 0), np.int64)
        hists = np.zeros((rows.size, 0), np.int64)
        bw_out = np.full(rows.size, np.nan)
    if frame is not None:
        columns[f"volume{frame.length_suffix}3"] = (count + nonfinite + n_clipped) * frame.voxel_volume_um3
    table = pd.DataFrame(columns, index=pd.Index(ids[rows], name="label"))
    table.attrs.update(
        {"name": name, "value_range": (lo, hi), "bins": bins, "subbins": plan.subbins,
         "percentile_resolution": fine_w}
    )
    return RegionStats(
        table=table, histograms=hists, bin_edges=np.linspace(lo, hi, bins + 1), name=name, subbins=plan.subbins,
        fine_histograms=fine, kde_bandwidth=bw_out,
    )
