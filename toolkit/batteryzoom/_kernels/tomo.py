"""numba kernels of :mod:`batteryzoom.tomo`: parallel-beam back-projection and its adjoint.

Geometry (the same as algotom's ``back_projection_cpu``, so a centre found by algotom means
the same thing here): a slice of ``n × n`` pixels is centred on the rotation axis,
``ic = (n - 1) / 2``; pixel ``(yi, xi)`` at angle ``θ`` falls on the detector at
``u = (xi - ic)·cos θ - (yi - ic)·sin θ + centre`` (columns, px). Both kernels take
``cos θ`` and ``-sin θ`` precomputed (float32), so ``u = base(yi) + xi·cos θ``.

The sinograms arrive padded with one zero column on each side (``u + 1`` indexes the
padded row), and a pixel contributes when ``-1 < u < ncol``: the linear interpolation
then falls to zero over the last pixel beyond each edge, and the index ``d = ⌊u + 1⌋``
and ``d + 1`` stay inside the padded row with a margin of 1e-3 px against rounding (the
index is converted unsigned: a signed computed index makes numba check every access for
a negative wraparound, which keeps the loop scalar; see the contributors' notes).

:func:`back_project_rows` (interpolate and add, parallel over output rows) and
:func:`project_angles` (the exact adjoint: splat each pixel on the two detector bins it
falls between, parallel over angles) never write the same memory from two threads. The
callers (:mod:`batteryzoom.tomo._projector`) run ranges of rows or angles on a thread
pool (the kernels release the GIL) and keep a numpy implementation of both, which
``BATTERYZOOM_NUMBA=0`` selects and the tests compare against.

algotom's own CPU back-projection (``prange`` over angles adding into one image) races
between numba threads: two calls on the same sinogram differ by up to ~40 % of the
image's maximum with 2 threads (algotom 1.7.0). That is why the back-projection is ours.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_MARGIN = 1e-3


@njit(cache=True, nogil=True, inline="always")
def _valid_range(base, c, n, last):  # pragma: no cover - compiled
    """``[lo, hi)``: the pixels ``xi`` whose ``u = base + xi·c`` lies in ``(-1, last + 1)``
    with the margin (checked with the loop's own float32 arithmetic at both ends)."""
    lo_u = np.float32(-1.0 + _MARGIN)
    hi_u = np.float32(last + 1.0 - _MARGIN)
    if abs(c) < 1e-12:
        if base < lo_u or base > hi_u:
            return 0, 0
        return 0, n
    t0 = (lo_u - base) / c
    t1 = (hi_u - base) / c
    if t0 > t1:
        t0, t1 = t1, t0
    lo = max(0, int(math.ceil(t0)) - 1)
    hi = min(n, int(math.floor(t1)) + 2)
    while lo < hi:
        u = base + np.float32(lo) * c
        if lo_u <= u <= hi_u:
            break
        lo += 1
    while hi > lo:
        u = base + np.float32(hi - 1) * c
        if lo_u <= u <= hi_u:
            break
        hi -= 1
    return lo, hi


@njit(cache=True, nogil=True, fastmath=True, boundscheck=False, error_model="numpy")
def back_project_rows(padded, cos_a, msin_a, weights, centre, r0, r1, out):  # pragma: no cover
    """Add the back-projection of output rows ``r0:r1`` into ``out`` (those rows only).

    ``padded``: float32 ``(angle, nz, ncol + 2)`` filtered sinograms, zero first and last
    column. Rows are numbered over the stack: row ``r`` is slice ``r // n``, image row
    ``r % n``. ``out``: float32 ``(r1 - r0, n)``. ``weights``: float32, one per angle
    (the angular interval it stands for, radians).
    """
    n_ang = padded.shape[0]
    last = padded.shape[2] - 3  # last real column
    n = out.shape[1]
    ic = np.float32(0.5 * (n - 1))
    one = np.uint32(1)
    for r in range(r0, r1):
        z = r // n
        yi = r - z * n
        row = out[r - r0]
        yc = np.float32(yi) - ic
        for a in range(n_ang):
            c = cos_a[a]
            base = np.float32(yc * msin_a[a] + centre - ic * c + np.float32(1.0))  # +1: the pad
            lo, hi = _valid_range(base - np.float32(1.0), c, n, last)
            p = padded[a, z]
            wa = weights[a]
            for xi in range(lo, hi):
                f = base + np.float32(xi) * c
                d = np.uint32(f)
                fr = f - np.float32(d)
                p0 = p[d]
                row[xi] += wa * (p0 + fr * (p[d + one] - p0))
    return out


@njit(cache=True, nogil=True, fastmath=True, boundscheck=False, error_model="numpy")
def project_angles(volume, cos_a, msin_a, centre, a0, a1, out):  # pragma: no cover
    """Project ``volume`` (float32 ``(nz, n, n)``) at angles ``a0:a1`` into ``out``
    (float32 ``(a1 - a0, nz, ncol + 2)``, zeroed, padded like the sinograms): the adjoint
    of :func:`back_project_rows` with unit weights."""
    nz, n = volume.shape[0], volume.shape[1]
    last = out.shape[2] - 3
    ic = np.float32(0.5 * (n - 1))
    one = np.uint32(1)
    for a in range(a0, a1):
        c = cos_a[a]
        for yi in range(n):
            yc = np.float32(yi) - ic
            base = np.float32(yc * msin_a[a] + centre - ic * c + np.float32(1.0))
            lo, hi = _valid_range(base - np.float32(1.0), c, n, last)
            for z in range(nz):
                v = volume[z, yi]
                q = out[a - a0, z]
                for xi in range(lo, hi):
                    f = base + np.float32(xi) * c
                    d = np.uint32(f)
                    fr = f - np.float32(d)
                    x = v[xi]
                    q[d] += x - fr * x
                    q[d + one] += fr * x
    return out
