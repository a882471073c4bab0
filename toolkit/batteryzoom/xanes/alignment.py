"""Registration of the frames (2D) or volumes (3D) of a XANES stack across energies.

Each energy's image is registered to a reference energy's image by phase correlation
with sub-pixel refinement (scikit-image's ``phase_cross_correlation``, upsampled DFT of
Guizar-Sicairos et al. 2008, then off its grid: the vertex of a quadratic through the exact
cross-correlation around the peak), then shifted back, by default with a Fourier (band-limited)
shift of the edge-padded frame (``scipy.ndimage.fourier_shift``): unlike spline
interpolation it does not blur neighbouring voxels (grains) together, which would bias
their spectra; ``method="spline"`` uses a cubic B-spline instead, block-local
(:mod:`._blockshift`, the streamed pipeline's shift).

Scaling. A volume (3D frame; 2D frames are cheap whole) larger than ``crop_px`` (default
64) along some axis is registered on what carries the information instead of the whole
frame: a cube of ``crop_px`` where the
reference's band-passed contrast is strongest (found on a strided copy). The moving
frame's cube is read at the reference's place, band-passed (the cube minus its Gaussian
low-pass, which also removes the slow contrast that changes across the edge) and
Hann-windowed, for the whole-pixel displacement; then again at the place displaced by it,
where the two cubes hold the same content but for a sub-pixel residual, which is
estimated (upsampled and refined as for whole frames) on the cubes as they are. Only the two cubes of each energy
are read (a dask or zarr stack reads just their chunks): the estimate costs
``O(E crop_px**3 log crop_px)`` whatever the volume, where the whole-frame one costs
two complex128 FFTs of every full volume and holds them (16 bytes a voxel each). Frames
that fit in the cube are registered whole, exactly as before.
Shifting back runs one energy's volume at a time in single precision (``scipy.fft``,
float32 / complex64, on every core), written into the preallocated output: the peak is
the input, the output and about four of one energy's padded volume (one dask task per
energy on the dask path).

Sign convention: ``shifts[i]`` is the displacement (pixels, ``(y, x)`` or ``(z, y, x)``)
of frame ``i``'s content relative to the reference frame: the feature at ``p`` in the
reference sits at ``p + shifts[i]`` in frame ``i``. Aligning applies ``-shifts[i]``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._blocks import is_dask
from .._progress import progress
from ..errors import InputError
from ._blockshift import aligned_block
from .stack import split_input

__all__ = ["align", "apply_shifts", "common_fov_slices", "estimate_shifts"]


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


ESTIMATE_CROP_PX = 64  # the cube shifts are estimated on when a frame is larger


def _windowed_cube(frame: np.ndarray) -> np.ndarray:
    """``frame`` (a cube), mean removed, Hann-windowed (no wrap-around edge), float64."""
    img = _prepare(frame)
    for axis, n in enumerate(img.shape):  # separable window, axis by axis
        shape = [1] * img.ndim
        shape[axis] = n
        img = img * np.hanning(n + 2)[1:-1].reshape(shape)
    return img


def _high_pass(shape: tuple[int, ...], sigma_px: float) -> np.ndarray:
    """Transfer function of "minus the Gaussian low-pass of ``sigma_px``" on an FFT grid."""
    f2 = sum(np.fft.fftfreq(n).reshape([-1 if a == i else 1 for a in range(len(shape))]) ** 2
             for i, n in enumerate(shape))
    return 1.0 - np.exp(-2.0 * np.pi**2 * sigma_px**2 * f2)


def _whole_pixel_displacement(cross_power: np.ndarray) -> np.ndarray:
    """Displacement (whole pixels) at the cross-correlation's maximum (as scikit-image's, negated)."""
    from scipy import fft

    cc = fft.ifftn(cross_power, workers=-1).real
    shape = np.array(cc.shape)
    peak = np.array(np.unravel_index(int(np.argmax(cc)), cc.shape))
    peak = np.where(peak > shape // 2, peak - shape, peak)
    return -peak.astype(np.float64)


def _information_box(frame: np.ndarray, crop: tuple[int, ...]) -> tuple[int, ...]:
    """Start (per axis) of the ``crop`` box of ``frame`` where band-passed contrast is strongest.

    Scored on a strided copy (at most ~64 samples per axis): the local energy of the
    gradient of the frame minus its low-pass, summed over the box.
    """
    from scipy import ndimage

    shape = frame.shape
    step = max(1, int(np.ceil(max(shape) / 64)))
    sub = _prepare(np.asarray(frame[tuple(slice(None, None, step) for _ in shape)]))
    sigma = max(crop) / step / 8.0
    band = sub - ndimage.gaussian_filter(sub, sigma, mode="nearest")
    grad = ndimage.gaussian_gradient_magnitude(band, 1.0) ** 2
    box = tuple(max(1, c // step) for c in crop)
    score = ndimage.uniform_filter(grad, box, mode="constant")
    centre = np.array(np.unravel_index(int(np.argmax(score)), score.shape)) * step
    return tuple(int(np.clip(c - k // 2, 0, n - k)) for c, k, n in zip(centre, crop, shape))


def _read_box(frame: Any, start: tuple[int, ...], crop: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The ``crop`` box of ``frame`` at ``start`` clipped into the frame, and where it started."""
    start = np.array([int(np.clip(a, 0, n - k)) for a, k, n in zip(start, crop, frame.shape)])
    return np.asarray(frame[tuple(slice(a, a + k) for a, k in zip(start, crop))]), start


