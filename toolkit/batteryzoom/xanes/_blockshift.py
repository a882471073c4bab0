"""Block-local sub-pixel shift of a stack's frames: the whole pixels by reading displaced,
the rest by a separable cubic B-spline whose prefilter has decayed within the halo.

Shared by :func:`~batteryzoom.xanes.apply_shifts` (``method="spline"``, the whole frame as
one block) and the streamed pipeline (:mod:`.streamed`, block by block), so both give the
same values (why a spline and not a Fourier shift: :mod:`.streamed`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _kernels
from .._blocks import is_dask

__all__ = ["SPLINE_HALO_PX", "aligned_block", "cubic_unshift", "read_displaced"]

#: halo (pixels per side) of a block's sub-pixel spline shift: the prefilter's weight at
#: this distance is 0.268**16 ~ 7e-10, below float32 rounding
SPLINE_HALO_PX = 16


def _cubic_weights(t: float) -> np.ndarray:
    """Cubic B-spline weights of the four coefficients at offsets -1, 0, 1, 2 from
    ``floor(x)``, for ``x = floor(x) + t``, ``0 <= t < 1``."""
    return np.array([(1 - t) ** 3, 4 - 6 * t**2 + 3 * t**3, 1 + 3 * t + 3 * t**2 - 3 * t**3, t**3]) / 6.0


def read_displaced(source: Any, index: int, starts: tuple[int, ...], stops: tuple[int, ...],
                   whole: np.ndarray, halo: int) -> np.ndarray:
    """Frame ``index`` of ``source`` over ``[start - halo + whole, stop + halo + whole)`` per
    axis, indices clipped into the frame (the edge repeated: mode "nearest"), float32.

    ``source`` is anything sliceable as ``source[i, a:b, ...]`` (numpy, zarr, h5py, a dask
    array: computed here, synchronously, so only its chunks around the block are read).
    """
    shape = source.shape[1:]
    idx = [np.clip(np.arange(a - halo + int(w), b + halo + int(w)), 0, n - 1)
           for a, b, w, n in zip(starts, stops, whole, shape)]
    read = source[(int(index),) + tuple(slice(int(i[0]), int(i[-1]) + 1) for i in idx)]
    if is_dask(read):
        read = read.compute(scheduler="synchronous")
    read = np.asarray(read, np.float32)
    for axis, i in enumerate(idx):  # the clipped (repeated) edge rows, where there are any
        if i[0] == i[-1] or np.any(np.diff(i) != 1):
            read = np.take(read, i - i[0], axis=axis)
    return read


def cubic_unshift(padded: np.ndarray, fraction: np.ndarray, halo: int) -> np.ndarray:
    """``padded`` (a block with ``halo`` pixels each side) read at ``x + fraction``, cropped.

    Separable cubic B-spline interpolation: per axis with a non-zero fraction, the
    prefilter (``scipy.ndimage.spline_filter1d``) then four taps; float32. ``fraction``
    (pixels, per axis) is at most 1 in size: the whole pixels were taken by the read
    (:func:`read_displaced`). A NaN stays NaN at the nearest whole pixel; the spline runs
    on the block's finite mean in its place (as ``apply_shifts`` fills NaN before a shift).
    """
    from scipy import ndimage

    compiled = _kernels.enabled()
    if compiled:
        from .._kernels.spline import shift_axis
    out = np.asarray(padded, np.float32)
    nan = ~np.isfinite(out)
    if nan.any():
        out = np.where(nan, np.float32(out[~nan].mean()) if (~nan).any() else np.float32(0), out)
    for axis, f in enumerate(np.asarray(fraction, np.float64)):
        n = out.shape[axis] - 2 * halo
        if f == 0:
            out = out[(slice(None),) * axis + (slice(halo, halo + n),)]
            continue
        base = int(np.floor(f))
        weights = _cubic_weights(f - base)
        if compiled:  # one fused pass (about 5x faster), the lines side by side
            shape = out.shape
            pre, post = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1 :]))
            moved = np.empty(shape[:axis] + (n,) + shape[axis + 1 :], np.float32)
            shift_axis(np.ascontiguousarray(out).reshape(pre, shape[axis], post), weights, halo + base, n,
                       moved.reshape(pre, n, post))
            out = moved
            continue
        coef = ndimage.spline_filter1d(out, 3, axis=axis, output=np.float32, mode="mirror")
        # four taps at offsets -1..2 from floor(x): correlate1d's out[i] takes w[j] * in[i + j - 2]
        ndimage.correlate1d(coef, weights, axis=axis, output=coef, mode="nearest")
        lo = halo + base + 1
        out = coef[(slice(None),) * axis + (slice(lo, lo + n),)]
    if nan.any():
        inner = nan[tuple(slice(halo, halo + s) for s in out.shape)]
        out[inner] = np.nan
    return np.ascontiguousarray(out)


def _nan_outside(block: np.ndarray, starts: tuple[int, ...], keep: tuple[slice, ...] | None) -> None:
    """NaN (in place) where the block ``(E, *space)`` at ``starts`` lies outside ``keep``."""
    if keep is None:
        return
    for axis, (k, a) in enumerate(zip(keep, starts)):
        n = block.shape[axis + 1]
        lo, hi = np.clip(k.start - a, 0, n), np.clip(k.stop - a, 0, n)
        before = (slice(None),) * (axis + 1)
        block[before + (slice(0, lo),)] = np.nan
        block[before + (slice(hi, None),)] = np.nan


def aligned_block(source: Any, shifts: np.ndarray, starts: tuple[int, ...], stops: tuple[int, ...],
                  keep: tuple[slice, ...] | None, halo: int = SPLINE_HALO_PX, threads: int = 1) -> np.ndarray:
    """The aligned stack over one spatial block, ``(E, *block)`` float32: each energy read
    displaced by its whole-pixel shift, then moved by the sub-pixel rest; NaN outside the
    common field of view ``keep``. ``threads`` > 1: energies on a thread pool (the reads
    and the compiled shift release the GIL)."""
    whole = np.round(shifts).astype(np.int64)
    out = np.empty((len(shifts),) + tuple(b - a for a, b in zip(starts, stops)), np.float32)

    def one(i):
        s = shifts[i]
        h = halo if np.any(s != whole[i]) else 0
        out[i] = cubic_unshift(read_displaced(source, i, starts, stops, whole[i], h), s - whole[i], h)

    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(len(shifts))))
    else:
        for i in range(len(shifts)):
            one(i)
    _nan_outside(out, starts, keep)
    return out
