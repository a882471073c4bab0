"""Maccor: MacTest text exports, raw ``.0NN`` text files and the CSV export (``maccor-txt``).

The variants, told apart by their header line (found after any preamble):

================================  ============================================================
variant                           header (after the preamble)
================================  ============================================================
text export / raw ``.0NN``        ``Rec#  Cyc#  Step  TestTime  StepTime  Amp-hr ... State``
                                  (tab; times as ``0d 00:00:05.05`` clocks)
raw ``.0NN`` with seconds         ``Rec#  Cyc#  Step  Test (Sec)  Step (Sec) ... State``
export with units                 ``Rec  Cycle P  Cycle C  Step  TestTime ... Current [A]
                                  Voltage [V]  Md``: ``TestTime`` is a number with no unit
                                  (minutes in the real file: the wall clock decides)
CSV export                        ``Rec,Cycle C,Step,Test Time (sec),...,Current,Voltage,
                                  DPT Time,Temp 1`` after ``Today's Date``/``Date of Test``
================================  ============================================================

The preamble is whatever comes before that header (``Today's Date``, ``Name:``/
``Channel:``/``Procedure`` lines, up to 40 lines). ``Amps`` is unsigned in text exports
and signed in raw files: the ``State``/``Md`` column (``C`` charge, ``D`` discharge, ``R``
rest) gives the direction whenever the file has one. ``Amp-hr``/``Watt-hr`` (or ``Cap.``,
``Ener.``, ``Capacity``, ``Energy``) are unsigned counts, ``DPt Time`` the wall clock,
``Rec#`` the record counter.

A Maccor AC-impedance file (``MACCOR, INC. AC Impedance Test``, a frequency sweep with
``Freq(Hz)``/``Z'``/``Z''`` columns) is an EIS record, not a cycling record: it is
recognised and refused with that said.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError, InputError
from ._registry import register
from ._tables import header_names
from ._text import guess_separator, parse_table
from ._units import SI_UNIT, clock_to_seconds, dates_to_unix, is_text, numeric, split_header, unit_factor

if TYPE_CHECKING:
    from .sniff import Sample

_SIGN = {"C": 1.0, "D": -1.0}
# normalised header name -> reader column ("quantity" for the unit handling below)
_COLUMNS = {
    "rec": "_record", "cyc": "cycle_count", "cyclec": "cycle_count", "step": "step_index",
    "testtime": "test_time_second", "test": "test_time_second", "steptime": "step_time_second",
    "amphr": "capacity_ah", "cap": "capacity_ah", "capacity": "capacity_ah",
    "watthr": "energy_wh", "ener": "energy_wh", "energy": "energy_wh",
    "amps": "current_ampere", "current": "current_ampere", "volts": "voltage_volt", "voltage": "voltage_volt",
    "state": "step_name", "md": "step_name", "dpttime": "unix_time_second", "temp1": "temperature_celsius",
}
_TIME_IN_HEADER = re.compile(r"\((sec|s|min|h|hr)\)", re.I)


def _is_header(line: str) -> bool:
    names = set(header_names(line.split(guess_separator(line))))
    return ("rec" in names and ("cyc" in names or "cyclec" in names or "cyclep" in names)
            and bool(names & {"amps", "current"}) and bool(names & {"volts", "voltage"}))


def _read(path: Path, column_map=None, units=None, **_: Any):
    table = parse_table(path, header=_is_header, search_lines=40)
    frame = table.frame
    source: dict[str, str] = {}
    for col in frame.columns:
        name = header_names([col])[0]
        if _TIME_IN_HEADER.search(col) and name in ("test", "step"):
            name += "time"  # "Test (Sec)", "Step (Sec)": the times, not the step number
        target = _COLUMNS.get(name)
        if target is not None and target not in source.values():
            source[col] = target
    cols = {t: c for c, t in source.items()}
    missing = [t for t in ("test_time_second", "current_ampere", "voltage_volt") if t not in cols]
    if missing:
        raise FileFormatError(path, f"Maccor table lacks {missing} (header: {list(frame.columns)[:12]})",
                              "re-export it with the test time, current and voltage columns")
    out = pd.DataFrame(index=frame.index)
    units_found: dict[str, str] = {}
    unknown_time: list[str] = []
    for target in ("test_time_second", "step_time_second"):
        if target in cols:
            out[target], unit = _time(frame[cols[target]], path, cols[target], table)
            units_found[cols[target]] = unit
            if unit == "unknown":
                unknown_time.append(target)
    amps = _scaled(frame, cols, "current_ampere", path, units_found)
    out["voltage_volt"] = _scaled(frame, cols, "voltage_volt", path, units_found)
    if "step_name" in cols:
        state = frame[cols["step_name"]].astype(str).str.strip()
        sign = state.map(_SIGN).fillna(0.0).to_numpy()
        # text exports write |I|, raw files a signed I: the state gives the direction
        out["current_ampere"] = np.where(sign == 0, amps, np.abs(amps) * sign)
        out["step_name"] = state.to_numpy()
        # FRA rows: an impedance sweep inside the record (AC current, one record number)
        fra = state.str.upper().eq("FRA").to_numpy()
        if fra.any():
            out["_eis"] = fra
        units_found[cols["current_ampere"]] = "A (direction from the State/Md column)"
    else:
        out["current_ampere"] = amps
        units_found[cols["current_ampere"]] = "A (signed, positive on charge, as written)"
    for target in ("step_index", "cycle_count", "_record"):
        if target in cols:
            out[target] = numeric(frame[cols[target]], path, cols[target])
    for target in ("capacity_ah", "energy_wh", "temperature_celsius"):
        if target in cols:
            out[target] = _scaled(frame, cols, target, path, units_found)
    if "unix_time_second" in cols:
        out["unix_time_second"] = dates_to_unix(frame[cols["unix_time_second"]])
    meta = {"reader": "batteryzoom maccor", "instrument": "Maccor", "source_units": units_found,
            "source_columns": {t: c for t, c in cols.items()},
            "metadata": {"header": " | ".join(ln.strip() for ln in table.preamble if ln.strip())[:400]},
            "warnings": table.notes, "time_unit_unknown": unknown_time}
    return out, meta


_QUANTITY = {"current_ampere": "current", "voltage_volt": "voltage", "capacity_ah": "capacity",
             "energy_wh": "energy", "temperature_celsius": "temperature"}


def _scaled(frame: pd.DataFrame, cols: dict, target: str, path: Path, units_found: dict) -> np.ndarray:
    """A column in SI: its header's unit (``Current [A]``, ``Cap. [mAh]``) or Maccor's own
    (A, V, Ah, Wh, °C) when the header gives none."""
    col = cols[target]
    unit = split_header(col)[1]
    try:
        factor = unit_factor(_QUANTITY[target], unit, f"{path}: column {col!r}")
    except InputError as exc:
        raise FileFormatError(path, str(exc).split(": ", 1)[-1], "pass the unit with units= or fix the header") \
            from None
    units_found[col] = unit or f"{SI_UNIT[_QUANTITY[target]]} (Maccor's unit)"
    return numeric(frame[col], path, col) * factor


def _time(values: pd.Series, path: Path, col: str, table) -> tuple[np.ndarray, str]:
    """A Maccor time column in seconds and the unit it was read in: a clock
    (``0d 00:00:05.05``), seconds by its header (``Test (Sec)``), or a bare number whose
    unit the header does not give (``"unknown"``: finalize decides it from the wall clock)."""
    if is_text(values) and values.astype(str).str.contains(":").any():
        return clock_to_seconds(values, path, col), "d hh:mm:ss clock"
    m = _TIME_IN_HEADER.search(col)
    if m:
        scale = {"sec": 1.0, "s": 1.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}[m.group(1).lower()]
        return numeric(values, path, col) * scale, m.group(1).lower()
    return numeric(values, path, col), "unknown"


def _read_eis(path: Path, **_: Any):
    raise FileFormatError(
        path, "is a Maccor AC-impedance (EIS) record (a frequency sweep: Freq(Hz), Z', Z'' columns), "
              "not a cycling record; read_cycler reads cycling records only",
        "read the impedance table with pandas (pd.read_csv(path, sep='\\t', skiprows=10)), or pass the "
        "cycling record (.0NN with Rec#/Cyc# columns) of the same test",
    )


def _is_text(sample: Sample) -> str | None:
    for k, ln in enumerate(sample.lines[:40]):
        if _is_header(ln):
            pre = " after a preamble" if k else ""
            return f"a Maccor header (Rec, Cyc#/Cycle, Amps/Current, Volts/Voltage){pre} on line {k + 1}"
    return None


def _is_eis(sample: Sample) -> str | None:
    if sample.lines and sample.lines[0].startswith("MACCOR") and "Impedance" in sample.lines[0]:
        return "a 'MACCOR, INC. AC Impedance Test' first line"
    return None


register("maccor-txt", "Maccor text export, raw .0NN text file or CSV export", match=_is_text, read=_read,
         priority=30)
register("maccor-eis", "Maccor AC-impedance (EIS) record: recognised and refused (not a cycling record)",
         match=_is_eis, read=_read_eis, priority=30)
