"""Per-region sigma clipping: leave out the voxels a segmentation handed to the wrong region.

Labels that give a region some voxels of a neighbour with other values (boundary errors,
partial volume) inflate its variance far more than they move its bulk. :func:`sigma_clip`
drops, region by region, the voxels more than ``sigma`` standard deviations from the mean of
the rest, iteratively, one compiled pass per round; :func:`truncated_normal_variance` is the
correction that keeps a Gaussian region's width (the kept voxels' variance is that of a
normal distribution cut at ``±sigma``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .. import _kernels
from .._blocks import aligned_dask, is_dask, iter_blocks
from ..errors import InputError
from ._engine import _NO_MASK, _flat, _labels_plan, _scan
from ._inputs import _check_inputs

__all__ = ["sigma_clip", "truncated_normal_variance"]

_CLIP_MAX_ITER = 20


def sigma_clip(
    values: Any,
    labels: Any,
    mask: Any = None,
    *,
    sigma: float = 3.0,
    max_iter: int = _CLIP_MAX_ITER,
    progress: bool | None = None,
    return_counts: bool = False,
) -> Any:
    """The voxels that survive per-region sigma clipping: a mask for :func:`region_stats`.

    NaN/inf voxels of a region are not values to clip: they stay in the mask (so that
    :func:`region_stats` still counts them in ``n_nan``) and never enter a mean.

    Per region, voxels more than ``sigma`` standard deviations from the mean of the
    voxels kept so far are dropped, and the mean and standard deviation recomputed,
    until no voxel changes side (as astropy's ``sigma_clip``, per label). The standard
    deviation of what is kept is divided by that of a normal distribution cut at
    ``±sigma`` (0.973 at 3) before the next cut, so a Gaussian region loses only its
    tails beyond ``sigma`` of its own width (0.27 % at 3) and keeps its mean and width.
    What it is for: labels that hand a region some voxels of a neighbour with other
    values (a segmentation's boundary errors, partial volume), which inflate a variance
    and a FWHM far more than they move the bulk. A region whose distribution is really
    not Gaussian (two phases) is narrowed too: clip only where strays are expected.

    Parameters
    ----------
    values : array_like, numpy or dask (or xarray.DataArray), shape S
        The scalar map, any real dtype.
    labels : array_like of int, shape S
        Region labels, 0 = background (never kept).
    mask : array_like of bool, shape S, optional
        Voxels to consider; the rest are never kept.
    sigma : float
        The cut, in standard deviations (> 0).
    max_iter : int
        Rounds at most; each round is one pass over the voxels (compiled, every core;
        a dask map chunk by chunk). Typically 5-10 rounds.
    progress : bool, optional
        Show progress (default: dask input or more than 2**27 voxels).
    return_counts : bool
        Also return how many voxels each region lost.

    Returns
    -------
    keep : numpy.ndarray, dask.array.Array or xarray.DataArray, bool, shape S
        True for the labelled voxels kept (and the labelled NaN/inf ones): lazy (dask)
        when ``values`` is dask, a DataArray on the map's coordinates when it is one.
    n_clipped : pandas.Series of int
        With ``return_counts``: voxels clipped per label (index: the labels that lost
        any).

    Raises
    ------
    InputError
        As :func:`region_stats` for the inputs; a ``sigma`` that is not a positive
        number, a ``max_iter`` below 1.

    Examples
    --------
    One region of values near 1 and one stray voxel at 9:

    >>> import numpy as np, batteryzoom as bz
    >>> values = np.array([[1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.1, 0.9, 1.0, 1.0, 9.0]])
    >>> keep = bz.regions.sigma_clip(values, np.ones(values.shape, np.int32), sigma=3)
    >>> int(keep.sum()), bool(keep[0, -1])
    (11, False)
    """
    v, lab, m = _check_inputs(values, labels, mask)
    if not isinstance(max_iter, (int, np.integer)) or isinstance(max_iter, bool) or max_iter < 1:
        raise InputError(f"max_iter: must be an integer >= 1, got {max_iter!r}")
    keep, n_clipped = _sigma_clip(v, lab, m, sigma=sigma, max_iter=int(max_iter), show=progress, argname="sigma")
    if hasattr(values, "dims") and hasattr(values, "coords"):
        import xarray as xr

        keep = xr.DataArray(keep, coords=values.coords, dims=values.dims, name="kept",
                            attrs={"clip_sigma": float(sigma), "description": "voxels kept by per-region sigma clipping"})
    return (keep, n_clipped) if return_counts else keep


def truncated_normal_variance(k: float) -> float:
    """Variance of a standard normal distribution cut to ``[-k, k]``.

    Divide the variance of the voxels a ``k``-sigma clip keeps by this to estimate the
    variance of the Gaussian they came from.

    Parameters
    ----------
    k : float
        The cut, in standard deviations (> 0).

    Returns
    -------
    float
        ``1 - 2 k φ(k) / (2 Φ(k) - 1)`` (φ, Φ: the standard normal's density and
        distribution function).

    Examples
    --------
    >>> from batteryzoom.regions import truncated_normal_variance
    >>> round(truncated_normal_variance(3.0), 4)
    0.9733
    """
    inside = math.erf(k / math.sqrt(2.0))
    return 1.0 - 2.0 * k * math.exp(-0.5 * k * k) / math.sqrt(2.0 * math.pi) / inside


def _sigma_clip(v, lab, m, *, sigma: Any, max_iter: int, show: bool | None,
                argname: str = "clip_sigma") -> tuple[Any, pd.Series]:
    """(keep mask, voxels clipped per label) for checked inputs; see :func:`sigma_clip`."""
    if not (isinstance(sigma, (int, float, np.integer, np.floating)) and not isinstance(sigma, bool)
            and math.isfinite(sigma) and sigma > 0):
        raise InputError(f"{argname}: need a positive number of standard deviations (e.g. 3), got {sigma!r}")
    k = float(sigma)
    # label range and the values' range: rows, and a reference near the values
    found = _scan(v, lab, m, values_needed=True, show=show, fix="nothing to clip")
    vmin, vmax = found.vmin, found.vmax
    if not math.isfinite(vmin):
        raise InputError("values: no finite value inside the labelled regions (all NaN/inf); nothing to clip")
    lut, ids = _labels_plan(found.lmin, found.lmax, v, lab, m, show)
    n_rows = ids.size
    ref = 0.5 * (vmin + vmax)
    # the cut is finite (NaN/inf never pass) and negative for the background row
    centre = np.zeros(n_rows)
    cut = np.full(n_rows, np.finfo(np.float64).max)
    cut[0] = -1.0
    # the kept voxels' sd underestimates a Gaussian's by the truncation: scale it back
    widen = k / math.sqrt(truncated_normal_variance(k))
    # rounding slack, so a constant region keeps the voxels its mean rounds away from
    slack = 1e-12 * max(abs(vmin), abs(vmax), vmax - vmin, np.finfo(np.float64).tiny)
    clipped = _clip_rounds(v, lab, m, ref=ref, centre=centre, cut=cut, lut=lut, widen=widen, slack=slack,
                           max_iter=max_iter, show=show)
    rows = np.flatnonzero(clipped > 0)
    n_clipped = pd.Series(clipped[rows], index=ids[rows])
    return _keep_mask(v, lab, m, centre=centre, cut=cut, lut=lut, show=show), n_clipped


def _clip_rounds(v, lab, m, *, ref, centre, cut, lut, widen, slack, max_iter, show) -> np.ndarray:
    """Clip until the kept set repeats (at most ``max_iter`` rounds), updating ``centre``
    and ``cut`` in place; returns the voxels clipped per row."""

    def moments() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sums = None
        for part in iter_blocks(partial(_clip_moments_block, ref=ref, centre=centre, cut=cut, lut=lut),
                                [v, lab, m], desc="sigma clipping", show=show, threaded=_kernels.enabled()):
            sums = part if sums is None else tuple(a + b for a, b in zip(sums, part))
        return sums

    first = last = None
    for _ in range(max_iter):
        sums = moments()
        if first is None:
            first = sums[0]
        # the kept set is final when a round's sums repeat exactly
        if last is not None and all(np.array_equal(a, b) for a, b in zip(sums, last)):
            break
        last = sums
        n, s1, s2 = sums
        ok = n > 0
        ok[0] = False
        mean = s1[ok] / n[ok]
        sd = np.sqrt(np.maximum(s2[ok] / n[ok] - mean * mean, 0.0))
        centre[ok] = ref + mean
        cut[ok] = widen * sd + slack
    else:  # out of rounds: count what the last cut keeps
        last = moments()
    return first - last[0]


def _keep_mask(v, lab, m, *, centre, cut, lut, show) -> Any:
    """The kept voxels (bool, the map's shape): lazy on the chunks the passes read when
    any input is dask, else computed slab by slab."""
    block = partial(_clip_keep_block, centre=centre, cut=cut, lut=lut)
    if is_dask(v) or is_dask(lab) or (m is not None and is_dask(m)):
        import dask.array as da

        arrays = [a for a in aligned_dask([v, lab, m]) if a is not None]
        fn = block if m is not None else (lambda a, b: block(a, b, None))
        return da.map_blocks(fn, *arrays, dtype=bool)
    keep = np.concatenate([b.reshape(-1) for b in iter_blocks(block, [v, lab, m], desc="sigma clipping",
                                                               show=show, threaded=_kernels.enabled())])
    return keep.reshape(v.shape)


def _clip_moments_block(v, lab, m, *, ref, centre, cut, lut) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: count, sum and sum of squares of ``v - ref`` over the voxels within
    ``cut`` of ``centre`` (one block; compiled, or numpy under ``BATTERYZOOM_NUMBA=0``)."""
    n_rows = centre.size
    if not _kernels.enabled():
        rows, x, inside, _ = _within_cut_numpy(v, lab, m, centre=centre, cut=cut, lut=lut)
        d = np.where(inside, x - ref, 0.0)
        return (np.bincount(rows, inside, n_rows).astype(np.int64), np.bincount(rows, d, n_rows),
                np.bincount(rows, d * d, n_rows))
    from .._kernels.regions import clip_moments

    out = (np.zeros(n_rows, np.int64), np.zeros(n_rows), np.zeros(n_rows))
    clip_moments(_flat(v), _flat(lab), _NO_MASK if m is None else _flat(m), m is not None,
                 np.zeros(1, np.intp) if lut is None else lut, lut is not None, ref, centre, cut, *out)
    return out


def _clip_keep_block(v, lab, m, *, centre, cut, lut) -> np.ndarray:
    """The block's kept voxels (bool, the block's shape)."""
    shape = np.shape(v)
    if not _kernels.enabled():
        rows, x, inside, use = _within_cut_numpy(v, lab, m, centre=centre, cut=cut, lut=lut)
        return (inside | (use & ~np.isfinite(x) & (rows > 0))).reshape(shape)
    from .._kernels.regions import clip_keep

    keep = np.empty(int(np.prod(shape)), np.uint8)
    clip_keep(_flat(v), _flat(lab), _NO_MASK if m is None else _flat(m), m is not None,
              np.zeros(1, np.intp) if lut is None else lut, lut is not None, centre, cut, keep)
    return keep.view(bool).reshape(shape)


def _within_cut_numpy(v, lab, m, *, centre, cut, lut):
    """The numpy reference of the clipping kernels, for one block: ``(rows, values as
    float64, within the cut and unmasked, unmasked)``, all flat."""
    rows = np.asarray(lab).reshape(-1).astype(np.intp)
    rows = rows if lut is None else lut[rows]
    x = np.asarray(v, np.float64).reshape(-1)
    use = np.ones(x.size, bool) if m is None else np.asarray(m, bool).reshape(-1)
    with np.errstate(invalid="ignore"):
        inside = (np.abs(x - centre[rows]) <= cut[rows]) & use
    return rows, x, inside, use

