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

import contextlib
import logging
import re
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError
from ._registry import Evidence, register
from ._source import decode, head_bytes, read_bytes, run_bounded
from ._tables import map_columns, read_excel
from ._text import cut_last_line, parse_table, split_lines
from ._units import clock_to_seconds, dates_to_unix, numeric, split_header

if TYPE_CHECKING:
    from .sniff import Sample


# --------------------------------------------------------------------------- binaries

# a zipped .nda bigger than this, or inflating more than this ratio, is refused (zip bomb)
_MAX_MEMBER = 4 << 30
_MAX_RATIO = 200


@contextlib.contextmanager
def _as_neware_file(path: Path) -> Iterator[Path]:
    """A path fastnda can open: the file itself when its suffix says ``.nda``/``.ndax``;
    else a symbolic link with that suffix in a temporary folder; for a zip holding one
    ``.nda`` (as fastnda's test data ship), that member written to a temporary file. The
    source is only read."""
    head = head_bytes(path, 4)
    if head.startswith(b"PK"):
        names = _zip_members(path)
        if not any(n.lower().endswith(".ndc") for n in names):
            nda = [n for n in names if n.lower().endswith(".nda")]
            if len(nda) != 1:
                raise FileFormatError(path, f"is a zip archive holding {names[:5]}, not one Neware .nda file",
                                      "unzip it and read the .nda file it holds")
            with tempfile.TemporaryDirectory(prefix="bz-nda-") as tmp:
                target = Path(tmp) / "record.nda"
                _extract_member(path, nda[0], target)
                yield target
            return
        suffix = ".ndax"
    else:
        suffix = ".nda"
    if path.suffix.lower() == suffix:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="bz-nda-") as tmp:
        target = Path(tmp) / f"record{suffix}"
        try:
            target.symlink_to(path.resolve())
        except OSError:  # pragma: no cover - no symlinks (some Windows setups): read a copy
            shutil.copyfile(path, target)
        yield target


def _zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except Exception as exc:  # noqa: BLE001 - zipfile raises many types on a damaged archive
        raise FileFormatError(path, f"has a broken zip structure (truncated or corrupt: {type(exc).__name__})",
                              "copy the file again from the instrument PC") from None


def _extract_member(path: Path, member: str, target: Path) -> None:
    """Stream one zip member into ``target``, bounded by its declared size; a CRC, inflate
    or size error is the zip's damage."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
            if info.file_size > _MAX_MEMBER or info.file_size > _MAX_RATIO * max(info.compress_size, 1):
                raise FileFormatError(path, f"its member {member!r} claims {info.file_size} bytes from "
                                            f"{info.compress_size} compressed: not a Neware record (zip bomb?)",
                                      "unzip it yourself and check the .nda file")
            with zf.open(info) as src, open(target, "wb") as dst:
                left = info.file_size
                while chunk := src.read(min(1 << 20, left + 1)):
                    left -= len(chunk)
                    if left < 0:
                        raise FileFormatError(path, f"its member {member!r} is longer than its zip entry says",
                                              "copy the file again")
                    dst.write(chunk)
    except FileFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib (or isal's zlib) raise many types on damage
        raise FileFormatError(path, f"its zipped .nda cannot be extracted ({type(exc).__name__}: "
                                    f"{str(exc)[:100]}): the zip is truncated or corrupt",
                              "copy the file again from where it was published") from None


class _LibraryLog(logging.Handler):
    """Collects what a reader library logs at WARNING and above (passed on as warnings)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


@contextlib.contextmanager
def _captured(logger_name: str) -> Iterator[list[str]]:
    """The library's log messages, kept from the console and given to the caller."""
    logger = logging.getLogger(logger_name)
    handler = _LibraryLog()
    old = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = old


