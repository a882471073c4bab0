"""The windings of an unrolled slice: pitch, handedness, ridges, the Archimedean spiral, per turn.

:func:`track_layers` measures the winding pitch (the columns' averaged power spectra) and the
handedness (the radial drift of the ridges with the angle), shears the unrolled image by one
pitch per turn so each turn is a row, follows every ridge (:mod:`._ridges`) and fits the
spiral ``r = a + b·Θ`` (``Θ = 2πk ± θ`` for turn ``k``) with a first-order centre correction
and an oval term; then per turn: radius, coverage, thickness, spacing and gap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from ..errors import InputError
from ._ridges import _follow_rows
from ._signal import _fwhm
from ._slice import TWO_PI, _check_track_args, _in_unit, _um_named, _unit_text
from .unrolling import _unrolled_frame

__all__ = ["Layers", "track_layers"]


@dataclass
class Layers:
    """Windings tracked in one slice, and the spiral fitted through them.

    Lengths are in the slice's frame: µm, or pixels when ``length_unit == "px"``; the
    ``turns`` table and :meth:`summary` then name them ``..._px``.

    Attributes
    ----------
    angle_rad : ndarray (n_angles,)
        Column angles (rad).
    radius_um : ndarray (n_turns, n_angles)
        Radius of each turn's ridge (the winding's bright mid-plane) from the unrolling
        centre; NaN where the ridge is missing (before the spiral starts, after it ends,
        in a tear).
    strength : ndarray (n_turns, n_angles)
        Ridge height above the neighbouring minima (grey levels).
    residual_um : ndarray (n_turns, n_angles)
        ``radius_um`` minus the fitted spiral (deformation; negative = towards the axis).
    pitch_um : float
        Radial distance between consecutive turns.
    handedness : int
        +1 if the radius grows counter-clockwise (with the angle), -1 otherwise.
    a_um, b_um_per_rad : float
        Fitted spiral ``r = a + b·Θ`` about the refined centre, ``Θ = 2πk + handedness·θ``
        (plus small first- and second-harmonic terms for an off-centre axis and an oval
        roll; ``extra["ovality_um"]`` is the oval's amplitude at the outer turn).
    centre_y_um, centre_x_um : float
        The spiral's centre (unrolling centre plus the fitted first-order offset).
    residual_rms_um, residual_robust_um : float
        RMS of all residuals, and the robust spread (1.4826 MAD) of the inliers.
    n_windings : float
        Turns covered by the tracked spiral, from its inner to its outer end.
    turns : DataFrame
        One row per turn: ``turn``, ``radius_um`` (median), ``coverage`` (fraction of
        angles tracked), ``thickness_um`` (FWHM of the bright band), ``gap_um`` (to the next
        turn: spacing minus the half thicknesses), ``spacing_um``, ``strength``.
    length_unit : {"um", "px"}
        The unit of every length above.
    """

    angle_rad: np.ndarray
    radius_um: np.ndarray
    strength: np.ndarray
    residual_um: np.ndarray
    pitch_um: float
    handedness: int
    a_um: float
    b_um_per_rad: float
    centre_y_um: float
    centre_x_um: float
    centre_offset_yx_um: tuple[float, float]
    residual_rms_um: float
    residual_robust_um: float
    n_windings: float
    turns: pd.DataFrame
    min_strength: float
    length_unit: str = "um"
    unroll_centre_yx_um: tuple[float, float] = (0.0, 0.0)
    extra: dict = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        """The number of windings, rounded (the layer count)."""
        return int(round(self.n_windings))

    @property
    def n_turns(self) -> int:
        return int(self.radius_um.shape[0])

    def spiral_angle(self) -> np.ndarray:
        """``Θ`` of every (turn, angle) sample (rad), unwrapped along the spiral."""
        k = np.arange(self.n_turns)[:, None]
        return TWO_PI * k + self.handedness * self.angle_rad[None, :]

    def fitted_radius_um(self) -> np.ndarray:
        """The fitted spiral's radius at every (turn, angle), about the unrolling centre."""
        Th = self.spiral_angle()
        th = np.broadcast_to(self.angle_rad[None, :], Th.shape)
        coef = np.asarray(self.extra["coefficients_px"])
        X = _spiral_design(Th, th, len(coef) > 4)
        return (X @ coef) * self.extra["voxel_um"]

    def ridge_yx_um(self) -> tuple[np.ndarray, np.ndarray]:
        """Image-frame (y, x) µm of every ridge sample (NaN where missing)."""
        cy, cx = self.unroll_centre_yx_um
        th = self.angle_rad[None, :]
        return cy + self.radius_um * np.sin(th), cx + self.radius_um * np.cos(th)

    def summary(self) -> dict:
        """The spiral's numbers as one dict (lengths named in :attr:`length_unit`)."""
        turns = _um_named(self.turns)
        return _in_unit({
            "n_windings": self.n_windings,
            "n_layers": self.n_layers,
            "pitch_um": self.pitch_um,
            "spiral_a_um": self.a_um,
            "spiral_b_um_per_rad": self.b_um_per_rad,
            "handedness": self.handedness,
            "spiral_centre_y_um": self.centre_y_um,
            "spiral_centre_x_um": self.centre_x_um,
            "residual_rms_um": self.residual_rms_um,
            "residual_robust_um": self.residual_robust_um,
            "ovality_um": float(self.extra.get("ovality_um", 0.0)),
            "thickness_um": float(np.nanmedian(turns.thickness_um)) if len(turns) else np.nan,
            "gap_um": float(np.nanmedian(turns.gap_um)) if len(turns) else np.nan,
        }, self.length_unit)


def track_layers(
    unrolled: xr.DataArray,
    *,
    pitch_um: float | None = None,
    handedness: int | None = None,
    r_min_um: float | None = None,
    r_max_um: float | None = None,
    min_strength: float = 0.4,
    window: float = 0.3,
    smooth_angles: float = 2.0,
) -> Layers:
    """Track every winding of an unrolled slice and fit an Archimedean spiral.

    Parameters
    ----------
    unrolled : xarray.DataArray
        Output of :func:`unroll` (dims ``radius``, ``angle``). Bright windings are tracked
        (for a mask or a skeleton, pass it as is: the windings are its bright lines).
        Lengths below are in its unit (µm, or pixels in a voxel frame).
    pitch_um : float, optional
        Radial distance between turns; default measured from the columns' spectra.
    handedness : {+1, -1}, optional
        Winding direction; default the one that makes each turn a row.
    r_min_um, r_max_um : float, optional
        Radial range that holds the roll (e.g. inside the can's inner wall).
    min_strength : float
        A ridge weaker than this fraction of the typical ridge is "missing".
    window : float
        Search half-window, in pitches, when following a ridge from one angle to the next.
    smooth_angles : float
        Gaussian smoothing along the angle (columns) before tracking, against noise.

    Returns
    -------
    Layers

    Examples
    --------
    >>> import batteryzoom as bz
    >>> sl = bz.data.load("twin/cell-ct").isel(z=2)  # 22 windings, pitch 290 µm
    >>> can = bz.cell.find_can(sl)
    >>> u = bz.cell.unroll(sl, (can.centre_y_um, can.centre_x_um), r_max_um=can.inner_radius_um)
    >>> L = bz.cell.track_layers(u)
    >>> L.n_layers, round(L.pitch_um), L.handedness
    (22, 290, 1)
    """
    unrolled = _check_unrolled(unrolled)
    _check_track_args(pitch_um, handedness, window, min_strength, smooth_angles)
    source = str(unrolled.attrs.get("source", "slice"))
    theta = np.asarray(unrolled.angle.values, dtype=float)
    v, unit = _unrolled_frame(unrolled)
    U = np.asarray(unrolled.values, dtype=np.float32)
    if U.size == 0 or not np.isfinite(U).any():
        raise InputError(f"{source}: the unrolled slice is empty")
    radii_um = np.asarray(unrolled.radius.values, dtype=float)
    rr, dr, finite, Us = _roll_band(U, radii_um, v, r_min_um, r_max_um, smooth_angles, source)
    pitch_px = _pitch_px(Us, rr, dr, pitch_um, v, unit)
    # a light radial smoothing (an eighth of a pitch) rounds flat-topped layers, so each
    # ridge has one well-defined maximum at its mid-plane
    Us = ndimage.gaussian_filter1d(Us, max(0.5, pitch_px / 8 / dr), axis=0, mode="nearest")
    Us = np.where(finite, Us, np.nan)
    rho = np.arange(rr[0] - pitch_px, rr[-1] + dr / 2, dr)
    hand = int(handedness) if handedness in (1, -1) else _estimate_handedness(Us, pitch_px / dr)
    S = _shear(Us, rr, theta, pitch_px, hand, rho)
    pos, stren, valid, thr = _follow_rows(S, pitch_px / dr, window, min_strength, source)
    r_px = rho[0] + pos * dr + hand * pitch_px * theta[None, :] / TWO_PI
    r_px = np.where(valid, r_px, np.nan)
    layers = _fit_spiral(r_px, np.where(valid, stren, np.nan), theta, hand, pitch_px, v, unit, thr,
                         (float(unrolled.attrs.get("centre_y_um", 0.0)), float(unrolled.attrs.get("centre_x_um", 0.0))))
    layers.turns = _in_unit(_turn_table(layers, S, pos, valid, dr, v), unit)
    # a wound roll has several turns followed most of the way round; anything less (a cap,
    # tabs, a header region, an empty can) is not a spiral to measure
    if (layers.turns.coverage >= 0.5).sum() < 3:
        raise InputError(f"{source}: no wound roll — fewer than 3 windings could be followed round the slice")
    return layers


def _check_unrolled(unrolled) -> xr.DataArray:
    if not isinstance(unrolled, xr.DataArray) or set(unrolled.dims) != {"radius", "angle"} \
            or "radius" not in unrolled.coords or "angle" not in unrolled.coords:
        got = f"a DataArray with dims {unrolled.dims}" if isinstance(unrolled, xr.DataArray) else type(unrolled).__name__
        raise InputError(f"unrolled: expected the output of bz.cell.unroll (a DataArray with dims ('radius', "
                         f"'angle') and their coordinates), got {got}")
    return unrolled.transpose("radius", "angle")


def _roll_band(U, radii_um, v, r_min_um, r_max_um, smooth_angles, source):
    """The radii (pixels) inside the range and their step, where the data is finite, and the
    band smoothed along the angle (NaN filled with the median)."""
    radii_px = radii_um / v
    sel = np.ones(len(radii_um), bool)
    if r_min_um is not None:
        sel &= radii_um >= r_min_um
    if r_max_um is not None:
        sel &= radii_um <= r_max_um
    Ur = U[sel]
    if Ur.shape[0] < 16:
        raise InputError(f"{source}: the radial range [{r_min_um}, {r_max_um}] µm holds too few samples")
    # inside the range, outside the image -> NaN stays NaN
    finite = np.isfinite(Ur)
    Uf = np.where(finite, Ur, np.nanmedian(Ur))
    return radii_px[sel], radii_px[1] - radii_px[0], finite, ndimage.gaussian_filter1d(Uf, smooth_angles, axis=1,
                                                                                        mode="wrap")


def _pitch_px(Us, rr, dr, pitch_um, v, unit) -> float:
    """The winding pitch in pixels: measured, or the one given, if the band can hold it."""
    if pitch_um is None:
        return _estimate_pitch(Us, dr, 3.0, (rr[-1] - rr[0]) / 3)
    pitch_px = float(pitch_um) / v
    lo, hi = 2 * dr, (rr[-1] - rr[0]) / 2
    if not lo <= pitch_px <= hi:
        raise InputError(
            f"pitch_um={pitch_um:g}: outside the range this unrolled slice can hold ({lo * v:g} to {hi * v:g} "
            f"{_unit_text(unit)}: two radial samples up to half the radial range); give "
            "the winding pitch in the same unit as the radius, or None to measure it")
    return pitch_px


def _estimate_pitch(U: np.ndarray, dr: float, lo_px: float, hi_px: float) -> float:
    """Dominant radial period (px) from the columns' averaged power spectra."""
    cols = U[:, :: max(1, U.shape[1] // 256)]
    good = np.isfinite(cols).all(axis=1)
    cols = cols[good]
    if cols.shape[0] < 16:
        raise InputError("the unrolled roll is too short radially to measure a winding pitch")
    cols = cols - cols.mean(axis=0, keepdims=True)
    cols = cols * np.hanning(cols.shape[0])[:, None]
    nfft = int(2 ** np.ceil(np.log2(cols.shape[0] * 8)))
    power = (np.abs(np.fft.rfft(cols, n=nfft, axis=0)) ** 2).mean(axis=1)
    freq = np.fft.rfftfreq(nfft, d=dr)
    sel = (freq >= 1.0 / hi_px) & (freq <= 1.0 / lo_px)
    if not sel.any():
        raise InputError("no plausible winding pitch in the unrolled roll")
    idx = np.flatnonzero(sel)[np.argmax(power[sel])]
    if 0 < idx < len(power) - 1:  # parabolic refinement of the spectral peak
        y0, y1, y2 = np.log(power[idx - 1 : idx + 2] + 1e-30)
        den = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        f = freq[idx] + np.clip(shift, -1, 1) * (freq[1] - freq[0])
    else:
        f = freq[idx]
    return float(1.0 / f)


def _shear(U: np.ndarray, radii_px: np.ndarray, theta: np.ndarray, pitch_px: float, hand: int, rho: np.ndarray,
           cols: np.ndarray | None = None) -> np.ndarray:
    """Resample the unrolled image at r = ρ + hand·pitch·θ/2π (each turn becomes a row).

    Each column is shifted by a constant number of rows, so linear interpolation is two
    gathers per column (no general 2D resampling). Samples outside ``U`` are NaN.
    """
    if cols is None:
        cols = np.arange(len(theta))
    th = theta[cols]
    i = (rho[:, None] + hand * pitch_px * th[None, :] / TWO_PI - radii_px[0]) / (radii_px[1] - radii_px[0])
    i0 = np.floor(i).astype(np.int64)
    f = (i - i0).astype(np.float32)
    n = U.shape[0]
    outside = (i0 < 0) | (i0 + 1 > n - 1)
    a = np.take_along_axis(U[:, cols], np.clip(i0, 0, n - 1), axis=0)
    b = np.take_along_axis(U[:, cols], np.clip(i0 + 1, 0, n - 1), axis=0)
    out = a + f * (b - a)
    out[outside] = np.nan
    return out


def _estimate_handedness(Us: np.ndarray, pitch_rows: float) -> int:
    """+1 if the windings climb outward with the angle, -1 if they climb against it.

    Every ridge of an unrolled spiral climbs by ``handedness × pitch / 32`` over 1/32 of a
    turn. The radial shift between each column and the one 1/32 turn on (the sub-pixel
    peak of their cross-correlation, summed over all columns) averages to that: an
    off-centre axis or an oval roll add shifts that cancel round the circle, and over so
    short a step they stay well inside half a pitch (no aliasing onto the next ridge).
    """
    n_r, n_col = Us.shape
    q = max(1, n_col // 32)
    ok = np.isfinite(Us).all(axis=1)
    if ok.sum() < 2 * pitch_rows:
        return 1
    a = Us[ok]
    b = np.roll(a, -q, axis=1)  # column j + q
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    max_lag = max(2, int(pitch_rows / 2))
    lags = np.arange(-max_lag, max_lag + 1)
    n = a.shape[0]
    corr = np.array([np.sum(a[max(0, -L) : n - max(0, L)] * b[max(0, L) : n - max(0, -L)]) for L in lags])
    i = int(np.argmax(corr))
    lag = float(lags[i])
    if 0 < i < len(lags) - 1:
        den = corr[i - 1] - 2 * corr[i] + corr[i + 1]
        if den < 0:
            lag += 0.5 * (corr[i - 1] - corr[i + 1]) / den
    return 1 if lag >= 0 else -1


def _spiral_design(Th: np.ndarray, theta: np.ndarray, oval: bool) -> np.ndarray:
    """Columns of the spiral model: 1, Θ, cos θ, sin θ [, cos 2θ, sin 2θ, Θ cos 2θ, Θ sin 2θ]."""
    cols = [np.ones_like(Th), Th, np.cos(theta), np.sin(theta)]
    if oval:
        c2, s2 = np.cos(2 * theta), np.sin(2 * theta)
        cols += [c2, s2, Th * c2, Th * s2]
    return np.stack(cols, axis=-1)


def _robust_lstsq(A: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Least squares with residuals beyond 3.5 robust σ (at least 0.3 px) left out, repeated
    until the inliers settle: coefficients, σ and the inlier mask."""
    inl = np.ones(len(y), bool)
    coef = np.zeros(A.shape[1])
    sigma = 0.0
    # normal equations: a few unknowns, tens of thousands of samples (lstsq's SVD is slower)
    for _ in range(6):
        Ai = A[inl]
        coef = np.linalg.solve(Ai.T @ Ai, Ai.T @ y[inl])
        res = y - A @ coef
        sigma = 1.4826 * np.median(np.abs(res[inl] - np.median(res[inl])))
        new = np.abs(res) <= max(3.5 * sigma, 0.3)
        if np.array_equal(new, inl):
            break
        inl = new
    return coef, float(sigma), inl


def _seam_jump(r_px: np.ndarray, hand: int) -> float:
    """Median radial jump (px) where each turn continues into the next across the angle's
    0/2π seam (about zero for a spiral whose turns were assigned right)."""
    if r_px.shape[0] < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # turns missing at the seam
        ends = [np.nanmedian(r_px[:, :3], axis=1), np.nanmedian(r_px[:, -3:], axis=1)]
        first, last = ends if hand > 0 else ends[::-1]
        return float(np.nanmedian(first[1:] - last[:-1]))


def _fit_spiral(r_px, stren, theta, hand, pitch_px, v, unit, thr, centre_yx_um) -> Layers:
    """Robust least squares of the ridges by an Archimedean spiral.

    ``r = a + b·Θ + Δx cos θ + Δy sin θ + (c + d·Θ)·cos 2θ + (e + f·Θ)·sin 2θ``: the
    spiral itself, a first harmonic for an axis that is not exactly at the unrolling
    centre, and a second harmonic growing with Θ for an oval roll (a cell squeezed out of
    round, or anisotropic pixels). Residuals beyond 3.5 robust σ are excluded, so local
    deformations (the defects) do not bend the fit.
    """
    n_turns, n_col = r_px.shape
    k = np.arange(n_turns)[:, None]
    Th = TWO_PI * k + hand * theta[None, :]
    good = np.isfinite(r_px)
    if good.sum() < 20:
        raise InputError("too few ridge samples to fit a spiral")
    th_b = np.broadcast_to(theta[None, :], r_px.shape)
    # the oval terms need several turns to be told apart from the spiral itself
    oval = n_turns >= 4
    X = _spiral_design(Th, th_b, oval)
    coef, sigma, inl = _robust_lstsq(X[good], r_px[good])
    a, b, cx_off, cy_off = coef[:4]
    residual = np.where(good, r_px - X @ coef, np.nan)
    th_valid = Th[good]
    n_windings = float((th_valid.max() - th_valid.min()) / TWO_PI) if th_valid.size else 0.0
    ovality = 0.0
    if oval:
        th_out = th_valid.max()
        ovality = float(np.hypot(coef[4] + coef[6] * th_out, coef[5] + coef[7] * th_out))
    cy0, cx0 = centre_yx_um
    layers = Layers(
        angle_rad=theta, radius_um=r_px * v, strength=stren, residual_um=residual * v,
        pitch_um=float(TWO_PI * b * v) if b > 0 else pitch_px * v, handedness=int(hand),
        a_um=float(a * v), b_um_per_rad=float(b * v),
        centre_y_um=cy0 + float(cy_off * v), centre_x_um=cx0 + float(cx_off * v),
        centre_offset_yx_um=(float(cy_off * v), float(cx_off * v)),
        residual_rms_um=float(np.sqrt(np.nanmean(residual**2)) * v),
        residual_robust_um=float(sigma * v), n_windings=n_windings, turns=pd.DataFrame(),
        min_strength=float(thr), length_unit=unit, unroll_centre_yx_um=(cy0, cx0),
    )
    # along the spiral a turn continues into the next across the angle's 0/2π seam: the
    # radius must not jump there (a jump of a pitch means the turns were mis-assigned)
    layers.extra["seam_jump_um"] = _seam_jump(r_px, hand) * v
    layers.extra["coefficients_px"] = coef.tolist()
    layers.extra["voxel_um"] = v
    layers.extra["ovality_um"] = ovality * v
    layers.extra["inlier_fraction"] = float(inl.mean())
    return layers


def _turn_table(layers: Layers, S, pos, valid, dr, v) -> pd.DataFrame:
    """Per-turn radius, coverage, thickness (FWHM of the bright band) and gap (µm names)."""
    n_turns, n_col = pos.shape
    pitch_rows = layers.pitch_um / v / dr
    span = int(round(pitch_rows * 0.6))
    offs = np.arange(-span, span + 1)
    rows = []
    cols = np.arange(n_col)
    for k in range(n_turns):
        ok = valid[k]
        thick = np.nan
        if ok.sum() >= 3:
            centre = np.rint(pos[k, ok]).astype(int)
            idx = np.clip(centre[:, None] + offs[None, :], 0, S.shape[0] - 1)
            seg = S[idx, cols[ok][:, None]]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # samples beyond the data
                mean = np.nanmean(seg, axis=0)
            thick = _fwhm(mean) * dr * v
        rows.append(dict(
            turn=k,
            radius_um=float(np.nanmedian(layers.radius_um[k])) if ok.any() else np.nan,
            coverage=float(ok.mean()),
            thickness_um=thick,
            strength=float(np.nanmedian(layers.strength[k])) if ok.any() else np.nan,
        ))
    df = pd.DataFrame(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # neighbouring turns never side by side
        spacing = np.nanmedian(np.diff(layers.radius_um, axis=0), axis=1) if n_turns > 1 else np.array([])
    df["spacing_um"] = np.append(spacing, np.nan)
    half = df.thickness_um.to_numpy() / 2
    df["gap_um"] = df.spacing_um - half - np.append(half[1:], np.nan)
    return df
