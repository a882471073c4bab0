"""Shared inside :mod:`batteryzoom.segment`: input checks, the frame of a volume, output
DataArrays, structuring elements, h-maxima and label compaction.

Every public function of the package reads its voxel size through :func:`volume_frame`
(:func:`batteryzoom.frames.frame_of` with ``missing="raise"``): segmentation parameters are
lengths in µm, so an unknown voxel size is an error that names the fix, and
``voxel_size_um="px"`` works in voxels on purpose (lengths then reported in ``_px``
columns, :func:`lengths_named`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from .._blocks import is_dask
from ..errors import InputError
from ..frames import Frame, VoxelSizeWarning, frame_of

__all__ = ["VoxelSizeWarning"]  # re-exported as bz.segment.VoxelSizeWarning (its home: bz.frames)

AXES = ("z", "y", "x")

# Structuring elements and iteration counts larger than this many voxels (radius) are
# refused: they come from a voxel size in the wrong unit (mm or nm given as µm), and a
# ball that large takes hours or all the memory (1e-4 µm voxels: a 58 TiB ball).
MAX_RADIUS_VOXELS = 50
MAX_STEPS_VOXELS = 500


# --------------------------------------------------------------------------- frames


def volume_frame(volume: Any, voxel_size_um: Any, name: str) -> Frame:
    """The frame of a 3-D volume argument: ``voxel_size_um`` (µm, or ``"px"``), else what
    the volume records; an unknown size raises an InputError naming ``name`` (and the file
    the volume was read from) and the fix."""
    source = volume.attrs.get("source") if isinstance(volume, xr.DataArray) else None
    label = f"{name} (read from {Path(str(source)).name})" if source else name
    return frame_of(volume, voxel_size_um, ndim=3, name=label)


def size_arg(frame: Frame) -> tuple[float, ...] | str:
    """``frame`` as a ``voxel_size_um`` argument: its size in µm, or ``"px"``."""
    return frame.voxel_size_um if frame.known else "px"


def axis_positions(volume: Any, frame: Frame, axis: int) -> np.ndarray:
    """Centre of every slab along ``axis`` in the volume's coordinates (the frame's unit):
    ``origin + index * voxel size``, as :func:`batteryzoom.frames.frame_of` reads them."""
    return frame.origin_um[axis] + np.arange(np.shape(volume)[axis]) * frame.voxel_size_um[axis]


def lengths_named(table: pd.DataFrame, frame: Frame) -> pd.DataFrame:
    """``table`` with its length columns renamed for ``frame``: unchanged in µm; in voxels
    ``*_um`` -> ``*_px``, ``*_um3`` -> ``*_px3`` and ``*_per_um`` -> ``*_per_px``."""
    if frame.known:
        return table
    names = {}
    for col in table.columns:
        for um, px in (("_um", "_px"), ("_um3", "_px3"), ("_per_um", "_per_px")):
            if isinstance(col, str) and col.endswith(um):
                names[col] = col[: -len(um)] + px
    return table.rename(columns=names)


def like(values: np.ndarray, template: Any, frame: Frame, name: str, **attrs: Any) -> xr.DataArray:
    """A (z, y, x) DataArray of ``values`` with the template's coordinates and attributes
    (or the frame's coordinates) and ``attrs["voxel_size_um"]`` of ``frame`` (None when in
    voxels: the size is unknown, and coordinates made here are marked ``units="px"``)."""
    if isinstance(template, xr.DataArray) and template.dims == AXES:
        coords: dict[str, Any] = {d: template[d].variable for d in AXES if d in template.coords}
        base = {k: v for k, v in template.attrs.items() if k not in ("units", "description")}
    else:
        coords, base = {}, {}
    made = {d: (0.0 + np.arange(n) * v) for d, n, v in zip(AXES, values.shape, frame.voxel_size_um)}
    for d in AXES:
        if d not in coords:
            coords[d] = xr.Variable(d, made[d], attrs={} if frame.known else {"units": "px"})
    voxel = list(frame.voxel_size_um) if frame.known else None
    return xr.DataArray(values, dims=AXES, coords=coords, name=name, attrs={**base, "voxel_size_um": voxel, **attrs})


# --------------------------------------------------------------------------- input checks


def array(volume: Any, name: str) -> np.ndarray:
    """The values of a 3D volume as numpy (a dask-backed volume is computed)."""
    data = volume.data if isinstance(volume, xr.DataArray) else volume
    if is_dask(data):
        data = data.compute()
    try:
        arr = np.asarray(data)
    except Exception as exc:  # noqa: BLE001 - the message names the argument
        raise InputError(f"{name}: cannot be read as an array ({exc})") from exc
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{name}: dtype {arr.dtype} is not a real number type; pass a float or integer volume")
    if arr.ndim != 3:
        raise InputError(f"{name}: expected a 3D volume (z, y, x), got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name}: the volume is empty (shape {arr.shape})")
    return arr


def mask(obj: Any, name: str) -> np.ndarray:
    """A boolean mask argument (bool, or numbers that are all 0 or 1); grey levels are refused."""
    arr = array(obj, name)
    if arr.dtype == bool:
        return arr
    if np.isin(arr, (0, 1)).all():
        return arr.astype(bool)
    raise InputError(f"{name}: expected a boolean mask, got dtype {arr.dtype} with values other than 0 and 1; "
                     f"threshold it first (e.g. {name} > t) or pass a mask from bz.segment")


def same_shape(arr: np.ndarray, name: str, ref: np.ndarray, ref_name: str) -> None:
    """Refuse ``arr`` whose shape differs from ``ref``'s."""
    if arr.shape != ref.shape:
        raise InputError(f"{name}: shape {arr.shape} differs from {ref_name}'s {ref.shape}")


