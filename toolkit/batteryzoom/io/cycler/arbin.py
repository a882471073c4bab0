"""Arbin: the MS Access ``.res`` database (through mdbtools' ``mdb-export``) and the
Excel / CSV exports of MITS Pro.

- ``arbin-res``: the ``Channel_Normal_Table`` of a Jet/ACE database (``Standard Jet DB``
  magic), sorted by data point; ``DateTime`` is an OLE automation date; the first aux
  temperature channel (``Auxiliary_Table``, ``Data_Type`` 1) joined on the data point.
  ``mdb-export`` runs with a time limit and an output bound (a damaged database made it
  loop forever), and anything it writes to stderr, even when it exits 0, refuses the file
  (a damaged ``.res`` otherwise loses rows without a word).
- ``arbin-xlsx``: a workbook with ``Channel_*`` sheets (or ``Global_Info``); the channel
  sheets are stacked.
- ``arbin-csv``: a channel table saved as CSV, in either header variant: with units
  (``Test_Time(s)``, ``Current (A)``, MITS Pro's export) or without (``Test_Time``,
  ``Current``: the database's own names, as TRI's exports write them, whose units are the
  database's: s, A, V, Ah, Wh, °C). A ``<name>_Metadata.csv`` beside it (schedule, start
  time) goes to ``attrs["metadata"]``. ``DateTime`` may be epoch seconds or a date text.

Arbin counts capacity and energy over the cycle (a running count, reset at each cycle):
:mod:`.finalize` makes them per step, after checking that scope in the data itself.
"""

from __future__ import annotations

import io as _io
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError, MissingDependencyError
from ._registry import Evidence, register
from ._source import check_file, run_bounded
from ._tables import header_names, map_columns, read_excel
from ._text import parse_table
from ._units import dates_to_unix, is_text, numeric

if TYPE_CHECKING:
    from .sniff import Sample

# Channel_Normal_Table column -> the reader's column (the database stores SI units)
_RES_COLUMNS = {
    "Test_Time": "test_time_second", "Step_Time": "step_time_second", "Voltage": "voltage_volt",
    "Current": "current_ampere", "Step_Index": "step_index", "Cycle_Index": "cycle_count",
    "Charge_Capacity": "charging_capacity_ah", "Discharge_Capacity": "discharging_capacity_ah",
    "Charge_Energy": "charging_energy_wh", "Discharge_Energy": "discharging_energy_wh",
}
# the database's units, which its unit-less CSV exports keep
_DB_UNITS = {"test_time_second": "s", "step_time_second": "s", "voltage_volt": "V", "current_ampere": "A",
             "charging_capacity_ah": "Ah", "discharging_capacity_ah": "Ah", "charging_energy_wh": "Wh",
             "discharging_energy_wh": "Wh", "temperature_celsius": "C"}
# the column names (normalised: lower case, no units, no spaces or underscores) of Arbin's tables
_ARBIN_NAMES = {"datapoint", "testtime", "steptime", "stepindex", "cycleindex", "current", "voltage",
                "chargecapacity", "dischargecapacity", "chargeenergy", "dischargeenergy", "datetime",
                "dv/dt", "internalresistance", "acr", "auxtemperature1", "tccounter1"}


def _export_frame(frame: pd.DataFrame, path: Path, column_map, units) -> tuple[pd.DataFrame, dict]:
    """An exported channel table (XLSX or CSV) -> the reader's columns."""
    names = {c: header_names([c])[0] for c in frame.columns}
    unitless = all("(" not in c and "[" not in c for c in frame.columns)
    given = dict(units or {})
    if unitless:
        # the database's own names, without units: the database's units
        given = {**_DB_UNITS, **given}
    out, meta = map_columns(frame, path, column_map, given)
    date = next((c for c, n in names.items() if n == "datetime"), None)
    if date is not None and "unix_time_second" not in out:
        values = frame[date]
        if pd.api.types.is_numeric_dtype(values):
            out["unix_time_second"] = values.to_numpy(np.float64)  # epoch seconds (TRI's exports)
            meta["source_units"]["unix_time_second"] = "s since 1970 (as written)"
        else:
            out["unix_time_second"] = dates_to_unix(values)
    point = next((c for c, n in names.items() if n == "datapoint"), None)
    if point is not None:
        out["_record"] = numeric(frame[point], path, point)
    # Arbin counts capacity and energy over the cycle: made per step in finalize
    meta["capacity_scope"] = "cycle"
    meta.update(instrument="Arbin")
    if unitless:
        meta["source_units"] = {**meta["source_units"], **{k: f"{v} (Arbin database units)"
                                                           for k, v in _DB_UNITS.items()
                                                           if k in out and k not in (units or {})}}
    return out, meta


