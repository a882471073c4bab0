"""The slice every cell technique works on: grey values in one frame, argument checks, unit names.

A slice is read once (:func:`_as_slice`): its frame comes from :func:`batteryzoom.frames.frame_of`
(the package's one rule and its policy for an unknown voxel size), its values become a finite
float32 ``(y, x)`` array. Lengths inside the cell package are in the frame's unit: µm, or
pixels when the caller chose ``voxel_size_um="px"``. Tables and summaries name that unit
(:func:`_in_unit`: ``pitch_um`` or ``pitch_px``); :func:`_um_named` reads either back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from ..frames import frame_of

TWO_PI = 2 * np.pi


@dataclass
class _Slice:
    values: np.ndarray  # (y, x) float32, finite
    voxel_um: float  # pixel size (square pixels) in the frame's unit: 1 in a voxel frame
    origin_yx_um: tuple[float, float]  # centre of pixel (0, 0)
    unit: str  # "um" or "px"
    name: str

    def to_um(self, iy, ix):
        return self.origin_yx_um[0] + np.asarray(iy) * self.voxel_um, self.origin_yx_um[1] + np.asarray(ix) * self.voxel_um

    def to_index(self, y_um, x_um):
        return (np.asarray(y_um) - self.origin_yx_um[0]) / self.voxel_um, (np.asarray(x_um) - self.origin_yx_um[1]) / self.voxel_um


def _as_slice(image: Any, voxel_size_um: Any = None, name: str | None = None, *,
              origin_um: Any = None) -> _Slice:
    """One 2-D slice in its frame. An unknown voxel size raises (frames' policy: the cell
    analysis takes lengths in µm as parameters) unless ``voxel_size_um="px"``."""
    if isinstance(image, xr.DataArray):
        label = name or str(image.attrs.get("source") or image.name or "slice")
        if "z" in image.dims and image.sizes["z"] == 1:
            image = image.isel(z=0)
        if image.ndim != 2:
            raise InputError(f"{label}: expected one 2D slice (y, x), got dims {image.dims}; pick one with .isel(z=...)")
        frame = frame_of(image, voxel_size_um, origin_um, ndim=2, name=label)
        values = np.asarray(image.values)
    else:
        label = name or "slice"
        values = np.asarray(image)
        if values.ndim == 3 and values.shape[0] == 1:
            values = values[0]
        if values.ndim != 2:
            raise InputError(f"{label}: expected one 2D slice (y, x), got an array of shape {values.shape}")
        frame = frame_of(values, voxel_size_um, origin_um, ndim=2, name=label)
    _check_square(frame.voxel_size_um, label)
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
    origin = (float(frame.origin_um[0]), float(frame.origin_um[1]))
    return _Slice(values, float(frame.voxel_size_um[-1]), origin, frame.unit, label)


def _check_square(voxel_size_um: tuple[float, ...], label: str) -> None:
    """Slices are unrolled about an axis: their pixels must be square (dy = dx, to 1e-6)."""
    dy, dx = voxel_size_um[-2:]
    if not np.isclose(dy, dx, rtol=1e-6, atol=0):
        raise InputError(f"{label}: voxel_size_um={voxel_size_um}: pixels must be square in the slice plane "
                         "(dy = dx); resample the slices to square pixels first")


# ------------------------------------------------------------------ unit names

# a length column or key: "_um" at the end or before "_per_..." ("spiral_b_um_per_rad")
_LENGTH_UM = re.compile(r"_um(?=$|_per_)")
_LENGTH_PX = re.compile(r"_px(?=$|_per_)")


def _rename(table: Any, pattern: re.Pattern, to: str) -> Any:
    if isinstance(table, pd.DataFrame):
        return table.rename(columns=lambda c: pattern.sub(to, c) if isinstance(c, str) else c)
    return {pattern.sub(to, k) if isinstance(k, str) else k: v for k, v in table.items()}


def _in_unit(table: Any, unit: str) -> Any:
    """A table (DataFrame or dict) with its length names in ``unit``: ``_um`` -> ``_px`` in a
    voxel frame, so a number in pixels never sits under a µm name."""
    out = _rename(table, _LENGTH_UM, "_px") if unit == "px" else table
    if isinstance(out, pd.DataFrame):
        out.attrs["length_unit"] = unit
    return out


def _named(name: str, unit: str) -> str:
    """One length name in ``unit`` (``"z_um"`` -> ``"z_px"`` in a voxel frame)."""
    return _LENGTH_UM.sub("_px", name) if unit == "px" else name


def _um_named(table: Any) -> Any:
    """The table with its lengths under the µm names (``_px`` -> ``_um``), to read either frame."""
    return _rename(table, _LENGTH_PX, "_um")


def _unit_of(table: pd.DataFrame) -> str:
    """``"px"`` when the table's lengths are in pixels (``_px`` names, or recorded), else ``"um"``."""
    if any(isinstance(c, str) and _LENGTH_PX.search(c) for c in table.columns):
        return "px"
    return "px" if table.attrs.get("length_unit") in ("px", "pixel") else "um"


def _unit_text(unit: str) -> str:
    return "µm" if unit == "um" else "px"


# ------------------------------------------------------------------ argument checks


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
