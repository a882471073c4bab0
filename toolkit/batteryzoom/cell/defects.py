"""Defects of one slice, from its tracked windings: buckling, gaps, tears, inclusions, dents.

- **buckling**: regions of the (turn, angle) grid where the smoothed residual from the
  fitted spiral exceeds a threshold (moving a stack of windings together);
- **gaps**: neighbouring turns further apart than their median spacing (a delamination),
  the void located by a profile model between the two ridges;
- **tears**: missing ridge segments inside the spiral (not at its two ends);
- **inclusions**: voxels far brighter than any electrode layer inside the roll;
- **dents**: the can's (:attr:`~batteryzoom.cell.Can.dents`).

Severity is the magnitude relative to the winding pitch (for a dent, to the wall thickness).
:func:`score_defects` matches found defects to known ones (the twin's truth).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from ..errors import InputError
from ..frames import frame_of, is_xarray
from ._signal import _circular_centroid, _interp_row, _nan_smooth, _runs
from ._slice import TWO_PI, _as_slice, _check_positive, _in_unit, _Slice, _um_named, _unit_of
from .can import Can
from .layers import Layers
from .unrolling import _unrolled_frame

__all__ = ["find_defects", "score_defects", "DEFECT_COLUMNS"]

#: The columns of a defect table (µm names; ``_px`` in a voxel frame)
DEFECT_COLUMNS = [
    "type", "z_um", "y_um", "x_um", "radius_um", "angle_rad", "turn", "size_um",
    "magnitude_um", "severity", "detail",
]


def find_defects(
    image: Any,
    can: Can | None,
    layers: Layers,
    unrolled: xr.DataArray,
    voxel_size_um: float | str | None = None,
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
    voxel_size_um : float or "px", optional
        Pixel size; default the image's, else the one ``unrolled`` was sampled with.
    buckling_threshold_um : float, optional
        Residual from the fitted spiral that counts as buckling; default
        ``max(6 σ, 0.2 pitch)`` (σ the robust spread of the smoothed residuals).
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
        frame; ``_px`` names in a voxel frame) plus ``weight`` (for linking across slices).

    Examples
    --------
    >>> import batteryzoom as bz
    >>> sl = bz.data.load("twin/cell-ct").sel(z=700.0)  # a buckle and a dent at this height
    >>> can = bz.cell.find_can(sl)
    >>> u = bz.cell.unroll(sl, (can.centre_y_um, can.centre_x_um), r_max_um=can.inner_radius_um)
    >>> d = bz.cell.find_defects(sl, can, bz.cell.track_layers(u), u)
    >>> d[["type", "turn", "magnitude_um"]].round(0)
           type  turn  magnitude_um
    0  buckling   0.0         158.0
    1      dent   NaN          93.0
    """
    if not isinstance(layers, Layers):
        raise InputError(f"layers: expected the Layers of bz.cell.track_layers, got {type(layers).__name__}")
    if not isinstance(unrolled, xr.DataArray) or set(unrolled.dims) != {"radius", "angle"}:
        raise InputError("unrolled: expected the DataArray of bz.cell.unroll the layers were tracked on, "
                         f"got {type(unrolled).__name__}")
    if can is not None and not isinstance(can, Can):
        raise InputError(f"can: expected the Can of bz.cell.find_can or None, got {type(can).__name__}")
    if voxel_size_um is None and not (is_xarray(image) and frame_of(image, missing="px").known):
        v, unit = _unrolled_frame(unrolled)
        voxel_size_um = v if unit == "um" else "px"
    sl = _as_slice(image, voxel_size_um)
    if sl.unit != layers.length_unit:
        raise InputError(f"{sl.name}: the image's lengths are in {sl.unit} but the layers' in {layers.length_unit}; "
                         "pass the voxel_size_um the slice was unrolled with")
    return _find_defects(sl, can, layers, unrolled, buckling_threshold_um, gap_threshold_um, inclusion_factor)[0]


def _find_defects(sl: _Slice, can, layers, unrolled, b_thr, g_thr, inc_factor) -> tuple[pd.DataFrame, dict]:
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
    ridge, roll = _roll_levels(U, layers, radii)
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


# ------------------------------------------------------------------ tables


def _empty_defects(unit: str = "um") -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype=object if c in ("type", "detail") else float) for c in DEFECT_COLUMNS})
    return _in_unit(df, unit)


