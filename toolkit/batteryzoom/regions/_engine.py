"""The block engine behind every region function: two passes over numpy slabs or dask chunks.

Pass 1 (:func:`_scan`) finds the label range and the finite value range over the labelled
voxels and counts the finite labelled values; :func:`_make_plan` turns that into a
:class:`_Plan` (rows per label, the affine map value -> fine histogram bin); pass 2
(:func:`_accumulate`) adds, per label, the non-finite count, the sum and sum of squares of
``value - ref`` and the fine histogram, block by block (:func:`batteryzoom._blocks.iter_blocks`).
Each block runs a compiled kernel (:mod:`batteryzoom._kernels.regions`) or, with
``BATTERYZOOM_NUMBA=0``, its numpy reference (``*_numpy``), which gives identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .. import _kernels
from .._blocks import NUMPY_BLOCK_VOXELS, iter_blocks, map_ranges, n_threads
from ..errors import InputError

# Fine-histogram size: at most this many (label x fine bin) cells (int32 counts, one
# array per thread: 8 MiB each), at most _MAX_SUBBINS fine bins per display bin.
_FINE_CELL_BUDGET = 2**21
_MAX_SUBBINS = 16
# Labels above this are compacted to 1..n first (the per-label arrays would be too big)
_COMPACT_ABOVE = 2**18


def _flat(x: Any) -> np.ndarray:
    """A block as a flat contiguous array the kernels accept (bool values as uint8)."""
    x = np.ascontiguousarray(x).reshape(-1)
    return x.view(np.uint8) if x.dtype == np.bool_ else x


_NO_MASK = np.ones(1, np.bool_)


# float dtype -> (its bits' integer type, all bits but the sign, exponent bits)
_FLOAT_BITS = {
    np.dtype(np.float32): (np.int32, np.int32(0x7FFFFFFF), np.int32(0x7F800000)),
    np.dtype(np.float64): (np.int64, np.int64(0x7FFFFFFFFFFFFFFF), np.int64(0x7FF0000000000000)),
}


def _key_to_float(key: int, dtype: np.dtype) -> float:
    """Invert ``range_block_float``'s order-preserving key of a float's bit pattern."""
    ity, low, _ = _FLOAT_BITS[dtype]
    k = ity(key)
    bits = k ^ low if k < 0 else k
    return float(np.array([bits], ity).view(dtype)[0])


def _range_block(v, lab, m, *, values_needed: bool = True):
    """Label range of the block and the finite value range over its labelled voxels.

    Returns ``(lmin, lmax, vmin, vmax, n_selected, n_mask, n_finite)`` (n_mask None
    without a mask; n_finite, the finite selected values, None when not counted).
    """
    lab = np.asarray(lab)
    if not _kernels.enabled() or lab.dtype == np.uint64:  # uint64 labels >= 2**63: numpy
        return _range_block_numpy(v, lab, m, values_needed=values_needed)
    from .._kernels import regions as kernels

    mf = _NO_MASK if m is None else _flat(m)
    v = np.asarray(v)
    if v.dtype in _FLOAT_BITS and v.dtype.isnative:
        ity, low, exp_mask = _FLOAT_BITS[v.dtype]
        bits = _flat(v).view(ity)
        lmin, lmax, kmin, kmax, n_sel, n_mask, n_fin = kernels.range_block_float(
            bits, _flat(lab), mf, m is not None, low, exp_mask, ity(8 * v.dtype.itemsize - 1)
        )
        if kmin == low:  # no finite selected value
            vmin, vmax = math.inf, -math.inf
        else:
            vmin, vmax = _key_to_float(kmin, v.dtype), _key_to_float(kmax, v.dtype)
        n_fin = int(n_fin)
    else:
        lmin, lmax, vmin, vmax, n_sel, n_mask = kernels.range_block(
            _flat(v), _flat(lab), mf, m is not None, values_needed
        )
        n_fin = None
    return (int(lmin), int(lmax), float(vmin), float(vmax), int(n_sel), None if m is None else int(n_mask),
            n_fin)


def _range_block_numpy(v, lab, m, *, values_needed: bool = True):
    """:func:`_range_block` in numpy (the reference the kernel is tested against)."""
    v = np.asarray(v)
    lab = np.asarray(lab)
    lmin = int(lab.min()) if lab.size else 0
    lmax = int(lab.max()) if lab.size else 0
    sel = lab > 0
    n_mask = None
    if m is not None:
        m = np.asarray(m)
        n_mask = int(np.count_nonzero(m))
        sel &= m
    if not values_needed:
        return lmin, lmax, math.inf, -math.inf, int(np.count_nonzero(sel)), n_mask, None
    vs = v[sel]
    vs = vs[np.isfinite(vs)] if vs.dtype.kind == "f" else vs
    if vs.size:
        return lmin, lmax, float(vs.min()), float(vs.max()), int(sel.sum()), n_mask, int(vs.size)
    return lmin, lmax, math.inf, -math.inf, int(sel.sum()), n_mask, 0


def _present_block(lab, m):
    """Which label values occur in the block (for compacting sparse labels)."""
    lab = np.asarray(lab).ravel()
    if m is not None:
        lab = lab[np.asarray(m).ravel()]
    return np.unique(lab)


def _labels_plan(lmin: int, lmax: int, v, lab, m, show) -> tuple[np.ndarray | None, np.ndarray]:
    """(lut, label_ids): compact sparse/huge labels to rows 1..n; ids[r] = label of row r."""
    if lmax < _COMPACT_ABOVE:
        return None, np.arange(lmax + 1)
    present = np.unique(
        np.concatenate(list(iter_blocks(_present_block, [lab, m], desc="labels", show=show)))
    )
    present = present[present > 0]
    if present.size and present[-1] > 2**31:
        raise InputError(
            f"labels: label values up to {present[-1]} are too large to index; "
            "renumber them first (skimage.segmentation.relabel_sequential)"
        )
    lut = np.zeros(int(lmax) + 1, np.intp)
    lut[present] = np.arange(1, present.size + 1)
    return lut, np.concatenate([[0], present])


def _run_row_ranges(kernel: Callable[..., None], args: tuple, n_rows: int) -> None:
    """``kernel(*args, r0, r1)`` over row ranges, on one thread per core (GIL released)."""
    threads = min(n_threads(), max(1, n_rows // 64))
    map_ranges(n_rows, -(-n_rows // threads), lambda r0, r1: kernel(*args, r0, r1))


@dataclass
class _Plan:
    """Everything a block kernel needs: sizes and the affine map value -> fine bin."""

    n_rows: int  # labels 0..n_rows-1 (row 0: background, ignored)
    n_fine: int  # fine bins inside [lo, hi]
    ref: float  # shift applied before summing
    lo: float
    hi: float
    offset: float  # fine index + 1 = floor((value - ref) * scale + offset)
    scale: float
    upper_clip: int  # n_fine (default range: nothing overflows) or n_fine + 1
    lut: np.ndarray | None  # label value -> row (compacted labels)
    histogram: bool = True
    # no mask, and every labelled value finite (counted by the range pass): the kernel
    # can skip those checks per voxel
    all_finite: bool = False
    subbins: int = 1  # fine bins per display bin (n_fine = bins * subbins)
    user_range: bool = False  # the range was given: values beyond it overflow
    sink: _FineSink | None = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        # a plan sent to another process (dask distributed) leaves the sink behind: its
        # blocks then return their fine histograms instead of adding them in place
        state = dict(self.__dict__)
        state["sink"] = None
        return state


class _FineSink:
    """One dense fine histogram per thread, ``(n_rows * (n_fine + 2),)`` int32.

    Blocks running on different threads (the numpy slab pool, dask's threaded scheduler)
    add their counts in place to their own thread's array, without locks or per-block
    copies; the arrays are summed once at the end (integer counts: order-free, exact).
    int32 halves the cache footprint of the scattered increments against int64; a
    thread's array is moved into an int64 total before it could hold 2**31 counts.
    """

    _LIMIT = 2**31 - 1

    def __init__(self, cells: int):
        import threading

        self.cells = cells
        self._lock = threading.Lock()
        self._arrays: dict[int, list] = {}  # thread -> [int32 counts, voxels added]
        self._spilled: np.ndarray | None = None

    def get(self, n_voxels: int) -> np.ndarray:
        """This thread's array, with room for ``n_voxels`` more counts in any cell."""
        import threading

        key = threading.get_ident()
        entry = self._arrays.get(key)
        if entry is None:
            with self._lock:
                entry = self._arrays.setdefault(key, [np.zeros(self.cells, np.int32), 0])
        if entry[1] + n_voxels > self._LIMIT:
            with self._lock:
                if self._spilled is None:
                    self._spilled = np.zeros(self.cells, np.int64)
                self._spilled += entry[0]
            entry[0][:] = 0
            entry[1] = 0
        entry[1] += n_voxels
        return entry[0]

    def total(self) -> np.ndarray:
        """The counts of every thread: int32 (summed into one thread's array) when fewer
        than 2**31 voxels went in, else int64."""
        entries = list(self._arrays.values())
        if not entries:
            return np.zeros(self.cells, np.int32)
        if self._spilled is None and sum(n for _, n in entries) <= self._LIMIT:
            out = entries[0][0]
        else:
            out = np.zeros(self.cells, np.int64) if self._spilled is None else self._spilled
            out += entries[0][0]
        for arr, _ in entries[1:]:
            out += arr
        return out


def _stats_block(v, lab, m, *, plan: _Plan) -> dict[str, np.ndarray]:
    """Per-label partial sums of one block (see the module docstring).

    Returns ``nonfinite``, ``sum``, ``sumsq`` (shape (n_rows,)) and, in histogram mode,
    nothing more (the counts went to the plan's per-thread sink) or, when the plan has
    no sink (it was sent to another process), ``fine_rows`` and their fine histograms
    ``fine``; without histogram ``count``. The numpy path returns ``idx`` (the combined
    fine-histogram index of every labelled finite voxel) instead.
    """
    if not _kernels.enabled():
        return _stats_block_numpy(v, lab, m, plan=plan)
    from .._kernels.regions import stats_block, stats_block_finite

    n_rows = plan.n_rows
    width = plan.n_fine + 2
    out = {"nonfinite": np.zeros(n_rows, np.int64), "sum": np.zeros(n_rows), "sumsq": np.zeros(n_rows)}
    count = np.zeros(n_rows if not plan.histogram else 1, np.int64)
    n_voxels = int(np.size(lab))
    if plan.histogram:
        fine = plan.sink.get(n_voxels) if plan.sink is not None else np.zeros(n_rows * width, np.int32)
    else:
        fine = np.zeros(1, np.int32)
    lut = plan.lut if plan.lut is not None else np.zeros(1, np.intp)
    affine = (float(plan.ref), float(plan.scale), float(plan.offset), float(plan.upper_clip), width)
    if plan.histogram and plan.all_finite:  # (all_finite: the map has no mask)
        stats_block_finite(_flat(v), _flat(lab), lut, plan.lut is not None, *affine, out["sum"], out["sumsq"], fine)
    else:
        stats_block(
            _flat(v), _flat(lab), _NO_MASK if m is None else _flat(m), m is not None, lut, plan.lut is not None,
            *affine, plan.histogram, out["nonfinite"], out["sum"], out["sumsq"], count, fine,
        )
    out["sum"][0] = out["sumsq"][0] = 0.0  # row 0 (background) is never reported
    if not plan.histogram:
        out["count"] = count
    elif plan.sink is None:  # only the rows this block touched travel back
        per_row = fine.reshape(n_rows, width)
        rows = np.flatnonzero(per_row.any(axis=1))
        out["fine_rows"], out["fine"] = rows, per_row[rows]
    return out


def _stats_block_numpy(v, lab, m, *, plan: _Plan) -> dict[str, np.ndarray]:
    """:func:`_stats_block` in numpy with ``numpy.bincount`` (the kernel's reference)."""
    n_rows = plan.n_rows
    v = np.asarray(v).reshape(-1)
    lab = np.asarray(lab).reshape(-1)
    rows = plan.lut[lab] if plan.lut is not None else lab.astype(np.intp, copy=False)
    if m is not None:
        rows = np.where(np.asarray(m).reshape(-1), rows, 0)
    d = np.subtract(v, plan.ref, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    if v.dtype.kind == "f" and not np.isfinite(d).all():
        bad = ~np.isfinite(d)
        out["nonfinite"] = np.bincount(rows[bad], minlength=n_rows)
        rows = np.where(bad, 0, rows)  # a new array: the caller's labels are untouched
        d[bad] = 0.0
    else:
        out["nonfinite"] = np.zeros(n_rows, np.int64)
    out["sum"] = np.bincount(rows, weights=d, minlength=n_rows)
    out["sumsq"] = np.bincount(rows, weights=d * d, minlength=n_rows)
    if plan.histogram:
        t = d * plan.scale
        t += plan.offset
        np.clip(t, 0, plan.upper_clip, out=t)
        idx = rows * (plan.n_fine + 2)
        idx += t.astype(np.intp)
        # the combined (row, fine bin) index of each voxel; the caller bincounts several
        # blocks at once, so small chunks do not each pay for a full (rows x bins) array
        out["idx"] = idx[rows > 0]
    else:
        out["count"] = np.bincount(rows, minlength=n_rows)
    return out



# --------------------------------------------------------------------------------------
# the passes


@dataclass(frozen=True)
class _Scan:
    """What pass 1 found over the labelled (and masked) voxels."""

    lmin: int
    lmax: int
    vmin: float  # finite value range (inf, -inf when none, or when not asked for)
    vmax: float
    n_selected: int  # labelled (and masked) voxels
    n_finite: int | None  # of those, finite (None when a block did not count them)


def _scan(v, lab, m, *, values_needed: bool, show: bool | None, fix: str) -> _Scan:
    """Pass 1: label range and (when ``values_needed``) value range of the labelled voxels.

    Raises
    ------
    InputError
        A negative label, a mask that selects nothing, no labelled voxel (``fix`` says
        what to do about it).
    """
    parts = list(iter_blocks(
        partial(_range_block, values_needed=values_needed), [v, lab, m], desc="value range", show=show,
        threaded=_kernels.enabled(),
    ))
    lmin = min(p[0] for p in parts)
    lmax = max(p[1] for p in parts)
    if lmin < 0:
        raise InputError(f"labels: negative label {lmin}; labels are 0 (background) or positive ids")
    if m is not None and sum(p[5] for p in parts) == 0:
        raise InputError("mask: selects no voxel (it is all False); pass a mask with at least one True voxel")
    n_selected = sum(p[4] for p in parts)
    if lmax == 0 or n_selected == 0:
        where = " inside the mask" if m is not None else ""
        raise InputError(f"labels: no labelled voxel{where} (all background, label 0); {fix}")
    n_finite = [p[6] for p in parts]
    return _Scan(lmin=lmin, lmax=lmax, vmin=min(p[2] for p in parts), vmax=max(p[3] for p in parts),
                 n_selected=n_selected, n_finite=None if None in n_finite else sum(n_finite))


def _make_plan(found: _Scan, lut: np.ndarray | None, n_rows: int, *, bins: int, value_range: Any,
               subbins: int | None, histogram: bool, masked: bool) -> _Plan:
    """The histogram range, its fine binning and the affine map value -> fine bin."""
    if value_range is None:
        if not math.isfinite(found.vmin):
            raise InputError("values: no finite value inside the labelled regions (all NaN/inf)")
        lo, hi = found.vmin, found.vmax
        user_range = False
    else:
        try:
            lo, hi = (float(x) for x in value_range)
        except (TypeError, ValueError):
            raise InputError(f"value_range: give (low, high), got {value_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise InputError(f"value_range: need finite low < high, got {value_range!r}")
        user_range = True
    if hi <= lo:  # every labelled value is the same: a range one unit wide around it
        pad = max(abs(lo) * 1e-6, 1e-12) if lo != 0 else 0.5
        lo, hi = lo - pad, hi + pad
    ref = 0.5 * (lo + hi)
    if subbins is None:
        k = int(np.clip(_FINE_CELL_BUDGET // max(n_rows * bins, 1), 1, _MAX_SUBBINS))
    else:
        if not isinstance(subbins, (int, np.integer)) or subbins < 1:
            raise InputError(f"subbins: must be an integer >= 1, got {subbins!r}")
        k = int(subbins)
    n_fine = bins * k
    scale = n_fine / (hi - lo)
    if user_range:
        # the right edge belongs to the last bin (like numpy.histogram); the margin keeps
        # values equal to `hi` there despite the rounding of (v - ref)
        scale *= 1.0 - 1e-12
    offset = 1.0 - (lo - ref) * scale
    all_finite = not masked and found.n_finite is not None and found.n_finite == found.n_selected
    return _Plan(
        n_rows=n_rows, n_fine=n_fine, ref=ref, lo=lo, hi=hi, offset=offset, scale=scale,
        upper_clip=n_fine + 1 if user_range else n_fine, lut=lut, histogram=histogram, all_finite=all_finite,
        subbins=k, user_range=user_range,
    )


def _accumulate(v, lab, m, plan: _Plan, show: bool | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Pass 2: ``(sums, fine)``: per-label ``nonfinite``, ``sum``, ``sumsq`` (and ``count``
    without histogram), each ``(n_rows,)``, and the fine histograms ``(n_rows * (n_fine + 2),)``
    (empty without histogram)."""
    acc: dict[str, np.ndarray] = {}
    n_rows, n_fine, histogram = plan.n_rows, plan.n_fine, plan.histogram
    cells = n_rows * (n_fine + 2)
    use_kernels = _kernels.enabled()
    if histogram and use_kernels:
        plan.sink = _FineSink(cells)
    fine_acc = np.zeros(cells if histogram and not use_kernels else 0, np.int64)
    # histogram indices wait until there are about as many as histogram cells, then
    # one bincount adds them: the cost per voxel stays flat whatever the chunk size
    pending: list[np.ndarray] = []
    n_pending = 0
    flush_at = max(cells, NUMPY_BLOCK_VOXELS)
    blocks = iter_blocks(partial(_stats_block, plan=plan), [v, lab, m], desc="region statistics", show=show,
                         threaded=use_kernels)
    remote: list[tuple[np.ndarray, np.ndarray]] = []
    for part in blocks:
        if "fine" in part:  # computed in another process (no sink there)
            remote.append((part.pop("fine_rows"), part.pop("fine")))
        idx = part.pop("idx", None)
        if idx is not None:
            pending.append(idx)
            n_pending += idx.size
            if n_pending >= flush_at:
                fine_acc += np.bincount(np.concatenate(pending) if len(pending) > 1 else pending[0], minlength=cells)
                pending, n_pending = [], 0
        for key, arr in part.items():
            if key in acc:
                acc[key] += arr
            else:
                acc[key] = arr.astype(np.int64 if arr.dtype.kind in "iu" else np.float64, copy=True)
    if pending:
        fine_acc += np.bincount(np.concatenate(pending), minlength=cells)
    if plan.sink is not None:
        fine_acc = plan.sink.total()
        plan.sink = None
    if remote:
        per_row = fine_acc.reshape(n_rows, n_fine + 2)
        for rows, part in remote:
            per_row[rows] += part
    return acc, fine_acc
