"""Neware (io/cycler/neware.py): .ndax through fastnda and the NewareNDA fallback, BTSDA
flat exports (CSV, XLSX) and the three-level export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batteryzoom import cycling
from batteryzoom.io.cycler import TimeRepairWarning, detect_format, read_cycler

from conftest import need


@pytest.mark.realdata
def test_expected_shape_of_key_neware_records(read_real):
    m50 = read_real("real/cycler/neware-m50t")
    s = cycling.cycle_summary(m50)
    assert len(s) == 8 and len(m50) == 77_745
    # LG M50T ~4.7 Ah: full discharges between 4.5 and 5 Ah, CCCV charges with a CV tail
    full = s["discharge_capacity_ah"] > 4
    assert full.sum() >= 6 and s.loc[full, "discharge_capacity_ah"].between(4.5, 5.0).all()
    assert s["cv_charge_share"].max() > 0.02
    assert 0.97 < s.loc[full, "coulombic_efficiency"].dropna().iloc[-1] < 1.01
    big = read_real("real/cycler/neware-bts85-700k")
    assert len(big) == 699_677
    # the instrument clock jumps backwards: reported, never silently kept
    assert any("unix_time_second jumps backwards 17 times" in r for r in big.attrs["time_repairs"])


@pytest.mark.realdata
def test_ndax_and_its_btsda_export_give_the_same_table(read_real):
    a = read_real("real/cycler/neware-interp-test")
    b = read_real("real/cycler/neware-interp-test-btsda")
    assert b.attrs["source_units"]["voltage_volt"] == "mv"
    assert b.attrs["source_units"]["current_ampere"] == "µa"
    assert len(a) == len(b) == 333
    # the export's precision: time 1 ms, voltage 0.1 mV, current 1 µA, capacity 1 mAs
    np.testing.assert_allclose(a["test_time_second"], b["test_time_second"], atol=1.5e-3)
    np.testing.assert_allclose(a["step_time_second"], b["step_time_second"], atol=1.5e-3)
    np.testing.assert_allclose(a["voltage_volt"], b["voltage_volt"], atol=1e-4)
    np.testing.assert_allclose(a["current_ampere"], b["current_ampere"], atol=1e-6)
    np.testing.assert_allclose(a["charging_capacity_ah"], b["charging_capacity_ah"], atol=1e-3 / 3600)
    np.testing.assert_array_equal(a["step_count"], b["step_count"])
    np.testing.assert_array_equal(a["cycle_count"], b["cycle_count"])
    assert (a["step_type"].astype(str) == b["step_type"].astype(str)).all()


def test_btsda_three_level_export(tmp_path):
    lines = [
        "Cycle ID,Cap_Chg(mAh),Cap_DChg(mAh)",
        ",Step ID,Step Name,Step Time(h:min:s.ms),Capacity(mAh)",
        ",,Record ID,Time(h:min:s.ms),Voltage(mV),Current(mA),Capacity(mAh),Energy(mWh),Realtime",
        "1,2.7500,2.7500",
        ",1,CC_Chg,0:16:30.000,2.7500",
    ]
    for k in range(100):
        lines.append(f",,{k + 1},0:{k * 10 // 60:02d}:{k * 10 % 60:02d}.000,{3600 + k:.1f},10.000,{k * 10 * 10 / 3600:.4f},"
                     f"{k * 36 / 3600:.4f},2024-01-01 00:{k * 10 // 60:02d}:{k * 10 % 60:02d}")
    lines.append(",2,CC_DChg,0:16:30.000,2.7500")
    for k in range(100):
        lines.append(f",,{k + 101},0:{k * 10 // 60:02d}:{k * 10 % 60:02d}.000,{3700 - k:.1f},-10.000,{k * 10 * 10 / 3600:.4f},"
                     f"{k * 36 / 3600:.4f},2024-01-01 01:{k * 10 // 60:02d}:{k * 10 % 60:02d}")
    path = tmp_path / "three.csv"
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    assert detect_format(path) == "neware-btsda-3level"
    with pytest.warns(TimeRepairWarning):
        df = read_cycler(path)
    assert len(df) == 200
    assert df["voltage_volt"].iloc[0] == pytest.approx(3.6)
    assert df["current_ampere"].iloc[0] == pytest.approx(0.01)
    assert df["current_ampere"].iloc[150] == pytest.approx(-0.01)
    assert list(df["step_type"].astype(str).unique()) == ["cc_charge", "cc_discharge"]
    s = cycling.cycle_summary(df)
    assert s["charge_capacity_ah"].iloc[0] == pytest.approx(0.01 * 990 / 3600, rel=1e-3)


@pytest.mark.realdata
def test_newarenda_fallback_when_fastnda_rejects_a_file(monkeypatch, fetch_real):
    """NewareNDA is the fallback reader (installed by the test extra, so CI exercises it)."""
    try:
        import NewareNDA  # noqa: F401
    except ImportError:
        need("NewareNDA (the fallback Neware reader) is not installed: pip install -e '.[test]'")
    import fastnda

    path = fetch_real("real/cycler/neware-m50t")[0]
    ref = read_cycler(path)

    def refuse(*args, **kwargs):
        raise KeyError("unknown file version")

    monkeypatch.setattr(fastnda, "read", refuse)
    with pytest.warns(TimeRepairWarning, match="rebuilt from a step time"):
        df = read_cycler(path)
    assert df.attrs["reader"] == "NewareNDA (fallback)"
    np.testing.assert_allclose(df["voltage_volt"], ref["voltage_volt"], rtol=1e-6)
    np.testing.assert_allclose(df["current_ampere"], ref["current_ampere"], rtol=1e-5, atol=1e-6)
    s, r = cycling.cycle_summary(df), cycling.cycle_summary(ref)
    np.testing.assert_allclose(s["discharge_capacity_ah"], r["discharge_capacity_ah"], rtol=1e-4)
    assert abs(df["test_time_second"].iloc[-1] - ref["test_time_second"].iloc[-1]) < 60


@pytest.mark.realdata
def test_btsda_xlsx_export_reads_like_the_csv_export(tmp_path, fetch_real):
    csv = fetch_real("real/cycler/neware-interp-test-btsda")[0]
    table = pd.read_csv(csv, encoding="latin-1")
    xlsx = tmp_path / "interp-test.xlsx"
    with pd.ExcelWriter(xlsx) as writer:  # BTSDA workbooks: a cycle, a step and a record sheet
        pd.DataFrame({"Cycle Index": [1]}).to_excel(writer, sheet_name="Cycle", index=False)
        pd.DataFrame({"Step Index": [1]}).to_excel(writer, sheet_name="Step", index=False)
        table.to_excel(writer, sheet_name="Record", index=False)
    assert detect_format(xlsx) == "neware-btsda"
    a, b = read_cycler(csv), read_cycler(xlsx)
    for col in ("test_time_second", "voltage_volt", "current_ampere", "charging_capacity_ah"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-12, atol=1e-12)
