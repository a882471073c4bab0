"""Reference spectra: XDI files, two-column text (eV or keV), CSV/TSV.

Every reader returns a 1-D :class:`xarray.DataArray` with dimension ``energy`` (eV,
float64, strictly increasing) holding the absorbance column; other numeric columns of the
file ride along as coordinates on the same ``energy`` dimension.

>>> import batteryzoom as bz
>>> nio = bz.io.read_spectrum(bz.data.fetch("real/xanes/ref-nio")[0])  # two columns, energy in keV
>>> nio.energy.values[:2], nio.attrs["energy_unit_in_file"]
(array([8200., 8205.]), 'keV')
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import FileFormatError

__all__ = ["read_spectrum", "KEV_THRESHOLD"]

# A Ni K-edge (8.33 keV) or any hard-X-ray energy written in keV is below this; in eV above.
KEV_THRESHOLD = 200.0
# XDI column names tried, in order, for the absorbance when ``column`` is not given.
_XDI_PREFERRED = ("mutrans", "mu", "mufluor", "mu_trans", "norm", "xmu", "mufl", "murefer")
_NUMBER = re.compile(r"^[\s,;]*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _split(line: str) -> list[str]:
    return [tok for tok in re.split(r"[\s,;]+", line.strip()) if tok]


def _parse_table(path: Path, lines: list[str]) -> tuple[list[str] | None, np.ndarray]:
    """Numeric rows of a text table; the last non-numeric line before them names the columns."""
    header: list[str] | None = None
    rows: list[list[float]] = []
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#") or not _NUMBER.match(line):
            if not rows:  # header lines before the data
                names = _split(line.lstrip("#"))
                if names:
                    header = names
                continue
            raise FileFormatError(
                path, f"line {n} is not numeric ({line[:60]!r}) after the data started",
                "remove the stray line or pass a file with one header block then numeric rows",
            )
        try:
            rows.append([float(tok) for tok in _split(line)])
        except ValueError:
            raise FileFormatError(path, f"line {n} has a non-numeric value: {line[:60]!r}") from None
    if not rows:
        raise FileFormatError(path, "no numeric rows found", "expected columns: energy, absorbance")
    width = min(len(r) for r in rows)
    if width < 2:
        raise FileFormatError(path, f"needs at least two columns (energy, absorbance); found {width}")
    if any(len(r) != len(rows[0]) for r in rows):
        raise FileFormatError(path, "rows have different numbers of columns", "check the delimiter")
    return header, np.asarray(rows, dtype=np.float64)


def _xdi_columns(path: Path, lines: list[str]) -> tuple[dict[int, tuple[str, str]], dict[str, str]]:
    columns: dict[int, tuple[str, str]] = {}
    meta: dict[str, str] = {}
    for line in lines:
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        m = re.match(r"Column\.(\d+)\s*:\s*(\S+)\s*(\S*)", body, re.IGNORECASE)
        if m:
            columns[int(m.group(1))] = (m.group(2), m.group(3))
        elif ":" in body and not body.startswith("/"):
            key, _, value = body.partition(":")
            meta[key.strip()] = value.strip()
    return columns, meta


def read_spectrum(
    path: str | os.PathLike,
    *,
    column: str | int | None = None,
    energy_unit: str | None = None,
) -> xr.DataArray:
    """Read one spectrum (XDI, two or more text columns, CSV or TSV).

    Parameters
    ----------
    path : path-like
        An XDI file (``# XDI/1.0`` first line), or a text table whose first column is the
        energy and another column the absorbance (whitespace, comma, semicolon or tab
        separated; ``#`` comments and one header line allowed).
    column : str or int, optional
        Which column is the absorbance: a name (XDI ``Column.N`` label or header word) or a
        0-based index. Default: for XDI the first of ``mutrans, mu, mufluor, norm, ...``
        present, otherwise column 1.
    energy_unit : {"eV", "keV"}, optional
        Unit of the energy column. Default: from the XDI label, else detected (values
        below 200 are keV: hard-X-ray edges sit at thousands of eV).

    Returns
    -------
    xarray.DataArray
        ``(energy,)`` float64; ``energy`` in eV, strictly increasing. ``attrs``: ``source``,
        ``energy_unit_in_file``, ``column``, and XDI metadata (e.g. ``Element.symbol``).

    Raises
    ------
    FileFormatError
        Unreadable, non-numeric, fewer than two columns, unknown column, or energies that
        repeat or go back and forth (a descending scan is reversed, not rejected).

    Examples
    --------
    An XDI file of a Ni foil (APS 13-ID-C): ``mutrans`` is the absorbance, the other
    columns ride along, the header's fields become attrs:

    >>> import batteryzoom as bz
    >>> foil = bz.io.read_spectrum(bz.data.fetch("real/xanes/ni-foil")[0])
    >>> foil.name, foil.sizes["energy"], list(foil.coords), foil.attrs["Element.symbol"]
    ('mutrans', 418, ['energy', 'i0'], 'Ni')
    >>> float(foil.energy[0]), foil.attrs["energy_unit_in_file"]
    (8133.0, 'eV')
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise FileFormatError(path, f"cannot read: {exc}") from exc
    lines = text.splitlines()
    attrs: dict = {"source": str(path)}
    if bool(lines) and lines[0].lstrip("#").strip().upper().startswith("XDI"):
        names, table, xdi_unit, default_column = _read_xdi(path, lines, attrs)
        energy_unit = energy_unit if energy_unit is not None else xdi_unit
    else:
        names, table = _parse_table(path, lines)
        if names is not None and len(names) != table.shape[1]:
            names = None
        names = names or ["energy", "absorbance"] + [f"col{i}" for i in range(2, table.shape[1])]
        default_column = 1
    column = _column_index(path, names, table.shape[1], default_column if column is None else column)
    energy, energy_unit, order = _energy_ev(path, table[:, 0], energy_unit)
    table = table[order]
    coords = {"energy": ("energy", energy, {"units": "eV"})}
    for i, name in enumerate(names):
        if i not in (0, column) and name not in coords:
            coords[name] = ("energy", table[:, i])
    attrs.update({"energy_unit_in_file": energy_unit, "column": names[column]})
    return xr.DataArray(table[:, column], dims=("energy",), coords=coords, name=names[column], attrs=attrs)


def _read_xdi(path: Path, lines: list[str], attrs: dict) -> tuple[list[str], np.ndarray, str | None, int]:
    """An XDI file's column names, table, energy unit (from ``Column.1``; None when it
    says neither eV nor keV) and default absorbance column; its header fields go to attrs."""
    cols, meta = _xdi_columns(path, lines)
    attrs.update({k: v for k, v in meta.items() if len(v) < 200})
    _, table = _parse_table(path, [ln for ln in lines if not ln.startswith("#")])
    names = [cols.get(i + 1, (f"col{i + 1}", ""))[0] for i in range(table.shape[1])]
    unit = cols.get(1, ("energy", "eV"))[1]
    energy_unit = "keV" if unit.lower() == "kev" else ("eV" if unit.lower() == "ev" else None)
    lowered = [n.lower() for n in names]
    default_column = next((lowered.index(c) for c in _XDI_PREFERRED if c in lowered), 1)
    return names, table, energy_unit, default_column


def _column_index(path: Path, names: list[str], width: int, column: str | int) -> int:
    """The absorbance column's index (by name, case-insensitive, or index; never 0)."""
    if isinstance(column, str):
        lowered = [n.lower() for n in names]
        if column.lower() not in lowered:
            raise FileFormatError(path, f"no column named {column!r}; columns are {names}",
                                  "pass column= one of those names or a 0-based index")
        column = lowered.index(column.lower())
    if not 0 < int(column) < width:
        raise FileFormatError(path, f"column={column} is out of range 1..{width - 1}",
                              "column 0 is the energy; pick another")
    return int(column)


def _energy_ev(path: Path, energy: np.ndarray, energy_unit: str | None) -> tuple[np.ndarray, str, slice]:
    """``(energy in eV, increasing; the unit in the file; the row order that sorts it)``:
    keV detected below :data:`KEV_THRESHOLD`; a descending scan is reversed, any other
    non-increasing step is refused."""
    energy = energy.copy()
    if energy_unit is None:
        energy_unit = "keV" if np.nanmedian(energy) < KEV_THRESHOLD else "eV"
    if energy_unit.lower() not in ("ev", "kev"):
        raise FileFormatError(path, f"energy_unit={energy_unit!r} is not 'eV' or 'keV'")
    if energy_unit.lower() == "kev":
        energy = energy * 1000.0
    order = slice(None)
    step = np.diff(energy)
    if np.all(step < 0):  # a scan written from high to low energy
        order = slice(None, None, -1)
    elif not np.all(step > 0):
        bad = int(np.nonzero(step <= 0)[0][0])
        raise FileFormatError(
            path,
            f"energies are not strictly increasing: row {bad + 1} ({energy[bad]:.3f} eV) is followed "
            f"by {energy[bad + 1]:.3f} eV",
            "merge or remove repeated points (e.g. average duplicates) before reading",
        )
    return energy[order], energy_unit, order