def integer_labels(lab: np.ndarray, name: str = "labels", hint: str = "") -> None:
    """Refuse a non-integer label image."""
    if not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"{name}: expected an integer label image, got dtype {lab.dtype}{hint}")


def length(name: str, value: Any, *, zero_ok: bool = False) -> float:
    """A finite length (µm) argument, positive (or ≥ 0 when ``zero_ok``)."""
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={value!r}: give a length in µm (a number)") from exc
    if not np.isfinite(x) or x < 0 or (x == 0 and not zero_ok):
        need = "zero or positive" if zero_ok else "positive"
        raise InputError(f"{name}={value!r}: must be a {need} length in µm")
    return x


def check_voxels(name: str, value_um: float, voxel: tuple, limit: int = MAX_RADIUS_VOXELS) -> None:
    """Refuse a length that spans more than ``limit`` voxels (a unit slip, before allocating)."""
    n = value_um / min(voxel)
    if n <= limit:
        return
    hint = (" The voxel size looks like it is in mm (or another unit), not µm."
            if min(voxel) < 5e-3 else "")
    raise InputError(
        f"{name}={value_um:g} µm spans {n:.3g} voxels at voxel_size_um={list(voxel)} µm (at most {limit} "
        f"are supported: a larger structuring element takes hours or all the memory).{hint} Give "
        f"voxel_size_um in µm (e.g. 0.5 for 500 nm voxels) or a smaller {name}."
    )


