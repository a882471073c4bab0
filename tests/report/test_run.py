"""bz.report.run: `run_zoom` on the twin and on a user's folder, the command's `main`, and the
twin's findings against the reference table (a reorganisation must leave it unchanged)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz
import batteryzoom.report.run as run_module
from batteryzoom import report as rp
from batteryzoom.errors import InputError

# every figure the twin's report must hold: the study's three and at least one per scale
STUDY = ("S1_charge_discharge", "S2_self_discharge", "S3_two_grains")


def _write_yaml(folder, text):
    (folder / rp.DATASET_FILE).write_text(text)
    return folder


def test_every_scale_runs_on_the_twin_with_its_figures(twin_report):
    assert list(twin_report.scales) == list(rp.SCALES)
    assert twin_report.is_twin
    for name in STUDY:
        assert name in twin_report.figures
    assert list(twin_report.figures)[:3] == list(STUDY)  # the study's figures lead
    for scale, res in twin_report.scales.items():
        assert res.status == "done", (scale, res.status, res.text)
        assert res.figures, f"{scale} has no figure"
        for name in res.figures:
            assert twin_report.figures[name].scale == scale
    # a finding per row, twin truth beside the numbers that have one
    f = twin_report.findings
    assert set(f.columns) >= {"scale", "finding", "value", "text", "unit", "truth", "note"}
    assert f["truth"].notna().sum() >= 6


def test_main_prints_where_the_report_is_and_the_summary(twin_report, tmp_path, monkeypatch, capsys, no_chromium):
    monkeypatch.setattr(run_module, "run_zoom", lambda source, log=None: twin_report)
    assert rp.main("twin", tmp_path / "demo") == 0
    out = capsys.readouterr().out
    assert f"Report: {(tmp_path / 'demo' / 'index.html').resolve()}" in out
    assert "chromium was not found" in out
    for line in twin_report.summary_lines():
        assert line in out
    assert "QC verdict FAIL" in out


def test_report_command_rejects_a_folder_without_its_yaml(tmp_path, capsys):
    from batteryzoom.cli import main

    assert main(["report", "--dataset", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / rp.DATASET_FILE) in err and "no such file" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ user data: a folder


def test_a_rejected_scale_fails_alone_and_says_why(tmp_path):
    """A 'cell CT' that holds no cell fails its scale; the cycler scale still runs."""
    data = tmp_path / "data"  # the user's folder; the report goes beside it
    data.mkdir()
    rng = np.random.default_rng(0)
    np.save(data / "noise.npy", rng.normal(100, 5, (3, 64, 64)).astype(np.float32))
    sd_csv = bz.data.load("twin/cycling-self-discharge", part="btsda.csv")
    _write_yaml(data, f"""
cycler:
  self_discharge: {sd_csv}
cell:
  volume: noise.npy
  voxel_size_um: 25
""")
    with pytest.warns(UserWarning):
        report = rp.run_zoom(data, progress=False)
    assert report.scales["cycler"].status == "done"
    cell = report.scales["cell"]
    assert cell.status == "failed" and "no slice could be analysed" in cell.text
    assert any(line.split()[:2] == ["cell", "failed:"] for line in report.summary_lines())
    html = rp.write_report(report, tmp_path / "out", static=False).index.read_text(encoding="utf-8")
    assert "failed: " in html and "no slice could be analysed" in html


def test_unknown_scale_and_dataset_are_rejected():
    with pytest.raises(InputError, match="not scales of the zoom"):
        rp.run_zoom("twin", scales=["cycler", "atoms"])
    with pytest.raises(InputError, match="pass 'twin' or the path"):
        rp.run_zoom(42)


def test_findings_on_the_twin_are_those_of_the_reference(twin_report):
    """The twin's findings table, cell for cell, against ``reference/report_findings_twin.csv``
    (written by ``run_zoom("twin").table().to_csv(..., index=False)``). A change that moves a
    number on purpose rewrites the file in the same commit, so the diff shows what moved;
    a reorganisation of the code must leave it as it is."""
    ref = pd.read_csv(Path(__file__).parents[1] / "reference" / "report_findings_twin.csv", dtype=str,
                      keep_default_na=False)
    ours = pd.read_csv(io.StringIO(twin_report.table().to_csv(index=False)), dtype=str, keep_default_na=False)
    assert list(ours.columns) == list(ref.columns)
    assert ours[["scale", "finding"]].values.tolist() == ref[["scale", "finding"]].values.tolist()
    diff = ours.ne(ref).any(axis=1)
    assert not diff.any(), "findings moved:\n" + pd.concat({"ours": ours[diff], "reference": ref[diff]}).to_string()


def test_each_scale_fails_only_for_its_own_inputs(tmp_path):
    """A broken grain stack fails the grain scale alone: the electrode scale (whose figure
    places the volumes in one frame, which reads every volume) still runs."""
    import tifffile

    import batteryzoom as bz

    data = tmp_path / "data"
    data.mkdir()
    tifffile.imwrite(data / "electrode.tif", bz.data.load("twin/electrode-ct").values[:48, :48, :])
    (data / "xanes.h5").write_bytes(b"not an HDF5 file")
    _write_yaml(data, "electrode:\n  volume: electrode.tif\n  voxel_size_um: 0.5\n"
                      "grain:\n  stack: xanes.h5\n  voxel_size_um: 0.16\n  origin_um: [0, 0, 0]\n")
    report = rp.run_zoom(data, progress=False)
    assert report.scales["electrode"].status == "done", report.scales["electrode"].text
    assert report.value("electrode", "n_particles") > 10
    grain = report.scales["grain"]
    assert grain.status == "failed" and "xanes.h5" in grain.text