def estimate_shifts(
    stack: Any,
    energy: Any = None,
    *,
    reference: Any = None,
    upsample_factor: int = 20,
    refine: bool = True,
    crop_px: int | None = ESTIMATE_CROP_PX,
    show_progress: bool | None = None,
) -> np.ndarray:
    """Displacement of every frame relative to the reference frame (see module docstring).

    Parameters
    ----------
    upsample_factor : int
        Grid of scikit-image's upsampled cross-correlation, ``1 / upsample_factor`` pixel.
    refine : bool
        Refine that estimate off the grid: the vertex of a quadratic fitted to the exact
        cross-correlation at ``3**ndim`` points around it, twice (spacings
        ``1 / upsample_factor`` then a tenth of it; :func:`_refine_peak`). Costs about
        one FFT per frame; on the twin the worst error drops from 0.027 px (the grid's
        half step) to under 0.01 px.
    crop_px : int or None
        Volumes (3D frames) larger than this along any axis are registered on a box of
        this size where the reference's contrast is strongest (module docstring,
        "Scaling"); None registers whole frames whatever their size.

    Returns
    -------
    numpy.ndarray
        ``(E, ndim)`` float64 pixels.
    """
    array, energy, _ = split_input(stack, energy)
    if array.ndim not in (3, 4):
        raise InputError(f"align needs (E, y, x) or (E, z, y, x); got shape {array.shape}")
    if crop_px is not None and (not isinstance(crop_px, (int, np.integer)) or crop_px < 8):
        raise InputError(f"crop_px={crop_px!r}: an integer >= 8 (pixels per axis of the box registered), or None")
    iref = _reference_index(energy, reference)
    space = array.shape[1:]
    shifts = np.zeros((len(energy), array.ndim - 1))
    frames = progress(range(len(energy)), "aligning energies", enabled=show_progress, unit="energy")
    if crop_px is None or len(space) < 3 or max(space) <= crop_px:  # 2D frames: whole (cheap)
        # the reference's FFT once; scikit-image takes spectra with space="fourier"
        ref_f = np.fft.fftn(_prepare(np.asarray(array[iref])))
        for i in frames:
            if i != iref:
                moving_f = np.fft.fftn(_prepare(np.asarray(array[i])))
                shifts[i] = _displacement(ref_f, moving_f, upsample_factor, refine)
        return shifts
    from scipy import fft

    crop = tuple(min(int(crop_px), n) for n in space)
    sigma = max(crop) / 8.0  # the low-pass removed: structure larger than ~1/8 of the box
    ref_frame = np.asarray(array[iref])
    start = np.array(_information_box(ref_frame, crop))
    ref_box = ref_frame[tuple(slice(a, a + k) for a, k in zip(start, crop))]
    del ref_frame  # only the box is kept
    # band-pass (the box minus its low-pass) of both boxes: the transfer squared, once
    ref_band_f = fft.fftn(_windowed_cube(ref_box), workers=-1) * _high_pass(crop, sigma) ** 2
    ref_f = fft.fftn(_prepare(ref_box), workers=-1)
    for i in frames:
        if i == iref:
            continue
        box, at = _read_box(array[i], start, crop)
        first = _whole_pixel_displacement(ref_band_f * fft.fftn(_windowed_cube(box), workers=-1).conj())
        # again where the content moved to (whole pixels), neither windowed nor band-passed:
        # the two boxes then hold the same content but for a sub-pixel residual, and every
        # spatial frequency weighs in it (on the twin, band-pass and window cost 3-6x the
        # precision: worst 0.04-0.06 px against 0.013 px)
        box, at = _read_box(array[i], start + np.round(first).astype(int), crop)
        residual = _displacement(ref_f, fft.fftn(_prepare(box), workers=-1), upsample_factor, refine)
        shifts[i] = (at - start) + residual
    return shifts


