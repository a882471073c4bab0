"""Neware: BTS binaries (``.nda``, ``.ndax``) and BTSDA exports (CSV/XLSX, flat or
three-level).

- ``neware-ndax`` (a zip holding ``.ndc`` members) and ``neware-nda`` (``NEWARE`` magic):
  read through fastnda's BDF columns; when fastnda rejects a file and NewareNDA is
  installed, NewareNDA reads it (step time only: the test time is rebuilt and reported).
- ``neware-btsda``: the flat record export, CSV (header with ``DataPoint`` and ``Step
  Type``/``Step Index``) or XLSX (a ``record``/``detail``/``step``/``cycle`` sheet); units
  from the headers (A/mA/µA, V/mV, Ah/mAh/mAs, Wh/mWh/mWs), ``h:mm:ss.ms`` clocks; its
  ``Time`` column is the step time, ``Total Time`` the test time.
- ``neware-btsda-3level``: the "regular" export with cycle, step and record rows
  interleaved (``Cycle ID`` header, ``Record ID`` on the third header line).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError
from ._registry import register
from ._tables import map_columns, read_excel, read_text, read_text_table
from ._units import clock_to_seconds, dates_to_unix, numeric, split_header

if TYPE_CHECKING:
    from .sniff import Sample


# --------------------------------------------------------------------------- binaries


def _read_binary(path: Path, **_: Any) -> tuple[pd.DataFrame, dict]:
    """A ``.nda``/``.ndax`` file through fastnda (NewareNDA as the fallback)."""
    try:
        import fastnda
    except ImportError:  # pragma: no cover - fastnda is a core dependency
        fastnda = None
    frame = None
    errors = []
    if fastnda is not None:
        try:
            frame = fastnda.read(path, columns="bdf")
            reader = f"fastnda {getattr(fastnda, '__version__', '')}".strip()
        except Exception as exc:  # noqa: BLE001 - fastnda raises many types on bad files
            errors.append(f"fastnda: {type(exc).__name__}: {exc}")
    if frame is None:
        try:
            import NewareNDA  # optional fallback for file versions fastnda rejects
        except ImportError:
            NewareNDA = None
        if NewareNDA is not None:
            try:
                return _from_newarenda(NewareNDA.read(str(path)), path)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"NewareNDA: {type(exc).__name__}: {exc}")
    if frame is None:
        raise FileFormatError(
            path, "cannot be read as a Neware file, it is truncated or corrupt (" + "; ".join(errors) + ")",
            "copy the file again from the instrument PC, or export it from BTSDA as CSV",
        )
    if len(frame) == 0:
        raise FileFormatError(path, "holds no records", "check that the test ran and re-export it")
    out = _from_fastnda(frame)
    meta: dict[str, Any] = {"reader": reader, "instrument": "Neware", "source_units": {"all": "SI (fastnda bdf)"}}
    meta["metadata"] = _metadata(fastnda, path)
    return out, meta


def _from_fastnda(frame: Any) -> pd.DataFrame:
    """fastnda's BDF table (polars) -> the reader's columns."""
    def col(name, dtype):
        return np.asarray(frame[name].to_numpy(), dtype=dtype)

    out = pd.DataFrame({
        "test_time_second": col("test_time_second", np.float64),
        "voltage_volt": col("voltage_volt", np.float64),
        "current_ampere": col("current_ampere", np.float64),
    }, copy=False)
    for name in ("step_time_second", "unix_time_second", "step_net_capacity_ah", "step_net_energy_wh"):
        if name in frame.columns:
            out[name] = col(name, np.float64)
    for name in ("step_count", "step_id", "cycle_count"):
        if name in frame.columns:
            out["step_index" if name == "step_id" else name] = col(name, np.int64)
    if "step_type" in frame.columns:
        out["step_name"] = _step_names(frame["step_type"], out, "step_count" in frame.columns)
    temps = [c for c in frame.columns if "temperature" in c]
    if temps:
        out["temperature_celsius"] = col(temps[0], np.float64)
    return out


def _step_names(st: Any, out: pd.DataFrame, has_step_count: bool) -> pd.Categorical:
    """fastnda's step type column -> a categorical of the instrument's step labels."""
    if not (hasattr(st, "to_physical") and has_step_count):
        return pd.Categorical(st.astype(str))
    # polars categorical: integer codes per row, labels read at step starts only (a step
    # has one type), so no per-row strings are made
    phys = np.asarray(st.to_physical().to_numpy(), np.int64)
    sc = out["step_count"].to_numpy()
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    uniq, first = np.unique(phys[starts], return_index=True)
    labels = [str(x) for x in st.gather(starts[first]).cast(str).to_list()]
    codes = np.searchsorted(uniq, phys)
    if not np.array_equal(uniq[np.clip(codes, 0, len(uniq) - 1)], phys):  # a type changed mid-step
        uniq, codes = np.unique(phys, return_inverse=True)
        first = np.unique(phys, return_index=True)[1]
        labels = [str(x) for x in st.gather(first).cast(str).to_list()]
    return pd.Categorical.from_codes(codes, categories=labels)


def _metadata(fastnda: Any, path: Path) -> dict:
    """Start time, barcode, remark, device and channel of a Neware file ({} if unreadable)."""
    try:
        info = fastnda.read_metadata(path).get("TestInfo", {}).get("TestInfo", {})
        return {k: info[k] for k in ("StartTime", "Barcode", "Remark", "DevID", "ChlID", "StepName") if k in info}
    except Exception:  # noqa: BLE001 - metadata is a courtesy
        return {}


def _from_newarenda(frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, dict]:
    """NewareNDA's table (step time only, mA / mAh / mWh) -> the reader's columns."""
    if len(frame) == 0:
        raise FileFormatError(path, "holds no records", "check that the test ran and re-export it")
    out = pd.DataFrame({
        "step_time_second": frame["Time"].to_numpy(np.float64),
        "voltage_volt": frame["Voltage"].to_numpy(np.float64),
        "current_ampere": frame["Current(mA)"].to_numpy(np.float64) * 1e-3,
        "step_count": frame["Step"].to_numpy(np.int64),
        "cycle_count": frame["Cycle"].to_numpy(np.int64),
        "step_name": pd.Categorical(frame["Status"].astype(str)),
        "charging_capacity_ah": frame["Charge_Capacity(mAh)"].to_numpy(np.float64) * 1e-3,
        "discharging_capacity_ah": frame["Discharge_Capacity(mAh)"].to_numpy(np.float64) * 1e-3,
        "charging_energy_wh": frame["Charge_Energy(mWh)"].to_numpy(np.float64) * 1e-3,
        "discharging_energy_wh": frame["Discharge_Energy(mWh)"].to_numpy(np.float64) * 1e-3,
    })
    if "Step_Index" in frame:
        out["step_index"] = frame["Step_Index"].to_numpy(np.int64)
    if "Timestamp" in frame:
        ts = pd.to_datetime(frame["Timestamp"], utc=True)
        out["unix_time_second"] = (ts - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()
    if "T1" in frame:
        out["temperature_celsius"] = frame["T1"].to_numpy(np.float64)
    meta = {"reader": "NewareNDA (fallback)", "instrument": "Neware",
            "source_units": {"Current": "mA", "Capacity": "mAh", "Energy": "mWh"}}
    return out, meta


# --------------------------------------------------------------------------- BTSDA exports


def _step_time_column(frame: pd.DataFrame) -> str | None:
    """BTSDA's ``Time`` column (any unit): the time within the step."""
    return next((c for c in frame.columns if split_header(c)[0] == "time"), None)


