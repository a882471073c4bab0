"""Compiled sub-pixel shift along one axis: cubic B-spline prefilter and four taps, fused.

The streamed XANES alignment (:mod:`batteryzoom.xanes.streamed`) moves each energy's block
by a fraction of a pixel per axis; ``scipy.ndimage.spline_filter1d`` + ``correlate1d``
do it in two passes through double-precision line buffers (~25 ns a voxel and axis);
this is one pass with the axis's lines processed side by side (the inner loop runs along
the contiguous axes), about 5x faster. Same mathematics: the causal/anticausal recursion
of the pole ``sqrt(3) - 2`` (gain 6), then the four B-spline weights. The recursion starts
at the block's edge as a truncated mirror sum, unlike ndimage's exact mirror boundary:
the two differ there only, by ``0.268**distance`` inside (the caller's halo makes it
~1e-9 on what it keeps).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["shift_axis"]

POLE = np.sqrt(3.0) - 2.0


@njit(cache=True, nogil=True)
def shift_axis(x, weights, lo, n_out, out):  # pragma: no cover - compiled
    """``x`` ``(pre, n, post)`` float32 -> ``out`` ``(pre, n_out, post)``:
    ``out[p, q] = sum_j weights[j] * coef[p, q + lo - 1 + j]`` with ``coef`` the cubic
    B-spline coefficients of ``x`` along its middle axis."""
    z = POLE
    pre, n, post = x.shape
    k_init = min(n, 24)
    c = np.empty((n, post), np.float64)
    for p in range(pre):
        for r in range(post):
            c[0, r] = 0.0
        zk = 1.0
        for k in range(k_init):  # causal start: the mirror sum, truncated where z**k < 1e-13
            for r in range(post):
                c[0, r] += zk * x[p, k, r]
            zk *= z
        for i in range(1, n):
            for r in range(post):
                c[i, r] = x[p, i, r] + z * c[i - 1, r]
        g = z / (z * z - 1.0)
        for r in range(post):
            c[n - 1, r] = g * c[n - 1, r]
        for i in range(n - 2, -1, -1):
            for r in range(post):
                c[i, r] = z * (c[i + 1, r] - c[i, r])
        w0, w1, w2, w3 = 6.0 * weights[0], 6.0 * weights[1], 6.0 * weights[2], 6.0 * weights[3]
        for q in range(n_out):
            s = q + lo - 1
            for r in range(post):
                out[p, q, r] = w0 * c[s, r] + w1 * c[s + 1, r] + w2 * c[s + 2, r] + w3 * c[s + 3, r]
