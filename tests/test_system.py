"""The system pieces `make test` installs are really there (under CI=true, missing = fail)."""

from __future__ import annotations

import subprocess


def test_xvfb_starts(xvfb_display):
    assert xvfb_display.startswith(":")


def test_chromium_runs_headless(chromium_path, tmp_path):
    out = subprocess.run(
        [chromium_path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", "data:text/html,<p id=x>batteryzoom</p>"],
        capture_output=True, text=True, timeout=120,
    )
    assert "batteryzoom" in out.stdout, out.stderr[-2000:]
