"""bz.tomo.phase: Paganin's filter equals nabu's (a transcription of its steps), and
recovers a known phase object from a simulated Fresnel propagation within 5 %."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError
from batteryzoom.tomo import paganin


def _nabu_paganin(radio, distance_m, energy_kev, delta_beta, pixel_m, padded_shape):
    """nabu/preproc/phase.py, PaganinPhaseRetrieval (compute_filter, _pad_edge, apply_filter):
    lengths in µm, edge padding centred, rfft2 × 1/(1 + δ/β·λ·D·π·|k|²), crop; then -log."""
    wavelength_um = 1.23984199e-3 / energy_kev
    distance_um = distance_m * 1e6
    pixel_um = pixel_m * 1e6
    ny, nx = radio.shape
    nyp, nxp = padded_shape
    top, left = (nyp - ny) // 2, (nxp - nx) // 2
    padded = np.pad(radio, ((top, nyp - ny - top), (left, nxp - nx - left)), mode="edge")
    fy = np.fft.fftfreq(nyp, d=pixel_um)
    fx = np.fft.rfftfreq(nxp, d=pixel_um)
    k2 = np.add.outer(fy ** 2, fx ** 2)
    filtered = np.fft.irfft2(np.fft.rfft2(padded) / (1 + delta_beta * wavelength_um * distance_um * np.pi * k2),
                             s=(nyp, nxp))
    return -np.log(filtered[top:top + ny, left:left + nx])


def test_filter_equals_nabus():
    from scipy import fft as sfft

    radio = np.exp(-np.random.default_rng(0).uniform(0.1, 0.5, (40, 56)))
    ours = paganin(radio, delta_beta=300, distance_m=0.4, energy_ev=19_000, pixel_size_um=0.65)
    shape = (sfft.next_fast_len(80, real=True), sfft.next_fast_len(112, real=True))
    ref = _nabu_paganin(radio, 0.4, 19.0, 300, 0.65e-6, shape)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_known_phase_object_from_a_fresnel_propagation_within_5_percent():
    n, pixel_um, energy_ev, distance_m = 256, 0.5, 20_000.0, 0.05
    wavelength_um = 1.23984198 / energy_ev
    k = 2 * np.pi / wavelength_um
    delta, beta = 1e-6, 1e-9  # δ/β = 1000
    yy, xx = (np.mgrid[:n, :n] - n / 2 + 0.5) * pixel_um
    thickness = sum(2 * np.sqrt(np.clip(r ** 2 - (yy - cy) ** 2 - (xx - cx) ** 2, 0, None))
                    for cy, cx, r in [(0, 0, 20), (25, -30, 8), (-30, 25, 12)])  # µm
    wave = np.pad(np.exp(-k * (beta + 1j * delta) * thickness), n // 2, constant_values=1)
    f = np.fft.fftfreq(2 * n, d=pixel_um)
    fresnel = np.exp(-1j * np.pi * wavelength_um * distance_m * 1e6 * (f[:, None] ** 2 + f[None, :] ** 2))
    intensity = np.abs(np.fft.ifft2(np.fft.fft2(wave) * fresnel)[n // 2:-(n // 2), n // 2:-(n // 2)]) ** 2
    phase_true = -k * delta * thickness
    phase = paganin(intensity, delta_beta=delta / beta, distance_m=distance_m, energy_ev=energy_ev,
                    pixel_size_um=pixel_um, output="phase")
    err = np.linalg.norm(phase - phase_true) / np.linalg.norm(phase_true)
    naive = np.linalg.norm(-0.5 * delta / beta * -np.log(intensity) - phase_true) / np.linalg.norm(phase_true)
    print(f"\nPaganin: {err:.2%} relative error on the phase (max {abs(phase_true).max():.2f} rad); "
          f"without retrieval {naive:.0%}")
    assert err < 0.05
    assert naive > 1.0  # the fringes: what the filter is for


def test_bad_parameters_are_named():
    with pytest.raises(InputError, match="distance_m=0"):
        paganin(np.ones((8, 8)), delta_beta=100, distance_m=0, energy_ev=10_000, pixel_size_um=1)
    with pytest.raises(InputError, match="output="):
        paganin(np.ones((8, 8)), delta_beta=100, distance_m=1, energy_ev=10_000, pixel_size_um=1, output="x")
