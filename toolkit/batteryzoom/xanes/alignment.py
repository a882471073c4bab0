"""Registration of the frames (2D) or volumes (3D) of a XANES stack across energies.

Each energy's image is registered to a reference energy's image by phase correlation
with sub-pixel refinement (scikit-image's ``phase_cross_correlation``, upsampled DFT of
Guizar-Sicairos et al. 2008), then shifted back, by default with a Fourier (band-limited)
shift of the edge-padded frame (``scipy.ndimage.fourier_shift``): unlike spline
interpolation it does not blur neighbouring voxels (grains) together, which would bias
their spectra; ``method="spline"`` uses ``scipy.ndimage.shift`` instead.

Sign convention: ``shifts[i]`` is the displacement (pixels, ``(y, x)`` or ``(z, y, x)``)
of frame ``i``'s content relative to the reference frame: the feature at ``p`` in the
reference sits at ``p + shifts[i]`` in frame ``i``. Aligning applies ``-shifts[i]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from ..errors import InputError
from .stack import is_dask, split_input

__all__ = ["align", "apply_shifts", "estimate_shifts"]


def _reference_index(energy: np.ndarray, reference: Any) -> int:
    if reference is None:
        return len(energy) - 1  # post-edge: the strongest absorption contrast
    if isinstance(reference, (int, np.integer)):
        if not -len(energy) <= reference < len(energy):
            raise InputError(f"reference={reference} is not a frame index (0..{len(energy) - 1})")
        return int(reference) % len(energy)
    value = float(reference)
    i = int(np.abs(energy - value).argmin())
    if abs(energy[i] - value) > 1.0:
        raise InputError(f"reference={value} eV is not one of the stack's energies (nearest {energy[i]:.2f} eV); "
                         "pass an energy of the stack or a frame index")
    return i


def _prepare(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, np.float64)
    finite = np.isfinite(img)
    img = np.where(finite, img, np.nanmean(img) if finite.any() else 0.0)
    return img - img.mean()


def estimate_shifts(
    stack: Any,
    energy: Any = None,
    *,
    reference: Any = None,
    upsample_factor: int = 20,
    show_progress: bool | None = None,
) -> np.ndarray:
    """Displacement of every frame relative to the reference frame (see module docstring).

    Returns
    -------
    numpy.ndarray
        ``(E, ndim)`` float64 pixels.
    """
    from skimage.registration import phase_cross_correlation

    array, energy, _ = split_input(stack, energy)
    if array.ndim not in (3, 4):
        raise InputError(f"align needs (E, y, x) or (E, z, y, x); got shape {array.shape}")
    iref = _reference_index(energy, reference)
    ref = _prepare(np.asarray(array[iref]))
    shifts = np.zeros((len(energy), array.ndim - 1))
    for i in progress(range(len(energy)), "aligning energies", enabled=show_progress):
        if i == iref:
            continue
        moving = _prepare(np.asarray(array[i]))
        shift, _, _ = phase_cross_correlation(ref, moving, upsample_factor=upsample_factor, normalization=None)
        shifts[i] = -np.asarray(shift)  # skimage returns the correction; we report the displacement
    return shifts


def _fourier_unshift(frame: np.ndarray, s: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    pad = int(np.ceil(np.abs(s).max())) + 4
    padded = np.pad(frame, pad, mode="edge")  # no wrap-around of the far edge into view
    spectrum = ndimage.fourier_shift(np.fft.rfftn(padded), -s, n=padded.shape[-1])
    out = np.fft.irfftn(spectrum, s=padded.shape, axes=tuple(range(padded.ndim)))
    return out[(slice(pad, -pad),) * frame.ndim]


def apply_shifts(stack: Any, shifts: Any, *, method: str = "fourier", order: int = 3,
                 mode: str = "nearest") -> Any:
    """Undo displacements: frame ``i`` is moved by ``-shifts[i]`` (spline interpolation).

    Parameters
    ----------
    stack : array-like, dask array or xarray.DataArray
        ``(E, ...)``, energy first.
    shifts : array-like
        ``(E, ndim)`` displacements (pixels).
    method : {"fourier", "spline"}
        Fourier shift of the edge-padded frame (default; no blur), or spline interpolation.
    order : int
        Spline order of ``scipy.ndimage.shift`` (``method="spline"``).
    mode : str
        Edge handling of ``scipy.ndimage.shift``.

    Returns
    -------
    same kind as ``stack``
        float32; dask stays lazy (one chunk per energy frame).
    """
    from scipy import ndimage

    template = stack if hasattr(stack, "dims") else None
    array = stack.transpose("energy", ...).data if template is not None else stack
    shifts = np.asarray(shifts, np.float64)
    if method not in ("fourier", "spline"):
        raise InputError(f"method={method!r}: use 'fourier' or 'spline'")
    if shifts.shape != (array.shape[0], array.ndim - 1):
        raise InputError(f"shifts has shape {shifts.shape}; expected {(array.shape[0], array.ndim - 1)}")

    def one(frame, s):
        f = np.asarray(frame, np.float32)
        if not np.any(s):
            return f
        nan = ~np.isfinite(f)
        filled = np.where(nan, np.nanmean(f) if (~nan).any() else 0, f)
        if method == "fourier":
            out = _fourier_unshift(filled, s)
        else:
            out = ndimage.shift(filled, -s, order=order, mode=mode)
        out = out.astype(np.float32)
        out[nan] = np.nan  # a NaN stays visible (masked downstream), at its original place
        return out

    if is_dask(array):
        import dask.array as da

        arr = array.rechunk((1,) + array.shape[1:])
        out = da.map_blocks(lambda b, block_info=None: one(b[0], shifts[block_info[0]["chunk-location"][0]])[None],
                            arr, dtype=np.float32)
    else:
        out = np.stack([one(array[i], shifts[i]) for i in range(array.shape[0])])
    if template is None:
        return out
    return template.transpose("energy", ...).copy(data=out)


def align(
    stack: Any,
    energy: Any = None,
    *,
    reference: Any = None,
    upsample_factor: int = 20,
    method: str = "fourier",
    show_progress: bool | None = None,
) -> tuple[Any, np.ndarray]:
    """Register every energy's frame/volume to a reference energy, sub-pixel.

    Parameters
    ----------
    stack : array-like or xarray.DataArray
        ``(E, y, x)`` maps or ``(E, z, y, x)`` volumes (optical density), energy first.
    energy : array-like, optional
        ``(E,)`` eV (default: the DataArray's coordinate).
    reference : int or float, optional
        Frame index, or energy (eV) of the reference frame. Default: the last (highest
        energy, post-edge) frame, whose contrast is strongest.
    upsample_factor : int
        Sub-pixel precision ``1 / upsample_factor`` pixel.
    method : {"fourier", "spline"}
        How frames are shifted back (see :func:`apply_shifts`).

    Returns
    -------
    (aligned, shifts)
        ``aligned``: same kind and shape as ``stack``, float32. ``shifts``: ``(E, ndim)``
        float64 pixels, the displacement of each frame relative to the reference.
    """
    shifts = estimate_shifts(stack, energy, reference=reference, upsample_factor=upsample_factor,
                             show_progress=show_progress)
    return apply_shifts(stack, shifts, method=method), shifts
