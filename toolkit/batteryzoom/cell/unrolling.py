"""Unrolling: a slice resampled onto (radius, angle) about the cell axis.

About the right axis each winding of the jelly roll becomes a line that climbs one pitch per
turn. :func:`unroll` samples the slice bilinearly on a polar grid (one voxel radially, about
two voxels of arc at the outer radius by default) and records the frame it came from, so
:func:`~batteryzoom.cell.track_layers` can read lengths in the slice's unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from ..errors import InputError
from ..frames import frame_of
from ._slice import TWO_PI, _as_slice, _check_count, _check_positive, _Slice, _unit_text

__all__ = ["unroll"]

# unroll's (radius × angle) grid: beyond this many samples the centre, dr_um or n_angles is
# wrong (a centre far off the image, a step in the wrong unit); 5e7 samples take ~2 GB
_MAX_UNROLL_SAMPLES = 50_000_000


def unroll(
    image: Any,
    centre_yx_um: tuple[float, float],
    voxel_size_um: float | str | None = None,
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
    voxel_size_um : float or "px", optional
        Pixel size (µm); default from the DataArray. Unknown raises; ``"px"`` works in
        pixels (then every length here, the centre included, is in pixels).
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
        Dims ``("radius", "angle")``, float32, coordinates ``radius`` (µm from the axis;
        ``units`` "px" in a voxel frame) and ``angle`` (rad, from +x towards +y). Samples
        outside the image are NaN. Each winding of a spiral climbs by one pitch in radius
        per turn. ``attrs`` record the centre, the slice's pixel size (``voxel_size_um``,
        None in a voxel frame) and ``length_unit``.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> sl = bz.data.load("twin/cell-ct").isel(z=28)
    >>> u = bz.cell.unroll(sl, (9187.5, 9187.5), r_max_um=8800)
    >>> u.dims, u.sizes["radius"], float(u.radius[1] - u.radius[0])
    (('radius', 'angle'), 353, 25.0)
    """
    sl = _as_slice(image, voxel_size_um)
    return _unroll(sl, centre_yx_um, r_max_um, r_min_um, n_angles, dr_um)


def _default_n_angles(r_max_px: float) -> int:
    # one sample per ~2 voxels of arc at the outer radius: the windings' angular
    # features (tears, buckles) span many voxels, and the cost grows with the samples
    n = int(np.clip(np.ceil(TWO_PI * r_max_px / 2.0 / 8.0) * 8, 360, 2048))
    return n


def _centre_index(sl: _Slice, centre_yx_um) -> tuple[float, float]:
    """The centre as fractional pixel indices, refused when it is no centre of this slice."""
    unit = _unit_text(sl.unit)
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
    return float(cy), float(cx)


def _polar_grid(sl: _Slice, cy, cx, r_max_um, r_min_um, n_angles, dr_um) -> tuple[np.ndarray, np.ndarray]:
    """Radii (pixels) and angles of the grid, refused when it would exhaust memory."""
    v = sl.voxel_um
    ny, nx = sl.values.shape
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
            f"use a coarser dr_um (default one voxel, {v:g} {_unit_text(sl.unit)}), fewer n_angles (default ≤ 2048) "
            "or a smaller r_max_um"
        )
    return np.arange(r_min_um / v, r_max_px + dr / 2, dr), np.arange(n) * TWO_PI / n


def _unroll(sl: _Slice, centre_yx_um, r_max_um, r_min_um, n_angles, dr_um) -> xr.DataArray:
    cy, cx = _centre_index(sl, centre_yx_um)
    radii, theta = _polar_grid(sl, cy, cx, r_max_um, r_min_um, n_angles, dr_um)
    yy = cy + radii[:, None] * np.sin(theta)[None, :]
    xx = cx + radii[:, None] * np.cos(theta)[None, :]
    out = ndimage.map_coordinates(sl.values, [yy, xx], order=1, mode="constant", cval=np.nan, prefilter=False)
    v = sl.voxel_um
    return xr.DataArray(
        out.astype(np.float32), dims=("radius", "angle"),
        coords={"radius": xr.Variable("radius", radii * v, attrs={"units": _unit_text(sl.unit)}),
                "angle": xr.Variable("angle", theta, attrs={"units": "rad"})},
        attrs={"centre_y_um": float(centre_yx_um[0]), "centre_x_um": float(centre_yx_um[1]),
               "voxel_size_um": v if sl.unit == "um" else None, "length_unit": sl.unit, "source": sl.name},
        name="unrolled",
    )


def _unrolled_frame(unrolled: xr.DataArray) -> tuple[float, str]:
    """Pixel size and length unit of the slice an unrolled image was sampled from (its attrs,
    read as every frame is read: a recorded None is a voxel frame)."""
    frame = frame_of(unrolled, ndim=2, missing="px", name=str(unrolled.attrs.get("source", "unrolled")))
    return float(frame.voxel_size_um[-1]), frame.unit
