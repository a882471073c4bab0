"""bz.report.write: the report folder is written whole or not at all, never among the user's
data, never over a file the report did not write; interrupted at any point (SIGINT, SIGKILL)
it never leaves a folder that looks complete and is not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import batteryzoom.report.run as run_module
from batteryzoom import report as rp
from batteryzoom.errors import InputError
from batteryzoom.report.write import MARKER


def small_report(tag: str = "first") -> rp.ZoomReport:
    """A report of three small figures (no zoom run): what write_report does is the subject."""
    import plotly.graph_objects as go

    figures = {}
    for k in range(3):
        fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[k, k + 1, k * 2], name=f"{tag} {k}"))
        figures[f"f{k}"] = rp.ReportFigure(f"f{k}", "cycler", f"{tag} figure {k}", fig, width=300, height=200)
    scales = {s: rp.ScaleResult(s, "absent", f"no {s}") for s in rp.SCALES}
    scales["cycler"] = rp.ScaleResult("cycler", "done", f"{tag} run", list(figures), values={"summary": tag})
    findings = pd.DataFrame(columns=["scale", "finding", "value", "text", "unit", "truth", "truth_text", "note"])
    return rp.ZoomReport(dataset=tag, description=f"the {tag} report", is_twin=False, scales=scales,
                         figures=figures, findings=findings)


def looks_complete_and_is(out: Path) -> str | None:
    """Which report ``out`` holds ("first"/"second"), checking it is whole: its marker, its
    page and every file the marker lists, and nothing else (no temporaries, no debris)."""
    if not out.exists():
        return None
    marker = json.loads((out / MARKER).read_text())
    listed = set(marker["files"])
    present = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != MARKER}
    assert present == listed, (present, listed)
    assert not [p for p in out.rglob(".*") if p.name != MARKER], list(out.rglob(".*"))
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")
    for name in listed - {"index.html"}:
        assert (out / name).stat().st_size > 0
        assert name in page  # every figure file the page links to
    return marker["dataset"]


# ------------------------------------------------------------------ refusals, before any work


def test_the_dataset_folder_and_what_lies_inside_it_are_refused(dataset, tmp_path):
    data = dataset("cycler:\n  self_discharge: rest.csv\n")
    (data / "rest.csv").write_text("x\n")
    (data / "index.html").write_text("the user's own page")
    report = small_report()
    report.inputs = tuple(rp.FolderSource(data).inputs())
    for out in (data, data / "report", data / "sub" / "deeper"):
        with pytest.raises(InputError, match="dataset folder"):
            rp.write_report(report, out, static=False)
    assert (data / "index.html").read_text() == "the user's own page"
    assert sorted(p.name for p in data.iterdir()) == ["batteryzoom.yaml", "index.html", "rest.csv"]
    # and from the command, before any scale runs
    from batteryzoom.cli import main

    assert main(["report", "--dataset", str(data), "--out", str(data / "report")]) == 2
    assert not (data / "report").exists()


def test_a_folder_the_report_did_not_write_is_never_overwritten(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "index.html").write_text("my notes")
    with pytest.raises(InputError, match="not a batteryzoom report"):
        rp.write_report(small_report(), out, static=False)
    assert (out / "index.html").read_text() == "my notes" and len(list(out.iterdir())) == 1
    # a report folder the user added a file to is not replaced either (it would be lost)
    report_dir = tmp_path / "report"
    rp.write_report(small_report(), report_dir, static=False)
    (report_dir / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"1 file\(s\) the report did not write \(notes.txt\)"):
        rp.write_report(small_report("second"), report_dir, static=False)
    assert (report_dir / "notes.txt").read_text() == "mine"
    assert "first" in (report_dir / "index.html").read_text(encoding="utf-8")
    # a file where the folder should be
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        rp.write_report(small_report(), tmp_path / "file", static=False)


def test_a_report_folder_it_wrote_is_replaced_whole(tmp_path):
    out = tmp_path / "report"
    rp.write_report(small_report("first"), out, static=False)
    assert looks_complete_and_is(out) == "first"
    rp.write_report(small_report("second"), out, static=False)
    assert looks_complete_and_is(out) == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # nothing left beside it


@pytest.mark.parametrize("out", ["/proc/x", "/proc/x/y/report"])
def test_an_unwritable_output_is_refused_before_any_scale_runs(out, monkeypatch, capsys):
    ran = []
    for scale in rp.SCALES:
        monkeypatch.setitem(run_module._RUNNERS, scale, lambda *a, s=scale: ran.append(s))
    from batteryzoom.cli import main

    assert main(["report", "--dataset", "twin", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "cannot write there" in err and out in err
    assert ran == []
    with pytest.raises(InputError, match="cannot write there"):
        rp.write_report(small_report(), out, static=False)


# ------------------------------------------------------------------ interrupted at every point

SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    import plotly.io
    from test_write import fake_write_images, small_report
    from batteryzoom import report as rp
    plotly.io.write_images = fake_write_images
    rp.write_report(small_report("second"), {out!r}, chromium="/bin/true")
""")


