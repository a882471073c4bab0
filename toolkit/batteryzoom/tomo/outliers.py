"""Zingers and other isolated outliers in projections, replaced by the local median.

A zinger (a gamma or cosmic-ray hit, a hot pixel flashing once) is isolated in space and
in time: it lies above the largest (or below the smallest) of all its neighbours: the 8
around it in its frame and the same pixel in the frames before and after. An edge of the
sample does not: its value lies between those of its neighbours on either side, however
steep the edge, and a line one pixel thin is matched along its length. A value is
replaced (by the median of its 3 × 3 neighbourhood) when it exceeds its neighbours'
range by more than ``threshold`` robust standard deviations of the noise at its level
(Immerkær's estimate: 1.4826 × the median absolute second difference of the frame,
normalised to unit gain, among the pixels of similar level, 16 bins of the 5 × 5 mean:
Poisson noise grows where the sample is dense). The default, 6 σ, is far beyond where the
largest of ten Gaussian neighbours reaches (~1.5 σ above the mean in one frame in two),
so noise is left alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["remove_outliers"]


def _noise_by_level(dev: np.ndarray, level: np.ndarray, bins: int = 16) -> np.ndarray:
    """Robust σ of ``dev`` (zero-mean noise) as a function of ``level`` (quantile bins),
    at every pixel."""
    edges = np.unique(np.quantile(level, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, level, side="right") - 1, 0, max(edges.size - 2, 0))
    absdev = np.abs(dev)
    sig = np.array([np.median(absdev[which == b]) if np.any(which == b) else 0.0
                    for b in range(max(edges.size - 1, 1))]) * 1.4826
    floor = max(float(np.median(absdev)) * 1.4826 * 0.05, float(np.finfo(np.float32).tiny))
    return np.maximum(sig, floor)[which].astype(np.float32)


def remove_outliers(projections: Any, *, threshold: float = 6.0, size: int = 3,
                    return_mask: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Replace isolated outliers (module docstring) by their spatial median.

    Parameters
    ----------
    projections : array-like, (angle, row, col)
        Counts or optical densities; a block of detector rows is fine (the spatial median
        then sees the rows of the block; a single row works along columns only).
    threshold : float
        How many robust standard deviations a value must deviate from both medians.
    size : int
        Spatial neighbourhood (px, odd).
    return_mask : bool
        Also return where values were replaced.

    Returns
    -------
    cleaned : numpy.ndarray, float32, same shape
    mask : numpy.ndarray of bool, same shape (when ``return_mask``)

    Raises
    ------
    InputError
        Not three axes, fewer than 3 frames, a non-positive threshold or an even size.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.tomo import remove_outliers
    >>> rng = np.random.default_rng(0)
    >>> frames = rng.normal(100, 1, (5, 16, 16)).astype(np.float32)
    >>> frames[2, 7, 9] = 400  # a zinger
    >>> clean, hit = remove_outliers(frames, return_mask=True)
    >>> int(hit.sum()), bool(abs(clean[2, 7, 9] - 100) < 5)
    (1, True)
    """
    from scipy import ndimage as ndi

    p = np.asarray(projections, dtype=np.float32)
    if p.ndim != 3:
        raise InputError(f"projections: expected (angle, row, col), got shape {p.shape}")
    if p.shape[0] < 3:
        raise InputError(f"projections: {p.shape[0]} frame(s); the temporal test needs at least 3")
    if not threshold > 0:
        raise InputError(f"threshold={threshold!r}: give a positive number of standard deviations (e.g. 6)")
    if int(size) < 3 or int(size) % 2 == 0:
        raise InputError(f"size={size!r}: give an odd window of at least 3 px")
    k = int(size)
    ring = np.ones((1, k, k), bool)
    if p.shape[1] == 1:  # a single detector row: neighbours along it only
        ring = np.ones((1, 1, k), bool)
        ring[0, 0, k // 2] = False
    else:
        ring[0, k // 2, k // 2] = False
    footprint = np.zeros((3,) + ring.shape[1:], bool)
    footprint[1:2] = ring
    footprint[0, ring.shape[1] // 2, ring.shape[2] // 2] = True  # the frame before
    footprint[2, ring.shape[1] // 2, ring.shape[2] // 2] = True  # and after
    hi = ndi.maximum_filter(p, footprint=footprint, mode="mirror")  # mirror: never the pixel itself
    lo = ndi.minimum_filter(p, footprint=footprint, mode="mirror")
    median = ndi.median_filter(p, size=(1,) + ring.shape[1:], mode="reflect")
    # the noise: Immerkær's second-difference kernel is blind to planes (the flanks of the
    # sample), unlike the deviation from a median, which is small on every slope
    if p.shape[1] == 1:
        kernel = np.array([[[1.0, -2.0, 1.0]]])
    else:
        kernel = np.array([[[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]]])
    resid = ndi.convolve(p, kernel / np.sqrt((kernel ** 2).sum()), mode="mirror")
    # binned by a smooth level: binning by a noisy one picks, in its extreme bins, pixels
    # whose noise happened to be small
    level = ndi.uniform_filter(p, size=(1, 1, 9) if p.shape[1] == 1 else (1, 5, 5), mode="mirror")
    sigma = _noise_by_level(resid, level)
    limit = np.float32(threshold) * sigma
    mask = (p > hi + limit) | (p < lo - limit)
    out = np.where(mask, median, p).astype(np.float32)
    return (out, mask) if return_mask else out
