"""The cylindrical cell in CT: can, centre, unrolled jelly roll, layers, deformation, defects.

The whole-cell scale of the zoom. An axial CT slice of a cylindrical cell shows a spiral of
electrode windings inside a steel can. This module

1. finds the **can** (:func:`find_can`): its wall, centre, fitted ellipse, diameter, wall
   thickness, eccentricity, and dents as the inward residuals from the ellipse;
2. **unrolls** the slice onto (radius, angle) around the cell axis (:func:`unroll`);
3. tracks every **winding** as a ridge across angle (:func:`track_layers`): in an image
   sheared by one pitch per turn each turn is a row, so each ridge is followed column by
   column; the ridges are fitted by an Archimedean spiral ``r = a + b·Θ`` (``Θ = 2πk ± θ``
   for turn ``k``), with a first-order centre correction; per-turn thickness, gap and
   coverage; the number of windings;
4. finds **defects** (:func:`find_defects`): buckling (residual from the fitted spiral),
   delamination gaps (spacing between neighbouring turns), tears (missing ridge
   segments), bright inclusions, and can dents, as one table in µm in the cell frame;
5. repeats this **slice by slice** through a volume (:func:`analyze_volume`), with progress,
   a per-slice summary and defects linked across slices into 3D.

Conventions: positions are in µm in the image's own frame (its ``y``/``x`` coordinates;
``index × voxel size`` when the input is a plain array). Angles are radians in
``[0, 2π)``, measured from +x towards +y about the cell axis. When the voxel size is
unknown every length is in pixels (a warning says so, and tables carry
``attrs["length_unit"] = "pixel"``). Severity is the magnitude of a defect relative to the
winding pitch (buckling displacement, gap opening, tear length, inclusion diameter) or,
for a dent, relative to the can's wall thickness: 1 means "one whole pitch" / "one wall".

Compute only: arrays and tables in, arrays and tables out; figures are in
:mod:`batteryzoom.plots.cell`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage, signal

from ._progress import progress as _progress
from .errors import InputError
from .segment import VoxelSizeWarning

# unroll's (radius × angle) grid: beyond this many samples the centre, dr_um or n_angles is
# wrong (a centre far off the image, a step in the wrong unit); 5e7 samples take ~2 GB
_MAX_UNROLL_SAMPLES = 50_000_000

__all__ = [
    "Can",
    "Layers",
    "CellSlice",
    "CellVolume",
    "find_can",
    "unroll",
    "track_layers",
    "find_defects",
    "analyze_slice",
    "analyze_volume",
    "link_defects",
    "score_defects",
    "line_image",
    "DEFECT_COLUMNS",
]

TWO_PI = 2 * np.pi
DEFECT_COLUMNS = [
    "type", "z_um", "y_um", "x_um", "radius_um", "angle_rad", "turn", "size_um",
    "magnitude_um", "severity", "detail",
]


# --------------------------------------------------------------------------- inputs


@dataclass
class _Slice:
    values: np.ndarray  # (y, x) float32
    voxel_um: float
    origin_yx_um: tuple[float, float]
    unit: str  # "um" or "pixel"
    name: str

    def to_um(self, iy, ix):
        return self.origin_yx_um[0] + np.asarray(iy) * self.voxel_um, self.origin_yx_um[1] + np.asarray(ix) * self.voxel_um

    def to_index(self, y_um, x_um):
        return (np.asarray(y_um) - self.origin_yx_um[0]) / self.voxel_um, (np.asarray(x_um) - self.origin_yx_um[1]) / self.voxel_um


def _voxel_from(image, voxel_size_um) -> float | None:
    if voxel_size_um is not None:
        v = np.atleast_1d(np.asarray(voxel_size_um, dtype=float))
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise InputError(f"voxel_size_um={voxel_size_um!r}: give a positive number (µm)")
        if v.size > 1 and not np.allclose(v[-2:], v[-1]):
            raise InputError(f"voxel_size_um={voxel_size_um!r}: pixels must be square in the slice plane")
        return float(v[-1])
    if isinstance(image, xr.DataArray):
        v = image.attrs.get("voxel_size_um")
        if v is not None:
            return float(np.atleast_1d(v)[-1])
    return None


def _as_slice(image, voxel_size_um=None, name: str | None = None, warn: bool = True) -> _Slice:
    voxel = _voxel_from(image, voxel_size_um)
    origin = (0.0, 0.0)
    if isinstance(image, xr.DataArray):
        label = name or str(image.attrs.get("source") or image.name or "slice")
        if "z" in image.dims and image.sizes["z"] == 1:
            image = image.isel(z=0)
        if image.ndim != 2:
            raise InputError(f"{label}: expected one 2D slice (y, x), got dims {image.dims}; pick one with .isel(z=...)")
        if voxel is not None and "y" in image.coords and "x" in image.coords and image.coords["y"].attrs.get("units") != "pixel":
            origin = (float(image.y[0]), float(image.x[0]))
        values = np.asarray(image.values)
    else:
        label = name or "slice"
        values = np.asarray(image)
        if values.ndim == 3 and values.shape[0] == 1:
            values = values[0]
        if values.ndim != 2:
            raise InputError(f"{label}: expected one 2D slice (y, x), got an array of shape {values.shape}")
    if values.size == 0 or min(values.shape) < 16:
        raise InputError(f"{label}: the slice is empty or tiny (shape {values.shape}); a cell CT slice needs many pixels")
    if values.dtype.kind not in "fiub":
        raise InputError(f"{label}: dtype {values.dtype} is not a real number type; pass a grey (float or "
                         "integer) slice")
    values = values.astype(np.float32, copy=False)
    if not np.isfinite(values).any():
        raise InputError(f"{label}: no finite pixel (all NaN or inf); nothing to analyse")
    if not np.isfinite(values).all():
        values = np.where(np.isfinite(values), values, np.nanmedian(values)).astype(np.float32)
    unit = "um"
    if voxel is None:
        unit, voxel = "pixel", 1.0
        if warn:
            warnings.warn(f"{label}: voxel size unknown; lengths are reported in pixels "
                          "(pass voxel_size_um= to get µm)", VoxelSizeWarning, stacklevel=3)
    return _Slice(values, voxel, origin, unit, label)


def _check_count(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name}={value!r}: give a whole number ≥ {low}")


def _check_positive(name: str, value: Any, *, zero_ok: bool = False, unit: str = "µm") -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={value!r}: give a number ({unit})") from exc
    if not np.isfinite(x) or x < 0 or (x == 0 and not zero_ok):
        raise InputError(f"{name}={value!r}: give a {'non-negative' if zero_ok else 'positive'} finite number ({unit})")
    return x


def _check_track_args(pitch_um, handedness, window=0.3, min_strength=0.4, smooth_angles=2.0) -> None:
    if pitch_um is not None:
        _check_positive("pitch_um", pitch_um)
    if handedness is not None and (isinstance(handedness, bool) or handedness not in (1, -1)):
        raise InputError(f"handedness={handedness!r}: give +1 (radius grows with the angle), -1, or None to detect it")
    if not (np.isfinite(window) and 0 < window <= 1):
        raise InputError(f"window={window!r}: give the search half-window in pitches, in (0, 1] (default 0.3)")
    _check_positive("min_strength", min_strength, zero_ok=True, unit="fraction of the typical ridge")
    _check_positive("smooth_angles", smooth_angles, zero_ok=True, unit="angle samples")


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


# --------------------------------------------------------------------------- the can


@dataclass
class Can:
    """The can in one slice.

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
        inner = self.profile.loc[self.profile.valid, "inner_um"]
        return float(np.nanmin(inner)) if len(inner) else float(self.semi_minor_um - self.wall_thickness_um)

    def summary(self) -> dict:
        return {
            "can_centre_y_um": self.centre_y_um,
            "can_centre_x_um": self.centre_x_um,
            "can_diameter_um": self.diameter_um,
            "can_semi_major_um": self.semi_major_um,
            "can_semi_minor_um": self.semi_minor_um,
            "can_orientation_rad": self.orientation_rad,
            "can_eccentricity": self.eccentricity,
            "can_wall_um": self.wall_thickness_um,
            "can_residual_rms_um": float(np.sqrt(np.nanmean(self.profile.loc[self.profile.valid, "residual_um"] ** 2))),
            "n_dents": len(self.dents),
            "max_dent_um": float(self.dents.depth_um.max()) if len(self.dents) else 0.0,
            "can_cropped": self.cropped,
        }


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


