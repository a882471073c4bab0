"""Zingers and other isolated outliers in projections, replaced by the local median.

A zinger (a gamma or cosmic-ray hit, a hot pixel flashing once) is isolated in space *and*
in time: it differs from the median of its 3 × 3 neighbourhood in its own frame and from
the median of the same pixel in the frames before and after. An edge of the sample
differs from the first but not from the second (the neighbouring projections show the
same edge), so a value is replaced only when it deviates from **both** medians by more
than ``threshold`` robust standard deviations of the frame's noise
(σ = 1.4826 × the median absolute deviation of value − spatial median over the frame).
The default, 6 σ, flags a Gaussian-noise pixel with probability ~2·10⁻⁹ on each test.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["remove_outliers"]


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
        Spatial window (px, odd), and the number of frames of the temporal median.
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
    spatial = ndi.median_filter(p, size=(1, k, k), mode="reflect")
    temporal = ndi.median_filter(p, size=(k, 1, 1), mode="nearest")
    dev = p - spatial
    mad = np.median(np.abs(dev - np.median(dev, axis=(1, 2), keepdims=True)), axis=(1, 2), keepdims=True)
    sigma = np.maximum(1.4826 * mad, np.finfo(np.float32).tiny)
    limit = np.float32(threshold) * sigma
    mask = (np.abs(dev) > limit) & (np.abs(p - temporal) > limit)
    out = np.where(mask, spatial, p).astype(np.float32)
    return (out, mask) if return_mask else out
