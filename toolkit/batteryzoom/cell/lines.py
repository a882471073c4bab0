"""Traced lines made trackable: a thin line mask turned into a smooth image of ridges."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from ..errors import InputError
from ..frames import frame_of
from ._slice import _check_count, _check_positive

__all__ = ["line_image"]


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
    DataArray (y, x) float32
        When the mask's frame is known, ``voxel_size_um`` scaled by ``bin`` and ``y``/``x``
        coordinates (µm) at the centres of the binned pixels; otherwise in the mask's pixels
        (binned) with no size.

    Examples
    --------
    >>> import numpy as np, xarray as xr, batteryzoom as bz
    >>> m = np.zeros((60, 60), bool)
    >>> m[30, 10:50] = True  # one traced line
    >>> lines = bz.cell.line_image(xr.DataArray(m, dims=("y", "x"), attrs={"voxel_size_um": 2.0}), bin=3)
    >>> lines.shape, lines.attrs["voxel_size_um"], float(lines.y[10])
    ((20, 20), [6.0, 6.0], 62.0)
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
    frame = frame_of(mask, ndim=2, missing="px", name="mask")
    if bin > 1:
        m = block_reduce(m, (bin, bin), np.max)
    coords = {}
    if frame.known:
        attrs["voxel_size_um"] = [float(v) * bin for v in frame.voxel_size_um]
        # binned pixel i pools source pixels i·bin … i·bin + bin - 1: it sits at their centre
        coords = {d: xr.Variable(d, o + (np.arange(n) * bin + (bin - 1) / 2) * v, attrs={"units": "µm"})
                  for d, n, o, v in zip(("y", "x"), m.shape, frame.origin_um, frame.voxel_size_um)}
    return xr.DataArray(ndimage.gaussian_filter(m, sigma_px), dims=("y", "x"), coords=coords, attrs=attrs,
                        name="lines")
