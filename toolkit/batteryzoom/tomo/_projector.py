"""Parallel-beam geometry shared by bz.tomo: angle weights, the ramp filter, back-projection
and projection (the numba kernels of :mod:`batteryzoom._kernels.tomo`, or their numpy
reference when ``BATTERYZOOM_NUMBA=0``), and the 360° → 180° sinogram conversion.

Arrays: sinograms ``(angle, nz, col)`` float32 (a stack of ``nz`` slices), slices
``(nz, n, n)`` float32 centred on the rotation axis (the geometry of the kernels' module
docstring). Line integrals are in units of one detector pixel; a slice is in 1/px.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _kernels
from ..errors import InputError

#: the filters of :func:`skimage.transform.iradon` (same definitions), applied to the
#: exact discrete ramp (Kak & Slaney's spatial kernel, so no DC bias)
FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann")
_ROWS_PER_TASK = 16


def scan_span_deg(angles_deg: np.ndarray) -> float:
    """The angular range a scan covers: the span of its angles plus one median step."""
    a = np.sort(np.asarray(angles_deg, dtype=np.float64))
    if a.size < 2:
        return 0.0
    step = float(np.median(np.diff(a)))
    return float(a[-1] - a[0] + step)


def angle_weights(angles_deg: np.ndarray) -> np.ndarray:
    """Radians of the angular interval each projection stands for, on the circle of
    period 180° (a line measured at θ and θ + 180° is the same line): the midpoint rule,
    so a uniform 180° scan gets π/n per angle, a full 360° scan half of that (each line
    seen twice), irregular steps their own share. Sums to π whatever the scan.
    """
    a = np.mod(np.asarray(angles_deg, dtype=np.float64), 180.0)
    order = np.argsort(a, kind="stable")
    s = a[order]
    gaps = np.diff(np.concatenate([s, [s[0] + 180.0]]))  # gap to the next angle, wrapping
    prev = np.roll(gaps, 1)
    w = np.empty_like(a)
    w[order] = 0.5 * (gaps + prev)
    return np.radians(w).astype(np.float32)


def _fourier_filter(width: int, filter_name: str) -> np.ndarray:
    """Real filter at ``numpy.fft.rfftfreq(width)``: ramp × window (iradon's windows)."""
    if filter_name not in FILTERS:
        raise InputError(f"filter_name={filter_name!r}: choose one of {FILTERS}")
    k = np.arange(width)
    k = np.minimum(k, width - k)  # distance from 0 on the periodic grid
    h = np.zeros(width)
    h[0] = 0.25
    odd = k % 2 == 1
    h[odd] = -1.0 / (np.pi * k[odd]) ** 2
    ramp = np.real(np.fft.rfft(h))  # |f| (cycles/px) sampled without the DC bias of a plain |f|
    f = np.fft.rfftfreq(width)  # cycles/px, 0..0.5
    omega = 2 * np.pi * f
    if filter_name == "shepp-logan":
        with np.errstate(invalid="ignore", divide="ignore"):
            win = np.where(omega > 0, np.sin(omega / 2) / np.where(omega > 0, omega / 2, 1), 1.0)
    elif filter_name == "cosine":
        win = np.cos(omega / 2)
    elif filter_name == "hamming":
        win = 0.54 + 0.46 * np.cos(omega)
    elif filter_name == "hann":
        win = 0.5 + 0.5 * np.cos(omega)
    else:
        win = np.ones_like(f)
    return (ramp * win).astype(np.float64)


def filter_sinograms(sino: np.ndarray, filter_name: str = "ramp", pad: int | None = None) -> np.ndarray:
    """Ramp-filter ``(angle, nz, col)`` sinograms along ``col`` (edge-padded by ``pad``
    px each side, default the next FFT size ≥ 2 × width so the kernel does not wrap)."""
    from scipy import fft as sfft

    ncol = sino.shape[-1]
    width = sfft.next_fast_len(2 * ncol if pad is None else ncol + 2 * pad, real=True)
    left = (width - ncol) // 2
    padded = np.pad(sino, ((0, 0), (0, 0), (left, width - ncol - left)), mode="edge")
    spec = sfft.rfft(padded, axis=-1, workers=_kernels.n_threads())
    spec *= _fourier_filter(width, filter_name)
    out = sfft.irfft(spec, n=width, axis=-1, workers=_kernels.n_threads())
    return np.ascontiguousarray(out[..., left:left + ncol], dtype=np.float32)


def _trig(angles_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    th = np.radians(np.asarray(angles_deg, dtype=np.float64))
    return np.cos(th).astype(np.float32), (-np.sin(th)).astype(np.float32)


def _pad_cols(sino: np.ndarray) -> np.ndarray:
    out = np.zeros(sino.shape[:-1] + (sino.shape[-1] + 2,), np.float32)
    out[..., 1:-1] = sino
    return out


def back_project(sino: np.ndarray, angles_deg: np.ndarray, centre: float, weights: np.ndarray,
                 n: int) -> np.ndarray:
    """``(nz, n, n)`` float32: Σ_θ w_θ · sino_θ(u(x, y)) with linear interpolation."""
    sino = np.asarray(sino, np.float32)
    nz = sino.shape[1]
    cos_a, msin_a = _trig(angles_deg)
    padded = _pad_cols(sino)
    w = np.asarray(weights, np.float32)
    out = np.zeros((nz, n, n), np.float32)
    flat = out.reshape(nz * n, n)
    if not _kernels.enabled():
        return _back_project_numpy(padded, cos_a, msin_a, w, float(centre), out)
    from .._kernels.tomo import back_project_rows

    _kernels.map_ranges(nz * n, _ROWS_PER_TASK, lambda r0, r1: back_project_rows(
        padded, cos_a, msin_a, w, np.float32(centre), r0, r1, flat[r0:r1]))
    return out


def project(volume: np.ndarray, angles_deg: np.ndarray, centre: float, ncol: int) -> np.ndarray:
    """``(angle, nz, ncol)`` float32 line integrals (px) of ``(nz, n, n)`` slices: the
    adjoint of :func:`back_project` with unit weights."""
    volume = np.ascontiguousarray(volume, np.float32)
    cos_a, msin_a = _trig(angles_deg)
    n_ang = cos_a.size
    out = np.zeros((n_ang, volume.shape[0], ncol + 2), np.float32)
    if not _kernels.enabled():
        _project_numpy(volume, cos_a, msin_a, float(centre), out)
    else:
        from .._kernels.tomo import project_angles

        _kernels.map_ranges(n_ang, max(1, math.ceil(n_ang / (4 * _kernels.n_threads()))),
                            lambda a0, a1: project_angles(volume, cos_a, msin_a, np.float32(centre), a0, a1,
                                                          out[a0:a1]))
    return np.ascontiguousarray(out[..., 1:-1])


def _positions(n: int, c: float, msin: float, centre: float, last: int):
    """Detector positions (+1 for the pad) of every pixel at one angle, and which count."""
    ic = 0.5 * (n - 1)
    xi = np.arange(n, dtype=np.float64)
    yc = np.arange(n, dtype=np.float64) - ic
    u = (yc * msin + centre - ic * c)[:, None] + xi[None, :] * c
    valid = (u > -1.0 + 1e-3) & (u < last + 1.0 - 1e-3)
    f = np.where(valid, u + 1.0, 0.0)
    d = np.floor(f).astype(np.intp)
    return d, f - d, valid


def _back_project_numpy(padded, cos_a, msin_a, w, centre, out):
    n = out.shape[-1]
    last = padded.shape[-1] - 3
    for a in range(cos_a.size):
        d, fr, valid = _positions(n, float(cos_a[a]), float(msin_a[a]), centre, last)
        p = padded[a]  # (nz, ncol + 2)
        val = p[:, d] + fr * (p[:, d + 1] - p[:, d])
        out += np.where(valid, w[a] * val, 0.0).astype(np.float32)
    return out


def _project_numpy(volume, cos_a, msin_a, centre, out):
    n = volume.shape[-1]
    last = out.shape[-1] - 3
    for a in range(cos_a.size):
        d, fr, valid = _positions(n, float(cos_a[a]), float(msin_a[a]), centre, last)
        v = np.where(valid, volume, 0.0)
        for z in range(volume.shape[0]):
            out[a, z] += np.bincount(d.ravel(), (v[z] * (1 - fr)).ravel(), minlength=out.shape[-1])[: out.shape[-1]]
            out[a, z] += np.bincount((d + 1).ravel(), (v[z] * fr).ravel(), minlength=out.shape[-1])[: out.shape[-1]]
    return out


def sinogram_360_to_180(sino: np.ndarray, angles_deg: np.ndarray, centre: float
                        ) -> tuple[np.ndarray, np.ndarray, float]:
    """Fold a 360° scan into a 180° one on a detector centred on the axis.

    Every angle ``θ`` of the first half is paired with ``θ + 180°`` (interpolated between
    the two nearest measured angles; the scan's first projection stands for ``θ0 + 360°``),
    mirrored about the axis. Both views are sampled on a grid centred on the axis wide
    enough for the whole field (``2·⌈max(c, ncol-1-c)⌉ + 1`` px; an offset axis doubles
    the field) and blended where both see the same line, with a linear ramp across the
    overlap; outside it the one view that sees the line is kept.

    Returns
    -------
    sino_180 : (n_180, nz, m) float32
    angles_180 : (n_180,) degrees
    centre_180 : float, ``(m - 1) / 2``
    """
    order = np.argsort(angles_deg, kind="stable")
    a = np.asarray(angles_deg, np.float64)[order]
    s = np.asarray(sino, np.float32)[order]
    ncol = s.shape[-1]
    a0 = a[0]
    first = a < a0 + 180.0 - 1e-6
    top_angles = a[first]
    # the projection at θ + 180°: interpolate in angle; the first one closes the circle
    ext_a = np.concatenate([a, [a0 + 360.0]])
    ext_s = np.concatenate([s, s[:1]], axis=0)
    target = top_angles + 180.0
    hi = np.clip(np.searchsorted(ext_a, target, side="left"), 1, ext_a.size - 1)
    lo = hi - 1
    t = ((target - ext_a[lo]) / np.maximum(ext_a[hi] - ext_a[lo], 1e-12)).astype(np.float32)
    bottom = ext_s[lo] * (1 - t)[:, None, None] + ext_s[hi] * t[:, None, None]
    top = s[first]
    c = float(centre)
    r = max(c, ncol - 1 - c)
    half = int(math.ceil(r - 1e-6))
    m = 2 * half + 1
    pos = np.arange(m, dtype=np.float64) - half  # position relative to the axis (px)
    u_top = c + pos
    u_bot = c - pos  # θ + 180° sees the line at +s on its own detector at -s (mirror)
    cols = np.arange(ncol, dtype=np.float64)

    def sample(views, u):
        inside = (u >= 0) & (u <= ncol - 1)
        j = np.clip(np.floor(u).astype(np.intp), 0, ncol - 2)
        fr = (np.clip(u, 0, ncol - 1) - cols[j]).astype(np.float32)
        return views[..., j] * (1 - fr) + views[..., j + 1] * fr, inside

    vt, in_t = sample(top, u_top)
    vb, in_b = sample(bottom, u_bot)
    overlap = min(c, ncol - 1 - c)
    w_top = np.where(in_t & in_b, np.clip((pos + overlap) / max(2 * overlap, 1e-6), 0, 1), in_t.astype(float))
    if c > (ncol - 1) / 2:  # the axis near the right edge: the top view sees the left side
        w_top = np.where(in_t & in_b, np.clip((overlap - pos) / max(2 * overlap, 1e-6), 0, 1), w_top)
    w_bot = np.where(in_b, 1.0 - w_top, 0.0)
    w_top = np.where(in_t, w_top, 0.0)
    out = (vt * w_top.astype(np.float32) + vb * w_bot.astype(np.float32)).astype(np.float32)
    return out, top_angles, float(half)
