"""Any table of records (``csv``, ``xlsx``): columns recognised by name, with the unit in
the header (``Current(mA)``, ``Voltage / V``, ``Time [min]``) or in the cells (``4.1 V``),
or named by the caller with ``column_map=`` (and ``units=`` where the header does not say).

These are the catch-all readers: a text file whose first lines split into the same number
of cells on ``,``, tab or ``;``, or a workbook no make claims, is read here when no
instrument's format matched it first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._registry import register
from ._source import head_bytes
from ._tables import map_columns, read_excel
from ._text import parse_table

if TYPE_CHECKING:
    from .sniff import Sample


def _read(path: Path, column_map=None, units=None, sheet=None, **_: Any):
    notes: list[str] = []
    if head_bytes(path, 2) == b"PK":
        frame = read_excel(path, sheet, prefer=())
    else:
        table = parse_table(path)
        frame, notes = table.frame, table.notes
    out, meta = map_columns(frame, path, column_map, units)
    meta.update(reader="batteryzoom table", instrument=None, warnings=notes)
    return out, meta


def _looks_tabular(lines: list[str]) -> bool:
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) < 2:
        return False
    for sep in (",", "\t", ";"):
        counts = [ln.count(sep) for ln in lines[:10] if ln.strip()]
        if counts and counts[0] >= 1 and len(counts) >= 2 and len(set(counts)) == 1:
            return True
    return False


def _is_csv(sample: Sample) -> str | None:
    return "a table with one separator count per line" if _looks_tabular(sample.lines) else None


def _is_xlsx(sample: Sample) -> str | None:
    return "a workbook" if sample.is_workbook else None


register("csv", "any CSV/TSV (columns by name or column_map)", match=_is_csv, read=_read, priority=90)
register("xlsx", "any Excel sheet (columns by name or column_map)", match=_is_xlsx, read=_read, priority=90)