def _read_xlsx(path: Path, column_map=None, units=None, sheet=None, **_: Any):
    frame = read_excel(path, sheet, prefer=("channel",))
    out, meta = _export_frame(frame, path, column_map, units)
    meta["reader"] = "batteryzoom arbin-xlsx (openpyxl)"
    return out, meta


def _is_arbin_header(line: str) -> bool:
    found = set(header_names(line.split(",") if line.count(",") >= line.count("\t") else line.split("\t")))
    return len(found & _ARBIN_NAMES) >= 5 and "testtime" in found


def _read_csv(path: Path, column_map=None, units=None, **_: Any):
    table = parse_table(path, header=_is_arbin_header)
    frame = table.frame
    # MITS Pro writes "\t09/20/2024 08:32:34.558": a tab before each date value
    for c in frame.columns:
        if is_text(frame[c]):
            frame[c] = frame[c].str.strip()
    out, meta = _export_frame(frame, path, column_map, units)
    meta["reader"] = "batteryzoom arbin-csv"
    meta["warnings"] = table.notes
    meta["metadata"] = _metadata_file(path, meta)
    return out, meta


def _metadata_file(path: Path, meta: dict) -> dict:
    """The ``<name>_Metadata.csv`` beside an exported channel table (TRI's exports): one row
    of test fields (schedule, start and end, test id). A damaged one is noted, not fatal."""
    other = path.with_name(f"{path.stem}_Metadata{path.suffix}")
    if not other.is_file():
        return {}
    try:
        check_file(other, "metadata file")
        # one row of fields, some quoted ("ArbinResult_6,"): pandas' quoting, not the data parser's
        table = pd.read_csv(other, nrows=5, low_memory=False)
        row = table.iloc[0]
    except Exception as exc:  # noqa: BLE001 - the metadata is a courtesy, never the record
        meta.setdefault("notes", []).append(f"metadata file {other.name} unreadable: {str(exc)[:150]}")
        return {}
    keep = {str(k).lower(): v for k, v in row.items()}
    out = {"metadata_file": other.name}
    for key in ("test_id", "schedule_file_name", "first_start_datetime", "last_end_datetime", "databases",
                "item_id", "schedule_version"):
        if key in keep and pd.notna(keep[key]):
            value = keep[key]
            out[key] = value.item() if hasattr(value, "item") else value
    return out


def _read_res(path: Path, column_map=None, units=None, **_: Any):
    frame = _mdb_table(path, "Channel_Normal_Table")
    missing = [c for c in ("Test_Time", "Voltage", "Current") if c not in frame]
    if missing:
        raise FileFormatError(path, f"its Channel_Normal_Table lacks {missing} (columns: {list(frame.columns)[:12]})",
                              "check that this is an Arbin .res file")
    if "Data_Point" in frame:
        # the database keeps rows in insertion order per table page, not by data point
        frame = frame.sort_values(["Test_ID", "Data_Point"] if "Test_ID" in frame else "Data_Point",
                                  kind="stable").reset_index(drop=True)
    out = pd.DataFrame({new: numeric(frame[old], path, old) for old, new in _RES_COLUMNS.items() if old in frame})
    if "DateTime" in frame:
        # OLE automation date: days since 1899-12-30 (local clock of the instrument PC)
        out["unix_time_second"] = (numeric(frame["DateTime"], path, "DateTime") - 25569.0) * 86400.0
    if "Data_Point" in frame:
        out["_record"] = numeric(frame["Data_Point"], path, "Data_Point")
    notes: list[str] = []
    temperature = _aux_temperature(path, frame, notes)
    if temperature is not None:
        out["temperature_celsius"] = temperature
    if column_map:
        extra, _ = map_columns(frame, path, column_map, units)
        for c in extra:
            out[c] = extra[c]
    meta = {"reader": "mdbtools mdb-export", "instrument": "Arbin", "capacity_scope": "cycle",
            "source_units": {"all": "SI (Arbin database)"}, "warnings": notes,
            "record_groups": frame["Test_ID"].to_numpy() if "Test_ID" in frame else None}
    return out, meta