def _read_binary(path: Path, **_: Any) -> tuple[pd.DataFrame, dict]:
    """A ``.nda``/``.ndax`` file (or a zipped ``.nda``) through fastnda (NewareNDA as the
    fallback)."""
    try:
        import fastnda
    except ImportError:  # pragma: no cover - fastnda is a core dependency
        fastnda = None
    frame = None
    errors: list[str] = []
    notes: list[str] = []
    with _as_neware_file(path) as readable:
        if fastnda is not None:
            with _captured("fastnda") as logged:
                try:
                    frame = fastnda.read(readable, columns="bdf")
                    reader = f"fastnda {getattr(fastnda, '__version__', '')}".strip()
                except Exception as exc:  # noqa: BLE001 - fastnda raises many types on bad files
                    errors.append(f"fastnda: {type(exc).__name__}: {str(exc)[:150]}")
            notes += [f"fastnda: {m}" for m in logged if "negative jumps" not in m]
        if frame is None and _unsupported(errors):
            # fastnda does not know this file's version: NewareNDA may. It runs in a child
            # process with a time limit (on a damaged file it has looped forever)
            nd = _newarenda(readable, errors)
            if nd is not None:
                return _from_newarenda(nd, path)
        if frame is None:
            raise FileFormatError(
                path, "cannot be read as a Neware file, it is truncated or corrupt (" + "; ".join(errors) + ")",
                "copy the file again from the instrument PC, or export it from BTSDA as CSV",
            )
        with _captured("fastnda"):
            metadata = _metadata(fastnda, readable)
        notes += _unread_records(readable, frame)
    if len(frame) == 0:
        raise FileFormatError(path, "is a Neware record with no data records (the channel logged nothing: "
                                    "an empty or aborted test); batteryzoom has nothing to read",
                              "check that the test ran, and read the file of the run that recorded data")
    try:
        out = _from_fastnda(frame)
    except Exception as exc:  # noqa: BLE001 - a column fastnda gave in an unexpected type
        raise FileFormatError(path, f"fastnda's table is not as expected ({type(exc).__name__}: {exc})",
                              "report this file; meanwhile export it from BTSDA as CSV") from None
    meta: dict[str, Any] = {"reader": reader, "instrument": "Neware", "source_units": {"all": "SI (fastnda bdf)"},
                            "metadata": metadata, "warnings": notes}
    return out, meta


def _unsupported(errors: list[str]) -> bool:
    """Whether fastnda refused the file for its version (not for damage)."""
    return any("version" in e.lower() or "not supported" in e.lower() or "NotImplementedError" in e for e in errors)


_CHILD = """
import logging, sys
logging.disable(logging.CRITICAL)
import NewareNDA
NewareNDA.read(sys.argv[1]).to_pickle(sys.argv[2])
"""


def _newarenda(readable: Path, errors: list[str]) -> pd.DataFrame | None:
    """NewareNDA's table of the file, read in a child process bounded in time (None, with
    the reason in ``errors``, when it is not installed, fails or runs too long)."""
    import importlib.util
    import sys

    if importlib.util.find_spec("NewareNDA") is None:
        errors.append("NewareNDA: not installed (pip install NewareNDA reads more file versions)")
        return None
    size = readable.stat().st_size
    with tempfile.TemporaryDirectory(prefix="bz-newarenda-") as tmp:
        out = Path(tmp) / "table.pkl"
        _out, err, code, why = run_bounded([sys.executable, "-c", _CHILD, str(readable), str(out)],
                                           limit_bytes=1 << 24, limit_s=60.0 + 10.0 * size / 2**20)
        if why or code != 0 or not out.is_file():
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or [why or f"exit {code}"]
            errors.append(f"NewareNDA: {why or tail[0][:150]}")
            return None
        try:
            return pd.read_pickle(out)
        except Exception as exc:  # noqa: BLE001 - an unreadable result is a failed fallback
            errors.append(f"NewareNDA: {type(exc).__name__}: {exc}")
            return None


