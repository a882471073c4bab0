"""End to end in a real browser: JupyterLab, the grain notebook, a click on a grain in 3D.

JupyterLab runs on 127.0.0.1 (free port, a token, temporary config/settings/runtime dirs);
Debian's chromium (never a downloaded browser) is driven headless by Playwright with a fresh
profile. The test runs every cell through the Run menu, clicks the particle in the plotly 3D
view (WebGL rendered by chromium's software GL), and checks that the kernel answered: the
grain histogram, drawn in the page by plotly.js, now holds that grain's distribution. The
screenshots stay in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # WebGL (plotly's 3D) through chromium's software rasterizer, without a GPU
    "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
]

GRAIN_NOTEBOOK = PROJECT_ROOT / "notebooks" / "05_grains.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving a temporary copy of the grain notebook (the
    copy keeps the project's notebook free of outputs when JupyterLab saves)."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "notebooks"
    root.mkdir()
    nb = nbformat.read(GRAIN_NOTEBOOK, as_version=4)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                          "language": "python"})
    nbformat.write(nb, root / GRAIN_NOTEBOOK.name)
    # quiet JupyterLab: no news or update checks (and no network) in a test
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "toolkit"), os.environ.get("PYTHONPATH", "")]),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "BATTERYZOOM_PROGRESS": "0",
    }
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get_json(f"{base}/api/status?token={token}")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(tmp / 'jupyterlab.log').read_text()[-3000:]}")
                time.sleep(0.25)
        yield {"base": base, "token": token, "root": root, "log": tmp / "jupyterlab.log"}
    finally:
        # SIGTERM: the server shuts its kernels down; then make sure the whole group is gone
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture
def page(chromium_path, tmp_path):
    from playwright.sync_api import sync_playwright

    # Debian's /usr/bin/chromium is a wrapper script; Playwright drives the binary itself
    binary = Path("/usr/lib/chromium/chromium")
    executable = str(binary) if binary.is_file() else chromium_path
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1500, "height": 1900},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def _wait_kernels_idle(lab, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            kernels = _get_json(f"{lab['base']}/api/kernels?token={lab['token']}")
        except OSError:  # the server may answer 500 while a kernel starts
            time.sleep(0.5)
            continue
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        time.sleep(0.5)
    pytest.fail(f"the kernel stayed busy for {timeout_s} s; JupyterLab log:\n{lab['log'].read_text()[-2000:]}")


_SCENE_CENTRE_JS = """(gd) => {
    const fl = gd._fullLayout, d = fl.scene.domain, r = gd.getBoundingClientRect();
    return [r.left + fl._size.l + (d.x[0] + d.x[1]) / 2 * fl._size.w,
            r.top + fl._size.t + (1 - (d.y[0] + d.y[1]) / 2) * fl._size.h];
}"""


def _click_3d(page, gd, x: float, y: float) -> None:
    """Click a gl3d scene where plotly has picked a point under the cursor.

    plotly's 3D picking happens on a rendered frame after a mouse move, and plotly.js emits
    ``plotly_click`` from a frame rendered while a button is down over a picked point: hover
    until plotly says it sees a point (its ``plotly_hover`` event), then hold the button
    until the click is emitted, then release.
    """
    gd.evaluate("(gd) => { window.__bzHover = 0; window.__bzClick = 0;"
                " gd.on('plotly_hover', (d) => { window.__bzHover = d.points.length; });"
                " gd.on('plotly_click', (d) => { window.__bzClick = d.points.length; }); }")
    for attempt in range(20):
        page.mouse.move(x + (attempt % 2), y)
        try:
            page.wait_for_function("() => window.__bzHover > 0", timeout=1_500)
            break
        except Exception:
            continue
    else:
        raise AssertionError(f"plotly never reported a point under the cursor at ({x:.0f}, {y:.0f})")
    page.mouse.down()
    try:
        page.wait_for_function("() => window.__bzClick > 0", timeout=10_000)
    finally:
        page.mouse.up()


def _html_texts(element) -> list[str]:
    """Texts of the ipywidgets HTML outputs inside ``element`` (status lines, tables)."""
    return element.evaluate("(el) => Array.from(el.querySelectorAll('.widget-html-content')).map(e => e.innerText)")


def test_click_a_grain_in_jupyterlab_updates_its_histogram(lab, page, artifact_dir):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{lab['base']}/lab/tree/{GRAIN_NOTEBOOK.name}?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator", timeout=60_000)
    _wait_kernels_idle(lab)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    explorer = page.wait_for_selector(".batteryzoom-grain-explorer", timeout=300_000)
    page.wait_for_selector(".batteryzoom-grain-explorer .js-plotly-plot .gl-container canvas", timeout=60_000)
    _wait_kernels_idle(lab)
    errors_in_cells = page.evaluate(
        "() => Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]'))"
        ".map(e => e.innerText).filter(t => t.includes('Error'))")
    assert not errors_in_cells, f"a notebook cell failed: {errors_in_cells[:1]}"
    explorer.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # first WebGL frames
    plots = explorer.query_selector_all(".js-plotly-plot")
    assert len(plots) >= 4, "the explorer shows the 3D view, the histogram, the spectra and the comparison"
    particle, histogram, comparison = plots[0], plots[1], plots[-1]
    assert particle.evaluate("(gd) => gd.data[0].type") == "mesh3d"
    read_hist = "(gd) => gd.data.map(t => [t.name, (t.y || []).length])"
    opened = histogram.evaluate(read_hist)
    assert opened[0][1] > 0 and opened[3][1] > 0, "the notebook opens on the two designated grains"
    page.wait_for_timeout(1000)
    explorer.screenshot(path=str(artifact_dir / "grain_explorer.png"))  # Fig. S3's two grains
    explorer.query_selector("button:has-text('clear')").click()
    page.wait_for_function("(gd) => !gd.data[0].y || gd.data[0].y.length === 0", arg=histogram, timeout=30_000)
    before = histogram.evaluate(read_hist)

    x, y = particle.evaluate(_SCENE_CENTRE_JS)
    _click_3d(page, particle, x, y)
    try:
        page.wait_for_function("(gd) => gd.data[0].y && gd.data[0].y.length > 0", arg=histogram, timeout=30_000)
    except Exception:
        page.screenshot(path=str(artifact_dir / "jupyterlab_grain_click_FAILED.png"), full_page=True)
        raise AssertionError(f"the histogram did not change after the click; the explorer shows: "
                             f"{_html_texts(explorer)}; histogram traces {histogram.evaluate(read_hist)}")
    after = histogram.evaluate(read_hist)
    assert after != before
    name = after[0][0]  # "grain N"
    assert name.startswith("grain ")
    grain = int(name.split()[1])
    status = explorer.inner_text()
    assert f"grain {grain}: mean" in status, "the status line names the clicked grain"
    assert explorer.evaluate("(el) => el.querySelector('.batteryzoom-grain-table') !== null")
    spectrum = plots[2]
    assert spectrum.evaluate("(gd) => gd.data[0].y.length") > 10, "the clicked grain's mean spectrum is drawn"
    page.screenshot(path=str(artifact_dir / "jupyterlab_grain_click.png"), full_page=False)

    # a second grain, chosen in the "grain 2" dropdown (the keyboard-accessible path),
    # fills the Fig. S3 comparison
    select = explorer.query_selector_all("select")[1]
    options = select.evaluate("(s) => Array.from(s.options).map(o => o.textContent)")
    second = next(o for o in options[1:] if not o.startswith(f"{grain} "))
    select.select_option(label=second)
    page.wait_for_function("(gd) => gd.data[3].y && gd.data[3].y.length > 0", arg=histogram, timeout=30_000)
    page.wait_for_function("(gd) => gd.data[1].x && gd.data[1].x.length > 0", arg=comparison, timeout=30_000)
    titles = comparison.evaluate("(gd) => gd.layout.annotations.map(a => a.text)")
    assert titles[0].startswith(f"grain {grain}<br>mean")
    assert titles[1].startswith(f"grain {int(second.split()[0])}<br>mean")
    page.wait_for_timeout(1000)
    explorer.screenshot(path=str(artifact_dir / "grain_explorer_after_click.png"))
    assert not errors, f"page errors: {errors}"
