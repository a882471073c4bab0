"""Following every winding as a ridge across the columns of the sheared, unrolled slice.

In the unrolled slice sheared by one pitch per turn each turn is a row. The rows are seeded
one pitch apart on the brightest family of ridges (:func:`_comb_rows`), followed column by
column inside a window that moves with a smooth trajectory (:func:`_track_rows`), deduplicated,
limited to the roll and extended to the partial turns at its two ends (:func:`_follow_rows`).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ._signal import _nan_smooth, _runs


def _follow_rows(S: np.ndarray, step_rows: float, window: float, min_strength: float, source: str):
    """Every turn's ridge in the sheared image ``S``: positions (rows), strengths, acceptance
    and the strength threshold (see the module docstring)."""
    n_col = S.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows beyond the data
        prof = np.nanmean(S, axis=1)
    rows0 = _comb_rows(prof, step_rows)
    if len(rows0) < 2:
        raise InputError(f"{source}: no windings found in the unrolled slice")
    pos, stren, valid, thr = _track_rows(S, rows0, step_rows, window, min_strength)
    valid = _drop_short_runs(valid, max(3, int(0.03 * n_col)))
    distinct = _dedupe_rows(pos, valid, stren, step_rows)
    # rows that hold almost no ridge lie inside the mandrel hole or beyond the roll; rows
    # between the first and last real turn are kept (a heavily torn turn is still a turn)
    covered = distinct & (valid.mean(axis=1) >= 0.03)
    if not covered.any():
        raise InputError(f"{source}: no winding could be followed round the slice")
    # the roll is the largest block of covered rows; a lone row far inside (the unrolling
    # centre, where every angle samples the same pixels) or outside is not a winding
    idx = np.flatnonzero(covered)
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > 2) + 1)
    block = max(groups, key=lambda g: valid[g].sum())
    keep_rows = distinct.copy()
    keep_rows[: block[0]] = False
    keep_rows[block[-1] + 1 :] = False
    pos, stren, valid = pos[keep_rows], stren[keep_rows], valid[keep_rows]
    pos, stren, valid = _extend_rows(S, pos, stren, valid, step_rows, window, min_strength, thr, n_col)
    return pos, stren, valid, thr


def _comb_rows(prof: np.ndarray, pitch_rows: float) -> np.ndarray:
    """Rows one pitch apart that sit on the brightest family of ridges of a profile."""
    n = len(prof)
    x = np.arange(n)
    fill = np.nanmean(prof)
    p = np.where(np.isfinite(prof), prof, fill)
    best_phase, best_score = 0.0, -np.inf
    for phase in np.arange(0.0, pitch_rows, 0.25):
        on = np.arange(phase, n - 1, pitch_rows)
        off = on + pitch_rows / 2
        off = off[off <= n - 1]
        score = np.interp(on, x, p).mean() - np.interp(off, x, p).mean()
        if score > best_score:
            best_phase, best_score = phase, score
    rows = np.arange(best_phase, n - 1, pitch_rows)
    # refine each row to the local maximum within a quarter pitch
    half = max(1, int(round(pitch_rows / 4)))
    out = []
    for r in rows:
        lo, hi = max(0, int(r) - half), min(n, int(r) + half + 1)
        out.append(lo + int(np.argmax(p[lo:hi])))
    return np.unique(np.asarray(out, float))


class _RidgeProbe:
    """Measures, around given rows of every column of ``S``, the ridge's sub-pixel peak and
    its height above the valleys half a pitch below and above."""

    def __init__(self, S: np.ndarray, pitch_rows: float, window: float):
        n_rho, n_col = S.shape
        self.n_rho = n_rho
        self.half = max(2, int(round(window * pitch_rows)))
        span = max(3, int(round(pitch_rows / 2)) | 1)  # odd
        self.finite = np.isfinite(S)
        fill = np.nanmin(S) if self.finite.any() else 0.0
        self.Sf = np.where(self.finite, S, fill).astype(np.float32)
        # the lowest value within half a pitch below / above every sample (the valleys):
        # a centred running minimum, shifted by half its width plus one
        m = ndimage.minimum_filter1d(self.Sf, span, axis=0, mode="nearest")
        sh = (span + 1) // 2
        self.lo_min = np.concatenate([np.repeat(m[:1], sh, axis=0), m[:-sh]], axis=0)
        self.hi_min = np.concatenate([m[sh:], np.repeat(m[-1:], sh, axis=0)], axis=0)
        self.offs = np.arange(-self.half, self.half + 1)
        self.cols = np.arange(n_col)[None, :]

    def __call__(self, pos):
        half, n_rho, Sf, cols, offs = self.half, self.n_rho, self.Sf, self.cols, self.offs
        if n_rho > 2 * half:
            centre = np.clip(np.rint(pos).astype(np.int64), half, n_rho - 1 - half)
        else:
            centre = np.clip(np.rint(pos).astype(np.int64), 0, n_rho - 1)
        idx = np.clip(centre[..., None] + offs, 0, n_rho - 1)
        seg = Sf[idx, cols[..., None]]
        k = np.argmax(seg, axis=-1)
        interior = (k > 0) & (k < len(offs) - 1)
        peak_i = np.clip(centre + offs[k], 0, n_rho - 1)
        below, above = np.clip(peak_i - 1, 0, n_rho - 1), np.clip(peak_i + 1, 0, n_rho - 1)
        ym, y0, yp = Sf[below, cols], Sf[peak_i, cols], Sf[above, cols]
        den = ym - 2 * y0 + yp
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.where(den < 0, 0.5 * (ym - yp) / den, 0.0)
        refined = peak_i + np.clip(np.nan_to_num(delta), -0.5, 0.5)
        strength = y0 - 0.5 * (self.lo_min[peak_i, cols] + self.hi_min[peak_i, cols])
        # a maximum against the edge of the data (the image border, the can) is no ridge
        edge_ok = self.finite[peak_i, cols] & self.finite[below, cols] & self.finite[above, cols]
        strength = np.where(edge_ok, strength, -np.inf)
        return refined, strength, interior


def _track_rows(S: np.ndarray, rows0: np.ndarray | None, pitch_rows: float, window: float, min_rel: float,
                iterations: int = 6, init: np.ndarray | None = None, thr: float | None = None):
    """Follow each row's ridge across the columns of the sheared image ``S``.

    Every column is searched within ``window`` pitches of the row's current trajectory;
    the trajectory is then re-estimated as a smooth curve through the accepted samples
    (normalised convolution along the angle), so ridges displaced by more than the window
    (buckling) are reached over a few iterations. A sample is accepted when it is a local
    maximum inside the window and its height above the neighbouring minima reaches
    ``min_rel`` times the typical ridge height.

    ``init`` (rows × columns) starts the rows from given trajectories instead of the
    constant ``rows0``; ``thr`` reuses a strength threshold from an earlier pass.

    Returns positions (n_rows, n_cols) in rows (sub-pixel), strengths, acceptance and the
    strength threshold.
    """
    n_col = S.shape[1]
    measure = _RidgeProbe(S, pitch_rows, window)
    if init is not None:
        pos = np.asarray(init, dtype=np.float64).copy()
    else:
        pos = np.broadcast_to(rows0[:, None], (len(rows0), n_col)).astype(np.float64)
    refined, strength, interior = measure(pos)
    if thr is None:
        fin = strength[np.isfinite(strength) & interior]
        typical = float(np.median(fin[fin >= np.percentile(fin, 50)])) if fin.size else 1.0
        thr = min_rel * typical
    sigma = max(2.0, n_col / 720.0)  # about half a degree of angle
    for _ in range(iterations):
        ok = interior & (strength >= thr)
        # a smooth trajectory through the accepted samples; where none is near (a ridge
        # displaced beyond the window), fill from coarser scales so the next search
        # window moves towards it
        traj, weight = _nan_smooth(refined, ok, sigma)
        near = weight > 0.05
        new = np.where(near, traj, pos)
        for k in np.flatnonzero(near.any(axis=1) & ~near.all(axis=1)):
            j_ok = np.flatnonzero(near[k])
            far = ~near[k]
            new[k, far] = np.interp(np.flatnonzero(far), j_ok, traj[k, j_ok], period=n_col)
        if np.allclose(new, pos, atol=0.05):
            break
        pos = new
        refined, strength, interior = measure(pos)
    ok = interior & (strength >= thr)
    return np.where(ok, refined, pos), strength, ok, thr


def _dedupe_rows(pos: np.ndarray, ok: np.ndarray, strength: np.ndarray, pitch_rows: float) -> np.ndarray:
    """Rows that converged onto the same ridge as another row: keep the stronger one."""
    keep = np.ones(pos.shape[0], bool)
    for k in range(pos.shape[0] - 1):
        both = ok[k] & ok[k + 1]
        if both.sum() < 0.2 * min(ok[k].sum(), ok[k + 1].sum()) or both.sum() == 0:
            continue
        # neighbouring turns sit one pitch apart; much closer means one row followed
        # another ridge family (e.g. a thin foil half a pitch away) or its neighbour's ridge
        if np.median(np.abs(pos[k + 1, both] - pos[k, both])) < 0.65 * pitch_rows:
            weaker = k if np.nanmedian(strength[k, ok[k]]) < np.nanmedian(strength[k + 1, ok[k + 1]]) else k + 1
            keep[weaker] = False
    return keep


def _extend_rows(S, pos, stren, valid, step_rows, window, min_rel, thr, n_col):
    """Look for partial turns beyond the innermost and outermost tracked rows.

    The roll's ends are where it departs most from a spiral (the core is often squarish,
    the last turn loose), so a constant starting row misses them; starting instead one
    pitch inside (outside) the neighbouring turn's trajectory follows its shape.
    """
    for side in (-1, 1):
        for _ in range(3):
            edge = 0 if side < 0 else pos.shape[0] - 1
            guess = pos[edge] + side * step_rows
            if np.median(guess) < 0 or np.median(guess) > S.shape[0] - 1:
                break
            p2, s2, v2, _ = _track_rows(S, None, step_rows, window, min_rel, init=guess[None], thr=thr)
            # where it fell back onto the edge turn it is not a new turn
            v2 &= ~(valid[edge] & (np.abs(p2[0] - pos[edge]) < 0.5 * step_rows))
            v2 = _drop_short_runs(v2, max(3, int(0.03 * n_col)))
            if v2.mean() < 0.03:
                break
            if side < 0:
                pos, stren, valid = np.vstack([p2, pos]), np.vstack([s2, stren]), np.vstack([v2, valid])
            else:
                pos, stren, valid = np.vstack([pos, p2]), np.vstack([stren, s2]), np.vstack([valid, v2])
    return pos, stren, valid


def _drop_short_runs(valid: np.ndarray, min_len: int) -> np.ndarray:
    out = valid.copy()
    for k in range(valid.shape[0]):
        for s, e in _runs(valid[k], circular=False):
            if e - s < min_len:
                out[k, s:e] = False
    return out
