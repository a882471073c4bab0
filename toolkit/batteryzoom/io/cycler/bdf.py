"""Battery Data Format tables: ``bdf-csv`` and ``bdf-parquet``.

Columns by their BDF machine names (``test_time_second``, ``voltage_volt``, ...) or their
preferred labels (``Test Time / s``, ``Voltage / V``), mapped through the same names as
any table; a parquet file is BDF unless it is PyProBE's (``Time [s]`` and ``Voltage [V]``,
no ``test_time_second``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._registry import register
from ._source import head_bytes
from ._tables import header_names, map_columns, read_parquet
from ._text import guess_separator, parse_table

if TYPE_CHECKING:
    from .sniff import Sample


def _read(path: Path, column_map=None, units=None, **_: Any):
    notes: list[str] = []
    if head_bytes(path, 4) == b"PAR1":
        frame = read_parquet(path)
    else:
        table = parse_table(path)
        frame, notes = table.frame, table.notes
    # BDF "preferred labels" (``Test Time / s``) are mapped through the same aliases
    out, meta = map_columns(frame, path, column_map, units)
    meta.update(reader="batteryzoom bdf", instrument=None, warnings=notes)
    return out, meta


# BDF's machine names and preferred labels (normalised by header_names)
_MACHINE = {"test_time_second", "voltage_volt", "current_ampere", "unix_time_second", "step_time_second"}
_LABELS = {"testtime", "voltage", "current", "cyclecount", "stepindex", "stepcount", "chargecapacity",
           "dischargecapacity", "unixtime", "steptime", "chargeenergy", "dischargeenergy", "steptype",
           "protocolname", "ambienttemperature"}


def _is_csv(sample: Sample) -> str | None:
    first = next((ln for ln in sample.lines[:3] if ln.strip()), "")
    cells = [c.strip() for c in first.split(guess_separator(first))]
    machine = sorted(set(c.lower() for c in cells) & _MACHINE)
    if len(machine) >= 2:
        return f"BDF machine names in the header ({', '.join(machine)})"
    # preferred labels: "Test Time / h", "Voltage / V", "Cycle Count / 1"
    labelled = [c for c, n in zip(cells, header_names(cells)) if " / " in c and n in _LABELS]
    if len(labelled) >= 3 and any(c.lower().startswith("test time /") for c in labelled):
        return f"BDF preferred labels in the header ({', '.join(labelled[:4])})"
    return None


def _is_parquet(sample: Sample) -> str | None:
    if sample.container != "parquet":
        return None
    if "test_time_second" in sample.parquet_names:
        return "a parquet file with a test_time_second column"
    return "a parquet file"


register("bdf-csv", "Battery Data Format CSV", match=_is_csv, read=_read, priority=60)
# after PyProBE's parquet (10), which claims only files without BDF names
register("bdf-parquet", "Battery Data Format parquet", match=_is_parquet, read=_read, priority=15)