def _defect_frame(rows: list[dict], unit: str) -> pd.DataFrame:
    df = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    if df.empty:
        df = _empty_defects()
        df["weight"] = pd.Series(dtype=float)
    else:
        df = df.reindex(columns=[c for c in DEFECT_COLUMNS if c != "z_um"] + ["weight"])
        df.insert(1, "z_um", np.nan)
    return _in_unit(df, unit)


def _dent_dicts(can: Can) -> list[dict]:
    out = []
    for d in _um_named(can.dents).itertuples():
        dy, dx = d.y_um - can.centre_y_um, d.x_um - can.centre_x_um
        out.append(dict(
            type="dent", y_um=d.y_um, x_um=d.x_um, radius_um=float(np.hypot(dy, dx)),
            angle_rad=float(d.angle_rad), turn=np.nan, size_um=float(d.width_rad * can.semi_minor_um),
            magnitude_um=float(d.depth_um), severity=float(d.severity),
            detail="can wall pushed in (outer surface at the deepest point)", weight=float(d.depth_um),
        ))
    return out


def _dent_rows(can: Can) -> pd.DataFrame:
    return _defect_frame(_dent_dicts(can), can.length_unit)


# ------------------------------------------------------------------ inclusions


def _roll_levels(U: np.ndarray, layers: Layers, radii_um: np.ndarray) -> tuple[float, float]:
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


# ------------------------------------------------------------------ deformation of the roll


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


# ------------------------------------------------------------------ scoring against the truth


def _check_defect_table(arg: str, df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{arg}: expected a DataFrame of defects, got {type(df).__name__}")
    named = _um_named(df)
    missing = [c for c in ("type", "z_um", "y_um", "x_um") if c not in named.columns]
    if arg == "found" and len(df):
        missing += [c for c in ("magnitude_um",) if c not in named.columns]
    if missing and (len(df) or arg == "truth"):
        raise InputError(f"{arg}: missing column(s) {missing}; pass a defects table "
                         "(analyze_volume(...).defects, or the twin's defects part)")


def score_defects(found: pd.DataFrame, truth: pd.DataFrame, tolerance_um: float) -> pd.DataFrame:
    """Match found defects to true ones of the same type (nearest first, within a tolerance).

    Parameters
    ----------
    found, truth : DataFrame
        Tables with ``type``, ``z_um``, ``y_um``, ``x_um`` in the same frame (e.g. the
        twin's ``defects`` part and :attr:`CellVolume.defects`); both in µm, or both in
        pixels (``_px`` names).
    tolerance_um : float
        Largest 3D distance for a match (e.g. 2 voxels), in the tables' unit.

    Returns
    -------
    DataFrame
        One row per true defect (``status`` "found" with ``distance_um`` and the found
        ``defect_id``, or "missed") and one per unmatched found defect
        (``status`` "false alarm"); lengths named in the tables' unit.

    Examples
    --------
    >>> import pandas as pd, batteryzoom as bz
    >>> truth = pd.DataFrame({"type": ["gap", "tear"], "z_um": [100.0, 500.0], "y_um": [0.0, 0.0],
    ...                       "x_um": [0.0, 0.0], "magnitude_um": [40.0, 200.0]})
    >>> found = pd.DataFrame({"defect_id": [1, 2], "type": ["gap", "dent"], "z_um": [110.0, 0.0],
    ...                       "y_um": [5.0, 0.0], "x_um": [0.0, 0.0], "magnitude_um": [38.0, 9.0]})
    >>> bz.cell.score_defects(found, truth, tolerance_um=50)[["type", "status", "distance_um", "found_id"]]
       type       status  distance_um  found_id
    0   gap        found    11.180340       1.0
    1  tear       missed          NaN       NaN
    2  dent  false alarm          NaN       2.0
    """
    for arg, df in (("found", found), ("truth", truth)):
        _check_defect_table(arg, df)
    unit = _unit_of(found) if len(found) else _unit_of(truth)
    if len(found) and len(truth) and _unit_of(truth) != unit:
        raise InputError(f"found is in {_unit_of(found)}, truth in {_unit_of(truth)}: score tables of one frame "
                         "(analyse the volume with its voxel size to compare with a truth in µm)")
    _check_positive("tolerance_um", tolerance_um)
    found, truth = _um_named(found), _um_named(truth)
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
    return _in_unit(pd.DataFrame(rows), unit)
