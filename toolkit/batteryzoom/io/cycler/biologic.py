"""BioLogic EC-Lab: binary ``.mpr`` (``BIO-LOGIC MODULAR FILE`` magic) and text ``.mpt``
(``EC-Lab ASCII FILE`` first line, or ``Nb header lines``), both through galvani.

galvani is GPL-3.0, so it is an optional extra (``pip install 'batteryzoom[gpl]'``). The
columns read: ``time/s``, ``Ewe/V`` (or ``<Ewe>/V``, ``Ecell/V``), ``I/mA`` (or
``<I>/mA``; GCPL files with only ``dq/mA.h`` get I = dq/dt), ``(Q-Qo)/mA.h`` (the net
charge over the test), ``Ns`` and ``half cycle`` (the step key), ``cycle number`` and
``freq/Hz`` (impedance rows, typed ``other``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError, MissingDependencyError
from ._registry import register
from ._tables import head_text

if TYPE_CHECKING:
    from .sniff import Sample


def _galvani(path: Path):
    try:
        from galvani import BioLogic
    except ImportError:
        raise MissingDependencyError(
            "galvani", f"Reading the BioLogic file {path}",
            "pip install 'batteryzoom[gpl]' (galvani is GPL-3.0, so it is an optional extra)",
        ) from None
    return BioLogic


def _galvani_table(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The EC-Lab table as galvani reads it, and the start date of an ``.mpr``."""
    BioLogic = _galvani(path)
    try:
        if path.suffix.lower() == ".mpt" or head_text(path, 64).startswith("EC-Lab ASCII"):
            with open(path, "rb") as fh:
                data, _comments = BioLogic.MPTfile(fh, encoding="latin-1")
            return pd.DataFrame(data), None
        with open(path, "rb") as fh:  # galvani leaves a path's handle open; give it ours
            mpr = BioLogic.MPRfile(fh)
        return pd.DataFrame(mpr.data), str(getattr(mpr, "startdate", "")) or None
    except MissingDependencyError:
        raise
    except Exception as exc:  # noqa: BLE001 - galvani raises ValueError/struct.error/...
        raise FileFormatError(path, f"cannot be read as an EC-Lab file ({type(exc).__name__}: {exc})",
                              "copy it again from the instrument PC, or export it as .mpt") from None


def _read(path: Path, column_map=None, units=None, **_: Any):
    frame, date = _galvani_table(path)
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
    out["current_ampere"] = _current(frame, out["test_time_second"].to_numpy(), path, source_units)
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


def _current(frame: pd.DataFrame, t: np.ndarray, path: Path, source_units: dict) -> np.ndarray:
    """The current (A): ``I/mA``, or dq/dt from ``dq/mA.h`` (GCPL files may store only the
    charge increment per point)."""
    cols = frame.columns
    current_col = next((c for c in ("I/mA", "<I>/mA") if c in cols), None)
    if current_col is not None:
        source_units[current_col] = "mA"
        return frame[current_col].to_numpy(np.float64) * 1e-3
    if "dq/mA.h" in cols:
        dt = np.diff(t, prepend=np.nan)
        dq = frame["dq/mA.h"].to_numpy(np.float64) * 1e-3 * 3600.0  # A s
        with np.errstate(divide="ignore", invalid="ignore"):
            current = np.where(dt > 0, dq / dt, np.nan)
        source_units["dq/mA.h"] = "mAh (current derived as dq/dt)"
        return pd.Series(current).bfill().fillna(0.0).to_numpy()
    raise FileFormatError(path, "EC-Lab table has neither I/mA nor dq/mA.h", "record I in the technique")


def _is_mpr(sample: Sample) -> str | None:
    return "the BIO-LOGIC MODULAR FILE magic" if sample.head.startswith(b"BIO-LOGIC MODULAR FILE") else None


def _is_mpt(sample: Sample) -> str | None:
    if sample.container != "text":
        return None
    if sample.lines and sample.lines[0].startswith("EC-Lab ASCII FILE"):
        return "an 'EC-Lab ASCII FILE' first line"
    if "Nb header lines" in sample.text[:300]:
        return "'Nb header lines' in the header"
    return None


register("biologic-mpr", "BioLogic EC-Lab binary (.mpr), via galvani (extra 'gpl')", match=_is_mpr, read=_read,
         priority=10)
register("biologic-mpt", "BioLogic EC-Lab text (.mpt), via galvani (extra 'gpl')", match=_is_mpt, read=_read,
         priority=20)
