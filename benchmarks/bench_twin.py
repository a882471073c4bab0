"""The synthetic twin: generation time and peak memory of every generator, both presets.

Each generator runs in a fresh subprocess (so peak RSS is its own) writing into a temporary
cache through ``bz.data.load``, i.e. generation plus the zarr/parquet write, as a user's
first ``load`` does. Budget (issue 3): the whole ``small`` twin in ≤ 30 s on 2 cores with
≤ 1.5 GB peak memory; ``large`` is for benchmarks and streams to zarr chunk by chunk.

Set ``BZ_BENCH_TWIN_PRESETS=small`` to skip the large preset (it writes ~4 GB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Measurement, case

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
import batteryzoom as bz
name, preset = sys.argv[1], sys.argv[2]
overrides = {"preset": preset} if preset != "-" else {}
t0 = time.perf_counter()
bz.data.load(name, verify=False, lazy=True, **overrides)
elapsed = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb}))
"""


def _generate(name: str, preset: str, cache: str) -> dict:
    env = dict(os.environ, BATTERYZOOM_CACHE=cache, BATTERYZOOM_PROGRESS="0",
               PYTHONPATH=str(ROOT / "toolkit"))
    out = subprocess.run([sys.executable, "-c", _CHILD, name, preset], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"{name} [{preset}] failed: {last}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _twin_generators() -> list[tuple[str, bool]]:
    """(name, takes a preset) for every synthetic entry of the manifest."""
    import batteryzoom as bz

    return [(e.name, "preset" in e.params) for e in bz.data.manifest() if e.synthetic]


@case("twin")
def generation_time_and_peak_memory():
    presets = os.environ.get("BZ_BENCH_TWIN_PRESETS", "small,large").split(",")
    rows = []
    for preset in presets:
        total, peak = 0.0, 0.0
        with tempfile.TemporaryDirectory() as cache:
            for name, has_preset in _twin_generators():
                if not has_preset and preset != "small":
                    continue  # tables (cycler records) have one size
                try:
                    r = _generate(name, preset if has_preset else "-", cache)
                except RuntimeError as exc:
                    rows.append(Measurement(f"{name} [{preset}]", float("nan"), note=str(exc)[:120]))
                    continue
                total += r["seconds"]
                peak = max(peak, r["peak_mb"])
                rows.append(Measurement(f"{name} [{preset}]", r["seconds"],
                                        note=f"peak {r['peak_mb']:.0f} MB"))
        if preset == "small":
            rows.append(Measurement("whole small twin (budget 30 s, 1.5 GB)", total, 30.0, goal=1.0,
                                    note=f"max peak {peak:.0f} MB; ratio = time / budget"))
    return rows
