"""The physical frame of an array: voxel size and origin in µm, one rule for reading them.

Every dataset batteryzoom handles sits in a physical frame, so a zoom from the cell (mm) to
a grain (tens of nm) is a real zoom. This module is the single place that says how a frame
is read from an object or given by the caller; every compute entry point, the twin, the
zoom hierarchy, the plots and the viewer call :func:`frame_of`.

Conventions
-----------
- Spatial axes are ``(z, y, x)`` (or ``(y, x)`` for 2-D data); spectral stacks put
  ``energy`` first and it is not a spatial axis. All lengths are in µm.
- ``voxel_size_um`` is the size of one voxel per spatial axis; anisotropic voxels are
  fine everywhere (``(dz, dy, dx)``).
- ``origin_um`` is the position of the centre of voxel ``(0, 0, 0)`` in the object's own
  coordinates: the first value of each xarray coordinate (0 for a twin dataset, the crop's
  start for a cropped one). Voxel index ``i`` sits at ``origin_um + i * voxel_size_um``.
- ``placement_um`` (``attrs["origin_um"]``) is where the object's coordinate zero sits in
  its *parent's* frame (``attrs["parent"]``): the zoom hierarchy's business
  (:mod:`batteryzoom.zoom`). A voxel's position in the parent is
  ``placement_um + origin_um + i * voxel_size_um``.
- A :class:`Level` is a named grid placed in its parent (shape, voxel size, placement):
  the unit of the zoom hierarchy and of the synthetic twin's frames
  (:mod:`batteryzoom.data.twin.frames`). Its box is its extent in voxel *edges*:
  ``origin - voxel/2`` to ``origin + (shape - 1/2) * voxel`` in the parent's frame.

Where the voxel size comes from, first match wins
-------------------------------------------------
1. the ``voxel_size_um`` argument (one number, or one per spatial axis; ``"px"`` to work
   in voxels on purpose);
2. an xarray object's ``attrs["voxel_size_um"]``; a recorded ``None`` means *unknown*
   (:func:`batteryzoom.io.read_volume` writes that when the file holds no size); a slice
   of a volume (``vol.isel(z=k)``: the volume's three values, ``z`` a scalar coordinate)
   takes the values of the axes it kept;
3. the spacing of the object's ``z``/``y``/``x`` coordinates, when every one is evenly
   spaced, increasing, and not marked as pixel indices (``units`` attribute ``"pixel"``
   or ``"px"``): the design's coordinates are µm.

The policy for an unknown size (one for the whole package)
----------------------------------------------------------
A length is reported in µm only when the voxel size is known; nothing is ever silently
taken as 1 µm. When it is unknown:

- ``missing="raise"`` (the default; functions whose *parameters* are lengths in µm, such
  as segmentation and the cell analysis): an :class:`~batteryzoom.errors.InputError` that
  names the object and says how to give the size.
- ``missing="px"`` (functions that only *report* lengths, such as per-region statistics
  and the figures): the frame is in voxels, ``unit == "px"``, and every length the caller
  reports carries the suffix :attr:`Frame.length_suffix` (``volume_px3``, not
  ``volume_um3``), so the unit is visible in the result.
- ``voxel_size_um="px"`` given by the caller: the same voxel frame, on purpose, in any
  function (µm parameters are then read as voxels: the caller asked for it).

Examples
--------
>>> import numpy as np, xarray as xr
>>> from batteryzoom.frames import frame_of
>>> vol = xr.DataArray(np.zeros((4, 5, 6)), dims=("z", "y", "x"),
...                    coords={"z": np.arange(4) * 2.0, "y": np.arange(5) * 0.5,
...                            "x": 10 + np.arange(6) * 0.5})
>>> f = frame_of(vol)
>>> f.voxel_size_um, f.origin_um, f.unit
((2.0, 0.5, 0.5), (0.0, 0.0, 10.0), 'um')
>>> f.to_um([1, 2, 3])
array([ 2. ,  1. , 11.5])
>>> frame_of(np.zeros((8, 8)), missing="px").length_suffix
'_px'
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["Frame", "frame_of", "Level", "VoxelSizeWarning", "warn_voxels", "SPATIAL_DIMS", "PIXEL_UNITS",
           "is_xarray"]

SPATIAL_DIMS = ("z", "y", "x")
#: ``units`` attribute values that mark a coordinate as pixel indices, not µm
PIXEL_UNITS = frozenset({"pixel", "pixels", "px", "voxel", "voxels", "index"})
_PX_WORDS = frozenset({"px", "pixel", "pixels", "voxel", "voxels"})
_MISSING = ("raise", "px")


class VoxelSizeWarning(UserWarning):
    """A length is measured in voxels because the voxel size is unknown."""


def is_xarray(obj: Any) -> bool:
    """Whether ``obj`` is an xarray DataArray/Dataset (duck-typed: no xarray import)."""
    return hasattr(obj, "dims") and hasattr(obj, "attrs") and hasattr(obj, "coords")


@dataclass(frozen=True)
class Frame:
    """The physical frame of an array's spatial axes.

    Parameters
    ----------
    voxel_size_um : tuple of float
        Voxel size per spatial axis (µm; voxels when ``unit == "px"``), all > 0.
    origin_um : tuple of float
        Centre of voxel ``(0, ...)`` in the object's own coordinates (µm), one per axis.
    dims : tuple of str
        Spatial axis names, e.g. ``("z", "y", "x")``.
    unit : {"um", "px"}
        ``"um"`` when the voxel size is known; ``"px"`` when lengths are in voxels.
    placement_um : tuple of float or None
        Where the coordinate zero sits in the parent's frame (``attrs["origin_um"]``).
    parent : str or None
        The parent level's name (``attrs["parent"]``), if recorded.
    """

    voxel_size_um: tuple[float, ...]
    origin_um: tuple[float, ...]
    dims: tuple[str, ...]
    unit: str = "um"
    placement_um: tuple[float, ...] | None = None
    parent: str | None = None

    def __post_init__(self) -> None:
        n = len(self.dims)
        if len(self.voxel_size_um) != n or len(self.origin_um) != n:
            raise InputError(f"Frame: {n} dims {self.dims} but voxel_size_um={self.voxel_size_um} "
                             f"and origin_um={self.origin_um}; give one value per spatial axis")
        if self.unit not in ("um", "px"):
            raise InputError(f"Frame: unit={self.unit!r} must be 'um' or 'px'")

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.dims)

    @property
    def known(self) -> bool:
        """Whether lengths are in µm (the voxel size is known)."""
        return self.unit == "um"

    @property
    def length_suffix(self) -> str:
        """``"_um"`` or ``"_px"``: the suffix of a length column measured in this frame."""
        return "_um" if self.known else "_px"

    @property
    def isotropic(self) -> bool:
        """Whether the voxels are cubes (square pixels in 2-D), to 1e-6 relative."""
        v = np.asarray(self.voxel_size_um)
        return bool(np.allclose(v, v[0], rtol=1e-6, atol=0))

    @property
    def voxel_volume_um3(self) -> float:
        """Volume (3-D) or area (2-D) of one voxel, in µm³ / µm² (voxels when ``px``)."""
        return float(np.prod(self.voxel_size_um))

    def to_um(self, index: Any) -> np.ndarray:
        """Positions (µm, own coordinates) of voxel indices ``(..., ndim)``."""
        return np.asarray(self.origin_um) + np.asarray(index, dtype=float) * np.asarray(self.voxel_size_um)

    def to_index(self, position_um: Any) -> np.ndarray:
        """Fractional voxel indices of positions ``(..., ndim)`` in own coordinates (µm)."""
        return (np.asarray(position_um, dtype=float) - np.asarray(self.origin_um)) / np.asarray(self.voxel_size_um)

    def coords(self, shape: Sequence[int]) -> dict[str, np.ndarray]:
        """Coordinates per spatial axis for an array of ``shape`` (spatial axes only)."""
        if len(shape) != self.ndim:
            raise InputError(f"shape {tuple(shape)}: need {self.ndim} spatial axes {self.dims}")
        return {d: o + np.arange(n) * v for d, n, o, v in zip(self.dims, shape, self.origin_um, self.voxel_size_um)}

    def attrs(self) -> dict[str, Any]:
        """The frame as xarray attributes (``voxel_size_um`` None when unknown)."""
        out: dict[str, Any] = {"voxel_size_um": list(self.voxel_size_um) if self.known else None}
        if self.placement_um is not None:
            out["origin_um"] = list(self.placement_um)
        if self.parent:
            out["parent"] = self.parent
        return out


def _spatial_dims(obj: Any, ndim: int | None) -> tuple[str, ...]:
    if is_xarray(obj):
        dims = tuple(d for d in SPATIAL_DIMS if d in obj.dims)
        if dims:
            return dims
    if ndim is None:
        shape = np.shape(obj) if not hasattr(obj, "shape") else obj.shape
        ndim = min(len(shape), 3)
    if not 1 <= ndim <= 3:
        raise InputError(f"ndim={ndim}: a frame has 1 to 3 spatial axes")
    return SPATIAL_DIMS[3 - ndim:]


def _vector(value: Any, n: int, argname: str, positive: bool) -> tuple[float, ...]:
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"{argname}={value!r}: give one number or {n} (one per axis {SPATIAL_DIMS[3 - n:]}), "
                         "in µm") from None
    if arr.ndim != 1 or arr.size not in (1, n):
        raise InputError(f"{argname}={value!r}: give one number or {n} (one per axis {SPATIAL_DIMS[3 - n:]}), "
                         "in µm")
    if not np.all(np.isfinite(arr)) or (positive and np.any(arr <= 0)):
        kind = "positive (> 0), finite" if positive else "finite"
        raise InputError(f"{argname}={value!r}: sizes must be {kind} numbers in µm, e.g. 0.5 or (1.0, 0.5, 0.5)")
    return tuple(float(x) for x in np.broadcast_to(arr, (n,)))


def _coord_spacing(obj: Any, dims: tuple[str, ...]) -> tuple[tuple[float, ...] | None, bool]:
    """``(spacing, pixel_marked)`` of an xarray object's spatial coordinates."""
    spacing, pixel = [], False
    for d in dims:
        if d not in obj.coords:
            return None, pixel
        c = obj[d]
        if str(c.attrs.get("units", "")).strip().lower() in PIXEL_UNITS:
            pixel = True
        values = np.asarray(c.values, dtype=float)
        if values.size < 2:
            return None, pixel
        step = (values[-1] - values[0]) / (values.size - 1)
        if not np.isfinite(step) or step <= 0 or not np.allclose(np.diff(values), step, rtol=1e-6, atol=0):
            return None, pixel
        spacing.append(float(f"{step:.12g}"))  # drop the rounding of arange(n) * v
    return tuple(spacing), pixel


