"""Maccor (io/cycler/maccor.py): unsigned Amps signed from the State column; every Maccor
record of the corpus against its raw columns; the impedance record refused as what it is."""

from __future__ import annotations

import pytest

from batteryzoom import cycling
from batteryzoom.io.cycler import read_cycler


@pytest.mark.realdata
def test_maccor_current_is_signed_from_the_state_column(read_real):
    maccor = read_real("real/cycler/maccor-m50-0degc")
    ms = cycling.cycle_summary(maccor)
    assert ms["discharge_capacity_ah"].sum() > 10  # Maccor |I| signed from the State column


# --------------------------------------------------------------------------- the corpus
# Every Maccor record of the manifest against pandas reading its raw columns: times parsed
# by the tests' own clock regex (or seconds by the header), the current signed by the
# State/Md column (C charge, D discharge), the unsigned Amp-hr counted per step.
MACCOR_CORPUS = {  # name -> (header line (1-based), seconds per TestTime unit for a bare number)
    "real/cycler/maccor-m50-0degc": (4, None),
    "real/cycler/maccor-beep-041": (2, None),
    "real/cycler/maccor-cellpy-maccor-002": (14, 60.0),  # TestTime in minutes: its DPT Time says so
    "real/cycler/maccor-beep-predictiondiagnostics-000151-paused-052": (2, None),
    "real/cycler/maccor-beep-prediag-000229-000229-truncated-034": (2, None),
    "real/cycler/maccor-beep-xtesladiag-000038con-078": (2, None),
    "real/cycler/maccor-pyprobe-sample-data-maccor": (3, None),
}


def _maccor_reference(path, header_line, unit_s, clock_seconds):
    import numpy as np
    import pandas as pd

    sep = "," if path.suffix == ".csv" else "\t"
    raw = pd.read_csv(path, sep=sep, skiprows=header_line - 1, index_col=False, encoding="latin-1",
                      skip_blank_lines=True)
    raw.columns = [c.strip() for c in raw.columns]
    pick = {c: next(x for x in raw.columns if x in c.split("|")) for c in
            ("TestTime|Test (Sec)|Test Time (sec)", "Amps|Current [A]|Current", "Volts|Voltage [V]|Voltage",
             "Amp-hr|Cap. [Ah]|Capacity", "Step", "Cyc#|Cycle C")}
    time, amps, volts, cap, step, cyc = (raw[pick[k]] for k in pick)
    if pd.api.types.is_string_dtype(time) or time.dtype == object:
        t = clock_seconds(time)
    else:
        t = time.to_numpy(np.float64) * (unit_s or 1.0)
    state = next((raw[c].astype(str).str.strip() for c in ("State", "Md") if c in raw), None)
    i = amps.to_numpy(np.float64)
    if state is not None:
        sign = state.map({"C": 1.0, "D": -1.0}).to_numpy()
        i = np.where(np.isnan(sign), i, np.abs(i) * sign)
    return pd.DataFrame({"t": t, "v": volts.to_numpy(np.float64), "i": i, "q": cap.to_numpy(np.float64),
                         "step": cyc.astype("int64") * 10_000 + step.astype("int64")})


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(MACCOR_CORPUS))
def test_every_maccor_record_matches_its_raw_columns(name, fetch_real, unchanged, clock_seconds,
                                                     matches_reference):
    import warnings

    path = fetch_real(name)[0]
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    assert df.attrs["format"] == "maccor-txt"
    ref = _maccor_reference(path, *MACCOR_CORPUS[name], clock_seconds)
    # as printed: Volts to 1e-8 V, Amps to 1e-10 A (text exports 1e-5), clocks to 0.1 ms
    matches_reference(df, ref, scope="step", t_atol=1e-4, v_atol=1e-9, i_atol=1e-9)
    if name.endswith("maccor-002"):
        assert any("min, from the wall clock" in n for n in df.attrs["time"])
        assert df["test_time_second"].iloc[-1] / 3600 == pytest.approx(63.5, abs=0.1)  # not 1.06 h
    if name.endswith("paused-052"):
        assert any("paused channel" in n for n in df.attrs["notes"])
    if name.endswith("beep-041"):
        assert (df["step_type"].astype(str) == "other").sum() == 61  # the FRA (impedance) rows


def test_maccor_impedance_record_is_refused_as_what_it_is(fetch_real, unchanged):
    from batteryzoom.errors import FileFormatError
    from batteryzoom.io.cycler import detect_format

    path = fetch_real("real/cycler/maccor-beep-maccor-test-file-4267-66-6519-eda0001-041")[0]
    assert detect_format(path) == "maccor-eis"
    with unchanged(path), pytest.raises(FileFormatError, match=r"AC-impedance \(EIS\) record .* not a cycling"):
        read_cycler(path)
