"""BaSyTec: the result file of the Battery Test System (``basytec-txt``).

A header of ``~``-prefixed lines (``~Resultfile from Basytec Battery Test System``, test
name, dd.mm.yyyy dates), the last of which holds the column names (``~Time[s]  DataSet
t-Step[s]  ...  U[V]  I[A]  Ah[Ah]  ...  T1[°C]  ...  Cyc-Count  Count  State``); tab
separated. ``Time[s]`` is the test time, ``t-Step[s]`` the step time, ``Command`` the step
name (``Pause``, ``Charge``, ``Discharge``), ``Line`` the program line (the step number),
``Cyc-Count`` the cycle, ``Ah-Step``/``Wh-Step`` the signed charge and energy of the step,
``DataSet`` the record counter. The ``°`` of ``T1[°C]`` is often written in a legacy code
page: the unit is still Celsius.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError
from ._registry import register
from ._source import decode, read_bytes
from ._text import parse_table, split_lines
from ._units import numeric, split_header, unit_factor

if TYPE_CHECKING:
    from .sniff import Sample

_COLUMNS = {  # BaSyTec name -> (reader column, quantity)
    "Time": ("test_time_second", "time"), "t-Step": ("step_time_second", "time"), "U": ("voltage_volt", "voltage"),
    "I": ("current_ampere", "current"), "Ah-Step": ("step_net_capacity_ah", "capacity"),
    "Wh-Step": ("step_net_energy_wh", "energy"), "Line": ("step_index", None), "Cyc-Count": ("cycle_count", None),
    "DataSet": ("_record", None), "T1": ("temperature_celsius", "temperature"),
}


def _read(path: Path, column_map=None, units=None, **_: Any):
    text, _encoding = decode(read_bytes(path))
    lines = split_lines(text)
    tilde = [k for k, ln in enumerate(lines[:200]) if ln.startswith("~")]
    header = next((k for k in reversed(tilde) if "\t" in lines[k]), None)
    if header is None:
        raise FileFormatError(path, "is a BaSyTec file without its column line (the last '~' line)",
                              "export the result file again")
    table = parse_table(path, header=header, sep="\t", text=text)
    frame = table.frame
    frame.columns = [c.lstrip("~").strip() for c in frame.columns]
    out = pd.DataFrame(index=frame.index)
    source_units = {}
    for col in frame.columns:
        name, unit = split_header(col)
        hit = next(((t, q) for k, (t, q) in _COLUMNS.items() if k.lower() == name), None)
        if hit is None or hit[0] in out:
            continue
        target, quantity = hit
        values = numeric(frame[col], path, col)
        if quantity is not None:
            values = values * unit_factor(quantity, unit or None, f"{path}: column {col!r}")
            source_units[col] = unit or "SI (BaSyTec's)"
        out[target] = np.abs(values) if target.startswith("step_net") else values
    missing = [t for t in ("test_time_second", "voltage_volt", "current_ampere") if t not in out]
    if missing:
        raise FileFormatError(path, f"BaSyTec table lacks {missing} (columns: {list(frame.columns)[:12]})",
                              "export the result file with Time, U and I")
    if "Command" in frame.columns:
        out["step_name"] = frame["Command"].astype(str).str.strip().to_numpy()
    meta = {"reader": "batteryzoom basytec", "instrument": "BaSyTec", "source_units": source_units,
            "warnings": table.notes,
            "metadata": {ln[1:].split(":", 1)[0].strip(): ln.split(":", 1)[1].strip()
                         for ln in lines[:header] if ":" in ln and ln.startswith("~")}}
    return out, meta


def _is_basytec(sample: Sample) -> str | None:
    if sample.lines and sample.lines[0].startswith("~") and "basytec" in sample.lines[0].lower():
        return "a '~Resultfile from Basytec' first line"
    return None


register("basytec-txt", "BaSyTec result file (~ header, tab separated)", match=_is_basytec, read=_read,
         priority=20)
