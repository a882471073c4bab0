"""Transmission: intensities to optical density, for every imaging reader and analysis.

Shared by the TXM readers (:mod:`batteryzoom.io.txm`), XANES (:func:`batteryzoom.xanes.
optical_density`) and tomography: one Beer-Lambert conversion below the analyses, so a
reader need not import an analysis to return optical densities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._blocks import is_dask

__all__ = ["optical_density", "reference_weights"]


def optical_density(sample: Any, flat: Any, dark: Any = None, *, floor: float | None = None) -> Any:
    """Optical density ``-ln((I - D) / (I0 - D))`` of transmission images.

    Parameters
    ----------
    sample : array-like
        Transmitted intensity ``I`` (any shape, e.g. ``(E, y, x)``), counts or counts/s.
    flat : array-like
        Flat field ``I0`` (same shape, or broadcastable: one flat for every energy).
    dark : array-like, optional
        Dark signal ``D`` (broadcastable), same units.
    floor : float, optional
        When given, ``I - D`` below ``floor`` (counts) is raised to it before the log, so
        a pixel that received (almost) nothing reads as a finite, large optical density
        instead of NaN (tomography takes half a count: less than one photon). ``I0 - D``
        is never floored: a dead flat pixel stays NaN.

    Returns
    -------
    array
        float32 (numpy or dask, as the input), dimensionless. Pixels where ``I - D`` (when
        not floored) or ``I0 - D`` is not positive are NaN: no log of a non-positive number.
    """
    xp = np
    if any(is_dask(a) for a in (sample, flat, dark) if a is not None):
        import dask.array as xp  # type: ignore[no-redef]

    i = sample.astype(np.float32) if hasattr(sample, "astype") else np.asarray(sample, np.float32)
    i0 = flat.astype(np.float32) if hasattr(flat, "astype") else np.asarray(flat, np.float32)
    if dark is not None:
        d = dark.astype(np.float32) if hasattr(dark, "astype") else np.asarray(dark, np.float32)
        i, i0 = i - d, i0 - d
    if floor is not None:
        i = xp.maximum(i, np.float32(floor))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = xp.where((i > 0) & (i0 > 0), i / xp.where(i0 > 0, i0, 1), np.nan)
        return (-xp.log(ratio)).astype(np.float32)


def reference_weights(reference_order: Any, frame_order: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """Weights that interpolate reference frames (flats) in time to each frame.

    References taken in runs (consecutive frame numbers, e.g. 10 flats before the scan and
    10 after) are averaged per run; each frame gets the run before and the run after it,
    weighted linearly by acquisition order (frames before the first run or after the last
    take that run alone).

    Parameters
    ----------
    reference_order : array-like of int, (n_ref,)
        Acquisition frame numbers of the references.
    frame_order : array-like of int, (n_frame,)
        Acquisition frame numbers of the frames to correct.

    Returns
    -------
    weights : numpy.ndarray, float64, (n_frame, n_run)
        Rows sum to 1.
    runs : list of numpy.ndarray
        Indices (into the references) of each run, in time order.

    Examples
    --------
    >>> w, runs = reference_weights([0, 1, 12, 13], [2, 7, 11])
    >>> [r.tolist() for r in runs], w.round(2).tolist()
    ([[0, 1], [2, 3]], [[0.88, 0.12], [0.46, 0.54], [0.12, 0.88]])
    """
    ref = np.asarray(reference_order, dtype=np.float64).ravel()
    frames = np.asarray(frame_order, dtype=np.float64).ravel()
    order = np.argsort(ref, kind="stable")
    breaks = np.flatnonzero(np.diff(ref[order]) > 1) + 1
    runs = [order[idx] for idx in np.split(np.arange(ref.size), breaks)]
    t = np.array([ref[r].mean() for r in runs])
    w = np.zeros((frames.size, len(runs)))
    if len(runs) == 1:
        w[:] = 1.0
        return w, runs
    hi = np.clip(np.searchsorted(t, frames, side="right"), 1, len(runs) - 1)
    lo = hi - 1
    frac = np.clip((frames - t[lo]) / (t[hi] - t[lo]), 0.0, 1.0)
    rows = np.arange(frames.size)
    w[rows, lo] = 1.0 - frac
    w[rows, hi] += frac
    return w, runs
