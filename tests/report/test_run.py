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


# ------------------------------------------------------------------ the route each scale took


def test_the_default_route_is_the_finished_volumes_and_says_so(twin_report):
    assert twin_report.routes == {"cell": "finished volume (twin/cell-ct)",
                                  "electrode": "finished volume (twin/electrode-ct)",
                                  "particle": "finished volume (twin/particle-nanoct)",
                                  "grain": "finished volume (twin/particle-xanes)"}
    assert "input" not in set(twin_report.findings["finding"])  # the reference table stays as it is
    lines = twin_report.summary_lines()
    assert lines[lines.index(next(x for x in lines if x.startswith("particle"))) + 1].split() == \
        ["from:", "finished", "volume", "(twin/particle-nanoct)"]


@pytest.fixture(scope="module")
def raw_report():
    """The particle and grain scales of the twin from its raw acquisitions (~1.5 min on two
    cores: the 3D XANES is 60 reconstructions)."""
    return rp.run_zoom("twin", scales=["particle", "grain"], from_raw=True, progress=False)


def test_the_twin_from_raw_names_its_route_and_recovers_the_grains(raw_report, tmp_path):
    """From raw projections (Paganin + FBP of the nano-CT, grains segmented on it; the 3D
    XANES through xanes_from_raw over those grains): each scale says so, and the grain
    findings stay within the raw chain's tolerances of the truth (tests/xanes/test_from_raw.py
    states them for true labels; here the labels are the reconstruction's own segmentation)."""
    routes = raw_report.routes
    assert routes["particle"].startswith("reconstructed from raw projections (twin/particle-nanoct-raw: 180 "
                                         "projections at 17 keV, Paganin phase retrieval δ/β 32")
    assert "axis at" in routes["particle"] and "FBP" in routes["particle"]
    assert routes["grain"].startswith("reconstructed from raw projections (twin/particle-xanes-raw: 60 energies")
    assert "magnification exponent" in routes["grain"]
    f = raw_report.findings.set_index(["scale", "finding"])
    for scale in ("particle", "grain"):
        assert f.loc[(scale, "input"), "note"] == routes[scale]
    assert any(line.strip() == f"from: {routes['grain']}" for line in raw_report.summary_lines())
    page = rp.write_report(raw_report, tmp_path / "out", static=False).index.read_text(encoding="utf-8")
    assert "Input: reconstructed from raw projections (twin/particle-xanes-raw" in page
    # the particle: grains segmented on the reconstruction, scored on its grid
    assert raw_report.value("particle", "ari") > 0.85
    # the grains: Fig. S3's contrast, the designated grains' means, the voxels' error
    g1, g2 = raw_report.value("grain", "grain1_mean_ev"), raw_report.value("grain", "grain2_mean_ev")
    rows = f.loc["grain"]
    true1 = rows[rows.index.str.startswith("grain 1") & rows.index.str.endswith("mean edge energy")]["truth"].iloc[0]
    true2 = rows[rows.index.str.startswith("grain 2") & rows.index.str.endswith("mean edge energy")]["truth"].iloc[0]
    print(f"\nfrom raw: grain 1 {g1:.3f} eV (truth {true1:.3f}), grain 2 {g2:.3f} eV (truth {true2:.3f}); voxel RMSE "
          f"{raw_report.value('grain', 'voxel_rmse_ev'):.3f} eV; {raw_report.value('grain', 'n_grains')} grains")
    assert g2 > g1 + 0.7
    assert abs(g1 - true1) < 0.25 and abs(g2 - true2) < 0.25
    # per voxel the reconstruction's noise dominates: 0.53 eV today (0.29 from the finished
    # volume; tests/xanes/test_from_raw.py, README "3D XANES from raw projections")
    assert raw_report.value("grain", "voxel_rmse_ev") < 0.7


def test_the_report_command_takes_from_raw_and_prints_the_routes(raw_report, tmp_path, monkeypatch, capsys,
                                                                  no_chromium):
    from batteryzoom.cli import main

    seen = []

    def fake(source, log=None):
        seen.append(source)
        return raw_report

    monkeypatch.setattr(run_module, "run_zoom", fake)
    assert main(["report", "--from-raw", "--out", str(tmp_path / "raw")]) == 0
    assert isinstance(seen[0], rp.TwinSource) and seen[0].from_raw
    out = capsys.readouterr().out
    assert "from: reconstructed from raw projections (twin/particle-nanoct-raw" in out
    assert "from: reconstructed from raw projections (twin/particle-xanes-raw" in out


def test_from_raw_is_refused_for_a_folder_which_gives_its_own_route(dataset):
    data = dataset("cycler:\n  self_discharge: rest.csv\n")
    (data / "rest.csv").write_text("x\n")
    with pytest.raises(InputError, match="applies to the twin only.*raw: .projections, flats, darks, angles"):
        rp.run_zoom(data, from_raw=True)
