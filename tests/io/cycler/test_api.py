"""bz.io.read_cycler (io/cycler/api.py): every real cycler file of the manifest to the BDF
contract with capacities matching an integration of the current, and bad input refused
with the file and the problem named, nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz
from batteryzoom import cycling
from batteryzoom.errors import FileFormatError
from batteryzoom.io.cycler import BDF_COLUMNS, STEP_TYPES, read_cycler

# Every real cycler record of the manifest (the 13 the readers were written on and the 41 of
# the wider corpus; each make's test module also checks its files against an independent
# reader), but the two that are refused on purpose, checked below.
REFUSED = {
    "real/cycler/neware-empty": "no data records",
    "real/cycler/maccor-beep-maccor-test-file-4267-66-6519-eda0001-041": r"AC-impedance \(EIS\) record",
}
REAL = [n for n in bz.data.list(scale="cycler", synthetic=False) if n not in REFUSED]
# the records whose capacity columns cannot be checked by integrating their logged current,
# and why (the make's test module compares them with the file's own counter instead)
NOT_INTEGRABLE = {
    "real/cycler/indigo-beep-indigo-test-sample": "a sample of every 25th-500th record of a faster log",
    "real/cycler/neware-sim": "SIM steps swinging +-200 A within each 10 ms record",
    "real/cycler/neware-2-1-6-61-07005012": "a Pulse step whose -1.7 A pulses the 0.46 s log does not resolve",
    "real/cycler/arbin-pyprobe-sample-data-arbin": "two samples in its only charge step",
    "real/cycler/pec-cellpy-pec-test25205": "an open-circuit rest: its counter integrates 1 uA resolution noise",
}


def _independent_capacity(df: pd.DataFrame) -> pd.DataFrame:
    """Charge and discharge per cycle from current and time only (not the capacity columns).

    Trapezoid within each step, plus the step's lead-in before its first sample
    (first current x first step time); impedance rows (type 'other') are left out. With it,
    ``slack``: one sampling interval of each step's largest current, summed over the cycle
    (where a count starts within a sample is not in the record: a step of a few seconds,
    logged every 0.2-1 s, moves a few % within one sample).
    """
    t = df["test_time_second"].to_numpy()
    i = df["current_ampere"].to_numpy()
    sc = df["step_count"].to_numpy()
    ok = df["step_type"].astype(str).to_numpy() != "other"
    same = sc[1:] == sc[:-1]
    inc = 0.5 * (i[1:] + i[:-1]) * np.diff(t) * same * ok[1:]
    first = np.r_[True, ~same]
    lead = np.where(first, i * df["step_time_second"].to_numpy(), 0.0) * ok
    inc = np.r_[lead[0], inc + lead[1:]] / 3600.0
    dt = np.r_[0.0, np.where(same, np.diff(t), 0.0)]
    steps = pd.DataFrame({"step": sc, "cycle": df["cycle_count"].to_numpy(), "i": np.abs(i) * ok, "dt": dt})
    per_step = steps.groupby("step").agg(cycle=("cycle", "first"), i=("i", "max"), dt=("dt", "max"))
    slack = (per_step["i"] * per_step["dt"] / 3600.0).groupby(per_step["cycle"]).sum().rename("slack")
    return pd.DataFrame({"cycle": df["cycle_count"].to_numpy(), "ch": np.clip(inc, 0, None),
                         "dis": np.clip(-inc, 0, None)}).groupby("cycle").sum().join(slack)


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL)
def test_every_real_cycler_file_reads_to_bdf_and_capacities_match_integration(name, read_real, fetch_real,
                                                                              unchanged):
    with unchanged(*fetch_real(name)):  # reading never modifies the file (SHA-256 before and after)
        df = read_real(name)
    assert list(df.columns[: len(BDF_COLUMNS)]) == BDF_COLUMNS
    assert len(df) >= 2
    assert not [r for r in df.attrs["repairs"] if "exactly 0 V" in r]  # no false alarm on a real record
    assert list(df["step_type"].cat.categories) == STEP_TYPES
    t = df["test_time_second"].to_numpy()
    assert np.all(np.diff(t) >= 0), "total test time must never decrease"
    assert np.all(np.diff(df["step_count"].to_numpy()) >= 0)
    assert np.all(np.diff(df["cycle_count"].to_numpy()) >= 0)
    assert df.attrs["source_path"].endswith(Path(bz.data.info(name).loader["file"]).name)
    # current positive on charge: no charge row carries a negative current, no discharge row
    # a positive one (a 0 A row may open a step, and a real Neware CC charge logs 0 A in
    # 501 of its 539 rows: nw4-120-1-6-53's step 1, as NewareNDA reads it too)
    st = df["step_type"].astype(str)
    tol = df.attrs["rest_current_a"]
    assert (df.loc[st.isin(["cc_charge", "cv_charge"]), "current_ampere"] >= -tol).all()
    assert (df.loc[st.isin(["cc_discharge", "cv_discharge"]), "current_ampere"] <= tol).all()
    for col in ("charging_capacity_ah", "discharging_capacity_ah"):
        assert (df[col] >= 0).all()
    if name in NOT_INTEGRABLE:
        return
    # the reader's own check of its capacities against the integral of the current
    check = df.attrs["capacity_check"]
    assert all(v is None or v <= 0.02 for k, v in check.items() if k in ("charge", "discharge")), check
    summary = cycling.cycle_summary(df)
    ref = _independent_capacity(df)
    both = summary.join(ref)
    for ours, theirs in (("charge_capacity_ah", "ch"), ("discharge_capacity_ah", "dis")):
        big = both[theirs] > 0.01 * max(both["ch"].max(), both["dis"].max(), 1e-15)
        if big.any():
            off = (both.loc[big, ours] - both.loc[big, theirs]).abs()
            allowed = 0.005 * both.loc[big, theirs] + both.loc[big, "slack"]
            worst = (off / allowed).idxmax()
            assert (off <= allowed).all(), (f"{name} {ours}: cycle {worst} differs by {off[worst]:.6g} Ah, "
                                            f"allowed 0.5 % + one sample per step = {allowed[worst]:.6g} Ah")


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_files_batteryzoom_does_not_read_are_refused_saying_what_they_are(name, fetch_real, unchanged):
    path = fetch_real(name)[0]
    with unchanged(path), pytest.raises(FileFormatError, match=REFUSED[name]) as err:
        read_cycler(path)
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------- bad input


def _snapshot(*folders: Path) -> dict[str, float]:
    out = {}
    for folder in folders:
        if folder.exists():
            for p in folder.rglob("*"):
                out[str(p)] = p.stat().st_mtime_ns if p.is_file() else 0
    return out


def _bad_inputs(tmp_path: Path, ndax: Path | None, tab: pd.DataFrame) -> dict[str, tuple[Path, str]]:
    cases: dict[str, tuple[Path, str]] = {}
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    cases["empty"] = (empty, "empty")
    unknown = tmp_path / "mystery.bin"
    unknown.write_bytes(bytes(range(256)) * 8)
    cases["unknown format"] = (unknown, "no known cycler format")
    prose = tmp_path / "notes.txt"
    prose.write_text("Dear colleague,\nhere are the results.\n")
    cases["unknown text"] = (prose, "not a cycler table")
    novolt = tmp_path / "no_voltage.csv"
    pd.DataFrame({"Time (s)": tab.t, "Current (A)": tab.i}).to_csv(novolt, index=False)
    cases["missing voltage"] = (novolt, "no voltage_volt")
    nocurr = tmp_path / "no_current.csv"
    pd.DataFrame({"Time (s)": tab.t, "Voltage (V)": tab.v, "Temp": 25.0}).to_csv(nocurr, index=False)
    cases["missing current"] = (nocurr, "no current_ampere")
    mixed = tmp_path / "mixed.csv"
    volts = [f"{x:.3f} V" for x in tab.v]
    volts[7] = f"{tab.v[7] * 1000:.0f} mV"
    pd.DataFrame({"Time (s)": tab.t, "Voltage": volts, "Current (A)": tab.i}).to_csv(mixed, index=False)
    cases["mixed units in cells"] = (mixed, "mixes units")
    mixed2 = tmp_path / "mixed_headers.csv"
    pd.DataFrame({"Time (s)": tab.t, "Voltage(V)": tab.v, "Voltage(mV)": tab.v, "Current (A)": tab.i}).to_csv(
        mixed2, index=False)
    cases["mixed units in headers"] = (mixed2, "mixed units")
    text = tmp_path / "text_cells.csv"
    frame = pd.DataFrame({"Time (s)": tab.t, "Voltage (V)": tab.v.astype(object), "Current (A)": tab.i})
    frame.loc[12, "Voltage (V)"] = "OVERLOAD"
    frame.to_csv(text, index=False)
    cases["non-numeric cell"] = (text, "'OVERLOAD', which is not a number")
    if ndax is not None:
        data = ndax.read_bytes()
        trunc = tmp_path / "truncated.ndax"
        trunc.write_bytes(data[: len(data) // 2])
        cases["truncated ndax"] = (trunc, "truncated or corrupt")
        corrupt = tmp_path / "corrupt.ndax"
        bad = bytearray(data)
        mid = len(bad) // 2
        bad[mid:mid + 4096] = bytes(4096)
        corrupt.write_bytes(bytes(bad))
        cases["corrupt ndax"] = (corrupt, "corrupt")
    return cases


@pytest.mark.realdata
def test_bad_input_errors_name_the_file_and_problem_and_write_nothing(tmp_path, fetch_real, monkeypatch,
                                                                      cycle_table, unchanged):
    ndax = fetch_real("real/cycler/neware-interp-test")[0]
    src = tmp_path / "in"
    src.mkdir()
    with unchanged(ndax):
        cases = _bad_inputs(src, ndax, cycle_table(40))
    # a cache of its own: other test workers fill the shared one meanwhile
    monkeypatch.setenv("BATTERYZOOM_CACHE", str(tmp_path / "cache"))
    before = _snapshot(src, bz.data.cache_dir())
    for label, (path, problem) in cases.items():
        with pytest.raises(FileFormatError) as err:
            read_cycler(path)
        msg = str(err.value)
        assert str(path) in msg, f"{label}: message does not name the file: {msg}"
        assert problem in msg, f"{label}: expected {problem!r} in {msg!r}"
    assert _snapshot(src, bz.data.cache_dir()) == before


def test_unknown_format_name_is_refused_with_the_supported_ones(tmp_path, cycle_table):
    tab = cycle_table(40)
    csv = tmp_path / "x.csv"
    pd.DataFrame({"Time (s)": tab.t, "Voltage (V)": tab.v, "Current (A)": tab.i}).to_csv(csv, index=False)
    with pytest.raises(FileFormatError, match="format 'gamry' is not supported") as err:
        read_cycler(csv, format="gamry")
    assert "neware-ndax" in str(err.value) and "maccor-txt" in str(err.value)
