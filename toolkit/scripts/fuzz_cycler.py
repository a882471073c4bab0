"""Mutation-fuzz campaign of the readers: damaged copies of real files, every outcome counted.

Usage::

    PYTHONPATH=toolkit python toolkit/scripts/fuzz_readers.py --family cycler [--cases 1000]
    (fuzz_readers.py hands the cycler family to this module, with these options)
        [--seed 0] [--formats neware-ndax,arbin-csv] [--timeout 30] [--wall-timeout 300] [--json out.json]
        [--cases-log cases.jsonl]

For each reader of the family, ``--cases`` mutated copies of its real files (spread over
them; :func:`batteryzoom.testing.fuzz.mutations`) are read with that reader (the format is
named, so that the damage reaches the reader rather than stopping at the sniffer), each
read limited to ``--timeout`` seconds of CPU time (``--wall-timeout`` of wall time for a
read blocked without computing: on a shared host a read waits for a core, and wall time
would judge the host), and every outcome is classified
(:data:`batteryzoom.testing.fuzz.OUTCOMES`: refused / same / warned / undetectable, or the
bugs escaped / hang / silent) against the clean file's result and warnings, with
:func:`batteryzoom.testing.fuzz.record_table_judge` deciding what no reader could detect.
It prints one line per reader and the totals, and lists every bug case (file, mutation,
detail) so that it can be replayed; the exit status is 1 when any bug was found.

The counts quoted in the README's reader table come from this script. Families register in
:data:`FAMILIES` with ``@family("name")``, as on the spectra/imaging branch: here the
cycler family, a function of a work folder returning ``{reader: (read, files, companions)}``
(its runner is :func:`run`; the names are the cycler's own so that both sides can coexist).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import batteryzoom as bz
from batteryzoom.testing.fuzz import BUGS, OUTCOMES, campaign, record_table_judge

FAMILIES: dict[str, Callable[..., Any]] = {}


def family(name: str):
    """Register a family of readers under ``name`` (``--family name``)."""
    def register(fn):
        FAMILIES[name] = fn
        return fn
    return register


# cycler reader -> the real records (manifest names, or ("twin", what)) its cases mutate:
# the small ones of each format, so that a thousand reads take minutes, not hours
CYCLER_FILES: dict[str, list[str]] = {
    "neware-ndax": ["real/cycler/neware-issue27-46-1-5-60-zzzzzzzztest", "real/cycler/neware-scrubbed-ndc2",
                    "real/cycler/neware-pr28-test-data-collection-ndc17", "real/cycler/neware-interp-test"],
    "neware-nda": ["real/cycler/neware-new-nda-file", "real/cycler/neware-nda-v22"],
    "neware-btsda": ["real/cycler/neware-interp-test-btsda"],
    "neware-btsda-3level": ["twin:btsda-3level"],
    "biologic-mpr": ["real/cycler/biologic-navani-00-test-04-mb-c01", "real/cycler/biologic-navani-00-test-01-ocv-c01"],
    "biologic-mpt": ["real/cycler/biologic-pyprobe-sample-data-biologic-timestamped",
                     "real/cycler/biologic-pyprobe-sample-data-biologic-no-header"],
    "arbin-res": ["real/cycler/arbin-res"],
    "arbin-xlsx": ["real/cycler/arbin-xlsx"],
    "arbin-csv": ["real/cycler/arbin-pyprobe-sample-data-arbin", "real/cycler/arbin-beep-fastcharge-000025-ch8"],
    "maccor-txt": ["real/cycler/maccor-beep-041", "real/cycler/maccor-pyprobe-sample-data-maccor",
                   "real/cycler/maccor-beep-predictiondiagnostics-000151-paused-052"],
    "maccor-eis": ["real/cycler/maccor-beep-maccor-test-file-4267-66-6519-eda0001-041"],
    "novonix-csv": ["real/cycler/novonix-pyprobe-sample-data-novonix"],
    "basytec-txt": ["real/cycler/basytec-pyprobe-sample-data-basytec"],
    "pec-csv": ["real/cycler/pec-cellpy-pec-test25205"],
    "indigo-h5": ["real/cycler/indigo-beep-indigo-test-sample"],
    "bdf-csv": ["real/cycler/bdf-sintef-g20m7"],
    "bdf-parquet": ["parquet:real/cycler/bdf-sintef-g20m7"],
    "pyprobe-parquet": ["real/cycler/lgm50-rest"],
    "csv": ["real/cycler/arbin-pyprobe-sample-data-arbin"],
    # the generic reader reads a workbook's first sheet: the Arbin data sheet on its own
    # (the Arbin workbook opens with Global_Info, which it rightly refuses)
    "xlsx": ["sheet:real/cycler/arbin-xlsx:Channel_11_1"],
}


def cycler_file(spec: str, workdir: Path) -> tuple[Path, list[Path]]:
    """``(file, companions)`` of one entry of :data:`CYCLER_FILES` (twin files, parquet
    copies and one-sheet workbooks of real records are written into ``workdir``; real
    files are the mirror's, only read)."""
    if spec == "twin:btsda-3level":
        from batteryzoom.data.twin import cycling as twin

        path = workdir / "twin_btsda_three_level.csv"
        path.write_text(twin.one_cycle()["btsda.csv"])
        return path, []
    if spec.startswith("parquet:"):
        import pandas as pd

        source = bz.data.fetch(spec.split(":", 1)[1])[0]
        path = workdir / (source.name.split(".")[0] + ".parquet")
        pd.read_csv(source).to_parquet(path)
        return path, []
    if spec.startswith("sheet:"):
        import pandas as pd

        name, sheet = spec.split(":")[1:]
        source = bz.data.fetch(name)[0]
        path = workdir / f"{sheet}.xlsx"
        pd.read_excel(source, sheet_name=sheet).to_excel(path, index=False)
        return path, []
    files = bz.data.fetch(spec)
    return files[0], [f for f in files[1:] if f.name.endswith("_Metadata.csv")]


@family("cycler")
def cycler_family(workdir: Path, formats: list[str] | None = None) -> dict[str, tuple[Callable, list, dict]]:
    """The cycler readers: ``{format: (read, files, companions by file)}``."""
    from batteryzoom.io.cycler import read_cycler

    out = {}
    for fmt, specs in CYCLER_FILES.items():
        if formats and fmt not in formats:
            continue
        files, companions = [], {}
        for spec in specs:
            path, extra = cycler_file(spec, workdir)
            files.append(path)
            companions[path] = extra

        def read(p: Path, _fmt: str = fmt):
            return read_cycler(p, format=_fmt)

        out[fmt] = (read, files, companions)
    return out


# the classes of record_table_judge's "undetectable" verdicts, by the words of its reasons
_REASONS = (("other plausible values", "a value changed"), ("share a few changed values", "a few values changed in many records"),
            ("block of", "a block of records changed"), ("record boundary", "ends at a record boundary"),
            ("numbers none", "whole records left out, no counter"), ("spliced", "records cut out, lines spliced"),
            ("header changed", "an optional column's header changed"))


def _reason(detail: str) -> str:
    return next((label for words, label in _REASONS if words in detail), "other")


def run(family: str, cases: int, seed: int, timeout_s: float, formats: list[str] | None,
        log: Callable[[str], None] = print, wall_timeout_s: float | None = None,
        cases_log: Path | None = None) -> dict:
    """The campaign: ``{reader: {"counts": {...}, "bugs": [...], "seconds": s}}``.
    ``cases_log``: a JSON-lines file that gets each case as it is classified (a long run
    stopped early still says what it found)."""
    def logged(reader: str):
        if cases_log is None:
            return None

        def write(o) -> None:
            with open(cases_log, "a") as fh:
                fh.write(json.dumps({"reader": reader, "file": o.source, "mutation": o.mutation, "kind": o.kind,
                                     "seconds": round(o.seconds, 3), "cpu_seconds": round(o.cpu_seconds, 3),
                                     "detail": o.detail[:200]}) + "\n")
        return write

    report = {}
    with tempfile.TemporaryDirectory(prefix="bz-fuzz-") as tmp:
        readers = FAMILIES[family](Path(tmp), formats)
        for name, (read, files, companions) in readers.items():
            t0 = time.perf_counter()
            per_file = [cases // len(files) + (k < cases % len(files)) for k in range(len(files))]
            outcomes = []
            for k, (path, n) in enumerate(zip(files, per_file)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outcomes += campaign(read, [path], n_per_file=n, seed=seed + 104729 * k, timeout_s=timeout_s,
                                         wall_timeout_s=wall_timeout_s, progress=logged(name),
                                         result_judge=record_table_judge, companions=lambda p: companions.get(p, []))
            counts = collections.Counter(o.kind for o in outcomes)
            reasons = collections.Counter(_reason(o.detail) for o in outcomes if o.kind == "undetectable")
            bugs = [{"file": o.source, "mutation": o.mutation, "kind": o.kind, "detail": o.detail}
                    for o in outcomes if o.bug]
            slowest = max((o.seconds for o in outcomes), default=0.0)
            slowest_cpu = max((o.cpu_seconds for o in outcomes), default=0.0)
            report[name] = {"counts": {k: counts.get(k, 0) for k in OUTCOMES}, "bugs": bugs,
                            "undetectable": dict(reasons), "seconds": time.perf_counter() - t0,
                            "slowest_case_s": slowest, "slowest_case_cpu_s": slowest_cpu}
            log(f"{name:22s} " + " ".join(f"{k} {counts.get(k, 0):4d}" for k in OUTCOMES)
                + f"  ({report[name]['seconds']:.0f} s, slowest case {slowest_cpu:.1f} s CPU, {slowest:.1f} s wall)")
            if reasons:
                log("    undetectable: " + "; ".join(f"{k} {v}" for k, v in reasons.most_common()))
            for b in bugs[:20]:
                log(f"    {b['kind']}: {b['file']} {b['mutation']}: {b['detail'][:200]}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), required=True)
    parser.add_argument("--cases", type=int, default=1000, help="mutated reads per reader (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds of CPU time before a read counts as a hang (default 30)")
    parser.add_argument("--wall-timeout", type=float, default=None,
                        help="seconds of wall time before a blocked read counts as a hang (default 10 x --timeout)")
    parser.add_argument("--formats", default="", help="comma-separated readers (default: all of the family)")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--cases-log", type=Path, help="append each case here as it is classified (JSON lines)")
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f] or None
    report = run(args.family, args.cases, args.seed, args.timeout, formats, wall_timeout_s=args.wall_timeout,
                 cases_log=args.cases_log)
    totals = collections.Counter()
    for entry in report.values():
        totals.update(entry["counts"])
    print("total                  " + " ".join(f"{k} {totals.get(k, 0):4d}" for k in OUTCOMES))
    reasons = collections.Counter()
    for entry in report.values():
        reasons.update(entry["undetectable"])
    print("undetectable, by kind: " + "; ".join(f"{k} {v}" for k, v in reasons.most_common()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 1 if any(totals.get(k, 0) for k in BUGS) else 0


if __name__ == "__main__":
    sys.exit(main())