def fake_write_images(figs, files, **kwargs) -> None:
    """Stands in for kaleido in the interruption tests (what is tested is what the report
    does with the files; kaleido's own export is tested on the twin): a few bytes per file,
    0.1 s each, so that a timed kill can land inside the export."""
    import time

    for fig, path in zip(figs, files):
        time.sleep(0.1)
        Path(path).write_bytes(f"<{fig.data[0].name}>".encode())


def _run(out: Path, point: int | None, sig: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("BATTERYZOOM_REPORT_INTERRUPT_AT", None)
    if point is not None:
        env["BATTERYZOOM_REPORT_INTERRUPT_AT"] = f"{point}:{sig}"
    code = SCRIPT.format(tests=str(Path(__file__).parent), out=str(out))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_interrupted_at_every_point_the_folder_is_the_old_report_or_the_new(tmp_path, tmp_path_factory,
                                                                            monkeypatch):
    """SIGKILL and SIGINT at each checkpoint of a write (before the export, after each of the
    six figure files, after the export, the page, the marker, and after the swap): the folder
    is always the old report or the new one, whole; a SIGINT leaves no temporary; a SIGKILL's
    are removed by the next run. 2 signals × 11 points = 22 interruptions."""
    import shutil

    out = tmp_path / "report"
    first = tmp_path_factory.mktemp("pristine") / "report"
    monkeypatch.setattr("plotly.io.write_images", fake_write_images)
    rp.write_report(small_report("first"), first, chromium="/bin/true")
    assert looks_complete_and_is(first) == "first"
    n_points = 11  # 1 start + 6 figure files + after the export + page + marker + after the swap
    seen = {"first": 0, "second": 0, None: 0}
    for sig in ("SIGKILL", "SIGINT"):
        for point in range(1, n_points + 1):
            if out.exists():
                shutil.rmtree(out)
            shutil.copytree(first, out)  # the earlier report, as write_report left it
            run = _run(out, point, sig)
            killed = (-signal.SIGKILL,) if sig == "SIGKILL" else (-signal.SIGINT, 1, 130)
            assert run.returncode in killed + ((0,) if point == n_points else ()), (sig, point, run.stderr[-2000:])
            which = looks_complete_and_is(out)
            seen[which] += 1
            assert which == ("second" if point == n_points else "first"), (sig, point, which)
            if sig == "SIGINT":  # Ctrl-C cleans up after itself
                assert sorted(p.name for p in tmp_path.iterdir()) == ["report"], point
    assert seen == {"first": 2 * (n_points - 1), "second": 2, None: 0}
    # past the last point the run completes; and it removes what the killed runs left
    assert _run(out, n_points + 1, "SIGKILL").returncode == 0
    assert looks_complete_and_is(out) == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


@pytest.mark.parametrize("delay_s", [0.5, 2.0, 4.0])
def test_killed_at_random_moments_the_folder_is_never_half_written(tmp_path, monkeypatch, delay_s):
    """Timed SIGKILLs land anywhere (imports, the export, the swap's two renames)."""
    import time

    monkeypatch.setattr("plotly.io.write_images", fake_write_images)
    out = tmp_path / "report"
    rp.write_report(small_report("first"), out, chromium="/bin/true")
    code = SCRIPT.format(tests=str(Path(__file__).parent), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(delay_s)
    proc.kill()
    proc.wait()
    # the old report, the new one, or (killed between the swap's two renames) none yet
    assert looks_complete_and_is(out) in ("first", "second", None)
    rp.write_report(small_report("first"), out, chromium="/bin/true")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # the next run swept the leftovers


def test_a_report_of_an_earlier_version_is_replaced_with_its_debris(tmp_path):
    """`make demo` rewrites report/: one written before the marker existed (its page, its
    figures and an interrupted export's .figures-* folder) is recognised and replaced whole;
    with a file of the user's in it, it is not."""
    out = tmp_path / "report"
    (out / "figures").mkdir(parents=True)
    (out / ".figures-a1b2c3").mkdir()
    (out / ".figures-a1b2c3" / "S1_charge_discharge.png").write_bytes(b"half")
    (out / "figures" / "S1_charge_discharge.png").write_bytes(b"old")
    (out / "index.html").write_text("<html><p>Made with batteryzoom: ...</p></html>")
    (out / "figures" / "mine.csv").write_text("user")
    with pytest.raises(InputError, match="not a batteryzoom report"):
        rp.write_report(small_report("second"), out, static=False)
    (out / "figures" / "mine.csv").unlink()
    rp.write_report(small_report("second"), out, static=False)
    assert looks_complete_and_is(out) == "second"
