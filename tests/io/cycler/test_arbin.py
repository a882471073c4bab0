"""Arbin (io/cycler/arbin.py): the CSV export reads like its Excel twin; the install hint
when mdbtools (for .res) is missing; every Arbin record of the corpus against mdbtools' raw
tables or pandas on the raw columns; the unit-less CSV counted per cycle."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from batteryzoom import cycling
from batteryzoom.errors import MissingDependencyError
from batteryzoom.io.cycler import detect_format, read_cycler


@pytest.mark.realdata
def test_arbin_csv_export_reads_like_its_excel_twin(tmp_path, fetch_real, unchanged):
    xlsx = fetch_real("real/cycler/arbin-xlsx")[0]
    sheet = pd.read_excel(xlsx, sheet_name="Channel_11_1")
    csv = tmp_path / "arbin_channel_11.csv"
    sheet.to_csv(csv, index=False)
    assert detect_format(csv) == "arbin-csv"
    with unchanged(xlsx):
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


# --------------------------------------------------------------------------- the corpus
ARBIN_RES = ["real/cycler/arbin-res", "real/cycler/arbin-cellpy-20160805-test001-45-cc-01",
             "real/cycler/arbin-cellpy-aux-one-x-dx", "real/cycler/arbin-cellpy-aux-multi-x"]
ARBIN_CSV = ["real/cycler/arbin-beep-2017-05-09-test-tc-contact-ch33", "real/cycler/arbin-beep-fastcharge-000025-ch8",
             "real/cycler/arbin-pyprobe-sample-data-arbin"]


def _mdb(path, table):
    """A table of the database as mdbtools exports it (the tests' own call)."""
    import io
    import subprocess

    out = subprocess.run(["mdb-export", str(path), table], capture_output=True, check=True, timeout=120)
    return pd.read_csv(io.BytesIO(out.stdout))


def _arbin_reference(raw: pd.DataFrame, names: dict) -> pd.DataFrame:
    """Arbin's columns -> the reference: SI as stored, charge and discharge counted per
    cycle ("running"), steps by cycle and step index where the file fills them."""
    col = {k: next(c for c in raw.columns if c.replace(" ", "_").split("(")[0].strip("_") == v)
           for k, v in names.items()}
    cyc = raw[col["cycle"]].fillna(1).astype("int64")
    step = raw[col["step"]].fillna(1).astype("int64")
    return pd.DataFrame({"t": raw[col["t"]], "v": raw[col["v"]], "i": raw[col["i"]],
                         "q_ch": raw[col["q_ch"]], "q_dis": raw[col["q_dis"]], "step": cyc * 10_000 + step})


_ARBIN_NAMES = {"t": "Test_Time", "v": "Voltage", "i": "Current", "q_ch": "Charge_Capacity",
                "q_dis": "Discharge_Capacity", "cycle": "Cycle_Index", "step": "Step_Index"}


@pytest.mark.realdata
@pytest.mark.parametrize("name", ARBIN_RES)
def test_every_arbin_res_matches_mdbtools_raw_tables(name, fetch_real, need_piece, unchanged, matches_reference):
    need_piece("mdb-export")
    path = fetch_real(name)[0]
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    raw = _mdb(path, "Channel_Normal_Table").sort_values(["Test_ID", "Data_Point"]).reset_index(drop=True)
    ref = _arbin_reference(raw, _ARBIN_NAMES)
    matches_reference(df, ref, scope="running", t_atol=1e-9, v_atol=1e-9, i_atol=1e-12)
    np.testing.assert_allclose(df["unix_time_second"], (raw["DateTime"] - 25569.0) * 86400.0, atol=1e-3)
    assert df.attrs["record_counter"] and not df.attrs["repairs"]
    aux = _mdb(path, "Auxiliary_Table")
    temps = aux[aux["Data_Type"] == 1]
    if len(temps):
        # the first aux temperature channel, joined on the data point
        first = temps[temps["Auxiliary_Index"] == temps["Auxiliary_Index"].min()].set_index("Data_Point")["X"]
        np.testing.assert_allclose(df["temperature_celsius"], first.reindex(raw["Data_Point"]).to_numpy())
    else:
        assert "temperature_celsius" not in df


@pytest.mark.realdata
@pytest.mark.parametrize("name", ARBIN_CSV)
def test_every_arbin_csv_export_matches_its_raw_columns(name, fetch_real, unchanged, matches_reference):
    files = fetch_real(name)
    path = files[0]
    with unchanged(*files), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    assert df.attrs["format"] == "arbin-csv"
    raw = pd.read_csv(path, encoding="utf-8-sig")
    ref = _arbin_reference(raw, _ARBIN_NAMES)
    matches_reference(df, ref, scope="running", t_atol=1e-9, v_atol=1e-9, i_atol=1e-12)
    if name.startswith("real/cycler/arbin-beep"):
        # TRI's exports: unit-less headers (the database's units), DateTime in epoch seconds,
        # the metadata file beside it read into attrs
        np.testing.assert_allclose(df["unix_time_second"], raw["DateTime"])
        meta = df.attrs["metadata"]
        assert meta["metadata_file"] == files[1].name and meta["schedule_file_name"].lower().endswith(".sdu")
        assert "(Arbin database units)" in df.attrs["source_units"]["current_ampere"]
    else:
        # units in the headers, a UTF-8 BOM (the first row kept) and a tab before each date
        assert df.attrs["source_units"]["current_ampere"] == "a" and len(df) == len(raw) == 13
        stamps = pd.to_datetime(raw["Date Time"].str.strip(), format="%m/%d/%Y %H:%M:%S.%f")
        np.testing.assert_allclose(df["unix_time_second"], (stamps - pd.Timestamp("1970-01-01")).dt.total_seconds(),
                                   atol=1e-6)


@pytest.mark.realdata
def test_an_arbin_csv_without_units_counts_per_cycle_not_per_step(fetch_real, tmp_path, need_piece, unchanged):
    """The known case: an Arbin CSV whose header has no units (as TRI's exports write the
    database's own names) was read as a generic CSV, Arbin's per-cycle running capacity
    taken as per-step (cycle 2: 1.997 Ah at 54 % CE instead of 1.07 Ah at 100 %). Written
    here from the real .res's own rows, it must read as the .res does."""
    need_piece("mdb-export")
    res = fetch_real("real/cycler/arbin-res")[0]
    raw = _mdb(res, "Channel_Normal_Table").sort_values("Data_Point")
    csv = tmp_path / "export_CH1.csv"
    raw.drop(columns=["Test_ID"]).to_csv(csv, index=False)
    assert detect_format(csv) == "arbin-csv"
    with unchanged(res):
        a = read_cycler(res)
    b = read_cycler(csv)
    sa, sb = cycling.cycle_summary(a), cycling.cycle_summary(b)
    np.testing.assert_allclose(sb["charge_capacity_ah"], sa["charge_capacity_ah"], rtol=1e-9)
    np.testing.assert_allclose(sb["discharge_capacity_ah"], sa["discharge_capacity_ah"], rtol=1e-9)
    ce = sb["coulombic_efficiency"].iloc[1:].dropna()  # the last cycle ends before its discharge
    assert len(ce) == 3 and ce.between(0.99, 1.0).all()
    assert b.attrs["capacity_scope"]["charging_capacity_ah"] == "cycle"