def find_can(
    image: Any,
    voxel_size_um: float | None = None,
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
    voxel_size_um : float, optional
        Pixel size (µm); default from the DataArray's attrs, else pixels.
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
        No ring-shaped bright object (no can) in the slice.
    """
    _check_count("n_angles", n_angles, 8)
    sl = _as_slice(image, voxel_size_um, name, warn=False)
    return _find_can(sl, threshold, n_angles, dent_threshold_um)


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
    residual = outer - fit_r
    v = sl.voxel_um
    wall = (outer - inner) * v
    cropped = bool((~prof["inside"]).mean() > 0.02)
    res_um = residual * v
    good = valid & np.isfinite(res_um)
    sigma = 1.4826 * np.median(np.abs(res_um[good] - np.median(res_um[good]))) if good.any() else 0.0
    thr_dent = dent_threshold_um if dent_threshold_um is not None else max(5 * sigma, 1.0 * v)
    smooth = np.where(good, res_um, 0.0)
    smooth = _circular_smooth(smooth, 1.0)
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
    dents_df = pd.DataFrame(dents, columns=["angle_rad", "width_rad", "depth_um", "y_um", "x_um", "severity"])
    profile = pd.DataFrame({
        "angle_rad": theta, "outer_um": outer * v, "inner_um": inner * v, "fit_um": fit_r * v,
        "residual_um": res_um, "wall_um": wall, "valid": good,
    })
    for df in (profile, dents_df):
        df.attrs["length_unit"] = sl.unit
    return Can(
        centre_y_um=sl.origin_yx_um[0] + cy * v, centre_x_um=sl.origin_yx_um[1] + cx * v,
        semi_major_um=ax1 * v, semi_minor_um=ax2 * v, orientation_rad=orient,
        wall_thickness_um=float(np.nanmedian(wall[good])) if good.any() else float("nan"),
        profile=profile, dents=dents_df, cropped=cropped, length_unit=sl.unit,
    )


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


# --------------------------------------------------------------------------- unrolling


def unroll(
    image: Any,
    centre_yx_um: tuple[float, float],
    voxel_size_um: float | None = None,
    *,
    r_max_um: float | None = None,
    r_min_um: float = 0.0,
    n_angles: int | None = None,
    dr_um: float | None = None,
) -> xr.DataArray:
    """Resample a slice onto (radius, angle) around the cell axis.

    Parameters
    ----------
    image : array-like or xarray.DataArray, shape (y, x)
        The slice.
    centre_yx_um : (float, float)
        The cell axis (µm, image frame), e.g. ``(can.centre_y_um, can.centre_x_um)``.
    voxel_size_um : float, optional
        Pixel size; default from attrs, else pixels.
    r_max_um, r_min_um : float
        Radial range; default from 0 to the farthest image corner.
    n_angles : int, optional
        Angular samples over 2π; default about one every two voxels along the outer
        radius's arc (at least 360, at most 2048).
    dr_um : float, optional
        Radial step; default one voxel.

    Returns
    -------
    xarray.DataArray
        Dims ``("radius", "angle")``, float32, coordinates ``radius`` (µm from the axis)
        and ``angle`` (rad, from +x towards +y). Samples outside the image are NaN. Each
        winding of a spiral climbs by one pitch in radius per turn.
    """
    sl = _as_slice(image, voxel_size_um, warn=False)
    return _unroll(sl, centre_yx_um, r_max_um, r_min_um, n_angles, dr_um)


def _default_n_angles(r_max_px: float) -> int:
    # one sample per ~2 voxels of arc at the outer radius: the windings' angular
    # features (tears, buckles) span many voxels, and the cost grows with the samples
    n = int(np.clip(np.ceil(TWO_PI * r_max_px / 2.0 / 8.0) * 8, 360, 2048))
    return n


def _unroll(sl: _Slice, centre_yx_um, r_max_um, r_min_um, n_angles, dr_um) -> xr.DataArray:
    v = sl.voxel_um
    unit = "µm" if sl.unit == "um" else "pixels"
    try:
        centre = np.asarray(centre_yx_um, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"centre_yx_um={centre_yx_um!r}: give (y, x) in {unit}") from exc
    if centre.shape != (2,) or not np.isfinite(centre).all():
        raise InputError(f"centre_yx_um={centre_yx_um!r}: give two finite numbers (y, x) in {unit}, "
                         "e.g. (can.centre_y_um, can.centre_x_um)")
    cy, cx = sl.to_index(*centre)
    ny, nx = sl.values.shape
    # a centre more than one image size off the image is a unit or frame slip (the radius
    # grid would grow with the distance: a centre at 1e7 µm asks for terabytes)
    span = max(ny, nx)
    if not (-span <= cy <= ny - 1 + span and -span <= cx <= nx - 1 + span):
        ys, xs = sl.to_um(np.array([0, ny - 1]), np.array([0, nx - 1]))
        raise InputError(
            f"centre_yx_um={tuple(float(c) for c in centre)}: the centre lies far outside the slice (y {ys[0]:g}…"
            f"{ys[1]:g}, x {xs[0]:g}…{xs[1]:g} {unit}); give the cell axis in {unit} in the image's "
            "frame, e.g. (can.centre_y_um, can.centre_x_um) from find_can"
        )
    r_min_um = _check_positive("r_min_um", r_min_um, zero_ok=True)
    if r_max_um is None:
        r_max_px = float(max(np.hypot(cy - py, cx - px) for py in (0, ny - 1) for px in (0, nx - 1)))
    else:
        r_max_px = _check_positive("r_max_um", r_max_um) / v
    if r_max_px <= r_min_um / v:
        raise InputError(f"r_min_um={r_min_um:g}, r_max_um={r_max_px * v:g}: the radial range is empty; "
                         "give r_min_um < r_max_um")
    if n_angles is not None:
        _check_count("n_angles", n_angles, 8)
    dr = (_check_positive("dr_um", dr_um) / v) if dr_um is not None else 1.0
    n = int(n_angles) if n_angles else _default_n_angles(r_max_px)
    n_r = (r_max_px - r_min_um / v) / dr + 1
    if n_r * n > _MAX_UNROLL_SAMPLES:
        raise InputError(
            f"unroll: {n_r:.3g} radii × {n} angles = {n_r * n:.3g} samples (at most {_MAX_UNROLL_SAMPLES:.0e}); "
            f"use a coarser dr_um (default one voxel, {v:g} {unit}), fewer n_angles (default ≤ 2048) or a "
            "smaller r_max_um"
        )
    radii = np.arange(r_min_um / v, r_max_px + dr / 2, dr)
    theta = np.arange(n) * TWO_PI / n
    yy = cy + radii[:, None] * np.sin(theta)[None, :]
    xx = cx + radii[:, None] * np.cos(theta)[None, :]
    out = ndimage.map_coordinates(sl.values, [yy, xx], order=1, mode="constant", cval=np.nan, prefilter=False)
    return xr.DataArray(
        out.astype(np.float32), dims=("radius", "angle"),
        coords={"radius": xr.Variable("radius", radii * v, attrs={"units": "µm" if sl.unit == "um" else "pixel"}),
                "angle": xr.Variable("angle", theta, attrs={"units": "rad"})},
        attrs={"centre_y_um": float(centre_yx_um[0]), "centre_x_um": float(centre_yx_um[1]),
               "voxel_size_um": v, "length_unit": sl.unit, "source": sl.name},
        name="unrolled",
    )


# --------------------------------------------------------------------------- layers


@dataclass
class Layers:
    """Windings tracked in one slice, and the spiral fitted through them.

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
        return {
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
            "thickness_um": float(np.nanmedian(self.turns.thickness_um)) if len(self.turns) else np.nan,
            "gap_um": float(np.nanmedian(self.turns.gap_um)) if len(self.turns) else np.nan,
        }


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


def _nan_smooth(values: np.ndarray, ok: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised convolution along the last axis (circular): smooth the valid samples only.

    Returns the smoothed values and the local weight of valid samples (0 where none near).
    """
    w = ndimage.gaussian_filter1d(ok.astype(np.float64), sigma, axis=-1, mode="wrap")
    num = ndimage.gaussian_filter1d(np.where(ok, values, 0.0), sigma, axis=-1, mode="wrap")
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / w, w


def _comb_rows(prof: np.ndarray, pitch_rows: float) -> np.ndarray:
    """Rows one pitch apart that sit on the brightest family of ridges of a profile."""
    n = len(prof)
    x = np.arange(n)
    fill = np.nanmean(prof)
    p = np.where(np.isfinite(prof), prof, fill)
    best_phase, best_score = 0.0, -np.inf
    for phase in np.arange(0.0, pitch_rows, 0.25):
        on = np.arange(phase, n - 1, pitch_rows)
        off = on + pitch_rows / 2
        off = off[off <= n - 1]
        score = np.interp(on, x, p).mean() - np.interp(off, x, p).mean()
        if score > best_score:
            best_phase, best_score = phase, score
    rows = np.arange(best_phase, n - 1, pitch_rows)
    # refine each row to the local maximum within a quarter pitch
    half = max(1, int(round(pitch_rows / 4)))
    out = []
    for r in rows:
        lo, hi = max(0, int(r) - half), min(n, int(r) + half + 1)
        out.append(lo + int(np.argmax(p[lo:hi])))
    return np.unique(np.asarray(out, float))


def _track_rows(S: np.ndarray, rows0: np.ndarray | None, pitch_rows: float, window: float, min_rel: float,
                iterations: int = 6, init: np.ndarray | None = None, thr: float | None = None):
    """Follow each row's ridge across the columns of the sheared image ``S``.

    Every column is searched within ``window`` pitches of the row's current trajectory;
    the trajectory is then re-estimated as a smooth curve through the accepted samples
    (normalised convolution along the angle), so ridges displaced by more than the window
    (buckling) are reached over a few iterations. A sample is accepted when it is a local
    maximum inside the window and its height above the neighbouring minima reaches
    ``min_rel`` times the typical ridge height.

    ``init`` (rows × columns) starts the rows from given trajectories instead of the
    constant ``rows0``; ``thr`` reuses a strength threshold from an earlier pass.

    Returns positions (n_rows, n_cols) in rows (sub-pixel), strengths, acceptance and the
    strength threshold.
    """
    n_rho, n_col = S.shape
    half = max(2, int(round(window * pitch_rows)))
    span = max(3, int(round(pitch_rows / 2)) | 1)  # odd
    finite = np.isfinite(S)
    fill = np.nanmin(S) if finite.any() else 0.0
    Sf = np.where(finite, S, fill).astype(np.float32)
    # the lowest value within half a pitch below / above every sample (the valleys):
    # a centred running minimum, shifted by half its width plus one
    m = ndimage.minimum_filter1d(Sf, span, axis=0, mode="nearest")
    sh = (span + 1) // 2
    lo_min = np.concatenate([np.repeat(m[:1], sh, axis=0), m[:-sh]], axis=0)
    hi_min = np.concatenate([m[sh:], np.repeat(m[-1:], sh, axis=0)], axis=0)
    offs = np.arange(-half, half + 1)
    cols = np.arange(n_col)[None, :]

    def measure(pos):
        centre = np.clip(np.rint(pos).astype(np.int64), half, n_rho - 1 - half) if n_rho > 2 * half else np.clip(np.rint(pos).astype(np.int64), 0, n_rho - 1)
        idx = np.clip(centre[..., None] + offs, 0, n_rho - 1)
        seg = Sf[idx, cols[..., None]]
        k = np.argmax(seg, axis=-1)
        interior = (k > 0) & (k < len(offs) - 1)
        peak_i = np.clip(centre + offs[k], 0, n_rho - 1)
        ym = Sf[np.clip(peak_i - 1, 0, n_rho - 1), cols]
        y0 = Sf[peak_i, cols]
        yp = Sf[np.clip(peak_i + 1, 0, n_rho - 1), cols]
        den = ym - 2 * y0 + yp
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.where(den < 0, 0.5 * (ym - yp) / den, 0.0)
        refined = peak_i + np.clip(np.nan_to_num(delta), -0.5, 0.5)
        strength = y0 - 0.5 * (lo_min[peak_i, cols] + hi_min[peak_i, cols])
        # a maximum against the edge of the data (the image border, the can) is no ridge
        edge_ok = finite[peak_i, cols] & finite[np.clip(peak_i - 1, 0, n_rho - 1), cols] & finite[np.clip(peak_i + 1, 0, n_rho - 1), cols]
        strength = np.where(edge_ok, strength, -np.inf)
        return refined, strength, interior

    if init is not None:
        pos = np.asarray(init, dtype=np.float64).copy()
    else:
        pos = np.broadcast_to(rows0[:, None], (len(rows0), n_col)).astype(np.float64)
    refined, strength, interior = measure(pos)
    if thr is None:
        fin = strength[np.isfinite(strength) & interior]
        typical = float(np.median(fin[fin >= np.percentile(fin, 50)])) if fin.size else 1.0
        thr = min_rel * typical
    sigma = max(2.0, n_col / 720.0)  # about half a degree of angle
    for _ in range(iterations):
        ok = interior & (strength >= thr)
        # a smooth trajectory through the accepted samples; where none is near (a ridge
        # displaced beyond the window), fill from coarser scales so the next search
        # window moves towards it
        traj, weight = _nan_smooth(refined, ok, sigma)
        near = weight > 0.05
        new = np.where(near, traj, pos)
        for k in np.flatnonzero(near.any(axis=1) & ~near.all(axis=1)):
            j_ok = np.flatnonzero(near[k])
            far = ~near[k]
            new[k, far] = np.interp(np.flatnonzero(far), j_ok, traj[k, j_ok], period=n_col)
        if np.allclose(new, pos, atol=0.05):
            break
        pos = new
        refined, strength, interior = measure(pos)
    ok = interior & (strength >= thr)
    return np.where(ok, refined, pos), strength, ok, thr


def _dedupe_rows(pos: np.ndarray, ok: np.ndarray, strength: np.ndarray, pitch_rows: float) -> np.ndarray:
    """Rows that converged onto the same ridge as another row: keep the stronger one."""
    keep = np.ones(pos.shape[0], bool)
    for k in range(pos.shape[0] - 1):
        both = ok[k] & ok[k + 1]
        if both.sum() < 0.2 * min(ok[k].sum(), ok[k + 1].sum()) or both.sum() == 0:
            continue
        # neighbouring turns sit one pitch apart; much closer means one row followed
        # another ridge family (e.g. a thin foil half a pitch away) or its neighbour's ridge
        if np.median(np.abs(pos[k + 1, both] - pos[k, both])) < 0.65 * pitch_rows:
            weaker = k if np.nanmedian(strength[k, ok[k]]) < np.nanmedian(strength[k + 1, ok[k + 1]]) else k + 1
            keep[weaker] = False
    return keep


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
    """
    if not isinstance(unrolled, xr.DataArray) or set(unrolled.dims) != {"radius", "angle"} \
            or "radius" not in unrolled.coords or "angle" not in unrolled.coords:
        got = f"a DataArray with dims {unrolled.dims}" if isinstance(unrolled, xr.DataArray) else type(unrolled).__name__
        raise InputError(f"unrolled: expected the output of bz.cell.unroll (a DataArray with dims ('radius', "
                         f"'angle') and their coordinates), got {got}")
    unrolled = unrolled.transpose("radius", "angle")
    _check_track_args(pitch_um, handedness, window, min_strength, smooth_angles)
    radii_um = np.asarray(unrolled.radius.values, dtype=float)
    theta = np.asarray(unrolled.angle.values, dtype=float)
    v = float(unrolled.attrs.get("voxel_size_um", 1.0))
    unit = unrolled.attrs.get("length_unit", "um")
    U = np.asarray(unrolled.values, dtype=np.float32)
    if U.size == 0 or not np.isfinite(U).any():
        raise InputError(f"{unrolled.attrs.get('source', 'slice')}: the unrolled slice is empty")
    radii_px = radii_um / v
    dr = radii_px[1] - radii_px[0]
    sel = np.ones(len(radii_px), bool)
    if r_min_um is not None:
        sel &= radii_um >= r_min_um
    if r_max_um is not None:
        sel &= radii_um <= r_max_um
    Ur = U[sel]
    rr = radii_px[sel]
    if Ur.shape[0] < 16:
        raise InputError(f"{unrolled.attrs.get('source', 'slice')}: the radial range [{r_min_um}, {r_max_um}] µm holds too few samples")
    # inside the range, outside the image -> NaN stays NaN
    finite = np.isfinite(Ur)
    Uf = np.where(finite, Ur, np.nanmedian(Ur))
    Us = ndimage.gaussian_filter1d(Uf, smooth_angles, axis=1, mode="wrap")
    if pitch_um is None:
        pitch_px = _estimate_pitch(Us, dr, 3.0, (rr[-1] - rr[0]) / 3)
    else:
        pitch_px = float(pitch_um) / v
        lo, hi = 2 * dr, (rr[-1] - rr[0]) / 2
        if not lo <= pitch_px <= hi:
            raise InputError(
                f"pitch_um={pitch_um:g}: outside the range this unrolled slice can hold ({lo * v:g} to {hi * v:g} "
                f"{'µm' if unit == 'um' else 'pixels'}: two radial samples up to half the radial range); give "
                "the winding pitch in the same unit as the radius, or None to measure it")
    # a light radial smoothing (an eighth of a pitch) rounds flat-topped layers, so each
    # ridge has one well-defined maximum at its mid-plane
    Us = ndimage.gaussian_filter1d(Us, max(0.5, pitch_px / 8 / dr), axis=0, mode="nearest")
    Us = np.where(finite, Us, np.nan)
    rho = np.arange(rr[0] - pitch_px, rr[-1] + dr / 2, dr)
    hand = int(handedness) if handedness in (1, -1) else _estimate_handedness(Us, pitch_px / dr)
    S = _shear(Us, rr, theta, pitch_px, hand, rho)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        prof = np.nanmean(S, axis=1)
    step_rows = pitch_px / dr
    rows0 = _comb_rows(prof, step_rows)
    if len(rows0) < 2:
        raise InputError(f"{unrolled.attrs.get('source', 'slice')}: no windings found in the unrolled slice")
    pos, stren, valid, thr = _track_rows(S, rows0, step_rows, window, min_strength)
    valid = _drop_short_runs(valid, max(3, int(0.03 * len(theta))))
    distinct = _dedupe_rows(pos, valid, stren, step_rows)
    # rows that hold almost no ridge lie inside the mandrel hole or beyond the roll; rows
    # between the first and last real turn are kept (a heavily torn turn is still a turn)
    covered = distinct & (valid.mean(axis=1) >= 0.03)
    if not covered.any():
        raise InputError(f"{unrolled.attrs.get('source', 'slice')}: no winding could be followed round the slice")
    # the roll is the largest block of covered rows; a lone row far inside (the unrolling
    # centre, where every angle samples the same pixels) or outside is not a winding
    idx = np.flatnonzero(covered)
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > 2) + 1)
    block = max(groups, key=lambda g: valid[g].sum())
    keep_rows = distinct.copy()
    keep_rows[: block[0]] = False
    keep_rows[block[-1] + 1 :] = False
    pos, stren, valid = pos[keep_rows], stren[keep_rows], valid[keep_rows]
    pos, stren, valid = _extend_rows(S, pos, stren, valid, step_rows, window, min_strength, thr, len(theta))
    rho_pos = rho[0] + pos * dr  # px
    r_px = rho_pos + hand * pitch_px * theta[None, :] / TWO_PI
    r_px = np.where(valid, r_px, np.nan)
    layers = _fit_spiral(r_px, np.where(valid, stren, np.nan), theta, hand, pitch_px, v, unit, thr,
                         (float(unrolled.attrs.get("centre_y_um", 0.0)), float(unrolled.attrs.get("centre_x_um", 0.0))))
    layers.turns = _turn_table(layers, S, rho, pos, valid, dr, v)
    # a wound roll has several turns followed most of the way round; anything less (a cap,
    # tabs, a header region, an empty can) is not a spiral to measure
    if (layers.turns.coverage >= 0.5).sum() < 3:
        raise InputError(f"{unrolled.attrs.get('source', 'slice')}: no wound roll — fewer than 3 windings "
                         "could be followed round the slice")
    return layers


