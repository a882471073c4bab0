"""The general float64 path of the edge methods: per-voxel normalization, then each method.

Every path of :func:`~batteryzoom.xanes.edge_maps` (the fused kernel, the numpy fused path,
this general one) finds the edges the same way on the normalized spectra
(:func:`_edges_from_norm`); this path normalizes each voxel with Larch's rules
(:func:`~batteryzoom.xanes.normalization.normalize`'s core) for any e0, including one per
voxel. It sits below :mod:`.uncertainty` (whose pooled noise level runs it on a sample)
and :mod:`.edges` (which chooses the path).
"""

from __future__ import annotations

import numpy as np

from .normalization import _normalize_2d

EDGE_METHODS = ("half_step", "derivative", "white_line")
DEFAULT_WINDOW_EV = (-15.0, 15.0)
WHITE_LINE_WINDOW_EV = 25.0


def _gauss_smoother(x: np.ndarray, sigma_ev: float) -> np.ndarray:
    if sigma_ev <= 0:
        return np.eye(len(x))
    w = np.exp(-0.5 * ((x[:, None] - x[None, :]) / sigma_ev) ** 2)
    return w / w.sum(axis=1, keepdims=True)


def _gradient_op(x: np.ndarray) -> np.ndarray:
    n = len(x)
    g = np.zeros((n, n))
    g[0, :2] = [-1.0, 1.0]
    g[-1, -2:] = [-1.0, 1.0]
    i = np.arange(1, n - 1)
    g[i, i - 1], g[i, i + 1] = -0.5, 0.5
    return g / np.gradient(x)[:, None]


def _vertex3(x0, x1, x2, y0, y1, y2):
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = x1 - 0.5 * num / den
    return np.where(np.isfinite(v), np.clip(v, x0, x2), x1)