def _origin_from_coords(obj: Any, dims: tuple[str, ...]) -> tuple[float, ...] | None:
    if not all(d in obj.coords and obj.sizes[d] > 0 for d in dims):
        return None
    return tuple(float(np.asarray(obj[d].values[0], dtype=float)) for d in dims)


def _origin(obj: Any, dims: tuple[str, ...], size: tuple[float, ...], unit: str) -> tuple[float, ...]:
    """Voxel 0's position in the frame's unit, from the first coordinate values.

    Coordinates marked as pixel indices are indices whatever the frame: in a µm frame
    (a size given for a pixel-indexed volume) they are scaled by the voxel size, in a
    voxel frame taken as they are (a crop keeps its offset). Unmarked coordinates are µm:
    they give the origin of a µm frame, and nothing in a voxel frame (where µm cannot be
    turned into voxels).
    """
    first = _origin_from_coords(obj, dims)
    if first is None:
        return (0.0,) * len(dims)
    pixel = [str(obj[d].attrs.get("units", "")).strip().lower() in PIXEL_UNITS for d in dims]
    if unit == "um":
        return tuple(f * s if p else f for f, s, p in zip(first, size, pixel))
    return tuple(f if p else 0.0 for f, p in zip(first, pixel))


def _kept_axes(obj: Any, dims: tuple[str, ...]) -> list[int] | None:
    """Which entries of a ``(z, y, x)`` attribute vector a slice of a volume keeps.

    ``vol.isel(z=k)`` keeps the volume's attributes (three values) and the dropped axis as
    a scalar coordinate: its frame is the volume's for the axes it kept.
    """
    dropped = [d for d in SPATIAL_DIMS if d not in dims]
    if not dropped or not all(d in obj.coords and obj[d].ndim == 0 for d in dropped):
        return None
    return [SPATIAL_DIMS.index(d) for d in dims]


