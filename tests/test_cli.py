"""The `batteryzoom` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from batteryzoom.cli import main


def test_data_list_shows_every_dataset(capsys):
    import batteryzoom as bz

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in bz.data.list():
        assert name in out


def test_data_list_filters_by_scale(capsys):
    assert main(["data", "list", "--scale", "electrode"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all(" electrode " in line for line in lines)


def test_data_info_and_unknown_name(capsys):
    assert main(["data", "info", "real/xanes/ref-nio"]) == 0
    out = capsys.readouterr().out
    assert "NiO" in out and "https://github.com/gmysage/pyxas/raw/" in out
    assert main(["data", "info", "real/nope"]) == 2
    assert "no such dataset" in capsys.readouterr().err


def test_data_verify_through_the_mirror(fetch_real, capsys):
    fetch_real("real/xanes/ref-nio")  # skips (fails on CI) without the mirror
    assert main(["data", "verify", "real/xanes/ref-nio", "real/ct/cell-slice-im1"]) == 0
    assert "2 of 2 files ok" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "batteryzoom.cli", "data", "list", "--real"], capture_output=True, text=True)
    assert out.returncode == 0 and "real/cycler/neware-m50t" in out.stdout