def _aux_temperature(path: Path, frame: pd.DataFrame, notes: list[str]) -> np.ndarray | None:
    """The first aux temperature channel (``Data_Type`` 1, lowest ``Auxiliary_Index``) on the
    channel table's data points, or None when the file has none."""
    if "Data_Point" not in frame:
        return None
    aux = _mdb_table(path, "Auxiliary_Table", required=False)
    if aux is None or len(aux) == 0 or not {"Data_Point", "Data_Type", "X", "Auxiliary_Index"} <= set(aux.columns):
        return None
    temps = aux[pd.to_numeric(aux["Data_Type"], errors="coerce") == 1]
    if len(temps) == 0:
        return None
    first = temps[temps["Auxiliary_Index"] == temps["Auxiliary_Index"].min()]
    keys = ["Test_ID", "Data_Point"] if "Test_ID" in first and "Test_ID" in frame else ["Data_Point"]
    first = first.drop_duplicates(keys, keep="last").set_index(keys)["X"]
    values = pd.to_numeric(first, errors="coerce").reindex(pd.MultiIndex.from_frame(frame[keys])
                                                           if len(keys) > 1 else frame["Data_Point"])
    found = values.to_numpy(np.float64)
    if np.isnan(found).all():
        notes.append("Auxiliary_Table holds temperatures on no data point of the channel table: not read")
        return None
    return found


def _mdb_table(path: Path, table: str, required: bool = True) -> pd.DataFrame | None:
    """One table of the database through ``mdb-export``: bounded in time and output size,
    its stderr read even when it exits 0."""
    exe = shutil.which("mdb-export")
    if exe is None:
        raise MissingDependencyError(
            "mdbtools", f"Reading the Arbin .res file {path}",
            "sudo apt-get install mdbtools (Debian/Ubuntu), brew install mdbtools (macOS), or run make setup",
        )
    size = check_file(path).st_size
    # a sound export is a few times the database's size and takes seconds; a damaged
    # database has made mdb-export loop forever writing the same rows
    limit_bytes = 64 * size + (16 << 20)
    limit_s = 10.0 + 2.0 * size / 2**20
    out, err, code, why = run_bounded([exe, os.fspath(path), table], limit_bytes, limit_s)
    if why:
        raise FileFormatError(path, f"mdb-export {why} reading its {table}: the database is damaged",
                              "copy the file again from the instrument PC, or export the channel from MITS Pro")
    message = err.decode(errors="replace").strip()
    if code != 0 or message:
        if not required and "not found" in message.lower():
            return None
        raise FileFormatError(path, f"mdb-export could not read its {table} cleanly (exit {code}: "
                                    f"{message[:200] or 'no message'}): rows may be missing",
                              "check that this is an Arbin .res file and that it is not truncated or damaged")
    if not out.strip():
        if not required:
            return None
        raise FileFormatError(path, f"mdb-export found no {table} in it", "check that this is an Arbin .res file")
    try:
        return pd.read_csv(_io.BytesIO(out), low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError) as exc:
        raise FileFormatError(path, f"mdb-export's {table} is not a table ({str(exc)[:150]})",
                              "the database is damaged: copy it again") from None


def _is_res(sample: Sample) -> str | None:
    if sample.head.startswith(b"\x00\x01\x00\x00Standard Jet DB") or \
            sample.head.startswith(b"\x00\x01\x00\x00Standard ACE DB"):
        return "an MS Access (Jet/ACE) database"
    return None


def _is_xlsx(sample: Sample) -> str | None:
    if sample.is_workbook and (any(s.startswith("Channel") for s in sample.xlsx_sheets)
                               or "Global_Info" in sample.xlsx_sheets):
        return "a workbook with Channel_* or Global_Info sheets"
    return None


def _is_csv(sample: Sample) -> str | Evidence | None:
    for ln in sample.lines[:5]:
        low = ln.lower()
        if "test_time(s)" in low and "step_index" in low:
            return "a header with Test_Time(s) and Step_Index"
        if _is_arbin_header(ln):
            found = sorted(set(header_names(ln.split("," if ln.count(",") >= ln.count("\t") else "\t")))
                           & _ARBIN_NAMES)
            return Evidence(f"a header with Arbin's column names ({', '.join(found[:6])}, ...)", sure=False)
    return None


register("arbin-res", "Arbin MS-Access .res, via mdbtools", match=_is_res, read=_read_res, priority=10)
register("arbin-xlsx", "Arbin Excel export (.xlsx)", match=_is_xlsx, read=_read_xlsx, priority=20)
# after the BDF header check: a BDF table may carry Arbin-like names too
register("arbin-csv", "Arbin CSV export (headers with or without units)", match=_is_csv, read=_read_csv,
         priority=70)