def _attr_vector(attrs: Mapping, key: str, n: int, label: str,
                 kept: list[int] | None = None) -> tuple[float, ...] | None:
    value = attrs.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kept is not None and np.size(value) == len(SPATIAL_DIMS):
        try:
            value = np.asarray(value, dtype=float).ravel()[kept]
        except (TypeError, ValueError):
            pass  # not numbers: _vector names the attribute
    return _vector(value, n, f"{label}: attrs[{key!r}]", positive=(key == "voxel_size_um"))


def frame_of(
    obj: Any,
    voxel_size_um: Any = None,
    origin_um: Any = None,
    *,
    ndim: int | None = None,
    missing: str = "raise",
    name: str | None = None,
) -> Frame:
    """The frame of ``obj``'s spatial axes: voxel size and origin in µm.

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset, numpy.ndarray, dask.array.Array or tuple
        The data. xarray objects give their spatial dims (``z``, ``y``, ``x`` present),
        attributes and coordinates; arrays give their shape (the last ``ndim`` axes, at
        most three, are spatial). A tuple is taken as a shape.
    voxel_size_um : float, sequence of float or "px", optional
        Overrides what ``obj`` records: one number (cubic voxels) or one per spatial axis,
        in µm; ``"px"`` works in voxels on purpose.
    origin_um : float or sequence of float, optional
        Overrides the origin (centre of voxel 0 in own coordinates, µm); default: the
        first coordinate values of an xarray object, else zeros.
    ndim : int, optional
        Number of spatial axes of a plain array (default: ``min(obj.ndim, 3)``).
    missing : {"raise", "px"}
        What to do when the voxel size is unknown (module docstring: the policy).
    name : str, optional
        How to call the object in messages (default: its ``attrs["level"]``, its name,
        else ``"the volume"``).

    Returns
    -------
    Frame

    Raises
    ------
    InputError
        The size is unknown and ``missing="raise"``; a given or recorded size or origin is
        not one positive number or one per axis; ``missing`` is not a choice.

    Examples
    --------
    >>> import numpy as np
    >>> frame_of(np.zeros((10, 20, 30)), voxel_size_um=(1.0, 0.5, 0.5)).voxel_size_um
    (1.0, 0.5, 0.5)
    >>> frame_of(np.zeros((10, 20, 30)), name="electrode.tif")
    Traceback (most recent call last):
    ...
    batteryzoom.errors.InputError: electrode.tif: the voxel size is unknown. Pass voxel_size_um=... in µm (one number, or (dz, dy, dx)), or voxel_size_um="px" to measure in voxels (lengths are then reported in columns ending in _px).
    """
    if missing not in _MISSING:
        raise InputError(f"missing={missing!r}: choose one of {_MISSING}")
    if isinstance(obj, tuple) and all(isinstance(s, (int, np.integer)) for s in obj):
        obj = np.broadcast_to(np.float32(0), obj)  # a shape: a zero-stride stand-in
    dims = _spatial_dims(obj, ndim)
    n = len(dims)
    xa = is_xarray(obj)
    attrs = obj.attrs if xa else {}
    kept = _kept_axes(obj, dims) if xa else None
    label = name or (attrs.get("level") or getattr(obj, "name", None) if xa else None) or "the volume"

    unit = "um"
    size: tuple[float, ...] | None
    if isinstance(voxel_size_um, str):
        if voxel_size_um.strip().lower() not in _PX_WORDS:
            raise InputError(f"voxel_size_um={voxel_size_um!r}: give a size in µm (a number or one per axis), "
                             "or 'px' to work in voxels")
        size, unit = (1.0,) * n, "px"
    elif voxel_size_um is not None:
        size = _vector(voxel_size_um, n, "voxel_size_um", positive=True)
    elif xa and "voxel_size_um" in attrs:
        size = _attr_vector(attrs, "voxel_size_um", n, str(label), kept)  # None: recorded as unknown
    else:
        size = None
        if xa:
            spacing, pixel = _coord_spacing(obj, dims)
            size = None if pixel else spacing
    if size is None:
        if missing == "raise":
            raise InputError(
                f"{label}: the voxel size is unknown. Pass voxel_size_um=... in µm (one number, or "
                f"{'(dz, dy, dx)' if n == 3 else 'one per axis'}), or voxel_size_um=\"px\" to measure in "
                "voxels (lengths are then reported in columns ending in _px).")
        size, unit = (1.0,) * n, "px"

    if origin_um is not None:
        origin = _vector(origin_um, n, "origin_um", positive=False)
    else:
        origin = _origin(obj, dims, size, unit) if xa else (0.0,) * n

    placement = _attr_vector(attrs, "origin_um", n, str(label), kept) if xa else None
    parent = (attrs.get("parent") or None) if xa else None
    return Frame(voxel_size_um=size, origin_um=origin, dims=dims, unit=unit,
                 placement_um=placement, parent=str(parent) if parent else None)


