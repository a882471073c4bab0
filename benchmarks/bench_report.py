"""The main job (`make demo`): `batteryzoom report` on the twin, cache-cold and cache-warm.

Each run is a fresh ``batteryzoom report --dataset twin`` subprocess, as a user starts it:
cold with an empty cache (the twin is generated first), then warm with that cache filled.
Budget (issue 9): the whole main job in ≤ 2 minutes on 2 cores after installation, so the
ratio is the wall time over 120 s (goal ≤ 1). The notes split the time into the zoom and
the static export, and give the CPU time (user + system, chromium included) and peak memory.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Measurement, case

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 120.0


def _run(cache: str, out: str) -> dict:
    env = dict(os.environ, BATTERYZOOM_CACHE=cache, BATTERYZOOM_PROGRESS="0", PYTHONPATH=str(ROOT / "toolkit"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "batteryzoom.cli", "report", "--dataset", "twin", "--out", out],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["?"])[-1])
    zoom = re.search(r"The zoom took (\d+) s", proc.stdout)
    export = re.search(r"in ([\d.]+) s\n", proc.stdout)
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_mb": after.ru_maxrss / 1024,
        "zoom": float(zoom.group(1)) if zoom else float("nan"),
        "export": float(export.group(1)) if export else float("nan"),
    }


@case("report")
def main_job_cold_and_warm():
    rows = []
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        for label in ("cache-cold (twin generated)", "cache-warm"):
            r = _run(cache, out)
            rows.append(Measurement(
                f"batteryzoom report --dataset twin, {label} (budget 120 s)", r["wall"], BUDGET_S, goal=1.0,
                note=f"zoom {r['zoom']:.0f} s, static export {r['export']:.0f} s; CPU {r['cpu']:.0f} s; "
                     f"peak {r['peak_mb']:.0f} MB; ratio = time / budget"))
    return rows
