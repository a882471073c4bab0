"""BioLogic: EC-Lab binary ``.mpr`` (through galvani) and the EC-Lab / BT-Lab text exports
(read here with pandas).

- ``biologic-mpr``: ``BIO-LOGIC MODULAR FILE`` magic; galvani is GPL-3.0, so it is an
  optional extra (``pip install 'batteryzoom[gpl]'``). An OCV technique (technique code
  0x0B in the settings module) records no current: it is read as an open circuit (I = 0),
  and ``attrs`` says so.
- ``biologic-mpt``: text, in three header variants: ``EC-Lab ASCII FILE`` or ``BT-Lab
  ASCII FILE`` with ``Nb header lines : N`` (the column names on line N), or the column
  names on the first line (an ``.mpt`` whose header block was cut off: ``mode``,
  ``ox/red``, ``time/s``, ``Ecell/V``...). Decimal commas (European locales) are read.
  The ``time/s`` column may hold absolute date-times (BT-Lab's "absolute time" option):
  the test time then starts at the first one, and the dates are the wall clock.

The columns read (units from the names, ``I/mA``, ``Ewe/V``, ``(Q-Qo)/mA.h``): ``time/s``,
``Ewe/V`` (or ``<Ewe>/V``, ``Ecell/V``), ``I/mA`` (or ``<I>/mA``; GCPL files with only
``dq/mA.h`` get I = dq/dt), ``(Q-Qo)/mA.h`` (the net charge over the test), ``Ns`` and
``half cycle`` (the step key), ``cycle number``, ``Temperature/°C``, and ``freq/Hz``
(impedance rows, typed ``other``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError, InputError, MissingDependencyError
from ._registry import Evidence, register
from ._source import read_bytes
from ._text import parse_table
from ._units import dates_to_unix, is_text, numeric, split_header, unit_factor

if TYPE_CHECKING:
    from .sniff import Sample

_OCV = 0x0B  # EC-Lab's technique code of Open Circuit Voltage (first byte of the settings)
# the column names that start an EC-Lab / BT-Lab data table (its first few columns)
_MPT_NAMES = ("mode", "ox/red", "error", "control changes", "ns changes", "counter inc.", "ns")


def _galvani(path: Path):
    try:
        from galvani import BioLogic
    except ImportError:
        raise MissingDependencyError(
            "galvani", f"Reading the BioLogic file {path}",
            "pip install 'batteryzoom[gpl]' (galvani is GPL-3.0, so it is an optional extra)",
        ) from None
    return BioLogic


def _mpr_table(path: Path) -> tuple[pd.DataFrame, dict]:
    """The EC-Lab table as galvani reads it, and the start date and technique code."""
    BioLogic = _galvani(path)
    raw = read_bytes(path)
    try:
        import io

        mpr = BioLogic.MPRfile(io.BytesIO(raw))
        frame = pd.DataFrame(mpr.data)
    except MissingDependencyError:
        raise
    except Exception as exc:  # noqa: BLE001 - galvani raises ValueError/struct.error/...
        raise FileFormatError(path, f"cannot be read as an EC-Lab file ({type(exc).__name__}: {str(exc)[:150]})",
                              "copy it again from the instrument PC, or export it as .mpt") from None
    info = {"start_date": str(getattr(mpr, "startdate", "")) or None, "technique": _technique(BioLogic, raw)}
    return frame, info


def _technique(BioLogic, raw: bytes) -> int | None:
    """The technique code of the settings module (None when unreadable: a courtesy)."""
    import io

    try:
        fh = io.BytesIO(raw)
        fh.read(len(BioLogic.MPR_MAGIC))
        for module in BioLogic.read_VMP_modules(fh):
            if module["shortname"].strip() == b"VMP Set":
                return int(module["data"][0])
    except Exception:  # noqa: BLE001 - galvani's module reader on a damaged file
        return None
    return None


def _read_mpr(path: Path, column_map=None, units=None, **_: Any):
    frame, info = _mpr_table(path)
    return _from_table(frame, path, "galvani", info, [])


def _is_mpt_names(line: str) -> bool:
    low = line.lower()
    return low.startswith(_MPT_NAMES[:2]) or ("time/s" in low and ("ewe/v" in low or "ecell/v" in low))


def _read_mpt(path: Path, column_map=None, units=None, **_: Any):
    text_head = read_bytes(path, limit=1 << 32)[:4096].decode("latin-1")
    nb = None
    for ln in text_head.splitlines()[:4]:
        if ln.lower().startswith("nb header lines"):
            try:
                nb = int(ln.split(":", 1)[1].strip())
            except (IndexError, ValueError):
                raise FileFormatError(path, f"has an unreadable 'Nb header lines' line: {ln.strip()[:60]!r}",
                                      "re-export it from EC-Lab / BT-Lab") from None
    if nb is not None:
        if not 2 <= nb <= 10_000:
            raise FileFormatError(path, f"says it has {nb} header lines, which no EC-Lab export has",
                                  "re-export it from EC-Lab / BT-Lab")
        table = parse_table(path, header=nb - 1, sep="\t")
        if not _is_mpt_names(table.frame.columns.str.cat(sep="\t")):
            raise FileFormatError(path, f"line {nb} (the header its 'Nb header lines' names) holds no EC-Lab "
                                        "column names: the header block is damaged", "re-export it")
    else:
        table = parse_table(path, header=_is_mpt_names, sep="\t", search_lines=5)
    frame = table.frame
    if frame.columns.size and any(is_text(frame[c]) and frame[c].astype(str).str.contains(r"^-?\d+,\d").any()
                                  for c in frame.columns[:6]):
        # decimal commas (a European Windows locale): "3,5180547E+000"
        frame = frame.apply(lambda c: c.str.replace(",", ".", regex=False) if is_text(c) else c)
    return _from_table(frame, path, "batteryzoom mpt (pandas)", {}, table.notes)


def _column(frame: pd.DataFrame, *names: str) -> str | None:
    return next((c for c in names if c in frame.columns), None)


def _si(frame: pd.DataFrame, col: str, quantity: str, path: Path, source_units: dict) -> np.ndarray:
    """An EC-Lab column (``name/unit``) in SI."""
    unit = split_header(col)[1]
    try:
        factor = unit_factor(quantity, unit.replace(".", "") if unit else unit, f"{path}: column {col!r}")
    except InputError as exc:
        raise FileFormatError(path, str(exc).split(": ", 1)[-1], "re-export it with SI-prefixed units") from None
    source_units[col] = unit
    return numeric(frame[col], path, col) * factor


def _from_table(frame: pd.DataFrame, path: Path, reader: str, info: dict, notes: list[str]):
    if len(frame) == 0:
        raise FileFormatError(path, "holds no records", "check that the technique recorded data")
    voltage_col = _column(frame, "Ewe/V", "<Ewe>/V", "Ecell/V", "<Ecell>/V", "Ewe/mV", "Ecell/mV")
    if voltage_col is None or "time/s" not in frame.columns:
        raise FileFormatError(path, f"EC-Lab table lacks time or Ewe (columns: {list(frame.columns)[:15]})",
                              "record Ewe and time in the technique settings")
    source_units: dict[str, str] = {}
    out = pd.DataFrame(index=frame.index)
    time = frame["time/s"]
    meta_notes: list[str] = []
    if is_text(time) and time.astype(str).str.contains(":").any():
        # BT-Lab's absolute time: dates in the time column
        unix = dates_to_unix(time)
        if np.isnan(unix).any():
            bad = int(np.flatnonzero(np.isnan(unix))[0])
            raise FileFormatError(path, f"its time/s column holds dates, but row {bad + 1} holds {time.iloc[bad]!r}",
                                  "fix or remove that row")
        out["test_time_second"] = unix - unix[0]
        out["unix_time_second"] = unix
        source_units["time/s"] = "absolute date-times (test time counted from the first)"
        meta_notes.append("time/s holds absolute date-times: test_time_second counts from the first row")
    else:
        out["test_time_second"] = numeric(time, path, "time/s")
        source_units["time/s"] = "s"
    out["voltage_volt"] = _si(frame, voltage_col, "voltage", path, source_units)
    out["current_ampere"] = _current(frame, out["test_time_second"].to_numpy(), path, source_units, info,
                                     meta_notes)
    q_col = _column(frame, "(Q-Qo)/mA.h", "(Q-Qo)/A.h", "(Q-Qo)/C")
    if q_col is not None:
        out["net_capacity_ah"] = _si(frame, q_col, "capacity", path, source_units)
    elif "dq/mA.h" in frame.columns:
        out["net_capacity_ah"] = np.cumsum(numeric(frame["dq/mA.h"], path, "dq/mA.h")) * 1e-3
    if "Ns" in frame.columns:
        ns = numeric(frame["Ns"], path, "Ns")
        key = ns.copy()
        if "half cycle" in frame.columns:
            key = ns * 100_000 + numeric(frame["half cycle"], path, "half cycle")
        out["step_index"] = ns + 1
        out["_step_key"] = key
    if "cycle number" in frame.columns:
        out["cycle_count"] = numeric(frame["cycle number"], path, "cycle number") + 1
    if "freq/Hz" in frame.columns:
        out["_eis"] = numeric(frame["freq/Hz"], path, "freq/Hz") > 0
    temp = next((c for c in frame.columns if c.lower().startswith("temperature/")), None)
    if temp is not None:
        values = numeric(frame[temp], path, temp)
        if np.isfinite(values).any() and np.nanmax(np.abs(values)) > 0:
            out["temperature_celsius"] = values
            source_units[temp] = "°C"
    metadata = {k: v for k, v in info.items() if v is not None}
    meta = {"reader": reader, "instrument": "BioLogic", "source_units": source_units, "metadata": metadata,
            "warnings": notes, "notes": meta_notes}
    return out, meta


def _current(frame: pd.DataFrame, t: np.ndarray, path: Path, source_units: dict, info: dict,
             notes: list[str]) -> np.ndarray:
    """The current (A): ``I/mA``, or dq/dt from ``dq/mA.h`` (GCPL files may store only the
    charge increment per point), or 0 for an OCV technique (an open circuit)."""
    current_col = _column(frame, "I/mA", "<I>/mA", "I/A", "<I>/A", "I/uA", "I/µA")
    if current_col is not None:
        return _si(frame, current_col, "current", path, source_units)
    if "dq/mA.h" in frame.columns:
        dt = np.diff(t, prepend=np.nan)
        dq = numeric(frame["dq/mA.h"], path, "dq/mA.h") * 1e-3 * 3600.0  # A s
        with np.errstate(divide="ignore", invalid="ignore"):
            current = np.where(dt > 0, dq / dt, np.nan)
        source_units["dq/mA.h"] = "mAh (current derived as dq/dt)"
        return pd.Series(current).bfill().fillna(0.0).to_numpy()
    if info.get("technique") == _OCV:
        notes.append("an OCV (open circuit voltage) technique records no current: current_ampere is 0 "
                     "(the open circuit's)")
        source_units["I"] = "none recorded (OCV technique: 0)"
        return np.zeros(len(frame))
    raise FileFormatError(path, f"EC-Lab table has no current (neither I nor dq; columns {list(frame.columns)[:10]}) "
                                "and is not an OCV technique", "record I in the technique settings")


def _is_mpr(sample: Sample) -> str | None:
    return "the BIO-LOGIC MODULAR FILE magic" if sample.head.startswith(b"BIO-LOGIC MODULAR FILE") else None


def _is_mpt(sample: Sample) -> str | Evidence | None:
    if sample.container != "text" or not sample.lines:
        return None
    first = sample.lines[0].strip()
    if first in ("EC-Lab ASCII FILE", "BT-Lab ASCII FILE"):
        return f"an {first!r} first line"
    if "Nb header lines" in sample.text[:300]:
        return "'Nb header lines' in the header"
    low = first.lower()
    if low.startswith("mode\tox/red\terror") or (low.startswith("mode\t") and "time/s" in low):
        return Evidence("EC-Lab's column names on the first line (mode, ox/red, error, ..., time/s) "
                        "with no header block", sure=False)
    return None


register("biologic-mpr", "BioLogic EC-Lab binary (.mpr), via galvani (extra 'gpl')", match=_is_mpr,
         read=_read_mpr, priority=10)
register("biologic-mpt", "BioLogic EC-Lab / BT-Lab text export (.mpt/.txt, with or without its header block)",
         match=_is_mpt, read=_read_mpt, priority=20)
