"""bz.tomo.reconstruction: FBP, direct Fourier inversion, SIRT and iradon against known
objects projected with known Poisson noise (scikit-image's radon as the independent
projector), 360° offset-axis scans, the compiled kernels against numpy, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError
from batteryzoom.tomo import project, reconstruct_slices

N = 127  # odd: the axis on a pixel centre for skimage and us alike
CENTRE = (N - 1) / 2


@pytest.fixture(scope="module")
def shepp_logan():
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    return (resize(shepp_logan_phantom(), (N, N), anti_aliasing=True) * 0.02).astype(np.float32)  # 1/px


def _radon(img, angles):
    from skimage.transform import radon

    return radon(img, angles, circle=True).T.astype(np.float32)  # (angle, col)


def _rmse(rec, truth):
    yy, xx = np.mgrid[:N, :N] - CENTRE
    inside = np.hypot(yy, xx) < 0.45 * N
    return float(np.sqrt(np.mean((rec - truth)[inside] ** 2)))


def test_fbp_equals_iradon_on_the_same_sinogram(shepp_logan):
    angles = np.arange(0, 180, 1.0)
    sino = _radon(shepp_logan, angles)
    ours = reconstruct_slices(sino, angles, CENTRE, method="fbp", filter_name="shepp-logan")
    ref = reconstruct_slices(sino, angles, CENTRE, method="iradon", filter_name="shepp-logan")
    yy, xx = np.mgrid[:N, :N] - CENTRE
    inside = np.hypot(yy, xx) < N / 2 - 1  # iradon zeroes what lies outside its circle
    assert np.abs(ours - ref)[inside].max() < 1e-4 * np.abs(ref).max()


def test_error_vs_truth_is_the_noise_per_method(shepp_logan, noisy):
    """Poisson noise at two doses 10× apart: the error beyond the noise-free error (the
    discretisation) grows as 1/√dose, as Poisson noise through a linear method must, and
    each method's error is reported."""
    angles = np.arange(0, 180, 1.0)
    clean = _radon(shepp_logan, angles)
    rows = []
    for method in ("fbp", "gridding", "fourier", "iradon"):
        bias = _rmse(reconstruct_slices(clean, angles, CENTRE, method=method), shepp_logan)
        errors = [_rmse(reconstruct_slices(noisy(clean, dose, 1), angles, CENTRE, method=method), shepp_logan)
                  for dose in (1e4, 1e5)]
        noise = [np.sqrt(max(e ** 2 - bias ** 2, 0.0)) for e in errors]
        rows.append((method, bias, *errors))
        assert noise[1] > 0.5 * bias or errors[1] > bias  # the noise is visible at both doses
        assert 2.7 < noise[0] / noise[1] < 3.7, (method, noise)  # √10 = 3.16
        assert bias < 0.1 * 0.02  # discretisation error < 10 % of the phantom's 0.02/px
    print("\nShepp-Logan 127 px, 180 angles, RMSE (1/px) noise-free / 1e4 / 1e5 counts:")
    for method, *values in rows:
        print(f"  {method:8s} " + "  ".join(f"{v:.5f}" for v in values))
    fbp, gridding, fourier, iradon = (r[2] for r in rows)
    assert fourier < 1.2 * fbp and abs(iradon - fbp) < 0.02 * fbp and gridding < 1.05 * fbp


def test_sirt_beats_fbp_with_few_noisy_angles(shepp_logan, noisy):
    angles = np.arange(0, 180, 6.0)  # 30 angles
    od = noisy(_radon(shepp_logan, angles), 3e3, 2)
    fbp = _rmse(reconstruct_slices(od, angles, CENTRE, method="fbp"), shepp_logan)
    sirt = _rmse(reconstruct_slices(od, angles, CENTRE, method="sirt", iterations=60), shepp_logan)
    print(f"\n30 noisy angles: RMSE fbp {fbp:.5f}, sirt {sirt:.5f} (1/px)")
    assert sirt < 0.8 * fbp


def test_twin_particle_slices_reconstruct_within_the_noise(particle_slices, noisy):
    angles = np.arange(0, 180, 1.0)
    n = particle_slices.shape[-1]
    c = (n - 1) / 2
    clean = project(particle_slices, angles, c, n)  # (angle, slice, col)
    od = noisy(clean, 2e4, 3)
    truth = particle_slices
    yy, xx = np.mgrid[:n, :n] - c
    inside = np.hypot(yy, xx) < 0.45 * n
    print("\ntwin particle, 8 slices, 180 angles, 2e4 counts: RMSE (1/px) noise-free / noisy")
    for method in ("fbp", "gridding", "fourier", "sirt"):
        kw = {"iterations": 30} if method == "sirt" else {}
        bias = float(np.sqrt(np.mean((reconstruct_slices(clean, angles, c, method=method, **kw)
                                      - truth)[:, inside] ** 2)))
        err = float(np.sqrt(np.mean((reconstruct_slices(od, angles, c, method=method, **kw)
                                     - truth)[:, inside] ** 2)))
        print(f"  {method:8s} {bias:.5f}  {err:.5f}")
        assert err < 0.25 * 0.05  # a quarter of the solid's attenuation (0.05/px)
        assert err >= bias * 0.95  # noise only adds (SIRT's regularising iterations aside)


