"""Single-distance phase retrieval (Paganin) for propagation-based (holo)tomography.

For a homogeneous object (one δ/β) imaged at a distance D from the sample, the transport-
of-intensity equation gives, in Fourier space (Paganin et al., J. Microsc. 206, 33 (2002),
eq. 10),

    F[I_D / I_0](k) = F[exp(-μT)](k) · (1 + π · λ · D · (δ/β) · |k|²)

with k in cycles per length, λ = hc / E, T the projected thickness and μ = 4πβ/λ. So each
flat-normalised projection is divided in Fourier space by that factor and ``-ln`` of the
result is μT, the quantity a reconstruction of attenuation expects; the phase shift is
φ = -(δ/β) · μT / 2.

The filter is the one of nabu (ESRF; ``nabu/preproc/phase.py``,
``PaganinPhaseRetrieval.compute_filter``: ``1 / (1 + delta_beta · wavelength · distance ·
π · (fx² + fy²))`` with ``fftfreq`` frequencies in 1/µm, wavelength = 1.23984199e-3 /
E[keV] µm, edge padding to at least twice each side), written here with numpy/scipy.fft;
tests/tomo/test_phase.py checks it against a transcription of nabu's steps and against a
simulated Fresnel propagation of a known object.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _kernels
from ..errors import InputError

__all__ = ["paganin", "paganin_filter", "wavelength_um"]

HC_EV_UM = 1.23984198  # h·c in eV·µm


def wavelength_um(energy_ev: float) -> float:
    """X-ray wavelength (µm) at ``energy_ev`` (eV)."""
    return HC_EV_UM / float(energy_ev)


def _padded_shape(shape: tuple[int, int]) -> tuple[int, int]:
    from scipy import fft as sfft

    return tuple(sfft.next_fast_len(2 * n, real=True) for n in shape)  # type: ignore[return-value]


def paganin_filter(shape: tuple[int, int], *, delta_beta: float, distance_m: float, energy_ev: float,
                   pixel_size_um: float) -> np.ndarray:
    """The filter ``1 / (1 + π λ D (δ/β) |k|²)`` on the ``rfft2`` grid of ``shape``
    (float64, ``(shape[0], shape[1] // 2 + 1)``); k from ``fftfreq`` in 1/µm."""
    fy = np.fft.fftfreq(shape[0], d=pixel_size_um)
    fx = np.fft.rfftfreq(shape[1], d=pixel_size_um)
    k2 = fy[:, None] ** 2 + fx[None, :] ** 2
    return 1.0 / (1.0 + delta_beta * wavelength_um(energy_ev) * distance_m * 1e6 * np.pi * k2)


def paganin(
    transmission: Any,
    *,
    delta_beta: float,
    distance_m: float,
    energy_ev: float,
    pixel_size_um: float,
    padding: str = "edge",
    output: str = "attenuation",
) -> np.ndarray:
    """Paganin phase retrieval of flat-normalised projections (module docstring).

    Parameters
    ----------
    transmission : array-like, (row, col) or (n, row, col)
        ``I / I0`` (dark- and flat-corrected, not logged), float.
    delta_beta : float
        δ/β of the (single) material, > 0.
    distance_m : float
        Effective sample–detector propagation distance (m), > 0.
    energy_ev : float
        Photon energy (eV).
    pixel_size_um : float
        Pixel size at the sample (µm).
    padding : {"edge", "reflect", "symmetric", "zeros"}
        How each projection is padded to twice its size before the FFT.
    output : {"attenuation", "phase"}
        ``"attenuation"``: μT = -ln(filtered), dimensionless (feed it to the
        reconstruction as optical density); ``"phase"``: φ = -(δ/β)·μT/2 in radians.

    Returns
    -------
    numpy.ndarray, float32, same shape

    Raises
    ------
    InputError
        Non-positive parameters, an unknown padding or output, not 2 or 3 axes.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.tomo import paganin
    >>> flat = np.full((32, 32), 0.8)  # a uniform 20 % absorber: the filter keeps it
    >>> out = paganin(flat, delta_beta=500, distance_m=0.1, energy_ev=17_000, pixel_size_um=1.0)
    >>> round(float(out.mean()), 4), round(float(-np.log(0.8)), 4)
    (0.2231, 0.2231)
    """
    from scipy import fft as sfft

    for name, value in (("delta_beta", delta_beta), ("distance_m", distance_m), ("energy_ev", energy_ev),
                        ("pixel_size_um", pixel_size_um)):
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"{name}={value!r}: must be a positive number")
    modes = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric", "zeros": "constant"}
    if padding not in modes:
        raise InputError(f"padding={padding!r}: choose one of {tuple(modes)}")
    if output not in ("attenuation", "phase"):
        raise InputError(f"output={output!r}: choose 'attenuation' or 'phase'")
    t = np.asarray(transmission, dtype=np.float64)
    squeeze = t.ndim == 2
    if squeeze:
        t = t[None]
    if t.ndim != 3:
        raise InputError(f"transmission: expected (row, col) or (n, row, col), got shape {np.shape(transmission)}")
    rows, cols = t.shape[1:]
    pr, pc = _padded_shape((rows, cols))
    top, left = (pr - rows) // 2, (pc - cols) // 2
    padded = np.pad(t, ((0, 0), (top, pr - rows - top), (left, pc - cols - left)), mode=modes[padding])
    filt = paganin_filter((pr, pc), delta_beta=delta_beta, distance_m=distance_m, energy_ev=energy_ev,
                          pixel_size_um=pixel_size_um)
    spec = sfft.rfft2(padded, axes=(-2, -1), workers=_kernels.n_threads())
    spec *= filt
    back = sfft.irfft2(spec, s=(pr, pc), axes=(-2, -1), workers=_kernels.n_threads())[:, top:top + rows,
                                                                                     left:left + cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        mu_t = -np.log(np.maximum(back, 1e-12))
    out = mu_t if output == "attenuation" else -0.5 * delta_beta * mu_t
    out = out.astype(np.float32)
    return out[0] if squeeze else out
