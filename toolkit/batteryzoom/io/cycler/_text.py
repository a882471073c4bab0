"""Delimited text tables of cycler exports, read line by line with every line accounted for.

:func:`parse_table` finds the header line (after any preamble), the separator, and then
checks each data line before pandas parses them: a line with NUL bytes, a line with more
or fewer cells than the header, or a last line cut short (no line end and fewer cells, or
a fixed-decimal number with fewer decimals) is *damage*. A few damaged lines (at most 3,
or 1 % of the lines) are left out and listed in the table's ``notes`` (which
:func:`~.finalize.finalize` warns about); more, and the file is refused naming the first
ones. pandas then parses exactly the lines kept, with quoting off (a stray quote cannot
merge lines), and the row count is checked against them: no line is lost or merged
without a word.

Trailing separators (a Maccor export ends every data line with a tab), whole lines
wrapped in double quotes (Novonix), CRLF line ends, a UTF-8 BOM and blank lines are the
formats' own, not damage.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import FileFormatError
from ._source import decode, read_bytes

__all__ = ["TextTable", "parse_table", "split_lines", "guess_separator", "cut_last_line"]

_SEPARATORS = (",", "\t", ";")
_FIXED_DECIMALS = re.compile(r"^[-+]?\d+\.(\d+)$")


@dataclass
class TextTable:
    """A parsed text table.

    Attributes
    ----------
    frame : pandas.DataFrame
        The data rows as pandas parsed them (stripped column names, empty names dropped).
    line_no : numpy.ndarray
        The file line (1-based) of each row of ``frame``.
    header_line : int
        The header's file line (1-based).
    sep : str
        The separator.
    preamble : list of str
        The lines before the header.
    notes : list of str
        Damage found and what was done about it (the reader passes them on as warnings).
    encoding : str
        How the bytes were decoded.
    ends_with_newline : bool
        Whether the file's last line is complete.
    """

    frame: pd.DataFrame
    line_no: np.ndarray
    header_line: int
    sep: str
    preamble: list[str]
    notes: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    ends_with_newline: bool = True

    def row_where(self, i: int) -> str:
        """``"row 5 (line 12)"`` for messages."""
        return f"row {i + 1} (line {int(self.line_no[i])})" if 0 <= i < len(self.line_no) else f"row {i + 1}"


def split_lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only (``\\r`` stripped): ``str.splitlines`` would also split on
    form feeds, ``\\x1c``-``\\x1e``, ``\\x85`` and U+2028, which damage can put in a cell."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def guess_separator(line: str) -> str:
    """The most frequent of ``,`` tab ``;`` in a header line (``,`` when none)."""
    return max(_SEPARATORS, key=line.count) if any(s in line for s in _SEPARATORS) else ","


def _unquote(line: str) -> str:
    if len(line) >= 2 and line[0] == '"' and line[-1] == '"' and '"' not in line[1:-1]:
        return line[1:-1]
    return line


def cut_last_line(lines: list[str], sep: str) -> bool:
    """Whether the last of ``lines`` (in a file that ends without a line break) looks cut
    inside its last cell: shorter than the same cell of the lines before it when those
    all have one width (dates, fixed-width numbers), or with fewer decimals when those all
    have one count of decimals. Needs one line before it at least."""
    last = lines[-1].rstrip(sep + " ").rpartition(sep)[2].strip()
    refs = [ln.rstrip(sep + " ").rpartition(sep)[2].strip() for ln in lines[-21:-1]]
    refs = [r for r in refs if r]
    if not refs or not last:
        return False
    widths = {len(r) for r in refs}
    if len(widths) == 1 and len(last) < widths.pop():
        return True
    m = _FIXED_DECIMALS.match(last)
    decimals = {len(d.group(1)) if (d := _FIXED_DECIMALS.match(r)) else -1 for r in refs}
    return m is not None and len(decimals) == 1 and -1 not in decimals and len(m.group(1)) < decimals.pop()


def _garbled_cells(frame: pd.DataFrame, line_no: list[int]) -> list[str]:
    """Cells that are not numbers in a column whose other cells all are (a damaged cell in
    a column the reader may not even use: its line may have swallowed others)."""
    out = []
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) or len(values) < 2:
            continue
        text = values.astype(str).str.strip()
        filled = values.notna().to_numpy() & (text != "").to_numpy()
        numbers = pd.to_numeric(text.where(filled, None), errors="coerce").notna().to_numpy()
        bad = filled & ~numbers
        if bad.any() and numbers.sum() >= 0.9 * filled.sum() and numbers.sum() >= 2:
            k = int(np.flatnonzero(bad)[0])
            out.append(f"column {col!r}: {int(bad.sum())} cell(s) that are not numbers in a column of numbers "
                       f"(first on line {line_no[k]}: {str(values.iloc[k])[:40]!r}): the line is damaged")
    return out


def parse_table(
    path: Path,
    *,
    header: int | Callable[[str], bool] | None = None,
    sep: str | None = None,
    unquote_lines: bool = False,
    stop: Callable[[str], bool] | None = None,
    text: str | None = None,
    search_lines: int = 300,
) -> TextTable:
    """Read the delimited table of a text file (see the module docstring).

    Parameters
    ----------
    path : pathlib.Path
        The file (read whole, bounded; see ``_source``).
    header : int or callable, optional
        The header's 0-based line index, or a test each of the first ``search_lines``
        lines is put to (the first that passes is the header); default: the first line.
    sep : str, optional
        The separator (default: guessed from the header line).
    unquote_lines : bool
        Strip double quotes wrapping a whole data line (Novonix).
    stop : callable, optional
        A line for which this is true ends the data (a following section).
    text : str, optional
        The decoded text, when the caller already has it.
    search_lines : int
        How many lines the header is looked for in.
    """
    # long on purpose: every line of the file is accounted for in one pass (header, units, data,
    # cut or stray lines), and splitting the pass would re-read or re-split the lines
    encoding = "given"
    ends_nl = True
    if text is None:
        raw = read_bytes(path)
        ends_nl = raw.endswith(b"\n")
        text, encoding = decode(raw)
    else:
        ends_nl = text.endswith("\n")
    lines = split_lines(text)
    if callable(header):
        h = next((k for k, ln in enumerate(lines[:search_lines]) if "\x00" not in ln and header(ln)), None)
        if h is None:
            raise FileFormatError(path, f"has no table header in its first {search_lines} lines",
                                  "check that this is the export named by format=, and that it is not damaged")
    else:
        h = 0 if header is None else int(header)
        while h < len(lines) and not lines[h].strip():
            h += 1
    if h >= len(lines):
        raise FileFormatError(path, "has no table (no header line)", "re-export the record")
    head = lines[h]
    if "\x00" in head:
        raise FileFormatError(path, f"its header (line {h + 1}) holds NUL bytes: the file is damaged",
                              "copy the file again from the instrument PC")
    sep = sep or guess_separator(head)
    names = head.split(sep)
    while names and not names[-1].strip():  # a trailing separator on the header line
        names.pop()
    n_cells = len(names)
    if n_cells < 2:
        raise FileFormatError(path, f"its header (line {h + 1}) is not a table header: {head[:120]!r}",
                              "check the export settings (separator, header)")
    notes: list[str] = []
    keep_lines: list[str] = []
    keep_no: list[int] = []
    nul, bad_count, cut = [], [], []
    last = len(lines) - 1
    for k in range(h + 1, len(lines)):
        ln = lines[k]
        if stop is not None and stop(ln):
            last = k - 1
            break
        if not ln.strip():
            continue
        if unquote_lines:
            ln = _unquote(ln)
        if "\x00" in ln:
            nul.append(k + 1)
            continue
        cells = ln.count(sep) + 1
        if cells > n_cells:
            # trailing empty cells (a separator at the end of each line) are the format's
            if not ln.split(sep, n_cells)[-1].strip(sep + " \t"):
                ln = sep.join(ln.split(sep)[:n_cells])
                cells = n_cells
        if cells != n_cells:
            (cut if k == len(lines) - 1 and not ends_nl and cells < n_cells else bad_count).append((k + 1, cells))
            continue
        keep_lines.append(ln)
        keep_no.append(k + 1)
    if not ends_nl and keep_no and keep_no[-1] == last + 1 and cut_last_line(keep_lines, sep):
        cut.append((keep_no.pop(), n_cells))
        keep_lines.pop()
    n_data = len(keep_lines) + len(nul) + len(bad_count) + len(cut)
    allowed = max(3, n_data // 100)
    if len(nul) + len(bad_count) > allowed:
        what = (f"{len(nul)} lines with NUL bytes" if nul else "") + (" and " if nul and bad_count else "") + (
            f"{len(bad_count)} lines whose cell count is not the header's {n_cells}" if bad_count else "")
        first = ", ".join(str(x) for x in sorted(nul + [b[0] for b in bad_count])[:5])
        raise FileFormatError(path, f"is damaged or not one table: {what} (first at lines {first})",
                              "copy the file again from the instrument PC, or re-export it")
    if nul:
        notes.append(f"{len(nul)} line(s) with NUL bytes (damaged) left out: line(s) "
                     + ", ".join(map(str, nul[:10])))
    if bad_count:
        notes.append(f"{len(bad_count)} line(s) whose cell count differs from the header's {n_cells} left out: "
                     + ", ".join(f"line {n} ({c} cells)" for n, c in bad_count[:10]))
    if cut:
        notes.append(f"the last line (line {cut[0][0]}) ends without a line break and is cut short "
                     "(file truncated?): left out")
    elif not ends_nl and keep_no and keep_no[-1] == len(lines):
        notes.append(f"the file ends without a line break: its last line (line {keep_no[-1]}) may be cut "
                     "(file truncated?); it was kept")
    if not keep_lines:
        raise FileFormatError(path, f"has a header (line {h + 1}) but no data rows", "re-export the record")
    try:
        frame = pd.read_csv(io.StringIO("\n".join([sep.join(names)] + keep_lines)), sep=sep,
                            quoting=csv.QUOTE_NONE, index_col=False, low_memory=False, skip_blank_lines=False,
                            dtype=None)
    except (pd.errors.ParserError, ValueError, OverflowError) as exc:
        raise FileFormatError(path, f"is not a consistent table ({str(exc).strip()[:200]})",
                              "check the export settings") from None
    if len(frame) != len(keep_lines):  # pragma: no cover - guarded by the line checks above
        raise FileFormatError(path, f"parsed into {len(frame)} rows from {len(keep_lines)} lines",
                              "report this file to the batteryzoom developers")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, [c for c in frame.columns if c and not c.startswith("Unnamed")]]
    notes += _garbled_cells(frame, keep_no)
    return TextTable(frame, np.asarray(keep_no, dtype=np.int64), h + 1, sep, lines[:h], notes, encoding,
                     ends_nl)
