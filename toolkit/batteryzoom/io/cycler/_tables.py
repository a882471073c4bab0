"""Plain tables of cycler records: reading text and Excel tables, and recognising their
columns by name (with the unit in the header or in the cells) into the reader's columns.

Shared by the readers of exported tables (Neware BTSDA, Arbin exports, BDF, any CSV).
"""

from __future__ import annotations

import io as _io
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import FileFormatError, InputError
from ._units import (
    SI_UNIT,
    UNIT_FACTORS,
    clock_to_seconds,
    is_clock_unit,
    numeric,
    numeric_with_units,
    split_header,
    unit_factor,
)


def head_text(path: Path, n: int = 8192) -> str:
    """The first ``n`` bytes of a file as text (UTF-8 with or without BOM, else Latin-1)."""
    with open(path, "rb") as fh:
        raw = fh.read(n)
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1", errors="replace")


def read_text(path: Path) -> str:
    """A whole text file (UTF-8 with or without BOM, else Latin-1)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_text_table(path: Path, skiprows: int = 0, sep: str | None = None) -> pd.DataFrame:
    """A delimited text table (separator: the most frequent of ``,`` tab ``;`` in its
    header line); stripped column names, ``Unnamed`` columns dropped, at least one row."""
    text = read_text(path)
    if sep is None:
        head = text.splitlines()[skiprows] if len(text.splitlines()) > skiprows else ""
        sep = max((",", "\t", ";"), key=head.count)
    try:
        frame = pd.read_csv(_io.StringIO(text), sep=sep, skiprows=skiprows, index_col=False, low_memory=False)
    except pd.errors.EmptyDataError:
        raise FileFormatError(path, "has no table (no header or no rows)", "re-export the record") from None
    except pd.errors.ParserError as exc:
        raise FileFormatError(path, f"is not a consistent table: {exc}", "check the export settings") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, [c for c in frame.columns if not c.startswith("Unnamed")]]
    if len(frame) == 0:
        raise FileFormatError(path, "has a header but no data rows", "re-export the record")
    return frame


def read_excel(path: Path, sheet, prefer: tuple[str, ...]) -> pd.DataFrame:
    """The data sheet(s) of a workbook: ``sheet`` when given, else every sheet whose name
    starts with one of ``prefer`` (stacked), else the first sheet."""
    try:
        xl = pd.ExcelFile(path)
    except Exception as exc:  # noqa: BLE001
        raise FileFormatError(path, f"is a damaged Excel file ({exc})", "open and re-save it in Excel") from None
    names = xl.sheet_names
    if sheet is None:
        picks = [s for s in names if any(s.lower().startswith(p) for p in prefer)]
        picks = picks or [names[0]]
    else:
        if isinstance(sheet, int):
            sheet = names[sheet]
        if sheet not in names:
            raise FileFormatError(path, f"has no sheet {sheet!r} (sheets: {names})", "pass sheet= one of them")
        picks = [sheet]
    frames = [pd.read_excel(xl, sheet_name=s) for s in picks]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise FileFormatError(path, f"sheet(s) {picks} hold no rows", "pick the data sheet with sheet=")
    return frame


# --------------------------------------------------------------------------- column names

# Name-based recognition: normalized header name (units removed) -> (column, quantity)
_ALIASES: dict[str, tuple[str, str]] = {}


def _norm(name: str) -> str:
    return re.sub(r"[\s_.\-#]", "", name.lower())


def _alias(target: str, quantity: str, *names: str) -> None:
    for n in names:
        _ALIASES[_norm(n)] = (target, quantity)


_alias("test_time_second", "time", "test_time_second", "test time", "total time", "cumulative time", "testtime",
       "test_time", "total_time", "time", "t", "time/s", "elapsed time", "realtime_s")
_alias("step_time_second", "time", "step_time_second", "step time", "steptime", "step_time")
_alias("voltage_volt", "voltage", "voltage_volt", "voltage", "volts", "volt", "ewe", "ecell", "potential", "u",
       "cell voltage", "e", "<ewe>")
_alias("current_ampere", "current", "current_ampere", "current", "amps", "i", "<i>", "amp")
_alias("step_index", "count", "step_index", "step index", "step", "step id", "stepid", "ns", "step number")
_alias("step_count", "count", "step_count", "step count")
_alias("cycle_count", "count", "cycle_count", "cycle index", "cycle", "cycle number", "cyc", "cycle id",
       "cycle_index", "cycle count")
_alias("step_name", "text", "step_type", "step type", "step name", "state", "status", "mode")
_alias("charging_capacity_ah", "capacity", "charging_capacity_ah", "charge capacity", "chg cap",
       "charge_capacity", "chg capacity", "charging capacity")
_alias("discharging_capacity_ah", "capacity", "discharging_capacity_ah", "discharge capacity", "dchg cap",
       "discharge_capacity", "dchg capacity", "discharging capacity")
_alias("charging_energy_wh", "energy", "charging_energy_wh", "charge energy", "chg energy", "charge_energy",
       "charging energy")
_alias("discharging_energy_wh", "energy", "discharging_energy_wh", "discharge energy", "dchg energy",
       "discharge_energy", "discharging energy")
_alias("capacity_ah", "capacity", "capacity", "amp-hr", "amphr", "cap")
_alias("energy_wh", "energy", "energy", "watt-hr", "watthr")
_alias("net_capacity_ah", "capacity", "net_capacity_ah", "(q-qo)", "net capacity")
_alias("unix_time_second", "time", "unix_time_second")
_alias("temperature_celsius", "temperature", "temperature_celsius", "temperature", "temp", "t1", "aux1")

# names so generic that a specific one ("Total Time") wins over them ("Time")
_GENERIC = {"time", "t", "e", "i", "u", "cap", "step", "cycle", "mode", "status", "state", "temp"}
_TARGET_QUANTITY = {t: q for t, q in _ALIASES.values()}


def map_columns(frame: pd.DataFrame, path: Path, column_map: Mapping[str, str] | None,
                units: Mapping[str, str] | None) -> tuple[pd.DataFrame, dict]:
    """Recognise the columns of a plain table; convert to SI; report the source units.

    Returns the reader's columns (SI units) and ``{"source_units", "source_columns"}``.
    """
    chosen = _recognise(frame, path)
    chosen.update(_mapped(frame, path, column_map))
    out = pd.DataFrame(index=frame.index)
    source_units = {}
    for target, (col, unit) in chosen.items():
        if units and target in units:
            unit = units[target]
        out[target], source_unit = _convert(frame[col], path, col, target, unit)
        if source_unit is not None:
            source_units[target] = source_unit
    return out, {"source_units": source_units, "source_columns": {t: c for t, (c, _) in chosen.items()}}


def _recognise(frame: pd.DataFrame, path: Path) -> dict[str, tuple[str, str | None]]:
    """Reader column -> (the file's column, its header unit), from the header names."""
    chosen: dict[str, tuple[str, str | None]] = {}
    for col in frame.columns:
        name, unit = split_header(col)
        key = _norm(name)
        if key not in _ALIASES:
            continue
        target, quantity = _ALIASES[key]
        if quantity in ("time",) and unit and unit not in UNIT_FACTORS["time"] and not is_clock_unit(
                unit.replace(" ", "")):
            continue  # e.g. "Time(mAh/g)"-like oddities
        if quantity in ("capacity", "energy") and unit and "/g" in unit:
            continue  # specific capacity per gram is not a capacity
        if target in chosen:
            # a specific name ("Total Time") beats a generic one ("Time", the step time
            # in Neware exports); two specific ones must agree
            if key in _GENERIC and _norm(split_header(chosen[target][0])[0]) not in _GENERIC:
                continue
            if key not in _GENERIC and _norm(split_header(chosen[target][0])[0]) in _GENERIC:
                chosen[target] = (col, unit)
                continue
            _check_duplicate(frame, path, target, quantity, chosen[target], (col, unit))
            continue
        chosen[target] = (col, unit)
    return chosen


def _mapped(frame: pd.DataFrame, path: Path, column_map: Mapping[str, str] | None) -> dict:
    """The user's ``column_map``, checked against the reader's columns and the file's."""
    chosen = {}
    for target, col in (column_map or {}).items():
        if target not in _TARGET_QUANTITY:
            raise InputError(
                f"column_map key {target!r} is not a BDF column; use one of {sorted(_TARGET_QUANTITY)}"
            )
        if col not in frame.columns:
            raise FileFormatError(path, f"column_map names column {col!r}, which the file does not have "
                                        f"(it has {list(frame.columns)[:20]})", "fix the column_map")
        chosen[target] = (col, split_header(col)[1])
    return chosen


def _convert(values: pd.Series, path: Path, col: str, target: str, unit: str | None):
    """One column -> (values in SI, the source unit to report or None)."""
    quantity = _TARGET_QUANTITY[target]
    if quantity == "text":
        return values.astype(str).str.strip(), None
    if quantity == "time" and (values.dtype == object or pd.api.types.is_string_dtype(values)) and \
            values.astype(str).str.contains(":").any() and target != "unix_time_second":
        return clock_to_seconds(values, path, col), "h:mm:ss"
    if quantity == "count":
        return numeric(values, path, col), None
    converted, cell_unit = numeric_with_units(values, path, col)
    if cell_unit is not None:
        if unit is not None and cell_unit != unit.lower():
            raise FileFormatError(path, f"column {col!r}: its header says {unit!r} but its cells say "
                                        f"{cell_unit!r} (mixed units)", "make the units agree")
        unit = cell_unit
    factor = unit_factor(quantity, unit, f"{path}: column {col!r}")
    return converted * factor, unit or f"{SI_UNIT[quantity]} (assumed)"


def _check_duplicate(frame, path, target, quantity, first, second) -> None:
    """Two columns for one quantity (e.g. Current(A) and Current(mA)): they must agree."""
    if quantity in ("text", "count"):
        return
    (c1, u1), (c2, u2) = first, second
    try:
        a = pd.to_numeric(frame[c1], errors="coerce") * unit_factor(quantity, u1, c1)
        b = pd.to_numeric(frame[c2], errors="coerce") * unit_factor(quantity, u2, c2)
    except InputError:
        return
    scale = max(float(np.nanmax(np.abs(a))) if len(a) else 0.0, 1e-12)
    if np.nanmax(np.abs(a - b)) > 1e-3 * scale:
        raise FileFormatError(
            path, f"columns {c1!r} and {c2!r} both hold {target} but disagree once their units "
                  f"({u1!r}, {u2!r}) are applied (mixed units)",
            "keep one of them, or give column_map= to choose",
        )
