"""bz.xanes.alignment: sub-pixel shifts recovered, the common field of view, progress, refinement."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError


def test_alignment_recovers_subpixel_shifts_2d():
    from scipy import ndimage
    from skimage.data import camera

    base = ndimage.zoom(camera().astype(float), 0.25)[20:100, 20:110]
    rng = np.random.default_rng(2)
    shifts = rng.uniform(-3, 3, (6, 2))
    shifts[-1] = 0
    frames = np.stack([ndimage.fourier_shift(np.fft.fftn(base), s) for s in shifts])
    frames = np.fft.ifftn(frames, axes=(1, 2)).real
    aligned, found = bz.xanes.align(frames, np.arange(6.0) + 8330, upsample_factor=50)
    np.testing.assert_allclose(found, shifts, atol=0.05)
    # frames made by a periodic shift differ from the edge-padded unshift near the borders
    inner = (slice(None), slice(12, -12), slice(12, -12))
    assert np.abs(aligned[inner] - base[None, 12:-12, 12:-12]).mean() < 0.01 * np.ptp(base)
    with pytest.raises(InputError, match="not one of the stack's energies"):
        bz.xanes.align(frames, np.arange(6.0) + 8330, reference=8400.0)


def test_common_field_of_view_is_nan_where_a_frame_had_no_content():
    from scipy import ndimage

    from batteryzoom.xanes.alignment import common_fov_slices

    rng = np.random.default_rng(3)
    base = ndimage.gaussian_filter(rng.normal(size=(40, 50)), 2)
    shifts = np.array([[2.3, -1.2], [-0.4, 3.0], [0.0, 0.0]])
    # frame i holds at x what the reference holds at x - s: content enters at the low side
    frames = np.stack([ndimage.shift(base, s, order=1, mode="constant", cval=0.0) for s in shifts])
    assert common_fov_slices((40, 50), shifts) == (slice(2, 36), slice(3, 46))  # ceil(s) + 1 per side
    aligned = bz.xanes.apply_shifts(frames, shifts, method="spline", order=1)
    keep = common_fov_slices((40, 50), shifts)
    inside = np.zeros((40, 50), bool)
    inside[keep] = True
    assert np.isnan(aligned[:, ~inside]).all() and np.isfinite(aligned[:, inside]).all()
    # inside, every frame holds measured content: the reference's values back
    np.testing.assert_allclose(aligned[:, inside], np.broadcast_to(base[inside], (3, inside.sum())), atol=0.05)
    full = bz.xanes.apply_shifts(frames, shifts, method="spline", order=1, fov="full")
    assert np.isfinite(full).all()
    assert np.abs(full[0, -2:, :] - base[-2:, :]).max() > 0.1  # the band the common FOV cuts is made up
    assert np.isfinite(frames).all()  # the input is not touched (the reference frame is copied)
    assert common_fov_slices((40, 50), np.zeros((3, 2))) == (slice(0, 40), slice(0, 50))
    with pytest.raises(InputError, match="fov='all'"):
        bz.xanes.apply_shifts(frames, shifts, fov="all")


def _blob_frames(n: int, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sharp-edged object with texture in an empty field, moved by the twin's Fourier shift."""
    from scipy import ndimage

    from batteryzoom.data.twin.xanes import _fourier_shift

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    base = np.where(np.hypot(yy, xx) < n / 3, 1.0 + ndimage.gaussian_filter(rng.normal(0, 1, (n, n)), 1.5), 0.0)
    return base, np.stack([_fourier_shift(base, s) for s in shifts]).astype(np.float64)


def test_alignment_progress_counts_energies(capsys):
    """The alignment's bar says what it counts ("energy/s", not tqdm's "it/s")."""
    rng = np.random.default_rng(4)
    frames = np.repeat(rng.normal(size=(1, 24, 24)), 4, axis=0)
    bz.xanes.align(frames, np.arange(4.0) + 8330, show_progress=True)
    err = capsys.readouterr().err
    assert "aligning energies" in err and "energy/s" in err and "it/s" not in err


def test_alignment_refines_off_the_upsampling_grid():
    rng = np.random.default_rng(3)
    shifts = rng.uniform(-2.5, 2.5, (8, 2))
    shifts[-1] = 0
    _, frames = _blob_frames(64, shifts)
    energy = np.arange(8.0) + 8330
    grid = bz.xanes.alignment.estimate_shifts(frames, energy, upsample_factor=20, refine=False)
    refined = bz.xanes.alignment.estimate_shifts(frames, energy, upsample_factor=20)
    err_grid, err_refined = np.abs(grid - shifts).max(), np.abs(refined - shifts).max()
    print(f"\nworst shift error: upsampled grid {err_grid:.4f} px, refined {err_refined:.4f} px")
    assert err_refined < 0.005 and err_refined < 0.3 * err_grid
