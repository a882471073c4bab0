"""Spectra as text tables: XDI, SPEC-style scans, MRCAT files, plain columns (CSV/TSV).

:func:`parse_table` finds the data block of a text file (the first run of lines whose every
token is a number, at least two per line, the next such line of the same width), the
column names in the header above it, the energy unit where the header states one, and
(for XDI) the header's fields. After the data starts, every line must be a row of the same
width (``#`` comment lines are skipped): a stray, short or long line is an error naming
it, never a row silently dropped.

Header layouts understood:

===========  ===================================================================
XDI          ``# Column.N: name unit`` fields, ``# Field.name: value`` metadata
SPEC         ``#L`` labels separated by two spaces, or numbered labels
             ``#C 1_Energy (keV) 2_sec 3_i0 ...`` (APS 12-BM)
MRCAT        free text, a dashed line, then ``energy Io It Iref If``
plain        the last header line with one name per column (``#`` allowed)
===========  ===================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import FileFormatError

__all__ = ["Table", "parse_table"]

# Linear-time patterns: no nested or overlapping quantifiers (a 30,000-digit cell stays fast).
_SPLIT = re.compile(r"[\s,;]+")
_NUM = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity)", re.IGNORECASE)
_XDI_COLUMN = re.compile(r"Column\.(\d+)\s*:\s*(\S+)[ \t]*(\S*)", re.IGNORECASE)
_NUMBERED = re.compile(r"(\d+)_(\S+)")
_UNIT_IN_PARENS = re.compile(r"\(\s*([A-Za-zµ]+)\s*\)")
# an XDI header field: "# Namespace.tag: value" (XDI namespaces are capitalized)
_XDI_FIELD = re.compile(r"#[ \t]*[A-Z][A-Za-z0-9_]*\.[A-Za-z0-9_]+[ \t]*:")
# no header line of a spectrum file is this long; a longer one is damage (or not a spectrum)
_MAX_HEADER_LINE = 4096


@dataclass
class Table:
    """A text spectrum's columns (internal to :mod:`batteryzoom.io.spectra`)."""

    values: np.ndarray  # (rows, columns) float64, file order
    names: list[str] | None  # one per column, or None when the header names none
    energy_unit: str | None  # "eV"/"keV" when the header states it
    layout: str  # "xdi", "spec", "mrcat", "text"
    meta: dict = field(default_factory=dict)  # XDI header fields
    first_row_line: int = 0  # 1-based line number of the first data row
    skipped_comments: int = 0  # '#' lines inside the data block
    cut_last_row: bool = False  # the file ends inside its last row (no line end after it)
    xdi_like: bool = False  # XDI header fields without the '# XDI/' line that makes a file XDI


def _tokens(line: str) -> list[str]:
    return [t for t in _SPLIT.split(line.strip()) if t]


def _is_row(tokens: list[str]) -> bool:
    return len(tokens) >= 2 and all(_NUM.fullmatch(t) for t in tokens)


def _unit(text: str | None) -> str | None:
    u = (text or "").strip().lower().strip("()[]")
    return {"ev": "eV", "kev": "keV"}.get(u)


def _unit_from_name(name: str) -> str | None:
    low = name.lower()
    m = _UNIT_IN_PARENS.search(low)
    if m:
        return _unit(m.group(1))
    if low.endswith(("_kev", "/kev", "kev")) and "energy" in low or low in ("e_kev", "kev"):
        return "keV"
    if low.endswith(("_ev", "/ev", "(ev)")) or low in ("e_ev", "ev"):
        return "eV"
    return None


def _garbled(line: str) -> bool:
    """A header line holding what binary bytes decode to (C0 controls, DEL, the Latin-1
    range a non-UTF-8 file is read in): a run of 8 of them, or more than half the line
    (at least 8). A comment in another script decodes from UTF-8 above U+00FF and is not
    counted; a Latin-1 comment has a few accented letters, not runs."""
    run = odd = 0
    for c in line:
        if (ord(c) < 32 and c != "\t") or 127 <= ord(c) < 256:
            odd += 1
            run += 1
            if run >= 8:
                return True
        else:
            run = 0
    return odd >= 8 and odd > 0.5 * len(line)


def parse_table(path: Path, text: str) -> Table:
    """The numeric table of a text spectrum and what its header says (see module docstring)."""
    lines = text.splitlines()
    is_xdi = bool(lines) and lines[0].lstrip("#").strip().upper().startswith("XDI/")
    start = _data_start(path, lines, is_xdi)
    values, skipped = _rows(path, lines, start)
    width = values.shape[1]
    header = lines[:start]
    long = next((n for n, ln in enumerate(header, 1) if len(ln) > _MAX_HEADER_LINE), None)
    if long is not None:
        raise FileFormatError(path, f"header line {long} is {len(header[long - 1])} characters long: no spectrum "
                                    "file writes such a line (damaged?)", "copy the file again, or repair that line")
    garbled = next((n for n, ln in enumerate(header, 1) if _garbled(ln)), None)
    if garbled is not None:
        raise FileFormatError(path, f"header line {garbled} is mostly control or non-text bytes: damaged",
                              "copy the file again, or repair that line")
    if not is_xdi and lines and lines[0].lstrip("#").strip().upper().startswith("XDI"):
        raise FileFormatError(path, f"its first line {lines[0][:30]!r} starts like XDI's version line but is not "
                                    "'# XDI/1.0': damaged", "repair the first line")
    # a file cut inside its last row ends on a number, with no line end (a complete file
    # ends with one, or at least with the blank after the row's last value)
    cut = bool(text) and not text[-1].isspace() and _is_row(_tokens(text.rsplit("\n", 1)[-1]))
    if is_xdi:
        names, unit, meta = _xdi_header(path, header, width)
        return Table(values, names, unit, "xdi", meta, start + 1, skipped, cut)
    names, unit, layout = _names(header, width)
    xdi_like = any(_XDI_FIELD.match(ln.strip()) for ln in header)
    return Table(values, names, unit, layout, {}, start + 1, skipped, cut, xdi_like)