def thresholds(values: Any, name: str = "thresholds") -> np.ndarray:
    """Grey-level thresholds: finite, strictly increasing, at least one."""
    try:
        t = np.asarray(values, float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={values!r}: give increasing grey-level numbers") from exc
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise InputError(f"{name}={values!r}: give one or more finite grey levels")
    if np.any(np.diff(t) <= 0):
        raise InputError(f"{name}={values!r}: the thresholds must increase (dark to bright); "
                         f"pass them sorted, e.g. {sorted(t.tolist())}")
    return t


def axis_index(axis: str | int) -> int:
    """0, 1 or 2 for an axis given by name (``"z"``, ``"y"``, ``"x"``) or number."""
    if isinstance(axis, str):
        if axis not in AXES:
            raise InputError(f"axis={axis!r}: choose one of {AXES}")
        return AXES.index(axis)
    if axis not in (0, 1, 2):
        raise InputError(f"axis={axis!r}: give 0, 1, 2 or 'z', 'y', 'x'")
    return int(axis)


# --------------------------------------------------------------------------- morphology


def denoise(arr: np.ndarray, voxel: tuple, sigma_um: float | None) -> np.ndarray:
    """Gaussian smoothing by ``sigma_um`` (µm, per axis in voxels of that axis; None: half
    a voxel along every axis), NaN-aware (normalized convolution), as float32."""
    out = arr.astype(np.float32, copy=False)
    sigma = [0.5] * 3 if sigma_um is None else [sigma_um / v for v in voxel]
    if max(sigma) <= 0:
        return out
    nan = ~np.isfinite(out)
    if not nan.any():
        return ndimage.gaussian_filter(out, sigma)
    # normalized convolution: NaNs neither spread nor pull their neighbours down
    weight = ndimage.gaussian_filter((~nan).astype(np.float32), sigma)
    smooth = ndimage.gaussian_filter(np.where(nan, 0, out), sigma)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = smooth / weight
    res[nan] = np.nan
    return res


def ellipsoid(radius_um: float, voxel: tuple) -> np.ndarray:
    """A ball of ``radius_um`` on an anisotropic grid (ellipsoid in voxel units)."""
    r = [max(0, int(np.floor(radius_um / v))) for v in voxel]
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in r)]
    dist2 = sum((g * v) ** 2 for g, v in zip(grids, voxel))
    return dist2 <= radius_um**2 + 1e-9


def h_maxima(image: np.ndarray, h: float) -> np.ndarray:
    """Regional maxima of dynamic ≥ h (the h-maxima transform), as a boolean mask.

    Grey reconstruction by dilation of ``image - h`` under ``image`` (iterated 3×3×3
    maximum filter, capped by the image, until stable); the maxima are where the residue
    ``image - reconstruction`` reaches ``h``. Same result as
    ``skimage.morphology.h_maxima`` (full connectivity), about twice as fast on distance
    maps because the separable maximum filter replaces the global sort.
    """
    img = np.asarray(image, np.float32)
    h = np.float32(h)
    rec = img - h
    while True:
        prev = rec
        for _ in range(4):
            rec = np.minimum(ndimage.maximum_filter(rec, size=3), img)
        if np.array_equal(rec, prev):
            break
    return (img - rec) >= h * np.float32(1 - 1e-6)


# --------------------------------------------------------------------------- labels


def compact_labels(lab: np.ndarray, name: str = "labels") -> tuple[np.ndarray, np.ndarray | None]:
    """Labels renumbered 1..n when they are sparse (ids far above the object count), with
    ``ids[k]`` the original id of new label k (None when left as they are)."""
    if lab.min() < 0:
        raise InputError(f"{name}: negative label values (min {int(lab.min())}); labels are 0 (background) "
                         "and positive ids")
    top = int(lab.max())
    if top <= 0:
        raise InputError(f"{name}: no labelled object (all voxels are 0)")
    if top <= max(2 * lab.size, 1 << 16):
        return lab, None
    ids, inverse = np.unique(lab, return_inverse=True)
    if ids[0] != 0:
        ids = np.concatenate([[0], ids])
        inverse = inverse + 1
    return inverse.reshape(lab.shape).astype(np.int64), ids


def region_props(lab: np.ndarray, voxel: tuple) -> pd.DataFrame:
    """``label``, ``volume_um3``, ``centroid_{z,y,x}_um`` (from voxel 0, not yet the
    volume's coordinates) and ``equivalent_diameter_um`` of every label of ``lab``."""
    from skimage.measure import regionprops_table

    props = pd.DataFrame(regionprops_table(lab, properties=("label", "area", "centroid"), spacing=voxel))
    props = props.rename(columns={"area": "volume_um3", "centroid-0": "centroid_z_um",
                                  "centroid-1": "centroid_y_um", "centroid-2": "centroid_x_um"})
    props["equivalent_diameter_um"] = (6 * props["volume_um3"] / np.pi) ** (1 / 3)
    return props
