"""Plain tables of cycler records: reading text and Excel tables, and recognising their
columns by name (with the unit in the header or in the cells) into the reader's columns.

Shared by the readers of exported tables (Neware BTSDA, Arbin exports, BDF, any CSV).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import FileFormatError, InputError
from ._source import check_file
from ._units import (
    SI_UNIT,
    UNIT_FACTORS,
    clock_to_seconds,
    is_clock_unit,
    is_text,
    numeric,
    numeric_with_units,
    split_header,
    unit_factor,
)


def read_excel(path: Path, sheet, prefer: tuple[str, ...]) -> pd.DataFrame:
    """The data sheet(s) of a workbook: ``sheet`` when given, else every sheet whose name
    starts with one of ``prefer`` (stacked), else the first sheet.

    openpyxl and pandas raise a dozen exception types on a damaged workbook (zip, XML,
    style and cell errors); each becomes a :class:`FileFormatError` naming the file.
    """
    check_file(path)
    try:
        # a file object, not the path: openpyxl refuses a path whose suffix is not .xlsx
        with open(path, "rb") as fh:
            xl = pd.ExcelFile(fh, engine="openpyxl")
            names = xl.sheet_names
            picks = _pick_sheets(path, names, sheet, prefer)
            frames = [pd.read_excel(xl, sheet_name=s) for s in picks]
    except FileFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl/zipfile/lxml raise many types for damage
        raise FileFormatError(path, f"is a damaged Excel file ({type(exc).__name__}: {str(exc)[:120]})",
                              "open and re-save it in Excel") from None
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise FileFormatError(path, f"sheet(s) {picks} hold no rows", "pick the data sheet with sheet=")
    return frame


def read_parquet(path: Path) -> pd.DataFrame:
    """A parquet file as a frame; pyarrow's many exceptions on damage become one error."""
    check_file(path)
    try:
        # page checksums are verified where the writer stored them (pandas does not by default)
        return pd.read_parquet(path, page_checksum_verification=True)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid/OSError/ValueError/... on damage
        raise FileFormatError(path, f"is a damaged parquet file ({type(exc).__name__}: {str(exc)[:150]})",
                              "re-export it") from None


def _pick_sheets(path: Path, names: list[str], sheet, prefer: tuple[str, ...]) -> list[str]:
    if not names:
        # a damaged workbook.xml (or its rels) can list no sheet at all
        raise FileFormatError(path, "lists no sheets: its workbook part is damaged",
                              "open and re-save it in Excel, or export the data as CSV")
    if sheet is None:
        picks = [s for s in names if any(s.lower().startswith(p) for p in prefer)]
        return picks or names[:1]
    if isinstance(sheet, int):
        if not -len(names) <= sheet < len(names):
            raise FileFormatError(path, f"has no sheet {sheet} (it has {len(names)}: {names})",
                                  "pass sheet= one of them")
        sheet = names[sheet]
    if sheet not in names:
        raise FileFormatError(path, f"has no sheet {sheet!r} (sheets: {names})", "pass sheet= one of them")
    return [sheet]


# --------------------------------------------------------------------------- column names

# Name-based recognition: normalized header name (units removed) -> (column, quantity)
_ALIASES: dict[str, tuple[str, str]] = {}


def _norm(name: str) -> str:
    return re.sub(r"[\s_.\-#]", "", name.lower())


def header_names(cells) -> list[str]:
    """Header cells as comparable names: the unit removed, lower case, no spaces, ``_``,
    ``.``, ``-`` or ``#`` (``"Test_Time(s)"`` and ``"Test Time (s)"`` -> ``"testtime"``)."""
    return [_norm(split_header(c.strip().strip('"'))[0]) for c in cells]


def _alias(target: str, quantity: str, *names: str) -> None:
    for n in names:
        _ALIASES[_norm(n)] = (target, quantity)


_alias("test_time_second", "time", "test_time_second", "test time", "total time", "cumulative time", "testtime",
       "test_time", "total_time", "time", "t", "time/s", "elapsed time", "realtime_s", "run time")
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
_alias("_record", "count", "data point", "datapoint", "data_point", "record id", "record", "rec", "record number")
_alias("temperature_celsius", "temperature", "temperature_celsius", "temperature", "temp", "t1", "aux1",
       "aux_temperature_1", "temp 1", "cell temperature")

# names so generic that a specific one ("Total Time") wins over them ("Time")
_GENERIC = {"time", "t", "e", "i", "u", "cap", "step", "cycle", "mode", "status", "state", "temp"}
_TARGET_QUANTITY = {t: q for t, q in _ALIASES.values()}


# the columns a record cannot do without: an unknown unit on one of them refuses the file;
# on any other (temperature, capacity, energy, ...) the column is kept as read and flagged
ESSENTIAL = ("voltage_volt", "current_ampere", "test_time_second", "step_time_second")


def map_columns(frame: pd.DataFrame, path: Path, column_map: Mapping[str, str] | None,
                units: Mapping[str, str] | None) -> tuple[pd.DataFrame, dict]:
    """Recognise the columns of a plain table; convert to SI; report the source units.

    Returns the reader's columns (SI units) and ``{"source_units", "source_columns",
    "flagged_columns", "empty_columns"}``. A recognised column whose cells are all empty
    is left out (``empty_columns``: e.g. an Arbin export's unused ``Step_Index``). An
    optional column whose unit is unknown (``T1(?)``) is kept as read, as ``aux:<header>``
    (the output keeps it under its header), and listed in ``flagged_columns`` with why;
    only an essential column (:data:`ESSENTIAL`) with an unknown unit refuses the file.
    """
    chosen = _recognise(frame, path)
    chosen.update(_mapped(frame, path, column_map))
    out = pd.DataFrame(index=frame.index)
    source_units: dict[str, str] = {}
    flagged: dict[str, str] = {}
    empty: list[str] = []
    for target, (col, unit) in list(chosen.items()):
        if units and target in units:
            unit = units[target]
        values = frame[col]
        if values.isna().all() or (is_text(values) and not values.astype(str).str.strip().any()):
            empty.append(col)
            del chosen[target]
            continue
        try:
            out[target], source_unit = _convert(values, path, col, target, unit)
        except InputError as exc:
            if target in ESSENTIAL or (column_map and target in column_map):
                raise
            flagged[col] = f"not used as {target}: {exc}"
            out[f"aux:{col}"] = values.to_numpy()
            del chosen[target]
            continue
        if source_unit is not None:
            source_units[target] = source_unit
    return out, {"source_units": source_units, "source_columns": {t: c for t, (c, _) in chosen.items()},
                 "flagged_columns": flagged, "empty_columns": empty}


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
    if quantity == "time" and is_text(values) and \
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
