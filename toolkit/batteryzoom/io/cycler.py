"""Cycler files of every common make -> one Battery Data Format (BDF) table.

:func:`read_cycler` sniffs the format from the file's content (and extension), reads it
with the best maintained reader, and returns one :class:`pandas.DataFrame` with BDF
column names and SI units:

===========================  =========  ===============================================
column                       dtype      meaning
===========================  =========  ===============================================
``test_time_second``         float64    time since the start of the test (s), never decreasing
``step_time_second``         float64    time since the start of the step (s)
``voltage_volt``             float64    cell voltage (V)
``current_ampere``           float64    current (A), **positive on charge**
``step_count``               int64      1, 2, ... incremented at every step change
``step_index``               int64      the program's step number (repeats across cycles)
``cycle_count``              int64      1, 2, ... (a cycle starts with a charge after a discharge)
``step_type``                category   ``rest``, ``cc_charge``, ``cv_charge``, ``cc_discharge``,
                                        ``cv_discharge``, ``other`` (per row: a CCCV step's
                                        rows are split into their CC and CV parts)
``charging_capacity_ah``     float64    charge passed in the step so far (Ah, >= 0; 0 outside
                                        charge steps)
``discharging_capacity_ah``  float64    same for discharge (Ah, >= 0)
``charging_energy_wh``       float64    energy in on charge in the step so far (Wh, >= 0)
``discharging_energy_wh``    float64    energy out on discharge in the step so far (Wh, >= 0)
``unix_time_second``         float64    wall-clock time (s since 1970, UTC), when the file has it
``temperature_celsius``      float64    first temperature channel, when the file has one
===========================  =========  ===============================================

Capacities and energies come from the instrument's own columns, converted to per-step
values (Arbin counts per cycle, BioLogic and PyProBE over the whole test); where a file has
none they are integrated from current and voltage over time (trapezoid) and
``attrs["derived"]`` says so.

``attrs`` holds the source's metadata: ``source_path``, ``format``, ``reader``,
``source_units`` (the units read from the headers), ``time_repairs`` and ``repairs`` (what
was fixed and how), ``derived`` and ``metadata`` (a few instrument fields).

Time is never silently kept wrong: a step time that restarts at every step is accumulated
into a test time, and a test time that jumps backwards is made continuous (each backward
jump is replaced by the median sampling interval); both are listed in
``attrs["time_repairs"]`` and announced with a :class:`TimeRepairWarning`.

Formats (``format=`` names; ``"auto"`` sniffs them):

- ``neware-ndax``, ``neware-nda``: Neware binaries through fastnda (NewareNDA as a fallback
  when installed);
- ``neware-btsda``: BTSDA flat exports (CSV or XLSX), ``neware-btsda-3level``: the
  "regular" export where cycle, step and record rows are interleaved; units (A/mA/µA,
  V/mV, Ah/mAh/mAs, Wh/mWh/mWs) and ``h:mm:ss.ms`` times are read from the headers;
- ``biologic-mpr``, ``biologic-mpt``: EC-Lab files through galvani (optional GPL extra:
  ``pip install 'batteryzoom[gpl]'``);
- ``arbin-res`` (MS Access, through mdbtools' ``mdb-export``), ``arbin-xlsx``, ``arbin-csv``;
- ``maccor-txt``: Maccor text exports and raw ``.0NN`` text files;
- ``bdf-csv``, ``bdf-parquet``: Battery Data Format tables;
- ``pyprobe-parquet``: PyProBE's processed parquet;
- ``csv``, ``xlsx``: any table whose columns are recognised by name or given in
  ``column_map``.
"""

from __future__ import annotations

import io as _io
import os
import re
import shutil
import subprocess
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FileFormatError, InputError, MissingDependencyError

__all__ = [
    "read_cycler",
    "detect_format",
    "FORMATS",
    "BDF_COLUMNS",
    "STEP_TYPES",
    "TimeRepairWarning",
]

FORMATS = {
    "neware-ndax": "Neware BTS 8+ binary (.ndax), via fastnda",
    "neware-nda": "Neware BTS 7 binary (.nda), via fastnda",
    "neware-btsda": "Neware BTSDA flat export (.csv/.xlsx)",
    "neware-btsda-3level": "Neware BTSDA three-level (cycle/step/record) export (.csv)",
    "biologic-mpr": "BioLogic EC-Lab binary (.mpr), via galvani (extra 'gpl')",
    "biologic-mpt": "BioLogic EC-Lab text (.mpt), via galvani (extra 'gpl')",
    "arbin-res": "Arbin MS-Access .res, via mdbtools",
    "arbin-xlsx": "Arbin Excel export (.xlsx)",
    "arbin-csv": "Arbin CSV export",
    "maccor-txt": "Maccor text export or raw .0NN text file",
    "bdf-csv": "Battery Data Format CSV",
    "bdf-parquet": "Battery Data Format parquet",
    "pyprobe-parquet": "PyProBE processed parquet",
    "csv": "any CSV/TSV (columns by name or column_map)",
    "xlsx": "any Excel sheet (columns by name or column_map)",
}

BDF_COLUMNS = [
    "test_time_second",
    "step_time_second",
    "voltage_volt",
    "current_ampere",
    "step_count",
    "step_index",
    "cycle_count",
    "step_type",
    "charging_capacity_ah",
    "discharging_capacity_ah",
    "charging_energy_wh",
    "discharging_energy_wh",
]
OPTIONAL_COLUMNS = ["unix_time_second", "temperature_celsius"]
STEP_TYPES = ["rest", "cc_charge", "cv_charge", "cc_discharge", "cv_discharge", "other"]


class TimeRepairWarning(UserWarning):
    """A time column was reconstructed or made continuous (see ``attrs['time_repairs']``)."""


# --------------------------------------------------------------------------- units

_UNIT_FACTORS: dict[str, dict[str, float]] = {
    "current": {"a": 1.0, "ma": 1e-3, "ua": 1e-6, "µa": 1e-6, "μa": 1e-6, "na": 1e-9, "ka": 1e3},
    "voltage": {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "kv": 1e3},
    "capacity": {
        "ah": 1.0, "a.h": 1.0, "a h": 1.0, "mah": 1e-3, "ma.h": 1e-3, "ma h": 1e-3,
        "uah": 1e-6, "µah": 1e-6, "μah": 1e-6, "ua.h": 1e-6,
        "as": 1 / 3600, "c": 1 / 3600, "mas": 1e-3 / 3600, "mc": 1e-3 / 3600,
        "uas": 1e-6 / 3600, "µas": 1e-6 / 3600,
    },
    "energy": {
        "wh": 1.0, "w.h": 1.0, "mwh": 1e-3, "mw.h": 1e-3, "uwh": 1e-6, "µwh": 1e-6,
        "ws": 1 / 3600, "j": 1 / 3600, "mws": 1e-3 / 3600, "mj": 1e-3 / 3600, "kwh": 1e3,
    },
    "time": {"s": 1.0, "sec": 1.0, "second": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0, "hr": 3600.0, "d": 86400.0},
    "temperature": {"c": 1.0, "°c": 1.0, "degc": 1.0, "celsius": 1.0},
}
_SI_UNIT = {"current": "A", "voltage": "V", "capacity": "Ah", "energy": "Wh", "time": "s", "temperature": "°C"}

# header:  "Current(mA)", "Voltage / mV", "Time [s]", "I/mA", "Capacity(mAh/g)"
_UNIT_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<p>[^()]*)\)|\[(?P<b>[^\[\]]*)\]|/\s*(?P<s>[^/]+))\s*$")


