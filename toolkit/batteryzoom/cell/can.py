"""The can in one axial slice: its wall traced ray by ray, an ellipse fitted robustly, dents.

The can is the brightest thin ring of a cell CT slice. :func:`find_can` segments it (the
upper class of a three-class Otsu split), casts rays from its centre to find the outer and
inner wall surfaces with sub-sample precision, fits an ellipse to the outer surface with
outliers trimmed, and reports dents: runs of angles where the surface lies inside the
ellipse by more than a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from ..errors import InputError
from ._signal import _circular_smooth, _runs
from ._slice import TWO_PI, _as_slice, _check_count, _in_unit, _Slice, _um_named

__all__ = ["Can", "find_can"]

_DENT_COLUMNS = ["angle_rad", "width_rad", "depth_um", "y_um", "x_um", "severity"]


@dataclass
class Can:
    """The can in one slice.

    Lengths are in the slice's frame: µm, or pixels when ``length_unit == "px"`` (the slice
    was analysed with ``voxel_size_um="px"``); the tables then name them ``..._px``.

    Attributes
    ----------
    centre_y_um, centre_x_um : float
        Centre of the ellipse fitted to the can's outer surface (µm, image frame).
    semi_major_um, semi_minor_um : float
        Semi-axes of that ellipse (µm).
    orientation_rad : float
        Angle of the major axis from +x towards +y.
    wall_thickness_um : float
        Median wall thickness over the angles (outer minus inner surface).
    profile : DataFrame
        One row per ray: ``angle_rad``, ``outer_um`` and ``inner_um`` (surface radii from
        the centre), ``fit_um`` (the ellipse's radius), ``residual_um`` (outer - fit;
        negative = pushed in), ``wall_um``, ``valid``.
    dents : DataFrame
        One row per dent: ``angle_rad``, ``width_rad``, ``depth_um``, ``y_um``, ``x_um``
        (the outer surface at the deepest point), ``severity`` (depth / wall thickness).
    cropped : bool
        True when part of the can lies outside the image (fit from the visible arc).
    length_unit : {"um", "px"}
        The unit of every length above.
    """

    centre_y_um: float
    centre_x_um: float
    semi_major_um: float
    semi_minor_um: float
    orientation_rad: float
    wall_thickness_um: float
    profile: pd.DataFrame
    dents: pd.DataFrame
    cropped: bool = False
    length_unit: str = "um"

    @property
    def diameter_um(self) -> float:
        """Mean outer diameter (sum of the semi-axes)."""
        return float(self.semi_major_um + self.semi_minor_um)

    @property
    def eccentricity(self) -> float:
        return float(np.sqrt(max(0.0, 1 - (self.semi_minor_um / self.semi_major_um) ** 2)))

    @property
    def inner_radius_um(self) -> float:
        """Smallest inner-surface radius (where the roll must end)."""
        p = _um_named(self.profile)
        inner = p.loc[p.valid, "inner_um"]
        return float(np.nanmin(inner)) if len(inner) else float(self.semi_minor_um - self.wall_thickness_um)

    def summary(self) -> dict:
        """The can's numbers as one dict (lengths named in :attr:`length_unit`)."""
        p = _um_named(self.profile)
        depth = _um_named(self.dents).depth_um
        return _in_unit({
            "can_centre_y_um": self.centre_y_um,
            "can_centre_x_um": self.centre_x_um,
            "can_diameter_um": self.diameter_um,
            "can_semi_major_um": self.semi_major_um,
            "can_semi_minor_um": self.semi_minor_um,
            "can_orientation_rad": self.orientation_rad,
            "can_eccentricity": self.eccentricity,
            "can_wall_um": self.wall_thickness_um,
            "can_residual_rms_um": float(np.sqrt(np.nanmean(p.loc[p.valid, "residual_um"] ** 2))),
            "n_dents": len(self.dents),
            "max_dent_um": float(depth.max()) if len(depth) else 0.0,
            "can_cropped": self.cropped,
        }, self.length_unit)