def test_360_offset_axis_scan_folds_into_the_full_field(shepp_logan):
    """Half-acquisition: a detector of 80 px with the axis at column 14 sees the 127-px object
    only over 360°; folded, it reconstructs as the full field does."""
    angles = np.arange(0, 360, 1.0)
    sino = project(shepp_logan, angles, 14.0, 80)
    full = reconstruct_slices(project(shepp_logan, angles[:180], CENTRE, N), angles[:180], CENTRE)
    for method in ("fbp", "gridding", "fourier"):
        rec = reconstruct_slices(sino, angles, 14.0, method=method, size=N)
        assert rec.shape == (N, N)
        assert _rmse(rec, shepp_logan) < 1.3 * _rmse(full, shepp_logan) + 1e-4


@pytest.mark.parametrize("n, centre", [(21, 11.3), (24, 9.0)])  # odd and even slices, axis off the middle
def test_gridding_is_the_band_limited_back_projection(n, centre):
    """The non-uniform FFT against the sum it stands for, evaluated directly: every pixel,
    every angle (irregular), the filtered row's trigonometric interpolation at u(x, y)."""
    from batteryzoom.tomo import _gridding
    from batteryzoom.tomo import _projector as P

    rng = np.random.default_rng(1)
    angles = np.sort(rng.uniform(0, 180, 13))
    rows = rng.normal(size=(13, 2, 19)).astype(np.float32)
    w = P.angle_weights(angles)
    fast = _gridding.back_project(rows, angles, centre, w, n)
    m = _gridding.padded_width(19, centre, n)
    spec = np.fft.fft(rows.astype(np.float64), n=m, axis=-1)  # (angle, nz, m)
    k = np.fft.fftfreq(m, 1 / m)
    x = np.arange(n) - (n - 1) / 2
    th = np.radians(angles)
    u = x[None, None, :] * np.cos(th)[:, None, None] - x[None, :, None] * np.sin(th)[:, None, None] + centre
    waves = np.exp(2j * np.pi / m * u[..., None] * k)  # (angle, y, x, k)
    slow = np.einsum("a,azk,ayxk->zyx", w, spec, waves).real / m
    np.testing.assert_allclose(fast, slow, atol=1e-3 * np.abs(slow).max())
    # and it is the linear back-projection up to the interpolation: close on smooth rows
    smooth = np.repeat(np.sin(np.linspace(0, np.pi, 19))[None, None, :], 13, 0).astype(np.float32)
    lin = P.back_project(smooth, angles, centre, w, n)
    band = _gridding.back_project(smooth, angles, centre, w, n)
    inside = np.hypot(*np.meshgrid(x, x)) < 5
    assert np.abs(band - lin)[:, inside].max() < 0.02 * np.abs(lin).max()


def test_kernels_equal_the_numpy_reference_and_are_adjoint(monkeypatch):
    from batteryzoom.tomo import _projector as P

    rng = np.random.default_rng(0)
    angles = np.sort(rng.uniform(0, 180, 37))
    x = rng.random((2, 41, 41)).astype(np.float32)
    y = rng.random((37, 2, 45)).astype(np.float32)
    w = P.angle_weights(angles)
    fast = P.project(x, angles, 21.3, 45), P.back_project(y, angles, 21.3, w, 41)
    monkeypatch.setenv("BATTERYZOOM_NUMBA", "0")
    slow = P.project(x, angles, 21.3, 45), P.back_project(y, angles, 21.3, w, 41)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))
    ones = np.ones(37, np.float32)
    lhs = float((fast[0].astype(np.float64) * y).sum())
    rhs = float((x.astype(np.float64) * P.back_project(y, angles, 21.3, ones, 41)).sum())
    assert abs(lhs - rhs) < 1e-5 * abs(lhs)
    assert abs(float(w.sum()) - np.pi) < 1e-5  # irregular angles: their intervals cover π


def test_bad_inputs_are_named():
    sino = np.ones((10, 32), np.float32)
    with pytest.raises(InputError, match="9 angles for 10 projections"):
        reconstruct_slices(sino, np.arange(9) * 20.0, 16)
    with pytest.raises(InputError, match="outside the detector"):
        reconstruct_slices(sino, np.arange(10) * 18.0, 40)
    with pytest.raises(InputError, match="360° scan treated as 180°"):
        reconstruct_slices(np.ones((36, 32)), np.arange(36) * 10.0, 16, scan="180")
    with pytest.raises(InputError, match="at least 180°"):
        reconstruct_slices(sino, np.arange(10) * 1.0, 16)  # radians read as degrees
    with pytest.raises(InputError, match="evenly spaced"):
        reconstruct_slices(sino, np.r_[0, 5, 30, 40, 60, 80, 100, 130, 150, 175], 16, method="fourier")
    with pytest.raises(InputError, match="method="):
        reconstruct_slices(sino, np.arange(10) * 18.0, 16, method="gridrec")
    with pytest.raises(InputError, match="non-finite"):
        reconstruct_slices(np.full((10, 32), np.nan), np.arange(10) * 18.0, 16)