def _displacement(ref_f: np.ndarray, moving_f: np.ndarray, upsample_factor: int, refine: bool) -> np.ndarray:
    """Displacement of the moving frame relative to the reference, from their spectra."""
    from skimage.registration import phase_cross_correlation

    shift, _, _ = phase_cross_correlation(ref_f, moving_f, upsample_factor=upsample_factor,
                                          normalization=None, space="fourier")
    shift = np.asarray(shift, np.float64)
    if refine:
        shift = _refine_peak(ref_f * moving_f.conj(), shift, 1.0 / upsample_factor)
    return -shift  # skimage returns the correction; we report the displacement


@functools.lru_cache(maxsize=None)
def _quadratic_design(ndim: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Points ``{-1, 0, 1}**ndim`` and the pseudo-inverse of a full quadratic's design."""
    points = np.stack(np.meshgrid(*[np.arange(-1.0, 2.0)] * ndim, indexing="ij"), -1).reshape(-1, ndim)
    pairs = [(a, b) for a in range(ndim) for b in range(a, ndim)]
    design = np.column_stack([np.ones(len(points)), points] + [points[:, a] * points[:, b] for a, b in pairs])
    return points, np.linalg.pinv(design), pairs


def _refine_peak(cross_power: np.ndarray, start: np.ndarray, step: float) -> np.ndarray:
    """Sub-pixel maximum of the cross-correlation ``c(t) = Re sum_k X(k) exp(2 pi i k.t / N)``.

    ``c`` is evaluated exactly (a matrix DFT, separable per axis, as scikit-image's
    upsampled DFT) on a ``3**ndim`` grid of spacing ``step`` around ``start``; the vertex
    of the least-squares quadratic through those values is the new estimate, then again
    with a tenth of the spacing. A step that would leave the grid (not a maximum there)
    moves to the grid's best point instead. Returns ``(ndim,)`` pixels, in the frame of
    ``start`` (scikit-image's ``shift``).
    """
    ndim = cross_power.ndim
    freqs = [np.fft.fftfreq(n) for n in cross_power.shape]  # cycles per pixel
    points, pinv, pairs = _quadratic_design(ndim)
    t = np.asarray(start, np.float64).copy()
    for h in (step, step / 10.0):
        for _ in range(3):  # a few moves if the peak is not inside the grid yet
            values = cross_power
            for axis in range(ndim - 1, -1, -1):  # contract the last axis with its 3 phases
                offsets = t[axis] + h * np.arange(-1.0, 2.0)
                kernel = np.exp(2j * np.pi * np.outer(freqs[axis], offsets))  # (N, 3)
                values = np.tensordot(values, kernel, axes=([axis], [0]))
                values = np.moveaxis(values, -1, axis)
            c = values.real.reshape(-1)
            coef = pinv @ c
            grad = coef[1 : ndim + 1]
            hess = np.zeros((ndim, ndim))
            for (a, b), v in zip(pairs, coef[ndim + 1 :]):
                hess[a, b] += v
                hess[b, a] += v
            try:
                negative = bool(np.all(np.linalg.eigvalsh(hess) < 0))
                delta = -np.linalg.solve(hess, grad) if negative else None
            except np.linalg.LinAlgError:
                delta = None
            if delta is not None and np.all(np.abs(delta) <= 1.0):
                t = t + h * delta
                break
            t = t + h * points[int(np.argmax(c))]
    return t


def _fourier_unshift(frame: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``frame`` moved by ``-s`` pixels: a Fourier shift of the edge-padded frame, float32.

    Single precision (float32 in, complex64 spectrum, ~1e-7 relative rounding, far below
    any measured noise) and the phase ramp applied in place axis by axis: about four of the
    padded frame in memory, where the float64 ``ndimage.fourier_shift`` held ~10.
    """
    from scipy import fft

    pad = int(np.ceil(np.abs(s).max())) + 4
    # edge padding: no wrap-around of the far edge into view; an odd length per axis: no
    # Nyquist bin, whose fractional-shift phase a real transform cannot hold (with an even
    # length a shift and its inverse lose that frequency; with an odd one they are exact)
    padded = np.pad(np.asarray(frame, np.float32), [(pad, pad + 1 - n % 2) for n in frame.shape], mode="edge")
    spectrum = fft.rfftn(padded, workers=-1)
    shape = padded.shape
    del padded
    for axis, n in enumerate(shape):
        freq = fft.rfftfreq(n) if axis == len(shape) - 1 else fft.fftfreq(n)  # cycles per pixel
        ramp = np.exp(2j * np.pi * freq * float(s[axis])).astype(np.complex64)  # moves by -s
        view = [1] * len(shape)
        view[axis] = ramp.size
        spectrum *= ramp.reshape(view)
    out = fft.irfftn(spectrum, s=shape, workers=-1)
    return out[tuple(slice(pad, pad + n) for n in frame.shape)]


def common_fov_slices(shape: tuple[int, ...], shifts: Any, margin: int = 1) -> tuple[slice, ...]:
    """The part of the reference frame every displaced frame covered, as slices.

    Frame ``i`` moved by ``s = shifts[i]`` holds at ``x`` what the reference holds at
    ``x - s``: once moved back, its last ``ceil(s)`` pixels along an axis (its first
    ``ceil(-s)`` for a negative shift) have no measured content (edge padding or
    wrap-around stands in), so a spectrum there mixes measured and made-up values. Cut
    the largest such band over all frames on each side, plus ``margin`` pixels for the
    interpolation's reach (ringing of the Fourier shift, a spline's support).

    Parameters
    ----------
    shape : tuple of int
        Spatial shape of a frame, ``(y, x)`` or ``(z, y, x)``.
    shifts : array-like
        ``(E, ndim)`` displacements (pixels), as :func:`estimate_shifts` returns them.
    margin : int
        Extra pixels cut on each side that has a band.
    """
    shifts = np.asarray(shifts, np.float64).reshape(-1, len(shape))
    out = []
    for axis, n in enumerate(shape):
        s = shifts[:, axis]
        high = int(np.ceil(max(s.max(), 0.0) - 1e-6))
        low = int(np.ceil(max(-s.min(), 0.0) - 1e-6))
        high += margin if high else 0
        low += margin if low else 0
        out.append(slice(min(low, n), max(n - high, min(low, n))))
    return tuple(out)


def apply_shifts(stack: Any, shifts: Any, *, method: str = "fourier", order: int = 3,
                 mode: str = "nearest", fov: str = "common") -> Any:
    """Undo displacements: frame ``i`` is moved by ``-shifts[i]``.

    Parameters
    ----------
    stack : array-like, dask array or xarray.DataArray
        ``(E, ...)``, energy first.
    shifts : array-like
        ``(E, ndim)`` displacements (pixels).
    method : {"fourier", "spline"}
        Fourier shift of the edge-padded frame (default; no blur), or spline interpolation.
        With ``order=3`` and ``mode="nearest"`` (the defaults) the spline is the streamed
        pipeline's (:func:`~batteryzoom.xanes.aligned_edge_maps`): the whole pixels read
        displaced, the rest a separable cubic B-spline (a NaN stays NaN at its displaced
        place); other orders and modes run ``scipy.ndimage.shift``.
    order : int
        Spline order (``method="spline"``).
    mode : str
        Edge handling of ``scipy.ndimage.shift`` (``method="spline"``).
    fov : {"common", "full"}
        ``"common"`` (default): NaN outside the field of view every frame covered
        (:func:`common_fov_slices`), in every frame: near the border some frames' content
        came from outside the field of view, and the spectra there carry per-energy
        artefacts (downstream those voxels are invalid, never averaged into a grain or
        fitted by a PCA). ``"full"``: keep every pixel as shifted.

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
    if fov not in ("common", "full"):
        raise InputError(f"fov={fov!r}: use 'common' (NaN outside the field of view every frame covered) or 'full'")
    keep = common_fov_slices(array.shape[1:], shifts) if fov == "common" else None
    if keep is not None and all(k == slice(0, n) for k, n in zip(keep, array.shape[1:])):
        keep = None  # every frame covered the whole field

    # the cubic spline with edge extension is the streamed pipeline's block-local shift
    # (._blockshift): the same function on the whole frame, so both give the same values
    cubic = method == "spline" and order == 3 and mode == "nearest"

    def moved_back(frame, s):
        f = np.asarray(frame, np.float32)
        if not np.any(s):
            return f
        if cubic:
            return aligned_block(f[None], s[None], (0,) * f.ndim, f.shape, None)[0]
        nan = ~np.isfinite(f)
        filled = np.where(nan, np.nanmean(f) if (~nan).any() else 0, f)
        if method == "fourier":
            out = _fourier_unshift(filled, s)
        else:
            out = ndimage.shift(filled, -s, order=order, mode=mode)
        out = out.astype(np.float32, copy=False)
        out[nan] = np.nan  # a NaN stays visible (masked downstream), at its original place
        return out

    def one(frame, s):
        f = moved_back(frame, s)
        if keep is not None:
            if not np.any(s):
                f = f.copy()  # the unshifted frame may be the caller's own array
            for axis, k in enumerate(keep):  # the bands outside, slab by slab
                before = (slice(None),) * axis
                f[before + (slice(0, k.start),)] = np.nan
                f[before + (slice(k.stop, None),)] = np.nan
        return f

    if is_dask(array):
        import dask.array as da

        arr = array.rechunk((1,) + array.shape[1:])
        out = da.map_blocks(lambda b, block_info=None: one(b[0], shifts[block_info[0]["chunk-location"][0]])[None],
                            arr, dtype=np.float32)
    else:  # one energy at a time into the output: never a list of frames beside it
        out = np.empty(array.shape, np.float32)
        for i in range(array.shape[0]):
            out[i] = one(array[i], shifts[i])
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
    fov: str = "common",
    crop_px: int | None = ESTIMATE_CROP_PX,
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
        Grid of the sub-pixel search, ``1 / upsample_factor`` pixel, refined off the grid
        (:func:`estimate_shifts`, ``refine=True``).
    method : {"fourier", "spline"}
        How frames are shifted back (see :func:`apply_shifts`).
    fov : {"common", "full"}
        ``"common"`` (default): NaN outside the field of view every frame covered, whose
        spectra mix measured and padded values (:func:`apply_shifts`).
    crop_px : int or None
        Volumes larger than this (pixels, any axis) are registered on a box of this size
        where the contrast is (:func:`estimate_shifts`; module docstring,
        "Scaling"); None: whole frames.

    Returns
    -------
    (aligned, shifts)
        ``aligned``: same kind and shape as ``stack``, float32. ``shifts``: ``(E, ndim)``
        float64 pixels, the displacement of each frame relative to the reference.

    Examples
    --------
    Two frames of a textured field, the first moved by (1.5, -0.75) pixels:

    >>> import numpy as np, batteryzoom as bz
    >>> from scipy import ndimage
    >>> frame = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=(48, 48)), 2)
    >>> moved = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(frame), (1.5, -0.75))).real
    >>> aligned, shifts = bz.xanes.align(np.stack([moved, frame]), [8330.0, 8350.0], show_progress=False)
    >>> shifts.round(2)
    array([[ 1.5 , -0.75],
           [ 0.  ,  0.  ]])
    """
    shifts = estimate_shifts(stack, energy, reference=reference, upsample_factor=upsample_factor,
                             crop_px=crop_px, show_progress=show_progress)
    return apply_shifts(stack, shifts, method=method, fov=fov), shifts
