"""PyProBE's processed parquet (``pyprobe-parquet``): ``Time [s]``, ``Voltage [V]``,
``Current [A]`` (positive on charge), ``Step``, ``Event`` (the step key), ``Capacity [Ah]``
(net, over the test) and ``Temperature [C]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError
from ._registry import register
from ._tables import read_parquet

if TYPE_CHECKING:
    from .sniff import Sample


def _looks_like_pyprobe(names: list[str]) -> bool:
    """Whether parquet columns are PyProBE's (and not a BDF table's)."""
    return "test_time_second" not in names and "Time [s]" in names and "Voltage [V]" in names


def _read(path: Path, column_map=None, units=None, **_: Any):
    frame = read_parquet(path)
    need = ["Time [s]", "Current [A]", "Voltage [V]"]
    missing = [c for c in need if c not in frame]
    if missing:
        raise FileFormatError(path, f"PyProBE table lacks {missing}", "process it with PyProBE again")
    out = pd.DataFrame({
        "test_time_second": frame["Time [s]"].to_numpy(np.float64),
        "voltage_volt": frame["Voltage [V]"].to_numpy(np.float64),
        "current_ampere": frame["Current [A]"].to_numpy(np.float64),  # PyProBE: + on charge
    })
    if "Step" in frame:
        out["step_index"] = frame["Step"].to_numpy(np.int64)
    if "Event" in frame:
        out["_step_key"] = frame["Event"].to_numpy(np.int64)
    if "Capacity [Ah]" in frame:
        out["net_capacity_ah"] = frame["Capacity [Ah]"].to_numpy(np.float64)
    if "Temperature [C]" in frame:
        out["temperature_celsius"] = frame["Temperature [C]"].to_numpy(np.float64)
    meta = {"reader": "pandas (PyProBE parquet)", "instrument": None,
            "source_units": {c: c.split("[")[-1].rstrip("]") for c in frame.columns if "[" in c}}
    return out, meta


def _is_parquet(sample: Sample) -> str | None:
    if sample.container == "parquet" and _looks_like_pyprobe(sample.parquet_names):
        return "a parquet file with Time [s] and Voltage [V] columns"
    return None


register("pyprobe-parquet", "PyProBE processed parquet", match=_is_parquet, read=_read, priority=10)
