"""The scaling table (#29): each stage at two or three sizes, time and peak memory, the
growth exponents and the largest size that fits in 8 GB.

Stages (``scaling_stages.py`` says what each runs on): the 3D XANES pipeline (align →
normalize → edge maps → masks → per-region statistics, 60 energies × n³),
``segment_particles`` against PoreSpy's ``snow_partitioning`` on the same electrode
(n³ at 0.5 µm; blocks above 256³), ``segment_grains`` (n³ at 80 nm) and the cell's
``analyze_volume`` (n slices of 736² px). Every run is a fresh process that loads its
input from a ``.npy`` (peak resident memory ``ru_maxrss``, input included), under an
address-space cap of ``BZ_BENCH_SCALING_CAP_GB`` (default 16) so an oversized run fails
instead of swamping a shared machine. ``make bench BENCH_ARGS="-k all_stages --quick"`` (or
``BZ_BENCH_QUICK=1``) runs the small size set; ``BZ_BENCH_SCALING_STAGES`` picks stages.

Growth exponents are the slopes of log time and log peak memory against log voxels
(slices for the cell) between the smallest and the largest size; the size that fits in
8 GB extrapolates the memory law from the largest size (``streams`` when memory does not
grow: exponent under 0.1).
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Measurement, case

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GB = 1e9

#: stage -> (quick sizes, full sizes); n is an edge in voxels (slices for the cell)
SIZES = {
    "xanes": ([24, 32], [32, 64, 96]),
    "particles": ([64, 96], [128, 256, 512]),
    "porespy": ([64, 96], [128, 256, 512]),
    "grains": ([48, 64], [64, 112, 160]),
    "cell": ([4, 8], [8, 16, 32]),
}


def _cap() -> None:
    cap = int(float(os.environ.get("BZ_BENCH_SCALING_CAP_GB", "16")) * GB)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _stage(action: str, stage: str, n: int, path: str) -> dict | None:
    env = dict(os.environ, BATTERYZOOM_PROGRESS="0", PYTHONPATH=str(ROOT / "toolkit"))
    env.setdefault("BATTERYZOOM_CACHE", str(ROOT / ".cache" / "batteryzoom"))
    done = subprocess.run([sys.executable, str(HERE / "scaling_stages.py"), action, stage, str(n), path], env=env,
                          capture_output=True, text=True, preexec_fn=_cap if action == "run" else None)
    if done.returncode != 0:
        print(f"{stage} n={n} {action} failed:\n{done.stderr[-1500:]}", file=sys.stderr)
        return None
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if action == "run" and lines else {}


def _units(stage: str, n: int) -> float:
    return float(n) if stage == "cell" else float(n) ** 3


def _growth(stage: str, runs: list[dict]) -> tuple[float, float, str]:
    """Time and memory exponents, and the largest size within 8 GB."""
    a, b = runs[0], runs[-1]
    span = math.log(_units(stage, b["n"]) / _units(stage, a["n"]))
    t_exp = math.log(b["seconds"] / a["seconds"]) / span
    m_exp = math.log(b["peak_bytes"] / a["peak_bytes"]) / span
    if m_exp < 0.1:
        return t_exp, m_exp, "streams (memory flat)"
    units = _units(stage, b["n"]) * (8 * GB / b["peak_bytes"]) ** (1 / m_exp)
    size = f"{units:.0f} slices" if stage == "cell" else f"~{units ** (1 / 3):.0f}³"
    return t_exp, m_exp, size + (" (extrapolated)" if units > _units(stage, b["n"]) else "")


@case("scaling")
def all_stages_at_growing_sizes():
    quick = bool(os.environ.get("BZ_BENCH_QUICK"))
    stages = os.environ.get("BZ_BENCH_SCALING_STAGES", ",".join(SIZES)).split(",")
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for stage in stages:
            for n in SIZES[stage][0 if quick else 1]:
                path = str(Path(tmp) / f"{stage}{n}.npy")
                if _stage("make", stage, n, path) is None:
                    continue
                run = _stage("run", stage, n, path)
                if run is not None:
                    results.setdefault(stage, []).append(run)
                Path(path).unlink(missing_ok=True)
    rows = []
    base = {r["n"]: r for r in results.get("porespy", [])}
    for stage, runs in results.items():
        for r in runs if stage != "porespy" else []:  # PoreSpy's sizes sit in the particle rows
            p = base.get(r["n"]) if stage == "particles" else None
            note = f"peak {r['peak_bytes'] / GB:.2f} GB (input {r['input_bytes'] / GB:.3f} GB)"
            if "n_objects" in r:
                note += f", {r['n_objects']} objects"
            if p:
                note += f"; PoreSpy snow: peak {p['peak_bytes'] / GB:.2f} GB, {p['n_objects']} regions"
            unit = " slices" if stage == "cell" else "³"
            rows.append(Measurement(f"{stage} {r['n']}{unit} (time, peak memory)", r["seconds"],
                                    p["seconds"] if p else None, note=note,
                                    extra={"stage": stage, "n": r["n"], "peak_gb": r["peak_bytes"] / GB,
                                           "baseline_peak_gb": p["peak_bytes"] / GB if p else None}))
        if len(runs) >= 2:
            t_exp, m_exp, fits = _growth(stage, runs)
            per = "slices" if stage == "cell" else "voxels"
            rows.append(Measurement(f"{stage}: growth with {per}", runs[-1]["seconds"],
                                    note=f"time ~ {per}^{t_exp:.2f}, memory ~ {per}^{m_exp:.2f}; "
                                         f"largest in 8 GB: {fits}",
                                    extra={"stage": stage, "time_exponent": t_exp, "memory_exponent": m_exp,
                                           "fits_8gb": fits}))
    return rows