def _extend_rows(S, pos, stren, valid, step_rows, window, min_rel, thr, n_col):
    """Look for partial turns beyond the innermost and outermost tracked rows.

    The roll's ends are where it departs most from a spiral (the core is often squarish,
    the last turn loose), so a constant starting row misses them; starting instead one
    pitch inside (outside) the neighbouring turn's trajectory follows its shape.
    """
    for side in (-1, 1):
        for _ in range(3):
            edge = 0 if side < 0 else pos.shape[0] - 1
            guess = pos[edge] + side * step_rows
            if np.median(guess) < 0 or np.median(guess) > S.shape[0] - 1:
                break
            p2, s2, v2, _ = _track_rows(S, None, step_rows, window, min_rel, init=guess[None], thr=thr)
            # where it fell back onto the edge turn it is not a new turn
            v2 &= ~(valid[edge] & (np.abs(p2[0] - pos[edge]) < 0.5 * step_rows))
            v2 = _drop_short_runs(v2, max(3, int(0.03 * n_col)))
            if v2.mean() < 0.03:
                break
            if side < 0:
                pos, stren, valid = np.vstack([p2, pos]), np.vstack([s2, stren]), np.vstack([v2, valid])
            else:
                pos, stren, valid = np.vstack([pos, p2]), np.vstack([stren, s2]), np.vstack([valid, v2])
    return pos, stren, valid


def _drop_short_runs(valid: np.ndarray, min_len: int) -> np.ndarray:
    out = valid.copy()
    for k in range(valid.shape[0]):
        for s, e in _runs(valid[k], circular=False):
            if e - s < min_len:
                out[k, s:e] = False
    return out


def _spiral_design(Th: np.ndarray, theta: np.ndarray, oval: bool) -> np.ndarray:
    """Columns of the spiral model: 1, Θ, cos θ, sin θ [, cos 2θ, sin 2θ, Θ cos 2θ, Θ sin 2θ]."""
    cols = [np.ones_like(Th), Th, np.cos(theta), np.sin(theta)]
    if oval:
        c2, s2 = np.cos(2 * theta), np.sin(2 * theta)
        cols += [c2, s2, Th * c2, Th * s2]
    return np.stack(cols, axis=-1)


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
    A = X[good]
    y = r_px[good]
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
    a, b, cx_off, cy_off = coef[:4]
    fitted = X @ coef
    residual = np.where(good, r_px - fitted, np.nan)
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
    if n_turns > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # turns missing at the seam
            ends = [np.nanmedian(r_px[:, :3], axis=1), np.nanmedian(r_px[:, -3:], axis=1)]
            first, last = ends if hand > 0 else ends[::-1]
            jump = float(np.nanmedian(first[1:] - last[:-1]))
    else:
        jump = float("nan")
    layers.extra["seam_jump_um"] = jump * v
    layers.extra["coefficients_px"] = coef.tolist()
    layers.extra["voxel_um"] = v
    layers.extra["ovality_um"] = ovality * v
    layers.extra["inlier_fraction"] = float(inl.mean())
    return layers


def _turn_table(layers: Layers, S, rho, pos, valid, dr, v) -> pd.DataFrame:
    """Per-turn radius, coverage, thickness (FWHM of the bright band) and gap."""
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
    df.attrs["length_unit"] = layers.length_unit
    return df


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


