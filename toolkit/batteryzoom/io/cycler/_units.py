"""Units and cell values of cycler tables: unit factors to SI, units in headers, numbers
(with or without a unit in the cell), ``h:mm:ss`` clocks and dates.

Shared by every reader of a text or Excel table (``_tables.map_columns``) and by the
readers that convert columns by hand (Maccor, Arbin ``.res``, the Neware exports).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import FileFormatError, InputError

UNIT_FACTORS: dict[str, dict[str, float]] = {
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
    "time": {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3, "min": 60.0, "minutes": 60.0,
             "h": 3600.0, "hr": 3600.0, "hours": 3600.0, "d": 86400.0},
    "temperature": {"c": 1.0, "°c": 1.0, "degc": 1.0, "celsius": 1.0},
}
SI_UNIT = {"current": "A", "voltage": "V", "capacity": "Ah", "energy": "Wh", "time": "s", "temperature": "°C"}

# header:  "Current(mA)", "Voltage / mV", "Time [s]", "I/mA", "Capacity(mAh/g)"
_UNIT_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<p>[^()]*)\)|\[(?P<b>[^\[\]]*)\]|/\s*(?P<s>[^/]+))\s*$")
# the "unit" of a clock column: "h:min:s.ms", "hh:mm:ss"
_CLOCK_UNIT = re.compile(r"h+:m+(in)?:s+(\.m*s*)?")
# a clock cell: "h:mm:ss.fff", "1d 02:03:04.5", "1-02:03:04"
_CLOCK = re.compile(r"^\s*(?:(?P<d>\d+)\s*d\s*|(?P<d2>\d+)-)?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d*)?)\s*$")
# a cell holding a number and its unit: "4.1 V", "-250mA". Written so that no two parts can
# share a run of digits (``\d+\.?\d*`` could split 30,000 digits 30,000 ways: 30 s per cell)
_NUM_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµμ°.]+)\s*$")
# a Celsius unit whose degree sign was mangled by an encoding round trip
_DEGREE_C = re.compile(r"[^a-z0-9\s]{0,3}c|degc|deg\.c")
# header names longer than this are not column names (and are not parsed by regex)
_MAX_HEADER = 200


def is_text(values: pd.Series) -> bool:
    """Whether a column holds text (object or pandas' string dtype), not numbers or dates."""
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)
                or isinstance(values.dtype, pd.CategoricalDtype))


def split_header(header: str) -> tuple[str, str | None]:
    """``"Current(mA)" -> ("current", "ma")``; ``"Voltage" -> ("voltage", None)``."""
    text = str(header).strip().replace("\ufffd", "µ")
    if len(text) > _MAX_HEADER:
        return text.lower(), None
    m = _UNIT_IN_HEADER.match(text)
    if m and m.group("name"):
        unit = next(g for g in (m.group("p"), m.group("b"), m.group("s")) if g is not None)
        return m.group("name").strip().lower(), unit.strip().lower()
    return text.lower(), None


def is_clock_unit(unit: str) -> bool:
    """Whether a header unit (lower case, no spaces) names a clock (``h:min:s.ms``)."""
    return _CLOCK_UNIT.fullmatch(unit) is not None


def unit_factor(quantity: str, unit: str | None, where: str) -> float:
    """The factor from ``unit`` to the SI unit of ``quantity`` (1 for no unit or a clock).

    Raises :class:`~batteryzoom.errors.InputError` naming ``where`` for an unknown unit.
    """
    if unit is None or unit == "":
        return 1.0
    u = unit.strip().lower().replace(" ", "").replace("\ufffd", "µ")
    if quantity == "time" and is_clock_unit(u):
        return 1.0  # clock strings, parsed separately
    table = UNIT_FACTORS[quantity]
    if u in table:
        return table[u]
    if quantity == "temperature" and _DEGREE_C.fullmatch(u):
        return 1.0  # "°C" written in a legacy code page and decoded as another ("Â°C", "�C")
    raise InputError(
        f"{where}: unit {unit!r} is not a known {quantity} unit "
        f"(known: {', '.join(sorted(table))}). Give the unit with units={{...}} or fix the header."
    )


def clock_to_seconds(values: pd.Series, path: Path, column: str) -> np.ndarray:
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


def dates_to_unix(values: pd.Series, fmt: str | None = None, dayfirst: bool = False) -> np.ndarray:
    """Date strings -> seconds since 1970 (float64; NaN where a cell is not a date).

    Naive dates (no time zone: the instrument PC's local clock) are taken as UTC. The
    seconds come from a timedelta, never from the datetime64 integer, whose unit is ns in
    pandas 2 and may be us or s in pandas 3 (reading it as ns made times 1000x too small).
    """
    if len(values) == 0:
        return np.array([], dtype=np.float64)
    if pd.api.types.is_datetime64_any_dtype(values):
        ts = values
    else:
        text = values.astype(str).str.strip()
        with warnings.catch_warnings():
            # "could not infer format": the mixed fallback is intended
            warnings.simplefilter("ignore", UserWarning)
            ts, per_cell = _to_datetime(text, fmt, dayfirst)
            if fmt is None and ts.isna().any() and ts.notna().any():
                # one format inferred from the first cell: parse the rest one by one
                ts, per_cell = _to_datetime(text, "mixed", dayfirst)
            if per_cell:
                ts = ts.where(_same_shape(text, ts))
    ts = pd.Series(ts)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    seconds = (ts - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(np.float64, na_value=np.nan)


def _same_shape(text: pd.Series, ts: pd.Series) -> np.ndarray:
    """Cells shaped like the column's most common date: digit runs, fractional seconds and
    the time-zone offset aside. An instrument writes one date format; a cell of another shape
    parsed cell by cell (dateutil reads ``"1.2.3"`` as 2003-01-02) is damage, not a date."""
    shape = (text.str.replace(r"\.\d+", "", regex=True).str.replace(r"[+-]\d\d:?\d\d$|Z$", "", regex=True)
             .str.replace(r"\d+", "9", regex=True))
    parsed = ts.notna().to_numpy()
    if not parsed.any():
        return parsed
    common = shape[parsed].value_counts().index[0]
    return parsed & (shape == common).to_numpy()


def _to_datetime(text: pd.Series, fmt: str | None, dayfirst: bool) -> tuple[pd.Series, bool]:
    """pandas' parse, damage-proof: mixed time zones, out-of-range dates and the like make
    the cells that cause them NaT instead of raising. Also whether cells were parsed each in
    its own format (``"mixed"`` or one by one), which lets damage pass for a date."""
    try:
        parsed = pd.to_datetime(text, errors="coerce", format=fmt, dayfirst=dayfirst)
        return pd.Series(parsed, index=text.index), fmt == "mixed"
    except (ValueError, TypeError, OverflowError):
        out = []
        for cell in text:
            try:
                ts = pd.to_datetime(cell, errors="coerce", dayfirst=dayfirst)
                out.append(ts.tz_convert("UTC").tz_localize(None) if getattr(ts, "tzinfo", None) else ts)
            except (ValueError, TypeError, OverflowError):
                out.append(pd.NaT)
        return pd.Series(pd.to_datetime(out, errors="coerce"), index=text.index), True


def numeric(values: pd.Series, path: Path, column: str) -> np.ndarray:
    """A column as float64; empty cells NaN; any other non-number names its row."""
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


def numeric_with_units(values: pd.Series, path: Path, column: str) -> tuple[np.ndarray, str | None]:
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
        return numeric(merged, path, column), found[0]
    return numeric(values, path, column), None
