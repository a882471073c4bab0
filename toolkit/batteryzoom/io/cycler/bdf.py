"""Battery Data Format tables: ``bdf-csv`` and ``bdf-parquet``.

Columns by their BDF machine names (``test_time_second``, ``voltage_volt``, ...) or their
preferred labels (``Test Time / s``, ``Voltage / V``), mapped through the same names as
any table; a parquet file is BDF unless it is PyProBE's (``Time [s]`` and ``Voltage [V]``,
no ``test_time_second``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...errors import FileFormatError
from ._registry import register
from ._tables import map_columns, read_text_table

if TYPE_CHECKING:
    from .sniff import Sample


def _read(path: Path, column_map=None, units=None, **_: Any):
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if path.suffix.lower() == ".parquet" or magic == b"PAR1":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001
            raise FileFormatError(path, f"is a damaged parquet file ({exc})", "re-export it") from None
    else:
        frame = read_text_table(path)
    # BDF "preferred labels" (``Test Time / s``) are mapped through the same aliases
    out, meta = map_columns(frame, path, column_map, units)
    meta.update(reader="batteryzoom bdf", instrument=None)
    return out, meta


def _is_csv(sample: Sample) -> str | None:
    low = sample.lines[0].lower() if sample.lines else ""
    if "test_time_second" in low or "test time / s" in low:
        return "a header with test_time_second or 'Test Time / s'"
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
