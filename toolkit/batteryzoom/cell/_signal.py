"""One-dimensional helpers shared by the cell techniques: runs, circular smoothing, centroids."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._slice import TWO_PI


def _circular_smooth(a: np.ndarray, sigma: float, axis: int = -1) -> np.ndarray:
    return ndimage.gaussian_filter1d(a, sigma, axis=axis, mode="wrap") if sigma > 0 else a


def _runs(mask: np.ndarray, circular: bool) -> list[tuple[int, int]]:
    """Start/stop (exclusive) of True runs; a circular run may wrap (stop > len)."""
    n = len(mask)
    if not mask.any():
        return []
    if mask.all():
        return [(0, n)]
    m = mask.astype(np.int8)
    d = np.diff(np.concatenate([[0], m, [0]]))
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    runs = list(zip(starts.tolist(), stops.tolist()))
    if circular and len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == n:
        first = runs.pop(0)
        last = runs.pop()
        runs.append((last[0], n + first[1]))
    return runs


def _nan_smooth(values: np.ndarray, ok: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised convolution along the last axis (circular): smooth the valid samples only.

    Returns the smoothed values and the local weight of valid samples (0 where none near).
    """
    w = ndimage.gaussian_filter1d(ok.astype(np.float64), sigma, axis=-1, mode="wrap")
    num = ndimage.gaussian_filter1d(np.where(ok, values, 0.0), sigma, axis=-1, mode="wrap")
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / w, w


def _circular_centroid(theta: np.ndarray, w: np.ndarray) -> float:
    return float(np.angle(np.sum(w * np.exp(1j * theta))) % TWO_PI)


def _interp_row(values: np.ndarray, theta: np.ndarray, angle: float) -> float:
    ok = np.isfinite(values)
    if not ok.any():
        return float("nan")
    return float(np.interp(angle, theta[ok], values[ok], period=TWO_PI))


def _fwhm(profile: np.ndarray) -> float:
    """Full width at half maximum (samples) of the central peak of a profile."""
    p = np.asarray(profile, float)
    c = len(p) // 2
    lo = min(np.nanmin(p[: c + 1]), np.nanmin(p[c:]))
    half = lo + (p[c] - lo) / 2
    left = c
    while left > 0 and p[left - 1] > half:
        left -= 1
    right = c
    while right < len(p) - 1 and p[right + 1] > half:
        right += 1
    # linear interpolation of the crossings
    lx = left - (p[left] - half) / (p[left] - p[left - 1]) if left > 0 and p[left] != p[left - 1] else left
    rx = right + (p[right] - half) / (p[right] - p[right + 1]) if right < len(p) - 1 and p[right] != p[right + 1] else right
    return float(rx - lx)