# --------------------------------------------------------------------------- defects


def _empty_defects(unit: str = "um") -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype=object if c in ("type", "detail") else float) for c in DEFECT_COLUMNS})
    df.attrs["length_unit"] = unit
    return df


def _roll_levels(U: np.ndarray, layers: Layers, v: float, radii_um: np.ndarray) -> tuple[float, float]:
    """Grey level of the tracked ridges and of the roll as a whole (medians)."""
    r = layers.radius_um
    j = np.broadcast_to(np.arange(r.shape[1])[None, :], r.shape)
    ok = np.isfinite(r)
    i = np.clip(np.rint((r[ok] - radii_um[0]) / (radii_um[1] - radii_um[0])).astype(int), 0, U.shape[0] - 1)
    ridge = float(np.nanmedian(U[i, j[ok]]))
    lo = np.nanmin(r) - layers.pitch_um / 2
    hi = np.nanmax(r) + layers.pitch_um / 2
    band = U[(radii_um >= lo) & (radii_um <= hi)]
    return ridge, float(np.nanmedian(band))


def _inclusion_threshold(ridge: float, roll: float, factor: float) -> float:
    # a metal particle is far brighter than any electrode layer: the ridge level plus
    # `factor` times the ridge-to-roll contrast
    return ridge + factor * (ridge - roll)


def _find_inclusions(sl: _Slice, centre_yx_um, r_lo_um: float, r_hi_um: float, thr: float, pitch_um: float) -> list[dict]:
    from skimage.measure import label, regionprops

    raw = sl.values
    cy, cx = sl.to_index(*centre_yx_um)
    out: list[dict] = []
    # a smoothed voxel above the threshold needs a raw voxel above it: look only where
    # raw voxels are (most slices have none), then smooth just that neighbourhood
    ys, xs = np.nonzero(raw > thr)
    if ys.size == 0:
        return out
    rr0 = np.hypot(ys - cy, xs - cx) * sl.voxel_um
    near = (rr0 >= r_lo_um - 3 * sl.voxel_um) & (rr0 <= r_hi_um + 3 * sl.voxel_um)
    if not near.any():
        return out
    ys, xs = ys[near], xs[near]
    y0, y1 = max(0, ys.min() - 6), min(raw.shape[0], ys.max() + 7)
    x0, x1 = max(0, xs.min() - 6), min(raw.shape[1], xs.max() + 7)
    sub = ndimage.gaussian_filter(raw[y0:y1, x0:x1], 0.7)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    rr = np.hypot(yy - cy, xx - cx) * sl.voxel_um
    # only the annulus of the roll (the can and its blur are excluded)
    mask = (sub > thr) & (rr >= r_lo_um) & (rr <= r_hi_um)
    if not mask.any():
        return out
    lab = label(mask)
    for p in regionprops(lab, intensity_image=sub):
        coords = p.coords
        excess = sub[coords[:, 0], coords[:, 1]] - thr
        wsum = float(excess.sum())
        py = float((coords[:, 0] * excess).sum() / wsum) + y0
        px = float((coords[:, 1] * excess).sum() / wsum) + x0
        y_um, x_um = sl.to_um(py, px)
        dy, dx = y_um - centre_yx_um[0], x_um - centre_yx_um[1]
        diameter = 2 * np.sqrt(p.area / np.pi) * sl.voxel_um
        out.append(dict(
            type="inclusion", y_um=float(y_um), x_um=float(x_um), radius_um=float(np.hypot(dy, dx)),
            angle_rad=float(np.arctan2(dy, dx) % TWO_PI), turn=np.nan, size_um=float(diameter),
            magnitude_um=float(diameter), severity=float(diameter / pitch_um),
            detail=f"peak {float(sub[coords[:, 0], coords[:, 1]].max()):.4g} over threshold {thr:.4g}",
            weight=wsum,
        ))
    return out


def _label_turn_angle(mask: np.ndarray, hand: int) -> tuple[np.ndarray, int]:
    """Connected regions on the (turn, angle) grid, joined across the 0/2π seam.

    Along the spiral, turn k at the end of the angle range continues into turn k+1 at
    its start (handedness +1), or the reverse (-1).
    """
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return lab, 0
    parent = np.arange(n + 1)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    last, first = lab[:, -1], lab[:, 0]
    for k in range(mask.shape[0]):
        pairs = [(last[k], first[k + 1])] if (hand > 0 and k + 1 < mask.shape[0]) else []
        if hand < 0 and k + 1 < mask.shape[0]:
            pairs = [(first[k], last[k + 1])]
        for a, b in pairs:
            if a and b:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(n + 1)])
    _, relabel = np.unique(roots, return_inverse=True)
    return relabel[lab], int(relabel.max())


def _circular_centroid(theta: np.ndarray, w: np.ndarray) -> float:
    return float(np.angle(np.sum(w * np.exp(1j * theta))) % TWO_PI)


def _interp_row(values: np.ndarray, theta: np.ndarray, angle: float) -> float:
    ok = np.isfinite(values)
    if not ok.any():
        return float("nan")
    return float(np.interp(angle, theta[ok], values[ok], period=TWO_PI))


def _regions_to_defects(field, ok, layers: Layers, thr: float, min_arc_um: float) -> list[dict]:
    """Turn regions of |field| > thr on the (turn, angle) grid into defect rows."""
    theta = layers.angle_rad
    dth = TWO_PI / len(theta)
    lab, n = _label_turn_angle(ok & (np.abs(field) > thr), layers.handedness)
    out = []
    for i in range(1, n + 1):
        sel = lab == i
        vals = np.where(sel, np.abs(field), 0.0)
        k, j = np.unravel_index(np.argmax(vals), vals.shape)
        row = sel[k]
        r_row = layers.radius_um[k]
        arc = float(np.nansum(np.where(row, r_row, 0.0)) * dth)
        if arc < min_arc_um:
            continue
        w = np.where(row, np.abs(field[k]), 0.0)
        angle = _circular_centroid(theta, w)
        out.append(dict(k=int(k), angle=angle, magnitude=float(vals[k, j]), signed=float(field[k, j]),
                        arc=arc, turns=np.unique(np.nonzero(sel)[0]).tolist()))
    return out


def _buckling(layers: Layers, cy0, cx0, thr_um: float | None) -> tuple[list[dict], np.ndarray, float]:
    res = layers.residual_um
    ok = np.isfinite(res)
    sm, w = _nan_smooth(np.nan_to_num(res), ok, max(2.0, len(layers.angle_rad) / 720))
    sm = np.where(ok, sm, np.nan)
    good = np.isfinite(sm)
    sigma = 1.4826 * np.nanmedian(np.abs(sm[good] - np.nanmedian(sm[good]))) if good.any() else 0.0
    thr = thr_um if thr_um is not None else max(6 * sigma, 0.2 * layers.pitch_um)
    regions = _regions_to_defects(np.nan_to_num(sm), good, layers, thr, layers.pitch_um)
    rows = []
    for reg in regions:
        k = reg["k"]
        j = int(np.argmin(np.abs(((layers.angle_rad - reg["angle"] + np.pi) % TWO_PI) - np.pi)))
        inner = sm[k - 1, j] if k > 0 else np.nan
        # buckling moves a stack of windings together; an outward step of one turn over
        # an undisplaced inner neighbour is an opening between them (a gap's signature)
        if reg["signed"] > 0 and np.isfinite(inner) and abs(inner) < 0.5 * reg["magnitude"]:
            continue
        r = _interp_row(layers.radius_um[k], layers.angle_rad, reg["angle"])
        rows.append(dict(
            type="buckling", y_um=cy0 + r * np.sin(reg["angle"]), x_um=cx0 + r * np.cos(reg["angle"]),
            radius_um=r, angle_rad=reg["angle"], turn=reg["k"], size_um=reg["arc"],
            magnitude_um=reg["magnitude"], severity=reg["magnitude"] / layers.pitch_um,
            detail=("towards the axis" if reg["signed"] < 0 else "away from the axis")
            + f"; turns {reg['turns'][0]}-{reg['turns'][-1]}",
            weight=reg["magnitude"], _turns=reg["turns"], _sign=np.sign(reg["signed"]),
        ))
    return rows, sm, thr


def _typical_profile(U, radii_um, layers: Layers, step_um: float):
    """Median grey profile from a ridge outward over two pitches (µm offsets)."""
    offs = np.arange(-0.5 * layers.pitch_um, 1.5 * layers.pitch_um + step_um / 2, step_um)
    r = layers.radius_um
    ok = np.isfinite(r)
    k_idx, j_idx = np.nonzero(ok)
    pick = np.linspace(0, len(k_idx) - 1, min(len(k_idx), 4000)).astype(int)
    rr = r[k_idx[pick], j_idx[pick]][:, None] + offs[None, :]
    ii = (rr - radii_um[0]) / (radii_um[1] - radii_um[0])
    jj = np.broadcast_to(j_idx[pick][:, None], ii.shape).astype(float)
    vals = ndimage.map_coordinates(U, [ii, jj], order=1, mode="constant", cval=np.nan, prefilter=False)
    return offs, np.nanmedian(vals, axis=0)


def _locate_void(U, radii_um, layers: Layers, k: int, angle: float, opening_um: float, spacing_um: float) -> float:
    """Radius of the centre of a delamination void between turn k and k+1 at ``angle``.

    Model: the grey profile from ridge k outward is the typical profile up to a split
    ``c``, then a band of width ``opening`` at a constant (void) level, then the typical
    profile shifted outward by ``opening``. The split minimising the squared error wins.
    """
    theta = layers.angle_rad
    step = (radii_um[1] - radii_um[0]) / 4
    offs, typical = _typical_profile(U, radii_um, layers, step)
    j = int(np.argmin(np.abs(((theta - angle + np.pi) % TWO_PI) - np.pi)))
    cols = (j + np.arange(-2, 3)) % len(theta)
    r_k = _interp_row(layers.radius_um[k], theta, angle)
    obs_off = np.arange(0.0, spacing_um + step / 2, step)
    ii = (r_k + obs_off - radii_um[0]) / (radii_um[1] - radii_um[0])
    ii2 = np.broadcast_to(ii[None, :], (len(cols), len(ii)))
    jj2 = np.broadcast_to(cols[:, None].astype(float), ii2.shape)
    prof = np.nanmean(ndimage.map_coordinates(U, [ii2, jj2], order=1, cval=np.nan, prefilter=False), axis=0)
    w = max(opening_um, step)

    def typ(o):
        return np.interp(o, offs, typical)

    best_c, best_err = 0.0, np.inf
    for c in np.arange(0.0, max(spacing_um - w, step), step):
        inner = obs_off < c
        band = (obs_off >= c) & (obs_off < c + w)
        outer = obs_off >= c + w
        pred = np.empty_like(obs_off)
        pred[inner] = typ(obs_off[inner])
        pred[outer] = typ(obs_off[outer] - w)
        pred[band] = np.nanmean(prof[band]) if band.any() else 0.0
        err = np.nansum((prof - pred) ** 2)
        if err < best_err:
            best_c, best_err = c, err
    return r_k + best_c + w / 2


