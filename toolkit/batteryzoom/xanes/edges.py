"""Edge energy per voxel by three methods, with an uncertainty from the pre-edge noise.

- ``"half_step"``: where the normalized spectrum crosses 0.5, linearly interpolated
  between the two grid energies around the crossing; when noise makes several upward
  crossings, the one nearest ``e0`` (Larch's steepest point) counts. Uncertainty:
  ``sigma_norm * |r| / slope``, with ``sigma_norm`` the noise over the edge step (by
  default the stack's pre-edge noise pooled over its voxels: :func:`edge_maps`'s
  ``noise``, and :mod:`.uncertainty` for why), ``slope`` the normalized spectrum's slope
  (1/eV) across the crossing and ``|r|`` the first-order propagation of white noise
  through the two interpolated points, the extrapolated pre-edge line and the edge step
  (:mod:`.uncertainty`; the numpy paths compute the interpolation-only part
  ``sqrt((1 - t)**2 + t**2)``, ``t`` the interpolation fraction, and :func:`edge_maps`
  scales it; the compiled kernel computes ``|r|`` itself).
- ``"derivative"``: the maximum of the derivative of the normalized spectrum smoothed by
  a Gaussian of ``smooth_ev`` (eV, on the non-uniform grid), refined by the vertex of the
  parabola through the maximum and its two neighbours.
- ``"white_line"``: the maximum of the normalized spectrum between ``e0`` and
  ``e0 + white_line_window_ev``, refined by the vertex of a least-squares parabola through
  5 points around it.

All methods search within ``window_ev`` of each voxel's ``e0`` and return NaN when they
find nothing (no crossing, a maximum on the window edge), so failed voxels are masked,
never crash.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _kernels
from ..errors import InputError
from .normalization import LarchDefaults, _normalize_2d, e0_of_mean_spectrum, pre_edge_ranges
from .stack import is_dask, map_spatial, maps_dataset, split_input
from .uncertainty import half_step_err_quadratic, normalization_operators, pooled_noise, propagate_half_step_err

__all__ = ["EDGE_METHODS", "edge_energy", "edge_maps"]

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


def _check_methods(methods) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    bad = [m for m in methods if m not in EDGE_METHODS]
    if bad or not methods:
        raise InputError(f"method(s) {bad or methods} unknown: choose from {EDGE_METHODS}")
    return methods


def _resolve_e0(array, energy, e0):
    if isinstance(e0, str):
        if e0 != "mean":
            raise InputError(f"e0={e0!r}: use None (per voxel), 'mean', or a number in eV")
        return e0_of_mean_spectrum(array, energy)
    return e0


_MAP_FIELDS = ("e0_ev", "edge_step", "pre_edge_noise", "valid")


class _FixedPlan:
    """Everything that depends only on the energies and one e0, precomputed once.

    With one e0 the normalization is linear in the spectrum: the pre-edge line's intercept
    and slope are a fixed ``(2, n_pre)`` operator on the pre-edge values and the edge step
    is a fixed weighted sum of the spectrum. A block of spectra ``Y (E, V)`` then costs two
    small matrix products (BLAS, float32) and a few passes over the window of energies
    around the edge: about the work of reading the block once.
    """

    def __init__(self, energy, e0, params, methods, window_ev, smooth_ev, noise_od=None):
        r = pre_edge_ranges(energy, e0, params)
        n = len(energy)
        self.e0, self.methods, self.window_ev, self.smooth_ev = float(e0), methods, window_ev, smooth_ev
        self.nvict = float(r.nvict)  # != 0: the compiled kernel only (see run)
        a, b = r.pre_slice
        # the pre-edge line's operator on mu * E**nvict (E**nvict folded in), the scale
        # E**-nvict back to mu, the edge step's row: all linear in the spectrum
        ops = normalization_operators(energy, e0, params)
        p_pre = ops["line"][:, a:b]
        step_row = ops["step"]
        lo = np.searchsorted(energy, e0 + min(window_ev[0], 0.0))
        top = window_ev[1] if methods == ("half_step",) else max(window_ev[1], WHITE_LINE_WINDOW_EV)
        hi = np.searchsorted(energy, e0 + top, side="right")
        self.w0, self.w1 = max(lo - 3, 0), min(hi + 3, n)
        self.ew = energy[self.w0 : self.w1]
        self.pre = (a, b)
        self.p_pre = p_pre.astype(np.float32)
        self.e_pre = energy[a:b].astype(np.float32)[:, None]
        self.ew32 = self.ew.astype(np.float32)[:, None]
        # the edge step uses only the energies where its weights are non-zero
        self.step_idx = np.nonzero(np.abs(step_row) > 0)[0]
        self.step_w = step_row[self.step_idx].astype(np.float32)
        self.dof = max((b - a) - (1 if r.npre == 0 else 2), 1)
        # the compiled kernel's operators, float64 (it accumulates in float64)
        self.energy = np.asarray(energy, np.float64)
        self.p_pre64 = np.ascontiguousarray(p_pre, np.float64)
        self.pre_scale = np.ascontiguousarray(ops["scale"], np.float64)
        self.pre_scale_e0 = self.e0 ** -self.nvict  # the scale at e0 (not a grid energy)
        self.step_w64 = np.zeros(n)
        self.step_w64[self.step_idx] = step_row[self.step_idx]
        rel = self.ew - self.e0
        inside = (rel >= window_ev[0]) & (rel <= window_ev[1])
        # half-step intervals (k, k+1) of the window (indices into ew), and their order by
        # distance from e0, nearest first (ties: lower k); both paths search these
        self.rows = rows = np.nonzero(inside[:-1] & inside[1:])[0]
        self.interval_order = order = np.argsort(np.abs(0.5 * (self.ew[rows] + self.ew[rows + 1]) - self.e0),
                                                 kind="stable")
        self.interval_rank = np.full(n, -1, np.int64)
        self.interval_rank[rows[order] + self.w0] = np.arange(rows.size)
        self.win = (int(rows.min()) + self.w0, int(rows.max()) + self.w0 + 2) if rows.size else (0, 0)
        # the kernel's reading order: pre-edge rows, edge-step rows, then the window
        self.early = np.union1d(np.arange(a, b), np.flatnonzero(self.step_w64)).astype(np.int64)
        # the kernel gives the propagated half-step uncertainty directly (.uncertainty)
        self.err_q = np.ascontiguousarray(half_step_err_quadratic(energy, e0, params))
        # the noise (absorbance per energy) the uncertainty propagates; None: each voxel's own
        self.noise_od: float | None = noise_od

    def run_kernel(self, mu: np.ndarray, v0: int, v1: int, res: np.ndarray, names: list[str],
                   valid: np.ndarray | None = None) -> None:
        """Voxels ``v0:v1`` of ``mu`` ``(E, V)`` into ``res`` rows ``names`` (the compiled kernel).

        Half-step edge, e0, edge step, noise and valid come from the kernel; derivative
        and white-line edges from the normalized window it returns, as in :meth:`run`.
        ``valid`` (bool ``(V,)``): the valid flags go there instead of a row of ``res``.
        """
        from .._kernels.xanes import fixed_e0_block

        slot = {name: i for i, name in enumerate(names)}
        fields = ("edge_energy_half_step_ev", "edge_energy_half_step_err_ev", "e0_ev", "edge_step",
                  "pre_edge_noise", "valid")
        out_rows = np.array([slot.get(f, -1) for f in fields], np.int64)
        valid8 = np.empty(0, np.uint8) if valid is None else valid.view(np.uint8)
        others = tuple(m for m in self.methods if m != "half_step")
        n_vox = v1 - v0
        norm = np.empty((self.w1 - self.w0, n_vox) if others else (0, 0))
        a, b = self.pre
        do_half = "half_step" in self.methods and self.win[1] > self.win[0]
        # rows read after the early ones: the half-step window, or every row of the
        # normalized window when the other methods need it (it holds the half-step rows)
        late = np.arange(*((self.w0, self.w1) if others else self.win), dtype=np.int64)
        fixed_e0_block(mu, v0, v1, self.early, late, a, b, self.p_pre64, self.energy, self.step_w64,
                       float(self.dof), self.e0, self.interval_rank, self.err_q,
                       -1.0 if self.noise_od is None else self.noise_od, do_half, res, out_rows, valid8,
                       norm, self.w0, self.pre_scale, self.pre_scale_e0, self.nvict != 0.0)
        if "half_step" in self.methods and not do_half:  # no interval inside the window
            res[out_rows[0], v0:v1] = np.nan
            res[out_rows[1], v0:v1] = np.nan
        if others:
            ok = valid[v0:v1] if valid is not None else res[slot["valid"], v0:v1] > 0.5
            with np.errstate(divide="ignore", invalid="ignore"):
                sigma_norm = res[slot["pre_edge_noise"], v0:v1] / res[slot["edge_step"], v0:v1]
            found = _edges_from_norm(self.ew, norm, 0, np.full(n_vox, self.e0), sigma_norm, others,
                                     self.window_ev, self.smooth_ev)
            for m in others:
                res[slot[f"edge_energy_{m}_ev"], v0:v1] = np.where(ok, found[m], np.nan)

    def run(self, y: np.ndarray) -> dict[str, np.ndarray]:
        if self.nvict:  # float32 sums of mu * E**3 would cancel: nvict != 0 is the kernel's only
            raise NotImplementedError("the numpy fused path handles nvict = 0 only")
        a, b = self.pre
        ypre = y[a:b].astype(np.float32, copy=False)
        coef = self.p_pre @ ypre  # (2, V): intercept, slope of the pre-edge line
        step = np.abs(self.step_w @ y[self.step_idx].astype(np.float32, copy=False))
        resid = ypre - coef[0] - self.e_pre * coef[1]
        noise = np.sqrt(np.einsum("ij,ij->j", resid, resid) / self.dof)
        # any NaN/inf anywhere in the spectrum flags it (a column sum propagates them)
        # an edge step below 1e-5 of the absorbance level is float32 rounding: no edge at all
        level = np.abs(coef[0] + np.float32(self.e0) * coef[1])
        valid = np.isfinite(y.sum(axis=0, dtype=np.float32)) & np.isfinite(step) & (step > 1e-5 * level + 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma_norm = (noise if self.noise_od is None else np.float32(self.noise_od)) / step
        num = y[self.w0 : self.w1].astype(np.float32, copy=True)  # mu - pre-edge line
        num -= coef[0]
        num -= self.ew32 * coef[1]
        if self.methods == ("half_step",):
            found = self._half_step_only(num, step, sigma_norm)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                num /= np.where(valid, step, np.nan)
            found = self._all_edges(num, sigma_norm)
        found.update(e0=np.full(y.shape[1], self.e0), edge_step=step.astype(np.float64),
                     pre_edge_noise=noise.astype(np.float64), valid=valid)
        return found

    def _all_edges(self, norm_w: np.ndarray, sigma_norm: np.ndarray) -> dict[str, np.ndarray]:
        """Edge energies of the normalized window ``norm_w`` ``(nw, V)`` by every method asked."""
        ew, rows = self.ew, self.rows
        nvox = norm_w.shape[1]
        out: dict[str, np.ndarray] = {}
        if "half_step" in self.methods and rows.size == 0:  # no interval in the window: no crossing
            out["half_step"] = np.full(nvox, np.nan)
            out["half_step_err"] = np.full(nvox, np.nan)
        elif "half_step" in self.methods:
            cols = np.arange(nvox)
            lo, hi = norm_w[rows], norm_w[rows + 1]
            cross = (lo < 0.5) & (hi >= 0.5)
            # crossings ranked by the distance of their interval from e0; nearest wins
            rank = np.empty(rows.size, np.int16)
            rank[self.interval_order] = np.arange(rows.size)
            score = np.where(cross, rank[:, None], np.int16(32000))
            j = score.argmin(axis=0)
            found = score[j, cols] < 32000
            k = rows[j]
            out.update(_crossing(ew, k, lo[j, cols].astype(np.float64), hi[j, cols].astype(np.float64), found,
                                 sigma_norm))
        others = tuple(m for m in self.methods if m != "half_step")
        if others:
            out.update(_edges_from_norm(ew, norm_w.astype(np.float64), 0, np.full(nvox, self.e0), sigma_norm,
                                        others, self.window_ev, self.smooth_ev))
        return out

    def _half_step_only(self, num, step, sigma_norm):
        """Half-step crossing without normalizing the whole window: compare with step / 2."""
        ew, rows = self.ew, self.rows
        nvox = num.shape[1]
        if rows.size == 0:  # no two energies inside the window: no crossing to find
            return {"half_step": np.full(nvox, np.nan), "half_step_err": np.full(nvox, np.nan)}
        below = num[rows[0] : rows[-1] + 2] < 0.5 * step  # (rows + 1, V) bool
        cross = below[:-1] > below[1:]  # below, then at or above: an upward crossing
        # each interval weighs more the nearer it is to e0; the largest weight among a
        # voxel's crossings (an elementwise max down the rows: fast) picks the nearest
        nint = len(rows)
        weight = np.empty(nint, np.int64)
        weight[self.interval_order] = np.arange(nint, 0, -1)
        dtype = np.uint8 if nint < 255 else np.uint16
        best = (cross * weight.astype(dtype)[:, None]).max(axis=0)
        found = best > 0
        interval_of_weight = np.zeros(nint + 1, np.int64)
        interval_of_weight[weight] = np.arange(nint)
        kk = rows[interval_of_weight[np.where(found, best, nint)]]
        cols = np.arange(nvox)
        with np.errstate(divide="ignore", invalid="ignore"):
            y0 = num[kk, cols].astype(np.float64) / step
            y1 = num[kk + 1, cols].astype(np.float64) / step
        return _crossing(ew, kk, y0, y1, found, sigma_norm)


def edge_maps(
    stack: Any,
    energy: Any = None,
    *,
    methods: str | tuple[str, ...] = EDGE_METHODS,
    e0: Any = "mean",
    window_ev: tuple[float, float] = DEFAULT_WINDOW_EV,
    smooth_ev: float = 1.0,
    block_voxels: int | None = None,
    fast: bool = True,
    noise: str | float = "pooled",
    **ranges: Any,
) -> Any:
    """Normalization, edge energies and masks' inputs per voxel, in one pass over the stack.

    Parameters
    ----------
    stack : array-like or xarray.DataArray
        ``(E, ...)`` absorbance (optical density), energy first; numpy or dask (chunked
        over space: each chunk is processed on its own, so memory stays bounded).
    energy : array-like, optional
        ``(E,)`` eV; default the DataArray's coordinate.
    methods : str or tuple
        Any of :data:`EDGE_METHODS`.
    e0 : "mean", None, float
        ``"mean"`` (default): Larch's find_e0 of the mean spectrum (of at most ~262,000 voxels,
        :func:`~batteryzoom.xanes.normalization.e0_of_mean_spectrum`) sets one normalization
        range for every voxel (fast, robust to voxel noise); None: per-voxel find_e0
        (Larch exactly, slower); a float: that e0.
    window_ev : (float, float)
        Search window of the edge relative to e0 (eV).
    smooth_ev : float
        Gaussian smoothing (eV) of the derivative method.
    block_voxels : int, optional
        Voxels per internal block (bounds temporaries; results do not depend on it).
        Default 65,536 for the compiled kernel (its temporaries are per 4,096-voxel tile;
        with 16,384 the thread pool's hand-offs cost ~10 % of a large stack's time) and
        16,384 for the numpy paths.
    fast : bool
        With one e0 for all voxels, use the fused kernel: one pass over the stack, compiled
        (numba, float64 sums: equal to the general path to float64 rounding) or, with
        ``BATTERYZOOM_NUMBA=0``, numpy (float32: two small matrix products per block, then
        only the energies around the edge; within float32 rounding of the general path,
        ~1e-2 eV at worst, except where rounding moves a noisy spectrum across half its
        step, which can pick another crossing). False forces the general float64 path.
    noise : "pooled", "voxel" or float
        The noise (absorbance per energy) the half-step uncertainty propagates.
        ``"pooled"`` (default): one level for every voxel, from the pre-edge residuals of
        an even sample's voxels with an edge
        (:func:`~batteryzoom.xanes.uncertainty.pooled_noise`; each voxel's own when the
        sample holds fewer than 100): calibrated where the noise is the same everywhere, as
        in a tomographic reconstruction. ``"voxel"``: each voxel's own pre-edge residual,
        for noise that varies from voxel to voxel (2D transmission maps of very uneven
        thickness); it rests on ~5 degrees of freedom, so those error bars scatter by
        ~30 % and their robust spread reads 1.08x. A number > 0: that level, e.g. from
        the detector's counts. ``pre_edge_noise`` is each voxel's own in every case.
    **ranges
        Larch parameters ``pre1, pre2, norm1, norm2, nnorm, nvict, npre``. ``nvict=3``
        (a pre-edge line in ``mu * E**3``) follows the matrix background's ``E**-3``
        curvature that Larch's default straight line misses (a few 0.01 eV on the
        half-step; :mod:`~batteryzoom.xanes.normalization`); the compiled kernel runs it
        (without numba: the general path).

    Returns
    -------
    xarray.Dataset or dict
        Over space (the stack's shape without energy): ``edge_energy_<method>_ev``
        for each method, ``edge_energy_half_step_err_ev`` (1 sigma, eV) when half-step is
        asked, ``e0_ev``, ``edge_step`` (absorbance), ``pre_edge_noise`` (absorbance),
        ``valid`` (bool). NaN where a spectrum failed. The float maps keep the stack's
        precision: float32 for a float32 stack (computed in float64, rounded once at the
        end: 0.0005 eV at the Ni K-edge), float64 for any other dtype (ints included);
        half the memory (and of the page faults of fresh output) for the usual float32
        TXM stack. The Dataset's attributes include ``noise`` (``"pooled"``, ``"voxel"``
        or ``"given"``) and ``noise_od`` (the level propagated, absorbance per energy;
        NaN where each voxel's own was).
    """
    methods = _check_methods(methods)
    array, energy, template = split_input(stack, energy)
    params = LarchDefaults(**{k: ranges[k] for k in ranges})
    e0 = _resolve_e0(array, energy, e0)
    e0_exact = float(e0) if e0 is not None else None
    if e0_exact is not None:
        pre_edge_ranges(energy, e0_exact, params)
    noise_od = _noise_level(noise, array, energy, e0_exact, params, window_ev, methods)
    n = len(energy)
    names = [f"edge_energy_{m}_ev" for m in methods]
    if "half_step" in methods:
        names.append("edge_energy_half_step_err_ev")
    names += list(_MAP_FIELDS)

    # the kernel is compiled for native float32/float64 (ints, float16 or big-endian data
    # take the numpy path rather than a compilation per dtype); it propagates the
    # half-step uncertainty itself, the numpy paths leave it to the end of this function
    kernel_dtype = array.dtype in (np.float32, np.float64) and array.dtype.isnative
    plan = None
    if fast and e0_exact is not None and (not params.nvict or (_kernels.enabled() and kernel_dtype)):
        plan = _FixedPlan(energy, e0_exact, params, methods, window_ev, smooth_ev, noise_od)
    use_kernel = plan is not None and _kernels.enabled()
    four_byte_float = array.dtype.kind == "f" and array.dtype.itemsize == 4
    map_dtype = np.dtype(np.float32 if four_byte_float else np.float64)
    # the kernel writes the final maps (its sums are float64) straight into map_dtype; the
    # numpy paths keep float64 until their uncertainty is propagated, then round
    block_dtype = map_dtype if use_kernel and kernel_dtype else np.dtype(np.float64)
    if block_voxels is None:
        block_voxels = 65536 if use_kernel and kernel_dtype else 16384
    elif (not isinstance(block_voxels, (int, np.integer)) or isinstance(block_voxels, bool)
          or block_voxels < 1):
        raise InputError(f"block_voxels: must be an integer >= 1, got {block_voxels!r}")

    def block(b, parallel=False, split_valid=False):
        """``(len(names), *space)`` maps (``block_dtype``) of a block; with ``split_valid`` the
        float maps without "valid" and the valid flags as a bool array (1 byte per voxel)."""
        mu = np.asarray(b).reshape(n, -1)
        n_vox = mu.shape[1]
        rows = [x for x in names if x != "valid"] if split_valid else names
        res = np.empty((len(rows), n_vox), block_dtype)
        valid = np.empty(n_vox, bool) if split_valid else None

        def one(s, stop):
            if use_kernel and kernel_dtype:
                plan.run_kernel(mu, s, stop, res, rows, valid)
                return
            part = mu[:, s:stop]
            if plan is not None:
                full = _rows(plan.run(part), names)
            else:
                full = _edge_block(energy, part, e0_exact, params, methods, window_ev, smooth_ev, names, noise_od)
            if split_valid:
                res[:, s:stop] = full[[names.index(x) for x in rows]]
                valid[s:stop] = full[names.index("valid")] > 0.5
            else:
                res[:, s:stop] = full

        if parallel:  # the kernel and numpy's array loops release the GIL: blocks on every core
            _kernels.map_ranges(n_vox, block_voxels, one)
        else:
            for s in range(0, n_vox, block_voxels):
                one(s, min(s + block_voxels, n_vox))
        res = res.reshape((len(rows),) + b.shape[1:])
        if not split_valid:
            return res
        return dict(zip(rows, res)) | {"valid": valid.reshape(b.shape[1:])}

    if is_dask(array):  # dask schedules the chunks on its own workers
        res = map_spatial(block, array, len(names), block_dtype)
        parts = {name: res[i] for i, name in enumerate(names)}
        parts["valid"] = parts["valid"] > 0.5
    else:
        found = block(array, parallel=True, split_valid=True)
        parts = {name: found[name] for name in names}
    if "half_step" in methods and not (use_kernel and kernel_dtype):
        # the kernels give the interpolation-only sigma; add the pre-edge line's and the edge
        # step's noise (first-order propagation, see .uncertainty: ~1.6x on a beamline grid)
        key = "edge_energy_half_step_err_ev"
        parts[key] = propagate_half_step_err(parts[key], parts["e0_ev"], parts["edge_energy_half_step_ev"],
                                             energy, params)
    parts = {k: v if k == "valid" else v.astype(map_dtype, copy=False) for k, v in parts.items()}
    if template is None:
        return parts
    return maps_dataset(template, parts, {"methods": list(methods), "window_ev": list(window_ev),
                                          "smooth_ev": smooth_ev, "e0": "per voxel" if e0_exact is None else e0_exact,
                                          "noise": noise if isinstance(noise, str) else "given",
                                          "noise_od": np.nan if noise_od is None else noise_od})


def _noise_level(noise, array, energy, e0_exact, params, window_ev, methods) -> float | None:
    """:func:`edge_maps`'s ``noise`` checked and turned into the level the half-step
    uncertainty propagates (absorbance per energy; None: each voxel's own)."""
    if isinstance(noise, str):
        if noise not in ("pooled", "voxel"):
            raise InputError(f"noise={noise!r}: not a choice; use noise='pooled' (one level for the stack, the "
                             "default), 'voxel' (each voxel's own) or a noise level > 0 in absorbance units")
        if noise == "voxel" or "half_step" not in methods:
            return None
        return pooled_noise(array, energy, e0_exact, params, window_ev)
    try:
        level = float(noise)
    except (TypeError, ValueError):
        level = np.nan
    if isinstance(noise, bool) or not np.isfinite(level) or level <= 0:
        raise InputError(f"noise={noise!r}: a given noise level must be one finite number > 0 (absorbance per "
                         "energy); or use noise='pooled' or 'voxel'")
    return level


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


def edge_energy(
    stack: Any,
    energy: Any = None,
    *,
    method: str = "half_step",
    e0: Any = "mean",
    window_ev: tuple[float, float] = DEFAULT_WINDOW_EV,
    smooth_ev: float = 1.0,
    **ranges: Any,
) -> Any:
    """Edge energy per spectrum/voxel by one method (see the module docstring).

    Parameters
    ----------
    stack, energy, e0, window_ev, smooth_ev, **ranges
        As :func:`edge_maps`.
    method : {"half_step", "derivative", "white_line"}

    Returns
    -------
    float, array or xarray.DataArray
        Edge energy (eV, float64) over space; a float for one spectrum. The half-step
        method's uncertainty is in :func:`edge_maps` (``edge_energy_half_step_err_ev``).
    """
    maps = edge_maps(stack, energy, methods=(method,), e0=e0, window_ev=window_ev, smooth_ev=smooth_ev, **ranges)
    value = maps[f"edge_energy_{method}_ev"]
    if np.ndim(value) == 0 and not hasattr(value, "dims"):
        return float(value)
    return value