def _read_btsda(path: Path, column_map=None, units=None, sheet=None, **_: Any):
    """The flat BTSDA record export (CSV or XLSX)."""
    if path.suffix.lower() in (".xlsx", ".xls"):
        frame = read_excel(path, sheet, prefer=("record", "detail"))
    else:
        frame = read_text_table(path)
    out, meta = map_columns(frame, path, column_map, units)
    # BTSDA: "Capacity" is the step's unsigned capacity; "Chg. Cap."/"DChg. Cap." split it
    step_col = _step_time_column(frame)
    if step_col is not None and "step_time_second" not in out:
        out["step_time_second"] = clock_to_seconds(frame[step_col], path, step_col)
        if meta["source_columns"].get("test_time_second") == step_col:
            out = out.drop(columns="test_time_second")  # BTSDA "Time" is the step time
    if "Date" in frame.columns:
        out["unix_time_second"] = dates_to_unix(frame["Date"])
    meta.update(reader="batteryzoom btsda", instrument="Neware")
    return out, meta


def _read_btsda_3level(path: Path, column_map=None, units=None, **_: Any):
    """The "regular" BTSDA export: cycle, step and record rows interleaved.

    Row 1 is the cycle header (``Cycle ID, ...``), row 2 the step header (``, Step ID,
    Step Name, ...``), row 3 the record header (``, , Record ID, Time, Voltage(V), ...``).
    A data row belongs to the level of its first non-empty column.
    """
    frame, cyc, sid, sname = _three_level_records(path)
    out, meta = map_columns(frame, path, column_map, units)
    # in this export "Time" is the record's time within its step
    step_col = _step_time_column(frame)
    if step_col is not None:
        out["step_time_second"] = clock_to_seconds(frame[step_col], path, step_col)
        if out.get("test_time_second") is not None and meta["source_columns"].get("test_time_second") == step_col:
            out = out.drop(columns="test_time_second")
    out["cycle_count"] = numeric(pd.Series(cyc), path, "Cycle ID")
    out["step_index"] = numeric(pd.Series(sid), path, "Step ID")
    out["step_name"] = sname
    if "Realtime" in frame.columns or "Date" in frame.columns:
        out["unix_time_second"] = dates_to_unix(frame.get("Realtime", frame.get("Date")))
    meta.update(reader="batteryzoom btsda three-level", instrument="Neware")
    return out, meta


