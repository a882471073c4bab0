"""numba kernel of :func:`batteryzoom.xanes.edge_maps` with one e0 for every voxel.

With one e0 the normalization is linear in the spectrum, so each voxel needs a few
linear functionals of its spectrum: the pre-edge line's intercept and slope, the edge
step (post-edge polynomial minus pre-edge line at e0), and a finiteness check over all
energies. A Victoreen pre-edge (Larch's ``nvict``: the line fitted to ``mu * E**nvict``)
stays linear: ``E**nvict`` is folded into the line's operator and the line is scaled by
``E**-nvict`` wherever it is evaluated. The stack is energy-first ``(E, V)``: a voxel's
spectrum is strided, a row of one energy is contiguous. The kernel takes a tile of contiguous voxels and reads each of
its ``E`` rows from memory once, in the order that makes every step possible in the same
pass: the pre-edge rows (the line, then its residual from L1/L2), the other rows of the
edge step, then the rows around the edge, each compared with the line plus half the
now known edge step (one byte per voxel and energy), then the remaining rows. The
upward crossing nearest e0 is a branch-free pass over those bytes and its linear
interpolation (float64, the numpy path's formulas) reads its two values back from L2.
Every inner loop runs over contiguous voxels and vectorizes; the per-voxel state is a
few small arrays, so that the loops stay bound by memory, not by the cache traffic.

Semantics are those of ``xanes._fused._FixedPlan`` (the numpy fused path, kept as the
reference): ``valid`` = finite spectrum (NaN/inf anywhere: the line and step sums
carry them, the other energies are checked one by one), finite edge step above
``1e-5`` of the absorbance level (+1e-12); every output but
``valid`` is NaN where a spectrum is not valid; the half-step crossing is the upward
crossing of half the edge step nearest e0 within the window, NaN when there is none.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# voxels per tile: row segments of 16 KiB keep the hardware prefetchers streaming across
# the E strided rows; the per-voxel state (~200 KiB) and the edge window's rows stay in L2
TILE = 4096

# rows of the kernel's output (``out``)
HALF_STEP, HALF_STEP_ERR, E0, EDGE_STEP, PRE_EDGE_NOISE, VALID = range(6)


@njit(cache=True, nogil=True, error_model="numpy")
def fixed_e0_block(y, v0, v1, early, late, pre_a, pre_b, pre_w, e_all, step_w, dof, e0,
                   interval_rank, err_q, noise_fixed, do_half, out, out_rows, valid_out, norm_out, norm_w0, pre_s,
                   pre_s_e0, vict):  # pragma: no cover
    """Normalization and half-step edge of voxels ``v0:v1`` of ``y`` ``(E, V)``.

    Parameters
    ----------
    y : (E, V) float array, any float dtype
    early : int64 rows read first, ascending: the pre-edge rows, then the other rows
        with an edge-step weight
    late : int64 rows read next, ascending and consecutive: the edge window (and the
        normalized rows asked for); then every other row (finiteness only)
    pre_a, pre_b : pre-edge rows ``[pre_a, pre_b)``
    pre_w : (2, pre_b - pre_a) float64, least-squares intercept and slope operator
    e_all : (E,) float64 energies (eV)
    step_w : (E,) float64, edge-step weights (0 where unused)
    dof : float, degrees of freedom of the pre-edge residual
    e0 : float, eV
    interval_rank : (E,) int64, rank of the half-step interval (k, k+1) by its distance
        from e0 (0 = nearest), -1 where k starts no interval
    err_q : (3, E - 1) float64, per-interval coefficients of the half-step uncertainty's
        ``|r|^2`` (``batteryzoom.xanes.uncertainty.half_step_err_quadratic``)
    noise_fixed : float, the noise (absorbance per energy) the uncertainty propagates for
        every voxel (``edge_maps(noise=...)``: the pooled or a given level); 0 or less:
        each voxel's own pre-edge residual
    do_half : bool, search the half-step crossing
    out : (n_out, V) float64, written at columns v0:v1
    out_rows : (6,) int64, the row of ``out`` of each field HALF_STEP ... VALID (-1: none)
    valid_out : (V,) uint8 (a bool array's view) or (0,): the valid flags, written at
        v0:v1 when the VALID row is -1 (a bool map: 1 byte per voxel instead of 8)
    norm_out : (nw, v1 - v0) float64 or (0, 0): normalized rows ``norm_w0 + i`` (NaN if invalid)
    pre_s : (E,) float64, ``E**-nvict``: the pre-edge at energy ``e`` is
        ``pre_s[e] * (c0 + E_e * c1)``, the line fitted to ``mu * E**nvict`` (``pre_w``
        has ``E**nvict`` folded in); ones for Larch's default straight line
    pre_s_e0 : float, ``e0**-nvict`` (the absorbance level at e0 for the validity check)
    vict : bool, ``nvict != 0``: also reject constant spectra, and scale the line in the
        half-step comparison (with ``nvict = 0`` it keeps the threshold precomputed per
        voxel; elsewhere a scale of 1.0 changes no float64 result)
    """
    # one compiled function on purpose: each voxel's spectrum is read once and normalized, fitted
    # and searched for its half-step edge in registers; split, it would re-read the stack per step
    n_e = y.shape[0]
    in_early = np.zeros(n_e, np.bool_)
    for e in early:
        in_early[e] = True
    seen = in_early.copy()
    for e in late:
        seen[e] = True
    rest = np.array([e for e in range(n_e) if not seen[e]], np.int64)
    late_lo = late[0] if late.size else 0
    n_late = late.size
    # half-step intervals in rank order (nearest e0 first)
    n_int = 0
    for e in range(n_e):
        if interval_rank[e] >= 0:
            n_int += 1
    by_rank = np.empty(n_int, np.int64)
    for e in range(n_e):
        if interval_rank[e] >= 0:
            by_rank[interval_rank[e]] = e
    n_norm = norm_out.shape[0]
    bad = np.empty(TILE, np.uint8)  # 1 once a non-finite value was seen (x - x is NaN)
    # nvict != 0: 1 while every value equals the first row's (a constant spectrum has a
    # spurious edge step under the E**-nvict curve; the general path rejects it by its
    # spread; the straight line's step is zero there, so without nvict it stays 0)
    same = np.empty(TILE, np.uint8)
    c0 = np.empty(TILE)
    c1 = np.empty(TILE)
    st = np.empty(TILE)
    ns = np.empty(TILE)
    thr = np.empty(TILE)  # c0 + step / 2: below half the step <=> y < thr + e * c1
    valid = np.empty(TILE, np.bool_)
    below = np.empty((max(n_late, 1), TILE), np.uint8)
    # the nearest crossing as a weight n_int - rank (0: none); uint16 lanes vectorize wide
    best = np.empty(TILE, np.uint16)
    ya_raw = np.empty(TILE, y.dtype)  # per voxel: the crossing's two values, energies and
    yb_raw = np.empty(TILE, y.dtype)  # uncertainty coefficients
    ek = np.empty(TILE)
    ek1 = np.empty(TILE)
    q0 = np.empty(TILE)
    q1 = np.empty(TILE)
    q2 = np.empty(TILE)
    sk = np.empty(TILE)
    sk1 = np.empty(TILE)
    own_noise = not noise_fixed > 0.0
    if not vict:  # Larch's straight line: no scale (two gathers per voxel fewer)
        sk[:] = 1.0
        sk1[:] = 1.0
    weight = np.zeros(n_e, np.uint16)
    for e in range(n_e):
        if interval_rank[e] >= 0:
            weight[e] = n_int - interval_rank[e]
    r_half, r_err, r_e0 = out_rows[HALF_STEP], out_rows[HALF_STEP_ERR], out_rows[E0]
    r_step, r_noise, r_valid = out_rows[EDGE_STEP], out_rows[PRE_EDGE_NOISE], out_rows[VALID]
    with_err = r_err >= 0
    nan = np.nan
    for t0 in range(v0, v1, TILE):
        nb = min(TILE, v1 - t0)
        bad[:nb] = 0
        same[:nb] = 1 if vict else 0
        first = y[early[0] if early.size else 0, t0 : t0 + nb]
        c0[:nb] = 0.0
        c1[:nb] = 0.0
        st[:nb] = 0.0
        ns[:nb] = 0.0
        # 1. pre-edge line (and its residual as soon as it is known), edge step; a
        # NaN/inf in these rows reaches c0, c1 or the step (w * inf, w * NaN)
        for e in early:
            row = y[e, t0 : t0 + nb]
            if vict:
                _still_same(same, row, first, nb)
            if pre_a <= e < pre_b:
                w0 = pre_w[0, e - pre_a]
                w1 = pre_w[1, e - pre_a]
                for j in range(nb):
                    x = np.float64(row[j])
                    c0[j] += w0 * x
                    c1[j] += w1 * x
                if e == pre_b - 1:  # the line is known: its residual, from L1/L2
                    for ep in range(pre_a, pre_b):
                        rowp = y[ep, t0 : t0 + nb]
                        se = pre_s[ep]
                        sbe = se * e_all[ep]
                        for j in range(nb):
                            r = np.float64(rowp[j]) - se * c0[j] - sbe * c1[j]
                            ns[j] += r * r
            ws = step_w[e]
            if ws != 0.0:
                for j in range(nb):
                    st[j] += ws * np.float64(row[j])
        for j in range(nb):
            st[j] = abs(st[j])
            thr[j] = 0.5 * st[j] if vict else c0[j] + 0.5 * st[j]
        # 2. around the edge: which voxels are below half the step, energy by energy
        for i in range(n_late):
            e = late[i]
            row = y[e, t0 : t0 + nb]
            if not in_early[e]:  # x - x is NaN for NaN/inf, in the row's own dtype
                for j in range(nb):
                    d = row[j] - row[j]
                    bad[j] |= d != d
                if vict:
                    _still_same(same, row, first, nb)
            if do_half:
                ee = e_all[e]
                bi = below[i]
                if vict:  # thr is half the step alone; the line scaled to this energy
                    se = pre_s[e]
                    sbe = se * ee
                    for j in range(nb):
                        bi[j] = np.float64(row[j]) < thr[j] + se * c0[j] + sbe * c1[j]
                else:
                    for j in range(nb):
                        bi[j] = np.float64(row[j]) < thr[j] + ee * c1[j]
            if 0 <= e - norm_w0 < n_norm:
                ee = e_all[e]
                se = pre_s[e]
                sbe = se * ee
                nrow = norm_out[e - norm_w0, t0 - v0 : t0 - v0 + nb]
                for j in range(nb):
                    nrow[j] = (np.float64(row[j]) - se * c0[j] - sbe * c1[j]) / st[j]
        # 3. every other row: finiteness only
        for e in rest:
            row = y[e, t0 : t0 + nb]
            for j in range(nb):  # in the row's dtype: float32 lanes are twice as wide
                d = row[j] - row[j]
                bad[j] |= d != d
            if vict:
                _still_same(same, row, first, nb)
        # 4. validity and the outputs (bitwise, branch-free: the loop vectorizes);
        # f - f is 0 for a finite f, NaN for NaN/inf, so it catches any non-finite sum
        for j in range(nb):
            level = abs(c0[j] + e0 * c1[j]) * pre_s_e0
            f = c0[j] + c1[j] + st[j]
            valid[j] = (bad[j] == 0) & (same[j] == 0) & (f - f == 0.0) & (st[j] > 1e-5 * level + 1e-12)
            ns[j] = math.sqrt(ns[j] / dof)
        if r_valid >= 0:
            o = out[r_valid, t0 : t0 + nb]
            for j in range(nb):
                o[j] = 1.0 if valid[j] else 0.0
        elif valid_out.size:
            ov = valid_out[t0 : t0 + nb]
            for j in range(nb):
                ov[j] = np.uint8(valid[j])
        if r_e0 >= 0:
            o = out[r_e0, t0 : t0 + nb]
            for j in range(nb):
                o[j] = e0 if valid[j] else nan
        if r_step >= 0:
            o = out[r_step, t0 : t0 + nb]
            for j in range(nb):
                o[j] = st[j] if valid[j] else nan
        if r_noise >= 0:
            o = out[r_noise, t0 : t0 + nb]
            for j in range(nb):
                o[j] = ns[j] if valid[j] else nan
        for i in range(n_norm):
            nrow = norm_out[i, t0 - v0 : t0 - v0 + nb]
            for j in range(nb):
                nrow[j] = nrow[j] if valid[j] else nan
        if not do_half:
            continue
        # 5. the upward crossing (below, then not below) nearest e0: the largest weight
        # among a voxel's crossings (an elementwise max over the intervals)
        best[:nb] = 0
        for k in range(late_lo, late_lo + n_late - 1):
            wk = weight[k]
            if wk == 0:
                continue
            b_lo = below[k - late_lo]
            b_hi = below[k + 1 - late_lo]
            for j in range(nb):
                cand = wk if b_lo[j] > b_hi[j] else np.uint16(0)
                best[j] = max(best[j], cand)
        # the interpolation in two loops: the gathers (each voxel's interval and its two
        # values, scalar), then the arithmetic over contiguous arrays (vector lanes: its
        # five divisions and a square root per voxel were a third of the kernel's time)
        for j in range(nb):
            k = by_rank[n_int - best[j]] if best[j] > 0 else by_rank[0]
            ya_raw[j] = y[k, t0 + j]
            yb_raw[j] = y[k + 1, t0 + j]
            ek[j] = e_all[k]
            ek1[j] = e_all[k + 1]
            if vict:  # else the scales stay 1.0
                sk[j] = pre_s[k]
                sk1[j] = pre_s[k + 1]
            q0[j] = err_q[0, k]
            q1[j] = err_q[1, k]
            q2[j] = err_q[2, k]
        oh = out[r_half, t0 : t0 + nb]
        oe = out[r_err if r_err >= 0 else r_half, t0 : t0 + nb]
        for j in range(nb):
            step = st[j]
            ya = (np.float64(ya_raw[j]) - sk[j] * c0[j] - (sk[j] * ek[j]) * c1[j]) / step
            yb = (np.float64(yb_raw[j]) - sk1[j] * c0[j] - (sk1[j] * ek1[j]) * c1[j]) / step
            de = ek1[j] - ek[j]
            t = (0.5 - ya) / (yb - ya)
            found = (best[j] > 0) & valid[j]
            if with_err:
                noise = (ns[j] if own_noise else noise_fixed) / step
                slope = (yb - ya) / de
                # propagated: the two interpolated points, the pre-edge line and the step
                q = q0[j] + 2.0 * t * q1[j] + t * t * q2[j]
                err = noise * math.sqrt(max(q, 0.0)) / slope
                oe[j] = err if found else nan
            oh[j] = ek[j] + t * de if found else nan


@njit(cache=True, nogil=True, inline="always")
def _still_same(same, row, first, nb):  # pragma: no cover - compiled
    """``same[j]`` stays 1 only while ``row[j]`` equals ``first[j]`` (constant spectra)."""
    for j in range(nb):
        same[j] &= np.uint8(row[j] == first[j])


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def row_sums_block(y, v0, v1, out):  # pragma: no cover - compiled
    """float64 sums of each row of ``y[:, v0:v1]`` into ``out`` ``(E,)``.

    ``reassoc`` lets the sum run in vector lanes (its order differs from numpy's pairwise
    sum at float64 rounding); NaN and inf still propagate, so a non-finite row sum flags
    the block as in the numpy path.
    """
    for e in range(y.shape[0]):
        row = y[e, v0:v1]
        acc = 0.0
        for j in range(v1 - v0):
            acc += np.float64(row[j])
        out[e] = acc


@njit(cache=True, nogil=True)
def finite_min_max(values, keep, v0, v1):  # pragma: no cover - compiled
    """Minimum, maximum and count of the finite ``values[v0:v1]`` where ``keep`` (uint8).

    The loops of these mask kernels run over slices from index 0: with ``range(v0, v1)``
    numba cannot prove an index non-negative and checks it for wraparound on every
    access, which keeps the loop scalar (4-5x slower for :func:`mask_fields`).
    """
    x_ = values[v0:v1]
    k_ = keep[v0:v1]
    lo = np.inf
    hi = -np.inf
    n = 0
    for i in range(x_.size):
        x = np.float64(x_[i])
        ok = k_[i] & np.uint8(x - x == 0.0)
        lo = min(lo, x if ok else np.inf)
        hi = max(hi, x if ok else -np.inf)
        n += ok
    return lo, hi, n


# values per chunk of the histogram kernel: its bin indices stay in L1
HIST_CHUNK = 4096


@njit(cache=True, nogil=True)
def kept_histogram(values, keep, v0, v1, first, last, n_bins):  # pragma: no cover - compiled
    """``numpy.histogram(values[v0:v1][keep], n_bins, range=(first, last))`` counts, bin
    for bin, with no copy.

    numpy's equal-bins path: an index estimate from the value's position in the range,
    then the one-ulp corrections against the edges ``linspace(first, last, n_bins + 1)``,
    which settle any estimate within one bin of the right one on the edges' own
    comparisons. The edges are computed, not looked up: ``k * step + first`` (``step =
    (last - first) / n_bins``) is numpy's own ``linspace`` arithmetic (without fused
    multiply-add, which numba does not contract without fastmath), its last edge ``last``;
    so the index loop has no gather and vectorizes (numpy's ``linspace`` against this
    formula: :func:`histogram_edges`, tested). Values outside ``[first, last]`` (NaN,
    inf) get the index ``n_bins`` and are left out.

    Counts go to four interleaved copies of the histogram (``i & 3``) and are summed at
    the end: most voxels of a stack are background in one or two bins, and one counter
    incremented voxel after voxel waits on its own previous store.
    """
    counts = np.zeros((4, n_bins + 1), np.int64)
    scale = n_bins / (last - first)
    step = (last - first) / n_bins
    top = n_bins - 1
    x_ = values[v0:v1]
    k_ = keep[v0:v1]
    idx = np.empty(HIST_CHUNK, np.int64)
    for c0 in range(0, x_.size, HIST_CHUNK):
        m = min(HIST_CHUNK, x_.size - c0)
        xc = x_[c0 : c0 + m]
        kc = k_[c0 : c0 + m]
        for i in range(m):
            x = np.float64(xc[i])
            ok = (kc[i] != 0) & (x >= first) & (x <= last)
            xs = x if ok else first
            k = min(np.int64((xs - first) * scale), top)
            k -= np.int64(xs < np.float64(k) * step + first)
            e_hi = np.float64(k + 1) * step + first if k < top else last
            k += np.int64((xs >= e_hi) & (k != top))
            idx[i] = k if ok else n_bins
        for i in range(m):
            counts[i & 3, idx[i]] += 1
    return counts[:, :n_bins].sum(axis=0)


def histogram_edges(first: float, last: float, n_bins: int) -> np.ndarray:
    """The bin edges :func:`kept_histogram` bins by: ``numpy.linspace(first, last, n_bins + 1)``."""
    edges = np.arange(n_bins + 1) * ((last - first) / n_bins) + first
    edges[-1] = last
    return edges


@njit(cache=True, nogil=True)
def mask_fields(step, noise, valid, energy, threshold, min_snr, v0, v1,
                edge_jump, snr, failed, mask):  # pragma: no cover - compiled
    """The four masks of :func:`batteryzoom.xanes.masks` over ``v0:v1``, in one pass.

    ``step``, ``noise``, ``energy``: float32 or float64 maps, compared in float64.

    ``valid`` and the four outputs are uint8 views of bool arrays (0/1 arithmetic, no
    branch: the loop vectorizes). The comparisons are the numpy path's, in float64: a NaN
    compares False.
    """
    s_ = step[v0:v1]
    n_ = noise[v0:v1]
    ok_ = valid[v0:v1]
    e_ = energy[v0:v1]
    ej_ = edge_jump[v0:v1]
    sn_ = snr[v0:v1]
    fl_ = failed[v0:v1]
    m_ = mask[v0:v1]
    one = np.uint8(1)
    for i in range(s_.size):
        ok = ok_[i]
        s = np.float64(s_[i])
        e = e_[i]
        ej = ok & np.uint8(s > threshold)
        sn = ok & np.uint8(s > min_snr * np.float64(n_[i]))
        fl = (ok ^ one) | np.uint8(e - e != 0.0)
        ej_[i] = ej
        sn_[i] = sn
        fl_[i] = fl
        m_[i] = ej & sn & (fl ^ one)