def _split_header(header: str) -> tuple[str, str | None]:
    """``"Current(mA)" -> ("current", "ma")``; ``"Voltage" -> ("voltage", None)``."""
    text = str(header).strip().replace("\ufffd", "µ")
    m = _UNIT_IN_HEADER.match(text)
    if m and m.group("name"):
        unit = next(g for g in (m.group("p"), m.group("b"), m.group("s")) if g is not None)
        return m.group("name").strip().lower(), unit.strip().lower()
    return text.lower(), None


def _unit_factor(quantity: str, unit: str | None, where: str) -> float:
    if unit is None or unit == "":
        return 1.0
    u = unit.strip().lower().replace(" ", "").replace("\ufffd", "µ")
    if quantity == "time" and re.fullmatch(r"h+:m+(in)?:s+(\.m*s*)?", u):
        return 1.0  # clock strings, parsed separately
    table = _UNIT_FACTORS[quantity]
    if u in table:
        return table[u]
    raise InputError(
        f"{where}: unit {unit!r} is not a known {quantity} unit "
        f"(known: {', '.join(sorted(table))}). Give the unit with units={{...}} or fix the header."
    )


# --------------------------------------------------------------------------- sniffing

_MAGIC = {
    b"NEWARE": "neware-nda",
    b"BIO-LOGIC MODULAR FILE": "biologic-mpr",
    b"PAR1": "parquet",
}


def _head_text(path: Path, n: int = 8192) -> str:
    with open(path, "rb") as fh:
        raw = fh.read(n)
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1", errors="replace")


