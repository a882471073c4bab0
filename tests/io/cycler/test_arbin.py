"""Arbin (io/cycler/arbin.py): the CSV export reads like its Excel twin; the install hint
when mdbtools (for .res) is missing."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from batteryzoom.errors import MissingDependencyError
from batteryzoom.io.cycler import detect_format, read_cycler


@pytest.mark.realdata
def test_arbin_csv_export_reads_like_its_excel_twin(tmp_path, fetch_real):
    xlsx = fetch_real("real/cycler/arbin-xlsx")[0]
    sheet = pd.read_excel(xlsx, sheet_name="Channel_11_1")
    csv = tmp_path / "arbin_channel_11.csv"
    sheet.to_csv(csv, index=False)
    assert detect_format(csv) == "arbin-csv"
    a = read_cycler(xlsx)
    b = read_cycler(csv)
    for col in ("test_time_second", "voltage_volt", "current_ampere", "charging_capacity_ah",
                "discharging_capacity_ah"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-12)
    assert (a["step_type"] == b["step_type"]).all()


def test_missing_mdbtools_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    res = tmp_path / "x.res"
    res.write_bytes(b"\x00\x01\x00\x00Standard Jet DB" + bytes(200))
    with pytest.raises(MissingDependencyError, match="apt-get install mdbtools"):
        read_cycler(res)
