"""Input checks shared by the region functions: arrays out of xarray/dask/anything, a label
image's dims put in the map's order, and every bad dtype or shape named with its argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._blocks import unwrap
from ..errors import InputError


def _real_array(x: Any, argname: str) -> np.ndarray:
    """``x`` as a float64 numpy array, or an InputError naming ``argname`` when it is not
    real numbers (complex, strings, objects: numpy would cast or fail deep inside)."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise InputError(f"{argname}: dtype {a.dtype} is not a real number type; pass float or integer values")
    return a.astype(float, copy=False)


def _align_dims(values: Any, other: Any) -> Any:
    """An xarray ``other`` with the values' dims in another order is transposed to match."""
    vd, od = getattr(values, "dims", None), getattr(other, "dims", None)
    if vd is not None and od is not None and tuple(vd) != tuple(od) and set(vd) == set(od):
        return other.transpose(*vd)
    return other


def _check_inputs(values: Any, labels: Any, mask: Any) -> tuple[Any, Any, Any]:
    """``(values, labels, mask)`` as numpy or dask arrays of one shape, checked: a real map,
    integer labels, a boolean mask (or None)."""
    labels, mask = _align_dims(values, labels), _align_dims(values, mask)
    v = unwrap(values, "values")
    lab = unwrap(labels, "labels")
    m = unwrap(mask, "mask")
    if v.ndim == 0:
        raise InputError(
            f"values: got a {type(values).__name__} that reads as a 0-d scalar; "
            "pass the map as an array (e.g. (z, y, x))"
        )
    if np.dtype(v.dtype).kind not in "fiub":
        raise InputError(f"values: dtype {v.dtype} is not a real number type; pass a float or integer map")
    if v.size == 0:
        raise InputError(f"values: the map is empty (shape {v.shape}); pass a map with at least one voxel")
    if lab.shape != v.shape:
        raise InputError(
            f"labels: shape {lab.shape} differs from the values' shape {v.shape}; "
            "pass a label image of the map's grid (resample or crop one of them first)"
        )
    if np.dtype(lab.dtype).kind not in "iub":
        raise InputError(
            f"labels: dtype {lab.dtype} is not an integer type; pass integer labels "
            "(0 = background), e.g. labels.astype(np.int32)"
        )
    if m is not None:
        if m.shape != v.shape:
            raise InputError(f"mask: shape {m.shape} differs from the values' shape {v.shape}")
        if np.dtype(m.dtype).kind != "b":
            raise InputError(f"mask: dtype {m.dtype} is not boolean; pass e.g. mask.astype(bool)")
    return v, lab, m
