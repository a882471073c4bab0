"""The public entry point: :func:`read_cycler` (sniff, read, finalise) and :data:`FORMATS`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ...errors import FileFormatError, InputError, MissingDependencyError
from ._registry import formats
from ._source import check_file
from .finalize import finalize
from .sniff import _unknown_fix, detect_format

__all__ = ["read_cycler", "FORMATS"]

#: format name -> one line on what it is (the ``format=`` names :func:`read_cycler` takes)
FORMATS: dict[str, str] = {name: fmt.description for name, fmt in formats().items()}


def read_cycler(
    path: str | os.PathLike,
    format: str = "auto",  # noqa: A002 - the natural name for users
    column_map: Mapping[str, str] | None = None,
    *,
    units: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    rest_current_a: float | None = None,
    limits: Mapping[str, tuple[float, float]] | bool | None = None,
) -> pd.DataFrame:
    """Read a cycler file into one BDF table (see :mod:`batteryzoom.io.cycler` for the columns).

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
    limits : mapping or False, optional
        Plausible ranges of what is read, ``{column: (low, high)}``, updating the defaults
        (``LIMITS``: voltage -10 .. 100 V, current -2000 .. 2000 A, test time up to 20
        years, temperature -100 .. 250 °C, wall clock 1980 .. 2100). A voltage, current or
        time outside refuses the file (damage or a wrong unit); a temperature or wall
        clock outside is left out with a warning. ``False`` checks none.

    Returns
    -------
    pandas.DataFrame
        One row per record, BDF columns, SI units, current positive on charge, total test
        time never decreasing; ``attrs`` holds the metadata and every repair.

    Raises
    ------
    FileFormatError
        Empty, truncated or corrupt file; not a regular file (a FIFO, a device, a folder);
        unknown format, or content two makes' readers match equally (the candidates are
        listed); a record batteryzoom does not read (an EIS sweep, an empty Neware file);
        missing voltage, current or time; mixed or unknown units of an essential column;
        non-numeric cells; values outside ``limits``. The message names the file, the
        problem and the fix.

    Warns
    -----
    CyclerDataWarning
        Something was repaired or left out (damaged lines, rows without voltage or
        current, an implausible optional column), records are missing or repeated, a
        column's unit is unknown (kept as read), or the capacities disagree with the
        integral of the current by more than 2 %; :class:`TimeRepairWarning` (a subclass)
        when a time column was rebuilt or made continuous. ``attrs`` lists them all.
    MissingDependencyError
        The format needs galvani (BioLogic) or mdbtools (Arbin .res).

    Examples
    --------
    A Neware ``.ndax`` record of an LG M50T cell (eight cycles, CCCV charges):

    >>> import batteryzoom as bz
    >>> df = bz.io.read_cycler(bz.data.fetch("real/cycler/neware-m50t")[0])
    >>> df.attrs["format"], df.shape
    ('neware-ndax', (77745, 14))
    >>> row = df.loc[1000]  # a 0.5 A discharge, current negative
    >>> float(row["voltage_volt"]), float(row["current_ampere"]), row["step_type"]
    (3.549, -0.5, 'cc_discharge')
    >>> df.groupby("cycle_count")["discharging_capacity_ah"].max().round(2).tolist()
    [1.3, 4.72, 4.72, 4.72, 4.72, 4.72, 4.72, 4.72]
    """
    path = Path(path)
    registered = formats()
    if format != "auto" and format not in registered:
        raise FileFormatError(path, f"format {format!r} is not supported", _unknown_fix())
    check_file(path)
    fmt = detect_format(path) if format == "auto" else format
    try:
        raw, meta = registered[fmt].read(path, column_map=column_map, units=units, sheet=sheet)
        return finalize(raw, path, fmt, meta, rest_current_a, limits)
    except (FileFormatError, MissingDependencyError):
        raise
    except InputError as exc:
        raise FileFormatError(path, str(exc)) from None