def find_can(
    image: Any,
    voxel_size_um: float | str | None = None,
    *,
    threshold: float | None = None,
    n_angles: int = 720,
    dent_threshold_um: float | None = None,
    name: str | None = None,
) -> Can:
    """Segment the can in one axial slice and fit its outer surface by an ellipse.

    Parameters
    ----------
    image : array-like or xarray.DataArray, shape (y, x)
        A grey CT slice (the can is the brightest ring) or a binary can mask.
    voxel_size_um : float or "px", optional
        Pixel size (µm; square pixels); default from the DataArray
        (:func:`batteryzoom.frames.frame_of`). Unknown raises; ``"px"`` works in pixels.
    threshold : float, optional
        Grey level separating the can from the roll; default: the upper of a three-class
        Otsu split (background / roll / metal), or the midpoint for a binary mask.
    n_angles : int
        Rays cast from the centre to locate the wall.
    dent_threshold_um : float, optional
        Inward residual that counts as a dent; default ``max(5 σ, 1 voxel)`` with σ the
        robust spread of the residuals.
    name : str, optional
        How error messages name the slice.

    Returns
    -------
    Can

    Raises
    ------
    InputError
        No ring-shaped bright object (no can) in the slice; an unknown voxel size.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> ct = bz.data.load("twin/cell-ct")  # 25 µm voxels, an 18 mm can
    >>> can = bz.cell.find_can(ct.isel(z=2))
    >>> round(can.diameter_um), round(can.wall_thickness_um), len(can.dents)
    (17990, 242, 0)
    >>> round(bz.cell.find_can(ct.isel(z=2).values, "px").summary()["can_diameter_px"], 1)  # in pixels
    719.6
    """
    _check_count("n_angles", n_angles, 8)
    sl = _as_slice(image, voxel_size_um, name)
    return _find_can(sl, threshold, n_angles, dent_threshold_um)


def _ellipse_radius(theta, a, b, phi):
    t = np.asarray(theta) - phi
    return a * b / np.sqrt((b * np.cos(t)) ** 2 + (a * np.sin(t)) ** 2)


def _fit_ellipse_robust(theta, r, cy, cx, iterations: int = 5, floor: float = 0.5):
    """Ellipse through edge points (polar about (cy, cx)); outliers (dents) trimmed."""
    from skimage.measure import EllipseModel

    xy = np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)])
    keep = np.isfinite(r)
    model = None
    for _ in range(iterations):
        if keep.sum() < 8:
            break
        m = EllipseModel.from_estimate(xy[keep])
        if not m:
            break
        model = m
        (ex, ey), (ax1, ax2), th = m.center, m.axis_lengths, m.theta
        if ax2 > ax1:
            ax1, ax2, th = ax2, ax1, th + np.pi / 2
        ang = np.arctan2(xy[:, 1] - ey, xy[:, 0] - ex)
        res = np.hypot(xy[:, 0] - ex, xy[:, 1] - ey) - _ellipse_radius(ang, ax1, ax2, th)
        good = np.isfinite(res) & np.isfinite(r)
        sigma = 1.4826 * np.median(np.abs(res[good & keep] - np.median(res[good & keep])))
        new = good & (np.abs(res) <= max(3.0 * sigma, floor))
        if np.array_equal(new, keep):
            break
        keep = new
    if model is None:
        return None
    (ex, ey), (ax1, ax2), th = model.center, model.axis_lengths, model.theta
    if ax2 > ax1:
        ax1, ax2, th = ax2, ax1, th + np.pi / 2
    return float(ey), float(ex), float(ax1), float(ax2), float(th % np.pi)


def _circle_fit(ys, xs):
    """Algebraic (Kåsa) circle fit: centre y, x and radius."""
    A = np.column_stack([xs, ys, np.ones_like(xs)])
    bvec = xs**2 + ys**2
    (c0, c1, c2), *_ = np.linalg.lstsq(A, bvec, rcond=None)
    cx, cy = c0 / 2, c1 / 2
    return cy, cx, float(np.sqrt(max(c2 + cx**2 + cy**2, 0.0)))