def detect_format(path: str | os.PathLike) -> str:
    """The format name of a cycler file, sniffed from its content (then its extension).

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    FileFormatError
        Empty file, or a content no reader recognises.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "does not exist or is not a file", "check the path")
    size = path.stat().st_size
    if size == 0:
        raise FileFormatError(path, "is empty (0 bytes)", "re-export the record from the cycler software")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for magic, fmt in _MAGIC.items():
        if head.startswith(magic):
            if fmt == "parquet":
                return _sniff_parquet(path)
            return fmt
    if head.startswith(b"\x00\x01\x00\x00Standard Jet DB") or head.startswith(b"\x00\x01\x00\x00Standard ACE DB"):
        return "arbin-res"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            suffix = path.suffix.lower()
            what = "Neware .ndax" if suffix == ".ndax" else "zip-based (.ndax/.xlsx)"
            raise FileFormatError(
                path, f"looks like a {what} file but its zip structure is broken (truncated or corrupt)",
                "copy the file again from the instrument PC; a partial upload or download truncates it",
            ) from None
        if any(n.lower().endswith(".ndc") for n in names):
            return "neware-ndax"
        if "[Content_Types].xml" in names:
            return _sniff_xlsx(path)
        raise FileFormatError(path, f"is a zip archive holding {names[:5]}, not a cycler record", _unknown_fix())
    if b"\x00" in head[:1024]:
        raise FileFormatError(path, "is a binary file of no known cycler format", _unknown_fix())
    text = _head_text(path)
    return _sniff_text(path, text)


def _unknown_fix() -> str:
    return (
        "pass format= one of " + ", ".join(FORMATS)
        + ", or column_map={'test_time_second': ..., 'voltage_volt': ..., 'current_ampere': ...} for a plain table"
    )


def _sniff_text(path: Path, text: str) -> str:
    lines = [ln for ln in text.splitlines()[:40]]
    first = lines[0] if lines else ""
    if first.startswith("EC-Lab ASCII FILE") or "Nb header lines" in text[:300]:
        return "biologic-mpt"
    for ln in lines[:12]:
        if ln.startswith("Rec#") and "Cyc#" in ln:
            return "maccor-txt"
    if re.match(r"^\s*Cycle ID\b", first) and len(lines) > 2 and "Record ID" in lines[2]:
        return "neware-btsda-3level"
    low = first.lower()
    if "datapoint" in low.replace(" ", "") and ("step type" in low or "step index" in low):
        return "neware-btsda"
    if "test_time_second" in low or "test time / s" in low:
        return "bdf-csv"
    if "test_time(s)" in low and "step_index" in low:
        return "arbin-csv"
    if _looks_tabular(lines):
        return "csv"
    raise FileFormatError(path, "is text but not a cycler table batteryzoom recognises", _unknown_fix())


def _looks_tabular(lines: list[str]) -> bool:
    if len(lines) < 2:
        return False
    for sep in (",", "\t", ";"):
        counts = [ln.count(sep) for ln in lines[:10] if ln.strip()]
        if counts and counts[0] >= 1 and len(counts) >= 2 and len(set(counts)) == 1:
            return True
    return False


def _sniff_parquet(path: Path) -> str:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for damage
        raise FileFormatError(path, f"is a damaged parquet file ({exc})", "re-export it") from None
    if "test_time_second" in names:
        return "bdf-parquet"
    if "Time [s]" in names and "Voltage [V]" in names:
        return "pyprobe-parquet"
    return "bdf-parquet"


def _sniff_xlsx(path: Path) -> str:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True)
        sheets = wb.sheetnames
        wb.close()
    except Exception as exc:  # noqa: BLE001
        raise FileFormatError(path, f"is a damaged Excel file ({exc})", "open and re-save it in Excel") from None
    if any(s.startswith("Channel") for s in sheets) or "Global_Info" in sheets:
        return "arbin-xlsx"
    if any(s.lower() in ("record", "detail", "step", "cycle") or s.lower().startswith("record") for s in sheets):
        return "neware-btsda"
    return "xlsx"


# --------------------------------------------------------------------------- public reader


def read_cycler(
    path: str | os.PathLike,
    format: str = "auto",  # noqa: A002 - the natural name for users
    column_map: Mapping[str, str] | None = None,
    *,
    units: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    rest_current_a: float | None = None,
) -> pd.DataFrame:
    """Read a cycler file into one BDF table (see the module docstring for the columns).

    Parameters
    ----------
    path : path-like
        The record. It is only read, never modified.
    format : str
        ``"auto"`` (sniff from content and extension) or one of :data:`FORMATS`.
    column_map : mapping, optional
        For table formats (CSV, XLSX, BTSDA exports, Arbin exports, BDF): BDF column (``test_time_second``, ``step_time_second``,
        ``voltage_volt``, ``current_ampere``, ``step_index``, ``cycle_count``, ``step_type``,
        ``charging_capacity_ah``, ... or ``net_capacity_ah``) -> the file's column name.
        Overrides the name-based recognition.
    units : mapping, optional
        Unit of a mapped quantity when its header does not say, e.g.
        ``{"current_ampere": "mA", "test_time_second": "h"}``.
    sheet : str or int, optional
        Excel sheet to read (default: the data sheet, found by name).
    rest_current_a : float, optional
        |current| at or below which a step is a rest (default: 0.1 % of the file's largest
        |current|, at least 1 nA).

    Returns
    -------
    pandas.DataFrame
        One row per record, BDF columns, SI units, current positive on charge, total test
        time never decreasing; ``attrs`` holds the metadata and every repair.

    Raises
    ------
    FileFormatError
        Empty, truncated or corrupt file; unknown format; missing voltage, current or time;
        mixed or unknown units; non-numeric cells. The message names the file and the problem.
    MissingDependencyError
        The format needs galvani (BioLogic) or mdbtools (Arbin .res).
    """
    path = Path(path)
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise FileFormatError(path, f"format {format!r} is not supported", _unknown_fix())
    if not path.is_file():
        raise FileFormatError(path, "does not exist or is not a file", "check the path")
    if path.stat().st_size == 0:
        raise FileFormatError(path, "is empty (0 bytes)", "re-export the record from the cycler software")
    reader = _READERS[fmt]
    try:
        raw, meta = reader(path, column_map=column_map, units=units, sheet=sheet)
    except (FileFormatError, MissingDependencyError):
        raise
    except InputError as exc:
        raise FileFormatError(path, str(exc)) from None
    return _finalize(raw, path, fmt, meta, rest_current_a)


# --------------------------------------------------------------------------- per-format readers
# Each returns (frame, meta): frame holds any of the BDF columns (SI units) plus optional
# helpers ``step_name`` (the instrument's step label), ``net_capacity_ah`` (signed capacity
# accumulated over the test or the cycle), ``capacity_ah`` (unsigned step capacity).


def _read_neware_binary(path: Path, **_: Any) -> tuple[pd.DataFrame, dict]:
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
        st = frame["step_type"]
        if hasattr(st, "to_physical") and "step_count" in frame.columns:
            # polars categorical: integer codes per row, labels read at step starts only (a
            # step has one type), so no per-row strings are made
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
            out["step_name"] = pd.Categorical.from_codes(codes, categories=labels)
        else:
            out["step_name"] = pd.Categorical(st.astype(str))
    temps = [c for c in frame.columns if "temperature" in c]
    if temps:
        out["temperature_celsius"] = col(temps[0], np.float64)
    meta: dict[str, Any] = {"reader": reader, "instrument": "Neware", "source_units": {"all": "SI (fastnda bdf)"}}
    meta["metadata"] = _neware_metadata(fastnda, path)
    return out, meta


def _neware_metadata(fastnda: Any, path: Path) -> dict:
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


_CLOCK = re.compile(r"^\s*(?:(?P<d>\d+)\s*d\s*|(?P<d2>\d+)-)?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d*)?)\s*$")


def _clock_to_seconds(values: pd.Series, path: Path, column: str) -> np.ndarray:
    """``"h:mm:ss.fff"``, ``"1d 02:03:04.5"``, ``"1-02:03:04"`` -> seconds (float64)."""
    s = values.astype(str).str.strip()
    parts = s.str.extract(_CLOCK)
    bad = parts["h"].isna() & values.notna() & (s != "") & (s.str.lower() != "nan")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FileFormatError(
            path, f"column {column!r} row {i + 1}: {values.iloc[i]!r} is not a time (expected h:mm:ss.ms)",
            "fix or remove that row",
        )
    num = {k: pd.to_numeric(parts[k], errors="coerce").to_numpy(np.float64) for k in ("d", "d2", "h", "m", "s")}
    days = np.where(np.isnan(num["d"]), np.nan_to_num(num["d2"]), num["d"])
    return days * 86400 + num["h"] * 3600 + num["m"] * 60 + num["s"]


def _read_text_table(path: Path, skiprows: int = 0, sep: str | None = None) -> pd.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if sep is None:
        head = text.splitlines()[skiprows] if len(text.splitlines()) > skiprows else ""
        sep = max((",", "\t", ";"), key=head.count)
    try:
        frame = pd.read_csv(_io.StringIO(text), sep=sep, skiprows=skiprows, index_col=False, low_memory=False)
    except pd.errors.EmptyDataError:
        raise FileFormatError(path, "has no table (no header or no rows)", "re-export the record") from None
    except pd.errors.ParserError as exc:
        raise FileFormatError(path, f"is not a consistent table: {exc}", "check the export settings") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, [c for c in frame.columns if not c.startswith("Unnamed")]]
    if len(frame) == 0:
        raise FileFormatError(path, "has a header but no data rows", "re-export the record")
    return frame


# Name-based recognition: normalized header name (units removed) -> quantity
_ALIASES: dict[str, tuple[str, str]] = {}


def _alias(target: str, quantity: str, *names: str) -> None:
    for n in names:
        _ALIASES[re.sub(r"[\s_.\-#]", "", n.lower())] = (target, quantity)


_alias("test_time_second", "time", "test_time_second", "test time", "total time", "cumulative time", "testtime",
       "test_time", "total_time", "time", "t", "time/s", "elapsed time", "realtime_s")
_alias("step_time_second", "time", "step_time_second", "step time", "steptime", "step_time")
_alias("voltage_volt", "voltage", "voltage_volt", "voltage", "volts", "volt", "ewe", "ecell", "potential", "u",
       "cell voltage", "e", "<ewe>")
_alias("current_ampere", "current", "current_ampere", "current", "amps", "i", "<i>", "amp")
_alias("step_index", "count", "step_index", "step index", "step", "step id", "stepid", "ns", "step number")
_alias("step_count", "count", "step_count", "step count")
_alias("cycle_count", "count", "cycle_count", "cycle index", "cycle", "cycle number", "cyc", "cycle id",
       "cycle_index", "cycle count")
_alias("step_name", "text", "step_type", "step type", "step name", "state", "status", "mode")
_alias("charging_capacity_ah", "capacity", "charging_capacity_ah", "charge capacity", "chg cap",
       "charge_capacity", "chg capacity", "charging capacity")
_alias("discharging_capacity_ah", "capacity", "discharging_capacity_ah", "discharge capacity", "dchg cap",
       "discharge_capacity", "dchg capacity", "discharging capacity")
_alias("charging_energy_wh", "energy", "charging_energy_wh", "charge energy", "chg energy", "charge_energy",
       "charging energy")
_alias("discharging_energy_wh", "energy", "discharging_energy_wh", "discharge energy", "dchg energy",
       "discharge_energy", "discharging energy")
_alias("capacity_ah", "capacity", "capacity", "amp-hr", "amphr", "cap")
_alias("energy_wh", "energy", "energy", "watt-hr", "watthr")
_alias("net_capacity_ah", "capacity", "net_capacity_ah", "(q-qo)", "net capacity")
_alias("unix_time_second", "time", "unix_time_second")
_alias("temperature_celsius", "temperature", "temperature_celsius", "temperature", "temp", "t1", "aux1")

_GENERIC = {"time", "t", "e", "i", "u", "cap", "step", "cycle", "mode", "status", "state", "temp"}
_TARGET_QUANTITY = {t: q for t, q in _ALIASES.values()}


def _norm(name: str) -> str:
    return re.sub(r"[\s_.\-#]", "", name.lower())


def _map_columns(frame: pd.DataFrame, path: Path, column_map: Mapping[str, str] | None,
                 units: Mapping[str, str] | None) -> tuple[pd.DataFrame, dict]:
    """Recognise the columns of a plain table; convert to SI; report the source units."""
    chosen: dict[str, tuple[str, str | None]] = {}
    for col in frame.columns:
        name, unit = _split_header(col)
        key = _norm(name)
        if key in _ALIASES:
            target, quantity = _ALIASES[key]
            if quantity in ("time",) and unit and unit not in _UNIT_FACTORS["time"] and not re.fullmatch(
                    r"h+:m+(in)?:s+(\.m*s*)?", unit.replace(" ", "")):
                continue  # e.g. "Time(mAh/g)"-like oddities
            if quantity in ("capacity", "energy") and unit and "/g" in unit:
                continue  # specific capacity per gram is not a capacity
            if target in chosen:
                # a specific name ("Total Time") beats a generic one ("Time", the step time
                # in Neware exports); two specific ones must agree
                if key in _GENERIC and _norm(_split_header(chosen[target][0])[0]) not in _GENERIC:
                    continue
                if key not in _GENERIC and _norm(_split_header(chosen[target][0])[0]) in _GENERIC:
                    chosen[target] = (col, unit)
                    continue
                _check_duplicate(frame, path, target, quantity, chosen[target], (col, unit))
                continue
            chosen[target] = (col, unit)
    for target, col in (column_map or {}).items():
        if target not in _TARGET_QUANTITY:
            raise InputError(
                f"column_map key {target!r} is not a BDF column; use one of {sorted(_TARGET_QUANTITY)}"
            )
        if col not in frame.columns:
            raise FileFormatError(path, f"column_map names column {col!r}, which the file does not have "
                                        f"(it has {list(frame.columns)[:20]})", "fix the column_map")
        chosen[target] = (col, _split_header(col)[1])
    out = pd.DataFrame(index=frame.index)
    source_units = {}
    for target, (col, unit) in chosen.items():
        quantity = _TARGET_QUANTITY[target]
        if units and target in units:
            unit = units[target]
        values = frame[col]
        if quantity == "text":
            out[target] = values.astype(str).str.strip()
            continue
        if quantity == "time" and (values.dtype == object or pd.api.types.is_string_dtype(values)) and \
                values.astype(str).str.contains(":").any() and target != "unix_time_second":
            out[target] = _clock_to_seconds(values, path, col)
            source_units[target] = "h:mm:ss"
            continue
        if quantity == "count":
            out[target] = _numeric(values, path, col)
            continue
        numeric, cell_unit = _numeric_with_units(values, path, col)
        if cell_unit is not None:
            if unit is not None and cell_unit != unit.lower():
                raise FileFormatError(path, f"column {col!r}: its header says {unit!r} but its cells say "
                                            f"{cell_unit!r} (mixed units)", "make the units agree")
            unit = cell_unit
        factor = _unit_factor(quantity, unit, f"{path}: column {col!r}")
        out[target] = numeric * factor
        source_units[target] = unit or f"{_SI_UNIT[quantity]} (assumed)"
    return out, {"source_units": source_units, "source_columns": {t: c for t, (c, _) in chosen.items()}}


def _check_duplicate(frame, path, target, quantity, first, second) -> None:
    """Two columns for one quantity (e.g. Current(A) and Current(mA)): they must agree."""
    if quantity in ("text", "count"):
        return
    (c1, u1), (c2, u2) = first, second
    try:
        a = pd.to_numeric(frame[c1], errors="coerce") * _unit_factor(quantity, u1, c1)
        b = pd.to_numeric(frame[c2], errors="coerce") * _unit_factor(quantity, u2, c2)
    except InputError:
        return
    scale = max(float(np.nanmax(np.abs(a))) if len(a) else 0.0, 1e-12)
    if np.nanmax(np.abs(a - b)) > 1e-3 * scale:
        raise FileFormatError(
            path, f"columns {c1!r} and {c2!r} both hold {target} but disagree once their units "
                  f"({u1!r}, {u2!r}) are applied (mixed units)",
            "keep one of them, or give column_map= to choose",
        )


_NUM_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµμ°.]+)\s*$")


def _numeric(values: pd.Series, path: Path, column: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(np.float64)
    text = values.astype(str).str.strip()
    empty = values.isna().to_numpy() | text.isin(["", "nan", "NaN", "N/A", "None"]).to_numpy()
    out = pd.to_numeric(text.where(~empty, None), errors="coerce")
    bad = out.isna() & ~empty
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FileFormatError(
            path, f"column {column!r} row {i + 1} holds {values.iloc[i]!r}, which is not a number "
                  f"({int(bad.sum())} such cells)", "fix or remove those rows",
        )
    return out.to_numpy(np.float64)


def _numeric_with_units(values: pd.Series, path: Path, column: str) -> tuple[np.ndarray, str | None]:
    """Numbers, or numbers with a unit suffix in every cell (``"4.1 V"``): one unit only."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(np.float64), None
    s = values.astype(str).str.strip()
    parts = s.str.extract(_NUM_WITH_UNIT)
    has_unit = parts[0].notna()
    if has_unit.any():
        found = sorted(set(parts.loc[has_unit, 1].str.lower()))
        if len(found) > 1:
            raise FileFormatError(
                path, f"column {column!r} mixes units in its cells ({', '.join(found)})",
                "convert the column to one unit before reading",
            )
        merged = values.where(~has_unit, parts[0])
        return _numeric(merged, path, column), found[0]
    return _numeric(values, path, column), None


