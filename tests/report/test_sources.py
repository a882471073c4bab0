"""bz.report.sources: the twin and a folder of the user's data described by batteryzoom.yaml."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom import report as rp
from batteryzoom.errors import FileFormatError
from batteryzoom.io.cycler import TimeRepairWarning
from batteryzoom.report._levels import level_figure


def _write_yaml(folder, text):
    (folder / rp.DATASET_FILE).write_text(text)
    return folder


def test_folder_dataset_runs_the_scales_it_lists(tmp_path):
    """The twin's cycler exports (BTSDA CSV, as a Neware writes them) as a user's folder."""
    data = tmp_path / "data"  # the user's folder; the report goes beside it
    data.mkdir()
    sd_csv = bz.data.load("twin/cycling-self-discharge", part="btsda.csv")
    one_csv = bz.data.load("twin/cycling-one-cycle", part="btsda.csv")
    lot = data / "lot"
    lot.mkdir()
    for cell in ("SN-0001", "SN-0002", "SN-0003", "SN-0004", "SN-0005", "SN-0006"):
        src = bz.data.load("twin/cycling-population", part=f"btsda-{cell}.csv")
        (lot / f"{cell}.csv").write_bytes(src.read_bytes())
    _write_yaml(data, f"""
name: my lot
cycler:
  one_cycle: {one_csv}
  self_discharge: {sd_csv}
  cell_id: SN-0009
  population: lot/*.csv
""")
    # BTSDA's step time restarts at each step: the reader rebuilds the test time and says so
    with pytest.warns(TimeRepairWarning, match="rebuilt from a step time"):
        report = rp.run_zoom(data, progress=False)
    assert report.dataset == "my lot" and not report.is_twin
    assert report.scales["cycler"].status == "done"
    for scale in ("cell", "electrode", "particle", "grain"):
        assert report.scales[scale].status == "absent"
    assert {"S1_charge_discharge", "S2_self_discharge", "cycler_population"} <= set(report.figures)
    truth = bz.data.load("twin/cycling-self-discharge", part="truth")
    assert report.value("cycler", "k_value_mv_per_day") == pytest.approx(truth["k_value_mv_per_day"], rel=0.05)
    # not in its six-cell lot: judged against it by robust z-score
    assert report.value("cycler", "robust_z") > 3.5 and report.value("cycler", "verdict") == "fail"
    assert report.findings["truth"].isna().all()  # no truth for user data
    files = rp.write_report(report, tmp_path / "out", static=False)
    assert "Your data" in files.index.read_text(encoding="utf-8")


def test_folder_dataset_places_volumes_by_origin(tmp_path):
    data = tmp_path / "data"  # the user's folder; the report goes beside it
    data.mkdir()
    import tifffile

    electrode = bz.data.load("twin/electrode-ct")
    particle = bz.data.load("twin/particle-nanoct")
    tifffile.imwrite(data / "electrode.tif", electrode.values)
    np.savez(data / "particle.npz", volume=particle.values)
    origin = [float(v) for v in particle.attrs["origin_um"]]
    _write_yaml(data, f"""
electrode:
  volume: electrode.tif
  voxel_size_um: 0.5
particle:
  volume: particle.npz
  voxel_size_um: 0.08
  origin_um: {origin}
""")
    src = rp.FolderSource(data)
    assert src.route("particle") == "finished volume (particle.npz)" and src.route("cycler") is None
    h = src.hierarchy()
    assert h.path("particle") == ["electrode", "particle"]
    lo, hi = h.box_in("particle", "electrode")
    np.testing.assert_allclose(lo, np.asarray(particle.attrs["box_um_min"]), atol=1e-6)
    assert src.load("electrode")["volume"].attrs["voxel_size_um"] == [0.5, 0.5, 0.5]
    fig = level_figure(src, "electrode", src.load("electrode")["volume"], "electrode")
    assert [t.name for t in fig.data[1:]] == ["particle"]  # the particle's box on the electrode
    # the slice drawn is the plane through the particle's centre
    z_um = (lo[0] + hi[0]) / 2
    assert f"z = {round(z_um / 0.5) * 0.5:.4g} µm" in fig.layout.title.text


def test_folder_dataset_reads_a_3d_xanes_stack_and_its_labels(tmp_path):
    data = tmp_path / "data"  # the user's folder; the report goes beside it
    data.mkdir()
    import h5py
    import tifffile

    stack = bz.data.load("twin/particle-xanes")[:, 20:36, 20:36, 20:36]
    with h5py.File(data / "xanes.h5", "w") as fh:
        fh["img_xanes"] = stack.values
        fh["X_eng"] = stack["energy"].values / 1000  # keV, as FXI writes it
    labels = np.arange(16 ** 3, dtype=np.int32).reshape(16, 16, 16) % 7
    tifffile.imwrite(data / "grains.tif", labels)
    tifffile.imwrite(data / "wrong.tif", labels[:8])
    np.savetxt(data / "energies.txt", stack["energy"].values)
    tifffile.imwrite(data / "stack.tif", stack.values)
    _write_yaml(data, "grain:\n  stack: xanes.h5\n  voxel_size_um: 0.16\n  labels: grains.tif\n"
                          "  designated: [3, 5]\n")
    d = rp.FolderSource(data).load("grain")
    assert d["stack"].dims == ("energy", "z", "y", "x") and d["stack"].attrs["voxel_size_um"] == [0.16] * 3
    np.testing.assert_allclose(d["stack"]["energy"].values, stack["energy"].values)
    np.testing.assert_array_equal(d["labels"].values, labels)
    assert d["designated"] == [3, 5]
    report = rp.run_zoom(data, progress=False)
    assert report.scales["grain"].status == "done"
    assert report.value("grain", "grain_labels") == [3, 5]
    assert report.value("grain", "label_source") == "given with the data"
    assert {"S3_two_grains", "grain_edge_energy_map", "grain_particle_3d"} <= set(report.figures)
    assert 8335 < report.value("grain", "grain1_mean_ev") < 8350
    # a TIFF stack with its energies reads the same
    _write_yaml(data, "grain:\n  stack: stack.tif\n  energies: energies.txt\n  voxel_size_um: 0.16\n")
    t = rp.FolderSource(data).load("grain")["stack"]
    np.testing.assert_array_equal(t.values, stack.values)
    # labels on another grid, and a TIFF stack without its energies, are refused with the fix
    _write_yaml(data, "grain:\n  stack: xanes.h5\n  labels: wrong.tif\n")
    with pytest.raises(FileFormatError, match="give labels on the stack's own grid"):
        rp.FolderSource(data).load("grain")
    _write_yaml(data, "grain:\n  stack: stack.tif\n")
    with pytest.raises(FileFormatError, match="give grain.energies"):
        rp.FolderSource(data).load("grain")


@pytest.mark.parametrize("text, problem", [
    ("cycler: [1, 2", "is not valid YAML"),
    ("cell:\n  volume: missing.tif\n", "does not exist"),
    ("cel:\n  volume: x.tif\n", "unknown key(s) ['cel']"),
    ("cycler:\n  threshold_mv_per_day: 2\n", "names no file"),
    ("grain:\n  stack: s.h5\n  colour: red\n", "unknown key(s) ['colour']"),
    ("name: nothing\n", "lists no scale"),
])
def test_folder_dataset_errors_name_the_file_and_the_problem(tmp_path, text, problem):
    data = tmp_path / "data"  # the user's folder; the report goes beside it
    data.mkdir()
    (data / "s.h5").write_bytes(b"")
    _write_yaml(data, text)
    with pytest.raises(FileFormatError) as info:
        rp.FolderSource(data)
    assert problem in str(info.value)
    assert str(data) in str(info.value)
