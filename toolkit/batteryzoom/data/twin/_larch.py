"""Larch's edge finding and normalization rules, written for the twin's ground truth alone.

The twin's truth is the half-step of the Ni edge normalized the way Larch normalizes it
(:mod:`.xanes`). It is computed here from xraylarch's documented rules (``find_e0``,
``pre_edge`` and ``smooth`` in ``larch/xafs/pre_edge.py`` and ``larch/math/utils.py``),
one spectrum at a time with plain numpy, and not with :mod:`batteryzoom.xanes` (the code
the truth checks): a bug there cannot hide in the truth. Only what the twin needs is here:
``find_e0`` and ``pre_edge``'s default ranges (``pre1 = pre2 = norm1 = norm2 = nnorm =
None``, ``nvict = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["find_e0", "pre_edge_ranges", "PreEdgeRanges", "fit_pre_edge"]


def _index_of(array: np.ndarray, value: float) -> int:
    """Larch's ``index_of``: the last index with ``array <= value`` (0 below the range)."""
    if value < array.min():
        return 0
    return int(np.flatnonzero(array <= value).max())


def _index_nearest(array: np.ndarray, value: float) -> int:
    """Larch's ``index_nearest``: the index of the value nearest ``value``."""
    return int(np.abs(array - value).argmin())


def _energy_step(energy: np.ndarray, frac_ignore: float = 0.01, nave: int = 10) -> float:
    """Larch's ``find_energy_step``: the mean of the ``nave`` smallest steps after skipping
    the smallest ``frac_ignore`` of them (NaN when that leaves none: fewer than 100 points)."""
    nskip = int(frac_ignore * len(energy))
    ordered = energy[:-1]  # the points where diff(argsort(energy)) == 1, energies increasing
    steps = np.diff(ordered[nskip:-nskip]) if nskip > 0 else np.empty(0)
    chosen = np.sort(steps)[nskip : nskip + nave]
    return float(chosen.mean()) if chosen.size else math.nan


def _smooth(x: np.ndarray, y: np.ndarray, sigma: float, xstep: float) -> np.ndarray:
    """Larch's ``smooth(x, y, sigma, xstep)`` with its defaults (Lorentzian, ``npad=5``):
    ``y`` put on a uniform grid of step ``xstep``, reflected at both ends, convolved with a
    normalized Lorentzian of width ``sigma``, and interpolated back onto ``x``."""
    npad = 5
    xmin = xstep * int((x.min() - npad * xstep) / xstep)
    xmax = xstep * int((x.max() + npad * xstep) / xstep)
    npts = min(1 + int(abs(xmax - xmin + xstep * 0.1) / xstep), 50 * len(x))
    x0 = np.linspace(xmin, xmax, npts)
    y0 = np.interp(x0, x, y)
    width = sigma / xstep
    window = 1.0 / (1.0 + ((np.arange(2 * npts) - npts) / width) ** 2) / (math.pi * width)
    padded = np.concatenate((y0[npts:0:-1], y0, y0[-1 : -npts - 1 : -1]))
    smoothed = np.convolve(window / window.sum(), padded, mode="valid")
    if len(smoothed) > len(x0):
        extra = (len(smoothed) - len(x0)) // 2
        smoothed = smoothed[extra:][: len(x0)]
    return np.interp(x, x0, smoothed)


def _steepest(energy: np.ndarray, mu: np.ndarray, estep: float, smooth: bool) -> int:
    """Larch's ``_finde0``: the index of the steepest point among the points of high
    (rescaled) derivative whose neighbours are high too."""
    en, mu = energy[:-1], mu[:-1]  # _finde0 keeps the points where diff(argsort(en)) == 1
    nmin = max(3, int(len(en) * 0.02))
    dmu = np.gradient(mu) / np.gradient(en)
    if smooth:
        dmu = _smooth(en, dmu, sigma=estep, xstep=estep)
    dmu = np.where(np.isfinite(dmu), dmu, -1.0)
    core = dmu[nmin:-nmin]
    dmu = (dmu - core.min()) / max(1e-10, float(np.ptp(core)))
    dhigh = 0.60 if len(en) > 20 else 0.30
    high = np.flatnonzero(dmu > dhigh)
    if len(high) < 3:
        for _ in range(2):
            if len(high) > 3:
                break
            dhigh *= 0.5
            high = np.flatnonzero(dmu > dhigh)
    if len(high) < 3:
        high = np.flatnonzero(np.isfinite(dmu))
    is_high = set(high.tolist())
    imax, dmax = 0, 0.0
    for i in high:
        if i < nmin or i > len(en) - nmin:
            continue
        if dmu[i] > dmax and (i + 1) in is_high and (i - 1) in is_high:
            imax, dmax = int(i), float(dmu[i])
    return imax