def _data_start(path: Path, lines: list[str], is_xdi: bool) -> int:
    """Index of the first data row: numeric, and followed by a numeric line of its width
    (a numeric-looking header line such as ``3000 800`` followed by text is header)."""
    candidates = []
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if is_xdi and not candidates:
            return i  # XDI: the header is every '#' line; the first other line is data
        toks = _tokens(s[:_MAX_HEADER_LINE]) if len(s) > _MAX_HEADER_LINE else _tokens(s)
        if _is_row(toks):
            if candidates and candidates[-1][1] == len(toks):
                return candidates[-1][0]
            candidates = [(i, len(toks))]
        else:
            candidates = []
    if candidates:  # a single data row at the very end
        return candidates[-1][0]
    raise FileFormatError(path, "holds no table of numbers (no two consecutive lines of at least two numbers)",
                          "a spectrum needs rows of energy and absorbance (or i0, itrans) values")


def _rows(path: Path, lines: list[str], start: int) -> tuple[np.ndarray, int]:
    rows: list[list[str]] = []
    width = None
    skipped = 0
    for n in range(start, len(lines)):
        s = lines[n].strip()
        if not s:
            continue
        if s.startswith("#"):
            if s[:3].upper() == "#S " and rows:
                raise FileFormatError(path, f"line {n + 1} starts another scan ({s[:40]!r}): the file holds several",
                                      "split the scans into one file each")
            skipped += 1
            continue
        toks = _tokens(s)
        if width is None:
            width = len(toks)
        if len(toks) != width or not all(_NUM.fullmatch(t) for t in toks):
            what = f"has {len(toks)} values, the rows above {width}" if len(toks) != width and _is_row(toks) \
                else f"is not a row of numbers ({s[:60]!r})"
            raise FileFormatError(path, f"line {n + 1} {what}", "the file is damaged or holds a second table: "
                                                               "repair or remove that line")
        rows.append(toks)
    try:
        values = np.array(rows, dtype=np.float64)
    except (ValueError, OverflowError) as exc:  # guarded by _NUM; kept for safety
        raise FileFormatError(path, f"holds a value that is not a number ({exc})") from exc
    return values, skipped


def _xdi_header(path: Path, header: list[str], width: int) -> tuple[list[str], str | None, dict]:
    columns: dict[int, tuple[str, str]] = {}
    meta: dict[str, str] = {}
    in_fields = True
    for line in header:
        body = line.lstrip("#").strip()
        if body.startswith("///"):
            in_fields = False  # free comments follow
            continue
        if not in_fields or not body:
            continue
        m = _XDI_COLUMN.match(body)
        if m:
            columns[int(m.group(1))] = (m.group(2), m.group(3))
        elif ":" in body and not body.upper().startswith("XDI/"):
            key, _, value = body.partition(":")
            if key.strip() and " " not in key.strip():
                meta[key.strip()] = value.strip()[:200]
    if not columns:
        raise FileFormatError(path, "is an XDI file whose header names no column (no 'Column.N:' field)",
                              "restore the header, or pass the file with the XDI line removed")
    missing = sorted(set(range(1, max(columns) + 1)) - set(columns))
    if missing:
        raise FileFormatError(path, f"its header names columns {sorted(columns)} but not {missing}: a header line "
                                    "is lost", "restore the header (Column.N for every column)")
    extra = sorted(k for k in columns if k > width or k < 1)
    if extra:
        raise FileFormatError(path, f"its header names column {extra[0]} but the rows hold {width} values",
                              "the header or the data is damaged")
    names = [columns.get(i + 1, (f"col{i + 1}", ""))[0] for i in range(width)]
    unit = columns.get(1, ("energy", ""))[1]
    return names, _unit(unit), meta


def _names(header: list[str], width: int) -> tuple[list[str] | None, str | None, str]:
    layout = "mrcat" if header and header[0].startswith("MRCAT") else "text"
    for line in reversed(header):
        body = line.strip()
        if not body:
            continue
        if body.startswith("#"):
            layout = "spec" if body[:2] in ("#S", "#L", "#C", "#D") or layout == "spec" else layout
        numbered = _NUMBERED.findall(body)
        if len(numbered) == width and [int(k) for k, _ in numbered] == list(range(1, width + 1)):
            names = [n for _, n in numbered]
            first = body.split(numbered[1][0] + "_", 1)[0] if width > 1 else body
            return names, _unit_from_name(first), "spec"
        if body.startswith("#L"):
            labels = [t for t in re.split(r"\s{2,}", body[2:].strip()) if t]
            if len(labels) == width:
                return labels, _unit_from_name(labels[0]), "spec"
        toks = _tokens(body.lstrip("#"))
        if len(toks) == width and not any(_NUM.fullmatch(t) for t in toks):
            return toks, _unit_from_name(toks[0]), layout
    return None, None, layout