def _unread_records(readable: Path, frame: Any) -> list[str]:
    """Records numbered after the last one fastnda read that the bytes of a ``.nda`` still
    hold: damage (inserted or lost bytes) shifted them out of fastnda's record grid, and
    it dropped them without a word. Found by the record number's bytes: the last two read
    give the record length, and two more records in a row at that length past the last
    one, or the next number one record length after the last one read, are no coincidence.
    (A ``.ndax`` keeps its records in a zip, whose checksums catch such damage.)"""
    if readable.suffix.lower() != ".nda" or "record_index" not in frame.columns or len(frame) < 2:
        return []
    index = np.asarray(frame["record_index"].to_numpy(), dtype=np.int64)
    last, before = int(index[-1]), int(index[-2])
    if last != before + 1 or last >= 2**32 - 2:
        return []
    raw = read_bytes(readable)
    mark_last, mark_before = struct.pack("<I", last), struct.pack("<I", before)
    pos = raw.rfind(mark_last)
    while pos != -1:
        stride = next((d for d in range(16, 1025) if raw[pos - d:pos - d + 4] == mark_before), None)
        if stride is not None:
            break
        pos = raw.rfind(mark_last, 0, pos)
    if pos == -1 or stride is None:
        return []
    nxt, after = struct.pack("<I", last + 1), struct.pack("<I", last + 2)
    at = raw.find(nxt, pos + 4)
    while at != -1:
        # the next number where the next record starts: the last record of the file (a
        # copy of it after duplicated bytes) that fastnda's grid missed
        if raw[at + stride:at + stride + 4] == after or (at == pos + stride and len(raw) - at >= stride - 8):
            lost = -(-(len(raw) - at) // stride)  # the last record may end a few bytes short
            return [f"the file holds records numbered after the last one read ({last}): about {lost} records "
                    f"from byte {at} on could not be read (the file is damaged before them); only the first "
                    f"{len(frame)} records are in the table"]
        at = raw.find(nxt, at + 1)
    return []


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
    if "record_index" in frame.columns:
        out["_record"] = col("record_index", np.int64)
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
        with warnings.catch_warnings():  # "not thoroughly tested" notes on BTS9 metadata
            warnings.simplefilter("ignore")
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


def _is_workbook_file(path: Path) -> bool:
    return head_bytes(path, 2) == b"PK"


def _read_btsda(path: Path, column_map=None, units=None, sheet=None, **_: Any):
    """The flat BTSDA record export (CSV or XLSX)."""
    notes: list[str] = []
    if _is_workbook_file(path):
        frame = read_excel(path, sheet, prefer=("record", "detail"))
    else:
        table = parse_table(path, header=_btsda_header)
        frame, notes = table.frame, table.notes
    out, meta = map_columns(frame, path, column_map, units)
    # BTSDA: "Capacity" is the step's unsigned capacity; "Chg. Cap."/"DChg. Cap." split it
    step_col = _step_time_column(frame)
    if step_col is not None and "step_time_second" not in out:
        out["step_time_second"] = clock_to_seconds(frame[step_col], path, step_col)
        if meta["source_columns"].get("test_time_second") == step_col:
            out = out.drop(columns="test_time_second")  # BTSDA "Time" is the step time
    if "Date" in frame.columns:
        out["unix_time_second"] = dates_to_unix(frame["Date"])
    record = next((c for c in frame.columns if _norm_name(c) in ("datapoint", "recordid")), None)
    if record is not None:
        out["_record"] = numeric(frame[record], path, record)
    meta.update(reader="batteryzoom btsda", instrument="Neware", warnings=notes)
    return out, meta


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_.]", "", str(name).lower())


def _btsda_header(line: str) -> bool:
    # DataPoint with Neware's own Step Type (Arbin's exports have Data Point and Step
    # Index too, but no Step Type)
    low = line.lower().replace(" ", "")
    return "datapoint" in low and "steptype" in low


def _read_btsda_3level(path: Path, column_map=None, units=None, **_: Any):
    """The "regular" BTSDA export: cycle, step and record rows interleaved.

    Row 1 is the cycle header (``Cycle ID, ...``), row 2 the step header (``, Step ID,
    Step Name, ...``), row 3 the record header (``, , Record ID, Time, Voltage(V), ...``).
    A data row belongs to the level of its first non-empty column; a record row belongs to
    the step and cycle rows above it (the first step keeps its own index even when its row
    shares the line of its cycle's row).
    """
    frame, cyc, sid, sname, notes = _three_level_records(path)
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
    if "Record ID" in frame.columns:
        out["_record"] = numeric(frame["Record ID"], path, "Record ID")
    meta.update(reader="batteryzoom btsda three-level", instrument="Neware", warnings=notes)
    return out, meta


