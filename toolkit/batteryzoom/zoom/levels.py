"""The zoom's levels and its world frame: :class:`Level` (one home,
:mod:`batteryzoom.frames`), the name of the world frame and the overhang warning."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..frames import Level

__all__ = ["Level", "WORLD", "BoxOutsideParentWarning", "as_points"]

WORLD = "world"  # the frame of the root levels' origins; also accepted as None


class BoxOutsideParentWarning(UserWarning):
    """A level's box sticks out of its parent's box by more than half a parent voxel."""


def as_points(points_um: Any, ndim: int, argname: str = "points_um") -> np.ndarray:
    """``points_um`` as a float array whose last axis holds ``ndim`` coordinates (µm), else
    an :class:`~batteryzoom.errors.InputError` naming ``argname``."""
    try:
        pts = np.asarray(points_um, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{argname}: must be numbers (µm)") from None
    if pts.ndim == 0 or pts.shape[-1] != ndim:
        raise InputError(
            f"{argname}: last axis must hold {ndim} coordinates ({', '.join(('z', 'y', 'x')[3 - ndim:])}), "
            f"got shape {pts.shape}"
        )
    return pts
