"""One slice analysed whole: can, the spiral's centre, unrolled roll, layers, defects.

:func:`analyze_slice` chains the techniques: the can (:mod:`.can`), a first guess of the cell
axis (the can's centre, or the bright structure's centroid), a search for the spiral's own
centre near it (the sheared rows are sharpest about the right centre), unrolling and tracking
about each candidate with the centre refined by the spiral fit, the better spiral kept, and
the defects found on it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from ..errors import InputError
from ._slice import TWO_PI, _as_slice, _check_count, _check_track_args, _in_unit, _named, _Slice, _um_named
from .can import Can, _find_can
from .defects import _dent_rows, _find_defects
from .layers import Layers, _estimate_pitch, track_layers
from .unrolling import _unroll

__all__ = ["CellSlice", "analyze_slice"]

DEFECT_KINDS = ("buckling", "gap", "tear", "inclusion", "dent")


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
        :data:`DEFECT_COLUMNS` plus ``weight``, positions in µm in the image frame
        (``_px`` names in a voxel frame).
    summary : dict
        Can and spiral numbers and the count of each defect type (one row of
        :attr:`CellVolume.summary`); lengths named in the slice's unit.
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
    voxel_size_um: float | str | None = None,
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
    voxel_size_um : float or "px", optional
        Pixel size (µm, square pixels); default from the DataArray
        (:func:`batteryzoom.frames.frame_of`). An unknown size raises: pass it, or ``"px"``
        to measure in pixels (every length is then named ``..._px`` in the tables).
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
        An empty slice; an unknown voxel size; no can (with ``can=True``), naming the
        slice; no wound roll and no can.

    Warns
    -----
    UserWarning
        A can that runs outside the image.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> sl = bz.data.load("twin/cell-ct").sel(z=700.0)
    >>> res = bz.cell.analyze_slice(sl, z_um=700.0)
    >>> res.layers.n_layers, round(res.summary["pitch_um"]), sorted(res.defects.type)
    (22, 290, ['buckling', 'dent'])
    >>> px = bz.cell.analyze_slice(sl.values, "px")  # no voxel size: pixels, said in the names
    >>> round(px.summary["pitch_px"], 1), round(px.summary["can_diameter_px"])
    (11.6, 720)
    """
    sl = _as_slice(image, voxel_size_um, name)
    return _analyze(sl, centre_yx_um=centre_yx_um, can=can, threshold=threshold, n_angles=n_angles,
                    pitch_um=pitch_um, handedness=handedness, buckling_threshold_um=buckling_threshold_um,
                    gap_threshold_um=gap_threshold_um, inclusion_factor=inclusion_factor,
                    refine_centre=refine_centre, z_um=z_um, can_prior=can_prior, search_centre=search_centre)


def _analyze(sl: _Slice, *, centre_yx_um=None, can=True, threshold=None, n_angles=None, pitch_um=None,
             handedness=None, buckling_threshold_um=None, gap_threshold_um=None, inclusion_factor=1.0,
             refine_centre=True, z_um=None, can_prior=None, search_centre=None) -> CellSlice:
    """:func:`analyze_slice` on a slice already read (:func:`analyze_volume` reads its own)."""
    _check_track_args(pitch_um, handedness)
    if n_angles is not None:
        _check_count("n_angles", n_angles, 8)
    found_can = _find_can(sl, threshold, 720, None, can_prior) if can else None
    if found_can is not None and found_can.cropped:
        warnings.warn(f"{sl.name}: the can runs outside the image (a cropped or off-centre cell); "
                      "its ellipse is fitted to the visible arc only", stacklevel=3)
    given_centre = centre_yx_um is not None
    if centre_yx_um is None:
        centre_yx_um = (found_can.centre_y_um, found_can.centre_x_um) if found_can is not None else _bright_centroid(sl)
    if found_can is not None:
        r_max = float(_um_named(found_can.profile).inner_um.max()) + 2 * sl.voxel_um
    else:
        r_max = _structure_radius(sl, centre_yx_um)
    starts = [centre_yx_um]
    if search_centre or (search_centre is None and not given_centre):
        found = _search_centre(sl, centre_yx_um, r_max, found_can, pitch_um, handedness, n_angles)
        if np.hypot(found[0] - centre_yx_um[0], found[1] - centre_yx_um[1]) > 0.5 * sl.voxel_um:
            starts.append(found)
    U, layers, failure = _best_spiral(sl, starts, r_max, found_can, n_angles, pitch_um, handedness, refine_centre)
    if layers is None:
        if found_can is None:
            raise failure
        # the can without a roll (a header region, an empty can): report the can alone
        U = _unroll(sl, (found_can.centre_y_um, found_can.centre_x_um), r_max, 0.0, n_angles, None)
        defects, maps = _dent_rows(found_can), {"no_roll": str(failure)}
    else:
        defects, maps = _find_defects(sl, found_can, layers, U, buckling_threshold_um, gap_threshold_um,
                                      inclusion_factor)
    if z_um is not None:
        defects[_named("z_um", sl.unit)] = z_um
    return CellSlice(can=found_can, unrolled=U, layers=layers, defects=defects,
                     summary=_slice_summary(sl, z_um, found_can, layers, defects), maps=maps)


def _best_spiral(sl, starts, r_max, can, n_angles, pitch_um, handedness, refine):
    """Track about each starting centre; the spiral that is continuous across the seam and
    fits better wins. Returns the unrolled slice, its layers (None if no start gave a
    spiral) and the last failure."""
    tries = []
    failure = None
    for start in starts:
        try:
            U, layers = _track_about(sl, start, r_max, can, n_angles, pitch_um, handedness, refine)
        except InputError as exc:
            failure = exc
            continue
        # a wrong centre mixes up the turns: the spiral then jumps at the angle's seam and
        # fits worse. Prefer a continuous spiral, then the smaller residuals.
        seam = abs(layers.extra.get("seam_jump_um", 0.0))
        broken = not np.isfinite(seam) or seam > 0.25 * layers.pitch_um
        tries.append((broken, layers.residual_rms_um, U, layers))
    if not tries:
        return None, None, failure
    _, _, U, layers = min(tries, key=lambda t: (t[0], t[1]))
    return U, layers, failure


def _slice_summary(sl: _Slice, z_um, can: Can | None, layers, defects: pd.DataFrame) -> dict:
    summary = {"z_um": z_um if z_um is not None else np.nan}
    if can is not None:
        summary.update(_um_named(can.summary()))
    summary.update(_um_named(layers.summary()) if layers is not None else {"n_windings": np.nan, "n_layers": 0})
    for kind in DEFECT_KINDS:
        summary[f"n_{kind}"] = int((defects.type == kind).sum())
    return _in_unit(summary, sl.unit)


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
        r_hi = min(r_hi, float(np.nanmin(_um_named(can.profile).inner_um)) / v - 1.0)
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
    p = _um_named(can.profile)
    p = p[p.valid]
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


def _bright_centroid(sl: _Slice) -> tuple[float, float]:
    img = sl.values
    thr = np.percentile(img, 75)
    w = np.clip(img - thr, 0, None)
    if w.sum() == 0:
        raise InputError(f"{sl.name}: the slice is uniform; nothing to analyse")
    yy, xx = np.indices(img.shape)
    return sl.to_um(float((yy * w).sum() / w.sum()), float((xx * w).sum() / w.sum()))