def _can_mask(img: np.ndarray, threshold: float | None) -> tuple[np.ndarray, float, bool]:
    """Bright-metal mask, the threshold used and whether the input was binary."""
    finite = img[np.isfinite(img)]
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return np.zeros(img.shape, bool), hi, False
    sample = finite[:: max(1, finite.size // 200_000)]
    binary = np.unique(sample).size <= 2
    if threshold is None:
        if binary:
            threshold = (lo + hi) / 2
        else:
            from skimage.filters import threshold_multiotsu

            # three classes: background / roll / metal (the can is the brightest material)
            threshold = float(threshold_multiotsu(sample, classes=3)[-1])
    return img > threshold, float(threshold), binary


def _can_threshold(values: np.ndarray) -> float:
    """The can/roll grey level of a slice's raw values (as :func:`find_can` chooses it)."""
    return _can_mask(ndimage.gaussian_filter(values.astype(np.float32), 1.0), None)[1]


def _find_can(sl: _Slice, threshold, n_angles: int, dent_threshold_um, prior: Can | None = None) -> Can:
    img = ndimage.gaussian_filter(sl.values, 1.0)
    mask, thr, binary = _can_mask(img, threshold)
    if prior is not None:
        # a neighbouring slice's can: search its band directly (no ring segmentation)
        cy, cx = sl.to_index(prior.centre_y_um, prior.centre_x_um)
        rad = (prior.semi_major_um + prior.semi_minor_um) / 2 / sl.voxel_um
        return _fit_can(sl, img, mask, thr, binary, cy, cx, rad, n_angles, dent_threshold_um, expect=rad)
    from skimage.measure import label, regionprops

    lab = label(mask)
    best = None
    for p in regionprops(lab):
        if p.area < 30:
            continue
        coords = p.coords.astype(float)
        cy, cx, rad = _circle_fit(coords[:, 0], coords[:, 1])
        if rad < 10 or not np.isfinite(rad):
            continue
        dist = np.hypot(coords[:, 0] - cy, coords[:, 1] - cx)
        spread = np.std(dist)
        ang = np.arctan2(coords[:, 0] - cy, coords[:, 1] - cx)
        coverage = np.unique(np.floor((ang + np.pi) / TWO_PI * 36)).size / 36
        # a can is a thin ring (small radial spread) that runs most of the way round
        if spread < 0.12 * rad and coverage >= 0.5 and (best is None or rad > best[2]):
            best = (cy, cx, rad, p.label)
    if best is None:
        raise InputError(
            f"{sl.name}: no can found — no thin bright ring around the slice "
            f"(threshold {thr:.4g}). Is this a slice through the cell's wound part? "
            "Pass threshold= if the can is dimmer than the roll, or centre_yx_um= to analyse "
            "a roll without its can."
        )
    cy, cx, rad, lbl = best
    ring = ndimage.binary_dilation(lab == lbl, iterations=2)
    return _fit_can(sl, img, ring, thr, binary, cy, cx, rad, n_angles, dent_threshold_um)


def _fit_can(sl, img, ring, thr, binary, cy, cx, rad, n_angles, dent_threshold_um, expect=None) -> Can:
    # edge level: the can/roll threshold (the midpoint for a mask)
    level = 0.5 if binary else thr
    prof = None
    # coarse rays from the ring's centre, then fine ones from the fitted ellipse's (a can
    # from a neighbouring slice is already a good centre: fine rays only)
    passes = (n_angles,) if expect is not None else (min(n_angles, 180), n_angles)
    for n_rays in passes:
        prof = _wall_profile(img, ring, level, cy, cx, rad, n_rays)
        fit = _fit_ellipse_robust(prof["theta"], prof["outer"], cy, cx) if prof["valid"].sum() >= 0.25 * n_rays else None
        if fit is None:
            raise InputError(f"{sl.name}: no can found — its wall could not be traced round the slice "
                             f"(threshold {thr:.4g}); is this slice beyond the cell's can?")
        cy, cx, ax1, ax2, orient = fit
        rad = (ax1 + ax2) / 2
        if expect is not None and abs(rad - expect) > 0.1 * expect:
            raise InputError(f"{sl.name}: no can found near the neighbouring slice's can (radius {rad:.1f} px, "
                             f"expected {expect:.1f} px)")
    theta, outer, inner, valid = prof["theta"], prof["outer"], prof["inner"], prof["valid"]
    fit_r = _ellipse_radius(theta, ax1, ax2, orient)
    v = sl.voxel_um
    wall = (outer - inner) * v
    res_um = (outer - fit_r) * v
    good = valid & np.isfinite(res_um)
    dents = _dents(sl, theta, outer, res_um, wall, good, cy, cx, dent_threshold_um)
    profile = pd.DataFrame({
        "angle_rad": theta, "outer_um": outer * v, "inner_um": inner * v, "fit_um": fit_r * v,
        "residual_um": res_um, "wall_um": wall, "valid": good,
    })
    return Can(
        centre_y_um=sl.origin_yx_um[0] + cy * v, centre_x_um=sl.origin_yx_um[1] + cx * v,
        semi_major_um=ax1 * v, semi_minor_um=ax2 * v, orientation_rad=orient,
        wall_thickness_um=float(np.nanmedian(wall[good])) if good.any() else float("nan"),
        profile=_in_unit(profile, sl.unit), dents=_in_unit(dents, sl.unit),
        cropped=bool((~prof["inside"]).mean() > 0.02), length_unit=sl.unit,
    )


def _dents(sl: _Slice, theta, outer, res_um, wall, good, cy, cx, dent_threshold_um) -> pd.DataFrame:
    """Runs of angles where the outer surface lies inside the ellipse by more than the threshold."""
    v = sl.voxel_um
    sigma = 1.4826 * np.median(np.abs(res_um[good] - np.median(res_um[good]))) if good.any() else 0.0
    thr_dent = dent_threshold_um if dent_threshold_um is not None else max(5 * sigma, 1.0 * v)
    smooth = _circular_smooth(np.where(good, res_um, 0.0), 1.0)
    dents = []
    for s, e in _runs(good & (smooth < -thr_dent), circular=True):
        idx = np.arange(s, e) % len(theta)
        if len(idx) < 3:
            continue
        depth = -smooth[idx]
        w = np.clip(depth, 0, None)
        # weighted circular mean of the angle: a symmetric dent is centred exactly
        ang = float(np.angle(np.sum(w * np.exp(1j * theta[idx])))) % TWO_PI
        r_out = np.interp(ang, theta, outer, period=TWO_PI)
        dents.append(dict(
            angle_rad=ang, width_rad=len(idx) * TWO_PI / len(theta), depth_um=float(depth.max()),
            y_um=sl.origin_yx_um[0] + (cy + r_out * np.sin(ang)) * v,
            x_um=sl.origin_yx_um[1] + (cx + r_out * np.cos(ang)) * v,
            severity=float(depth.max() / max(np.nanmedian(wall[good]), v)),
        ))
    return pd.DataFrame(dents, columns=_DENT_COLUMNS)


def _wall_profile(img, ring, level, cy, cx, rad, n_angles):
    """Outer and inner surface radii (pixels) of the can along rays from (cy, cx)."""
    theta = np.arange(n_angles) * TWO_PI / n_angles
    step = 0.25
    # the wall lies near the fitted ring: a band around it (dents up to 15 % deep)
    radii = np.arange(max(rad * 0.82, 1.0), rad * 1.12 + 4, step)
    yy = cy + radii[None, :] * np.sin(theta)[:, None]
    xx = cx + radii[None, :] * np.cos(theta)[:, None]
    inside = (yy >= 0) & (yy <= img.shape[0] - 1) & (xx >= 0) & (xx <= img.shape[1] - 1)
    vals = ndimage.map_coordinates(img, [yy, xx], order=1, mode="constant", cval=np.nan, prefilter=False)
    # nearest-pixel lookup of the ring mask (cheaper than a resampling call)
    iy = np.clip(np.rint(yy).astype(np.int64), 0, img.shape[0] - 1)
    ix = np.clip(np.rint(xx).astype(np.int64), 0, img.shape[1] - 1)
    in_ring = ring[iy, ix] & inside
    above = (vals > level) & in_ring
    n_r = len(radii)
    any_above = above.any(axis=1)
    last = n_r - 1 - np.argmax(above[:, ::-1], axis=1)  # outermost sample above the level
    outer = np.full(n_angles, np.nan)
    inner = np.full(n_angles, np.nan)
    rows = np.arange(n_angles)
    ok = any_above & (last < n_r - 1)
    # sub-sample edge: linear crossing of the level between last-above and the next sample
    v0, v1 = vals[rows, last], vals[rows, np.minimum(last + 1, n_r - 1)]
    frac = np.clip((v0 - level) / np.where(v0 - v1 == 0, 1, v0 - v1), 0, 1)
    outer[ok] = radii[last[ok]] + frac[ok] * step
    # inner surface: walking inward from the outer edge, the first sample below the level
    below_inside = ~above & (np.arange(n_r)[None, :] < last[:, None])
    first_in = n_r - 1 - np.argmax((below_inside)[:, ::-1], axis=1)
    has_in = below_inside.any(axis=1)
    u0, u1 = vals[rows, first_in], vals[rows, np.minimum(first_in + 1, n_r - 1)]
    frac_in = np.clip((level - u0) / np.where(u1 - u0 == 0, 1, u1 - u0), 0, 1)
    inner[ok & has_in] = radii[first_in[ok & has_in]] + frac_in[ok & has_in] * step
    # a ray that leaves the image before the wall's outer edge does not see the wall
    ray_inside = inside[rows, np.minimum(last + 4 * 4, n_r - 1)] & inside[:, 0]
    valid = ok & has_in & ray_inside & np.isfinite(outer) & np.isfinite(inner)
    outer[~valid] = np.nan
    inner[~valid] = np.nan
    return {"theta": theta, "outer": outer, "inner": inner, "valid": valid, "inside": ray_inside}
