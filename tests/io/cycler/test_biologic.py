"""BioLogic EC-Lab (io/cycler/biologic.py): a GCPL text export through galvani, and the
install hint when galvani (an optional GPL extra) is missing."""

from __future__ import annotations

import builtins
import warnings

import pytest

from batteryzoom import cycling
from batteryzoom.errors import MissingDependencyError
from batteryzoom.io.cycler import detect_format, read_cycler


def test_biologic_mpt_text_export(tmp_path, need_piece):
    need_piece("galvani")
    lines = ["EC-Lab ASCII FILE", "Nb header lines : 4", "",
             "mode\tox/red\terror\tcontrol changes\tNs changes\tcounter inc.\tNs\ttime/s\tcontrol/V/mA\tEwe/V"
             "\tI/mA\tdq/mA.h\t(Q-Qo)/mA.h\tcycle number"]
    q = 0.0
    for k in range(200):
        i = 1.0 if k < 100 else -1.0  # mA
        dq = i * 10 / 3600 if k else 0.0
        q += dq
        v = 3.5 + 0.001 * k if k < 100 else 3.6 - 0.001 * (k - 100)
        lines.append(f"1\t{int(i > 0)}\t0\t0\t{int(k == 100)}\t0\t{int(k >= 100)}\t{k * 10.0:.4f}\t{i:.4f}\t{v:.6f}"
                     f"\t{i:.6f}\t{dq:.9f}\t{q:.9f}\t0")
    path = tmp_path / "gcpl.mpt"
    path.write_text("\n".join(lines) + "\n", encoding="latin-1", newline="\r\n")
    assert detect_format(path) == "biologic-mpt"
    df = read_cycler(path)
    assert df["current_ampere"].iloc[5] == pytest.approx(1e-3)
    s = cycling.cycle_summary(df)
    assert s["charge_capacity_ah"].iloc[0] == pytest.approx(99 * 10 / 3600 * 1e-3, rel=1e-6)
    assert s["discharge_capacity_ah"].iloc[0] == pytest.approx(100 * 10 / 3600 * 1e-3, rel=1e-6)


def test_missing_galvani_says_how_to_install(monkeypatch, tmp_path):
    path = tmp_path / "x.mpr"
    path.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a" + bytes(200))
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("galvani"):
            raise ImportError("no galvani")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingDependencyError, match=r"pip install 'batteryzoom\[gpl\]'"):
        read_cycler(path)


# --------------------------------------------------------------------------- the corpus
# EC-Lab binaries against galvani's raw columns, text exports against pandas reading the
# raw columns. Resolution: .mpr floats as stored (float32 -> 1e-7 relative); text as
# printed (8 significant digits). (Q-Qo) is the net charge since the technique started.
BIOLOGIC_MPR = ["real/cycler/biologic-cellpy", "real/cycler/biologic-navani-gcpl",
                "real/cycler/biologic-navani-00-test-04-mb-c01", "real/cycler/biologic-navani-00-test-01-ocv-c01"]
BIOLOGIC_TEXT = {  # name -> the header line (1-based) its "Nb header lines" names, or 1 without a header block
    "real/cycler/biologic-pyprobe-sample-data-biologic-ca1": 103,
    "real/cycler/biologic-pyprobe-sample-data-biologic-timestamped": 98,
    "real/cycler/biologic-pyprobe-sample-data-biologic-no-header": 1,
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", BIOLOGIC_MPR)
def test_every_ec_lab_binary_matches_galvani(name, fetch_real, need_piece, unchanged, matches_reference):
    need_piece("galvani")
    import numpy as np
    import pandas as pd
    from galvani import BioLogic

    path = fetch_real(name)[0]
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    with open(path, "rb") as fh:
        raw = pd.DataFrame(BioLogic.MPRfile(fh).data)
    ref = pd.DataFrame({"t": raw["time/s"], "v": raw["Ewe/V"]})
    has_current = "I/mA" in raw
    ref["i"] = raw["I/mA"] * 1e-3 if has_current else 0.0
    if "(Q-Qo)/mA.h" in raw:
        ref["q"] = raw["(Q-Qo)/mA.h"] * 1e-3
        half = raw["half cycle"] if "half cycle" in raw else pd.Series(0, index=raw.index)
        ref["step"] = raw["Ns"].astype("int64") * 100_000 + half.astype("int64")
    scope = "net" if "q" in ref else None
    if name.endswith("ocv-c01"):
        # an OCV technique records no current: an open circuit, 0 A (said in attrs)
        assert (df["current_ampere"] == 0).all() and any("OCV" in n for n in df.attrs["notes"])
        assert len(df) == 2
    i_atol = 1e-7 * float(np.abs(ref["i"]).max()) + 1e-12 if has_current else None
    matches_reference(df, ref, scope=scope, t_atol=1e-9, v_atol=1e-9, i_atol=i_atol)
    if not has_current and "control/V/mA" in raw:
        # a GCPL file storing only dq: I = dq/dt, against the controlled current (median 0.03 %)
        control = raw["control/V/mA"].to_numpy() * 1e-3
        held = np.abs(control) > 0
        rel = np.abs(df["current_ampere"].to_numpy()[held] / control[held] - 1)
        assert np.median(rel) < 1e-3 and np.percentile(rel, 99) < 1e-3


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(BIOLOGIC_TEXT))
def test_every_ec_lab_text_export_matches_its_raw_columns(name, fetch_real, unchanged, matches_reference):
    import numpy as np
    import pandas as pd

    path = fetch_real(name)[0]
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    assert df.attrs["format"] == "biologic-mpt"
    raw = pd.read_csv(path, sep="\t", skiprows=BIOLOGIC_TEXT[name] - 1, encoding="latin-1", index_col=False)
    time = raw["time/s"]
    if time.dtype == object or pd.api.types.is_string_dtype(time):
        # BT-Lab's absolute time: dates in time/s; the test time counts from the first
        stamps = pd.to_datetime(time, format="%m/%d/%Y %H:%M:%S.%f")
        t = (stamps - stamps.iloc[0]).dt.total_seconds()
        np.testing.assert_allclose(df["unix_time_second"] - df["unix_time_second"].iloc[0], t, atol=1e-6)
    else:
        t = time
    ref = pd.DataFrame({"t": t, "v": raw["Ecell/V"], "i": raw["I/mA"] * 1e-3,
                        "q": raw["(Q-Qo)/mA.h"] * 1e-3, "step": raw["Ns"]})
    # as printed: 8 significant digits (1e-7 V, current to 1e-7 of its largest)
    matches_reference(df, ref, scope="net", t_atol=1e-6, v_atol=1e-9,
                      i_atol=1e-7 * float(np.abs(ref["i"]).max()) + 1e-12)
    if name.endswith("no-header"):
        assert any("EC-Lab's column names on the first line" in e for _, e in _evidence(path))


def _evidence(path):
    from batteryzoom.io.cycler.sniff import Sample, matches

    return list(matches(Sample(path)))
