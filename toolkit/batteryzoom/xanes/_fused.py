"""The fused path of :func:`~batteryzoom.xanes.edge_maps`: one e0, precomputed operators.

With one normalization e0 for every voxel the normalization is linear in the spectrum, so
a block of spectra costs two small matrix products and a look at the energies around the
edge (:class:`_FixedPlan`): the compiled kernel (:mod:`batteryzoom._kernels.xanes`,
:meth:`_FixedPlan.run_kernel`) or its numpy float32 reference (:meth:`_FixedPlan.run`).
"""

from __future__ import annotations

import numpy as np

from ._general import WHITE_LINE_WINDOW_EV, _crossing, _edges_from_norm
from .normalization import pre_edge_ranges
from .uncertainty import half_step_err_quadratic, normalization_operators


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
