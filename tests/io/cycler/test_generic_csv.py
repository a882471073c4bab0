"""Any table of records (io/cycler/generic_csv.py, with the shared column recognition of
_tables and _units): columns by name with units in headers or given, column_map errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batteryzoom import cycling
from batteryzoom.errors import FileFormatError
from batteryzoom.io.cycler import detect_format, read_cycler


def test_csv_with_column_map_and_units(tmp_path, cycle_table):
    tab = cycle_table()
    csv = tmp_path / "lab.csv"
    pd.DataFrame({"Zeit (h)": tab.t / 3600, "U": tab.v * 1000, "Strom": tab.i * 1000}).to_csv(csv, index=False)
    df = read_cycler(csv, column_map={"test_time_second": "Zeit (h)", "voltage_volt": "U",
                                      "current_ampere": "Strom"},
                     units={"voltage_volt": "mV", "current_ampere": "mA"})
    np.testing.assert_allclose(df["test_time_second"], tab.t, rtol=1e-12)
    np.testing.assert_allclose(df["voltage_volt"], tab.v)
    np.testing.assert_allclose(df["current_ampere"], tab.i)
    assert df["step_count"].max() == 4
    s = cycling.cycle_summary(df)
    # 100 samples at 1 A, 10 s apart: the trapezoid gives 99 intervals of 10 s = 990 As
    assert s["charge_capacity_ah"].iloc[0] == pytest.approx(990 / 3600, rel=1e-9)
    assert "capacities integrated from current over time (trapezoid)" in df.attrs["derived"]


def test_columns_recognised_by_name_with_units_in_headers(tmp_path, cycle_table):
    tab = cycle_table()
    csv = tmp_path / "named.csv"
    pd.DataFrame({"Time [min]": tab.t / 60, "Voltage / V": tab.v, "Current(uA)": tab.i * 1e6}).to_csv(csv, index=False)
    assert detect_format(csv) == "csv"
    df = read_cycler(csv)
    np.testing.assert_allclose(df["current_ampere"], tab.i)
    np.testing.assert_allclose(df["test_time_second"], tab.t)


def test_bad_column_map_and_unknown_unit_are_named(tmp_path, cycle_table):
    tab = cycle_table(40)
    csv = tmp_path / "x.csv"
    pd.DataFrame({"Time (s)": tab.t, "Voltage (V)": tab.v, "Current (A)": tab.i}).to_csv(csv, index=False)
    with pytest.raises(FileFormatError, match="column_map names column 'Volts'"):
        read_cycler(csv, column_map={"voltage_volt": "Volts"})
    with pytest.raises(FileFormatError, match="unit 'furlong'"):
        read_cycler(csv, units={"voltage_volt": "furlong"})


def test_a_workbook_whose_workbook_part_lists_no_sheet_is_refused(tmp_path, cycle_table):
    """A damaged ``xl/workbook.xml`` (fuzz: its XML declaration's '.' made ',') lists no
    sheets; the reader indexed the empty list (IndexError) instead of saying so."""
    import re
    import zipfile

    tab = cycle_table(40)
    good = tmp_path / "good.xlsx"
    pd.DataFrame({"Test Time (s)": tab.t, "Voltage (V)": tab.v, "Current (A)": tab.i}).to_excel(good, index=False)
    assert len(read_cycler(good, format="xlsx")) == 40
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == "xl/workbook.xml":
                body = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", body, flags=re.S)
            zout.writestr(info, body)
    with pytest.raises(FileFormatError, match="bad.xlsx: lists no sheets: its workbook part is damaged"):
        read_cycler(bad, format="xlsx")
