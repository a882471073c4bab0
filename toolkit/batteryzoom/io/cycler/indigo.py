"""Indigo: the cycler record as a pandas HDFStore (``indigo-h5``), as TRI's files hold it.

One HDF5 file, one group ``time_series_data`` written by pandas in its "fixed" layout:
``axis0`` (the column names), ``axis1`` (the row index) and ``block<k>_items`` /
``block<k>_values`` (the columns by dtype). It is read here with h5py, so PyTables is not
needed; every array's shape is checked against the others before a column is made.

Columns: ``time_s`` (test time), ``cell_voltage_v``, ``cell_current_a`` (positive on
charge), ``cell_coulomb_count_c`` (the net charge over the test, C), ``cell_energy_j``,
``cell_temperature_c``, ``system_time_us`` (wall clock, µs since 1970), ``cycle_count`` and
``half_cycle_count`` (a step key: the record has no step column).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError
from ._registry import register
from ._source import check_file

if TYPE_CHECKING:
    from .sniff import Sample

_GROUP = "time_series_data"


def _store_frame(path: Path) -> pd.DataFrame:
    """The fixed-format pandas frame of the store, from its arrays (checked)."""
    import h5py

    check_file(path)

    def bad(what: str) -> FileFormatError:
        return FileFormatError(path, f"is not a readable Indigo store: {what}", "copy the file again")

    try:
        with h5py.File(path, "r") as h5:
            if _GROUP not in h5:
                raise bad(f"no {_GROUP!r} group (groups: {list(h5.keys())[:5]})")
            g = h5[_GROUP]
            if g.attrs.get("pandas_type") not in (b"frame", "frame"):
                raise bad(f"{_GROUP} is not a pandas frame (pandas_type {g.attrs.get('pandas_type')!r})")
            order = [x.decode() if isinstance(x, bytes) else str(x) for x in g["axis0"][:]]
            n_rows = g["axis1"].shape[0]
            nblocks = int(g.attrs.get("nblocks", 0))
            if not 0 < nblocks < 100:
                raise bad(f"its block count is {nblocks}")
            columns = {}
            for b in range(nblocks):
                items = [x.decode() if isinstance(x, bytes) else str(x) for x in g[f"block{b}_items"][:]]
                values = g[f"block{b}_values"]
                if values.ndim != 2 or values.shape != (n_rows, len(items)):
                    raise bad(f"block {b} holds {values.shape} values for {n_rows} rows x {len(items)} columns")
                data = values[:]
                for k, name in enumerate(items):
                    columns[name] = data[:, k]
    except FileFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError/KeyError/ValueError/RuntimeError on damage
        raise FileFormatError(path, f"is a damaged HDF5 file ({type(exc).__name__}: {str(exc)[:120]})",
                              "copy the file again") from None
    if set(order) != set(columns):
        raise FileFormatError(path, "its column list (axis0) and its blocks disagree: the store is damaged",
                              "copy the file again")
    return pd.DataFrame({name: columns[name] for name in order})


def _read(path: Path, column_map=None, units=None, **_: Any):
    frame = _store_frame(path)
    need = ["time_s", "cell_voltage_v", "cell_current_a"]
    missing = [c for c in need if c not in frame]
    if missing:
        raise FileFormatError(path, f"Indigo table lacks {missing} (columns: {list(frame.columns)})",
                              "check that this is an Indigo cycler record")
    out = pd.DataFrame({
        "test_time_second": frame["time_s"].to_numpy(np.float64),
        "voltage_volt": frame["cell_voltage_v"].to_numpy(np.float64),
        "current_ampere": frame["cell_current_a"].to_numpy(np.float64),
    })
    if "cell_coulomb_count_c" in frame:
        out["net_capacity_ah"] = frame["cell_coulomb_count_c"].to_numpy(np.float64) / 3600.0
    if "cycle_count" in frame:
        out["cycle_count"] = frame["cycle_count"].to_numpy(np.float64)
    if "half_cycle_count" in frame:
        out["_step_key"] = frame["half_cycle_count"].to_numpy(np.int64)
    if "cell_temperature_c" in frame:
        out["temperature_celsius"] = frame["cell_temperature_c"].to_numpy(np.float64)
    if "system_time_us" in frame:
        out["unix_time_second"] = frame["system_time_us"].to_numpy(np.float64) * 1e-6
    meta = {"reader": "batteryzoom indigo (h5py)", "instrument": "Indigo",
            "source_units": {"time_s": "s", "cell_voltage_v": "V", "cell_current_a": "A",
                             "cell_coulomb_count_c": "C (net over the test)", "system_time_us": "µs since 1970"},
            "metadata": {k: int(frame[k].iloc[0]) for k in ("cell_id", "experiment_count") if k in frame}}
    return out, meta


def _is_indigo(sample: Sample) -> str | None:
    if sample.container == "hdf5" and _GROUP in sample.hdf5_keys:
        return f"an HDF5 pandas store with a {_GROUP!r} table"
    return None


register("indigo-h5", "Indigo cycler record (pandas HDFStore .h5, read with h5py)", match=_is_indigo, read=_read,
         priority=10)