def _crossing(ew, k, y0, y1, found, sigma_norm) -> dict[str, np.ndarray]:
    """Half-step edge and its interpolation-only uncertainty, linear between ``ew[k]`` and
    ``ew[k + 1]`` where the normalized spectrum goes from ``y0`` to ``y1``; NaN where not ``found``."""
    de = ew[k + 1] - ew[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (0.5 - y0) / (y1 - y0)
        slope = (y1 - y0) / de
        err = sigma_norm * np.sqrt((1 - t) ** 2 + t**2) / slope
    return {"half_step": np.where(found, ew[k] + t * de, np.nan), "half_step_err": np.where(found, err, np.nan)}


def _edges_from_norm(
    energy: np.ndarray,
    norm_w: np.ndarray,
    w0: int,
    e0: np.ndarray,
    sigma_norm: np.ndarray,
    methods: tuple[str, ...],
    window_ev: tuple[float, float],
    smooth_ev: float,
) -> dict[str, np.ndarray]:
    """Edge energies from the normalized spectra on energies ``energy[w0:w0+nw]``."""
    nw, nvox = norm_w.shape
    ew = energy[w0 : w0 + nw]
    out: dict[str, np.ndarray] = {}
    rel = ew[:, None] - e0[None, :]
    inside = (rel >= window_ev[0]) & (rel <= window_ev[1])
    cols = np.arange(nvox)
    if "half_step" in methods:
        lo, hi = norm_w[:-1], norm_w[1:]
        cross = (lo < 0.5) & (hi >= 0.5) & inside[:-1] & inside[1:]
        mid = 0.5 * (ew[:-1] + ew[1:])
        dist = np.where(cross, np.abs(mid[:, None] - e0[None, :]), np.inf)
        k = dist.argmin(axis=0)
        found = np.isfinite(dist[k, cols])
        out.update(_crossing(ew, k, lo[k, cols], hi[k, cols], found, sigma_norm))
    if "derivative" in methods:
        op = _gauss_smoother(ew, smooth_ev) @ _gradient_op(ew)
        d = op @ norm_w
        score = np.where(inside, d, -np.inf)
        k = score.argmax(axis=0)
        ok = np.isfinite(score[k, cols]) & (k > 0) & (k < nw - 1)
        kk = np.clip(k, 1, nw - 2)
        v = _vertex3(ew[kk - 1], ew[kk], ew[kk + 1], d[kk - 1, cols], d[kk, cols], d[kk + 1, cols])
        out["derivative"] = np.where(ok, v, np.nan)
    if "white_line" in methods:
        wl = (rel >= 0) & (rel <= WHITE_LINE_WINDOW_EV)
        score = np.where(wl, norm_w, -np.inf)
        k = score.argmax(axis=0)
        ok = np.isfinite(score[k, cols]) & (k >= 2) & (k <= nw - 3) & wl[np.clip(k + 1, 0, nw - 1), cols]
        kk = np.clip(k, 2, nw - 3)
        offs = np.arange(-2, 3)
        idx = kk[None, :] + offs[:, None]  # (5, V)
        x = ew[idx] - ew[kk][None, :]
        y = np.take_along_axis(norm_w, idx, 0)
        # least-squares parabola y = a + b x + c x^2 per voxel (normal equations, 3x3)
        s = [np.sum(x**p, axis=0) for p in range(5)]
        ata = np.stack([np.stack([s[0], s[1], s[2]], -1), np.stack([s[1], s[2], s[3]], -1),
                        np.stack([s[2], s[3], s[4]], -1)], -2)
        aty = np.stack([np.sum(y, 0), np.sum(x * y, 0), np.sum(x * x * y, 0)], -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            finite = np.isfinite(aty).all(-1)
            coef = np.full((nvox, 3), np.nan)
            if finite.any():
                coef[finite] = np.linalg.solve(ata[finite], aty[finite][..., None])[..., 0]
            b, c = coef[:, 1], coef[:, 2]
            v = ew[kk] + np.where(c < 0, -b / (2 * c), 0.0)
        v = np.clip(v, ew[kk - 2], ew[kk + 2])
        out["white_line"] = np.where(ok & finite, v, np.nan)
    return out



def _edge_block(energy, mu, e0_exact, params, methods, window_ev, smooth_ev, names, noise_od=None):
    n = len(energy)
    mu = mu.astype(np.float64, copy=False)
    norm = _normalize_2d(energy, mu, e0_exact, params, want_curves=False, e0_exact=e0_exact, return_coefs=True)
    e0v = norm["e0"]
    valid = norm["valid"] & np.isfinite(e0v)
    lo_e = np.nanmin(e0v) if valid.any() else energy[0]
    hi_e = np.nanmax(e0v) if valid.any() else energy[-1]
    w0 = int(np.searchsorted(energy, lo_e + min(window_ev[0], 0.0)))
    w1 = int(np.searchsorted(energy, hi_e + max(window_ev[1], WHITE_LINE_WINDOW_EV), side="right"))
    w0, w1 = max(w0 - 3, 0), min(w1 + 3, n)
    ew = energy[w0:w1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pre = norm["pre_c0"][None] + ew[:, None] * norm["pre_c1"][None]
        if np.any(norm["nvict"]):
            pre = pre * ew[:, None] ** (-norm["nvict"][None])
        norm_w = (mu[w0:w1] - pre) / norm["edge_step"][None]
        sigma_norm = (norm["pre_edge_noise"] if noise_od is None else noise_od) / norm["edge_step"]
    e0_safe = np.where(valid, e0v, energy[0])
    found = _edges_from_norm(energy, norm_w, w0, e0_safe, sigma_norm, methods, window_ev, smooth_ev)
    found.update(e0=e0v, valid=valid, edge_step=norm["edge_step"], pre_edge_noise=norm["pre_edge_noise"])
    return _rows(found, names)


def _rows(found: dict, names: list[str]) -> np.ndarray:
    """Stack results in ``names`` order; NaN where the spectrum is not valid."""
    valid = found["valid"]
    out = np.empty((len(names), valid.size))
    for i, name in enumerate(names):
        if name == "edge_energy_half_step_err_ev":
            v = found["half_step_err"]
        elif name.startswith("edge_energy_"):
            v = found[name[len("edge_energy_") : -3]]
        elif name == "e0_ev":
            v = found["e0"]
        else:
            v = found[name]
        out[i] = v if name == "valid" else np.where(valid, v, np.nan)
    return out