def _three_level_records(path: Path) -> tuple[pd.DataFrame, list, list, list]:
    """The record rows of a three-level export as a table, with the cycle id, step id and
    step name each record row sits under."""
    lines = read_text(path).splitlines()
    if len(lines) < 4:
        raise FileFormatError(path, "three-level export has no data rows", "re-export the record")
    sep = "\t" if lines[0].count("\t") > lines[0].count(",") else ","
    rec_header = [c.strip() for c in lines[2].split(sep)]
    step_header = [c.strip() for c in lines[1].split(sep)]
    name_col = step_header.index("Step Name") if "Step Name" in step_header else 2
    cycle_id = step_id = None
    step_name = ""
    records, cyc, sid, sname = [], [], [], []
    for ln in lines[3:]:
        if not ln.strip():
            continue
        cells = ln.split(sep)
        if cells[0].strip():
            cycle_id = cells[0].strip()
        elif len(cells) > 1 and cells[1].strip():
            step_id = cells[1].strip()
            step_name = cells[name_col].strip() if len(cells) > name_col else ""
        else:
            records.append(cells)
            cyc.append(cycle_id)
            sid.append(step_id)
            sname.append(step_name)
    if not records:
        raise FileFormatError(path, "three-level export holds no record rows", "re-export with records included")
    width = len(rec_header)
    frame = pd.DataFrame([r[:width] + [""] * (width - len(r)) for r in records], columns=rec_header)
    return frame.loc[:, [c for c in frame.columns if c]], cyc, sid, sname


# --------------------------------------------------------------------------- sniffing


def _is_ndax(sample: Sample) -> str | None:
    if any(n.lower().endswith(".ndc") for n in sample.zip_names):
        return "a zip archive holding .ndc members"
    return None


def _is_nda(sample: Sample) -> str | None:
    return "the NEWARE magic bytes" if sample.head.startswith(b"NEWARE") else None


def _is_btsda(sample: Sample) -> str | None:
    if sample.container == "text":
        low = sample.lines[0].lower() if sample.lines else ""
        if "datapoint" in low.replace(" ", "") and ("step type" in low or "step index" in low):
            return "a header with DataPoint and Step Type/Step Index"
        return None
    if sample.is_workbook and any(s.lower() in ("record", "detail", "step", "cycle") or s.lower().startswith("record")
                                  for s in sample.xlsx_sheets):
        return "a workbook with record/detail/step/cycle sheets"
    return None


def _is_btsda_3level(sample: Sample) -> str | None:
    lines = sample.lines
    if lines and re.match(r"^\s*Cycle ID\b", lines[0]) and len(lines) > 2 and "Record ID" in lines[2]:
        return "a 'Cycle ID' header with 'Record ID' on its third line"
    return None


register("neware-ndax", "Neware BTS 8+ binary (.ndax), via fastnda", match=_is_ndax, read=_read_binary,
         priority=10)
register("neware-nda", "Neware BTS 7 binary (.nda), via fastnda", match=_is_nda, read=_read_binary, priority=10)
# after Arbin's workbooks (a 'Channel' sheet) and the other text formats' own markers
register("neware-btsda", "Neware BTSDA flat export (.csv/.xlsx)", match=_is_btsda, read=_read_btsda, priority=50)
register("neware-btsda-3level", "Neware BTSDA three-level (cycle/step/record) export (.csv)",
         match=_is_btsda_3level, read=_read_btsda_3level, priority=40)
