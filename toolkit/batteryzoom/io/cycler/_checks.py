"""What :func:`~.finalize.finalize` checks in a record rather than assumes: records lost or
repeated, physically implausible values, the unit of a time column, a paused channel, and
the scope of the capacity counters (per step, per cycle, over the test), cross-checked
against the integral of the current.

Each check returns what it found; finalize turns findings into ``attrs`` entries and,
where something was repaired or does not add up, into warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import FileFormatError, InputError

__all__ = ["LIMITS", "check_limits", "check_records", "repeated_rows", "time_unit_from_clock", "clock_pauses",
           "count_scope", "capacity_vs_current", "clock_spikes", "zero_volts_under_current"]

#: plausible ranges of a cell's (or a module's) record: a value outside is damage or a
#: wrong unit. ``read_cycler(limits=...)`` overrides any of them (``limits=False``: none).
LIMITS: dict[str, tuple[float, float]] = {
    "voltage_volt": (-10.0, 100.0),         # a cell, reversed leads, or a module of ~25 cells
    "current_ampere": (-2000.0, 2000.0),    # drive-cycle testers reach a few hundred A
    "test_time_second": (-1.0, 20 * 365.25 * 86400),  # 20 years
    "temperature_celsius": (-100.0, 250.0),
    "unix_time_second": (315532800.0, 4102444800.0),  # 1980 .. 2100
}
# the columns whose implausible values refuse the file; others are dropped and flagged
_ESSENTIAL = ("voltage_volt", "current_ampere", "test_time_second")


def resolve_limits(limits) -> dict[str, tuple[float, float]]:
    """The limits in force: the defaults, updated by the user's mapping, or none (False)."""
    if limits is False:
        return {}
    if limits is None or limits is True:
        return dict(LIMITS)
    if not isinstance(limits, Mapping):
        raise InputError(f"limits must be a mapping such as {{'voltage_volt': (-10, 100)}}, None or False, "
                         f"not {type(limits).__name__}")
    out = dict(LIMITS)
    for key, value in limits.items():
        if key not in LIMITS:
            raise InputError(f"limits key {key!r} is not checked; use one of {sorted(LIMITS)}")
        if value is None or value is False:
            out.pop(key)
            continue
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise InputError(f"limits[{key!r}] must be (low, high), not {value!r}") from None
        if not lo < hi:
            raise InputError(f"limits[{key!r}] = {value!r}: low must be below high")
        out[key] = (lo, hi)
    return out


def check_limits(raw: pd.DataFrame, path: Path, limits: dict, flagged: dict) -> list[str]:
    """Refuse an essential column with a value outside its range (naming the row and the
    override); drop an optional one (temperature, wall clock) with the reason. Returns
    what was dropped (for a warning)."""
    dropped = []
    for col, (lo, hi) in limits.items():
        if col not in raw:
            continue
        values = raw[col].to_numpy(np.float64)
        with np.errstate(invalid="ignore"):
            bad = ~((values >= lo) & (values <= hi)) & ~np.isnan(values)
        if col == "test_time_second":
            bad |= np.isinf(values)
        if not bad.any():
            continue
        k = int(np.flatnonzero(bad)[0])
        what = (f"{col} holds {values[k]:.6g} at row {k + 1} ({int(bad.sum())} such rows), outside the "
                f"plausible range {lo:g} .. {hi:g}")
        if col in _ESSENTIAL:
            raise FileFormatError(
                path, f"{what}: the file is damaged or a unit is wrong",
                f"if the values are real, pass limits={{{col!r}: (low, high)}} (or limits=False) to read_cycler",
            )
        del raw[col]  # in place: the caller reads the same frame
        flagged[col] = f"dropped: {what}"
        dropped.append(f"{col} {what.split(' ', 1)[1]}: the column was left out")
    return dropped


