"""Delimited text tables (io/cycler/_text.py): every line accounted for. Damaged lines left
out and named (NUL bytes, a wrong cell count, a cut last line), too many refused; the
formats' own quirks (BOM, CRLF, trailing separators, quoted lines) not taken for damage."""

from __future__ import annotations

import pytest

from batteryzoom.errors import FileFormatError
from batteryzoom.io.cycler._text import parse_table

HEADER = "Time (s),Voltage (V),Current (A)\n"


def _rows(n=200, start=0):
    return "".join(f"{k}.0,{3.5 + k * 1e-3:.4f},1.0000\n" for k in range(start, start + n))


def test_every_line_is_a_row_and_the_rows_know_their_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# preamble\n" + HEADER + _rows(5) + "\n\n" + _rows(3, 5))
    table = parse_table(path, header=lambda ln: ln.startswith("Time"))
    assert len(table.frame) == 8 and not table.notes
    assert table.line_no.tolist() == [3, 4, 5, 6, 7, 10, 11, 12] and table.header_line == 2


def test_a_utf8_bom_keeps_the_first_row(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + _rows(3)).encode())
    table = parse_table(path)
    assert list(table.frame.columns) == ["Time (s)", "Voltage (V)", "Current (A)"]
    assert table.frame["Time (s)"].tolist() == [0.0, 1.0, 2.0]


def test_nul_damaged_lines_are_left_out_and_named_not_taken_for_headers(tmp_path):
    path = tmp_path / "nul.csv"
    lines = (HEADER + _rows()).splitlines(keepends=True)
    lines[50] = lines[50][:4] + "\x00\x00\x00" + lines[50][4:]
    path.write_text("".join(lines))
    table = parse_table(path)
    assert len(table.frame) == 199 and 49.0 not in table.frame["Time (s)"].tolist()
    assert table.notes == ["1 line(s) with NUL bytes (damaged) left out: line(s) 51"]
    # NUL bytes in the header line refuse the file: its columns cannot be trusted
    path.write_text("Ti\x00me (s),Voltage (V),Current (A)\n" + _rows(5))
    with pytest.raises(FileFormatError, match="its header .* holds NUL bytes"):
        parse_table(path)


def test_lines_with_another_cell_count_are_left_out_a_few_or_refuse_the_file(tmp_path):
    path = tmp_path / "cells.csv"
    lines = (HEADER + _rows()).splitlines(keepends=True)
    lines[10] = "9.0,3.5\n"  # a cell lost
    lines[20] = lines[20].rstrip("\n") + ",7\n"  # a cell too many
    path.write_text("".join(lines))
    table = parse_table(path)
    assert len(table.frame) == 198
    assert "2 line(s) whose cell count differs from the header's 3 left out: line 11 (2 cells), line 21 (4 cells)" \
        in table.notes
    lines = [ln.replace(",1.0000", "") if k % 2 else ln for k, ln in enumerate(lines)]
    path.write_text("".join(lines))
    with pytest.raises(FileFormatError, match="is damaged or not one table"):
        parse_table(path)


def test_trailing_separators_and_quoted_lines_are_the_formats_own(tmp_path):
    path = tmp_path / "maccor.txt"
    path.write_text("a\tb\tc\n" + "".join(f"{k}\t{k}\t{k}\t\n" for k in range(5)))  # a tab after each row
    table = parse_table(path, sep="\t")
    assert table.frame.shape == (5, 3) and not table.notes
    quoted = tmp_path / "novonix.csv"
    quoted.write_text('"a,b,c"\n' + "".join(f'"{k},{k},{k}"\n' for k in range(5)))
    table = parse_table(quoted, unquote_lines=True, header=0)
    assert table.frame.shape == (5, 3) and table.frame.iloc[4].tolist() == [4, 4, 4]


def test_a_cut_last_line_is_left_out_and_a_final_line_without_a_break_is_warned_about(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text(HEADER + _rows(5) + "5.0,3.50")  # fixed 4 decimals, cut to 2: truncated
    table = parse_table(path)
    assert len(table.frame) == 5 and "cut short" in table.notes[0]
    path.write_text(HEADER + _rows(5) + "5.0,3.5050,1.0000")  # complete, but no line break
    table = parse_table(path)
    assert len(table.frame) == 6 and "may be cut" in table.notes[0]


def test_a_cell_that_is_not_a_number_in_an_unused_column_is_named(tmp_path):
    path = tmp_path / "garbled.csv"
    rows = _rows(20).splitlines(keepends=True)
    rows[7] = rows[7].replace("1.0000", "1.0\xff\xff\xff")
    path.write_bytes((HEADER + "".join(rows)).encode("latin-1"))
    table = parse_table(path)
    assert any("not numbers in a column of numbers (first on line 9" in n for n in table.notes)
