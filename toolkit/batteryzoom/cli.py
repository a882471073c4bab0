"""The ``batteryzoom`` command.

::

    batteryzoom data list [--scale SCALE] [--real | --synthetic]
    batteryzoom data info NAME
    batteryzoom data fetch NAME [--refetch] [--no-download]
    batteryzoom data verify [NAME ...] [--download]
    batteryzoom report [--dataset twin|PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys

from .errors import BatteryZoomError


def _data_list(args) -> int:
    from . import data

    synthetic = True if args.synthetic else False if args.real else None
    for name in data.list(scale=args.scale, synthetic=synthetic):
        entry = data.info(name)
        kind = "twin" if entry.synthetic else f"{len(entry.files)} file(s)"
        print(f"{name:42s} {entry.scale:9s} {entry.modality:16s} {kind}")
    return 0


def _data_info(args) -> int:
    from . import data

    e = data.info(args.name)
    print(f"name:        {e.name}")
    print(f"scale:       {e.scale}")
    print(f"modality:    {e.modality}")
    print(f"description: {e.description}")
    print(f"licence:     {e.licence}")
    print(f"citation:    {e.citation}")
    print(f"units:       {e.units}")
    if e.parent:
        print(f"parent:      {e.parent}  box_um: {e.box_um}")
    if e.frame:
        print(f"frame:       {e.frame}")
    if e.synthetic:
        print(f"generator:   {e.generator}  params: {e.params}  seed: {e.seed}")
    for spec in e.files:
        print(f"file:        {spec.path}  ({spec.size} bytes, sha256 {spec.sha256[:12]}…)\n             {spec.url}")
    return 0


def _data_fetch(args) -> int:
    from . import data

    for path in data.fetch(args.name, download=not args.no_download, refetch=args.refetch, progress=True):
        print(path)
    return 0


def _data_verify(args) -> int:
    from . import data

    report = data.verify(args.names or None, download=args.download)
    bad = 0
    for path, status in report.items():
        state = status.split(":")[0].split(" ")[0]
        bad += state != "ok"
        print(f"{state:8s} {path}" + ("" if state == "ok" else f"\n         {status}"))
    print(f"{len(report) - bad} of {len(report)} files ok")
    return 1 if bad else 0


def _report(args) -> int:
    from . import report

    return report.main(dataset=args.dataset, out=args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batteryzoom", description="A macro-to-nano zoom through battery degradation.")
    sub = parser.add_subparsers(dest="command", required=True)

    data_p = sub.add_parser("data", help="the data manifest: list, info, fetch, verify")
    data_sub = data_p.add_subparsers(dest="data_command", required=True)
    p = data_sub.add_parser("list", help="list datasets")
    p.add_argument("--scale", choices=["cycler", "cell", "electrode", "particle", "grain"])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--real", action="store_true", help="real files only")
    g.add_argument("--synthetic", action="store_true", help="twin datasets only")
    p.set_defaults(func=_data_list)
    p = data_sub.add_parser("info", help="show one dataset's manifest entry")
    p.add_argument("name")
    p.set_defaults(func=_data_info)
    p = data_sub.add_parser("fetch", help="print local paths of a dataset's files (verified)")
    p.add_argument("name")
    p.add_argument("--refetch", action="store_true", help="replace a corrupt cache copy (kept aside)")
    p.add_argument("--no-download", action="store_true", help="use only the cache and the mirror")
    p.set_defaults(func=_data_fetch)
    p = data_sub.add_parser("verify", help="check every real file's SHA-256")
    p.add_argument("names", nargs="*")
    p.add_argument("--download", action="store_true", help="download files that are missing")
    p.set_defaults(func=_data_verify)

    p = sub.add_parser("report", help="run the zoom on a dataset and write an HTML report with figures")
    p.add_argument("--dataset", default="twin",
                   help="'twin' (default) or a folder of your own data holding batteryzoom.yaml "
                        "(its files per scale; see help(batteryzoom.report.FolderSource))")
    p.add_argument("--out", default="report", help="output folder (default: ./report)")
    p.set_defaults(func=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BatteryZoomError as exc:
        print(f"batteryzoom: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `batteryzoom data list | head`
        return 0
    except KeyboardInterrupt:
        print("batteryzoom: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
