"""Edge finding and normalization, reproducing xraylarch's ``find_e0`` and ``pre_edge``.

The rules below are read from xraylarch's ``larch/xafs/pre_edge.py`` and
``larch/math/utils.py`` (version 2026.3; the golden values in
``tests/reference/larch_ni_golden.json`` come from that version, see
``tests/reference/make_larch_golden.py``). We re-implement them, vectorized over voxels;
xraylarch is not a dependency.

``find_e0`` (the edge energy Larch normalizes around):

1. Drop the last point (Larch's ``_finde0`` keeps only ``diff(argsort(E)) == 1``
   indices). ``nmin = max(3, int(0.02 * n))``.
2. First pass, no smoothing: ``dmu = gradient(mu) / gradient(E)``, rescaled to 0..1 by
   its min and range over ``[nmin:-nmin]``. Points with ``dmu > 0.6`` (``0.3`` for
   ``n <= 20``) are "high"; with fewer than 3, the threshold is halved up to twice;
   still fewer than 3: every point is high. ``ie0`` is the first index of the largest
   ``dmu`` among high points whose two neighbours are high, with
   ``nmin <= i <= n - nmin``; 0 if none.
3. Second pass on the window ``[max(3, ie0 - 75), min(ie0 + 75, n - 3))`` (when
   ``ie0 < 5 %`` of the points: ``[max(3, ie0 - 20), n - 3)``), with ``dmu`` smoothed by a
   Lorentzian of width ``estep`` on a uniform grid of step ``estep``, where
   ``estep = (clip(step1, .01, 1) + clip(e1 / 25000, .01, 1)) / 2``, ``step1`` the mean
   of the 10 smallest energy steps after ignoring the smallest 1 % (NaN, hence 1, for
   fewer than 100 points), and ``e1`` the first-pass edge (the mean energy in the 5 %
   case). ``e0`` is the energy at the second-pass index (``E[start + 2]`` if that
   index is 0). ``e0`` is always a grid energy.

``pre_edge`` (defaults: ``pre1 = pre2 = norm1 = norm2 = nnorm = None``, ``nvict = 0``,
``npre = 1``):

- ``pre1 = 5 * round((E[1] - e0) / 5)`` (``2 * round(.../2)`` when ``ie0 <= 20``), at
  least ``E[0] - e0``; ``pre2 = pre1 / 2``. Line fit of ``mu * E**nvict`` over indices
  ``[index_of(E, e0 + pre1), index_nearest(E, e0 + pre2))`` (end excluded); a constant
  (mean) instead of a line when the range spans fewer than 3 points.
- ``norm2 = min(5 * round((E[-1] - e0) / 5), E[-1] - e0)``,
  ``norm1 = min(25, 5 * round(norm2 / 15), norm2 - 2)``; ``nnorm = 2`` if
  ``norm2 - norm1 >= 300``, 1 if ``>= 30``, else 0 (at most 1 when the range holds fewer
  than 5 points). Polynomial fit of ``mu - pre_edge`` over
  ``[index_of(E, e0 + norm1), index_nearest(E, e0 + norm2))``.
- ``edge_step = |post_edge - pre_edge|`` at ``index_nearest(E, e0)``;
  ``norm = (mu - pre_edge) / edge_step``; ``flat = norm - (post - pre)/step +
  (post - pre)/step at e0`` above ``e0``, ``norm`` below.

The pre-edge line and a curved background. The absorption of the other elements falls
roughly as ``E**-3`` (Victoreen); Larch's default straight line (``nvict = 0``),
extrapolated 30-200 eV from the pre-edge range to the edge, misses that curvature, and
the half-step edge energy moves with it. On the twin (background ``∝ E**-2.7``, 1.4x the
edge jump) the shift is -0.0065 eV (NiO) to -0.010 eV (LiNiO2) against the Ni edge alone;
``nvict=3`` fits ``mu * E**3`` instead and removes it (noise-free twin: mean half-step
error -0.011 -> -0.004 eV, the rest being the linear interpolation between grid points;
at noise 0.02, 16 of 16 reliable grains within 0.05 eV against 13 of 14). The default
stays Larch's. With fixed energies the Victoreen line is still linear in the spectrum
(``E**nvict`` folds into the line's operator, ``E**-nvict`` scales it back), so with one
e0 ``nvict != 0`` runs the fused kernel too (1.2x the straight line's time; the float32
numpy fused path has no Victoreen: without numba it takes the general float64 path).

Departures from Larch, on purpose: NaN/inf or constant spectra are flagged (``valid``
False, outputs NaN) instead of being silently cleaned, and a pre-edge or post-edge range
holding fewer than 2 points raises :class:`~batteryzoom.errors.InputError` (Larch widens
the range silently).

Coarse scans. ``find_e0``'s second pass reads a window of at least 7 derivative points
inside ``[3, n - 3)`` (its peak search ignores 3 at each end), so it needs
:data:`MIN_EDGE_ENERGIES` (14) energies; fewer raise an ``InputError`` saying so (Larch
itself fails with an ``IndexError`` or a zero-size reduction). A scan of a few energies
across the edge (two-energy TXM maps: one below, one above) gives an element map, not an
edge energy: :func:`~batteryzoom.xanes.edge_jump_map`. A stack without any edge (all zero,
constant) has no e0 of its mean spectrum: an ``InputError`` too.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._blocks import is_dask, map_ranges, map_spatial
from ..errors import InputError
from .stack import E0_SAMPLE_VOXELS, mean_spectrum, spatial_frame, split_input

__all__ = ["LarchDefaults", "find_e0", "normalize", "pre_edge_ranges", "NormRanges", "MIN_EDGE_ENERGIES",
           "check_edge_scan", "ShortSpectrumWarning"]

MAX_NNORM = 5
# the fewest energies Larch's find_e0 can work on (module docstring, "Coarse scans")
MIN_EDGE_ENERGIES = 14
# voxels per block of normalize (bounds its float64 temporaries: ~30 curves of E values each)
NORMALIZE_BLOCK_VOXELS = 4096
# Default ranges are trusted when the pre-edge range ends this far below e0 (3d-metal
# pre-edge peaks and the edge foot sit within ~15 eV of it) and the post-edge range starts
# this far above (past the white line): Larch's rules give that from e0-40 to e0+67.5 eV.
SHORT_PRE_EDGE_EV = 20.0
SHORT_POST_EDGE_EV = 25.0


class ShortSpectrumWarning(UserWarning):
    """A spectrum too short for Larch's default normalization ranges (see
    :func:`pre_edge_ranges`): the result depends on the ranges; pass them explicitly."""


def check_edge_scan(energy: np.ndarray, what: str = "an edge map") -> None:
    """Refuse a scan too coarse for ``find_e0`` (module docstring), saying what is needed.

    Raises
    ------
    InputError
        Fewer than :data:`MIN_EDGE_ENERGIES` energies; the message gives the scan's count and
        range, what an edge map needs, and the edge-jump map for two-energy scans.
    """
    n = len(energy)
    if n >= MIN_EDGE_ENERGIES:
        return
    span = f"{energy[0]:.1f}-{energy[-1]:.1f} eV" if n else "no energy"
    raise InputError(
        f"{what} needs a scan across the edge of at least {MIN_EDGE_ENERGIES} energies (Larch's find_e0 looks for "
        f"the steepest rise among them): this stack has {n} energies ({span}). An edge map needs energies from the "
        "pre-edge (>= 2 below e0, Larch's range from the first energy to half-way to e0) through the edge "
        "(>= 2 within window_ev, default +-15 eV of e0) to the post-edge (>= 2 from e0 + 25 eV on; Ni K-edge: "
        "~8250-8500 eV). For a scan of a few energies below and above the edge (e.g. 2: pre/post edge), map the "
        "edge jump (where the element is) with bz.xanes.edge_jump_map(stack, energy)."
    )


@dataclass(frozen=True)
class LarchDefaults:
    """Normalization parameters (eV relative to e0); None means Larch's default rule."""

    pre1: float | None = None
    pre2: float | None = None
    norm1: float | None = None
    norm2: float | None = None
    nnorm: int | None = None
    nvict: float = 0.0
    npre: int = 1


