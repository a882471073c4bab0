"""Projection jitter: per-projection shifts estimated against re-projections, and corrected.

A TXM's sample stage wobbles by a few pixels from one angle to the next; each projection
is then displaced on the detector, and the slices blur. The correction iterates
(the re-projection alignment of e.g. Gürsoy et al., Sci. Rep. 7, 11818 (2017)):

0. a first guess from what a parallel beam keeps constant: the mass in each detector row
   (the row's sum) is the same at every angle, so the row profiles of all projections
   are registered to their mean (three rounds); and the centroid of each projection
   along the detector follows a sinusoid of the angle (the object's centroid turning
   about the axis), so the residual of a fitted ``a + b·cos θ + c·sin θ`` is the
   horizontal jitter (exact when the object stays inside the field of view; the rounds
   below refine it either way);
1. shift every projection by the current estimate (cubic spline, edges repeated);
2. reconstruct the volume (FBP by default; the detector rows are the slices);
3. project it back at the measured angles (the adjoint of the back-projection);
4. register each projection to its re-projection (cross-correlation of the high-passed
   images, each minus its Gaussian blur of σ = 3 px, so that a smooth object filling the
   detector does not pull the peak towards zero; zero-padded, all projections in one
   batched FFT; the peak located to a
   fraction of a pixel by a parabola through it and its neighbours on each axis: exact
   at zero shift for a symmetric peak, which is where the iteration converges) and add
   the residual shift to the estimate;

until the RMS update falls below ``tolerance_px`` or after ``iterations`` rounds.

What no data can tell
---------------------
Some shifts move the whole object, not the projections relative to each other: a common
vertical shift (the object higher), a common horizontal shift (the same as another
rotation centre) and a horizontal ``b·cos θ + c·sin θ`` (the object translated in the
slice plane: its projections stay consistent). Each round removes these components from
the estimate (least squares), so the reconstruction stays where the given centre puts it;
compare shifts with the same components removed (:func:`observable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .reconstruction import project, reconstruct_slices

__all__ = ["JitterResult", "estimate_jitter", "shift_projections", "observable"]

_HIGH_PASS_PX = 3.0


@dataclass(frozen=True)
class JitterResult:
    """Shifts found by :func:`estimate_jitter`.

    Attributes
    ----------
    shifts_px : numpy.ndarray, float64, (angle, 2)
        Displacement of each projection on the detector, (row, col) in px, with the
        unobservable components removed (module docstring). The correction shifts each
        projection by ``-shifts_px``.
    corrected : numpy.ndarray, float32, (angle, row, col)
        The projections shifted back.
    updates_px : tuple of float
        RMS of each round's update (px).
    """

    shifts_px: np.ndarray
    corrected: np.ndarray = field(repr=False)
    updates_px: tuple[float, ...]

    @property
    def iterations(self) -> int:
        """Rounds run."""
        return len(self.updates_px)


def observable(shifts_px: Any, angles_deg: Any) -> np.ndarray:
    """Shifts ``(angle, 2)`` without what moves the whole object: the mean vertical shift,
    and the horizontal ``a + b·cos θ + c·sin θ`` (least squares)."""
    s = np.array(shifts_px, dtype=np.float64, copy=True)
    th = np.radians(np.asarray(angles_deg, dtype=np.float64))
    s[:, 0] -= s[:, 0].mean()
    design = np.stack([np.ones_like(th), np.cos(th), np.sin(th)], axis=1)
    coef, *_ = np.linalg.lstsq(design, s[:, 1], rcond=None)
    s[:, 1] -= design @ coef
    return s


def shift_projections(projections: Any, shifts_px: Any) -> np.ndarray:
    """Each projection ``(row, col)`` moved by its ``(d_row, d_col)`` (px; cubic spline,
    edge values repeated): ``out[i](y, x) = in[i](y - d_row, x - d_col)``.

    Parameters
    ----------
    projections : array-like, (angle, row, col)
    shifts_px : array-like, (angle, 2)

    Returns
    -------
    numpy.ndarray, float32, same shape
    """
    from scipy import ndimage as ndi

    p = np.asarray(projections, dtype=np.float32)
    s = np.asarray(shifts_px, dtype=np.float64)
    if p.ndim != 3 or s.shape != (p.shape[0], 2):
        raise InputError(f"shift_projections: projections {p.shape} need shifts of shape ({p.shape[0]}, 2), "
                         f"got {s.shape}")
    out = np.empty_like(p)
    for i in range(p.shape[0]):
        out[i] = ndi.shift(p[i], s[i], order=3, mode="nearest", prefilter=True)
    return out


def _register(reference: np.ndarray, moving: np.ndarray, limit: int) -> np.ndarray:
    """``(n, 2)`` shifts (row, col; px) that move each ``moving[i]`` onto ``reference[i]``
    (module docstring, step 4); peaks searched within ``limit`` px."""
    from scipy import fft as sfft
    from scipy import ndimage as ndi

    n, rows, cols = moving.shape
    shape = (sfft.next_fast_len(rows + limit + 1, real=True), sfft.next_fast_len(cols + limit + 1, real=True))
    ref, mov = (x - ndi.gaussian_filter(x, (0, _HIGH_PASS_PX, _HIGH_PASS_PX), mode="nearest")
                for x in (np.asarray(reference, np.float32), np.asarray(moving, np.float32)))
    spec = sfft.rfft2(ref, s=shape, axes=(1, 2)) * np.conj(sfft.rfft2(mov, s=shape, axes=(1, 2)))
    corr = sfft.irfft2(spec, s=shape, axes=(1, 2))
    corr = np.fft.fftshift(corr, axes=(1, 2))
    cy, cx = shape[0] // 2, shape[1] // 2
    ly, lx = min(limit, rows - 1), min(limit, cols - 1)
    window = corr[:, cy - ly:cy + ly + 1, cx - lx:cx + lx + 1]
    flat = window.reshape(n, -1).argmax(axis=1)
    iy, ix = np.unravel_index(flat, window.shape[1:])
    out = np.zeros((n, 2))
    for axis, (idx, size, lim) in enumerate(((iy, window.shape[1], ly), (ix, window.shape[2], lx))):
        peak = idx.astype(np.float64) - lim
        inner = (idx > 0) & (idx < size - 1)
        k = np.flatnonzero(inner)
        if k.size:
            if axis == 0:
                c_m, c_0, c_p = window[k, idx[k] - 1, ix[k]], window[k, idx[k], ix[k]], window[k, idx[k] + 1, ix[k]]
            else:
                c_m, c_0, c_p = window[k, iy[k], idx[k] - 1], window[k, iy[k], idx[k]], window[k, iy[k], idx[k] + 1]
            denom = c_m - 2 * c_0 + c_p
            frac = np.where(denom < 0, 0.5 * (c_m - c_p) / np.where(denom < 0, denom, -1), 0.0)
            peak[k] += np.clip(frac, -0.5, 0.5)
        out[:, axis] = peak
    return out


def _first_guess(p: np.ndarray, a: np.ndarray, limit: int) -> np.ndarray:
    """Shifts from what a parallel beam keeps constant (module docstring, step 0)."""
    n, rows, cols = p.shape
    shifts = np.zeros((n, 2))
    profiles = p.sum(axis=2)  # (angle, row): the mass in each row
    r = np.arange(rows, dtype=np.float64)
    for _ in range(3):
        moved = np.stack([np.interp(r + shifts[i, 0], r, profiles[i]) for i in range(n)])[:, :, None]
        ref = np.broadcast_to(moved.mean(axis=0), moved.shape)
        shifts[:, 0] -= _register(ref, moved, limit)[:, 0]
    mass = np.clip(p, 0, None).sum(axis=1)  # (angle, col)
    total = mass.sum(axis=1)
    if np.all(total > 0):
        com = (mass * np.arange(cols)).sum(axis=1) / total
        shifts[:, 1] = com  # the centroid's own sinusoid is removed by observable()
    return observable(shifts, a)


def estimate_jitter(
    projections: Any,
    angles_deg: Any,
    centre: float,
    *,
    iterations: int = 10,
    tolerance_px: float = 0.01,
    method: str = "fbp",
    max_shift_px: float = 10.0,
) -> JitterResult:
    """Estimate and correct per-projection shifts (module docstring).

    Parameters
    ----------
    projections : array-like, (angle, row, col)
        Optical densities ``-ln(I/I0)``; every row is a slice of the volume reconstructed
        in each round, so pass the rows with the sample (a few tens are plenty).
    angles_deg : array-like, (angle,)
    centre : float
        Rotation axis (detector columns, px), e.g. from :func:`batteryzoom.tomo.
        find_centre` on the jittered data.
    iterations : int
        At most this many rounds.
    tolerance_px : float
        Stop when the RMS update of a round is below this (px).
    method : {"fbp", "sirt"}
        Reconstruction of each round.
    max_shift_px : float
        Shifts beyond this (px) are refused as a failed registration.

    Returns
    -------
    JitterResult

    Raises
    ------
    InputError
        Shapes that disagree, too few rows or angles, a registration beyond
        ``max_shift_px``.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.tomo import estimate_jitter, shift_projections, project
    >>> yy, xx = np.mgrid[-20:21, -20:21]
    >>> ball = ((np.hypot(yy, xx - 5) < 9) + 0.5 * (np.hypot(yy + 8, xx + 6) < 5)).astype(np.float32)
    >>> vol = np.stack([ball * (1 + 0.2 * np.sin(z / 3)) for z in range(12)])
    >>> angles = np.arange(0, 180, 3.0)
    >>> proj = project(vol, angles, 20.0, 41)
    >>> truth = np.random.default_rng(0).uniform(-2, 2, (angles.size, 2))
    >>> res = estimate_jitter(shift_projections(proj, truth), angles, 20.0)
    >>> err = res.shifts_px - observable(truth, angles)
    >>> bool(np.sqrt(np.mean(err ** 2)) < 0.3)
    True
    """
    p = np.asarray(projections, dtype=np.float32)
    a = np.asarray(angles_deg, dtype=np.float64).ravel()
    if p.ndim != 3 or p.shape[0] != a.size:
        raise InputError(f"projections {p.shape} and {a.size} angles: expected (angle, row, col) with one "
                         "angle per projection")
    if p.shape[1] < 4 or a.size < 8:
        raise InputError(f"projections {p.shape}: jitter needs at least 4 rows and 8 angles")
    if method not in ("fbp", "sirt"):
        raise InputError(f"method={method!r}: choose 'fbp' or 'sirt'")
    ncol = p.shape[2]
    limit = int(np.ceil(max_shift_px)) + 1
    shifts = np.zeros((a.size, 2))
    shifts = _first_guess(p, a, limit)
    updates: list[float] = []
    for _ in range(int(iterations)):
        corrected = shift_projections(p, -shifts)
        volume = reconstruct_slices(corrected, a, centre, method=method, iterations=30)
        reproj = project(volume, a, centre, ncol)  # (angle, row, col)
        # moving the corrected projection by d matches the re-projection: d is minus the
        # residual displacement
        new = observable(shifts - _register(reproj, corrected, limit), a)
        if np.abs(new).max() > max_shift_px:
            raise InputError(f"projections: a registration moved a projection by {np.abs(new).max():.1f} px "
                             f"(> max_shift_px={max_shift_px}); check the centre and the angles, or raise "
                             "max_shift_px")
        update = float(np.sqrt(np.mean((new - shifts) ** 2)))
        shifts = new
        updates.append(update)
        if update < tolerance_px:
            break
    corrected = shift_projections(p, -shifts)
    return JitterResult(shifts_px=shifts, corrected=corrected, updates_px=tuple(updates))