def _gaps(layers: Layers, U, radii_um, cy0, cx0, thr_um: float | None) -> list[dict]:
    r = layers.radius_um
    if r.shape[0] < 2:
        return []
    spacing = np.diff(r, axis=0)
    ok = np.isfinite(spacing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(spacing, axis=1, keepdims=True)
    anomaly = spacing - med
    sm, _ = _nan_smooth(np.nan_to_num(anomaly), ok, max(2.0, len(layers.angle_rad) / 720))
    sm = np.where(ok, sm, np.nan)
    good = np.isfinite(sm)
    if not good.any():
        return []
    sigma = 1.4826 * np.nanmedian(np.abs(sm[good] - np.nanmedian(sm[good])))
    thr = thr_um if thr_um is not None else max(6 * sigma, 0.2 * layers.pitch_um)
    pos_only = np.where(good, np.clip(sm, 0, None), 0.0)  # a gap opens; closing is not a gap
    gap_layers = Layers(**{**layers.__dict__, "radius_um": r[:-1]})
    regions = _regions_to_defects(pos_only, good, gap_layers, thr, layers.pitch_um / 2)
    rows = []
    for reg in regions:
        k = reg["k"]
        sp = float(med[k, 0]) + reg["magnitude"]
        rc = _locate_void(U, radii_um, layers, k, reg["angle"], reg["magnitude"], sp)
        rows.append(dict(
            type="gap", y_um=cy0 + rc * np.sin(reg["angle"]), x_um=cx0 + rc * np.cos(reg["angle"]),
            radius_um=rc, angle_rad=reg["angle"], turn=k, size_um=reg["arc"],
            magnitude_um=reg["magnitude"], severity=reg["magnitude"] / layers.pitch_um,
            detail=f"opening between turns {k} and {k + 1}", weight=reg["magnitude"], _turns=[k, k + 1],
        ))
    return rows


def _tears(layers: Layers, cy0, cx0, voxel_um: float) -> list[dict]:
    """Missing ridge segments inside the spiral (not at its two ends)."""
    r = layers.radius_um
    n_turns, n_col = r.shape
    order = np.arange(n_col) if layers.handedness > 0 else np.arange(n_col)[::-1]
    seq_r = r[:, order].ravel()  # along the spiral, inner end first
    seq_k = np.repeat(np.arange(n_turns), n_col)
    seq_j = np.tile(order, n_turns)
    valid = np.isfinite(seq_r)
    if valid.sum() < 2:
        return []
    first, last = np.flatnonzero(valid)[[0, -1]]
    dth = TWO_PI / n_col
    rows = []
    for s, e in _runs(~valid[first : last + 1], circular=False):
        s, e = s + first, e + first
        r_in, r_out = seq_r[s - 1], seq_r[e]
        n = e - s
        arc = n * dth * (r_in + r_out) / 2
        # a tear is a short break: more than ~2 voxels of arc, less than half a turn
        if arc < 2 * voxel_um or n < 3 or n > n_col // 2:
            continue
        mid = s + (n - 1) / 2
        frac = (mid - (s - 1)) / (n + 1)
        rc = r_in + frac * (r_out - r_in)
        jm = seq_j[int(np.floor(mid))]
        jn = seq_j[int(np.ceil(mid))]
        ang = _circular_centroid(layers.angle_rad[[jm, jn]], np.ones(2))
        k = int(seq_k[int(round(mid))])
        rows.append(dict(
            type="tear", y_um=cy0 + rc * np.sin(ang), x_um=cx0 + rc * np.cos(ang), radius_um=rc,
            angle_rad=ang, turn=k, size_um=arc, magnitude_um=arc, severity=arc / layers.pitch_um,
            detail=f"ridge of turn {k} missing over {np.degrees(n * dth):.1f}°", weight=arc,
        ))
    return rows


def find_defects(
    image: Any,
    can: Can | None,
    layers: Layers,
    unrolled: xr.DataArray,
    voxel_size_um: float | None = None,
    *,
    buckling_threshold_um: float | None = None,
    gap_threshold_um: float | None = None,
    inclusion_factor: float = 1.0,
) -> pd.DataFrame:
    """Defects in one slice: buckling, gaps, tears, bright inclusions, can dents.

    Parameters
    ----------
    image : array-like or DataArray (y, x)
        The slice.
    can : Can or None
        Its can (dents come from :attr:`Can.dents`; the roll ends inside its wall).
    layers : Layers
        The tracked windings (:func:`track_layers`).
    unrolled : DataArray
        The unrolled slice the layers were tracked on.
    buckling_threshold_um : float, optional
        Residual from the fitted spiral that counts as buckling; default
        ``max(6 σ, 0.15 pitch)`` (σ the robust spread of the smoothed residuals).
    gap_threshold_um : float, optional
        Excess spacing between neighbouring turns that counts as a gap; default
        ``max(6 σ, 0.2 pitch)``.
    inclusion_factor : float
        A voxel is "inclusion" when brighter than the ridge level plus this many times
        the ridge-to-roll contrast (metal is far brighter than any electrode layer).

    Returns
    -------
    DataFrame
        One row per defect, columns :data:`DEFECT_COLUMNS` (positions in µm in the image
        frame) plus ``weight`` (for linking across slices).
    """
    if not isinstance(layers, Layers):
        raise InputError(f"layers: expected the Layers of bz.cell.track_layers, got {type(layers).__name__}")
    if not isinstance(unrolled, xr.DataArray) or set(unrolled.dims) != {"radius", "angle"}:
        raise InputError("unrolled: expected the DataArray of bz.cell.unroll the layers were tracked on, "
                         f"got {type(unrolled).__name__}")
    if can is not None and not isinstance(can, Can):
        raise InputError(f"can: expected the Can of bz.cell.find_can or None, got {type(can).__name__}")
    sl = _as_slice(image, voxel_size_um, warn=False)
    return _find_defects(sl, can, layers, unrolled, buckling_threshold_um, gap_threshold_um, inclusion_factor)[0]


def _find_defects(sl, can, layers, unrolled, b_thr, g_thr, inc_factor):
    cy0, cx0 = layers.unroll_centre_yx_um
    U = np.asarray(unrolled.values, dtype=np.float32)
    radii = np.asarray(unrolled.radius.values, dtype=float)
    rows: list[dict] = []
    buck, smooth_res, thr_b = _buckling(layers, cy0, cx0, b_thr)
    gaps = _gaps(layers, U, radii, cy0, cx0, g_thr)
    # a gap pushes the turns outside it outward: that displacement is the gap's, not buckling
    for b in buck:
        if any(b["_sign"] > 0 and min(b["_turns"]) >= g["_turns"][1]
               and abs(((b["angle_rad"] - g["angle_rad"] + np.pi) % TWO_PI) - np.pi) < 0.5 for g in gaps):
            continue
        rows.append(b)
    rows += gaps
    rows += _tears(layers, cy0, cx0, sl.voxel_um)
    ridge, roll = _roll_levels(U, layers, sl.voxel_um, radii)
    thr_inc = _inclusion_threshold(ridge, roll, inc_factor)
    r_lo = max(0.0, float(np.nanmin(layers.radius_um)) - layers.pitch_um)
    r_hi = float(np.nanmax(layers.radius_um)) + layers.pitch_um
    if can is not None:
        r_hi = min(r_hi, can.inner_radius_um - 2 * sl.voxel_um)
    rows += _find_inclusions(sl, (cy0, cx0), r_lo, r_hi, thr_inc, layers.pitch_um)
    if can is not None:
        rows += _dent_dicts(can)
    df = _defect_frame(rows, sl.unit)
    maps = {"smoothed_residual_um": smooth_res, "buckling_threshold_um": thr_b,
            "inclusion_threshold": thr_inc, "ridge_level": ridge, "roll_level": roll}
    return df, maps


def _dent_dicts(can: Can) -> list[dict]:
    out = []
    for d in can.dents.itertuples():
        dy, dx = d.y_um - can.centre_y_um, d.x_um - can.centre_x_um
        out.append(dict(
            type="dent", y_um=d.y_um, x_um=d.x_um, radius_um=float(np.hypot(dy, dx)),
            angle_rad=float(d.angle_rad), turn=np.nan, size_um=float(d.width_rad * can.semi_minor_um),
            magnitude_um=float(d.depth_um), severity=float(d.severity),
            detail="can wall pushed in (outer surface at the deepest point)", weight=float(d.depth_um),
        ))
    return out


def _defect_frame(rows: list[dict], unit: str) -> pd.DataFrame:
    df = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    if df.empty:
        df = _empty_defects(unit)
        df["weight"] = pd.Series(dtype=float)
    else:
        df = df.reindex(columns=[c for c in DEFECT_COLUMNS if c != "z_um"] + ["weight"])
        df.insert(1, "z_um", np.nan)
    df.attrs["length_unit"] = unit
    return df


def _dent_rows(can: Can, unit: str) -> pd.DataFrame:
    return _defect_frame(_dent_dicts(can), unit)


# --------------------------------------------------------------------------- one slice


@dataclass
class CellSlice:
    """Everything measured in one slice (see :func:`analyze_slice`).

    Attributes
    ----------
    can : Can or None
        The can (None when analysed with ``can=False``).
    unrolled : DataArray (radius, angle)
        The slice unrolled about the spiral's centre (NaN beyond the can's inner wall).
    layers : Layers or None
        The tracked windings and fitted spiral; None when the slice holds a can but no
        wound roll (a cap, tabs, a header region): ``maps["no_roll"]`` says why.
    defects : DataFrame
        :data:`DEFECT_COLUMNS` plus ``weight``, positions in µm in the image frame.
    summary : dict
        Can and spiral numbers and the count of each defect type (one row of
        :attr:`CellVolume.summary`).
    maps : dict
        Intermediate results for figures and checks (smoothed residuals, thresholds used).
    """

    can: Can | None
    unrolled: xr.DataArray
    layers: Layers | None
    defects: pd.DataFrame
    summary: dict
    maps: dict = field(default_factory=dict)


def analyze_slice(
    image: Any,
    voxel_size_um: float | None = None,
    *,
    centre_yx_um: tuple[float, float] | None = None,
    can: bool = True,
    threshold: float | None = None,
    n_angles: int | None = None,
    pitch_um: float | None = None,
    handedness: int | None = None,
    buckling_threshold_um: float | None = None,
    gap_threshold_um: float | None = None,
    inclusion_factor: float = 1.0,
    refine_centre: bool = True,
    z_um: float | None = None,
    name: str | None = None,
    can_prior: Can | None = None,
    search_centre: bool | None = None,
) -> CellSlice:
    """Can, unrolled roll, layers and defects of one axial slice.

    Parameters
    ----------
    image : array-like or DataArray (y, x)
        A grey CT slice (or a mask / skeleton of the windings with ``can=False``).
    voxel_size_um : float, optional
        Pixel size (µm); default from attrs, else pixels (with a warning).
    centre_yx_um : (float, float), optional
        The cell axis; default the can's centre (or, without a can, the centroid of the
        bright structure), refined by the spiral fit.
    can : bool
        Look for the can (dents, the roll's outer limit). ``False`` for masks, skeletons
        or crops without the can.
    threshold : float, optional
        Can/roll grey level (see :func:`find_can`).
    n_angles, pitch_um, handedness
        Passed to :func:`unroll` / :func:`track_layers`.
    buckling_threshold_um, gap_threshold_um, inclusion_factor
        Passed to :func:`find_defects`.
    refine_centre : bool
        Re-unroll about the spiral's fitted centre when it differs from the first guess
        by more than half a voxel.
    z_um : float, optional
        The slice's height, copied into the defect table.
    name : str, optional
        How messages name the slice.
    can_prior : Can, optional
        The can of a neighbouring slice: its wall is searched near that one (faster, and
        the same can slice after slice).
    search_centre : bool, optional
        Search for the spiral's centre within about a pitch of the first guess before
        tracking (the tracker needs it within a third of a pitch). Default: search unless
        ``centre_yx_um`` is given. The first guess and the searched centre are both
        tracked; the spiral that is continuous across the angle's seam and fits better wins.

    Returns
    -------
    CellSlice

    Raises
    ------
    InputError
        An empty slice; no can (with ``can=True``), naming the slice; no wound roll and
        no can.

    Warns
    -----
    UserWarning
        Unknown voxel size (lengths in pixels); a can that runs outside the image.
    """
    _check_track_args(pitch_um, handedness)
    if n_angles is not None:
        _check_count("n_angles", n_angles, 8)
    sl = _as_slice(image, voxel_size_um, name)
    given_centre = centre_yx_um is not None
    found_can = _find_can(sl, threshold, 720, None, can_prior) if can else None
    if found_can is not None and found_can.cropped:
        warnings.warn(f"{sl.name}: the can runs outside the image (a cropped or off-centre cell); "
                      "its ellipse is fitted to the visible arc only", stacklevel=2)
    if centre_yx_um is None:
        if found_can is not None:
            centre_yx_um = (found_can.centre_y_um, found_can.centre_x_um)
        else:
            centre_yx_um = _bright_centroid(sl)
    if found_can is not None:
        r_max = float(found_can.profile.inner_um.max()) + 2 * sl.voxel_um
    else:
        r_max = _structure_radius(sl, centre_yx_um)
    starts = [centre_yx_um]
    if search_centre or (search_centre is None and not given_centre):
        found = _search_centre(sl, centre_yx_um, r_max, found_can, pitch_um, handedness, n_angles)
        if np.hypot(found[0] - centre_yx_um[0], found[1] - centre_yx_um[1]) > 0.5 * sl.voxel_um:
            starts.append(found)
    tries = []
    failure = None
    for start in starts:
        try:
            U, layers = _track_about(sl, start, r_max, found_can, n_angles, pitch_um, handedness, refine_centre)
        except InputError as exc:
            failure = exc
            continue
        # a wrong centre mixes up the turns: the spiral then jumps at the angle's seam and
        # fits worse. Prefer a continuous spiral, then the smaller residuals.
        seam = abs(layers.extra.get("seam_jump_um", 0.0))
        broken = not np.isfinite(seam) or seam > 0.25 * layers.pitch_um
        tries.append((broken, layers.residual_rms_um, U, layers))
    if not tries:
        if found_can is None:
            raise failure
        # the can without a roll (a header region, an empty can): report the can alone
        U = _unroll(sl, (found_can.centre_y_um, found_can.centre_x_um), r_max, 0.0, n_angles, None)
        defects, maps, layers = _dent_rows(found_can, sl.unit), {"no_roll": str(failure)}, None
    else:
        _, _, U, layers = min(tries, key=lambda t: (t[0], t[1]))
        defects, maps = _find_defects(sl, found_can, layers, U, buckling_threshold_um, gap_threshold_um, inclusion_factor)
    if z_um is not None:
        defects["z_um"] = z_um
    summary = {"z_um": z_um if z_um is not None else np.nan}
    if found_can is not None:
        summary.update(found_can.summary())
    summary.update(layers.summary() if layers is not None else {"n_windings": np.nan, "n_layers": 0})
    for kind in ("buckling", "gap", "tear", "inclusion", "dent"):
        summary[f"n_{kind}"] = int((defects.type == kind).sum())
    return CellSlice(can=found_can, unrolled=U, layers=layers, defects=defects, summary=summary, maps=maps)


def _track_about(sl, centre_yx_um, r_max, can, n_angles, pitch_um, handedness, refine: bool):
    """Unroll about a centre and track; re-unroll about the spiral's fitted centre while it moves."""
    for attempt in range(4):
        if can is None:
            r_max = _structure_radius(sl, centre_yx_um)  # about this centre
        U = _unroll(sl, centre_yx_um, r_max, 0.0, n_angles, None)
        if can is not None:
            U = _mask_outside_can(U, can, sl.voxel_um)
        layers = track_layers(U, pitch_um=pitch_um, handedness=handedness)
        dy, dx = layers.centre_offset_yx_um
        if not refine or attempt == 3 or np.hypot(dy, dx) <= 0.5 * sl.voxel_um:
            break
        centre_yx_um = (layers.centre_y_um, layers.centre_x_um)
    return U, layers


def _search_centre(sl: _Slice, centre_yx_um, r_max_um: float, can: Can | None, pitch_um, handedness, n_angles):
    """The spiral's centre near a first guess: where the sheared rows are sharpest.

    About the right centre each turn of the unrolled, sheared image is a straight row, so
    the row means keep the layers' contrast; a centre off by a fraction of a pitch makes
    the rows wave and the contrast drop. A grid of offsets up to ±0.75 pitch (±1.5 without
    a can) is scored on
    a coarse angular sampling of a binned image; the spiral fit refines the best one
    afterwards, and the caller keeps it only if it fits better than the first guess (an
    oval roll or a dashed line can fool this score).
    """
    U = _unroll(sl, centre_yx_um, r_max_um, 0.0, n_angles, None)
    if can is not None:
        U = _mask_outside_can(U, can, sl.voxel_um)
    v = sl.voxel_um
    if pitch_um is None:
        vals = np.asarray(U.values)
        ok_rows = np.isfinite(vals).mean(axis=1) > 0.9
        filled = np.where(np.isfinite(vals), vals, np.nanmedian(vals))[ok_rows]
        if filled.shape[0] < 16:
            return centre_yx_um
        filled = ndimage.gaussian_filter1d(filled, 2.0, axis=1, mode="wrap")
        pitch_px = _estimate_pitch(filled, 1.0, 3.0, filled.shape[0] / 3)
    else:
        pitch_px = pitch_um / v
    r_hi = r_max_um / v
    if can is not None:
        r_hi = min(r_hi, float(np.nanmin(can.profile.inner_um)) / v - 1.0)
    # score on an image binned so that a pitch spans ~10 pixels (the score is coarse)
    f = max(1, int(pitch_px // 10))
    img = sl.values
    if f > 1:
        ny, nx = (img.shape[0] // f) * f, (img.shape[1] // f) * f
        img = img[:ny, :nx].reshape(ny // f, f, nx // f, f).mean(axis=(1, 3))
    pitch_b, r_hi = pitch_px / f, r_hi / f
    rho = np.arange(2 * pitch_b, r_hi - pitch_b, 1.0)
    if len(rho) < 4 * pitch_b:
        return centre_yx_um
    theta = np.arange(128) * TWO_PI / 128
    cy0, cx0 = sl.to_index(*centre_yx_um)
    cy0, cx0 = (cy0 + 0.5) / f - 0.5, (cx0 + 0.5) / f - 0.5
    hands = (handedness,) if handedness in (1, -1) else (1, -1)
    grids = {h: rho[:, None] + h * pitch_b * theta[None, :] / TWO_PI for h in hands}
    trend_w = max(3, int(3 * pitch_b))

    def score(cy, cx):
        best = -np.inf
        for h, r in grids.items():
            yy = cy + r * np.sin(theta)[None, :]
            xx = cx + r * np.cos(theta)[None, :]
            samp = ndimage.map_coordinates(img, [yy, xx], order=1, mode="constant", cval=np.nan, prefilter=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                prof = np.nanmean(samp, axis=1)
            prof = np.nan_to_num(prof, nan=np.nanmean(prof))
            best = max(best, float(np.std(prof - ndimage.uniform_filter1d(prof, trend_w))))
        return best

    # a roll sits close to its can's centre; without a can the first guess is rougher
    reach = 0.75 if can is not None else 1.5
    steps = np.arange(-reach, reach + 0.01, 0.25) * pitch_b
    scores = np.array([[score(cy0 + dy, cx0 + dx) for dx in steps] for dy in steps])
    iy, ix = np.unravel_index(np.argmax(scores), scores.shape)
    by, bx = (cy0 + steps[iy] + 0.5) * f - 0.5, (cx0 + steps[ix] + 0.5) * f - 0.5
    return sl.to_um(by, bx)


def _mask_outside_can(U: xr.DataArray, can: Can, voxel_um: float) -> xr.DataArray:
    """NaN from the can's inner surface outward, so the can is never taken for a winding."""
    p = can.profile[can.profile.valid]
    if len(p) < 8:
        return U
    cy, cx = U.attrs["centre_y_um"], U.attrs["centre_x_um"]
    y = can.centre_y_um + p.inner_um.to_numpy() * np.sin(p.angle_rad.to_numpy())
    x = can.centre_x_um + p.inner_um.to_numpy() * np.cos(p.angle_rad.to_numpy())
    ang = np.arctan2(y - cy, x - cx) % TWO_PI
    rad = np.hypot(y - cy, x - cx)
    order = np.argsort(ang)
    inner = np.interp(U.angle.values, ang[order], rad[order], period=TWO_PI)
    keep = U.radius.values[:, None] < inner[None, :] - 0.5 * voxel_um
    return U.where(keep)


def _structure_radius(sl: _Slice, centre_yx_um) -> float:
    """Radius (µm) about the centre that holds the bright structure (a roll without its can)."""
    img = sl.values
    thr = np.percentile(img, 75)
    if np.ptp(img) == 0:
        raise InputError(f"{sl.name}: the slice is uniform; nothing to analyse")
    ys, xs = np.nonzero(img > thr if thr < img.max() else img >= thr)
    cy, cx = sl.to_index(*centre_yx_um)
    r = np.hypot(ys - cy, xs - cx)
    return float(np.percentile(r, 99.9) + 3) * sl.voxel_um


def line_image(mask: Any, sigma_px: float = 1.5, bin: int = 1) -> xr.DataArray:
    """A smooth image of thin traced lines (a skeleton or a one-pixel mask), for tracking.

    Parameters
    ----------
    mask : array-like or DataArray (y, x), bool or 0/1
        The lines.
    sigma_px : float
        Gaussian blur (output pixels): gives each line a rounded profile with one ridge.
    bin : int
        Max-pool the mask by this factor first (lines survive; a large slice gets cheaper).

    Returns
    -------
    DataArray (y, x) float32, with ``voxel_size_um`` scaled by ``bin``.
    """
    from skimage.measure import block_reduce

    attrs = dict(mask.attrs) if isinstance(mask, xr.DataArray) else {}
    m = np.asarray(mask.values if isinstance(mask, xr.DataArray) else mask)
    if m.ndim != 2:
        raise InputError(f"line_image: expected a 2D mask, got shape {m.shape}")
    if m.dtype != bool and not (m.dtype.kind in "fiu" and np.isin(m, (0, 1)).all()):
        raise InputError(f"mask: expected a bool or 0/1 line mask, got dtype {m.dtype} with other values; "
                         "threshold or skeletonize the slice first (e.g. skimage.morphology.skeletonize(img > t))")
    m = m.astype(np.float32)
    _check_count("bin", bin, 1)
    _check_positive("sigma_px", sigma_px, zero_ok=True, unit="pixels")
    if bin > 1:
        m = block_reduce(m, (bin, bin), np.max)
        if attrs.get("voxel_size_um") is not None:
            attrs["voxel_size_um"] = [float(v) * bin for v in np.atleast_1d(attrs["voxel_size_um"])]
    return xr.DataArray(ndimage.gaussian_filter(m, sigma_px), dims=("y", "x"), attrs=attrs, name="lines")


def _bright_centroid(sl: _Slice) -> tuple[float, float]:
    img = sl.values
    thr = np.percentile(img, 75)
    w = np.clip(img - thr, 0, None)
    if w.sum() == 0:
        raise InputError(f"{sl.name}: the slice is uniform; nothing to analyse")
    yy, xx = np.indices(img.shape)
    return sl.to_um(float((yy * w).sum() / w.sum()), float((xx * w).sum() / w.sum()))


# --------------------------------------------------------------------------- volumes


@dataclass
class CellVolume:
    """A volume analysed slice by slice (see :func:`analyze_volume`).

    Attributes
    ----------
    summary : DataFrame
        One row per slice: ``z_um``, ``status`` ("ok"; "can only: ..." when the slice holds
        the can but no wound roll; "skipped: ..." with the reason otherwise), the
        can (``can_*``), the spiral (``n_windings``, ``pitch_um``, ``spiral_a_um``, ...,
        ``residual_rms_um``) and the number of defects of each type found in it.
    detections : DataFrame
        Every per-slice defect (:data:`DEFECT_COLUMNS` plus ``slice`` and ``weight``).
    defects : DataFrame
        Defects linked across slices into 3D (see :func:`link_defects`).
    residual : DataArray
        ``(z, turn, angle)`` deformation map (µm): each turn's ridge radius minus the
        fitted spiral; NaN where no ridge was tracked.
    radius : DataArray
        ``(z, turn, angle)`` ridge radii (µm) about each slice's unrolling centre.
    """

    summary: pd.DataFrame
    detections: pd.DataFrame
    defects: pd.DataFrame
    residual: xr.DataArray
    radius: xr.DataArray


def analyze_volume(
    volume: Any,
    voxel_size_um: float | tuple[float, float, float] | None = None,
    *,
    slices: Any = None,
    can: bool = True,
    n_angles: int | None = None,
    progress: bool | None = None,
    link: bool = True,
    min_slices: int = 2,
    **slice_options: Any,
) -> CellVolume:
    """Analyse a CT volume slice by slice: can, windings and defects, then link in 3D.

    Each slice is read on its own (a dask-backed volume is never loaded whole).
    The first analysable slice fixes the pitch, handedness, can threshold and angular
    sampling for the others, so every slice's turns and angles line up.

    Parameters
    ----------
    volume : DataArray or array (z, y, x)
        The CT volume; its ``z`` coordinate (µm) gives each slice's height.
    voxel_size_um : float or (z, y, x), optional
        Voxel size; default from attrs, else pixels.
    slices : slice or sequence of int, optional
        Which slices to analyse (default all).
    can : bool
        Look for the can in each slice (see :func:`analyze_slice`).
    n_angles : int, optional
        Angular samples of the unrolling.
    progress : bool, optional
        Show a progress bar (default follows ``BATTERYZOOM_PROGRESS``).
    link : bool
        Link per-slice detections into 3D defects.
    min_slices : int
        A 3D defect must be seen in at least this many slices (noise rarely is);
        inclusions, unambiguous by their brightness, need one.
    **slice_options
        Passed to :func:`analyze_slice` (thresholds, ``centre_yx_um``, ...).

    Returns
    -------
    CellVolume

    Warns
    -----
    UserWarning
        For each slice that cannot be analysed (no can, no windings), naming it; its
        summary row holds the reason.
    """
    name = str(volume.attrs.get("source") or volume.name or "volume") if isinstance(volume, xr.DataArray) else "volume"
    shape = tuple(volume.shape)
    if len(shape) != 3:
        raise InputError(f"{name}: expected a (z, y, x) volume, got shape {shape}")
    if 0 in shape:
        raise InputError(f"{name}: the volume is empty (shape {shape}); nothing to analyse")
    v3 = voxel_size_um if voxel_size_um is not None else (volume.attrs.get("voxel_size_um") if isinstance(volume, xr.DataArray) else None)
    if v3 is not None:
        # validated once here: a bad voxel size would otherwise fail (and warn) slice by slice
        try:
            vv = np.atleast_1d(np.asarray(v3, dtype=float))
        except (TypeError, ValueError) as exc:
            raise InputError(f"voxel_size_um={v3!r}: give one number or (dz, dy, dx) in µm") from exc
        if vv.ndim != 1 or vv.size not in (1, 3):
            raise InputError(f"voxel_size_um={v3!r}: give one number (cubic voxels) or three (dz, dy, dx) in µm "
                             f"for a 3D volume, not {vv.size}")
        if not np.all(np.isfinite(vv)) or np.any(vv <= 0):
            raise InputError(f"voxel_size_um={v3!r}: give positive sizes in µm")
        if vv.size == 3 and not np.isclose(vv[1], vv[2]):
            raise InputError(f"voxel_size_um={v3!r}: pixels must be square in the slice plane (dy = dx)")
    if n_angles is not None:
        _check_count("n_angles", n_angles, 8)
    _check_count("min_slices", min_slices, 1)
    vz = float(np.atleast_1d(v3)[0]) if v3 is not None else 1.0
    v_xy = float(np.atleast_1d(v3)[-1]) if v3 is not None else None
    if isinstance(volume, xr.DataArray) and "z" in volume.coords:
        z_coord = np.asarray(volume.z.values, dtype=float)
    else:
        z_coord = np.arange(shape[0]) * vz
    try:
        index = np.arange(shape[0])[slices] if slices is not None else np.arange(shape[0])
    except (IndexError, TypeError, ValueError) as exc:
        raise InputError(f"slices={slices!r}: not a valid selection of the volume's {shape[0]} slices "
                         f"(0 to {shape[0] - 1}): {exc}") from exc
    index = np.atleast_1d(index)
    if index.size == 0:
        raise InputError(f"slices={slices!r}: selects no slice of the volume's {shape[0]}")
    if v3 is None:
        warnings.warn(f"{name}: voxel size unknown; lengths are reported in pixels (pass voxel_size_um=(dz, dy, dx) "
                      "in µm, or read the volume with bz.io.read_volume(path, voxel_size_um=...))",
                      VoxelSizeWarning, stacklevel=2)
    rows, dets, res_list, rad_list = [], [], [], []
    fixed: dict = {}
    prior: Can | None = None
    centre: tuple[float, float] | None = None
    for iz in _progress(index, "analysing slices", total=len(index), enabled=progress, unit="slice"):
        data = volume[int(iz)]
        if isinstance(data, xr.DataArray):
            data = data.values
        data = np.asarray(data)
        z = float(z_coord[iz])
        label = f"{name} slice {int(iz)} (z = {z:.1f})"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # the voxel-size warning, once above
                opts = dict(can=can, n_angles=fixed.get("n_angles", n_angles), pitch_um=fixed.get("pitch_um"),
                            handedness=fixed.get("handedness"), threshold=fixed.get("threshold"), z_um=z,
                            name=label, **slice_options)
                if "centre_yx_um" not in slice_options and centre is not None:
                    # the axis barely moves between slices: start from the last one (no search)
                    opts["centre_yx_um"] = centre
                try:
                    res = analyze_slice(data, v_xy, can_prior=prior, **opts)
                except InputError:
                    if prior is None:
                        raise
                    res = analyze_slice(data, v_xy, **opts)  # the can moved: search afresh
            prior = res.can
            if res.layers is not None:
                centre = (res.layers.centre_y_um, res.layers.centre_x_um)
        except InputError as exc:
            warnings.warn(f"{label}: skipped — {exc}", stacklevel=2)
            rows.append({"slice": int(iz), "z_um": z, "status": f"skipped: {exc}"})
            res_list.append(None)
            rad_list.append(None)
            continue
        if not fixed and res.layers is not None:
            fixed = {"n_angles": res.layers.angle_rad.size, "pitch_um": res.layers.pitch_um,
                     "handedness": res.layers.handedness}
            if res.can is not None and slice_options.get("threshold") is None:
                # the same can/roll split for every slice keeps the can's edges consistent
                fixed["threshold"] = _can_mask(ndimage.gaussian_filter(data.astype(np.float32), 1.0), None)[1]
        status = "ok" if res.layers is not None else f"can only: {res.maps.get('no_roll', 'no roll')}"
        rows.append({"slice": int(iz), "status": status, **res.summary})
        d = res.defects.copy()
        d.insert(0, "slice", int(iz))
        dets.append(d)
        res_list.append(res.layers.residual_um if res.layers is not None else None)
        rad_list.append(res.layers.radius_um if res.layers is not None else None)
    summary = pd.DataFrame(rows)
    detections = pd.concat(dets, ignore_index=True) if dets else _empty_defects()
    n_turns = max((r.shape[0] for r in res_list if r is not None), default=0)
    n_ang = fixed.get("n_angles", 0)
    residual = np.full((len(index), n_turns, n_ang), np.nan, np.float32)
    radius = np.full_like(residual, np.nan)
    for i, (r, rr) in enumerate(zip(res_list, rad_list)):
        if r is not None and r.shape[1] == n_ang:
            residual[i, : r.shape[0]] = r
            radius[i, : rr.shape[0]] = rr
    coords = {"z": z_coord[index], "turn": np.arange(n_turns), "angle": np.arange(n_ang) * TWO_PI / max(n_ang, 1)}
    unit = "µm" if v3 is not None else "pixel"
    residual_da = xr.DataArray(residual, dims=("z", "turn", "angle"), coords=coords, name="residual_um",
                               attrs={"units": unit, "description": "ridge radius minus the fitted spiral"})
    radius_da = xr.DataArray(radius, dims=("z", "turn", "angle"), coords=coords, name="radius_um", attrs={"units": unit})
    for df in (summary, detections):
        df.attrs["length_unit"] = "um" if v3 is not None else "pixel"
    if summary.get("status", pd.Series(dtype=str)).str.startswith("skipped").all():
        raise InputError(f"{name}: no slice could be analysed; first reason: {summary.status.iloc[0]}")
    defects = link_defects(detections, voxel_size_um=(vz, v_xy or 1.0, v_xy or 1.0), pitch_um=fixed.get("pitch_um"),
                           min_slices=min_slices) if link else _empty_defects()
    return CellVolume(summary=summary, detections=detections, defects=defects, residual=residual_da, radius=radius_da)


def _peak_z(z: np.ndarray, m: np.ndarray, w: np.ndarray) -> float:
    """Height of a defect: the vertex of a Gaussian fitted to its per-slice magnitude.

    A log-parabola through the slices above half the peak locates the maximum of a
    smooth profile even when one tail is cut by the volume's end; a flat profile (a
    defect as tall as it is uniform) falls back to the weighted centroid.
    """
    if len(z) >= 3:
        sel = m >= 0.5 * m.max()
        if sel.sum() >= 3:
            c2, c1, _ = np.polyfit(z[sel] - z[sel].mean(), np.log(m[sel]), 2)
            if c2 < -1e-12:
                zv = -c1 / (2 * c2) + z[sel].mean()
                if z.min() <= zv <= z.max() and abs(c2) * (np.ptp(z[sel]) / 2) ** 2 > 0.05:
                    return float(zv)
    return float(np.sum(z * w) / np.sum(w))


def link_defects(
    detections: pd.DataFrame,
    voxel_size_um: float | tuple[float, float, float] = 1.0,
    *,
    pitch_um: float | None = None,
    max_skip: int = 1,
    min_slices: int = 2,
) -> pd.DataFrame:
    """Link per-slice detections of the same defect into 3D defects.

    Detections of one type in nearby slices (at most ``max_skip`` slices missing in
    between) whose in-plane positions are close (3 voxels for inclusions; for the others
    half a pitch, at least 3 voxels, or the smaller of the two detections' extents) form
    one defect.

    Returns
    -------
    DataFrame
        One row per 3D defect: ``defect_id``, ``type``, ``z_um`` (the peak of the
        per-slice magnitude, or the weighted centroid for inclusions), ``y_um``, ``x_um``
        (weighted over the slices near the peak), ``radius_um``, ``angle_rad``, ``turn``,
        ``size_um``, ``magnitude_um`` and ``severity`` (their maxima), ``z_min_um``,
        ``z_max_um``, ``n_slices``, ``detail``.
    """
    if not isinstance(detections, pd.DataFrame):
        raise InputError(f"detections: expected the per-slice detections DataFrame "
                         f"(analyze_volume(...).detections), got {type(detections).__name__}")
    need = ["slice", "type", "y_um", "x_um", "z_um", "size_um", "magnitude_um", "weight", "severity",
            "radius_um", "angle_rad", "turn", "detail"]
    missing = [c for c in need if c not in detections.columns]
    if missing and not detections.empty:
        raise InputError(f"detections: missing column(s) {missing}; pass analyze_volume(...).detections")
    try:
        v = np.atleast_1d(np.asarray(voxel_size_um, dtype=float))
    except (TypeError, ValueError) as exc:
        raise InputError(f"voxel_size_um={voxel_size_um!r}: give one number or (dz, dy, dx) in µm") from exc
    if v.size not in (1, 3) or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise InputError(f"voxel_size_um={voxel_size_um!r}: give one positive number or three (dz, dy, dx) in µm")
    if pitch_um is not None:
        _check_positive("pitch_um", pitch_um)
    _check_count("max_skip", max_skip, 0)
    _check_count("min_slices", min_slices, 1)
    vz, vxy = (v[0], v[-1]) if v.size > 1 else (v[0], v[0])
    cols = ["defect_id", "type", "z_um", "y_um", "x_um", "radius_um", "angle_rad", "turn", "size_um",
            "magnitude_um", "severity", "z_min_um", "z_max_um", "n_slices", "detail"]
    if detections.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for kind, group in detections.groupby("type", sort=False):
        base = 3 * vxy if kind == "inclusion" else max(3 * vxy, 0.5 * (pitch_um or 0))
        tracks: list[list[int]] = []
        g = group.sort_values("slice")
        for idx, row in g.iterrows():
            best, best_d = None, np.inf
            for t in tracks:
                last = detections.loc[t[-1]]
                if 0 < row.slice - last.slice <= max_skip + 1:
                    d = np.hypot(row.y_um - last.y_um, row.x_um - last.x_um)
                    # a wide defect's centre wanders where it fades: allow its extent
                    tol = base if kind == "inclusion" else max(base, min(row.size_um, last.size_um))
                    if d <= tol and d < best_d:
                        best, best_d = t, d
            if best is None:
                tracks.append([idx])
            else:
                best.append(idx)
        for t in tracks:
            d = detections.loc[t]
            # a cluster of voxels far brighter than any electrode is unambiguous even in one
            # slice (a small particle may span only one); deformations must persist
            if len(d) < (1 if kind == "inclusion" else min_slices):
                continue
            z = d.z_um.to_numpy(float) if d.z_um.notna().all() else d.slice.to_numpy(float) * vz
            m = d.magnitude_um.to_numpy(float)
            w = np.clip(d.weight.to_numpy(float), 1e-12, None)
            if kind == "inclusion":
                zc = float(np.sum(z * w) / np.sum(w))
                near = np.ones(len(d), bool)
            else:
                zc = _peak_z(z, m, w)
                near = m >= 0.7 * m.max()
            wn = w[near]
            top = d.iloc[int(np.argmax(m))]
            out.append(dict(
                type=kind, z_um=zc,
                y_um=float(np.sum(d.y_um.to_numpy(float)[near] * wn) / wn.sum()),
                x_um=float(np.sum(d.x_um.to_numpy(float)[near] * wn) / wn.sum()),
                radius_um=float(top.radius_um), angle_rad=float(top.angle_rad), turn=top.turn,
                size_um=float(d.size_um.max()), magnitude_um=float(m.max()), severity=float(d.severity.max()),
                z_min_um=float(z.min()), z_max_um=float(z.max()), n_slices=len(d), detail=str(top.detail),
            ))
    df = pd.DataFrame(out, columns=cols[1:])
    df = df.sort_values(["type", "z_um"]).reset_index(drop=True)
    df.insert(0, "defect_id", np.arange(1, len(df) + 1))
    df.attrs["length_unit"] = detections.attrs.get("length_unit", "um")
    return df


def score_defects(found: pd.DataFrame, truth: pd.DataFrame, tolerance_um: float) -> pd.DataFrame:
    """Match found defects to true ones of the same type (nearest first, within a tolerance).

    Parameters
    ----------
    found, truth : DataFrame
        Tables with ``type``, ``z_um``, ``y_um``, ``x_um`` in the same frame (e.g. the
        twin's ``defects`` part and :attr:`CellVolume.defects`).
    tolerance_um : float
        Largest 3D distance for a match (e.g. 2 voxels).

    Returns
    -------
    DataFrame
        One row per true defect (``status`` "found" with ``distance_um`` and the found
        ``defect_id``, or "missed") and one per unmatched found defect
        (``status`` "false alarm").
    """
    for arg, df in (("found", found), ("truth", truth)):
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"{arg}: expected a DataFrame of defects, got {type(df).__name__}")
        missing = [c for c in ("type", "z_um", "y_um", "x_um") if c not in df.columns]
        if arg == "found" and len(df):
            missing += [c for c in ("magnitude_um",) if c not in df.columns]
        if missing and (len(df) or arg == "truth"):
            raise InputError(f"{arg}: missing column(s) {missing}; pass a defects table "
                             "(analyze_volume(...).defects, or the twin's defects part)")
    _check_positive("tolerance_um", tolerance_um)
    rows = []
    used = set()
    fpos = found[["z_um", "y_um", "x_um"]].to_numpy(float) if len(found) else np.zeros((0, 3))
    for t in truth.itertuples():
        tpos = np.array([t.z_um, t.y_um, t.x_um], float)
        cand = [i for i in range(len(found)) if found.type.iloc[i] == t.type and i not in used]
        if cand:
            dist = np.linalg.norm(fpos[cand] - tpos, axis=1)
            i = int(np.argmin(dist))
            if dist[i] <= tolerance_um:
                used.add(cand[i])
                f = found.iloc[cand[i]]
                rows.append(dict(type=t.type, status="found", distance_um=float(dist[i]),
                                 dz_um=float(f.z_um - t.z_um), dy_um=float(f.y_um - t.y_um), dx_um=float(f.x_um - t.x_um),
                                 found_id=f.get("defect_id", cand[i]), true_magnitude_um=getattr(t, "magnitude_um", np.nan),
                                 found_magnitude_um=float(f.magnitude_um)))
                continue
            rows.append(dict(type=t.type, status="missed", distance_um=float(dist.min())))
        else:
            rows.append(dict(type=t.type, status="missed", distance_um=np.nan))
    for i in range(len(found)):
        if i not in used:
            f = found.iloc[i]
            rows.append(dict(type=f.type, status="false alarm", found_id=f.get("defect_id", i),
                             found_magnitude_um=float(f.magnitude_um)))
    return pd.DataFrame(rows)