def _three_level_records(path: Path) -> tuple[pd.DataFrame, list, list, list, list[str]]:
    """The record rows of a three-level export as a table, with the cycle id, step id and
    step name each record row sits under, and the damaged lines left out."""
    raw = read_bytes(path)
    lines = split_lines(decode(raw)[0])
    if len(lines) < 4:
        raise FileFormatError(path, "three-level export has no data rows", "re-export the record")
    if not raw.endswith(b"\n") and lines[-1].startswith(",,"):
        # no line break at the end: the last record line may be cut (a truncated copy)
        n_cells = len(lines[2].split("\t" if lines[0].count("\t") > lines[0].count(",") else ","))
        sep = "\t" if lines[0].count("\t") > lines[0].count(",") else ","
        recs = [ln for ln in lines[-21:] if ln.startswith(sep * 2)]
        if lines[-1].count(sep) + 1 < n_cells or cut_last_line(recs, sep):
            lines = lines[:-1]
            cut_note = [f"the last line (line {len(lines) + 1}) ends without a line break and is cut short "
                        "(file truncated?): left out"]
        else:
            cut_note = []
    else:
        cut_note = []
    sep = "\t" if lines[0].count("\t") > lines[0].count(",") else ","
    rec_header = [c.strip() for c in lines[2].split(sep)]
    step_header = [c.strip() for c in lines[1].split(sep)]
    name_col = step_header.index("Step Name") if "Step Name" in step_header else 2
    cycle_id = step_id = None
    step_name = ""
    records, cyc, sid, sname, bad = [], [], [], [], []
    # most exports write a cycle's row, then each step's row, above their records; some
    # write each summary row below its records: there a summary row closes the records
    # above it (the first step's included), which wait for it in these lists
    summary_after = None
    wait_step: list[int] = []
    wait_cycle: list[int] = []
    for no, ln in enumerate(lines[3:], start=4):
        if not ln.strip():
            continue
        if "\x00" in ln:
            bad.append(no)
            continue
        cells = ln.split(sep)
        level = 0 if cells[0].strip() else 1 if len(cells) > 1 and cells[1].strip() else 2
        # a record line with a cell too few (the last may be left off) or with text past
        # the header's cells (two lines spliced into one by lost bytes) is damaged
        if level == 2 and (len(cells) < len(rec_header) - 1 or any(c.strip() for c in cells[len(rec_header):])):
            bad.append(no)
            continue
        if summary_after is None:
            summary_after = level == 2
        if level == 0:
            cycle_id = cells[0].strip()
            for r in wait_cycle:
                cyc[r] = cycle_id
            wait_cycle = []
            if summary_after:
                cycle_id = None
        elif level == 1:
            step_id = cells[1].strip()
            step_name = cells[name_col].strip() if len(cells) > name_col else ""
            for r in wait_step:
                sid[r], sname[r] = step_id, step_name
            wait_step = []
            if summary_after:
                step_id = None
        else:
            if step_id is None:
                wait_step.append(len(records))
            if cycle_id is None:
                wait_cycle.append(len(records))
            records.append(cells)
            cyc.append(cycle_id)
            sid.append(step_id)
            sname.append(step_name)
    if wait_step or wait_cycle:
        raise FileFormatError(path, f"three-level export has {max(len(wait_step), len(wait_cycle))} record rows "
                                    "under no step or cycle row",
                              "re-export the record (the export is cut or its summary rows are missing)")
    if not records:
        raise FileFormatError(path, "three-level export holds no record rows", "re-export with records included")
    if len(bad) > max(3, len(records) // 100):
        raise FileFormatError(path, f"three-level export has {len(bad)} damaged lines (first: {bad[:5]})",
                              "re-export the record")
    notes = cut_note + ([f"{len(bad)} damaged line(s) left out: {bad[:10]}"] if bad else [])
    width = len(rec_header)
    frame = pd.DataFrame([r[:width] + [""] * (width - len(r)) for r in records], columns=rec_header)
    frame = frame.loc[:, [c for c in frame.columns if c]]
    return frame, cyc, sid, sname, notes


# --------------------------------------------------------------------------- sniffing


def _is_ndax(sample: Sample) -> str | None:
    if any(n.lower().endswith(".ndc") for n in sample.zip_names):
        return "a zip archive holding .ndc members"
    return None


def _is_nda(sample: Sample) -> str | None:
    if sample.head.startswith(b"NEWARE"):
        return "the NEWARE magic bytes"
    names = sample.zip_names
    if len(names) == 1 and names[0].lower().endswith(".nda"):
        return f"a zip archive holding one .nda file ({names[0]})"
    return None


def _is_btsda(sample: Sample) -> str | Evidence | None:
    if sample.container == "text":
        for ln in sample.lines[:5]:
            if _btsda_header(ln):
                return Evidence("a header with Neware's DataPoint and Step Type/Step Index", sure=False)
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
register("neware-nda", "Neware BTS 7 binary (.nda, or a zip holding one), via fastnda", match=_is_nda,
         read=_read_binary, priority=10)
# after Arbin's workbooks (a 'Channel' sheet) and the other text formats' own markers
register("neware-btsda", "Neware BTSDA flat export (.csv/.xlsx)", match=_is_btsda, read=_read_btsda, priority=50)
register("neware-btsda-3level", "Neware BTSDA three-level (cycle/step/record) export (.csv)",
         match=_is_btsda_3level, read=_read_btsda_3level, priority=40)
