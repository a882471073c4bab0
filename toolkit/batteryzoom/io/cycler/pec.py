"""PEC: the CSV export of PEC battery testers (``pec-csv``).

A preamble of ``key:,value`` lines (``Request Year:``, ``Test:``, ``TestRegime Name:``,
``Start Time:`` ...; 32 to 45 lines, with a ``#RESULTS CHECK`` block in older exports),
then the table: ``Test, Cell, Rack, ..., Step, Cycle, Total Time (...), Step Time (...),
Real Time, Voltage (...), Current (...), Charge Capacity (...), ...``. Two layouts:

- older: times in ``(Seconds)``, ``Voltage (mV)``, ``Current (mA)``, and the energies
  written as ``Charge Capacity (mWh)`` (a capacity header with an energy unit: read as
  the energy it is);
- newer: ``Total Time (Hours in hh:mm:ss.xxx)`` clocks, ``Voltage (V)``, ``Current (A)``,
  ``Charge Energy (mWh)``, and an ``Instruction Name`` per step.

Current is positive on charge. ``Real Time`` is the wall clock (``MM/DD/YYYY hh:mm:ss``).
The file has no record counter; temperature is read from ``Cell surface temperature`` or
``Temp`` when present.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...errors import FileFormatError, InputError
from ._registry import register
from ._tables import header_names
from ._text import parse_table
from ._units import clock_to_seconds, dates_to_unix, numeric, split_header, unit_factor

if TYPE_CHECKING:
    from .sniff import Sample

# normalised name -> (reader column, quantity)
_COLUMNS = {
    "totaltime": ("test_time_second", "time"), "steptime": ("step_time_second", "time"),
    "voltage": ("voltage_volt", "voltage"), "current": ("current_ampere", "current"),
    "step": ("step_index", None), "cycle": ("cycle_count", None),
    "chargecapacity": ("charging_capacity_ah", "capacity"), "dischargecapacity": ("discharging_capacity_ah", "capacity"),
    "chargeenergy": ("charging_energy_wh", "energy"), "dischargeenergy": ("discharging_energy_wh", "energy"),
    "cellsurfacetemperature": ("temperature_celsius", "temperature"), "temp": ("temperature_celsius", "temperature"),
    "instructionname": ("step_name", None),
}
_ENERGY_UNITS = ("wh", "mwh", "kwh", "uwh", "j", "ws", "mws")


def _is_header(line: str) -> bool:
    names = set(header_names(line.split(",")))
    return {"test", "cell", "step", "cycle", "totaltime", "voltage", "current"} <= names


def _read(path: Path, column_map=None, units=None, **_: Any):
    table = parse_table(path, header=_is_header, sep=",", search_lines=120)
    frame = table.frame
    out = pd.DataFrame(index=frame.index)
    source_units: dict[str, str] = {}
    for col in frame.columns:
        name, unit = split_header(col)
        key = header_names([col])[0]
        hit = _COLUMNS.get(key)
        if hit is None:
            continue
        target, quantity = hit
        if quantity == "capacity" and unit in _ENERGY_UNITS:
            target, quantity = target.replace("capacity_ah", "energy_wh"), "energy"
        if target in out:
            continue
        values = frame[col]
        if target == "step_name":
            out[target] = values.astype(str).str.strip().to_numpy()
            continue
        if quantity == "time" and unit and "hh:mm" in unit:
            out[target] = clock_to_seconds(values, path, col)
            source_units[col] = "h:mm:ss.xxx"
            continue
        arr = numeric(values, path, col)
        if quantity is not None:
            try:
                arr = arr * unit_factor(quantity, unit, f"{path}: column {col!r}")
            except InputError:
                if target in ("voltage_volt", "current_ampere", "test_time_second"):
                    raise
                continue
            source_units[col] = unit or "none given"
        out[target] = arr
    missing = [t for t in ("test_time_second", "voltage_volt", "current_ampere") if t not in out]
    if missing:
        raise FileFormatError(path, f"PEC table lacks {missing} (columns: {list(frame.columns)[:12]})",
                              "export the test with its time, voltage and current")
    if "Real Time" in frame.columns:
        out["unix_time_second"] = dates_to_unix(frame["Real Time"], fmt="%m/%d/%Y %H:%M:%S")
    meta = {"reader": "batteryzoom pec", "instrument": "PEC", "source_units": source_units,
            "warnings": table.notes, "metadata": _preamble(table.preamble)}
    return out, meta


def _preamble(lines: list[str]) -> dict:
    out = {}
    for ln in lines:
        key, sep, value = ln.partition(":,")
        if sep and key in ("Test", "TestRegime Name", "Start Time", "End Time", "Chemistry", "Product ID"):
            out[key] = value.rstrip(",").strip()
    return out


def _is_pec(sample: Sample) -> str | None:
    head = sample.lines[:3]
    if head and head[0].startswith("Request Year:,") and any(ln.startswith("Test:,") for ln in head):
        return "a 'Request Year:'/'Test:' preamble"
    return None


register("pec-csv", "PEC tester CSV export (key:,value preamble; mV/mA or V/A)", match=_is_pec, read=_read,
         priority=20)
