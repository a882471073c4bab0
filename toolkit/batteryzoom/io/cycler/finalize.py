"""The shared last stage of every cycler reader: the reader's columns -> one BDF table.

:func:`finalize` runs, in order (each stage a function below, each repair recorded):

0. checks (``_checks``): a time column without a unit gets it from the wall clock; values
   outside the plausible ranges refuse the file (essential columns) or are dropped
   (temperature, wall clock); the record counter's gaps, repeats and disorder, and rows
   written twice, are found and warned about;
1. rows: voltage, current and a time column must exist; rows without voltage or current
   are dropped;
2. steps: a new step at every change of the instrument's step key (or, without one, of
   the current's direction);
3. time: a step time that restarts at every step is accumulated into a test time; a test
   time that jumps backwards is made continuous; a wall clock that jumps back is reported;
4. current sign: charge positive, from the instrument's step names where it has them;
5. step types: rest / CC / CV, charge / discharge, per row;
6. cycles: the file's count when it is a count, else a cycle starts at the first charge
   after a discharge;
7. capacities and energies: per step, >= 0, from the instrument's columns, whose scope
   (per step, per cycle, over the test) is read from the data (``attrs["capacity_scope"]``),
   or integrated from current and voltage; the result is checked against the integral of
   the current (``attrs["capacity_check"]``: over 2 % off is a warning);
8. the table: BDF columns, then the optional ones, then any column kept as read because
   its unit is unknown (``attrs["flagged_columns"]``), and ``attrs``.

Whatever was repaired, left out or found not to add up is announced with a
:class:`CyclerDataWarning` (time repairs with its subclass :class:`TimeRepairWarning`) and
listed in ``attrs["repairs"]`` / ``attrs["time_repairs"]``; what was only read or derived
is in ``attrs["notes"]`` / ``attrs["derived"]``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import FileFormatError, ReaderWarning
from . import _capacity, _checks

__all__ = ["finalize", "BDF_COLUMNS", "OPTIONAL_COLUMNS", "STEP_TYPES", "TimeRepairWarning", "CyclerDataWarning"]

BDF_COLUMNS = [
    "test_time_second",
    "step_time_second",
    "voltage_volt",
    "current_ampere",
    "step_count",
    "step_index",
    "cycle_count",
    "step_type",
    "charging_capacity_ah",
    "discharging_capacity_ah",
    "charging_energy_wh",
    "discharging_energy_wh",
]
OPTIONAL_COLUMNS = ["unix_time_second", "temperature_celsius"]
STEP_TYPES = ["rest", "cc_charge", "cv_charge", "cc_discharge", "cv_discharge", "other"]
_CODE = {t: k for k, t in enumerate(STEP_TYPES)}
_COUNT_DERIVED = _capacity._COUNT_COLUMNS["capacity"][-1]


class CyclerDataWarning(ReaderWarning):
    """A cycler record was repaired, or rows were left out, or something in it does not add
    up (records missing, capacities off the integrated current): see ``attrs['repairs']``."""


class TimeRepairWarning(CyclerDataWarning):
    """A time column was reconstructed or made continuous (see ``attrs['time_repairs']``)."""


@dataclass
class _Notes:
    """What finalisation fixed or found wrong (``repairs``, ``time_repairs``: warned) and
    only read or computed (``notes``, ``derived``: in ``attrs``)."""

    repairs: list[str] = field(default_factory=list)
    time_repairs: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    time: list[str] = field(default_factory=list)


def finalize(raw: pd.DataFrame, path: Path, fmt: str, meta: dict, rest_current_a: float | None,
             limits=None) -> pd.DataFrame:
    """The reader's columns -> the BDF table (stages in the module docstring).

    Parameters
    ----------
    raw : pandas.DataFrame
        What a registered reader returned (``_registry``: the reader's columns), SI units.
    path : pathlib.Path
        The file, for messages and ``attrs["source_path"]``.
    fmt : str
        The format name.
    meta : dict
        The reader's metadata (``reader``, ``instrument``, ``source_units``, ``warnings``
        (damage it found and left out), ``notes``, ``flagged_columns``, ...).
    rest_current_a : float or None
        |current| at or below which a step is a rest (None: 0.1 % of the largest).
    limits : mapping, None or False
        Plausible ranges (``_checks.LIMITS``, updated by this mapping; False: none).

    Returns
    -------
    pandas.DataFrame
        The BDF columns (see :mod:`batteryzoom.io.cycler`) and ``attrs``. Each repair is
        also announced with a :class:`CyclerDataWarning` (time repairs: a
        :class:`TimeRepairWarning`).
    """
    notes = _Notes(repairs=list(meta.get("warnings", [])), notes=list(meta.get("notes", [])))
    flagged = dict(meta.get("flagged_columns", {}))
    raw = raw.copy(deep=False)
    _time_units(raw, meta, notes)
    dropped = _checks.check_limits(raw, path, _checks.resolve_limits(limits), flagged)
    notes.repairs += dropped
    raw, v, i = _rows(raw, path, notes)
    numbered = _record_checks(raw, notes)
    n = len(raw)
    step_count, starts = _steps(raw, i, rest_current_a, notes)
    test_time, step_time = _times(raw, starts, n, notes)
    i, step_kind = _charge_positive(raw, i, starts, n, fmt, notes)
    tol = _rest_tol(i, rest_current_a)
    notes.repairs += _checks.zero_volts_under_current(v, i, tol)
    step_type = _classify(i, v, starts, n, tol, step_kind)
    if "_eis" in raw:
        # impedance rows (frequency > 0) carry an AC current: neither charge nor discharge
        step_type[raw["_eis"].to_numpy(bool)] = _CODE["other"]
    cycle = _cycles(raw, step_type, starts, n, notes)
    scope: dict[str, str] = {}
    q_ch, q_dis, e_ch, e_dis, mixed = _capacity.capacities(raw, meta, test_time, v, i, starts, n, step_type, _CODE,
                                                           notes, cycle, scope)
    names = raw["step_name"].iloc[starts].astype(str).to_numpy() if "step_name" in raw else None
    check = _capacity.capacity_check(q_ch, q_dis, test_time, i, starts, n, step_type, _CODE, step_time, names,
                                     mixed, notes, derived=_COUNT_DERIVED in notes.derived)

    out = pd.DataFrame({
        "test_time_second": test_time,
        "step_time_second": step_time,
        "voltage_volt": v,
        "current_ampere": i,
        "step_count": step_count,
        "step_index": _step_index(raw, step_count, notes),
        "cycle_count": cycle,
        "step_type": pd.Categorical.from_codes(step_type, categories=STEP_TYPES),
        "charging_capacity_ah": q_ch,
        "discharging_capacity_ah": q_dis,
        "charging_energy_wh": e_ch,
        "discharging_energy_wh": e_dis,
    }, copy=False)  # the arrays are this function's own: no consolidating copy (~20 ms per 700k rows)
    for col in OPTIONAL_COLUMNS:
        if col in raw:
            out[col] = raw[col].to_numpy(np.float64)
    for col in raw.columns:
        if col.startswith("aux:"):  # kept as read: its unit is unknown (flagged_columns says why)
            out[col[4:]] = raw[col].to_numpy()
    for col, why in flagged.items():
        if not why.startswith("dropped"):
            notes.repairs.append(f"column {col!r} {why}; kept as read, under its own name")
    for msg in notes.repairs:
        # stacklevel 3: finalize <- read_cycler <- the user's call
        warnings.warn(f"{path.name}: {msg}", CyclerDataWarning, stacklevel=3)
    for msg in notes.time_repairs:
        warnings.warn(f"{path.name}: {msg}", TimeRepairWarning, stacklevel=3)
    out.attrs = {
        "source_path": str(path),
        "format": fmt,
        "reader": meta.get("reader"),
        "instrument": meta.get("instrument"),
        "source_units": meta.get("source_units", {}),
        "source_columns": meta.get("source_columns", {}),
        "time": notes.time,
        "time_repairs": notes.time_repairs,
        "repairs": notes.repairs,
        "derived": notes.derived,
        "notes": notes.notes,
        "rest_current_a": tol,
        "record_counter": numbered,
        "capacity_scope": scope,
        "capacity_check": check,
        "flagged_columns": flagged,
        "empty_columns": meta.get("empty_columns", []),
        "metadata": meta.get("metadata", {}),
    }
    return out


# --------------------------------------------------------------------------- 0. checks


def _time_units(raw: pd.DataFrame, meta: dict, notes: _Notes) -> None:
    """A time column whose unit the file does not state gets it from the wall clock (or
    is taken as seconds, with a warning); a paused channel is noted."""
    unix = raw["unix_time_second"].to_numpy(np.float64) if "unix_time_second" in raw else None
    for col in meta.get("time_unit_unknown", []):
        if col not in raw:
            continue
        t = raw[col].to_numpy(np.float64)
        found = _checks.time_unit_from_clock(t, unix) if unix is not None else None
        if found is None:
            notes.repairs.append(f"{col}: the file does not give its unit and no wall clock tells it: taken as "
                                 "seconds (pass units= if it is not)")
            continue
        scale, unit, ratio = found
        raw[col] = t * scale
        notes.time.append(f"{col}: unit not in the header; {unit}, from the wall clock ({ratio:.4g} s of clock "
                          "per unit)")
    if unix is not None and "test_time_second" in raw:
        t = raw["test_time_second"].to_numpy(np.float64)
        notes.notes += _checks.clock_pauses(t, unix)
        notes.repairs += _checks.clock_spikes(t, unix)


def _record_checks(raw: pd.DataFrame, notes: _Notes) -> bool:
    """The record counter's start, gaps, repeats and disorder; rows equal to the row before
    in every column (a line written twice). Returns whether the counter numbers every row
    on its own (an impedance sweep's points share one number: then it does not)."""
    unique = "_record" in raw
    eis = raw["_eis"].to_numpy(bool) if "_eis" in raw else None
    if "_record" in raw:
        findings, _ = _checks.check_records(raw["_record"].to_numpy(np.float64), eis)
        notes.repairs += findings
        unique = eis is None or not eis.any()
    if not unique:
        twice = _checks.repeated_rows(raw, [c for c in raw.columns if c != "_eis"])
        if twice.any():
            k = int(np.flatnonzero(twice)[0])
            notes.repairs.append(f"{int(twice.sum())} rows repeat the row before in every column (first at row "
                                 f"{k + 1}: a record written twice?); kept")
    return unique


def _step_index(raw: pd.DataFrame, step_count: np.ndarray, notes: _Notes) -> np.ndarray:
    """The program's step numbers (missing ones carried from the row before, with a note)."""
    if "step_index" not in raw:
        return step_count
    # missing numbers were carried over and absurd ones refused in _rows
    return raw["step_index"].to_numpy(np.float64).astype(np.int64)


# --------------------------------------------------------------------------- 1. rows


def _rows(raw: pd.DataFrame, path: Path, notes: _Notes) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Check voltage, current and time are there; drop rows without voltage or current."""
    missing = [c for c in ("voltage_volt", "current_ampere") if c not in raw]
    if "test_time_second" not in raw and "step_time_second" not in raw:
        missing.append("test_time_second (or step_time_second)")
    if missing:
        raise FileFormatError(
            path, f"has no {' and no '.join(missing)} column (columns read: {sorted(raw.columns)})",
            "name them in column_map={'voltage_volt': ..., 'current_ampere': ..., 'test_time_second': ...}",
        )
    if len(raw) == 0:
        raise FileFormatError(path, "holds no records", "re-export the record")
    v = raw["voltage_volt"].to_numpy(np.float64)
    i = raw["current_ampere"].to_numpy(np.float64)
    for name, arr in (("voltage_volt", v), ("current_ampere", i)):
        if not np.isfinite(arr).any():
            raise FileFormatError(path, f"its {name} column is empty", "check the export")
    keep = np.isfinite(v) & np.isfinite(i)
    if not keep.all():
        k = int(np.flatnonzero(~keep)[0])
        notes.repairs.append(f"dropped {int((~keep).sum())} rows without voltage or current (first: row {k + 1})")
        raw = raw.loc[keep].reset_index(drop=True)
        v, i = v[keep], i[keep]
    for col in ("step_count", "_step_key", "step_index", "cycle_count"):
        if col in raw and raw[col].dtype.kind == "f":
            values = raw[col].to_numpy()
            if np.isnan(values).any() and not np.isnan(values).all():
                k = int(np.flatnonzero(np.isnan(values))[0])
                notes.repairs.append(f"{col}: {int(np.isnan(values).sum())} rows without a number (first: row "
                                     f"{k + 1}) took the row before's")
                raw[col] = pd.Series(values).ffill().bfill().to_numpy()
            elif np.isnan(values).all():
                raw = raw.drop(columns=col)
                continue
        if col in raw:
            values = raw[col].to_numpy(np.float64)
            bad = ~(np.abs(values) < 2**53)  # an infinite or absurd count cannot be a step or cycle
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise FileFormatError(path, f"its {col.strip('_')} at row {k + 1} is {values[k]:.6g}, not a count",
                                      "the file is damaged: copy it again")
    return raw, v, i


# --------------------------------------------------------------------------- 2. steps


def _steps(raw: pd.DataFrame, i: np.ndarray, rest_current_a: float | None,
           notes: _Notes) -> tuple[np.ndarray, np.ndarray]:
    """``(step_count, starts)``: a new step at every change of the instrument's step key
    (step count, a reader's key, or step index within cycle), else of the current's sign
    class (charge / rest / discharge)."""
    if "step_count" in raw:
        key = raw["step_count"].to_numpy(np.int64)
    elif "_step_key" in raw:
        key = raw["_step_key"].to_numpy(np.int64)
    elif "step_index" in raw:
        key = raw["step_index"].to_numpy(np.float64)
        if "cycle_count" in raw:
            key = key + 1e6 * raw["cycle_count"].to_numpy(np.float64)
    else:
        key = None
    if key is not None:
        new_step = np.r_[True, key[1:] != key[:-1]]
    else:
        tol = _rest_tol(i, rest_current_a)
        cls = np.sign(np.where(np.abs(i) <= tol, 0.0, i))
        new_step = np.r_[True, cls[1:] != cls[:-1]]
        notes.derived.append("step_count from changes of current direction")
    step_count = np.cumsum(new_step).astype(np.int64)
    return step_count, np.flatnonzero(new_step)


def _rest_tol(i: np.ndarray, rest_current_a: float | None) -> float:
    """|current| at or below which a step is a rest: 0.1 % of the largest, but the largest
    itself when the current never rises above a few µA, at the logged resolution (its
    smallest non-zero |value|, at most twice), and is mostly 0: an open-circuit record's
    noise (a PEC rest logs 0 and 1e-6 A), not a current."""
    if rest_current_a is not None:
        return float(rest_current_a)
    absi = np.abs(i)
    peak = float(np.nanmax(absi)) if len(i) else 0.0
    if 0 < peak <= 1e-5:
        nonzero = absi[absi > 0]
        if peak <= 2 * float(nonzero.min()) and len(nonzero) < 0.5 * len(absi):
            return peak
    return max(1e-3 * peak, 1e-9)


# --------------------------------------------------------------------------- 3. time


def _times(raw: pd.DataFrame, starts: np.ndarray, n: int, notes: _Notes) -> tuple[np.ndarray, np.ndarray]:
    """``(test_time, step_time)`` in s, the test time never decreasing (repairs noted)."""
    test_time = raw["test_time_second"].to_numpy(np.float64) if "test_time_second" in raw else None
    step_time = raw["step_time_second"].to_numpy(np.float64) if "step_time_second" in raw else None
    if test_time is None or not np.isfinite(test_time).any():
        # only a step time: accumulate step durations into a test time
        st = np.nan_to_num(step_time)
        ends = np.r_[starts[1:], n] - 1
        # each step starts where the previous one ended (its last step time)
        offsets = np.r_[0.0, np.cumsum(st[ends])[:-1]]
        test_time = st + np.repeat(offsets, np.diff(np.r_[starts, n]))
        notes.time_repairs.append(
            "test_time_second rebuilt from a step time that restarts at each step (steps assumed to abut)")
    test_time = _repair_backwards(test_time, notes.time_repairs, "test_time_second")
    if step_time is None or not np.isfinite(step_time).any():
        step_time = test_time - np.repeat(test_time[starts], np.diff(np.r_[starts, n]))
        notes.derived.append("step_time_second from test time")
    if "unix_time_second" in raw:
        d = np.diff(raw["unix_time_second"].to_numpy(np.float64))
        back = int(np.sum(d < 0))
        if back:
            notes.time_repairs.append(
                f"unix_time_second jumps backwards {back} times (largest {float(-d.min()):.3g} s, "
                "e.g. a clock change on the instrument PC): kept as recorded; analyses use test_time_second"
            )
    return test_time, step_time


def _repair_backwards(t: np.ndarray, time_repairs: list[str], name: str) -> np.ndarray:
    """Missing values interpolated; each backward jump replaced by the median interval."""
    t = np.asarray(t, dtype=np.float64)
    if not np.isfinite(t).all():
        bad = int((~np.isfinite(t)).sum())
        t = pd.Series(t).interpolate(limit_direction="both").to_numpy()
        time_repairs.append(f"{name}: {bad} missing values filled by interpolation")
    d = np.diff(t)
    back = d < 0
    if back.any():
        step = float(np.median(d[d > 0])) if (d > 0).any() else 0.0
        fixed = np.where(back, step, d)
        t = t[0] + np.r_[0.0, np.cumsum(fixed)]
        time_repairs.append(
            f"{name} jumps backwards {int(back.sum())} times (largest {float(-d[back].min()):.6g} s); each jump "
            f"was replaced by the median sampling interval ({step:.6g} s) so that time keeps increasing"
        )
    return t


# --------------------------------------------------------------------------- 4. current sign

_NAME_KIND = [  # instrument step labels -> (direction, mode); first match wins
    (re.compile(r"rest|pause|^r$|ocv|open", re.I), ("rest", "")),
    (re.compile(r"cccv.*d|cc-cv.*d", re.I), ("discharge", "cccv")),
    (re.compile(r"cccv|cc-cv", re.I), ("charge", "cccv")),
    (re.compile(r"cv.*d(is)?ch|cv_d", re.I), ("discharge", "cv")),
    (re.compile(r"cv", re.I), ("charge", "cv")),
    (re.compile(r"d(is)?ch|^d$|discharge", re.I), ("discharge", "cc")),
    (re.compile(r"chg|charge|^c$", re.I), ("charge", "cc")),
]


def _name_kind(name: str) -> tuple[str, str]:
    for rx, kind in _NAME_KIND:
        if rx.search(name):
            return kind
    return ("", "")


def _charge_positive(raw: pd.DataFrame, i: np.ndarray, starts: np.ndarray, n: int, fmt: str,
                     notes: _Notes) -> tuple[np.ndarray, list[tuple[str, str]] | None]:
    """The current with charge positive, and each step's ``(direction, mode)`` from the
    instrument's step names (None when the file has none).

    A step named charge whose median current is negative (or the reverse) is flipped;
    Maccor's sign already comes from its State column, so it is left alone.
    """
    if "step_name" not in raw:
        return i, None
    names = raw["step_name"].iloc[starts].astype(str).to_numpy()
    uniq = {nm: _name_kind(nm) for nm in pd.unique(names)}
    step_kind = [uniq[nm] for nm in names]
    dirs = np.array([k[0] for k in step_kind])
    seg_len = np.diff(np.r_[starts, n])
    med_sign = _step_median_sign(i, starts, seg_len)
    flip = ((dirs == "discharge") & (med_sign > 0)) | ((dirs == "charge") & (med_sign < 0))
    if flip.any() and fmt != "maccor-txt":
        i = i * np.where(np.repeat(flip, seg_len), -1.0, 1.0)
        directed = np.isin(dirs, ("charge", "discharge")) & (med_sign != 0)
        if flip[directed].all():
            # every charge and discharge step disagrees: the file's own sign convention
            notes.notes.append(f"the file writes the current positive on discharge: its sign was flipped "
                               f"({int(flip.sum())} steps) so that charge is positive")
        else:
            notes.repairs.append(f"current sign flipped in {int(flip.sum())} of {int(directed.sum())} charge and "
                                 "discharge steps whose current disagrees with their name, so that charge is "
                                 "positive")
    return i, step_kind


def _step_median_sign(x: np.ndarray, starts: np.ndarray, seg_len: np.ndarray) -> np.ndarray:
    """The sign (-1, 0, 1) of each step's median of ``x``, from counts; a sort only where
    they cannot tell.

    With ``p`` values above 0 among ``n``, the median is above 0 when ``2p > n`` and not
    above it when ``2p < n`` (the middle value or both middle values lie on that side);
    only ``2p == n`` (n even) leaves it to the two middle values. Likewise below 0.
    """
    pos = np.add.reduceat((x > 0).view(np.int8), starts, dtype=np.int64)
    neg = np.add.reduceat((x < 0).view(np.int8), starts, dtype=np.int64)
    sign = (2 * pos > seg_len).astype(np.int8) - (2 * neg > seg_len).astype(np.int8)
    for k in np.flatnonzero((2 * pos == seg_len) | (2 * neg == seg_len)):
        sign[k] = np.sign(np.median(x[starts[k] : starts[k] + seg_len[k]]))
    return sign


# --------------------------------------------------------------------------- 5. step types


def _after_last_peak(absi: np.ndarray, starts: np.ndarray, sid: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Rows after the last row of their step whose ``absi`` reaches 98 % of the step's peak:
    from there to the step's end, |current| stays below it (the CV hold's first test)."""
    rows = np.arange(len(absi))
    last = np.maximum.reduceat(np.where(absi >= 0.98 * peak, rows, -1), starts)
    return rows > last[sid]


def _classify(i, v, starts, n, tol, step_kind) -> np.ndarray:
    """Per-row step type codes (into :data:`STEP_TYPES`): rest / cc_* / cv_* / other.

    A step is a rest when its mean current is at or below ``tol`` in magnitude. Its
    direction is the sign of its mean current. Within a charge or discharge step, a row belongs to
    the constant-voltage part when, from that row to the end of the step, |current| stays
    below 98 % of the step's largest |current| and the voltage is within 5 mV of the
    step's final voltage (the hold), and the step has a hold at all: its current fell to
    90 % of its peak or less by its end, over at least two held rows (so a pure CC step is
    CC, whatever the instrument calls it); a step labelled CV by the instrument is CV
    throughout. A row whose current runs against its step's beyond ``tol`` (a SIM step, a
    regeneration pulse) is typed by its own current, as a CC row.
    """
    seg_len = np.diff(np.r_[starts, n])
    sid = np.repeat(np.arange(len(starts)), seg_len)
    absi = np.abs(i)
    # the mean current of each step (the median costs a sort of every step)
    med = np.add.reduceat(i, starts) / seg_len
    rest_step = np.abs(med) <= tol
    if step_kind is not None:
        labels = np.array([k[0] for k in step_kind])
        modes = np.array([k[1] for k in step_kind])
        rest_step = rest_step | ((labels == "rest") & (np.abs(med) <= 10 * tol))
    else:
        modes = np.full(len(starts), "", dtype=object)
    out = np.full(n, _CODE["rest"], dtype=np.int8)
    active = ~rest_step[sid]
    if active.any():
        step_peak = np.maximum.reduceat(absi, starts)
        peak = step_peak[sid]
        ends = np.r_[starts[1:], n] - 1
        last_v = v[ends][sid]
        hold = _after_last_peak(absi, starts, sid, peak) & (np.abs(v - last_v) <= 5e-3)
        # a CV part needs a current that fell (to 90 % of the step's peak or less by its
        # end) over at least two rows held at the voltage: a pure CC step whose voltage
        # flattens at its end, or whose last sample catches the switch-off, is no CCCV
        has_cv = (absi[ends] <= 0.9 * step_peak) & (np.add.reduceat(hold.view(np.int8), starts) >= 2)
        # a row whose current runs against its step beyond tol (a SIM or drive-cycle step, a
        # regeneration pulse in a half cycle) is typed by its own current, as a CC row
        charge_step = (med > 0)[sid]
        against = np.where(charge_step, i < -tol, i > tol)
        is_cv = ((hold & has_cv[sid]) | (modes == "cv")[sid]) & ~against
        charge = np.where(against, ~charge_step, charge_step)
        code = np.where(charge, np.where(is_cv, _CODE["cv_charge"], _CODE["cc_charge"]),
                        np.where(is_cv, _CODE["cv_discharge"], _CODE["cc_discharge"])).astype(np.int8)
        out = np.where(active, code, out)
    return out


# --------------------------------------------------------------------------- 6. cycles


def _cycles(raw: pd.DataFrame, step_type: np.ndarray, starts: np.ndarray, n: int, notes: _Notes) -> np.ndarray:
    """The file's cycle count (from 1) when it is a non-decreasing integer count, else
    counted from the step types."""
    cycle = raw["cycle_count"].to_numpy(np.float64) if "cycle_count" in raw else None
    if cycle is not None:
        ok = np.isfinite(cycle).all() and np.all(cycle == np.round(cycle)) and np.all(np.diff(cycle) >= 0)
        if not ok:
            notes.repairs.append("cycle_count was not a non-decreasing integer count in the file; recounted "
                                 "(a cycle starts at the first charge after a discharge)")
            cycle = None
        elif cycle.min() < 1:
            cycle = cycle - cycle.min() + 1
    if cycle is None:
        cycle = _count_cycles(step_type, starts, n)
        if "cycle_count" not in raw:
            notes.derived.append("cycle_count: a cycle starts at the first charge after a discharge")
    return cycle.astype(np.int64)


def _count_cycles(step_type: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Cycle 1 until the first charge that follows a discharge, then +1 at each such charge."""
    first = step_type[starts]
    is_ch = np.isin(first, (_CODE["cc_charge"], _CODE["cv_charge"]))
    is_dis = np.isin(first, (_CODE["cc_discharge"], _CODE["cv_discharge"]))
    cyc = np.ones(len(starts), dtype=np.int64)
    c, seen_dis = 1, False
    for k in range(len(starts)):
        if is_dis[k]:
            seen_dis = True
        elif is_ch[k] and seen_dis:
            c += 1
            seen_dis = False
        cyc[k] = c
    return np.repeat(cyc, np.diff(np.r_[starts, n]))