def _spatial_shape(data: Any, ndim: int) -> tuple[int, ...]:
    if is_xarray(data):
        dims = [d for d in SPATIAL_DIMS if d in data.dims]
        if dims:
            return tuple(int(data.sizes[d]) for d in dims)
    return tuple(int(s) for s in np.shape(data)[-ndim:])


@dataclass(frozen=True)
class Level:
    """One level of the zoom: a grid, and where it sits in its parent.

    The one level type of the package: :class:`batteryzoom.zoom.Hierarchy` nests them, and
    the synthetic twin describes its datasets with them
    (:func:`batteryzoom.data.twin.frames.levels`).

    Parameters
    ----------
    name : str
        Unique name, e.g. a manifest name (``"twin/electrode-ct"``) or your own.
    shape : tuple of int, optional
        Grid shape ``(z, y, x)`` (or ``(y, x)``); None when unknown (no box then).
    voxel_size_um : float or tuple of float
        Voxel size per axis (µm), > 0; anisotropic voxels are fine.
    origin_um : tuple of float, optional
        Where this level's voxel ``(0, 0, 0)`` centre sits in the parent's local frame
        (µm); for a root level, in the world frame. Default zeros.
    parent : str, optional
        Name of the parent level; None for a root.
    scale : str, optional
        ``"cell"``, ``"electrode"``, ``"particle"``, ``"grain"`` (for colours and labels).
    data : optional
        The level's data (numpy, dask or xarray), if attached; its spatial shape must
        equal ``shape``.
    preset : str, optional
        For a level of the synthetic twin, its preset (``"small"``, ``"large"``).
    overhang_um : float or tuple of float, optional
        How far this grid extends past its parent's box on purpose, per axis and side (µm,
        >= 0): a reconstruction's field of view holds air around the sample it was
        registered to. :class:`batteryzoom.zoom.Hierarchy` accepts that much (plus half a
        parent voxel) silently and still warns beyond it. Default None: none stated.

    Examples
    --------
    >>> lv = Level("roi", (20, 30, 40), (0.5, 0.25, 0.25), origin_um=(10.0, 0.0, 0.0), parent="cell")
    >>> lv.box_record()
    {'min': [9.75, -0.125, -0.125], 'max': [19.75, 7.375, 9.875]}
    >>> lv.extent_um
    array([10. ,  7.5, 10. ])
    """

    name: str
    shape: tuple[int, ...] | None
    voxel_size_um: tuple[float, ...]
    origin_um: tuple[float, ...] | None = None
    parent: str | None = None
    scale: str | None = None
    data: Any = field(default=None, compare=False, repr=False)
    preset: str | None = None
    overhang_um: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError(f"name: a level needs a non-empty name, got {self.name!r}")
        if self.parent is not None and not isinstance(self.parent, str):
            raise InputError(f"{self.name}: parent must be a level name or None, got {self.parent!r}")
        if self.parent == self.name:
            raise InputError(f"{self.name}: a level cannot be its own parent")
        ndim = None
        if self.shape is None and self.origin_um is not None and np.size(self.origin_um) > 1:
            ndim = int(np.size(self.origin_um))  # no shape: the origin tells the axes
        if self.shape is not None:
            shape = tuple(np.atleast_1d(np.asarray(self.shape)).tolist())
            if not all(isinstance(s, int) and s > 0 for s in shape) or not 1 <= len(shape) <= 3:
                raise InputError(f"{self.name}: shape must be 1-3 positive integers, got {self.shape!r}")
            object.__setattr__(self, "shape", shape)
            ndim = len(shape)
        n = ndim or max(int(np.size(self.voxel_size_um)), 1)
        vs = _vector(self.voxel_size_um, n, f"{self.name}: voxel_size_um", positive=True)
        object.__setattr__(self, "voxel_size_um", vs)
        origin = (0.0,) * len(vs) if self.origin_um is None else self.origin_um
        object.__setattr__(self, "origin_um", _vector(origin, len(vs), f"{self.name}: origin_um", positive=False))
        if self.overhang_um is not None:
            over = _vector(self.overhang_um, len(vs), f"{self.name}: overhang_um", positive=False)
            if min(over) < 0:
                raise InputError(f"{self.name}: overhang_um must be >= 0 µm on every axis, got {list(over)}")
            object.__setattr__(self, "overhang_um", over)
        if self.data is not None and self.shape is not None:
            spatial = _spatial_shape(self.data, self.ndim)
            if spatial != self.shape:
                raise InputError(
                    f"{self.name}: data has spatial shape {spatial}, the level's shape is {self.shape}"
                )

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.voxel_size_um)

    @property
    def dims(self) -> tuple[str, ...]:
        """Axis names: ``("z", "y", "x")``, ``("y", "x")`` or ``("x",)``."""
        return SPATIAL_DIMS[3 - self.ndim:]

    @property
    def extent_um(self) -> np.ndarray | None:
        """Edge-to-edge size per axis (µm), or None when the shape is unknown."""
        if self.shape is None:
            return None
        return np.asarray(self.shape) * np.asarray(self.voxel_size_um)

    @property
    def box_um(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(min, max)`` corners in the parent's frame (µm, voxel edges), or None."""
        return self.box_in_own_frame(np.asarray(self.origin_um))

    def box_in_own_frame(self, origin: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """``(min, max)`` of the grid with voxel 0's centre at ``origin`` (default 0)."""
        if self.shape is None:
            return None
        v = np.asarray(self.voxel_size_um)
        o = np.zeros(self.ndim) if origin is None else np.asarray(origin, float)
        return o - v / 2, o + (np.asarray(self.shape) - 0.5) * v

    def box_record(self) -> dict[str, list[float]] | None:
        """The box in the parent's frame as the manifest records it: ``{"min": [...],
        "max": [...]}`` in µm, rounded to 1e-6 µm; None when the shape is unknown."""
        box = self.box_um
        if box is None:
            return None
        return {"min": box[0].round(6).tolist(), "max": box[1].round(6).tolist()}

    def coords(self) -> dict[str, np.ndarray]:
        """Local coordinates (µm) per axis, for an xarray object of this level."""
        if self.shape is None:
            raise InputError(f"{self.name}: shape unknown; attach data or give a shape")
        return {d: np.arange(n) * v for d, n, v in zip(self.dims, self.shape, self.voxel_size_um)}

    def attrs(self) -> dict[str, Any]:
        """The frame attributes an xarray object of this level carries (what
        :meth:`from_xarray` reads back): ``level``, ``preset`` (twin levels), ``parent``
        (``""`` for a root), ``voxel_size_um``, ``origin_um``, ``box_um_min``/``box_um_max``
        and ``scale`` when known."""
        out: dict[str, Any] = {"level": self.name}
        if self.preset is not None:
            out["preset"] = self.preset
        out.update(parent=self.parent or "", voxel_size_um=list(self.voxel_size_um), origin_um=list(self.origin_um))
        box = self.box_record()
        if box is not None:
            out.update(box_um_min=box["min"], box_um_max=box["max"])
        if self.scale is not None:
            out["scale"] = self.scale
        return out

    @classmethod
    def from_xarray(
        cls,
        obj: Any,
        *,
        name: str | None = None,
        parent: str | None = None,
        origin_um: Sequence[float] | None = None,
        scale: str | None = None,
        keep_data: bool = True,
    ) -> Level:
        """A level from an xarray object's frame attributes and spatial dims.

        Reads ``attrs``: ``level`` (name), ``parent``, ``origin_um`` (the placement) and
        the voxel size by :func:`frame_of` (``attrs["voxel_size_um"]``, else the spacing
        of the ``z``/``y``/``x`` coordinates; an unknown size raises). These are the
        attributes every twin dataset and :func:`batteryzoom.io.read_volume` result
        carries. Keyword arguments override the attributes.
        """
        if not is_xarray(obj):
            raise InputError("obj: pass an xarray DataArray/Dataset with dims (z, y, x)")
        if not any(d in obj.dims for d in SPATIAL_DIMS):
            raise InputError(f"obj: no spatial dims among {tuple(obj.dims)}; expected some of (z, y, x)")
        attrs = obj.attrs
        lname = name or attrs.get("level") or attrs.get("name")
        if not lname:
            raise InputError("name: the object has no 'level' attribute; pass name=...")
        frame = frame_of(obj, name=str(lname))
        shape = tuple(int(obj.sizes[d]) for d in frame.dims)
        par = parent if parent is not None else (attrs.get("parent") or None)
        origin = origin_um if origin_um is not None else frame.placement_um
        return cls(
            name=str(lname), shape=shape, voxel_size_um=frame.voxel_size_um, origin_um=origin, parent=par,
            scale=scale or attrs.get("scale"), data=obj if keep_data else None,
        )


def warn_voxels(name: str, stacklevel: int = 3) -> None:
    """Warn that ``name`` is measured in voxels (for callers that chose ``missing="px"``
    and still want the user told, e.g. a figure whose axes would otherwise read µm)."""
    warnings.warn(f"{name}: the voxel size is unknown, so lengths are in voxels (px); pass voxel_size_um=... "
                  "in µm to get µm", VoxelSizeWarning, stacklevel=stacklevel)
