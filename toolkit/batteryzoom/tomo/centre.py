"""The rotation centre: found automatically, with a stated metric and an uncertainty, per
energy and per slice row (a tilted axis is a straight line of centres against the row).

Methods
-------
``"auto"`` (what the pipeline uses)
    360° scans: ``"360"``. 180° scans: ``"pair"`` when a view lies within 1.5 steps of
    180° after the first, else ``"vo"``, then **refined** by the sharpness metric (below)
    within ±4 px of it (a 1-px grid, then ``step_px`` within ±1 px of its minimum, the
    vertex of a parabola; columns binned to ≤ 640 px; the detector edge-padded so that
    every trial centre's reconstruction circle lies on it). The refinement is declined (the
    method stays ``"pair"``/``"vo"``, the metric says why) when the 1-px grid has no
    interior minimum: on a single uniform disc the sharpness *peaks* at the true centre. Both data-consistency methods
    compare a handful of views (the pair two; Vo the wedge of a noisy stack), and on the
    real Diamond I12 dendrite (noisy, 0°-179.5°: the partner extrapolated two steps) they
    land 2.4 px (pair: 626.75) and 1.4 px (Vo: 627.75) from where the slice is in focus:
    the pair of view k with view 359−k moves between 625.2 and 630.8 px with k, while the
    exhaustive sharpness search (629.14), the entropy of the slice inside the sample after
    stripe removal (628.86), the peak height of six point-like inclusions (629.2-629.4; at
    626.75 each is a crescent with a dark shadow) and the projections' centre of mass, a
    sinusoid about the axis (629.39; 629.5-630.5 with other background widths), agree at
    ~629.2; ``"auto"`` gives 629.03 (tests/tomo/test_centre.py). On the tooth and I13 the refinement moves the
    pair's centre by < 0.1 px. The sharpness metric alone can be fooled far from the
    centre (rings, streaks, an empty field): the data-consistency start confines it.
``"pair"`` (180° scans whose last view lies within 1.5 steps of 180° after the first)
    The view at θ₀ + 180° (interpolated, or extrapolated by at most 1.5 steps, from the
    two nearest views) is the first view mirrored about the axis: the centre ``c``
    minimises the mean squared difference ``first(u) − partner(2c − u)`` over the columns
    both see (both smoothed by a Gaussian of 1 px; a 1-px grid, then 0.05 px, then the
    vertex of a parabola). TomoPy's ``find_center_pc`` registers the same pair by phase
    correlation. On the real I13 series, whose last view is exactly 180° after the first,
    it agrees with the exhaustive sharpness search to 0.05 px where Vo's method is 0.4 px
    off, and on the real tooth to 0.2 px where Vo's is 0.8 px off.
``"vo"`` (180° scans)
    Vo, Atwood & Drakopoulos, Opt. Express 22, 19078 (2014), algotom's implementation
    (``coarse_search_cor`` / ``fine_search_cor``): the sinogram and its mirror image,
    shifted by twice the trial offset, are stacked into a 360° sinogram; the metric is the
    mean Fourier amplitude of that stack inside a double-wedge mask (energy a correct
    centre would not put there). Integer search on a binned sinogram (columns binned so
    the width is ≤ ~320 px), then a search of step ``step_px`` (0.25 px) at full
    resolution around it.
``"360"`` (360° scans, axis anywhere, offset for half-acquisition)
    Vo et al., Opt. Express 29, 17849 (2021), algotom's ``find_overlap``: each view and
    the mirrored view 180° later (interpolated between measured angles) overlap where
    both see the same lines; the overlap width maximising the correlation gives the
    centre.
``"sharpness"`` (any scan; the reference of the tests)
    Exhaustive search: the slice is reconstructed (FBP, sinogram smoothed by a Gaussian
    of 2 px along the detector against noise) at every trial centre; the metric is the
    mean gradient magnitude over the reconstruction circle (algotom's "sharpness" metric):
    a wrong centre turns every edge into arcs and doubles, which add gradient, so the
    minimum marks the centre. A grid of 1 px over the search range, a grid of ``step_px``
    within ±2.5 px of its minimum, and the vertex of a parabola through the minimum and
    its neighbours. Restricting the metric to the sample (Otsu mask) made it follow the
    centre the mask was made at (real tooth, 3 px erosion) or lose small samples (10 px),
    hence the whole circle.

Uncertainty: the standard error of the centres found on ``subsets`` interleaved subsets
of the angles (every 4th angle, four times; for ``"pair"`` of the detector columns),
floored at the step/√12 of the search grid; for ``"sharpness"`` and ``"auto"``'s
refinement the standard error of the fitted parabola's vertex, with the same floor.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _blocks
from ..errors import InputError
from . import _projector as P
from ._masks import circle_mask, sample_mask
from .reconstruction import scan_type

__all__ = ["CentreEstimate", "CentreFit", "find_centre", "find_centre_rows", "sharpness_curve",
           "sharpness_metric", "CENTRE_METHODS"]

CENTRE_METHODS = ("auto", "pair", "vo", "360", "sharpness")
_REFINE_PX = 4.0  # "auto": how far the sharpness refinement may move the data-consistency centre


@dataclass(frozen=True)
class CentreEstimate:
    """A rotation centre on the detector.

    Attributes
    ----------
    centre_px : float
        Rotation axis in detector columns (px; 0 = centre of the first column).
    uncertainty_px : float
        Its standard error (px; module docstring).
    method : str
        ``"pair"``, ``"vo"``, ``"360"``, ``"sharpness"``, or ``"pair+sharpness"`` /
        ``"vo+sharpness"`` (``"auto"`` on a 180° scan: the first, refined by the second).
    metric : str
        What the method optimised, in words.
    search_px : tuple of float
        The range searched.
    curve : tuple of numpy.ndarray or None
        ``(centres_px, metric)`` of an exhaustive search.
    """

    centre_px: float
    uncertainty_px: float
    method: str
    metric: str
    search_px: tuple[float, float]
    curve: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __float__(self) -> float:
        return float(self.centre_px)


@dataclass(frozen=True)
class CentreFit:
    """Centres of several rows and the straight line through them (a tilted axis).

    Attributes
    ----------
    rows : numpy.ndarray of int
        Detector rows measured.
    centres_px, uncertainties_px : numpy.ndarray of float
        Each row's :class:`CentreEstimate`.
    intercept_px, slope_px_per_row : float
        ``centre(row) = intercept_px + slope_px_per_row * row`` (weighted least squares;
        rows more than 3 robust σ off the line are left out and listed in ``rejected``).
    slope_uncertainty : float
        Standard error of the slope (px/row).
    tilt_deg : float
        The axis tilt in the detector plane, ``atan(slope)`` in degrees.
    residual_px : float
        RMS distance of the kept rows from the line (px).
    method : str
    rejected : tuple of int
    """

    rows: np.ndarray
    centres_px: np.ndarray
    uncertainties_px: np.ndarray
    intercept_px: float
    slope_px_per_row: float
    slope_uncertainty: float
    tilt_deg: float
    residual_px: float
    method: str
    rejected: tuple[int, ...] = ()

    def centre_at(self, rows: Any) -> np.ndarray:
        """Centres (px) of detector ``rows`` on the fitted line."""
        return self.intercept_px + self.slope_px_per_row * np.asarray(rows, dtype=np.float64)

    @property
    def tilted(self) -> bool:
        """Whether the slope differs from 0 by more than 3 standard errors."""
        return bool(abs(self.slope_px_per_row) > 3 * self.slope_uncertainty and self.rows.size > 2)

    def as_attrs(self) -> dict[str, Any]:
        """JSON-friendly summary (for a volume's attributes)."""
        return {"centre_rows": [int(r) for r in self.rows],
                "centre_rows_px": [round(float(c), 4) for c in self.centres_px],
                "centre_rows_uncertainty_px": [round(float(u), 4) for u in self.uncertainties_px],
                "centre_intercept_px": float(self.intercept_px),
                "centre_slope_px_per_row": float(self.slope_px_per_row),
                "centre_tilt_deg": float(self.tilt_deg), "centre_residual_px": float(self.residual_px),
                "centre_method": self.method}


def _sinogram(sinogram: Any, angles_deg: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(sinogram, dtype=np.float32)
    if s.ndim != 2:
        raise InputError(f"{where}: expected one sinogram (angle, col), got shape {s.shape}")
    a = np.asarray(angles_deg, dtype=np.float64).ravel()
    if a.size != s.shape[0]:
        raise InputError(f"{where}: {a.size} angles for {s.shape[0]} projections; give one angle per row")
    if not np.all(np.isfinite(s)):
        raise InputError(f"{where}: the sinogram holds NaN/inf; normalise with bz.tomo.normalize first")
    order = np.argsort(a, kind="stable")
    return s[order], a[order]


def _search_range(search_px: Any, ncol: int, where: str) -> tuple[float, float]:
    if search_px is None:
        return max(0.0, ncol / 2 - ncol / 4), min(ncol - 1.0, ncol / 2 + ncol / 4)
    lo, hi = (float(v) for v in search_px)
    if not (0 <= lo < hi <= ncol - 1):
        raise InputError(f"{where}: search_px={search_px!r} must lie inside the detector (0 … {ncol - 1} px) "
                         "with low < high; a centre outside the detector cannot be reconstructed from a "
                         "180° scan (for an offset axis, scan 360° and use method='360')")
    return lo, hi


def _first_180(s: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = a < a[0] + 180.0 - 1e-6
    return s[keep], a[keep]


def _vo(s: np.ndarray, lo: float, hi: float, step: float, coarse: bool = True, start: float | None = None) -> float:
    from algotom.prep.calculation import coarse_search_cor, downsample_cor, fine_search_cor
    from scipy import ndimage as ndi

    ncol = s.shape[1]
    ncore = _blocks.n_threads()
    if coarse:
        b = max(1, int(round(ncol / 320)))
        rb = max(1, s.shape[0] // 360)
        binned = downsample_cor(ndi.gaussian_filter(s, (3, 1), mode="reflect"), rb, b)
        start_b = int(math.floor(lo / b))
        stop_b = max(start_b + 1, int(math.ceil(hi / b)))
        raw = coarse_search_cor(binned, start_b, stop_b, ratio=0.5, denoise=False, ncore=ncore)
        start = raw * b + 0.5 * (b - 1)
        radius = b + 1.0
    else:
        radius = 2.0
    return float(fine_search_cor(s, float(start), radius, step, ratio=0.5, denoise=True, ncore=ncore))


def _pair_halves(s: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Views of the first 180° and the views 180° later (interpolated in angle)."""
    ext_a = np.concatenate([a, [a[0] + 360.0]])
    ext_s = np.concatenate([s, s[:1]], axis=0)
    first = a < a[0] + 180.0 - 1e-6
    target = a[first] + 180.0
    hi = np.clip(np.searchsorted(ext_a, target, side="left"), 1, ext_a.size - 1)
    lo = hi - 1
    t = ((target - ext_a[lo]) / np.maximum(ext_a[hi] - ext_a[lo], 1e-12))[:, None]
    return s[first], (ext_s[lo] * (1 - t) + ext_s[hi] * t).astype(np.float32)


def _overlap_centre(top: np.ndarray, bottom: np.ndarray, win: int) -> float:
    from algotom.prep.calculation import find_overlap

    overlap, side, _ = find_overlap(top, np.fliplr(bottom), win, None, True, False, False, _blocks.n_threads())
    ncol = top.shape[1]
    return overlap / 2.0 - 0.5 if side == 0 else ncol - overlap / 2.0 - 0.5


def _partner(s: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The first view and the view 180° after it (interpolated in angle), or None when
    no measured view lies within 1.5 steps of it."""
    target = a[0] + 180.0
    step = float(np.median(np.diff(a)))
    if a.size < 3 or not (a[-1] - 1.5 * step <= target):
        return None
    j = int(np.clip(np.searchsorted(a, target), 1, a.size - 1))
    f = (target - a[j - 1]) / (a[j] - a[j - 1])
    return s[0].astype(np.float64), (s[j - 1] + f * (s[j] - s[j - 1])).astype(np.float64)


def _pair_cost(first: np.ndarray, partner: np.ndarray, cs: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
    n = first.size
    u = np.arange(n, dtype=np.float64)
    out = np.full(cs.size, np.inf)
    for i, c in enumerate(cs):
        src = 2 * c - u
        ok = (src >= 0) & (src <= n - 1)
        if cols is not None:
            ok &= cols
        if ok.sum() >= max(8, n // 8):  # enough overlap to compare
            out[i] = float(np.mean((first[ok] - np.interp(src[ok], u, partner)) ** 2))
    return out


def _pair(first: np.ndarray, partner: np.ndarray, lo: float, hi: float, cols: np.ndarray | None = None,
          start: float | None = None) -> float:
    if start is None:
        coarse = np.arange(math.ceil(lo), math.floor(hi) + 1e-9, 1.0)
        start = float(coarse[int(np.argmin(_pair_cost(first, partner, coarse, cols)))])
    fine = np.arange(start - 1.5, start + 1.5 + 1e-9, 0.05)
    fine = fine[(fine >= lo) & (fine <= hi)]
    centre, _ = _parabola_vertex(fine, _pair_cost(first, partner, fine, cols), 0.05)
    return centre


def sharpness_metric(slice_: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean gradient magnitude of a slice (per px), inside ``mask`` when given: the
    metric of the ``"sharpness"`` search (lower = fewer arcs and doubles)."""
    gy, gx = np.gradient(np.asarray(slice_, dtype=np.float64))
    g = np.hypot(gx, gy)
    return float(g[mask].mean() if mask is not None else g.mean())


def sharpness_curve(sinogram: Any, angles_deg: Any, centres_px: Any, *, sigma_px: float = 2.0,
                    mask: np.ndarray | str = "circle", size: int | None = None,
                    where: str = "sinogram") -> tuple[np.ndarray, np.ndarray]:
    """The ``"sharpness"`` metric (module docstring) at every trial centre.

    Parameters
    ----------
    sinogram : array-like, (angle, col)
        Optical densities of one slice.
    angles_deg : array-like, (angle,)
    centres_px : array-like
        Trial centres (px).
    sigma_px : float
        Gaussian smoothing of the sinogram along the detector before reconstructing.
    mask : numpy.ndarray of bool (size, size), "circle" or "sample"
        Where to measure: the whole reconstruction circle (default), or the sample (Otsu
        threshold of the slice at the middle trial centre, eroded 10 px), or a mask.
    size : int, optional
        Reconstruct a central ``size × size`` grid (px) instead of the detector width
        (faster on wide detectors; the sample must be inside it).

    Returns
    -------
    centres_px, metric : numpy.ndarray
    """
    from scipy import ndimage as ndi

    from .reconstruction import reconstruct_slices

    s, a = _sinogram(sinogram, angles_deg, where)
    cs = np.asarray(centres_px, dtype=np.float64).ravel()
    if sigma_px:
        s = ndi.gaussian_filter1d(s, float(sigma_px), axis=1)
    if isinstance(mask, str):
        if mask == "circle":
            mask = circle_mask(size or s.shape[1])
        elif mask == "sample":
            mask = sample_mask(reconstruct_slices(s, a, float(np.median(cs)), size=size, where=where),
                               erode_px=10)
        else:
            raise InputError(f"mask={mask!r}: give a boolean array, 'circle' or 'sample'")
    values = np.array([sharpness_metric(reconstruct_slices(s, a, float(c), size=size, where=where), mask)
                       for c in cs])
    return cs, values


def _parabola_vertex(cs: np.ndarray, m: np.ndarray, step: float) -> tuple[float, float]:
    i = int(np.argmin(m))
    near = np.abs(cs - cs[i]) <= max(1.0, 2.5 * step) + 1e-9
    if near.sum() >= 4 and 0 < i < cs.size - 1:
        x = cs[near] - cs[i]
        (a2, a1, _), cov = np.polyfit(x, m[near], 2, cov=True)
        if a2 > 0:
            v = -a1 / (2 * a2)
            if abs(v) <= 1.5 * step:
                # delta method: var(v) from the covariance of (a2, a1)
                g = np.array([a1 / (2 * a2 ** 2), -1 / (2 * a2)])
                var = float(g @ cov[:2, :2] @ g)
                return float(cs[i] + v), math.sqrt(max(var, 0.0))
    return float(cs[i]), step / 2


def find_centre(
    sinogram: Any,
    angles_deg: Any,
    *,
    method: str = "auto",
    search_px: tuple[float, float] | None = None,
    step_px: float = 0.25,
    subsets: int = 4,
    size: int | None = None,
    where: str = "sinogram",
) -> CentreEstimate:
    """Find the rotation centre of one sinogram (module docstring: methods, uncertainty).

    Parameters
    ----------
    sinogram : array-like, (angle, col)
        Optical densities ``-ln(I/I0)`` of one detector row.
    angles_deg : array-like, (angle,)
        Angles in degrees.
    method : {"auto", "pair", "vo", "360", "sharpness"}
        ``"auto"``: ``"pair"`` for a 180° scan with a view 180° after the first (within
        1.5 steps), else ``"vo"``, then refined by the sharpness search within ±4 px
        (module docstring); ``"360"`` for a 360° scan.
    search_px : (float, float), optional
        Range of centres to search (px, inside the detector); default the middle half of
        the detector (``"vo"``, ``"sharpness"``).
    step_px : float
        Final search step (px).
    subsets : int
        Angle subsets for the uncertainty (``"vo"``, ``"360"``); 0 or 1 skips it
        (uncertainty then the grid's step/√12).
    size : int, optional
        ``"sharpness"``: reconstruct a central ``size × size`` grid (:func:`sharpness_curve`).

    Returns
    -------
    CentreEstimate

    Raises
    ------
    InputError
        Angles and sinogram of different lengths, NaN in the sinogram, a search range
        outside the detector, ``method="vo"`` on a 360° scan (a 360° scan treated as
        180°), ``method="360"`` on a 180° scan.

    Warns
    -----
    UserWarning
        The centre found lies on the edge of the search range (the true one may be
        outside it).

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.tomo import find_centre
    >>> from batteryzoom.tomo.reconstruction import project
    >>> yy, xx = np.mgrid[-40:41, -40:41]
    >>> phantom = ((np.hypot(yy, xx - 8) < 20) + (np.hypot(yy + 12, xx + 5) < 8)).astype(np.float32)
    >>> angles = np.arange(0, 180, 1.0)
    >>> sino = project(phantom, angles, centre=47.3, ncol=96)
    >>> est = find_centre(sino, angles)
    >>> est.method, abs(est.centre_px - 47.3) <= 0.25
    ('pair+sharpness', True)
    """
    if method not in CENTRE_METHODS:
        raise InputError(f"method={method!r}: choose one of {CENTRE_METHODS}")
    s, a = _sinogram(sinogram, angles_deg, where)
    ncol = s.shape[1]
    kind = scan_type(a, where=f"{where}: angles")
    pair = _partner(s, a) if kind == "180" else None
    refine = method == "auto" and kind != "360"
    if method == "auto":
        method = "360" if kind == "360" else ("pair" if pair is not None else "vo")
    if method == "pair" and pair is None:
        raise InputError(f"{where}: method='pair' needs a view within 1.5 steps of 180° after the first "
                         f"(the angles span {a[0]:.4g}°–{a[-1]:.4g}°); use method='vo' or 'auto'")
    if method in ("vo", "pair") and kind == "360":
        raise InputError(f"{where}: the angles cover 360° but method={method!r} treats the scan as 180° (a "
                         "360° scan treated as 180°); use method='360' or 'auto'")
    if method == "360" and kind != "360":
        raise InputError(f"{where}: method='360' needs angles covering 360°; these cover "
                         f"{P.scan_span_deg(a):.4g}°. Use method='vo' or 'auto'")
    step = float(step_px)
    if not step > 0:
        raise InputError(f"step_px={step_px!r} must be a positive number of pixels")
    k = max(1, int(subsets))
    if method == "360":
        top, bottom = _pair_halves(s, a)
        win = max(8, min(100, ncol // 8))
        centre = _overlap_centre(top, bottom, win)
        subs = [_overlap_centre(top[i::k], bottom[i::k], win) for i in range(k)] if k > 1 else []
        lo, hi = -float(ncol), 2.0 * ncol
        metric = "correlation of each view with the mirrored view 180° later over their overlap (Vo 2021)"
        unc = _spread(subs, step)
        return CentreEstimate(centre, unc, "360", metric, (lo, hi))
    lo, hi = _search_range(search_px, ncol, where)
    s180, a180 = _first_180(s, a)
    if method == "pair":
        from scipy import ndimage as ndi

        first, partner = (ndi.gaussian_filter1d(v, 1.0) for v in pair)
        centre = _pair(first, partner, lo, hi)
        cols = np.arange(ncol) % k
        subs = [_pair(first, partner, lo, hi, cols == i, centre) for i in range(k)] if k > 1 else []
        est = CentreEstimate(centre, _spread(subs, 0.05), "pair",
                             "mean squared difference between the first view and the view 180° later "
                             "mirrored about the trial axis, minimised", (lo, hi))
    elif method == "vo":
        centre = _vo(s180, lo, hi, step)
        subs = [_vo(s180[i::k], lo, hi, step, coarse=False, start=centre) for i in range(k)] if k > 1 else []
        est = CentreEstimate(centre, _spread(subs, step), "vo",
                             "mean Fourier amplitude in the double wedge of the sinogram stacked with its "
                             "shifted mirror (Vo 2014), minimised", (lo, hi))
    else:
        coarse_cs = np.arange(math.ceil(lo), math.floor(hi) + 1e-9, 1.0)
        cs1, m1 = sharpness_curve(s, a, coarse_cs, size=size, where=where)
        best = float(cs1[int(np.argmin(m1))])
        fine = np.arange(best - 2.5, best + 2.5 + 1e-9, step)
        fine = fine[(fine >= lo) & (fine <= hi)]
        cs2, m2 = sharpness_curve(s, a, fine, size=size, where=where)
        centre, unc = _parabola_vertex(cs2, m2, step)
        est = CentreEstimate(centre, max(unc, step / math.sqrt(12)), "sharpness",
                             "mean gradient magnitude over the reconstruction circle of the FBP slice "
                             "(sinogram smoothed 2 px), minimised", (lo, hi), curve=(cs2, m2))
    if refine:
        est = _refine(s, a, est, lo, hi, step)
    if min(est.centre_px - lo, hi - est.centre_px) < 1.0:
        warnings.warn(f"{where}: the centre found, {est.centre_px:.2f} px, lies on the edge of the search "
                      f"range {lo:.1f}–{hi:.1f} px; widen search_px (the axis may lie outside it)", stacklevel=2)
    return est


def _refine(s: np.ndarray, a: np.ndarray, start: CentreEstimate, lo: float, hi: float,
            step: float) -> CentreEstimate:
    """``"auto"``'s second stage (module docstring): the sharpness minimum within
    ±``_REFINE_PX`` of the data-consistency estimate, on columns binned to ≤ 640 px."""
    b = max(1, int(math.ceil(s.shape[1] / 640)))
    sb = s[:, : s.shape[1] // b * b].reshape(s.shape[0], -1, b).mean(axis=2) if b > 1 else s
    to_binned = lambda c: (np.asarray(c) + 0.5) / b - 0.5  # noqa: E731 (column centres of the bins)
    sigma = 2.0 / b
    coarse = np.arange(start.centre_px - _REFINE_PX, start.centre_px + _REFINE_PX + 1e-9, 1.0)
    coarse = coarse[(coarse >= lo) & (coarse <= hi)]
    # the detector edge-padded so that the reconstruction circle about every trial centre
    # lies on it: beyond its edges the back-projector reads zeros, and with the axis off the
    # detector's middle a trial nearer the middle reconstructs less of the circle from those
    # zeros (a smaller metric): on the raw twin (axis 3 px off) that pulled the centre
    # 0.5-0.9 px towards the middle; padded, 0.1 px from the truth
    n = sb.shape[1]
    pad = int(math.ceil(abs(float(to_binned(start.centre_px)) - 0.5 * (n - 1)) + _REFINE_PX / b + 3))
    sb = np.pad(sb, ((0, 0), (pad, pad)), mode="edge")
    to_padded = lambda c: to_binned(c) + pad  # noqa: E731
    _, m1 = sharpness_curve(sb, a, to_padded(coarse), sigma_px=sigma, size=n)
    i = int(np.argmin(m1))
    if i in (0, coarse.size - 1):  # no minimum near the start: the metric is fooled (one disc: a maximum)
        return dataclasses.replace(start, metric=f"{start.metric} (the sharpness refinement declined: no "
                                   f"minimum within ±{_REFINE_PX:g} px)")
    best = float(coarse[i])
    fine = np.arange(best - 1.0, best + 1.0 + 1e-9, step)
    fine = fine[(fine >= lo) & (fine <= hi)]
    _, m2 = sharpness_curve(sb, a, to_padded(fine), sigma_px=sigma, size=n)
    centre, unc = _parabola_vertex(fine, m2, step)
    return CentreEstimate(centre, max(unc, step / math.sqrt(12)), f"{start.method}+sharpness",
                          f"{start.metric}, {start.centre_px:.2f} px; then the mean gradient magnitude over the "
                          f"reconstruction circle of the FBP slice minimised within ±{_REFINE_PX:g} px of it",
                          (lo, hi), curve=(fine, m2))


def _spread(values: list[float], step: float) -> float:
    floor = step / math.sqrt(12)
    if len(values) < 2:
        return floor
    return max(float(np.std(values, ddof=1) / math.sqrt(len(values))), floor)


def find_centre_rows(
    projections: Any,
    angles_deg: Any,
    *,
    rows: Any = 5,
    method: str = "auto",
    search_px: tuple[float, float] | None = None,
    step_px: float = 0.25,
    subsets: int = 4,
    where: str = "projections",
) -> CentreFit:
    """Centres of several detector rows, and the line through them (axis tilt).

    Parameters
    ----------
    projections : array-like, (angle, row, col)
        Optical densities (numpy or dask; only the chosen rows are read).
    angles_deg : array-like, (angle,)
    rows : int or sequence of int
        How many rows, evenly spaced over the middle 80 % of the detector, or which rows.
    method, search_px, step_px, subsets
        As :func:`find_centre`, per row.

    Returns
    -------
    CentreFit

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.tomo import find_centre_rows
    >>> from batteryzoom.tomo.reconstruction import project
    >>> yy, xx = np.mgrid[-40:41, -40:41]
    >>> phantom = ((np.hypot(yy, xx - 8) < 20) + (np.hypot(yy + 12, xx + 5) < 8)).astype(np.float32)
    >>> angles = np.arange(0, 180, 1.0)
    >>> proj = np.stack([project(phantom, angles, 45.0 + 0.02 * r, 96) for r in range(50)], axis=1)
    >>> fit = find_centre_rows(proj, angles, rows=5)  # a centre drifting 0.02 px per row
    >>> fit.rows.tolist(), bool(abs(fit.slope_px_per_row - 0.02) < 0.005)
    ([5, 15, 24, 34, 44], True)
    """
    shape = tuple(np.shape(projections))
    if len(shape) != 3:
        raise InputError(f"{where}: expected projections (angle, row, col), got shape {shape}")
    nrow = shape[1]
    if np.ndim(rows) == 0:
        count = max(1, min(int(rows), nrow))
        chosen = np.unique(np.round(np.linspace(0.1 * (nrow - 1), 0.9 * (nrow - 1), count)).astype(int))
    else:
        chosen = np.unique(np.asarray(rows, dtype=int))
        if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= nrow:
            raise InputError(f"rows={rows!r}: rows must lie in 0 … {nrow - 1}")
    block = np.asarray(projections[:, chosen, :] if hasattr(projections, "__getitem__") else
                       np.asarray(projections)[:, chosen, :], dtype=np.float32)
    ests = [find_centre(block[:, j, :], angles_deg, method=method, search_px=search_px, step_px=step_px,
                        subsets=subsets, where=f"{where} row {r}") for j, r in enumerate(chosen)]
    c = np.array([e.centre_px for e in ests])
    u = np.array([e.uncertainty_px for e in ests])
    return _fit_line(chosen, c, u, ests[0].method)


def _fit_line(rows: np.ndarray, c: np.ndarray, u: np.ndarray, method: str) -> CentreFit:
    keep = np.ones(rows.size, bool)
    if rows.size >= 4:  # one pass of outlier rejection against the median line
        res = c - np.median(c)
        mad = 1.4826 * np.median(np.abs(res - np.median(res)))
        keep = np.abs(res - np.median(res)) <= max(3 * mad, 3 * float(np.median(u)), 0.5)
    r, cc, uu = rows[keep].astype(float), c[keep], np.maximum(u[keep], 1e-3)
    if r.size >= 2 and np.ptp(r) > 0:
        w = 1 / uu ** 2
        design = np.stack([np.ones_like(r), r], axis=1)
        cov = np.linalg.inv(design.T @ (design * w[:, None]))
        intercept, slope = cov @ (design.T @ (w * cc))
        resid = cc - (intercept + slope * r)
        scale = max(1.0, float(np.sum(w * resid ** 2) / max(r.size - 2, 1)))  # inflate when scatter > errors
        slope_se = math.sqrt(cov[1, 1] * scale)
    else:
        intercept, slope, slope_se = float(np.average(cc, weights=1 / uu ** 2)), 0.0, 0.0
        resid = cc - intercept
    return CentreFit(rows=rows, centres_px=c, uncertainties_px=u, intercept_px=float(intercept),
                     slope_px_per_row=float(slope), slope_uncertainty=float(slope_se),
                     tilt_deg=float(np.degrees(np.arctan(slope))),
                     residual_px=float(np.sqrt(np.mean(resid ** 2))) if resid.size else 0.0,
                     method=method, rejected=tuple(int(x) for x in rows[~keep]))
