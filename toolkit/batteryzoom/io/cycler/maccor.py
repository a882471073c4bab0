"""Maccor: MacTest text exports and raw ``.0NN`` text files (``maccor-txt``).

A preamble of up to 20 lines, then a tab-separated table whose header starts with
``Rec#`` (and has ``Cyc#``). ``Amps`` is unsigned: the ``State`` column (``C`` charge,
``D`` discharge, ``R`` rest, ...) gives the direction. ``TestTime``/``StepTime`` are
clocks, ``Amp-hr``/``Watt-hr`` the step's unsigned capacity and energy, ``DPt Time`` the
wall clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import FileFormatError
from ._registry import register
from ._tables import head_text, read_text_table
from ._units import clock_to_seconds, dates_to_unix, numeric

if TYPE_CHECKING:
    from .sniff import Sample

_SIGN = {"C": 1.0, "D": -1.0}


def _read(path: Path, column_map=None, units=None, **_: Any):
    lines = head_text(path, 1 << 16).splitlines()
    header_row = next((i for i, ln in enumerate(lines[:20]) if ln.startswith("Rec#")), None)
    if header_row is None:
        raise FileFormatError(path, "has no Maccor 'Rec#' header line", "export it from MacTest as text")
    frame = read_text_table(path, skiprows=header_row, sep="\t")
    need = {"TestTime", "Amps", "Volts", "State"}
    missing = need - set(frame.columns)
    if missing:
        raise FileFormatError(path, f"Maccor table lacks columns {sorted(missing)}", "re-export with them")
    state = frame["State"].astype(str).str.strip()
    amps = numeric(frame["Amps"], path, "Amps")
    sign = state.map(_SIGN).fillna(0.0).to_numpy()
    # Maccor writes |I|: the State column (C/D/R/...) gives the direction
    out = pd.DataFrame({
        "test_time_second": clock_to_seconds(frame["TestTime"], path, "TestTime"),
        "voltage_volt": numeric(frame["Volts"], path, "Volts"),
        "current_ampere": np.where(np.sign(amps) == 0, 0.0, np.abs(amps)) * np.where(sign == 0, np.sign(amps), sign),
        "step_index": numeric(frame["Step"], path, "Step"),
        "step_name": state.to_numpy(),
    })
    if "StepTime" in frame:
        out["step_time_second"] = clock_to_seconds(frame["StepTime"], path, "StepTime")
    if "Cyc#" in frame:
        out["cycle_count"] = numeric(frame["Cyc#"], path, "Cyc#")
    if "Amp-hr" in frame:
        out["capacity_ah"] = numeric(frame["Amp-hr"], path, "Amp-hr")
    if "Watt-hr" in frame:
        out["energy_wh"] = numeric(frame["Watt-hr"], path, "Watt-hr")
    if "DPt Time" in frame:
        out["unix_time_second"] = dates_to_unix(frame["DPt Time"])
    meta = {"reader": "batteryzoom maccor", "instrument": "Maccor",
            "source_units": {"Amps": "A (unsigned; sign from State)", "Volts": "V", "Amp-hr": "Ah"},
            "metadata": {"header": " | ".join(ln.strip() for ln in lines[:header_row])[:400]}}
    return out, meta


def _is_text(sample: Sample) -> str | None:
    for ln in sample.lines[:12]:
        if ln.startswith("Rec#") and "Cyc#" in ln:
            return "a 'Rec#' header line with 'Cyc#'"
    return None


register("maccor-txt", "Maccor text export or raw .0NN text file", match=_is_text, read=_read, priority=30)
