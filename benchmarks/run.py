"""Run the benchmarks and print one table of ratios (`make bench`).

    python benchmarks/run.py [-k SUBSTRING] [--json PATH] [--in-process] [--quick]

Every ``bench_*.py`` module in this folder registers cases through ``harness.case``.
Each case runs in a fresh Python process (as asv does): a case then meets the memory
of a new process, not the fragmented heap and page state a dozen earlier cases left
behind (which cost the 4 GiB XANES case ~0.2 s, 2.7x -> 3.6x, when it ran late in one
long process). ``--in-process`` runs them all in this one (quicker to start, for
debugging). Results are also written as JSON to ``.bench/latest.json`` for later
comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402


def _fmt_s(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    if t < 1:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def _run_in_fresh_process(case_id: str) -> list[harness.Measurement]:
    """One case in a new interpreter; its measurements back through a JSON file."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--case", case_id, "--emit", str(out)])
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"benchmark case {case_id} failed in its process (exit code {done.returncode})")
        return [harness.Measurement(**row) for row in json.loads(out.read_text())]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", default="", help="run cases whose group or name contains this")
    parser.add_argument("--json", default=str(HERE.parent / ".bench" / "latest.json"))
    parser.add_argument("--in-process", action="store_true", help="run every case in this process")
    parser.add_argument("--quick", action="store_true",
                        help="the small size set of the scaling cases (sets BZ_BENCH_QUICK=1)")
    parser.add_argument("--case", default="", help=argparse.SUPPRESS)  # group/name, run by the parent
    parser.add_argument("--emit", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        os.environ["BZ_BENCH_QUICK"] = "1"  # inherited by each case's process

    for module in sorted(HERE.glob("bench_*.py")):
        importlib.import_module(module.stem)

    if args.case:  # one case, in this (fresh) process, its rows as JSON for the parent
        func = next(c[2] for c in harness.CASES if f"{c[0]}/{c[1]}" == args.case)
        Path(args.emit).write_text(json.dumps([dataclasses.asdict(m) for m in func()]))
        return 0

    rows, failures = [], 0
    started = time.time()
    for group, name, func in harness.CASES:
        if args.k and args.k not in group and args.k not in name:
            continue
        print(f"[{group}] {name} ...", flush=True)
        try:
            if args.in_process:
                measured = func()
            else:
                measured = _run_in_fresh_process(f"{group}/{name}")
            for m in measured:
                rows.append((group, m))
        except Exception:  # a broken case is reported, the others still run
            failures += 1
            traceback.print_exc()

    print()
    print(f"batteryzoom benchmarks — {platform.node()}, {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}, {time.time() - started:.0f} s")
    header = f"{'group':10s} {'measurement':58s} {'ours':>10s} {'baseline':>10s} {'ratio':>8s} {'goal':>6s}  note"
    print(header)
    print("-" * len(header))
    for group, m in rows:
        ratio = "-" if m.ratio is None else f"{m.ratio:.2f}x"
        goal = "" if m.goal is None else f"≤{m.goal:g}x"
        note = " ".join(x for x in (m.verdict, m.note) if x)
        print(f"{group:10s} {m.name:58s} {_fmt_s(m.ours_s):>10s} {_fmt_s(m.baseline_s):>10s} {ratio:>8s} {goal:>6s}  {note}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(
        [{"group": g, "name": m.name, "ours_s": m.ours_s, "baseline_s": m.baseline_s, "ratio": m.ratio,
          "goal": m.goal, "note": m.note, **m.extra} for g, m in rows], indent=1))
    print(f"\n(results also in {out})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
