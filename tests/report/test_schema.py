"""bz.report.schema: batteryzoom.yaml read safely and checked whole before any scale runs."""

from __future__ import annotations

import time

import pytest

import batteryzoom as bz
import batteryzoom.report.run as run_module
from batteryzoom import report as rp
from batteryzoom.errors import FileFormatError

# the classic "billion laughs": nine levels of ten aliases, 10⁹ strings from ~1 KB
LAUGHS = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n" + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def test_a_billion_laughs_is_refused_at_once(dataset):
    data = dataset(LAUGHS + "cycler:\n  one_cycle: *i\n")
    t = time.perf_counter()
    with pytest.raises(FileFormatError, match="anchors and aliases"):
        rp.FolderSource(data)
    assert time.perf_counter() - t < 1.0


def test_an_alias_alone_is_refused_with_its_line(dataset):
    (dataset("") / "rest.csv").write_text("x\n")
    data = dataset("cycler:\n  self_discharge: &r rest.csv\n  one_cycle: *r\n")
    with pytest.raises(FileFormatError, match=r"(?s)anchors and aliases .*line 2"):
        rp.FolderSource(data)


@pytest.mark.parametrize("text, line", [
    ("cycler:\n  self_discharge: a.csv\ncycler:\n  self_discharge: b.csv\n", "'cycler' is given twice (lines 1 and 3)"),
    ("cycler:\n  self_discharge: a.csv\n  self_discharge: b.csv\n", "'self_discharge' is given twice (lines 2 and 3)"),
])
def test_a_key_given_twice_is_refused(dataset, text, line):
    """YAML keeps the last of two keys: a second `cycler:` flipped the verdict of "the cell"."""
    folder = dataset("")
    for name in ("a.csv", "b.csv"):
        (folder / name).write_text("x\n")
    with pytest.raises(FileFormatError) as info:
        rp.FolderSource(dataset(text))
    assert line in str(info.value)


# one schema case per value rule: (the section's text, what the message must say)
CASES = [
    ("cell:\n  volume: v.npy\n  voxel_size_um: abc\n", "cell.voxel_size_um: must be a number > 0 in µm"),
    ("cell:\n  volume: v.npy\n  voxel_size_um: 25 um\n", "cell.voxel_size_um: must be a number > 0 in µm"),
    ("cell:\n  volume: v.npy\n  voxel_size_um: -2\n", "cell.voxel_size_um: must be a number > 0 in µm"),
    ("cell:\n  volume: v.npy\n  voxel_size_um: 0\n", "cell.voxel_size_um: must be a number > 0 in µm"),
    ("cell:\n  volume: v.npy\n  voxel_size_um: [1, 2]\n", "cell.voxel_size_um: must be a number > 0 in µm"),
    ("cell:\n  volume: v.npy\n  voxel_size_um: .nan\n", "cell.voxel_size_um: must be a number > 0 in µm"),
    ("cell:\n  volume: v.npy\n  voxel_size_um: true\n", "cell.voxel_size_um: must be a number > 0 in µm"),
    ("cell:\n  volume: v.npy\n  origin_um: abc\n", "cell.origin_um: must be three numbers in µm"),
    ("cell:\n  volume: v.npy\n  origin_um: [1, 2]\n", "cell.origin_um: must be three numbers in µm"),
    ("cell:\n  volume: v.npy\n  origin_um: [1, 2, x]\n", "cell.origin_um: must be three numbers in µm"),
    ("cell:\n  volume: 42\n", "cell.volume: must be a file or folder path"),
    ("cell:\n  volume: v.npy\n  dataset: [1]\n", "cell.dataset: must be text"),
    ("cycler:\n  self_discharge: v.npy\n  threshold_mv_per_day: high\n",
     "cycler.threshold_mv_per_day: must be a number > 0"),
    ("cycler:\n  self_discharge: v.npy\n  threshold_mv_per_day: -1\n",
     "cycler.threshold_mv_per_day: must be a number > 0"),
    ("cycler:\n  self_discharge: v.npy\n  population: [v.npy, 3]\n", "cycler.population: must be a file"),
    ("electrode:\n  volume: v.npy\n  thickness_axis: w\n", "electrode.thickness_axis: must be one of ['z', 'y', 'x']"),
    ("electrode:\n  volume: v.npy\n  collector_side: left\n", "electrode.collector_side: must be one of"),
    ("grain:\n  stack: v.npy\n  designated: [1, 2, 3]\n", "grain.designated: must be two grain labels"),
    ("grain:\n  stack: v.npy\n  designated: [1, -2]\n", "grain.designated: must be two grain labels"),
    ("grain:\n  stack: v.npy\n  energies: [8300]\n", "grain.energies: must be a text file or a list"),
    ("grain:\n  stack: v.npy\n  energies: [8300, -1]\n", "grain.energies: must be a text file or a list"),
    ("name: [1, 2]\ncell:\n  volume: v.npy\n", "name: must be text"),
    ("cell: 3\n", "cell: must be a mapping"),
    ("- cell\n", "must be a mapping of scales"),
]


