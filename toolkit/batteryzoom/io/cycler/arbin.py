"""Arbin: the MS Access ``.res`` database (through mdbtools' ``mdb-export``) and the
Excel / CSV exports of MITS Pro.

- ``arbin-res``: the ``Channel_Normal_Table`` of a Jet/ACE database (``Standard Jet DB``
  magic), sorted by data point; ``DateTime`` is an OLE automation date.
- ``arbin-xlsx``: a workbook with ``Channel_*`` sheets (or ``Global_Info``); the channel
  sheets are stacked.
- ``arbin-csv``: a channel sheet saved as CSV (a header with ``Test_Time(s)`` and
  ``Step_Index``).

Arbin counts capacity and energy over the cycle; :mod:`.finalize` makes them per step.
"""

from __future__ import annotations

import io as _io
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...errors import FileFormatError, MissingDependencyError
from ._registry import register
from ._tables import map_columns, read_excel, read_text_table
from ._units import dates_to_unix, numeric

if TYPE_CHECKING:
    from .sniff import Sample

# Channel_Normal_Table column -> the reader's column (the database stores SI units)
_RES_COLUMNS = {
    "Test_Time": "test_time_second", "Step_Time": "step_time_second", "Voltage": "voltage_volt",
    "Current": "current_ampere", "Step_Index": "step_index", "Cycle_Index": "cycle_count",
    "Charge_Capacity": "charging_capacity_ah", "Discharge_Capacity": "discharging_capacity_ah",
    "Charge_Energy": "charging_energy_wh", "Discharge_Energy": "discharging_energy_wh",
}


def _export_frame(frame: pd.DataFrame, path: Path, column_map, units) -> tuple[pd.DataFrame, dict]:
    """An exported channel table (XLSX or CSV) -> the reader's columns."""
    out, meta = map_columns(frame, path, column_map, units)
    if "Date_Time" in frame.columns:
        out["unix_time_second"] = dates_to_unix(frame["Date_Time"])
    # Arbin counts capacity and energy over the cycle: made per step in finalize
    meta["capacity_scope"] = "cycle"
    meta.update(instrument="Arbin")
    return out, meta


def _read_xlsx(path: Path, column_map=None, units=None, sheet=None, **_: Any):
    frame = read_excel(path, sheet, prefer=("channel",))
    out, meta = _export_frame(frame, path, column_map, units)
    meta["reader"] = "batteryzoom arbin-xlsx (openpyxl)"
    return out, meta


def _read_csv(path: Path, column_map=None, units=None, **_: Any):
    out, meta = _export_frame(read_text_table(path), path, column_map, units)
    meta["reader"] = "batteryzoom arbin-csv"
    return out, meta


def _read_res(path: Path, column_map=None, units=None, **_: Any):
    frame = _channel_normal_table(path)
    out = pd.DataFrame({new: numeric(frame[old], path, old) for old, new in _RES_COLUMNS.items() if old in frame})
    if "DateTime" in frame:
        # OLE automation date: days since 1899-12-30 (local clock of the instrument PC)
        out["unix_time_second"] = (numeric(frame["DateTime"], path, "DateTime") - 25569.0) * 86400.0
    if column_map:
        extra, _ = map_columns(frame, path, column_map, units)
        for c in extra:
            out[c] = extra[c]
    meta = {"reader": "mdbtools mdb-export", "instrument": "Arbin", "capacity_scope": "cycle",
            "source_units": {"all": "SI (Arbin database)"}}
    return out, meta


def _channel_normal_table(path: Path) -> pd.DataFrame:
    """The database's ``Channel_Normal_Table`` through ``mdb-export``, in data point order."""
    exe = shutil.which("mdb-export")
    if exe is None:
        raise MissingDependencyError(
            "mdbtools", f"Reading the Arbin .res file {path}",
            "sudo apt-get install mdbtools (Debian/Ubuntu), brew install mdbtools (macOS), or run make setup",
        )
    proc = subprocess.run([exe, str(path), "Channel_Normal_Table"], capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise FileFormatError(
            path, f"mdb-export could not read its Channel_Normal_Table ({proc.stderr.decode(errors='replace').strip()[:200]})",
            "check that this is an Arbin .res file and that it is not truncated",
        )
    frame = pd.read_csv(_io.BytesIO(proc.stdout))
    if "Data_Point" in frame:
        # the database keeps rows in insertion order per table page, not by data point
        frame = frame.sort_values(["Test_ID", "Data_Point"] if "Test_ID" in frame else "Data_Point",
                                  kind="stable").reset_index(drop=True)
    return frame


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


def _is_csv(sample: Sample) -> str | None:
    low = sample.lines[0].lower() if sample.lines else ""
    if "test_time(s)" in low and "step_index" in low:
        return "a header with Test_Time(s) and Step_Index"
    return None


register("arbin-res", "Arbin MS-Access .res, via mdbtools", match=_is_res, read=_read_res, priority=10)
register("arbin-xlsx", "Arbin Excel export (.xlsx)", match=_is_xlsx, read=_read_xlsx, priority=20)
# after the BDF header check: a BDF table may carry Arbin-like names too
register("arbin-csv", "Arbin CSV export", match=_is_csv, read=_read_csv, priority=70)