def _read_neware_btsda(path: Path, column_map=None, units=None, sheet=None, **_: Any):
    if path.suffix.lower() in (".xlsx", ".xls"):
        frame = _read_excel(path, sheet, prefer=("record", "detail"))
    else:
        frame = _read_text_table(path)
    out, meta = _map_columns(frame, path, column_map, units)
    # BTSDA: "Capacity" is the step's unsigned capacity; "Chg. Cap."/"DChg. Cap." split it
    step_col = next((c for c in frame.columns if _split_header(c)[0] == "time"), None)
    if step_col is not None and "step_time_second" not in out:
        out["step_time_second"] = _clock_to_seconds(frame[step_col], path, step_col)
        if meta["source_columns"].get("test_time_second") == step_col:
            out = out.drop(columns="test_time_second")  # BTSDA "Time" is the step time
    if "Date" in frame.columns:
        out["unix_time_second"] = _dates_to_unix(frame["Date"])
    meta.update(reader="batteryzoom btsda", instrument="Neware")
    return out, meta


def _dates_to_unix(values: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(values, errors="coerce")
    return (ts.astype("int64") / 1e9).where(ts.notna()).to_numpy(np.float64) if len(ts) else np.array([])


def _read_neware_btsda_3level(path: Path, column_map=None, units=None, **_: Any):
    """The "regular" BTSDA export: cycle, step and record rows interleaved.

    Row 1 is the cycle header (``Cycle ID, ...``), row 2 the step header (``, Step ID,
    Step Name, ...``), row 3 the record header (``, , Record ID, Time, Voltage(V), ...``).
    A data row belongs to the level of its first non-empty column.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    if len(lines) < 4:
        raise FileFormatError(path, "three-level export has no data rows", "re-export the record")
    sep = "\t" if lines[0].count("\t") > lines[0].count(",") else ","
    rec_header = [c.strip() for c in lines[2].split(sep)]
    step_header = [c.strip() for c in lines[1].split(sep)]
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
            name_col = step_header.index("Step Name") if "Step Name" in step_header else 2
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
    frame = frame.loc[:, [c for c in frame.columns if c]]
    out, meta = _map_columns(frame, path, column_map, units)
    # in this export "Time" is the record's time within its step
    step_col = next((c for c in frame.columns if _split_header(c)[0] == "time"), None)
    if step_col is not None:
        out["step_time_second"] = _clock_to_seconds(frame[step_col], path, step_col)
        if out.get("test_time_second") is not None and meta["source_columns"].get("test_time_second") == step_col:
            out = out.drop(columns="test_time_second")
    out["cycle_count"] = _numeric(pd.Series(cyc), path, "Cycle ID")
    out["step_index"] = _numeric(pd.Series(sid), path, "Step ID")
    out["step_name"] = sname
    if "Realtime" in frame.columns or "Date" in frame.columns:
        out["unix_time_second"] = _dates_to_unix(frame.get("Realtime", frame.get("Date")))
    meta.update(reader="batteryzoom btsda three-level", instrument="Neware")
    return out, meta


def _read_excel(path: Path, sheet, prefer: tuple[str, ...]) -> pd.DataFrame:
    try:
        xl = pd.ExcelFile(path)
    except Exception as exc:  # noqa: BLE001
        raise FileFormatError(path, f"is a damaged Excel file ({exc})", "open and re-save it in Excel") from None
    names = xl.sheet_names
    if sheet is None:
        picks = [s for s in names if any(s.lower().startswith(p) for p in prefer)]
        picks = picks or [names[0]]
    else:
        if isinstance(sheet, int):
            sheet = names[sheet]
        if sheet not in names:
            raise FileFormatError(path, f"has no sheet {sheet!r} (sheets: {names})", "pass sheet= one of them")
        picks = [sheet]
    frames = [pd.read_excel(xl, sheet_name=s) for s in picks]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise FileFormatError(path, f"sheet(s) {picks} hold no rows", "pick the data sheet with sheet=")
    return frame


def _arbin_frame(frame: pd.DataFrame, path: Path, column_map, units) -> tuple[pd.DataFrame, dict]:
    out, meta = _map_columns(frame, path, column_map, units)
    if "Date_Time" in frame.columns:
        out["unix_time_second"] = _dates_to_unix(frame["Date_Time"])
    # Arbin counts capacity and energy over the cycle: made per step in _finalize
    meta["capacity_scope"] = "cycle"
    meta.update(instrument="Arbin")
    return out, meta


def _read_arbin_xlsx(path: Path, column_map=None, units=None, sheet=None, **_: Any):
    frame = _read_excel(path, sheet, prefer=("channel",))
    out, meta = _arbin_frame(frame, path, column_map, units)
    meta["reader"] = "batteryzoom arbin-xlsx (openpyxl)"
    return out, meta


def _read_arbin_csv(path: Path, column_map=None, units=None, **_: Any):
    out, meta = _arbin_frame(_read_text_table(path), path, column_map, units)
    meta["reader"] = "batteryzoom arbin-csv"
    return out, meta


def _read_arbin_res(path: Path, column_map=None, units=None, **_: Any):
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
    rename = {
        "Test_Time": "test_time_second", "Step_Time": "step_time_second", "Voltage": "voltage_volt",
        "Current": "current_ampere", "Step_Index": "step_index", "Cycle_Index": "cycle_count",
        "Charge_Capacity": "charging_capacity_ah", "Discharge_Capacity": "discharging_capacity_ah",
        "Charge_Energy": "charging_energy_wh", "Discharge_Energy": "discharging_energy_wh",
    }
    out = pd.DataFrame({new: _numeric(frame[old], path, old) for old, new in rename.items() if old in frame})
    if "DateTime" in frame:
        # OLE automation date: days since 1899-12-30 (local clock of the instrument PC)
        out["unix_time_second"] = (_numeric(frame["DateTime"], path, "DateTime") - 25569.0) * 86400.0
    if column_map:
        extra, _ = _map_columns(frame, path, column_map, units)
        for c in extra:
            out[c] = extra[c]
    meta = {"reader": "mdbtools mdb-export", "instrument": "Arbin", "capacity_scope": "cycle",
            "source_units": {"all": "SI (Arbin database)"}}
    return out, meta


_MACCOR_SIGN = {"C": 1.0, "D": -1.0}


def _read_maccor(path: Path, column_map=None, units=None, **_: Any):
    text = _head_text(path, 1 << 16)
    lines = text.splitlines()
    header_row = next((i for i, ln in enumerate(lines[:20]) if ln.startswith("Rec#")), None)
    if header_row is None:
        raise FileFormatError(path, "has no Maccor 'Rec#' header line", "export it from MacTest as text")
    frame = _read_text_table(path, skiprows=header_row, sep="\t")
    need = {"TestTime", "Amps", "Volts", "State"}
    missing = need - set(frame.columns)
    if missing:
        raise FileFormatError(path, f"Maccor table lacks columns {sorted(missing)}", "re-export with them")
    state = frame["State"].astype(str).str.strip()
    amps = _numeric(frame["Amps"], path, "Amps")
    sign = state.map(_MACCOR_SIGN).fillna(0.0).to_numpy()
    # Maccor writes |I|: the State column (C/D/R/...) gives the direction
    out = pd.DataFrame({
        "test_time_second": _clock_to_seconds(frame["TestTime"], path, "TestTime"),
        "voltage_volt": _numeric(frame["Volts"], path, "Volts"),
        "current_ampere": np.where(np.sign(amps) == 0, 0.0, np.abs(amps)) * np.where(sign == 0, np.sign(amps), sign),
        "step_index": _numeric(frame["Step"], path, "Step"),
        "step_name": state.to_numpy(),
    })
    if "StepTime" in frame:
        out["step_time_second"] = _clock_to_seconds(frame["StepTime"], path, "StepTime")
    if "Cyc#" in frame:
        out["cycle_count"] = _numeric(frame["Cyc#"], path, "Cyc#")
    if "Amp-hr" in frame:
        out["capacity_ah"] = _numeric(frame["Amp-hr"], path, "Amp-hr")
    if "Watt-hr" in frame:
        out["energy_wh"] = _numeric(frame["Watt-hr"], path, "Watt-hr")
    if "DPt Time" in frame:
        out["unix_time_second"] = _dates_to_unix(frame["DPt Time"])
    meta = {"reader": "batteryzoom maccor", "instrument": "Maccor",
            "source_units": {"Amps": "A (unsigned; sign from State)", "Volts": "V", "Amp-hr": "Ah"},
            "metadata": {"header": " | ".join(ln.strip() for ln in lines[:header_row])[:400]}}
    return out, meta


def _galvani(path: Path):
    try:
        from galvani import BioLogic
    except ImportError:
        raise MissingDependencyError(
            "galvani", f"Reading the BioLogic file {path}",
            "pip install 'batteryzoom[gpl]' (galvani is GPL-3.0, so it is an optional extra)",
        ) from None
    return BioLogic


def _read_biologic(path: Path, column_map=None, units=None, **_: Any):
    BioLogic = _galvani(path)
    try:
        if path.suffix.lower() == ".mpt" or _head_text(path, 64).startswith("EC-Lab ASCII"):
            with open(path, "rb") as fh:
                data, _comments = BioLogic.MPTfile(fh, encoding="latin-1")
            frame = pd.DataFrame(data)
            date = None
        else:
            with open(path, "rb") as fh:  # galvani leaves a path's handle open; give it ours
                mpr = BioLogic.MPRfile(fh)
            frame = pd.DataFrame(mpr.data)
            date = str(getattr(mpr, "startdate", "")) or None
    except MissingDependencyError:
        raise
    except Exception as exc:  # noqa: BLE001 - galvani raises ValueError/struct.error/...
        raise FileFormatError(path, f"cannot be read as an EC-Lab file ({type(exc).__name__}: {exc})",
                              "copy it again from the instrument PC, or export it as .mpt") from None
    if len(frame) == 0:
        raise FileFormatError(path, "holds no records", "check that the technique recorded data")
    cols = frame.columns
    voltage_col = next((c for c in ("Ewe/V", "<Ewe>/V", "Ecell/V", "<Ecell>/V") if c in cols), None)
    if voltage_col is None or "time/s" not in cols:
        raise FileFormatError(path, f"EC-Lab table lacks time or Ewe (columns: {list(cols)[:15]})",
                              "record Ewe and time in the technique settings")
    out = pd.DataFrame({
        "test_time_second": frame["time/s"].to_numpy(np.float64),
        "voltage_volt": frame[voltage_col].to_numpy(np.float64),
    })
    source_units = {"time/s": "s", voltage_col: "V"}
    current_col = next((c for c in ("I/mA", "<I>/mA") if c in cols), None)
    if current_col is not None:
        out["current_ampere"] = frame[current_col].to_numpy(np.float64) * 1e-3
        source_units[current_col] = "mA"
    elif "dq/mA.h" in cols:
        # GCPL files may store only the charge increment per point: I = dq / dt
        dt = np.diff(out["test_time_second"].to_numpy(), prepend=np.nan)
        dq = frame["dq/mA.h"].to_numpy(np.float64) * 1e-3 * 3600.0  # A s
        with np.errstate(divide="ignore", invalid="ignore"):
            current = np.where(dt > 0, dq / dt, np.nan)
        out["current_ampere"] = pd.Series(current).bfill().fillna(0.0).to_numpy()
        source_units["dq/mA.h"] = "mAh (current derived as dq/dt)"
    else:
        raise FileFormatError(path, "EC-Lab table has neither I/mA nor dq/mA.h", "record I in the technique")
    if "(Q-Qo)/mA.h" in cols:
        out["net_capacity_ah"] = frame["(Q-Qo)/mA.h"].to_numpy(np.float64) * 1e-3
    elif "dq/mA.h" in cols:
        out["net_capacity_ah"] = np.cumsum(frame["dq/mA.h"].to_numpy(np.float64)) * 1e-3
    if "Ns" in cols:
        key = frame["Ns"].to_numpy(np.int64)
        if "half cycle" in cols:
            key = key * 100_000 + frame["half cycle"].to_numpy(np.int64)
        out["step_index"] = frame["Ns"].to_numpy(np.int64) + 1
        out["_step_key"] = key
    if "cycle number" in cols:
        out["cycle_count"] = frame["cycle number"].to_numpy(np.float64) + 1
    if "freq/Hz" in cols:
        out["_eis"] = frame["freq/Hz"].to_numpy(np.float64) > 0
    meta = {"reader": "galvani", "instrument": "BioLogic", "source_units": source_units,
            "metadata": {"start_date": date} if date else {}}
    return out, meta


def _read_bdf(path: Path, column_map=None, units=None, **_: Any):
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if path.suffix.lower() == ".parquet" or magic == b"PAR1":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001
            raise FileFormatError(path, f"is a damaged parquet file ({exc})", "re-export it") from None
    else:
        frame = _read_text_table(path)
    # BDF "preferred labels" (``Test Time / s``) are mapped through the same aliases
    out, meta = _map_columns(frame, path, column_map, units)
    meta.update(reader="batteryzoom bdf", instrument=None)
    return out, meta


def _read_pyprobe(path: Path, column_map=None, units=None, **_: Any):
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001
        raise FileFormatError(path, f"is a damaged parquet file ({exc})", "re-export it") from None
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


def _read_plain(path: Path, column_map=None, units=None, sheet=None, **_: Any):
    if path.suffix.lower() in (".xlsx", ".xls"):
        frame = _read_excel(path, sheet, prefer=())
    else:
        frame = _read_text_table(path)
    out, meta = _map_columns(frame, path, column_map, units)
    meta.update(reader="batteryzoom table", instrument=None)
    return out, meta


_READERS = {
    "neware-ndax": _read_neware_binary,
    "neware-nda": _read_neware_binary,
    "neware-btsda": _read_neware_btsda,
    "neware-btsda-3level": _read_neware_btsda_3level,
    "biologic-mpr": _read_biologic,
    "biologic-mpt": _read_biologic,
    "arbin-res": _read_arbin_res,
    "arbin-xlsx": _read_arbin_xlsx,
    "arbin-csv": _read_arbin_csv,
    "maccor-txt": _read_maccor,
    "bdf-csv": _read_bdf,
    "bdf-parquet": _read_bdf,
    "pyprobe-parquet": _read_pyprobe,
    "csv": _read_plain,
    "xlsx": _read_plain,
}


# --------------------------------------------------------------------------- finishing

_NAME_KIND = [  # instrument step labels -> (direction, mode); first match wins
    (re.compile(r"rest|pause|^r$|ocv|open", re.I), ("rest", "")),
    (re.compile(r"cccv.*d|cc-cv.*d", re.I), ("discharge", "cccv")),
    (re.compile(r"cccv|cc-cv", re.I), ("charge", "cccv")),
    (re.compile(r"cv.*d(is)?ch|cv_d", re.I), ("discharge", "cv")),
    (re.compile(r"cv", re.I), ("charge", "cv")),
    (re.compile(r"d(is)?ch|^d$|discharge", re.I), ("discharge", "cc")),
    (re.compile(r"chg|charge|^c$", re.I), ("charge", "cc")),
]


def _name_kind(name: str) -> tuple[str, str]:
    for rx, kind in _NAME_KIND:
        if rx.search(name):
            return kind
    return ("", "")


def _finalize(raw: pd.DataFrame, path: Path, fmt: str, meta: dict, rest_current_a: float | None) -> pd.DataFrame:
    repairs: list[str] = []
    time_repairs: list[str] = []
    derived: list[str] = []
    missing = [c for c in ("voltage_volt", "current_ampere") if c not in raw]
    if "test_time_second" not in raw and "step_time_second" not in raw:
        missing.append("test_time_second (or step_time_second)")
    if missing:
        raise FileFormatError(
            path, f"has no {' and no '.join(missing)} column (columns read: {sorted(raw.columns)})",
            "name them in column_map={'voltage_volt': ..., 'current_ampere': ..., 'test_time_second': ...}",
        )
    n = len(raw)
    if n == 0:
        raise FileFormatError(path, "holds no records", "re-export the record")
    v = raw["voltage_volt"].to_numpy(np.float64)
    i = raw["current_ampere"].to_numpy(np.float64)
    for name, arr in (("voltage_volt", v), ("current_ampere", i)):
        if not np.isfinite(arr).any():
            raise FileFormatError(path, f"its {name} column is empty", "check the export")
    keep = np.isfinite(v) & np.isfinite(i)
    if not keep.all():
        repairs.append(f"dropped {int((~keep).sum())} rows without voltage or current")
        raw = raw.loc[keep].reset_index(drop=True)
        v, i = v[keep], i[keep]
        n = len(raw)

    # --- steps: a new step at every change of the instrument's step key
    if "step_count" in raw:
        key = raw["step_count"].to_numpy(np.int64)
    elif "_step_key" in raw:
        key = raw["_step_key"].to_numpy(np.int64)
    elif "step_index" in raw:
        key = raw["step_index"].to_numpy(np.float64)
        if "cycle_count" in raw:
            key = key + 1e6 * raw["cycle_count"].to_numpy(np.float64)
    else:
        key = None
    if key is not None:
        new_step = np.r_[True, key[1:] != key[:-1]]
    else:
        # no step column: a step changes where the current changes sign class
        tol = _rest_tol(i, rest_current_a)
        cls = np.sign(np.where(np.abs(i) <= tol, 0.0, i))
        new_step = np.r_[True, cls[1:] != cls[:-1]]
        derived.append("step_count from changes of current direction")
    step_count = np.cumsum(new_step).astype(np.int64)
    starts = np.flatnonzero(new_step)

    # --- time
    test_time = raw["test_time_second"].to_numpy(np.float64) if "test_time_second" in raw else None
    step_time = raw["step_time_second"].to_numpy(np.float64) if "step_time_second" in raw else None
    if test_time is None or not np.isfinite(test_time).any():
        # only a step time: accumulate step durations into a test time
        st = np.nan_to_num(step_time)
        ends = np.r_[starts[1:], n] - 1
        # each step starts where the previous one ended (its last step time)
        offsets = np.r_[0.0, np.cumsum(st[ends])[:-1]]
        test_time = st + np.repeat(offsets, np.diff(np.r_[starts, n]))
        msg = "test_time_second rebuilt from a step time that restarts at each step (steps assumed to abut)"
        time_repairs.append(msg)
    test_time = _repair_backwards(test_time, time_repairs, "test_time_second")
    if step_time is None or not np.isfinite(step_time).any():
        step_time = test_time - np.repeat(test_time[starts], np.diff(np.r_[starts, n]))
        derived.append("step_time_second from test time")
    if "unix_time_second" in raw:
        ut = raw["unix_time_second"].to_numpy(np.float64)
        d = np.diff(ut)
        back = int(np.sum(d < 0))
        if back:
            time_repairs.append(
                f"unix_time_second jumps backwards {back} times (largest {float(-d.min()):.3g} s, "
                "e.g. a clock change on the instrument PC): kept as recorded; analyses use test_time_second"
            )

    # --- direction of the current, from the instrument's step names when it has them
    step_kind = None
    if "step_name" in raw:
        names = raw["step_name"].iloc[starts].astype(str).to_numpy()
        uniq = {nm: _name_kind(nm) for nm in pd.unique(names)}
        step_kind = [uniq[nm] for nm in names]
        dirs = np.array([k[0] for k in step_kind])
        seg_len = np.diff(np.r_[starts, n])
        med_sign = _step_median_sign(i, starts, seg_len)
        flip = ((dirs == "discharge") & (med_sign > 0)) | ((dirs == "charge") & (med_sign < 0))
        if flip.any() and fmt != "maccor-txt":
            i = i * np.where(np.repeat(flip, seg_len), -1.0, 1.0)
            repairs.append(f"current sign flipped in {int(flip.sum())} steps so that charge is positive")

    tol = _rest_tol(i, rest_current_a)
    step_type = _classify(i, v, starts, n, tol, step_kind)
    if "_eis" in raw:
        # impedance rows (frequency > 0) carry an AC current: neither charge nor discharge
        eis = raw["_eis"].to_numpy(bool)
        step_type[eis] = _CODE["other"]

    # --- cycles
    cycle = raw["cycle_count"].to_numpy(np.float64) if "cycle_count" in raw else None
    if cycle is not None:
        ok = np.isfinite(cycle).all() and np.all(cycle == np.round(cycle)) and np.all(np.diff(cycle) >= 0)
        if not ok:
            repairs.append("cycle_count was not a non-decreasing integer count in the file; recounted "
                           "(a cycle starts at the first charge after a discharge)")
            cycle = None
        elif cycle.min() < 1:
            cycle = cycle - cycle.min() + 1
    if cycle is None:
        cycle = _count_cycles(step_type, starts, n)
        if "cycle_count" not in raw:
            derived.append("cycle_count: a cycle starts at the first charge after a discharge")
    cycle = cycle.astype(np.int64)

    # --- capacities and energies, per step, >= 0
    charge_rows = (step_type == _CODE["cc_charge"]) | (step_type == _CODE["cv_charge"])
    dis_rows = (step_type == _CODE["cc_discharge"]) | (step_type == _CODE["cv_discharge"])
    q_ch, q_dis, e_ch, e_dis = _capacities(raw, meta, test_time, v, i, starts, n, charge_rows, dis_rows,
                                           derived, repairs)

    out = pd.DataFrame({
        "test_time_second": test_time,
        "step_time_second": step_time,
        "voltage_volt": v,
        "current_ampere": i,
        "step_count": step_count,
        "step_index": (raw["step_index"].to_numpy(np.float64).astype(np.int64) if "step_index" in raw
                       else step_count),
        "cycle_count": cycle,
        "step_type": pd.Categorical.from_codes(step_type, categories=STEP_TYPES),
        "charging_capacity_ah": q_ch,
        "discharging_capacity_ah": q_dis,
        "charging_energy_wh": e_ch,
        "discharging_energy_wh": e_dis,
    }, copy=False)  # the arrays are this function's own: no consolidating copy (~20 ms per 700k rows)
    for col in OPTIONAL_COLUMNS:
        if col in raw:
            out[col] = raw[col].to_numpy(np.float64)
    for msg in time_repairs:
        warnings.warn(f"{path.name}: {msg}", TimeRepairWarning, stacklevel=3)
    out.attrs = {
        "source_path": str(path),
        "format": fmt,
        "reader": meta.get("reader"),
        "instrument": meta.get("instrument"),
        "source_units": meta.get("source_units", {}),
        "source_columns": meta.get("source_columns", {}),
        "time_repairs": time_repairs,
        "repairs": repairs,
        "derived": derived,
        "rest_current_a": tol,
        "metadata": meta.get("metadata", {}),
    }
    return out


def _rest_tol(i: np.ndarray, rest_current_a: float | None) -> float:
    if rest_current_a is not None:
        return float(rest_current_a)
    peak = float(np.nanmax(np.abs(i))) if len(i) else 0.0
    return max(1e-3 * peak, 1e-9)


def _repair_backwards(t: np.ndarray, time_repairs: list[str], name: str) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if not np.isfinite(t).all():
        bad = int((~np.isfinite(t)).sum())
        t = pd.Series(t).interpolate(limit_direction="both").to_numpy()
        time_repairs.append(f"{name}: {bad} missing values filled by interpolation")
    d = np.diff(t)
    back = d < 0
    if back.any():
        step = float(np.median(d[d > 0])) if (d > 0).any() else 0.0
        fixed = np.where(back, step, d)
        t = t[0] + np.r_[0.0, np.cumsum(fixed)]
        time_repairs.append(
            f"{name} jumps backwards {int(back.sum())} times (largest {float(-d[back].min()):.6g} s); each jump "
            f"was replaced by the median sampling interval ({step:.6g} s) so that time keeps increasing"
        )
    return t


def _step_median_sign(x: np.ndarray, starts: np.ndarray, seg_len: np.ndarray) -> np.ndarray:
    """The sign (-1, 0, 1) of each step's median of ``x``, from counts; a sort only where
    they cannot tell.

    With ``p`` values above 0 among ``n``, the median is above 0 when ``2p > n`` and not
    above it when ``2p < n`` (the middle value or both middle values lie on that side);
    only ``2p == n`` (n even) leaves it to the two middle values. Likewise below 0.
    """
    pos = np.add.reduceat((x > 0).view(np.int8), starts, dtype=np.int64)
    neg = np.add.reduceat((x < 0).view(np.int8), starts, dtype=np.int64)
    sign = (2 * pos > seg_len).astype(np.int8) - (2 * neg > seg_len).astype(np.int8)
    for k in np.flatnonzero((2 * pos == seg_len) | (2 * neg == seg_len)):
        sign[k] = np.sign(np.median(x[starts[k] : starts[k] + seg_len[k]]))
    return sign


def _after_last_peak(absi: np.ndarray, starts: np.ndarray, sid: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Rows after the last row of their step whose ``absi`` reaches 98 % of the step's peak:
    from there to the step's end, |current| stays below it (the CV hold's first test)."""
    rows = np.arange(len(absi))
    last = np.maximum.reduceat(np.where(absi >= 0.98 * peak, rows, -1), starts)
    return rows > last[sid]


_CODE = {t: k for k, t in enumerate(STEP_TYPES)}


def _classify(i, v, starts, n, tol, step_kind) -> np.ndarray:
    """Per-row step type codes (into :data:`STEP_TYPES`): rest / cc_* / cv_* / other.

    A step is a rest when its mean current is at or below ``tol`` in magnitude. Its
    direction is the sign of its mean current. Within a charge or discharge step, a row belongs to
    the constant-voltage part when, from that row to the end of the step, |current| stays
    below 98 % of the step's largest |current| and the voltage is within 5 mV of the
    step's final voltage (the hold); a step labelled CV by the instrument is CV throughout.
    """
    seg_len = np.diff(np.r_[starts, n])
    sid = np.repeat(np.arange(len(starts)), seg_len)
    absi = np.abs(i)
    # the mean current of each step (the median costs a sort of every step)
    med = np.add.reduceat(i, starts) / seg_len
    rest_step = np.abs(med) <= tol
    if step_kind is not None:
        labels = np.array([k[0] for k in step_kind])
        modes = np.array([k[1] for k in step_kind])
        rest_step = rest_step | ((labels == "rest") & (np.abs(med) <= 10 * tol))
    else:
        modes = np.full(len(starts), "", dtype=object)
    out = np.full(n, _CODE["rest"], dtype=np.int8)
    active = ~rest_step[sid]
    if active.any():
        peak = np.maximum.reduceat(absi, starts)[sid]
        last_v = v[np.r_[starts[1:], n] - 1][sid]
        hold = _after_last_peak(absi, starts, sid, peak) & (np.abs(v - last_v) <= 5e-3)
        is_cv = hold | (modes == "cv")[sid]
        charge = (med > 0)[sid]
        code = np.where(charge, np.where(is_cv, _CODE["cv_charge"], _CODE["cc_charge"]),
                        np.where(is_cv, _CODE["cv_discharge"], _CODE["cc_discharge"])).astype(np.int8)
        out = np.where(active, code, out)
    return out


def _count_cycles(step_type: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Cycle 1 until the first charge that follows a discharge, then +1 at each such charge."""
    first = step_type[starts]
    is_ch = np.isin(first, (_CODE["cc_charge"], _CODE["cv_charge"]))
    is_dis = np.isin(first, (_CODE["cc_discharge"], _CODE["cv_discharge"]))
    cyc = np.ones(len(starts), dtype=np.int64)
    c, seen_dis = 1, False
    for k in range(len(starts)):
        if is_dis[k]:
            seen_dis = True
        elif is_ch[k] and seen_dis:
            c += 1
            seen_dis = False
        cyc[k] = c
    return np.repeat(cyc, np.diff(np.r_[starts, n]))


def _per_step_from_cumulative(q: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """A capacity counted over a cycle or the test -> counted from the start of each step.

    The baseline of a step is the last value of the previous step when the count carries
    on, 0 when it restarted (the first value of the step is below that last value).
    """
    q = np.nan_to_num(np.asarray(q, dtype=np.float64))
    prev_last = np.r_[0.0, q[starts[1:] - 1]]
    first = q[starts]
    base = np.where(first + 1e-12 >= prev_last, prev_last, 0.0)
    return q - np.repeat(base, np.diff(np.r_[starts, n]))


def _cumtrapz_per_step(y: np.ndarray, t: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Cumulative trapezoid of y over t, restarting at each step (units of y·s)."""
    inc = np.r_[0.0, 0.5 * (y[1:] + y[:-1]) * np.diff(t)]
    inc[starts] = 0.0
    c = np.cumsum(inc)
    return c - np.repeat(c[starts], np.diff(np.r_[starts, n]))


def _mend_drops(q: np.ndarray, starts: np.ndarray, n: int, name: str, repairs: list[str]) -> None:
    """A per-step count never falls: a drop inside a step (a counter restart or a file
    defect) is added back so the count carries on from its value before the drop."""
    d = np.diff(q, prepend=q[0])
    d[starts] = 0.0
    seg = np.diff(np.r_[starts, n])
    step_max = np.repeat(np.maximum.reduceat(q, starts), seg)
    drop = d < -1e-3 * np.maximum(step_max, 1e-12)
    if not drop.any():
        return
    add = np.where(drop, -d, 0.0)
    c = np.cumsum(add)
    q += c - np.repeat(c[starts], seg)
    where = np.flatnonzero(drop)
    repairs.append(
        f"{name} fell {int(drop.sum())} times inside a step (largest drop {float(add.max()):.6g} at row "
        f"{int(where[np.argmax(add[where])]) + 1}); counted on from the value before each drop"
    )


def _capacities(raw, meta, t, v, i, starts, n, charge_rows, dis_rows, derived, repairs):
    seg = np.diff(np.r_[starts, n])
    scope = meta.get("capacity_scope", "step")

    def per_step(col):
        q = raw[col].to_numpy(np.float64)
        return _per_step_from_cumulative(q, starts, n) if scope == "cycle" else np.nan_to_num(q)

    if "charging_capacity_ah" in raw and "discharging_capacity_ah" in raw:
        q_ch, q_dis = np.abs(per_step("charging_capacity_ah")), np.abs(per_step("discharging_capacity_ah"))
    elif "step_net_capacity_ah" in raw:
        q_ch = q_dis = np.abs(raw["step_net_capacity_ah"].to_numpy(np.float64))
    elif "capacity_ah" in raw:
        q = _per_step_from_cumulative(np.abs(raw["capacity_ah"].to_numpy(np.float64)), starts, n)
        q_ch, q_dis = q, q
    elif "net_capacity_ah" in raw:
        q = raw["net_capacity_ah"].to_numpy(np.float64)
        q_ch = q_dis = np.abs(q - np.repeat(np.r_[q[0], q[starts[1:] - 1]], seg))
    else:
        q_ch = q_dis = np.abs(_cumtrapz_per_step(i, t, starts, n) / 3600.0)
        derived.append("capacities integrated from current over time (trapezoid)")
    if "charging_energy_wh" in raw and "discharging_energy_wh" in raw:
        e_ch, e_dis = np.abs(per_step("charging_energy_wh")), np.abs(per_step("discharging_energy_wh"))
    elif "step_net_energy_wh" in raw:
        e = np.abs(raw["step_net_energy_wh"].to_numpy(np.float64))
        e_ch, e_dis = e, e
    elif "energy_wh" in raw:
        e = _per_step_from_cumulative(np.abs(raw["energy_wh"].to_numpy(np.float64)), starts, n)
        e_ch, e_dis = e, e
    else:
        e = np.abs(_cumtrapz_per_step(i * v, t, starts, n)) / 3600.0
        e_ch, e_dis = e, e
        derived.append("energies integrated from current x voltage over time (trapezoid)")
    # one count shared by both directions (a net or unsigned column) is mended once
    for ch_name, dis_name, ch, dis in (("charging_capacity_ah", "discharging_capacity_ah", q_ch, q_dis),
                                       ("charging_energy_wh", "discharging_energy_wh", e_ch, e_dis)):
        if ch is dis:
            _mend_drops(ch, starts, n, f"{ch_name} (= {dis_name})", repairs)
        else:
            _mend_drops(ch, starts, n, ch_name, repairs)
            _mend_drops(dis, starts, n, dis_name, repairs)
    # a step's charge column counts only while it charges (and vice versa)
    step_ch = np.repeat(np.logical_or.reduceat(charge_rows, starts), seg)
    step_dis = np.repeat(np.logical_or.reduceat(dis_rows, starts), seg)
    return (np.where(step_ch, q_ch, 0.0), np.where(step_dis, q_dis, 0.0),
            np.where(step_ch, e_ch, 0.0), np.where(step_dis, e_dis, 0.0))