@dataclass(frozen=True)
class NormRanges:
    """The resolved ranges for one e0 (what Larch reports in ``pre_edge_details``)."""

    e0: float
    ie0: int
    pre1: float
    pre2: float
    norm1: float
    norm2: float
    nnorm: int
    nvict: float
    npre: int
    pre_slice: tuple[int, int]
    norm_slice: tuple[int, int]


# ----------------------------------------------------------------------------- helpers


def _index_of(array: np.ndarray, value: float) -> int:
    """Larch's index_of: last index with ``array <= value`` (0 if none)."""
    if value < array.min():
        return 0
    return int(np.nonzero(array <= value)[0].max())


def _index_nearest(array: np.ndarray, value: float) -> int:
    return int(np.abs(array - value).argmin())


def _py_min(a: float, b: float) -> float:
    # Python's min/max semantics with NaN (Larch relies on them): min(1.0, nan) == 1.0
    return b if b < a else a


def _py_max(a: float, b: float) -> float:
    return b if b > a else a


def _energy_step(en: np.ndarray, frac_ignore: float = 0.01, nave: int = 10) -> float:
    """Larch's find_energy_step (NaN for fewer than 100 points, as in Larch)."""
    nskip = int(frac_ignore * len(en))
    e_ordered = np.nonzero(np.diff(np.argsort(en)) == 1)[0]
    sel = en[e_ordered]
    sel = sel[nskip:-nskip] if nskip > 0 else sel[0:0]
    ediff = np.diff(sel)
    chosen = np.sort(ediff)[nskip : nskip + nave]
    return float(chosen.mean()) if chosen.size else float("nan")


