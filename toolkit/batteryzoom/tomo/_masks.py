"""Masks of reconstructed slices shared by the centre search and the ring metrics."""

from __future__ import annotations

import numpy as np


def circle_mask(n: int, margin_px: float = 3.0) -> np.ndarray:
    """``(n, n)`` bool: pixels inside the reconstruction circle (every angle saw them),
    ``margin_px`` inside its edge."""
    yy, xx = np.mgrid[:n, :n] - 0.5 * (n - 1)
    return np.hypot(yy, xx) < 0.5 * n - margin_px


def sample_mask(slice_: np.ndarray, erode_px: int = 3) -> np.ndarray:
    """``(n, n)`` bool: the sample of a slice, Otsu's threshold inside the reconstruction
    circle, eroded by ``erode_px`` (its own boundary left out); the whole circle when the
    threshold leaves almost nothing (< 1 %)."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    img = np.asarray(slice_, dtype=np.float64)
    circle = circle_mask(img.shape[-1])
    values = img[circle]
    if values.size == 0 or np.ptp(values) == 0:
        return circle
    mask = ndi.binary_erosion(circle & (img > threshold_otsu(values)), iterations=erode_px)
    return mask if mask.sum() > 0.01 * circle.sum() else circle
