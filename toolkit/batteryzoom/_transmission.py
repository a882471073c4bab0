"""Transmission: intensities to optical density, for every imaging reader and analysis.

Shared by the TXM readers (:mod:`batteryzoom.io.txm`), XANES (:func:`batteryzoom.xanes.
optical_density`) and tomography: one Beer-Lambert conversion below the analyses, so a
reader need not import an analysis to return optical densities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._blocks import is_dask

__all__ = ["optical_density"]


def optical_density(sample: Any, flat: Any, dark: Any = None) -> Any:
    """Optical density ``-ln((I - D) / (I0 - D))`` of transmission images.

    Parameters
    ----------
    sample : array-like
        Transmitted intensity ``I`` (any shape, e.g. ``(E, y, x)``), counts or counts/s.
    flat : array-like
        Flat field ``I0`` (same shape, or broadcastable: one flat for every energy).
    dark : array-like, optional
        Dark signal ``D`` (broadcastable), same units.

    Returns
    -------
    array
        float32 (numpy or dask, as the input), dimensionless. Pixels where ``I - D`` or
        ``I0 - D`` is not positive are NaN: no log of a non-positive number.

    Examples
    --------
    >>> import numpy as np, batteryzoom as bz
    >>> bz.xanes.optical_density(np.array([50.0, 25.0, 0.0]), 100.0)
    array([0.6931472, 1.3862944,       nan], dtype=float32)
    """
    xp = np
    if any(is_dask(a) for a in (sample, flat, dark) if a is not None):
        import dask.array as xp  # type: ignore[no-redef]

    i = sample.astype(np.float32) if hasattr(sample, "astype") else np.asarray(sample, np.float32)
    i0 = flat.astype(np.float32) if hasattr(flat, "astype") else np.asarray(flat, np.float32)
    if dark is not None:
        d = dark.astype(np.float32) if hasattr(dark, "astype") else np.asarray(dark, np.float32)
        i, i0 = i - d, i0 - d
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = xp.where((i > 0) & (i0 > 0), i / xp.where(i0 > 0, i0, 1), np.nan)
        return (-xp.log(ratio)).astype(np.float32)