def _interp_matrix(x: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Matrix ``A`` with ``A @ y == numpy.interp(xq, x, y)`` (ends clamped)."""
    n = len(x)
    j = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, n - 2)
    t = np.clip((xq - x[j]) / (x[j + 1] - x[j]), 0.0, 1.0)
    a = np.zeros((len(xq), n))
    rows = np.arange(len(xq))
    a[rows, j] += 1.0 - t
    a[rows, j + 1] += t
    return a


def _smooth_matrix(x: np.ndarray, xstep: float, sigma: float) -> np.ndarray:
    """Larch's ``smooth(x, y, sigma, xstep)`` (Lorentzian) as an ``(n, n)`` linear map.

    Read-only and remembered per grid (building it takes ~10 ms; every stack measured on
    the same energies, and every block of one stack, needs the same few).
    """
    x = np.ascontiguousarray(x, np.float64)
    return _smooth_matrix_cached(x.tobytes(), float(xstep), float(sigma))


@functools.lru_cache(maxsize=64)
def _smooth_matrix_cached(x_bytes: bytes, xstep: float, sigma: float) -> np.ndarray:
    out = _build_smooth_matrix(np.frombuffer(x_bytes, np.float64), xstep, sigma)
    out.flags.writeable = False
    return out


def _build_smooth_matrix(x: np.ndarray, xstep: float, sigma: float) -> np.ndarray:
    npad = 5
    xmin = xstep * int((x.min() - npad * xstep) / xstep)
    xmax = xstep * int((x.max() + npad * xstep) / xstep)
    npts1 = 1 + int(abs(xmax - xmin + xstep * 0.1) / xstep)
    npts = min(npts1, 50 * len(x))
    x0 = np.linspace(xmin, xmax, npts)
    forward = _interp_matrix(x, x0)  # (npts, n)
    sig = sigma * (1.0 / xstep)
    wx = np.arange(2 * npts)
    win = 1.0 / (1 + ((1.0 * wx - npts) / max(1e-15, sig)) ** 2) / max(1e-15, math.pi * sig)
    win = win / win.sum()
    # reflect-pad as Larch does: y0[npts:0:-1], y0, y0[-1:-npts-1:-1]
    pad_idx = np.concatenate([np.arange(npts - 1, 0, -1), np.arange(npts), np.arange(npts - 1, -1, -1)])
    # np.convolve(win, y1, 'valid')[k] = sum_m win[k + 2 npts - 1 - m] * y1[m]
    k = np.arange(npts)[:, None]
    m = np.arange(len(pad_idx))[None, :]
    widx = k + 2 * npts - 1 - m
    toeplitz = np.where((widx >= 0) & (widx < 2 * npts), win[np.clip(widx, 0, 2 * npts - 1)], 0.0)
    conv = np.zeros((npts, npts))
    np.add.at(conv.T, pad_idx, toeplitz.T)  # sum columns that read the same y0 sample
    back = _interp_matrix(x0, x)  # (n, npts)
    return back @ conv @ forward


def _gradient_matrix(x: np.ndarray) -> np.ndarray:
    """Matrix ``G`` with ``G @ y == gradient(y) / gradient(x)`` (numpy's index gradient)."""
    n = len(x)
    g = np.zeros((n, n))
    g[0, 0], g[0, 1] = -1.0, 1.0
    g[-1, -2], g[-1, -1] = -1.0, 1.0
    i = np.arange(1, n - 1)
    g[i, i - 1], g[i, i + 1] = -0.5, 0.5
    return g / np.gradient(x)[:, None]


def _select_peak(dmu: np.ndarray, nmin: int) -> np.ndarray:
    """Larch's high-derivative selection, vectorized: ``dmu`` is ``(n, V)``; index per column."""
    n = dmu.shape[0]
    dmu = np.where(np.isfinite(dmu), dmu, -1.0)
    core = dmu[nmin:-nmin] if nmin > 0 else dmu
    dm_min = core.min(axis=0)
    dm_ptp = np.maximum(1e-10, core.max(axis=0) - dm_min)
    d = (dmu - dm_min) / dm_ptp
    t0 = 0.60 if n > 20 else 0.30
    c0 = (d > t0).sum(axis=0)
    c1 = (d > t0 / 2).sum(axis=0)
    c2 = (d > t0 / 4).sum(axis=0)
    thresh = np.where(c0 >= 3, t0, np.where(c1 > 3, t0 / 2, t0 / 4))
    high = d > thresh
    everything = (c0 < 3) & (c1 <= 3) & (c2 < 3)
    high[:, everything] = True
    cand = np.zeros_like(high)
    cand[1:-1] = high[1:-1] & high[:-2] & high[2:]
    i = np.arange(n)[:, None]
    cand &= (i >= nmin) & (i <= n - nmin)
    score = np.where(cand, d, -np.inf)
    imax = score.argmax(axis=0)
    best = np.take_along_axis(score, imax[None], 0)[0]
    return np.where(best > 0, imax, 0)


def _find_e0_block(energy: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Index (into ``energy``) of Larch's e0 for every column of ``mu`` ``(n, V)``."""
    n = len(energy)
    en = energy[:-1]
    m = mu[:-1]
    nmin = max(3, int(len(en) * 0.02))
    dmu = _gradient_matrix(en) @ m
    ie0 = _select_peak(dmu, nmin)
    step1 = _energy_step(en)
    out = np.zeros(mu.shape[1], np.int64)
    for first in np.unique(ie0):
        cols = np.nonzero(ie0 == first)[0]
        e1 = float(en[first])
        istart, istop = max(3, int(first) - 75), min(int(first) + 75, n - 3)
        if first < 0.05 * len(en):
            e1 = float(energy.mean())
            istart, istop = max(3, int(first) - 20), n - 3
        estep = 0.5 * (_py_max(0.01, _py_min(1.0, step1)) + _py_max(0.01, _py_min(1.0, e1 / 25000.0)))
        wen = energy[istart:istop][:-1]
        wmu = mu[istart:istop][:-1][:, cols]
        op = _smooth_matrix(wen, estep, estep) @ _gradient_matrix(wen)
        ix = _select_peak(op @ wmu, max(3, int(len(wen) * 0.02)))
        out[cols] = np.where(ix < 1, istart + 2, istart + ix)
    return out


def _valid_columns(mu: np.ndarray) -> np.ndarray:
    """Columns of ``mu`` ``(n, V)`` that are finite and not constant.

    The spread is taken over the finite columns only: NaN columns are common (the voxels
    outside an aligned stack's common field of view), and ``np.nanmax`` over them warned
    "All-NaN slice encountered" although nothing was wrong.
    """
    finite = np.isfinite(mu).all(axis=0)
    valid = finite.copy()
    if mu.shape[0] and finite.any():
        sub = mu[:, finite]
        valid[finite] = sub.max(axis=0) > sub.min(axis=0)
    else:
        valid[:] = False
    return valid


def pre_edge_ranges(energy: Any, e0: float, params: LarchDefaults | None = None) -> NormRanges:
    """Resolve Larch's pre-/post-edge ranges for one ``e0`` on an energy grid.

    Parameters
    ----------
    energy : array-like
        ``(E,)`` eV, strictly increasing.
    e0 : float
        Edge energy (eV).
    params : LarchDefaults, optional
        Explicit ranges; None fields follow Larch's rules (module docstring).

    Raises
    ------
    InputError
        When the pre-edge or post-edge range holds fewer than 2 energy points.
    """
    p = params or LarchDefaults()
    energy = np.asarray(energy, np.float64)
    n = len(energy)
    if n < 5 or not np.isfinite(e0):
        raise InputError(
            f"e0={e0!r} eV on {n} energies: normalization needs a finite e0 and >= 2 pre-edge and >= 2 post-edge "
            "energies around it (5 at least). For a scan of a few energies below and above the edge, map the edge "
            "jump with bz.xanes.edge_jump_map(stack, energy)."
        )
    ie0 = _index_nearest(energy, e0)
    pre1 = p.pre1
    if pre1 is None:
        pre1 = 5.0 * round((energy[1] - e0) / 5.0) if ie0 > 20 else 2.0 * round((energy[1] - e0) / 2.0)
    pre1 = max(pre1, energy.min() - e0)
    pre2 = p.pre2 if p.pre2 is not None else 0.5 * pre1
    if pre1 > pre2:
        pre1, pre2 = pre2, pre1
    nvict, npre = p.nvict, p.npre
    if _index_of(energy - e0, pre2) - _index_of(energy - e0, pre1) < 3:
        nvict, npre = 0.0, 0
    norm2 = p.norm2
    if norm2 is None:
        norm2 = 5.0 * round((energy.max() - e0) / 5.0)
    if norm2 < 0:
        norm2 = energy.max() - e0 - norm2
    norm2 = min(norm2, energy.max() - e0)
    norm1 = p.norm1 if p.norm1 is not None else min(25, 5.0 * round(norm2 / 15.0))
    if norm1 > norm2:
        norm1, norm2 = norm2, norm1
    norm1 = min(norm1, norm2 - 2)
    nnorm = p.nnorm
    if nnorm is None:
        nnorm = 2
        if norm2 - norm1 < 300:
            nnorm = 1
        if norm2 - norm1 < 30:
            nnorm = 0
    nnorm = max(min(int(nnorm), MAX_NNORM), 0)

    a, b = _index_of(energy, pre1 + e0), _index_nearest(energy, pre2 + e0)
    if b - a < 2:
        raise InputError(
            f"pre-edge range [e0{pre1:+.1f}, e0{pre2:+.1f}] eV = [{e0 + pre1:.1f}, {e0 + pre2:.1f}] eV "
            f"holds {max(b - a, 0)} energy point(s); a line needs at least 2. Widen it (pre1/pre2) "
            "or measure more pre-edge energies."
        )
    c, d = _index_of(energy, norm1 + e0), _index_nearest(energy, norm2 + e0)
    if c > n - 3:
        c = n - 3
    if d - c < 2:
        raise InputError(
            f"post-edge range [e0{norm1:+.1f}, e0{norm2:+.1f}] eV = [{e0 + norm1:.1f}, {e0 + norm2:.1f}] eV "
            f"holds {max(d - c, 0)} energy point(s); the normalization polynomial needs at least 2. "
            "Widen it (norm1/norm2) or measure more post-edge energies."
        )
    if d - c < 5:
        nnorm = min(1, nnorm)
    _warn_if_short(energy, e0, p, pre2, norm1, nnorm)
    return NormRanges(float(e0), ie0, float(pre1), float(pre2), float(norm1), float(norm2), nnorm,
                      float(nvict), int(npre), (a, b), (c, d))


def _warn_if_short(energy: np.ndarray, e0: float, p: LarchDefaults, pre2: float, norm1: float, nnorm: int) -> None:
    """Warn when ranges left to Larch's rules fall on the edge: a pre-edge range ending
    within SHORT_PRE_EDGE_EV of e0, or a post-edge range starting within SHORT_POST_EDGE_EV
    of it or reduced to a constant. On a spectrum of ~40 eV around the edge the default
    pre-edge line then fits the edge foot and the post-edge the white line, and the
    half-step edge energy moves with the ranges.

    The ranges the message suggests (pre-edge from the first point to half-way, at least
    10 eV below e0; a post-edge constant from a third of the way, at least 15 eV above e0,
    to the last point) were chosen on the NiO, LiNiO2 and Ni, Co, Mn foil standards cut to
    50 windows between e0-20/+20 and e0-50/+100 eV that warn: against the half-step
    energy of the whole spectrum the default ranges are off by up to 3.9 eV (rms 1.1),
    the suggested ones by up to 1.1 eV (rms 0.36). A short spectrum stays less certain
    than a long one; the same explicit ranges for every spectrum compared keep the
    comparison fair."""
    bad = []
    if p.pre1 is None and p.pre2 is None and pre2 > -SHORT_PRE_EDGE_EV:
        bad.append(f"the pre-edge range ends {-pre2:.1f} eV below e0, on the pre-edge peak and the edge foot")
    if p.norm1 is None and p.norm2 is None and (norm1 < SHORT_POST_EDGE_EV or (p.nnorm is None and nnorm == 0)):
        bad.append(f"the post-edge range starts {norm1:.1f} eV above e0, on the white line"
                   + (" (a constant)" if nnorm == 0 else ""))
    if not bad:
        return
    below, above = e0 - float(energy.min()), float(energy.max()) - e0
    pre1_s = float(-math.floor(below))
    norm2_s = float(math.floor(above))
    suggested = (f"pre1={pre1_s:g}, pre2={min(pre1_s / 2, -10.0):g}, norm1={max(15.0, round(norm2_s / 3)):g}, "
                 f"norm2={norm2_s:g}, nnorm=0")
    warnings.warn(
        f"spectrum over {energy.min():.1f}–{energy.max():.1f} eV reaches {below:.0f} eV below and {above:.0f} eV above "
        f"e0 = {e0:.1f} eV, too short for Larch's default ranges: {'; '.join(bad)}. The normalized spectrum and its "
        f"half-step edge energy then move with the ranges (by 0.3–3.9 eV on Ni, Co and Mn standards cut so). Pass "
        f"explicit ranges, the same for every spectrum you compare: {suggested}; or measure from "
        f"e0-{2 * SHORT_PRE_EDGE_EV:g} to e0+70 eV.",
        ShortSpectrumWarning, stacklevel=3)


def _lstsq_operator(x: np.ndarray, degree: int) -> np.ndarray:
    """``(degree+1, len(x))`` matrix giving low-to-high polynomial coefficients by least squares."""
    # scaled abscissa for conditioning (as numpy's Polynomial.fit), converted back below
    centre, half = 0.5 * (x.max() + x.min()), max(0.5 * (x.max() - x.min()), 1e-12)
    u = (x - centre) / half
    vander = np.vander(u, degree + 1, increasing=True)
    pinv = np.linalg.pinv(vander)  # coefficients in u
    # convert coefficients in u = (x - c)/h to coefficients in x
    conv = np.zeros((degree + 1, degree + 1))
    for k in range(degree + 1):  # u**k = sum_j binom(k, j) x**j (-c)**(k-j) / h**k
        for j in range(k + 1):
            conv[j, k] = math.comb(k, j) * (-centre) ** (k - j) / half**k
    return conv @ pinv


def _normalize_group(energy: np.ndarray, mu: np.ndarray, r: NormRanges, want_curves: bool) -> dict:
    """Normalize columns of ``mu`` ``(n, V)`` sharing the ranges ``r``."""
    a, b = r.pre_slice
    c, d = r.norm_slice
    weight = energy**r.nvict if r.nvict else None
    if r.npre == 0:  # a constant (in mu * E**nvict, like the line)
        pre_c0 = (mu[a:b] * weight[a:b, None] if weight is not None else mu[a:b]).mean(axis=0)
        pre_c1 = np.zeros_like(pre_c0)
    else:
        seg = mu[a:b] * weight[a:b, None] if weight is not None else mu[a:b]
        coef = _lstsq_operator(energy[a:b], 1) @ seg
        pre_c0, pre_c1 = coef[0], coef[1]

    def pre_at(idx):
        e = energy[idx]
        val = pre_c0[None] + e[:, None] * pre_c1[None] if np.ndim(idx) else pre_c0 + e * pre_c1
        if weight is not None:
            val = val * (e[:, None] ** -r.nvict if np.ndim(idx) else e**-r.nvict)
        return val

    sub = mu[c:d] - pre_at(np.arange(c, d))
    norm_coefs = _lstsq_operator(energy[c:d], r.nnorm) @ sub  # (nnorm+1, V)
    powers_e0 = energy[r.ie0] ** np.arange(r.nnorm + 1)
    step = np.abs(powers_e0 @ norm_coefs)
    step = np.maximum(step, 1e-12)
    # pre-edge noise: rms residual of the pre-edge fit, in mu units
    idx = np.arange(a, b)
    resid = mu[a:b] - pre_at(idx)
    dof = max(len(idx) - (1 if r.npre == 0 else 2), 1)
    noise = np.sqrt((resid**2).sum(axis=0) / dof)
    out = {"e0": np.full(mu.shape[1], r.e0), "edge_step": step, "pre_edge_noise": noise,
           "pre_c0": pre_c0, "pre_c1": pre_c1, "nvict": np.full(mu.shape[1], r.nvict),
           "norm_coefs": norm_coefs}
    if want_curves:
        pre = pre_at(np.arange(len(energy)))
        vander = energy[:, None] ** np.arange(r.nnorm + 1)[None]
        post_minus_pre = vander @ norm_coefs
        norm = (mu - pre) / step
        residue = post_minus_pre / step
        flat = norm - residue + residue[r.ie0]
        flat[: r.ie0] = norm[: r.ie0]
        out.update(norm=norm, flat=flat, pre_edge=pre, post_edge=pre + post_minus_pre)
    return out


def _e0_indices(energy: np.ndarray, mu: np.ndarray, e0: Any, valid: np.ndarray) -> np.ndarray:
    """Index of e0 per column (-1 for invalid columns)."""
    nvox = mu.shape[1]
    idx = np.full(nvox, -1, np.int64)
    if e0 is None:
        if valid.any():
            idx[valid] = _find_e0_block(energy, mu[:, valid])
    elif isinstance(e0, str):
        raise InputError(f"e0={e0!r}: pass None (per spectrum), 'mean' (resolved by the caller) or eV values")
    else:
        values = np.broadcast_to(np.asarray(e0, np.float64).ravel(), (nvox,)) if np.ndim(e0) else np.full(nvox, float(e0))
        near = np.abs(energy[:, None] - values[None]).argmin(axis=0)
        idx = np.where(valid, near, -1)
    return idx


def _normalize_2d(energy, mu2d, e0, params, want_curves, e0_exact=None, return_coefs=False):
    """Normalize ``(n, V)`` columns; returns dict of arrays (NaN for invalid columns)."""
    n, nvox = mu2d.shape
    mu2d = mu2d.astype(np.float64, copy=False)
    valid = _valid_columns(mu2d)
    idx = _e0_indices(energy, mu2d, e0, valid)
    fields = ["e0", "edge_step", "pre_edge_noise"]
    if return_coefs:
        fields += ["pre_c0", "pre_c1", "nvict"]
    out = {k: np.full(nvox, np.nan) for k in fields}
    if want_curves:
        for k in ("norm", "flat", "pre_edge", "post_edge"):
            out[k] = np.full((n, nvox), np.nan)
    out["valid"] = valid.copy()
    for i in np.unique(idx[idx >= 0]):
        cols = np.nonzero(idx == i)[0]
        e0_value = float(energy[i]) if e0_exact is None else float(e0_exact)
        r = pre_edge_ranges(energy, e0_value, params)
        res = _normalize_group(energy, mu2d[:, cols], r, want_curves)
        for k in fields:
            out[k][cols] = res[k]
        if want_curves:
            for k in ("norm", "flat", "pre_edge", "post_edge"):
                out[k][:, cols] = res[k]
    return out


def e0_of_mean_spectrum(array: Any, energy: np.ndarray) -> float:
    """The one e0 (eV) of ``e0="mean"``: Larch's find_e0 of the stack's mean spectrum.

    The mean runs over an even strided sample of at most
    :data:`~batteryzoom.xanes.stack.E0_SAMPLE_VOXELS` voxels (every voxel of a smaller
    stack): e0 only places the normalization ranges and is the derivative peak of the
    mean, which a quarter of a million spectra fix as well as all of them, while averaging a whole
    large stack costs most of a pass over it. Pass e0 as a number to set it yourself.

    Raises
    ------
    InputError
        A scan too coarse for find_e0 (:func:`check_edge_scan`), or a stack whose mean
        spectrum is constant (all zero, or no edge anywhere): there is no e0 to find.
    """
    check_edge_scan(energy)
    mean = mean_spectrum(array, max_voxels=E0_SAMPLE_VOXELS)
    e0 = float(find_e0(mean, energy))
    if not np.isfinite(e0):
        raise InputError(
            f"the stack's mean spectrum is constant ({mean[0]:.6g} at every one of its {len(energy)} energies): "
            "no edge to find. An all-zero or constant stack usually means the frames were not read or not "
            "flat-field corrected; check the input (optical density, energy first), or pass e0=<eV>."
        )
    return e0


def find_e0(stack: Any, energy: Any = None) -> Any:
    """Edge energy ``e0`` (eV) per spectrum by Larch's ``find_e0`` rules (module docstring).

    Parameters
    ----------
    stack : array-like or xarray.DataArray
        ``(E,)`` spectrum or ``(E, ...)`` stack, energy first; numpy or dask.
    energy : array-like, optional
        ``(E,)`` eV, strictly increasing (taken from the DataArray's coordinate if absent).

    Returns
    -------
    float or array
        float64 eV, shape ``stack.shape[1:]`` (a float for one spectrum). NaN where a
        spectrum has NaN/inf or is constant.

    Examples
    --------
    An edge at 8342 eV on a 2 eV grid (e0 is a grid energy, as Larch's):

    >>> import numpy as np, batteryzoom as bz
    >>> energy = np.arange(8200.0, 8601.0, 2.0)
    >>> mu = 0.6 + np.arctan((energy - 8342.0) / 1.5) / np.pi - 1e-4 * (energy - 8200)
    >>> float(bz.xanes.find_e0(mu, energy))
    8342.0
    """
    array, energy, template = split_input(stack, energy)
    check_edge_scan(energy, "find_e0")
    spatial = array.shape[1:]

    def block(b):
        flat = np.asarray(b, np.float64).reshape(b.shape[0], -1)
        valid = _valid_columns(flat)
        idx = _e0_indices(energy, flat, None, valid)
        res = np.where(idx >= 0, energy[np.clip(idx, 0, None)], np.nan)
        return res.reshape((1,) + b.shape[1:])

    res = map_spatial(block, array, 1, np.float64)[0]
    if not spatial:
        return float(res)
    return _wrap_map(res, template, "e0_ev", {"units": "eV", "method": "larch find_e0"})


def _wrap_map(values, template, name, attrs):
    if template is None:
        return values
    import xarray as xr

    dims, coords = spatial_frame(template)
    return xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=attrs)


def normalize(
    stack: Any,
    energy: Any = None,
    *,
    e0: Any = None,
    pre1: float | None = None,
    pre2: float | None = None,
    norm1: float | None = None,
    norm2: float | None = None,
    nnorm: int | None = None,
    nvict: float = 0.0,
    npre: int = 1,
) -> Any:
    """Pre-edge subtraction and normalization with Larch's ``pre_edge`` defaults.

    Parameters
    ----------
    stack : array-like or xarray.DataArray
        ``(E,)`` spectrum or ``(E, ...)`` stack (energy first): absorbance (optical
        density or mu). numpy or dask (chunked over space).
    energy : array-like, optional
        ``(E,)`` eV, strictly increasing; default the DataArray's ``energy`` coordinate.
    e0 : None, float, "mean" or array
        None: Larch's ``find_e0`` per spectrum (exact Larch behaviour). A float: one edge
        energy for every spectrum (its ranges are resolved once). ``"mean"``: find_e0 of
        the stack's mean spectrum, used for all (the usual choice for noisy voxels). An
        array (shape of the space): per-voxel values, snapped to the nearest grid energy.
    pre1, pre2, norm1, norm2, nnorm, nvict, npre
        Larch's parameters (eV relative to e0); None follows Larch's rules.

    Returns
    -------
    xarray.Dataset or dict
        ``norm`` and ``flat`` ``(E, ...)``, ``pre_edge`` and ``post_edge`` ``(E, ...)``
        (absorbance units), ``e0_ev``, ``edge_step`` and ``pre_edge_noise`` (rms residual
        of the pre-edge line, absorbance units) over space, ``valid`` (bool: finite,
        non-constant spectrum). A Dataset for DataArray input (coordinates kept), else a
        dict of numpy/dask arrays (a float for scalars of a single spectrum). float32 for a
        float32 stack (computed in float64 block by block, rounded once), else float64.
        Memory: the outputs (4 curves: 4x a float32 input) and the float64 temporaries
        of one block of 4,096 voxels per core; a dask stack, chunk by chunk.

    Raises
    ------
    InputError
        Energies not increasing or repeated, energy count different from the number of
        frames, a pre-/post-edge range with fewer than 2 points.

    Examples
    --------
    >>> import numpy as np, batteryzoom as bz
    >>> energy = np.arange(8200.0, 8601.0, 2.0)
    >>> mu = 0.6 + np.arctan((energy - 8342.0) / 1.5) / np.pi - 1e-4 * (energy - 8200)
    >>> norm = bz.xanes.normalize(mu, energy)
    >>> norm["e0_ev"], round(norm["edge_step"], 3), norm["norm"][energy == 8400.0].round(2)
    (8342.0, 0.979, array([1.]))
    """
    array, energy, template = split_input(stack, energy)
    params = LarchDefaults(pre1, pre2, norm1, norm2, nnorm, nvict, npre)
    e0_exact = None
    if e0 is None:
        check_edge_scan(energy, "normalize (e0=None: find_e0 per spectrum)")
    if isinstance(e0, str):
        if e0 != "mean":
            raise InputError(f"e0={e0!r}: use None, 'mean', a number (eV) or an array")
        e0 = e0_of_mean_spectrum(array, energy)
    if e0 is not None and np.ndim(e0) == 0:
        e0_exact = float(e0)
        pre_edge_ranges(energy, e0_exact, params)  # fail early on bad ranges
    n = len(energy)
    spatial = array.shape[1:]
    per_voxel_e0 = e0 is not None and np.ndim(e0) > 0
    # outputs keep a float32 stack's precision (computed in float64 per block of voxels):
    # four (E, ...) curves in float64 were 8x a float32 input before any temporary
    out_dtype = np.dtype(np.float32 if array.dtype == np.float32 else np.float64)

    def block(b, e0_block=None):
        flat_b = np.asarray(b).reshape(n, -1)
        e0_flat = e0_block.ravel() if e0_block is not None else None
        res = np.empty((4 * n + 4, flat_b.shape[1]), out_dtype)

        def one(s, stop):  # float64 temporaries of one block of voxels only
            use_e0 = e0_flat[s:stop] if e0_flat is not None else e0
            out = _normalize_2d(energy, flat_b[:, s:stop], use_e0, params, True, e0_exact)
            for k, key in enumerate(("norm", "flat", "pre_edge", "post_edge")):
                res[k * n : (k + 1) * n, s:stop] = out[key]
            for k, key in enumerate(("e0", "edge_step", "pre_edge_noise", "valid")):
                res[4 * n + k, s:stop] = out[key]

        map_ranges(flat_b.shape[1], NORMALIZE_BLOCK_VOXELS, one)
        return res.reshape((4 * n + 4,) + b.shape[1:])

    if per_voxel_e0:
        e0_arr = np.asarray(e0, np.float64)
        if e0_arr.shape != spatial:
            raise InputError(f"e0 has shape {e0_arr.shape}; the stack's space is {spatial}")
        if is_dask(array):
            import dask.array as da

            arr = array.rechunk({0: -1})
            e0_d = da.from_array(e0_arr[None], chunks=((1,),) + arr.chunks[1:])
            res = da.map_blocks(block, arr, e0_d, dtype=out_dtype, chunks=((4 * n + 4,),) + arr.chunks[1:])
        else:
            res = block(np.asarray(array), e0_arr)
    else:
        res = map_spatial(block, array, 4 * n + 4, out_dtype)
    parts = {
        "norm": res[0:n], "flat": res[n : 2 * n], "pre_edge": res[2 * n : 3 * n],
        "post_edge": res[3 * n : 4 * n], "e0_ev": res[4 * n], "edge_step": res[4 * n + 1],
        "pre_edge_noise": res[4 * n + 2], "valid": res[4 * n + 3] > 0.5,
    }
    if template is None:
        if not spatial:
            parts = {k: (v if np.ndim(v) else (bool(v) if k == "valid" else float(v))) for k, v in parts.items()}
        parts["energy"] = energy
        return parts
    import xarray as xr

    dims = template.dims
    coords = {k: v for k, v in template.coords.items()}
    ds = xr.Dataset(coords=coords)
    for k, v in parts.items():
        ds[k] = (dims if np.ndim(v) == len(dims) else dims[1:], v)
    ds["e0_ev"].attrs["units"] = "eV"
    ds.attrs.update({"normalization": "larch pre_edge rules", **{k: v for k, v in vars(params).items() if v is not None}})
    return ds
