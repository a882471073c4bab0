"""Reconstruction of slices from sinograms: filtered back-projection, direct Fourier
inversion, SIRT, and scikit-image's ``iradon`` as the reference.

Methods
-------
``"fbp"``
    Filtered back-projection: the exact discrete ramp filter (× the window of
    ``filter_name``, :func:`skimage.transform.iradon`'s windows) and a compiled
    pixel-driven back-projection with linear interpolation, parallel over image rows
    (:mod:`batteryzoom._kernels.tomo`). Equal to ``iradon`` on the same sinogram to float
    rounding (tested); angles may be irregular (each weighted by the interval it covers).
    algotom's own CPU ``fbp_reconstruction`` is not called: its back-projection races
    between numba threads (see the kernels' module).
``"gridding"``
    The same filtered back-projection computed in Fourier space: the back-projection is a
    type-1 non-uniform FFT of the filtered rows' spectra (finufft; see
    :mod:`batteryzoom.tomo._gridding`), band-limited interpolation along the detector
    instead of linear. The fast path: 0.06× ``iradon``'s time on 512 px × 720 angles (``make
    bench``), equal to ``"fbp"`` within the difference of the two interpolations (tested);
    any angles, 360° scans, any slice size.
``"fourier"``
    Direct Fourier inversion, algotom's ``dfi_reconstruction`` (Fourier-slice theorem,
    5th-order spline gridding; evenly spaced angles only).
``"sirt"``
    Simultaneous iterative reconstruction (x ← x + C·Aᵀ·R·(b − A·x), R and C the inverse
    row and column sums of the projector A), for few or noisy angles; optional
    non-negativity. A is the exact adjoint of the back-projection above.
``"iradon"``
    :func:`skimage.transform.iradon` (the baseline the others are tested against; the
    sinogram is shifted so the axis sits on its centre column ``ncol // 2``).

Geometry and units
------------------
Sinograms are ``(angle, col)`` or a stack ``(angle, nz, col)`` of optical densities
(``-ln(I/I0)``, float), angles in degrees, ``centre`` the rotation axis in detector
columns (px, 0 = centre of the first column). Slices are ``n × n`` pixels centred on the
axis (``n = ncol`` by default), pixel size = detector pixel, values in 1/px (the linear
attenuation coefficient times the pixel size; divide by the pixel size in µm for 1/µm,
as :func:`batteryzoom.tomo.reconstruct` does).

A 360° scan (angles spanning 360°) is folded into a 180° one first: each angle is paired
with the mirrored view 180° later, so an offset axis (half-acquisition) doubles the field
of view (see :func:`batteryzoom.tomo._projector.sinogram_360_to_180`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import _blocks
from ..errors import InputError
from . import _gridding
from . import _projector as P

__all__ = ["reconstruct_slices", "METHODS", "FILTERS", "scan_type", "project"]

METHODS = ("fbp", "gridding", "fourier", "sirt", "iradon")
FILTERS = P.FILTERS
_DFI_FILTERS = {"ramp": None, "hann": "hann", "hamming": "hamming"}


def scan_type(angles_deg: Any, scan: str = "auto", *, where: str = "angles") -> str:
    """``"180"`` or ``"360"``: what a scan is, checked against what the caller says.

    A scan covering at least 360° − 1.5 steps is a 360° scan; less, a 180° scan (spans
    between 180° and 360° are reconstructed as 180° scans with redundant angles weighted).

    Raises
    ------
    InputError
        ``scan="180"`` for angles covering 360° (a 360° scan treated as 180° would
        superpose mirrored halves), ``scan="360"`` for fewer, or a scan of less than 180°
        − 1.5 steps, which no parallel-beam method reconstructs.
    """
    a = np.asarray(angles_deg, dtype=np.float64)
    if scan not in ("auto", "180", "360"):
        raise InputError(f"scan={scan!r}: choose 'auto', '180' or '360'")
    span = P.scan_span_deg(a)
    step = span / max(a.size, 1)
    kind = "360" if span >= 360.0 - 1.5 * step else "180"
    if span < 180.0 - 1.5 * step:
        raise InputError(f"{where}: the angles cover {span:.4g}° ({a.size} angles); a parallel-beam "
                         "reconstruction needs at least 180°. Check the angle unit (radians read as "
                         "degrees?) or pass every projection")
    if scan != "auto" and scan != kind:
        if scan == "180":
            raise InputError(f"{where}: the angles cover {span:.4g}°, a 360° scan, but scan='180' was "
                             "asked: a 360° scan treated as 180° superposes mirrored halves. Pass "
                             "scan='360' (or 'auto'), or keep only the first 180° of angles")
        raise InputError(f"{where}: scan='360' but the angles cover only {span:.4g}°; pass scan='180' "
                         "or 'auto'")
    return kind


def _check(sino: Any, angles_deg: Any, centre: float, where: str) -> tuple[np.ndarray, np.ndarray, bool]:
    s = np.asarray(sino)
    squeeze = s.ndim == 2
    if squeeze:
        s = s[:, None, :]
    if s.ndim != 3:
        raise InputError(f"{where}: expected sinograms (angle, col) or (angle, slice, col), got shape "
                         f"{tuple(np.shape(sino))}")
    a = np.asarray(angles_deg, dtype=np.float64).ravel()
    if a.size != s.shape[0]:
        raise InputError(f"{where}: {a.size} angles for {s.shape[0]} projections; give one angle "
                         "(degrees) per sinogram row")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{where}: angles must be finite (degrees)")
    s = np.asarray(s, dtype=np.float32)
    bad = int(np.size(s) - np.count_nonzero(np.isfinite(s)))
    if bad:
        raise InputError(f"{where}: {bad} non-finite values (NaN/inf) in the sinograms; normalise with "
                         "bz.tomo.normalize (it floors non-positive counts) or fill them first")
    ncol = s.shape[-1]
    c = float(centre)
    if not np.isfinite(c) or c < 0 or c > ncol - 1:
        raise InputError(f"{where}: centre={centre!r} px is outside the detector (0 … {ncol - 1} px); give "
                         "the rotation axis in detector columns, or centre=None to find it")
    return s, a, squeeze


def reconstruct_slices(
    sinograms: Any,
    angles_deg: Any,
    centre: float,
    *,
    method: str = "fbp",
    filter_name: str = "ramp",
    scan: str = "auto",
    size: int | None = None,
    iterations: int = 100,
    nonnegative: bool = True,
    where: str = "sinograms",
) -> np.ndarray:
    """Reconstruct slices from sinograms (module docstring: methods, geometry, units).

    Parameters
    ----------
    sinograms : array-like, (angle, col) or (angle, nz, col)
        Optical densities ``-ln(I/I0)`` (float), one sinogram per slice.
    angles_deg : array-like, (angle,)
        Rotation angles in degrees.
    centre : float
        Rotation axis in detector columns (px), inside the detector.
    method : {"fbp", "gridding", "fourier", "sirt", "iradon"}
    filter_name : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        Window on the ramp filter (fbp, gridding, iradon; fourier takes ramp, hann,
        hamming).
    scan : {"auto", "180", "360"}
        What the scan is (:func:`scan_type`); ``"auto"`` reads it from the angles.
    size : int, optional
        Slice width in px; default the detector width (180°) or the folded
        width (360°).
    iterations : int
        SIRT iterations.
    nonnegative : bool
        SIRT: clip negative attenuation after each iteration.
    where : str
        How to name the input in messages.

    Returns
    -------
    numpy.ndarray, float32, (n, n) or (nz, n, n)
        Slices in 1/px, centred on the axis (row = y, column = x).

    Raises
    ------
    InputError
        Angles and projections of different lengths, non-finite values, a centre outside
        the detector, a 360° scan treated as 180°, an unknown method or filter, uneven
        angles for the Fourier method.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.tomo import reconstruct_slices
    >>> from batteryzoom.tomo.reconstruction import project
    >>> disc = (np.hypot(*np.mgrid[-32:33, -32:33]) < 20).astype(np.float32) * 0.01
    >>> angles = np.arange(0, 180, 1.0)
    >>> sino = project(disc, angles, centre=32.0, ncol=65)
    >>> sino.shape
    (180, 65)
    >>> rec = reconstruct_slices(sino, angles, centre=32.0)
    >>> rec.shape, round(float(rec[32, 32]), 3)
    ((65, 65), 0.01)
    """
    if method not in METHODS:
        raise InputError(f"method={method!r}: choose one of {METHODS}")
    if filter_name not in FILTERS:
        raise InputError(f"filter_name={filter_name!r}: choose one of {FILTERS}")
    s, a, squeeze = _check(sinograms, angles_deg, centre, where)
    c = float(centre)
    if scan_type(a, scan, where=f"{where}: angles") == "360":
        s, a, c = P.sinogram_360_to_180(s, a, c)
    ncol = s.shape[-1]
    n = int(size) if size is not None else ncol
    if n < 1:
        raise InputError(f"size={size!r}: the slice width must be a positive number of pixels")
    if method == "fbp":
        out = P.back_project(P.filter_sinograms(s, filter_name), a, c, P.angle_weights(a), n)
    elif method == "gridding":
        out = _gridding.back_project(P.filter_sinograms(s, filter_name), a, c, P.angle_weights(a), n)
    elif method == "sirt":
        out = sirt(s, a, c, n, iterations=iterations, nonnegative=nonnegative)
    elif method == "fourier":
        out = _dfi(s, a, c, filter_name, size, where)
    else:
        out = _iradon(s, a, c, filter_name, size, where)
    return out[0] if squeeze else out


def project(slices: Any, angles_deg: Any, centre: float, ncol: int) -> np.ndarray:
    """Parallel-beam projection of slices: line integrals in px (the adjoint of the
    back-projection; used for simulations, SIRT and jitter correction).

    Parameters
    ----------
    slices : array-like, (n, n) or (nz, n, n)
        Attenuation per pixel, centred on the axis.
    angles_deg : array-like, (angle,)
    centre : float
        Where the axis falls on the detector (columns, px).
    ncol : int
        Detector width (px).

    Returns
    -------
    numpy.ndarray, float32, (angle, ncol) or (angle, nz, ncol)
    """
    v = np.asarray(slices, np.float32)
    squeeze = v.ndim == 2
    if squeeze:
        v = v[None]
    if v.ndim != 3 or v.shape[1] != v.shape[2]:
        raise InputError(f"slices: expected (n, n) or (nz, n, n) square slices, got shape {np.shape(slices)}")
    out = P.project(v, np.asarray(angles_deg, np.float64), float(centre), int(ncol))
    return out[:, 0] if squeeze else out


def sirt(sino: np.ndarray, angles_deg: np.ndarray, centre: float, n: int, *, iterations: int = 100,
         nonnegative: bool = True) -> np.ndarray:
    """SIRT on ``(angle, nz, col)`` sinograms; ``(nz, n, n)`` slices in 1/px."""
    if int(iterations) < 1:
        raise InputError(f"iterations={iterations!r}: SIRT needs at least one iteration")
    ncol = sino.shape[-1]
    ones = np.ones((1, n, n), np.float32)
    row_sum = P.project(ones, angles_deg, centre, ncol)[:, 0]
    unit = np.ones(len(angles_deg), np.float32)
    col_sum = P.back_project(np.ones((len(angles_deg), 1, ncol), np.float32), angles_deg, centre, unit, n)[0]
    with np.errstate(divide="ignore"):
        r_inv = np.where(row_sum > 1e-3, 1.0 / row_sum, 0.0).astype(np.float32)[:, None, :]
        c_inv = np.where(col_sum > 1e-3, 1.0 / col_sum, 0.0).astype(np.float32)[None]
    x = np.zeros((sino.shape[1], n, n), np.float32)
    for _ in range(int(iterations)):
        resid = (sino - P.project(x, angles_deg, centre, ncol)) * r_inv
        x += c_inv * P.back_project(resid, angles_deg, centre, unit, n)
        if nonnegative:
            np.maximum(x, 0, out=x)
    return x


def _dfi(s: np.ndarray, a: np.ndarray, c: float, filter_name: str, size: int | None, where: str) -> np.ndarray:
    from algotom.rec.reconstruction import dfi_reconstruction

    if filter_name not in _DFI_FILTERS:
        raise InputError(f"filter_name={filter_name!r}: the Fourier method takes {tuple(_DFI_FILTERS)}")
    width = s.shape[-1]
    n = width if size is None else int(size)
    # algotom's DFI reconstructs on the sinogram's width, centred on the axis: pad the
    # detector (edge values) to the size asked, or to the parity of a smaller size and crop
    grow = max(n - width, (n - width) % 2)
    if grow:
        left = grow // 2
        s = np.pad(s, ((0, 0), (0, 0), (left, grow - left)), mode="edge")
        c += left
    order = np.argsort(a, kind="stable")
    a, s = a[order], s[order]
    steps = np.diff(a)
    if a.size > 2 and not np.allclose(steps, np.median(steps), rtol=0.02, atol=1e-3):
        raise InputError(f"{where}: method='fourier' needs evenly spaced angles (steps from "
                         f"{steps.min():.4g}° to {steps.max():.4g}°); use method='fbp'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # algotom's undersampling/log notices: checked above
        rec = dfi_reconstruction(np.ascontiguousarray(s), c, angles=np.radians(a), ratio=None,
                                 filter_name=_DFI_FILTERS[filter_name], apply_log=False,
                                 ncore=_blocks.n_threads())
    rec = np.asarray(rec, np.float32)
    rec = np.moveaxis(rec, 1, 0) if rec.ndim == 3 else rec[None]
    k = (rec.shape[-1] - n) // 2
    return np.ascontiguousarray(rec[:, k:k + n, k:k + n])


def _iradon(s: np.ndarray, a: np.ndarray, c: float, filter_name: str, size: int | None, where: str) -> np.ndarray:
    from scipy import ndimage as ndi
    from skimage.transform import iradon

    ncol = s.shape[-1]
    shift = ncol // 2 - c  # iradon's axis is column ncol // 2
    out = []
    for z in range(s.shape[1]):
        sino = ndi.shift(s[:, z, :], (0, shift), order=1, mode="constant") if shift else s[:, z, :]
        out.append(iradon(sino.T, a, output_size=size or ncol, filter_name=filter_name, circle=True))
    return np.asarray(out, np.float32)
