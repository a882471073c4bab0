"""The `batteryzoom` command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
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
    header, *lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all(" electrode " in line for line in lines)


def test_data_list_has_a_header_and_says_where_each_dataset_is(capsys, monkeypatch, tmp_path):
    import batteryzoom as bz

    monkeypatch.setenv("BATTERYZOOM_CACHE", str(tmp_path / "cache"))  # empty
    monkeypatch.delenv("BATTERYZOOM_MIRROR", raising=False)
    assert main(["data", "list"]) == 0
    header, *lines = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["NAME", "SCALE", "MODALITY", "SOURCE", "WHERE"]
    where = {line.split()[0]: line[header.index("WHERE"):].strip() for line in lines}
    assert sorted(where) == sorted(bz.data.list())
    for name, place in where.items():
        assert place == ("not generated" if name.startswith("twin/") else "remote"), name
    # the same files through a mirror that holds one of them
    mirror = tmp_path / "mirror"
    spec = bz.data.info("real/xanes/ref-nio").files[0]
    (mirror / spec.path).parent.mkdir(parents=True)
    (mirror / spec.path).write_bytes(b"x" * spec.size)  # the size is what the listing checks
    monkeypatch.setenv("BATTERYZOOM_MIRROR", str(mirror))
    assert main(["data", "list", "--real"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    assert [line.split()[0] for line in lines if line.endswith(" mirrored")] == ["real/xanes/ref-nio"]


def test_bare_command_or_group_prints_its_help_and_exits_0(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: batteryzoom ") and "data" in out and "reconstruct" in out and "examples:" in out
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: batteryzoom data ") and "verify" in out
    # a wrong argument is still argparse's usage error, exit 2
    with pytest.raises(SystemExit) as exc:
        main(["data", "nope"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_version(capsys):
    import batteryzoom as bz

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"batteryzoom {bz.__version__}"


@pytest.mark.parametrize("command", ["", "data", "data list", "data info", "data fetch", "data verify", "report",
                                     "reconstruct"])
def test_every_command_help_ends_with_examples_that_parse(command, capsys):
    from batteryzoom.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        main([*command.split(), "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    examples = out[out.index("\nexamples:\n"):].splitlines()[2:]
    runs = [line.strip().split("  ")[0].split()[1:] for line in examples if line.strip().startswith("batteryzoom ")]
    assert runs, out
    for argv in runs:
        if "COMMAND" in argv:
            continue
        args = build_parser().parse_args(argv)  # each example is a valid command line
        assert args.func is not None, argv


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
    bare = subprocess.run([sys.executable, "-m", "batteryzoom.cli"], capture_output=True, text=True)
    assert bare.returncode == 0 and bare.stdout.startswith("usage: batteryzoom") and not bare.stderr


def _saved_acquisition(path):
    """A small raw scan (a ball off the axis, flats, Poisson noise) saved as zarr."""
    import numpy as np

    import batteryzoom as bz
    from batteryzoom.io.acquisition import make_acquisition

    yy, xx = np.mgrid[:48, :48] - 23.5
    ball = (np.hypot(yy, xx - 5) < 15).astype(np.float32) * 0.03
    angles = np.arange(0, 180, 2.0)
    line = bz.tomo.project(np.stack([ball] * 4), angles, 22.0, 48)
    rng = np.random.default_rng(0)
    acq = make_acquisition(rng.poisson(1e4 * np.exp(-line)).astype(np.uint16), angles,
                           flats=rng.poisson(1e4, (3, 4, 48)).astype(np.uint16), angle_unit="deg",
                           pixel_size_um=1.3)
    acq.to_zarr(path, mode="w", consolidated=False)
    return path


def test_reconstruct_writes_the_volume_and_its_parameters(tmp_path, capsys):
    import json

    import xarray as xr

    acq = _saved_acquisition(tmp_path / "scan.zarr")
    out = tmp_path / "vol.zarr"
    assert main(["reconstruct", str(acq), "--out", str(out), "--no-rings", "--chunks", "2"]) == 0
    assert "centre" in capsys.readouterr().out
    vol = xr.open_zarr(out, consolidated=False).volume
    assert vol.dims == ("z", "y", "x") and vol.attrs["voxel_size_um"] == [1.3, 1.3, 1.3]
    side = json.loads((tmp_path / "vol.json").read_text())
    assert abs(side["centre_px"] - 22.0) <= 0.5 and side["reconstruction"]["rings"] is None
    assert side["written_by"] == "batteryzoom.tomo.reconstruct"
    # a second run needs --overwrite; a file it did not write is never replaced
    assert main(["reconstruct", str(acq), "--out", str(out), "--centre", "22"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["reconstruct", str(acq), "--out", str(out), "--centre", "22", "--no-rings", "--overwrite"]) == 0
    assert json.loads((tmp_path / "vol.json").read_text())["centre_px"] == 22.0
    linear = xr.open_zarr(out, consolidated=False).volume.values
    assert main(["reconstruct", str(acq), "--out", str(out), "--centre", "22", "--no-rings", "--overwrite",
                 "--method", "gridding"]) == 0  # the fast path: the same volume up to the interpolation
    side = json.loads((tmp_path / "vol.json").read_text())
    assert side["reconstruction"]["method"] == "gridding"
    fast = xr.open_zarr(out, consolidated=False).volume.values
    assert np.sqrt(np.mean((fast - linear) ** 2)) < 0.1 * np.sqrt(np.mean(linear ** 2))
    (tmp_path / "other.json").write_text('{"mine": true}')
    assert main(["reconstruct", str(acq), "--out", str(tmp_path / "other.zarr"), "--overwrite"]) == 2
    assert "was not written by batteryzoom" in capsys.readouterr().err
    assert (tmp_path / "other.json").read_text() == '{"mine": true}' and not (tmp_path / "other.zarr").exists()


def test_reconstruct_names_a_file_it_cannot_read(tmp_path, capsys):
    bad = tmp_path / "scan.xyz"
    bad.write_text("not a scan")
    assert main(["reconstruct", str(bad), "--out", str(tmp_path / "v.zarr")]) == 2
    assert str(bad) in capsys.readouterr().err
