"""io/spectra/tables.py: where the data of a text spectrum starts, what names its columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from batteryzoom.errors import FileFormatError
from batteryzoom.io.spectra.tables import parse_table

P = Path("spectrum.txt")


def test_spec_numbered_labels_give_names_and_the_energy_unit():
    t = parse_table(P, "#S 29 exafsscan\n#C 1_Energy (keV) 2_sec 3_i0 4_mu01\n6.539 1 2e5 0.8\n6.540 1 2e5 0.9\n")
    assert t.names == ["Energy", "sec", "i0", "mu01"] and t.energy_unit == "keV" and t.layout == "spec"
    t = parse_table(P, "#L Energy  I0  I1\n8300 1 2\n8301 1 2\n")
    assert t.names == ["Energy", "I0", "I1"] and t.layout == "spec"


def test_mrcat_preamble_with_numbers_is_header_not_data():
    text = ("MRCAT_XAFS V0.4 Datafile\nE0= 6540.00\nOffsets= 11317.00 11302.00\n3000 x 806\n4 layers\n"
            + "-" * 20 + "\n   energy  Io  It\n 6390.0 62850 54410\n 6390.1 62770 54320\n")
    t = parse_table(P, text)
    assert t.layout == "mrcat" and t.names == ["energy", "Io", "It"] and t.first_row_line == 8
    np.testing.assert_array_equal(t.values[:, 0], [6390.0, 6390.1])


def test_xdi_columns_fields_and_comments():
    text = ("# XDI/1.0\n# Column.1: energy keV\n# Column.2: mutrans\n# Element.symbol: Ni\n# ///\n"
            "# a free comment: with a colon\n#---\n# energy mutrans\n8.3 0.1\n8.4 0.2\n")
    t = parse_table(P, text)
    assert t.names == ["energy", "mutrans"] and t.energy_unit == "keV" and t.meta == {"Element.symbol": "Ni"}
    with pytest.raises(FileFormatError, match="names column 3 but the rows hold 2"):
        parse_table(P, text.replace("# Element", "# Column.3: i0\n# Element"))
    with pytest.raises(FileFormatError, match="names no column"):
        parse_table(P, "# XDI/1.0\n# ///\n8.3 0.1\n8.4 0.2\n")


def test_comments_inside_the_data_are_skipped_a_second_scan_is_refused():
    t = parse_table(P, "8300 0.1\n# beam refill\n8301 0.2\n\n8302 0.3\n")
    assert t.values.shape == (3, 2) and t.skipped_comments == 1
    with pytest.raises(FileFormatError, match="line 3 starts another scan"):
        parse_table(P, "8300 0.1\n8301 0.2\n#S 2 again\n8300 0.1\n")
    with pytest.raises(FileFormatError, match="no table of numbers"):
        parse_table(P, "energy mu\n")


def test_damaged_headers_are_refused():
    rows = "8300 0.1\n8301 0.2\n"
    with pytest.raises(FileFormatError, match="header line 2 is mostly control or non-text bytes"):
        parse_table(P, "# energy mu\n# \x00\x01\x02\x03\x04\x05\x06\x07\x08 x\n" + rows)
    with pytest.raises(FileFormatError, match="header line 1 is 5002 characters long"):
        parse_table(P, "x" * 5000 + "mu\n" + rows)
    with pytest.raises(FileFormatError, match="starts like XDI's version line but is not"):
        parse_table(P, "# XDIÿÿ\n# Column.1: energy\n" + rows)
    with pytest.raises(FileFormatError, match=r"names columns \[1, 3\] but not \[2\]"):
        parse_table(P, "# XDI/1.0\n# Column.1: energy eV\n# Column.3: i0\n8300 0.1 5\n8301 0.2 5\n")
    assert parse_table(P, "# Sample: été, 温度\n" + rows).values.shape == (2, 2)  # text in other scripts is fine
