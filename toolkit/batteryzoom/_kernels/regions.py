"""numba kernels of :mod:`batteryzoom.regions`: one pass per block of voxels.

Both kernels take flat (1-D, contiguous) views of one block: ``v`` the values (any real
dtype; bool as uint8), ``lab`` the labels (any integer dtype), ``m`` the mask (bool; a
1-element dummy when ``use_mask`` is False).

The statistics kernel reproduces the numpy path (``numpy.bincount`` per block) bit for
bit: per region the shifted values ``d = float64(v) - ref`` are added in voxel order
(a run of voxels of one region keeps its running sums in registers: the same additions
in the same order as ``bincount``), and the fine-histogram index is the same
``clip(d * scale + offset, 0, upper_clip)`` truncated (no fused multiply-add: numba does
not contract without fastmath).

Two faster forms cover the common case: :func:`range_block_float` reads float32/float64
values as their bit patterns (integer keys ordered like the floats, so the min/max and
finiteness reductions vectorize: numba leaves a float min/max reduction scalar), and
:func:`stats_block_finite` skips the mask and finiteness checks for a map without mask
whose labelled values are all finite (the range pass counts them); both give the same
numbers as the general kernels. Loops index slices from 0 (an index ``c0 + j`` makes
numba check every access for a negative wraparound, which keeps the loop scalar).

The post-processing kernels work per region on the fine histograms: percentiles (the
same arithmetic as the numpy path, all percentiles in one walk of the cumulative
counts) and the KDE peak/FWHM (a direct Gaussian convolution over each region's occupied
bins instead of an FFT of every padded row; equal to the FFT within float rounding for
kernels of at least 3 bins, narrower ones are smoothed by the FFT as before).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def range_block(v, lab, m, use_mask, values_needed):  # pragma: no cover - compiled
    """``(lmin, lmax, vmin, vmax, n_selected, n_mask)`` of a block.

    lmin/lmax over every voxel's label; vmin/vmax over the finite values of labelled
    (label > 0) voxels inside the mask; n_selected counts those voxels (finite or not);
    n_mask counts the mask's True voxels.
    """
    n = lab.size
    lmin = np.int64(0)
    lmax = np.int64(0)
    if n:
        lmin = np.int64(lab[0])
        lmax = lmin
    vmin = math.inf
    vmax = -math.inf
    n_sel = 0
    n_mask = 0
    for i in range(n):
        li = np.int64(lab[i])
        if li < lmin:
            lmin = li
        if li > lmax:
            lmax = li
        if use_mask:
            if not m[i]:
                continue
            n_mask += 1
        if li > 0:
            n_sel += 1
            if values_needed:
                x = np.float64(v[i])
                if math.isfinite(x):
                    if x < vmin:
                        vmin = x
                    if x > vmax:
                        vmax = x
    return lmin, lmax, vmin, vmax, n_sel, n_mask


@njit(cache=True, nogil=True, inline="always")
def _next_run(row, cur, s, q, sums, sumsq):  # pragma: no cover - compiled
    """End the run of row ``cur`` (its running sums ``s``, ``q`` back to memory, if any)
    and start one of ``row``: a run of one region keeps its sums in registers."""
    if cur >= 0:
        sums[cur] = s
        sumsq[cur] = q
    return row, sums[row], sumsq[row]


# voxels per slice of the vectorized range loop (a few pages of each input)
_RANGE_SLICE = 4096


@njit(cache=True, nogil=True, error_model="numpy")
def range_block_float(bits, lab, m, use_mask, low, exp_mask, sign_shift):  # pragma: no cover - compiled
    """:func:`range_block` for float32/float64 values, read as their bit patterns.

    ``bits``: the values viewed as int32 (float32) or int64 (float64); ``low`` (all bits
    but the sign), ``exp_mask`` (the exponent bits) and ``sign_shift`` (bits - 1) are
    scalars of that integer type, so the arithmetic stays in its width and vectorizes.
    ``key = bits ^ ((bits >> sign_shift) & low)`` orders like the floats (negative floats
    have their magnitude bits flipped); a value is finite when its exponent bits are not
    all set.

    Returns ``(lmin, lmax, kmin, kmax, n_selected, n_mask, n_finite)``: keys of the
    smallest and largest finite selected value (``kmin == low`` when there is none) and
    the count of finite selected voxels; the rest as :func:`range_block`.
    """
    n = lab.size
    lmin = lmax = np.int64(lab[0]) if n else np.int64(0)
    kmin = low
    kmax = -low
    n_sel = 0
    n_mask = 0
    n_fin = 0
    for c0 in range(0, n, _RANGE_SLICE):
        size = min(_RANGE_SLICE, n - c0)
        lx = lab[c0 : c0 + size]
        bx = bits[c0 : c0 + size]
        mx = m[c0 : c0 + size] if use_mask else m
        a = lx[0]
        b = lx[0]
        k_sel = 0
        k_mask = 0
        k_fin = 0
        lo = kmin
        hi = kmax
        for j in range(size):  # selects, not min()/max(): numba vectorizes these
            li = lx[j]
            a = li if li < a else a
            b = li if li > b else b
            sel = li > 0
            if use_mask:
                mj = mx[j] != 0
                k_mask += mj
                sel = sel & mj
            k_sel += sel
            x = bx[j]
            key = x ^ ((x >> sign_shift) & low)
            ok = sel & ((x & exp_mask) != exp_mask)
            k_fin += ok
            key_lo = key if ok else low
            key_hi = key if ok else -low
            lo = key_lo if key_lo < lo else lo
            hi = key_hi if key_hi > hi else hi
        lmin = min(lmin, np.int64(a))
        lmax = max(lmax, np.int64(b))
        n_sel += k_sel
        n_mask += k_mask
        n_fin += k_fin
        kmin = lo
        kmax = hi
    return lmin, lmax, kmin, kmax, n_sel, n_mask, n_fin


@njit(cache=True, nogil=True, error_model="numpy")
def stats_block_finite(v, lab, lut, use_lut, ref, scale, offset, upper_clip, width,
                       sums, sumsq, fine):  # pragma: no cover - compiled
    """:func:`stats_block` in histogram mode for a block without mask whose labelled
    (row > 0) values are all finite: no per-voxel mask or finiteness branch.

    Background voxels (row 0) are summed and binned into row 0, which the caller
    ignores; a non-finite value there lands in a valid cell (a NaN fails both clip
    comparisons and becomes bin 0). Same sums, in the same order, and the same bins as
    :func:`stats_block` for every row > 0.
    """
    cur = -1
    base = np.int64(0)  # the run's first cell: row * width
    s = 0.0
    q = 0.0
    for i in range(lab.size):
        li = np.int64(lab[i])
        row = np.int64(lut[li]) if use_lut else li
        d = np.float64(v[i]) - ref
        if row != cur:
            cur, s, q = _next_run(row, cur, s, q, sums, sumsq)
            base = row * width
        s += d
        q += d * d
        t = d * scale
        t = t + offset
        t = t if t > 0.0 else 0.0  # (not max(): a NaN here must become 0, a valid cell)
        t = t if t < upper_clip else upper_clip
        # an unsigned index: numba then skips the negative-index wraparound (~8 %)
        fine[np.uint64(base + np.int64(t))] += 1
    _next_run(0, cur, s, q, sums, sumsq)


@njit(cache=True, nogil=True, error_model="numpy")
def stats_block(v, lab, m, use_mask, lut, use_lut, ref, scale, offset, upper_clip, width,
                histogram, nonfinite, sums, sumsq, count, fine):  # pragma: no cover - compiled
    """Add one block's per-region partial statistics into the output arrays.

    Parameters
    ----------
    lut : int array, label value -> row (used when ``use_lut``)
    ref, scale, offset, upper_clip : the plan's affine map value -> fine bin
    width : int, fine bins per row including under- and overflow (``n_fine + 2``)
    histogram : bool, fill ``fine`` (else ``count``)
    nonfinite, count : int64 (n_rows,), incremented
    sums, sumsq : float64 (n_rows,), sums of ``d`` and ``d*d`` added in voxel order
    fine : int32 or int64 (n_rows * width,), incremented (histogram mode)
    """
    n = lab.size
    cur = -1
    s = 0.0
    q = 0.0
    for i in range(n):
        if use_mask and not m[i]:
            continue
        li = np.int64(lab[i])
        row = np.int64(lut[li]) if use_lut else li
        if row <= 0:
            continue
        d = np.float64(v[i]) - ref
        if not math.isfinite(d):
            nonfinite[row] += 1
            continue
        if row != cur:
            cur, s, q = _next_run(row, cur, s, q, sums, sumsq)
        s += d
        q += d * d
        if histogram:
            t = d * scale
            t = t + offset
            if t < 0.0:
                t = 0.0
            elif t > upper_clip:
                t = upper_clip
            fine[np.uint64(row * width + np.int64(t))] += 1
        else:
            count[row] += 1
    _next_run(0, cur, s, q, sums, sumsq)


@njit(cache=True, nogil=True, error_model="numpy")
def fine_row_sums(counts_ext, subbins, total, hists, r0, r1):  # pragma: no cover - compiled
    """Per row ``r0:r1`` of an extended fine histogram (underflow, fine bins, overflow):
    ``total[r]`` = every count, ``hists[r, j]`` = the counts of display bin j (its
    ``subbins`` fine bins). One read of the counts instead of three numpy reductions."""
    n_bins = hists.shape[1]
    for r in range(r0, r1):
        row = counts_ext[r]
        tot = np.int64(row[0]) + np.int64(row[row.size - 1])
        for j in range(n_bins):
            cells = row[1 + j * subbins : 1 + (j + 1) * subbins]
            acc = np.int64(0)
            for c in range(subbins):
                acc += cells[c]
            hists[r, j] = acc
            tot += acc
        total[r] = tot


@njit(cache=True, nogil=True, error_model="numpy")
def hist_percentiles(counts_ext, total, lo, width, qs, order, out, r0, r1):  # pragma: no cover
    """Percentiles of rows ``r0:r1`` of an extended histogram into ``out`` (len(qs), n_rows).

    ``order`` sorts ``qs`` ascending. Same rules as ``regions.percentiles._hist_percentiles``: the
    first non-empty bin whose cumulative count reaches ``q/100 * total`` (less 1e-9 of
    the total), linear inside it; NaN in the under/overflow bin or for an empty row.
    """
    n_q = qs.size
    w_ext = counts_ext.shape[1]
    targets = np.empty(n_q)
    thresh = np.empty(n_q)
    for r in range(r0, r1):
        tot = total[r]
        tol = 1e-9 * max(tot, 1.0)
        for k in range(n_q):
            targets[k] = qs[k] / 100.0 * tot
            thresh[k] = targets[k] - tol
            out[k, r] = np.nan
        if not tot > 0:
            continue
        j = 0
        cum = 0.0
        for c in range(w_ext):
            cnt = counts_ext[r, c]
            prev = cum
            cum += cnt
            if cnt <= 0:
                continue
            while j < n_q and cum >= thresh[order[j]]:
                k = order[j]
                if 1 <= c <= w_ext - 2:
                    frac = (targets[k] - prev) / cnt
                    if frac < 0.0:
                        frac = 0.0
                    elif frac > 1.0:
                        frac = 1.0
                    out[k, r] = lo + ((c - 1) + frac) * width
                j += 1
            if j == n_q:
                break


@njit(cache=True, nogil=True, error_model="numpy")
def _val(y, p0, p):  # pragma: no cover
    i = p - p0
    if 0 <= i < y.size:
        return y[i]
    return 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def kde_peak_width(counts, sel, sigma_bins, direct, y_fft, fft_row, pad, length, peak, width, r0, r1):  # pragma: no cover
    """Peak and FWHM (fine-bin units) of the smoothed rows ``counts[sel[r]]``, r in r0:r1.

    Mirrors ``regions.widths._kde_peak_width`` in its padded coordinates (``pad`` zero bins each
    side, ``length`` positions): rows with ``direct`` are smoothed here by a sampled
    Gaussian of ``sigma_bins[r]`` bins, cut where it falls below 1e-17 of its centre;
    the others come smoothed in ``y_fft[fft_row[r]]`` (the FFT path).
    """
    # one compiled function on purpose: numba fuses the smoothing, peak and half-maximum search
    # per row; split into calls it would allocate and copy each row's curve
    n = counts.shape[1]
    for r in range(r0, r1):
        row = sel[r]
        if direct[r]:
            s = sigma_bins[r]
            # the occupied bins: scanned in from both ends
            b0 = 0
            while b0 < n and counts[row, b0] == 0:
                b0 += 1
            if b0 == n:
                b0 = -1
            b1 = n - 1
            while b1 > b0 and counts[row, b1] == 0:
                b1 -= 1
            if b0 < 0:
                peak[r] = np.nan
                width[r] = np.nan
                continue
            rad = int(math.ceil(9.0 * s))
            n_taps = 2 * rad + 1
            # the taps, zero-padded by 3 each side: four bins at a time, one pass over y
            # per four bins, a quarter of the loads, stores and loop set-ups (1.3x faster)
            tx = np.zeros(n_taps + 6)
            norm = 1.0 / (s * math.sqrt(2.0 * math.pi))
            for t in range(rad + 1):  # symmetric: half the exponentials
                g = math.exp(-0.5 * (t / s) ** 2) * norm
                tx[3 + rad + t] = g
                tx[3 + rad - t] = g
            p0 = b0 + pad - rad
            n_occ = b1 - b0 + 1
            y = np.zeros(n_occ + n_taps + 2)  # 3 more than the curve: zeros
            t0 = tx[3 : 6 + n_taps]
            t1 = tx[2 : 5 + n_taps]
            t2 = tx[1 : 4 + n_taps]
            t3 = tx[0 : 3 + n_taps]
            for b in range(0, n_occ, 4):
                c0 = np.float64(counts[row, b0 + b])
                c1 = np.float64(counts[row, b0 + b + 1]) if b + 1 < n_occ else 0.0
                c2 = np.float64(counts[row, b0 + b + 2]) if b + 2 < n_occ else 0.0
                c3 = np.float64(counts[row, b0 + b + 3]) if b + 3 < n_occ else 0.0
                if c0 == 0.0 and c1 == 0.0 and c2 == 0.0 and c3 == 0.0:
                    continue
                yb = y[b : b + n_taps + 3]
                for t in range(n_taps + 3):
                    yb[t] += c0 * t0[t] + c1 * t1[t] + c2 * t2[t] + c3 * t3[t]
        else:
            y = y_fft[fft_row[r]]
            p0 = 0
        # argmax over the padded domain (first maximum, as numpy.argmax)
        lo_p = max(p0, 0)
        hi_p = min(p0 + y.size, length)
        imax = 0
        best = -np.inf
        for p in range(lo_p, hi_p):
            v = y[p - p0]
            if v > best:
                best = v
                imax = p
        i = min(max(imax, 1), length - 2)
        ym = _val(y, p0, i - 1)
        y0 = _val(y, p0, i)
        yp = _val(y, p0, i + 1)
        denom = ym - 2 * y0 + yp
        delta = 0.5 * (ym - yp) / denom if denom < 0 else 0.0
        if delta < -0.5:
            delta = -0.5
        elif delta > 0.5:
            delta = 0.5
        ymax = y0 - 0.25 * (ym - yp) * delta
        half = ymax / 2
        jl = -1
        for p in range(i - 1, -1, -1):
            if _val(y, p0, p) < half:
                jl = p
                break
            if p < p0:  # everything further left is 0
                break
        jr = length
        for p in range(i + 1, length):
            if _val(y, p0, p) < half:
                jr = p
                break
            if p >= p0 + y.size:
                break
        ok = jl >= 0 and jr < length and ymax > 0
        jl_c = min(max(jl, 0), length - 2)
        jr_c = min(max(jr, 1), length - 1)
        yl0 = _val(y, p0, jl_c)
        yl1 = _val(y, p0, jl_c + 1)
        yr0 = _val(y, p0, jr_c - 1)
        yr1 = _val(y, p0, jr_c)
        xl = jl_c + (half - yl0) / (yl1 - yl0)
        xr = jr_c - 1 + (yr0 - half) / (yr0 - yr1)
        cut_lo = xl < pad - 0.5 and counts[row, 0] > half / 2
        cut_hi = xr > pad + n - 0.5 and counts[row, n - 1] > half / 2
        if ok and not cut_lo and not cut_hi:
            peak[r] = i + delta - pad
            width[r] = xr - xl
        else:
            peak[r] = np.nan
            width[r] = np.nan


@njit(cache=True, nogil=True, error_model="numpy")
def clip_moments(v, lab, m, use_mask, lut, use_lut, ref, centre, cut, n, s1, s2):  # pragma: no cover
    """One round of per-region sigma clipping over a block: for the voxels within
    ``cut[row]`` of ``centre[row]`` (never NaN/inf: ``cut`` is finite; never row 0: its
    cut is negative), add the count and the sums of ``v - ref`` and its square (``ref``
    near the values, so the squares keep their precision) into ``n, s1, s2``."""
    for i in range(lab.size):
        if use_mask and not m[i]:
            continue
        li = np.int64(lab[i])
        row = np.int64(lut[li]) if use_lut else li
        x = np.float64(v[i])
        if abs(x - centre[row]) <= cut[row]:
            d = x - ref
            n[row] += 1
            s1[row] += d
            s2[row] += d * d


@njit(cache=True, nogil=True, error_model="numpy")
def clip_keep(v, lab, m, use_mask, lut, use_lut, centre, cut, keep):  # pragma: no cover - compiled
    """``keep[i]`` (uint8): voxel ``i`` is unmasked and within ``cut`` of its row's
    ``centre``, or a labelled NaN/inf (left for the statistics to count)."""
    for i in range(lab.size):
        if use_mask and not m[i]:
            keep[i] = 0
            continue
        li = np.int64(lab[i])
        row = np.int64(lut[li]) if use_lut else li
        x = np.float64(v[i])
        keep[i] = abs(x - centre[row]) <= cut[row] or (row > 0 and not math.isfinite(x))
