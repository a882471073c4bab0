"""BioLogic EC-Lab (io/cycler/biologic.py): a GCPL text export through galvani, and the
install hint when galvani (an optional GPL extra) is missing."""

from __future__ import annotations

import builtins

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