def find_e0(energy: np.ndarray, mu: np.ndarray) -> float:
    """Larch's ``find_e0`` of one spectrum: a first pass without smoothing, then a second on
    the 150 points around it with the derivative smoothed (always a grid energy, eV)."""
    energy = np.asarray(energy, np.float64)
    mu = np.asarray(mu, np.float64)
    ie0 = _steepest(energy, mu, math.nan, smooth=False)
    e1 = float(energy[ie0])
    istart, istop = max(3, ie0 - 75), min(ie0 + 75, len(energy) - 3)
    if ie0 < 0.05 * len(energy):  # an edge in the first 5 % of the points is not believed
        e1 = float(energy.mean())
        istart, istop = max(3, ie0 - 20), len(energy) - 3
    step1 = _energy_step(energy[:-1])
    # Python's min/max keep the first argument against a NaN, as Larch's do
    estep = 0.5 * (max(0.01, min(1.0, step1)) + max(0.01, min(1.0, e1 / 25000.0)))
    ix = _steepest(energy[istart:istop], mu[istart:istop], estep, smooth=True)
    return float(energy[istart + 2] if ix < 1 else energy[istart + ix])


@dataclass(frozen=True)
class PreEdgeRanges:
    """``pre_edge``'s default ranges for one e0 on one grid (indices into the grid)."""

    ie0: int  # the grid point nearest e0: where the edge step is read
    pre: slice  # the pre-edge line's points
    post: slice  # the post-edge polynomial's points
    npre: int  # 1: a line; 0: a constant (too few points for a line)
    nnorm: int  # degree of the post-edge polynomial


def pre_edge_ranges(energy: np.ndarray, e0: float) -> PreEdgeRanges:
    """Larch's default ``pre_edge`` ranges: ``pre1 = 5 round((E[1] - e0) / 5)`` (``2
    round(.../2)`` when e0 is within 20 points of the start), at least ``E[0] - e0``, and
    ``pre2 = pre1 / 2``; ``norm2 = min(5 round((E[-1] - e0) / 5), E[-1] - e0)``, ``norm1 =
    min(25, 5 round(norm2 / 15), norm2 - 2)``; the post-edge polynomial of degree 2, 1 or 0
    as ``norm2 - norm1`` is at least 300, 30 or less (at most 1 on fewer than 5 points).
    Each range runs from ``index_of(E, e0 + start)`` up to, not including,
    ``index_nearest(E, e0 + end)``."""
    energy = np.asarray(energy, np.float64)
    n = len(energy)
    ie0 = _index_nearest(energy, e0)
    pre1 = 5.0 * round((energy[1] - e0) / 5.0) if ie0 > 20 else 2.0 * round((energy[1] - e0) / 2.0)
    pre1 = max(pre1, energy.min() - e0)
    pre2 = 0.5 * pre1
    pre1, pre2 = min(pre1, pre2), max(pre1, pre2)
    npre = 0 if _index_of(energy - e0, pre2) - _index_of(energy - e0, pre1) < 3 else 1
    norm2 = min(5.0 * round((energy.max() - e0) / 5.0), energy.max() - e0)
    norm1 = min(25, 5.0 * round(norm2 / 15.0))
    norm1, norm2 = min(norm1, norm2), max(norm1, norm2)
    norm1 = min(norm1, norm2 - 2)
    nnorm = 2 if norm2 - norm1 >= 300 else 1 if norm2 - norm1 >= 30 else 0
    a, b = _index_of(energy, pre1 + e0), _index_nearest(energy, pre2 + e0)
    c, d = min(_index_of(energy, norm1 + e0), n - 3), _index_nearest(energy, norm2 + e0)
    if b - a < 2 or d - c < 2:
        raise ValueError(f"the twin's grid holds too few points for Larch's ranges around e0 = {e0} eV")
    if d - c < 5:
        nnorm = min(1, nnorm)
    return PreEdgeRanges(ie0=ie0, pre=slice(a, b), post=slice(c, d), npre=npre, nnorm=nnorm)


def fit_pre_edge(energy: np.ndarray, mu: np.ndarray, e0: float) -> tuple[np.ndarray, np.ndarray]:
    """Larch's default pre-edge line and edge step of spectra ``mu`` ``(E, K)`` on ``energy``.

    Returns
    -------
    line : numpy.ndarray, shape (2, K)
        Intercept and slope of each pre-edge line in ``E - e0`` (eV): the line at energy
        ``x`` is ``line[0] + (x - e0) * line[1]``.
    step : numpy.ndarray, shape (K,)
        ``|post-edge - pre-edge|`` at the grid point nearest e0.
    """
    energy = np.asarray(energy, np.float64)
    r = pre_edge_ranges(energy, e0)
    # least squares in E - e0 (well conditioned; the same line as Larch's fit in E)
    x = energy - e0
    if r.npre:
        line = np.polynomial.polynomial.polyfit(x[r.pre], mu[r.pre], 1)
    else:
        line = np.stack([mu[r.pre].mean(axis=0), np.zeros(mu.shape[1])])
    above = mu[r.post] - (line[0][None] + x[r.post, None] * line[1][None])
    post = np.polynomial.polynomial.polyfit(x[r.post], above, r.nnorm)
    step = np.abs(np.polynomial.polynomial.polyval(x[r.ie0], post))
    return line, step
