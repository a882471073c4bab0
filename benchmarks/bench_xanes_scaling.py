"""The 3D XANES stages at growing sizes: alignment, normalization and edge maps (#29).

Case (group "xanes"): a synthetic stack of 60 energies (the twin's beamline grid) over
``n**3`` voxels for n = 64, 128 (and 256 with ``BZ_BENCH_XANES_256=1``: a 3.75 GiB stack;
normalize is left out there, its four float32 curves alone are 15 GiB), each energy's
volume displaced by a few whole pixels. Every stage runs in a fresh process that first
loads the stack from a ``.npy``: its time and its peak resident memory (``ru_maxrss``,
the stack included), the median of ``BZ_BENCH_XANES_REPEAT`` runs (default 3; one at 256);
``BZ_BENCH_XANES_STAGES`` (comma-separated) picks stages.
The baseline is the same stage of the checkout at ``BZ_BENCH_XANES_BASELINE`` (a
``toolkit`` folder; default ``/work/main/toolkit`` when it exists), one run at 64 (and at 128
but for normalize, whose float64 curves peak at ~12.6 GB there: ~27x its input).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from harness import Measurement, case

ROOT = Path(__file__).resolve().parents[1]

_MAKE = """
import sys, numpy as np
from scipy import ndimage
from batteryzoom.data.twin.xanes import energy_grid
n, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
energy = energy_grid()
density = ndimage.gaussian_filter(rng.standard_normal((n, n, n), np.float32), n / 32) > 0
density = ndimage.gaussian_filter(density.astype(np.float32), 1.0)
centre = (8342.0 + ndimage.gaussian_filter(rng.standard_normal((n, n, n), np.float32), n / 16) * 20).astype(np.float32)
stack = np.lib.format.open_memmap(path, "w+", np.float32, (energy.size, n, n, n))
for i, e in enumerate(energy):
    mu = 0.5 + np.arctan((np.float32(e) - centre) / np.float32(1.5)) / np.float32(np.pi)
    frame = density * (np.float32(0.4 * (e / 8300.0) ** -2.7) + mu)
    frame += rng.standard_normal(frame.shape, np.float32) * np.float32(0.01)
    stack[i] = np.roll(frame, (i % 3 - 1, (i * 7) % 5 - 2, (i * 3) % 4 - 2), (0, 1, 2))
stack.flush()
np.save(path + ".energy.npy", energy)
"""

_STAGE = """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
import batteryzoom as bz
stage, path = sys.argv[1], sys.argv[2]
stack = np.load(path)
energy = np.load(path + ".energy.npy")
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.perf_counter()
if stage == "align":
    out = bz.xanes.align(stack, energy, show_progress=False)
elif stage == "normalize":
    out = bz.xanes.normalize(stack, energy, e0="mean")
else:
    out = bz.xanes.edge_maps(stack, energy)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "loaded_bytes": loaded, "stack_bytes": stack.nbytes}))
"""


def _run(code: str, args: list[str], toolkit: Path) -> dict | None:
    env = dict(os.environ, BATTERYZOOM_PROGRESS="0", PYTHONPATH=str(toolkit))
    env.setdefault("BATTERYZOOM_CACHE", str(ROOT / ".cache" / "batteryzoom"))
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def _baseline_toolkit() -> Path | None:
    given = os.environ.get("BZ_BENCH_XANES_BASELINE", "/work/main/toolkit")
    path = Path(given)
    return path if (path / "batteryzoom").is_dir() and path.resolve() != (ROOT / "toolkit").resolve() else None


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


@case("xanes")
def xanes_stages_scaling_table():
    sizes = [64, 128] + ([256] if os.environ.get("BZ_BENCH_XANES_256") else [])
    repeat = int(os.environ.get("BZ_BENCH_XANES_REPEAT", "3"))
    baseline = _baseline_toolkit()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = str(Path(tmp) / f"stack{n}.npy")
            _run(_MAKE, [str(n), path], ROOT / "toolkit")
            volume = n**3 * 4
            for stage in os.environ.get("BZ_BENCH_XANES_STAGES", "align,normalize,edge_maps").split(","):
                if stage == "normalize" and n >= 256:
                    continue
                runs = [r for r in (_run(_STAGE, [stage, path], ROOT / "toolkit")
                                    for _ in range(1 if n >= 256 else repeat)) if r]
                if not runs:
                    continue
                base = None
                # the baseline's normalize at 128^3 peaks at ~12.6 GB (issue #29): only at 64^3
                if baseline is not None and (n <= 64 or (n <= 128 and stage != "normalize")):
                    base = _run(_STAGE, [stage, path], baseline)
                stack_b = runs[0]["stack_bytes"]
                peak = _median(runs, "peak_bytes")
                extra = peak - _median(runs, "loaded_bytes")
                note = (f"peak {peak / 2**30:.2f} GiB = {peak / stack_b:.1f}x the {stack_b / 2**30:.2f} GiB stack "
                        f"(+{extra / stack_b:.1f}x over the loaded stack, output included: "
                        f"{extra / volume:.0f} frames); median of {len(runs)}")
                if base:
                    note += f"; baseline peak {base['peak_bytes'] / 2**30:.2f} GiB = {base['peak_bytes'] / stack_b:.1f}x"
                rows.append(Measurement(
                    f"{stage} 60 x {n}^3 (time, peak memory)", _median(runs, "seconds"),
                    base["seconds"] if base else None, note=note,
                    extra={"n": n, "stage": stage, "peak_gib": peak / 2**30, "stack_gib": stack_b / 2**30,
                           "baseline_peak_gib": base["peak_bytes"] / 2**30 if base else None}))
    return rows