@pytest.mark.parametrize("text, problem", CASES)
def test_each_wrong_value_gets_one_clear_line(dataset, text, problem):
    folder = dataset("")
    (folder / "v.npy").write_bytes(b"")
    with pytest.raises(FileFormatError) as info:
        rp.FolderSource(dataset(text))
    message = str(info.value)
    assert problem in message, message
    assert str(folder) in message and "help(batteryzoom.report.FolderSource)" in message


def test_every_problem_is_reported_at_once_before_any_scale_runs(dataset, monkeypatch):
    """Three problems in three sections: one message, one line each, and no scale has run
    (the earlier scales used to run first and the bad value then gave a raw traceback)."""
    folder = dataset("")
    (folder / "v.npy").write_bytes(b"")
    ran = []
    monkeypatch.setitem(run_module._RUNNERS, "cycler", lambda *a: ran.append("cycler"))
    with pytest.raises(FileFormatError) as info:
        rp.run_zoom(dataset("cycler:\n  self_discharge: v.npy\n  threshold_mv_per_day: high\n"
                            "cell:\n  volume: v.npy\n  voxel_size_um: abc\n"
                            "particle:\n  volume: v.npy\n  origin_um: abc\n"), progress=False)
    message = str(info.value)
    assert "3 problem(s)" in message
    lines = [x for x in message.splitlines() if x.startswith("  - ")]
    assert [x.split(":")[0] for x in lines] == ["  - cycler.threshold_mv_per_day", "  - cell.voxel_size_um",
                                                "  - particle.origin_um"]
    assert ran == []


def test_a_valid_file_reads_as_before(dataset):
    folder = dataset("")
    (folder / "v.npy").write_bytes(b"")
    src = rp.FolderSource(dataset("name: cell 42\ncell:\n  volume: v.npy\n  voxel_size_um: [25, 25.0, 25]\n"
                                  "  origin_um: [0, -1.5, 2.0e+3]\ncycler:\n  self_discharge: v.npy\n"
                                  "  threshold_mv_per_day: 2\n  cell_id: 42\n"))
    assert src.name == "cell 42" and set(src.spec) == {"cycler", "cell"}
    assert src.spec["cell"]["origin_um"] == [0, -1.5, 2000.0]
    # YAML 1.1 reads 2e3 as text: the message says so
    with pytest.raises(FileFormatError, match=r"YAML reads '2e3' as text.*e\.g\. 2000\.0"):
        rp.FolderSource(dataset("cell:\n  volume: v.npy\n  origin_um: [0, 1, 2e3]\n"))


def test_the_schema_is_documented_where_users_look():
    """help(bz.report.FolderSource) states the rules, and so does the README."""
    from pathlib import Path

    doc = bz.report.FolderSource.__doc__
    for rule in ("a number > 0 in µm", "three numbers in µm", "anchors or aliases", "a key given twice"):
        assert rule in doc, rule
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "help(bz.report.FolderSource)" in readme and "anchors" in readme
