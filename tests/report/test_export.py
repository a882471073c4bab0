"""bz.report.export: static PNG/SVG through chromium, and the page without it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from batteryzoom import report as rp
from batteryzoom.errors import InputError
from batteryzoom.report.write import MARKER


def test_static_png_are_non_blank_and_of_the_expected_size(written, twin_report):
    from PIL import Image

    files, out = written
    assert set(files.static) == set(twin_report.figures)
    for name, fig in twin_report.figures.items():
        png, svg = files.static[name]
        assert png == out / "figures" / f"{name}.png" and svg.suffix == ".svg"
        with Image.open(png) as im:
            assert im.size == (fig.width, fig.height), name
            pixels = np.asarray(im.convert("RGB"), dtype=np.int32)
        # non-blank: many colours, and content away from the white background
        rgb = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
        assert len(np.unique(rgb)) > 50, name
        assert (np.abs(pixels - 255).sum(axis=2) > 60).mean() > 0.02, name
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg"), name
        assert svg.stat().st_size > 5_000
    # nothing half-written left beside the figures
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != MARKER]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_without_chromium_the_html_is_still_written(twin_report, tmp_path, no_chromium):
    files = rp.write_report(twin_report, tmp_path / "out")
    assert files.static == {}
    assert "chromium was not found" in files.static_message and "apt-get install chromium" in files.static_message
    html = files.index.read_text(encoding="utf-8")
    for name in twin_report.figures:
        assert f'id="fig-{name}"' in html
    assert not (tmp_path / "out" / "figures").exists() or not any((tmp_path / "out" / "figures").iterdir())


def _one_figure_report(title: str) -> rp.ZoomReport:
    import pandas as pd
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 3, 2], name="line"), layout={"title": {"text": title}})
    figures = {"S1_charge_discharge": rp.ReportFigure("S1_charge_discharge", "cycler", "a figure", fig)}
    scales = {s: rp.ScaleResult(s, "absent", f"no {s}") for s in rp.SCALES}
    scales["cycler"] = rp.ScaleResult("cycler", "done", "one figure", list(figures), values={"summary": "one"})
    findings = pd.DataFrame(columns=["scale", "finding", "value", "text", "unit", "truth", "truth_text", "note"])
    return rp.ZoomReport(dataset="one", description="one figure", is_twin=False, scales=scales, figures=figures,
                         findings=findings)


def test_journal_figures_have_the_pixel_size_asked_for_and_no_title(tmp_path, chromium_path, monkeypatch, capsys):
    """`batteryzoom report --width-mm 85 --dpi 600 --format pdf --format png --no-titles`:
    85 mm at 600 dpi is 2008 px wide, the height by the figure's aspect (900 × 560)."""
    from PIL import Image

    import batteryzoom.report.run as run_module
    from batteryzoom.cli import main

    monkeypatch.setenv("BROWSER_PATH", chromium_path)
    monkeypatch.setattr(run_module, "run_zoom", lambda source, log=None: _one_figure_report("A TITLE"))
    out = tmp_path / "journal"
    assert main(["report", "--out", str(out), "--width-mm", "85", "--dpi", "600", "--format", "pdf",
                 "--format", "png", "--no-titles"]) == 0
    assert "Figures (PDF, PNG)" in capsys.readouterr().out
    png, pdf = out / "figures" / "S1_charge_discharge.png", out / "figures" / "S1_charge_discharge.pdf"
    with Image.open(png) as im:
        width, height = im.size
    assert width == round(85 / 25.4 * 600) == 2008
    # the layout's height is a whole number of CSS pixels (6.26 device pixels each at 600 dpi)
    assert abs(height - 2008 * 560 / 900) <= 600 / 96 / 2 + 1
    assert pdf.read_bytes()[:5] == b"%PDF-" and not (out / "figures" / "S1_charge_discharge.svg").exists()
    # no title: exported as SVG (text, searchable) with and without
    report = _one_figure_report("A TITLE")
    with_title = rp.write_report(report, tmp_path / "titled", formats=("svg",), chromium=chromium_path)
    no_title = rp.write_report(report, tmp_path / "untitled", formats=("svg",), titles=False, chromium=chromium_path)
    assert "A TITLE" in with_title.static["S1_charge_discharge"][0].read_text()
    assert "A TITLE" not in no_title.static["S1_charge_discharge"][0].read_text()
    assert report.figures["S1_charge_discharge"].figure.layout.title.text == "A TITLE"  # the report's own stays
    # the default is unchanged: 900 × 560 px PNG and SVG
    default = rp.write_report(report, tmp_path / "default", chromium=chromium_path)
    assert [p.suffix for p in default.static["S1_charge_discharge"]] == [".png", ".svg"]
    with Image.open(default.static["S1_charge_discharge"][0]) as im:
        assert im.size == (900, 560)


@pytest.mark.parametrize("options, problem", [
    ({"formats": ("tiff",)}, "choose from ['png', 'svg', 'pdf']"),
    ({"width_mm": -85}, "width_mm=-85: give a number > 0"),
    ({"dpi": 0}, "dpi=0: give a number > 0"),
])
def test_bad_export_options_are_refused_before_anything_is_written(tmp_path, options, problem):
    with pytest.raises(InputError, match=re.escape(problem)):
        rp.write_report(_one_figure_report("t"), tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()
