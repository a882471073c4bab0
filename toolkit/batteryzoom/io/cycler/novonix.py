"""Novonix: the HPC / UHPC CSV export (``novonix-csv``).

The file is in sections: ``[Summary]`` (cell, channel, nominal capacity, start), a
``[Protocol]`` (bracketed step lines, or a JSON block in UHPC 2.x), then ``[Data]``: a
header line and the records. Two variants are read alike: every data line (and the
header) wrapped in double quotes (HPC 2.2, as TRI's files are), or plain lines (UHPC 2.13).

Columns: ``Run Time (h)`` (test time), ``Step Time (h)``, ``Current (A)`` (positive on
charge), ``Potential (V)``, ``Capacity (Ah)`` and ``Energy (Wh)`` (unsigned, counted per
step), ``Cycle Number``, ``Step Number``, ``Step Type`` (a code: 0 open circuit, 1 CC
charge, 2 CC discharge, 3 CC-CV charge, 4 CC-CV discharge; others are read without a
label), ``Temperature (°C)`` and ``Date and Time`` (12- or 24-hour clock). The file has no
record counter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError
from ._registry import register
from ._source import decode, read_bytes
from ._tables import map_columns
from ._text import parse_table, split_lines
from ._units import dates_to_unix

if TYPE_CHECKING:
    from .sniff import Sample

_STEP_TYPES = {0: "Rest", 1: "CC_Chg", 2: "CC_DChg", 3: "CCCV_Chg", 4: "CCCV_DChg"}


def _summary(lines: list[str]) -> dict:
    out = {}
    if lines and lines[0].strip().strip('"') == "[Summary]":
        for ln in lines[1:60]:
            ln = ln.strip().strip('"')
            if ln.startswith("[End Summary]"):
                break
            key, sep, value = ln.partition(":")
            if sep and key.strip() in ("Channel", "Cell", "Description", "Protocol", "Capacity (Ah)", "Started",
                                       "Version", "Mass (g)"):
                out[key.strip()] = value.strip()
    return out


def _read(path: Path, column_map=None, units=None, **_: Any):
    raw = read_bytes(path)
    text, _encoding = decode(raw)
    lines = split_lines(text)
    data = next((k for k, ln in enumerate(lines) if ln.strip().strip('"') == "[Data]"), None)
    if data is None:
        raise FileFormatError(path, "is a Novonix export without its [Data] section (truncated?)",
                              "export the record again from the Novonix software")
    table = parse_table(path, header=data + 1, sep=",", unquote_lines=True, text=text)
    table.ends_with_newline = raw.endswith(b"\n")
    frame = table.frame
    frame.columns = [c.strip().strip('"') for c in frame.columns]
    out, meta = map_columns(frame, path, column_map, units)
    if "Step Type" in frame.columns:
        codes = pd.to_numeric(frame["Step Type"], errors="coerce")
        if codes.isna().any():
            bad = int(np.flatnonzero(codes.isna().to_numpy())[0])
            raise FileFormatError(path, f"its Step Type {table.row_where(bad)} is {frame['Step Type'].iloc[bad]!r}, "
                                        "not a step code", "fix or remove that row")
        out["step_name"] = codes.map(_STEP_TYPES).fillna("").to_numpy()
    if "Date and Time" in frame.columns:
        out["unix_time_second"] = dates_to_unix(frame["Date and Time"])
    meta.update(reader="batteryzoom novonix", instrument="Novonix", warnings=table.notes,
                metadata=_summary(lines))
    return out, meta


def _is_novonix(sample: Sample) -> str | None:
    lines = [ln.strip() for ln in sample.lines[:4]]
    if lines and lines[0] == "[Summary]" and any("novonix" in ln.lower() for ln in lines[1:4]):
        return "a [Summary] section naming Novonix"
    return None


register("novonix-csv", "Novonix HPC/UHPC CSV export ([Summary]/[Protocol]/[Data], quoted lines or not)",
         match=_is_novonix, read=_read, priority=20)