def check_records(record: np.ndarray, shared: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """What a record counter (``Data_Point``, ``Rec#``, ``DataPoint``, ``Record ID``...)
    says about the rows: numbers missing, repeated or out of order (a restart at the first
    number, a resumed test, is not a fault; consecutive rows both in ``shared``, e.g. the
    points of an impedance sweep, may share a number). Returns the findings and a mask of
    the rows that repeat the number before them."""
    rec = np.asarray(record, dtype=np.float64)
    findings: list[str] = []
    if len(rec) < 2 or not np.isfinite(rec).all():
        if not np.isfinite(rec).all():
            findings.append(f"record counter: {int((~np.isfinite(rec)).sum())} rows without a record number")
        return findings, np.zeros(len(rec), bool)
    d = np.diff(rec)
    repeat = np.r_[False, d == 0]
    if shared is not None:
        repeat &= ~(shared & np.r_[False, shared[:-1]])
    restart = (d < 0) & (rec[1:] <= rec[0])
    back = (d < 0) & ~restart
    gap = d > 1
    if rec[0] > 1:
        findings.append(f"record counter: starts at {rec[0]:.0f}, not 0 or 1: the records before it are not in "
                        "the file (an excerpt, or rows lost at its start)")
    if repeat.any():
        k = int(np.flatnonzero(repeat)[0])
        findings.append(f"record counter: {int(repeat.sum())} record numbers repeated (first {rec[k]:.0f} at row "
                        f"{k + 1})")
    if gap.any():
        k = int(np.flatnonzero(gap)[0])
        findings.append(f"record counter: {int(np.sum(d[gap] - 1)):.0f} record numbers missing in {int(gap.sum())} "
                        f"gaps (first after {rec[k]:.0f}, row {k + 1}): rows were lost")
    if back.any():
        k = int(np.flatnonzero(back)[0]) + 1
        findings.append(f"record counter: goes back {int(back.sum())} times (first to {rec[k]:.0f} at row "
                        f"{k + 1}): rows are out of order")
    return findings, repeat


def repeated_rows(raw: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Rows equal to the row before in every one of ``columns`` (a line written twice)."""
    same = np.ones(max(len(raw) - 1, 0), dtype=bool)
    for col in columns:
        a = raw[col].to_numpy()
        if a.dtype.kind == "f":
            same &= (a[1:] == a[:-1]) | (np.isnan(a[1:]) & np.isnan(a[:-1]))
        else:
            same &= a[1:] == a[:-1]
    return np.r_[False, same]


_UNITS = ((1.0, "s"), (60.0, "min"), (3600.0, "h"), (86400.0, "d"))


def time_unit_from_clock(t: np.ndarray, unix: np.ndarray) -> tuple[float, str, float] | None:
    """``(seconds per unit, unit, measured ratio)`` of a time column whose unit the file
    does not state, from the wall clock: the median of clock advance / time advance over
    rows where both advance by at least 2 clock seconds (clocks tick in whole seconds);
    None when they never do or the ratio is none of s, min, h, d within 5 %."""
    ok = np.isfinite(t) & np.isfinite(unix)
    t, unix = t[ok], unix[ok]
    if len(t) < 3:
        return None
    dt, du = np.diff(t), np.diff(unix)
    use = (dt > 0) & (du >= 2)
    if use.sum() < 2:
        return None
    ratio = float(np.median(du[use] / dt[use]))
    for scale, name in _UNITS:
        if abs(ratio / scale - 1) < 0.05:
            return scale, name, ratio
    return None


def clock_pauses(t: np.ndarray, unix: np.ndarray, min_s: float = 60.0) -> list[str]:
    """Where the wall clock advances more than ``min_s`` beyond the test time (a paused
    channel: the test clock stops, the wall clock does not)."""
    ok = np.isfinite(t) & np.isfinite(unix)
    if ok.sum() < 2:
        return []
    idx = np.flatnonzero(ok)
    excess = np.diff(unix[idx]) - np.diff(t[idx])
    big = np.flatnonzero(excess > min_s)
    if not len(big):
        return []
    k = int(idx[big[np.argmax(excess[big])] + 1])
    return [f"the wall clock runs {float(excess[big].sum()):.6g} s ahead of the test time over {len(big)} "
            f"pause(s) (largest before row {k + 1}: a paused channel); test_time_second keeps the test's own clock"]


def clock_spikes(t: np.ndarray, unix: np.ndarray) -> list[str]:
    """Rows whose wall clock disagrees with the test time there and only there: the offset
    between the two jumps at a row and back at the next by more than 10 s and twice the
    median logging interval (a line spliced from two records, or a damaged cell; a real
    Maccor log has 10 s hiccups at 30 s logging). A pause or a clock change moves the
    offset once and keeps it: not a spike."""
    ok = np.isfinite(t) & np.isfinite(unix)
    if ok.sum() < 3:
        return []
    idx = np.flatnonzero(ok)
    off = unix[idx] - t[idx]
    d = np.diff(off)
    step = np.diff(t[idx])
    tol_s = max(10.0, 2.0 * float(np.median(np.abs(step))))
    spike = (np.abs(d[:-1]) > tol_s) & (np.abs(d[1:]) > tol_s) & (np.sign(d[:-1]) != np.sign(d[1:])) & \
        (np.abs(d[:-1] + d[1:]) < 0.5 * np.abs(d[:-1]))
    if not spike.any():
        return []
    rows = idx[1:-1][spike]
    return [f"{len(rows)} row(s) whose wall clock disagrees with the test time there alone (first at row "
            f"{int(rows[0]) + 1}, by {float(d[:-1][spike][0]):.6g} s): damaged or spliced lines?"]


def count_scope(q: np.ndarray, starts: np.ndarray, cycle: np.ndarray | None) -> str:
    """Whether a capacity (or energy) column counts per ``"step"``, per ``"cycle"`` or over
    the ``"test"``, from the data: at each step change where the count was well above 0,
    does it restart (fall to near 0) or carry on? Restarts only where the cycle changes:
    per cycle; everywhere: per step; nowhere: over the test ("step" when no step change
    tells)."""
    q = np.nan_to_num(np.abs(np.asarray(q, dtype=np.float64)))
    if len(starts) < 2:
        return "step"
    prev, first = q[starts[1:] - 1], q[starts[1:]]
    big = prev > 1e-3 * max(float(q.max()), 1e-15)
    if not big.any():
        return "step"
    restart = big & (first < 0.5 * prev)
    carry = big & ~restart
    if not carry.any():
        return "step"
    if not restart.any():
        return "test"
    if cycle is not None:
        new_cycle = cycle[starts[1:]] != cycle[starts[1:] - 1]
        if not (restart & ~new_cycle).any():
            return "cycle"
    return "mixed"


def capacity_vs_current(q_ch: np.ndarray, q_dis: np.ndarray, t: np.ndarray, i: np.ndarray, starts: np.ndarray,
                        n: int, step_time: np.ndarray | None, mask: np.ndarray) -> dict[str, float | None]:
    """The capacity columns against the integral of the current, over all charge steps and
    all discharge steps: ``{"charge": rel, "discharge": rel}`` with rel = sum over steps of
    |column's step total - integral| / sum of the integrals (None when the steps of that
    direction carry under 1e-9 Ah). The integral is the trapezoid within each step plus
    the step's lead-in before its first sample (first current x first step time), over the
    rows in ``mask`` (impedance rows left out)."""
    seg = np.diff(np.r_[starts, n])
    sid = np.repeat(np.arange(len(starts)), seg)
    same = np.r_[False, sid[1:] == sid[:-1]]
    inc = np.zeros(n)
    inc[1:] = 0.5 * (i[1:] + i[:-1]) * np.diff(t)
    inc = np.where(same & mask, inc, 0.0)
    if step_time is not None:
        lead = np.where(~same & mask, i * np.nan_to_num(np.clip(step_time, 0, None)), 0.0)
        inc = inc + lead
    integral = np.add.reduceat(inc, starts) / 3600.0
    # two samples cannot check a count: a step's integral needs three rows at least
    enough = np.add.reduceat(mask.view(np.int8), starts) >= 3
    out: dict[str, float | None] = {}
    for name, q, sign in (("charge", q_ch, 1.0), ("discharge", q_dis, -1.0)):
        total = np.maximum.reduceat(np.nan_to_num(q), starts)
        active = (sign * integral > 0) & (total > 0) & enough
        ref = sign * integral[active]
        if ref.sum() < 1e-9:
            out[name] = None
            continue
        out[name] = float(np.abs(total[active] - ref).sum() / ref.sum())
    return out


def zero_volts_under_current(v: np.ndarray, i: np.ndarray, rest_tol: float) -> list[str]:
    """A finding when rows read exactly 0 V while a current flows, in a record whose voltage
    is elsewhere above 0.5 V: a cell under current does not read exactly 0 V. Zeroed bytes
    that still decode (a parquet page without checksums: 260-500 rows of a 4 V record read
    0 V under the fuzzer) or a channel fault; the rows are kept."""
    zero = (v == 0) & (np.abs(i) > rest_tol)
    if not zero.any():
        return []
    others = np.abs(v[np.isfinite(v) & (v != 0)])
    level = float(np.median(others)) if len(others) else 0.0
    if level < 0.5:
        return []
    k = int(np.flatnonzero(zero)[0])
    return [f"{int(zero.sum())} rows read exactly 0 V while a current flows (first at row {k + 1}) in a record at "
            f"{level:.3g} V: a cell under current does not read exactly 0 V (zeroed bytes, or a channel fault); "
            "kept as read"]
