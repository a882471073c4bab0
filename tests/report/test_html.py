"""bz.report.html: the one self-contained page."""

from __future__ import annotations

import re

import pytest

from batteryzoom import report as rp


def test_html_is_one_self_contained_page_with_every_figure(written, twin_report):
    files, out = written
    html = files.index.read_text(encoding="utf-8")
    assert files.index == out / "index.html"
    # plotly.js inline exactly once, nothing fetched from the network
    assert html.count("plotly.js v") == 1
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<(link|img)[^>]+(href|src)=.https?:", html)
    for name in twin_report.figures:
        assert html.count(f'id="fig-{name}"') == 1, name
        assert f"figures/{name}.png" in html and f"figures/{name}.svg" in html
    assert html.count("Plotly.newPlot") == len(twin_report.figures)
    # the findings table: every finding, with the truth column on the twin
    assert "<table class='findings'>" in html and "truth (twin)" in html
    for finding in twin_report.findings["finding"]:
        assert finding.replace("&", "&amp;") in html
    for scale in rp.SCALES:
        assert f"id='scale-{scale}'" in html


@pytest.mark.browser
def test_the_page_opens_offline_in_chromium_with_every_figure_drawn(written, twin_report, chromium_path,
                                                                    artifact_dir):
    """Open index.html in headless chromium with the network cut: every plotly figure renders
    (2D as SVG, 3D through WebGL) and the page logs no error."""
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    files, _ = written
    binary = Path("/usr/lib/chromium/chromium")  # Debian's /usr/bin/chromium is a wrapper script
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--enable-unsafe-swiftshader", "--use-angle=swiftshader"]
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(binary) if binary.is_file() else chromium_path,
                                    headless=True, args=args)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            page.goto(files.index.as_uri())
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n", arg=len(twin_report.figures),
                timeout=60_000)
            drawn = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => ({
                id: d.id, traces: (d._fullData || []).length,
                gl: d.querySelectorAll('canvas').length}))""")
            page.screenshot(path=str(artifact_dir / "report_index.png"))
        finally:
            browser.close()
    assert sorted(d["id"] for d in drawn) == sorted(f"fig-{n}" for n in twin_report.figures)
    for d in drawn:
        assert d["traces"] > 0, d
    by_id = {d["id"]: d for d in drawn}
    assert by_id["fig-grain_particle_3d"]["gl"] > 0 and by_id["fig-S3_two_grains"]["gl"] > 0  # WebGL scenes
    assert not errors, errors
