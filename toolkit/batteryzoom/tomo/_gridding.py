"""Back-projection by non-uniform FFT (gridding): the fast path of filtered back-projection.

The filtered sinogram of one angle is band-limited to the detector's sampling, so it equals
its trigonometric interpolation: with ``Q_k`` the FFT of the filtered row zero-padded to
``M`` columns,

    q_θ(u) = (1/M) Σ_k Q_θ,k · exp(2πi k u / M),   u = x·cos θ − y·sin θ + centre,

and the back-projection ``f(y, x) = Σ_θ w_θ q_θ(u)`` becomes one sum of complex
exponentials over the points ``(k cos θ, −k sin θ)·2π/M`` of the Fourier plane, evaluated
on the ``n × n`` grid of pixels: a type-1 non-uniform FFT (finufft, Barnett et al. 2019),
``O(M·angles + n² log n)`` instead of ``O(n²·angles)``. The geometry, weights and filters
are those of :func:`batteryzoom.tomo._projector.back_project` (pixel ``(yi, xi)`` at
``x = xi − (n − 1)/2``, ``y = yi − (n − 1)/2``); only the interpolation along the detector
differs: band-limited (exact for the sampled data) instead of linear. Outside the detector
the row is zero, as in the linear back-projection.

Precision: single precision with a requested relative error of 1e-4 of the sum's ℓ1 norm
(finufft's ``eps``), far below the noise of any measured sinogram; ``upsampfac=1.25``
(finufft's low-precision setting: a 1.25 n fine grid instead of 2 n, about half the time).
The real signal's Hermitian symmetry halves the points: only ``k ≥ 0`` are spread, ``k > 0``
counted twice (the real part of the sum is the image).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _blocks

#: finufft's requested precision (relative to the ℓ1 norm of the strengths)
EPS = 1e-4
#: finufft's upsampling factor for that precision (its documented fast choice below 1e-8)
UPSAMPFAC = 1.25


def padded_width(ncol: int, centre: float, n: int) -> int:
    """FFT length ``M`` such that every pixel of the slice falls inside ``[−M + ncol, M)``
    on the detector: the periodic interpolation then never wraps a pixel onto the data."""
    from scipy import fft as sfft

    reach = (n - 1) / 2 * math.sqrt(2) + 2  # the slice's corners, in px from the axis
    beyond = max(0.0, reach - centre) + max(0.0, centre + reach - ncol)
    return sfft.next_fast_len(int(math.ceil(max(2 * ncol, ncol + 2 + beyond))))


def back_project(sino: np.ndarray, angles_deg: np.ndarray, centre: float, weights: np.ndarray,
                 n: int) -> np.ndarray:
    """``(nz, n, n)`` float32: Σ_θ w_θ · sino_θ(u(x, y)) with band-limited interpolation.

    Parameters
    ----------
    sino : numpy.ndarray, float32, (angle, nz, col)
        Filtered sinograms (:func:`batteryzoom.tomo._projector.filter_sinograms`).
    angles_deg : numpy.ndarray, (angle,)
        Angles in degrees (any spacing).
    centre : float
        Rotation axis in detector columns (px).
    weights : numpy.ndarray, (angle,)
        The angular interval each projection stands for, radians
        (:func:`batteryzoom.tomo._projector.angle_weights`).
    n : int
        Slice width in px.
    """
    import finufft
    from scipy import fft as sfft

    sino = np.asarray(sino, np.float32)
    n_angle, nz, ncol = sino.shape
    m = padded_width(ncol, float(centre), int(n))
    spec = sfft.rfft(sino, n=m, axis=-1, workers=_blocks.n_threads())  # (angle, nz, m // 2 + 1)
    k = np.arange(spec.shape[-1], dtype=np.float64)
    theta = np.radians(np.asarray(angles_deg, np.float64))
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    # an even n puts the pixel centres half a pixel off the integer modes finufft returns
    half = 0.5 if n % 2 == 0 else 0.0
    twice = np.full(k.size, 2.0)  # k and -k: complex conjugates, one spread twice
    twice[0] = 1.0
    if m % 2 == 0:
        twice[-1] = 1.0  # the Nyquist term has no partner
    phase = np.exp(2j * np.pi / m * k[None, :] * (float(centre) + half * (cos_t - sin_t))[:, None])
    phase *= (np.asarray(weights, np.float64)[:, None] / m) * twice[None, :]
    spec *= phase[:, None, :].astype(np.complex64)
    strengths = np.ascontiguousarray(np.moveaxis(spec, 1, 0).reshape(nz, -1))
    x_pts = (2 * np.pi / m * k[None, :] * cos_t[:, None]).astype(np.float32).ravel()
    y_pts = (-2 * np.pi / m * k[None, :] * sin_t[:, None]).astype(np.float32).ravel()
    out = finufft.nufft2d1(y_pts, x_pts, strengths, (n, n), eps=EPS, isign=1,
                           nthreads=_blocks.n_threads(), upsampfac=UPSAMPFAC)
    return np.ascontiguousarray(out.real, dtype=np.float32).reshape(nz, n, n)
