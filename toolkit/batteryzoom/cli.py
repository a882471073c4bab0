"""The ``batteryzoom`` command.

``batteryzoom`` alone (or a command group alone, e.g. ``batteryzoom data``) prints its
help and exits 0, as ``--help`` does; a wrong argument prints argparse's usage error and
exits 2, as does a batteryzoom error (the message names the file or argument and the fix).
``--version`` prints the version. Each command's ``--help`` ends with examples.

::

    batteryzoom [--version]
    batteryzoom data list [--scale SCALE] [--real | --synthetic]
    batteryzoom data info NAME
    batteryzoom data fetch NAME [--refetch] [--no-download]
    batteryzoom data verify [NAME ...] [--download]
    batteryzoom report [--dataset twin|PATH] [--out DIR] [--width-mm MM] [--dpi DPI]
                       [--format png|svg|pdf ...] [--no-titles] [--from-raw]
    batteryzoom reconstruct ACQUISITION --out VOLUME.zarr [--centre PX] [--method fbp|gridding|fourier|sirt|iradon]
                            [--filter NAME] [--no-rings] [--no-outliers] [--rows FIRST:STOP]
                            [--chunks N] [--overwrite]
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from .errors import BatteryZoomError


def _data_list(args) -> int:
    from . import data
    from .data.store import location

    synthetic = True if args.synthetic else False if args.real else None
    rows = [("NAME", "SCALE", "MODALITY", "SOURCE", "WHERE")]
    for name in data.list(scale=args.scale, synthetic=synthetic):
        entry = data.info(name)
        kind = "twin" if entry.synthetic else f"{len(entry.files)} file(s)"
        rows.append((name, entry.scale, entry.modality, kind, location(entry)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(f"{cell:{w}s}" for cell, w in zip(row, widths)) + "  " + row[-1])
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

    formats = tuple(dict.fromkeys(args.format)) if args.format else ("png", "svg")
    return report.main(dataset=args.dataset, out=args.out, width_mm=args.width_mm, dpi=args.dpi, formats=formats,
                       titles=not args.no_titles, from_raw=args.from_raw)


def _read_acquisition(path: str):
    """An acquisition Dataset from ``path``: one saved as zarr or netCDF (``acq.to_zarr``),
    else through ``bz.io.read_acquisition`` (the instrument formats) when it exists."""
    import xarray as xr

    from . import io
    from .errors import FileFormatError
    from .io.acquisition import check_acquisition

    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "no such file or folder", "check the path")
    saved_zarr = p.is_dir() and any((p / m).exists() for m in ("zarr.json", ".zgroup", ".zattrs"))
    if saved_zarr or p.suffix == ".zarr":
        meta = p / "zarr.json"
        consolidated = (p / ".zmetadata").exists() or (meta.exists() and "consolidated_metadata" in meta.read_text())
        return check_acquisition(xr.open_zarr(p, consolidated=consolidated), str(p))
    if p.suffix in (".nc", ".nc4", ".netcdf"):
        return check_acquisition(xr.open_dataset(p), str(p))
    reader = getattr(io, "read_acquisition", None)  # the instrument readers, when present
    if reader is None:
        raise FileFormatError(p, "no reader for raw acquisition files in this version",
                              "save the acquisition Dataset (bz.io.acquisition.make_acquisition) with "
                              "acq.to_zarr('scan.zarr') and pass that")
    return reader(p)


def _reconstruct(args) -> int:
    from . import tomo
    from .data.store import atomic_write_bytes
    from .errors import InputError
    from .frames import frame_of
    from .tomo.pipeline import written_by_us

    out = Path(args.out)
    side = out.with_suffix(".json")
    if side.exists() and (not written_by_us(side) or not args.overwrite):
        why = "was not written by batteryzoom's reconstruct" if not written_by_us(side) else \
            "is from an earlier reconstruct; pass --overwrite to replace it"
        raise InputError(f"{side}: exists and {why} (the parameters go beside the volume)")
    rows = None
    if args.rows:
        try:
            first, stop = (int(v) for v in args.rows.split(":"))
        except ValueError:
            raise InputError(f"--rows {args.rows!r}: give FIRST:STOP, e.g. 100:300") from None
        rows = (first, stop)
    acq = _read_acquisition(args.acquisition)
    vol = tomo.reconstruct(acq, centre=args.centre, method=args.method, filter_name=args.filter,
                           rings=not args.no_rings, outliers=not args.no_outliers, rows=rows, chunks=args.chunks,
                           out=out, overwrite=args.overwrite, progress=True)
    atomic_write_bytes(side, tomo.parameters_json(vol).encode("utf-8"))
    centre = vol.attrs.get("centre_px")
    shown = f"{centre:.2f}" if isinstance(centre, float) else ", ".join(f"{c:.2f}" for c in centre)
    frame = frame_of(vol, missing="px")
    print(f"{out}: {dict(zip(vol.dims, vol.shape))}, voxel {list(frame.voxel_size_um)} {'µm' if frame.known else 'px (size unknown)'}, "
          f"{vol.attrs.get('units')}; centre {shown} px\n{side}: centre and parameters")
    return 0


def _export_zarr(args) -> int:
    from .errors import InputError
    from .zoom.omezarr import check_zoom_target, twin_zoom, write_zoom_zarr

    if args.dataset != "twin":
        raise InputError(f"--dataset {args.dataset!r}: export-zarr writes the twin's zoom; for your own volumes "
                         "call bz.zoom.write_zoom_zarr(path, hierarchy) with their levels attached")
    out = Path(args.out)
    check_zoom_target(out, args.overwrite)  # before the XANES pipeline runs
    zoom, labels = twin_zoom(args.preset, xanes_map=not args.no_xanes, progress=True)
    write_zoom_zarr(out, zoom, labels=labels, overwrite=args.overwrite)
    written = [lv.name for lv in zoom if lv.data is not None]
    print(f"{out}: OME-Zarr (NGFF 0.5) with {len(written)} levels in one world frame (µm): {', '.join(written)}; "
          f"labels: {', '.join(f'{k}/{n}' for k, v in labels.items() for n in v)}")
    return 0


# Examples at the end of each command's --help (the parsers' epilogs), by command path
_EXAMPLES = {
    "": """examples:
  batteryzoom data list                    the datasets, and where each one is
  batteryzoom report --out report          the whole zoom on the synthetic twin, as HTML
  batteryzoom reconstruct scan.zarr --out volume.zarr
  batteryzoom COMMAND --help               a command's options and examples""",
    "data": """examples:
  batteryzoom data list --scale electrode
  batteryzoom data info real/xanes/ref-nio
  batteryzoom data fetch real/cycler/neware-m50t
  batteryzoom data verify --download""",
    "data list": """examples:
  batteryzoom data list                    every dataset, with a header
  batteryzoom data list --real             real instrument files only
  batteryzoom data list --scale grain --synthetic""",
    "data info": """examples:
  batteryzoom data info real/xanes/ref-nio
  batteryzoom data info twin/particle-xanes""",
    "data fetch": """examples:
  batteryzoom data fetch real/cycler/neware-m50t          cache, then mirror, then download
  batteryzoom data fetch real/ct/cell-slice-im1 --no-download
  batteryzoom data fetch real/xanes/ref-nio --refetch     replace a corrupt cache copy""",
    "data verify": """examples:
  batteryzoom data verify                                  every real file's SHA-256
  batteryzoom data verify real/xanes/ref-nio real/ct/cell-slice-im1
  batteryzoom data verify --download                       fetch the missing ones too""",
    "report": """examples:
  batteryzoom report                                   the synthetic twin, into ./report
  batteryzoom report --dataset my_cell/ --out my_report
                                                       a folder with batteryzoom.yaml
  batteryzoom report --from-raw --out report_raw      the twin from its raw projections""",
    "export-zarr": """examples:
  batteryzoom export-zarr --out zoom.zarr                 the twin's whole zoom, one OME-Zarr
  batteryzoom export-zarr --out zoom.zarr --no-xanes      without the XANES edge-energy map
  batteryzoom export-zarr --out zoom.zarr --overwrite     replace an earlier export""",
    "reconstruct": """examples:
  batteryzoom reconstruct scan.zarr --out volume.zarr                centre found per energy
  batteryzoom reconstruct scan.zarr --out volume.zarr --centre 1023.5 --method sirt
  batteryzoom reconstruct scan.nc --out slab.zarr --rows 100:300 --overwrite""",
}


def _with_examples(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Give ``parser`` and its subcommands their examples and help-when-bare."""
    if not parser.epilog and path in _EXAMPLES:
        parser.epilog = _EXAMPLES[path]
        # keeps the examples' lines as written; the description is wrapped here instead
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        if parser.description:
            parser.description = "\n\n".join(textwrap.fill(para, 88) for para in parser.description.split("\n\n"))
    for action in parser._actions:  # argparse has no public walk over subparsers
        if isinstance(action, argparse._SubParsersAction):
            parser.set_defaults(func=None, help_parser=parser)  # bare group: its help
            for name, child in action.choices.items():
                _with_examples(child, f"{path} {name}".strip())


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="batteryzoom", description="A macro-to-nano zoom through battery degradation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    data_p = sub.add_parser("data", help="the data manifest: list, info, fetch, verify")
    data_sub = data_p.add_subparsers(dest="data_command", metavar="COMMAND")
    p = data_sub.add_parser(
        "list", help="list datasets and where each one is",
        description="The manifest's datasets, one a line under a header. WHERE: cached (in the cache, "
                    "$BATTERYZOOM_CACHE), mirrored (in the offline mirror, $BATTERYZOOM_MIRROR), remote "
                    "(downloaded on first use), not generated (a twin dataset, generated on first use).")
    p.add_argument("--scale", choices=["cycler", "cell", "electrode", "particle", "grain"], help="this scale only")
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
    p.add_argument("--out", default="report", help="output folder: new, empty, or a report batteryzoom wrote "
                                                   "(replaced whole); never the dataset's folder (default: ./report)")
    p.add_argument("--width-mm", type=float, default=None, metavar="MM",
                   help="static figures' width in mm (a journal column: 85 single, 175 double; default: 900 px)")
    p.add_argument("--dpi", type=float, default=None, help="static figures' resolution (default 300 with --width-mm)")
    p.add_argument("--format", action="append", choices=["png", "svg", "pdf"], default=None,
                   help="static figure format; repeat for several (default: png and svg)")
    p.add_argument("--no-titles", action="store_true", help="static figures without titles (a caption replaces them)")
    p.add_argument("--from-raw", action="store_true",
                   help="twin only: the particle and grain scales from the raw acquisitions (Paganin + FBP of the "
                        "nano-CT; the 3D XANES through bz.xanes.xanes_from_raw), ~1.5 min more; the summary says "
                        "which route each scale took")
    p.set_defaults(func=_report)

    p = sub.add_parser("reconstruct", help="raw tomography acquisition -> volume (zarr), centre found if not given")
    p.add_argument("acquisition", help="an acquisition saved as zarr/netCDF, or an instrument file "
                                       "bz.io.read_acquisition reads")
    p.add_argument("--out", required=True, help="the volume's zarr store; its centre and parameters go "
                                                "beside it as .json")
    p.add_argument("--centre", type=float, default=None, help="rotation axis in detector columns (px); "
                                                              "default: found per energy")
    p.add_argument("--method", default="fbp", choices=["fbp", "gridding", "fourier", "sirt", "iradon"])
    p.add_argument("--filter", default="ramp", choices=["ramp", "shepp-logan", "cosine", "hamming", "hann"])
    p.add_argument("--no-rings", action="store_true", help="skip stripe (ring) removal")
    p.add_argument("--no-outliers", action="store_true", help="skip zinger removal")
    p.add_argument("--rows", default=None, help="detector rows FIRST:STOP (default all)")
    p.add_argument("--chunks", type=int, default=16, help="detector rows per block (default 16)")
    p.add_argument("--overwrite", action="store_true", help="replace a volume an earlier reconstruct wrote "
                                                            "(never anything else)")
    p.set_defaults(func=_reconstruct)

    p = sub.add_parser("export-zarr", help="the whole zoom as one OME-Zarr store (NGFF 0.5, µm, pyramids)",
                       description="Write every level of the zoom (cell CT, electrode CT with particle labels, "
                                   "particle nano-CT with grain labels, the 3D XANES edge-energy map) into one "
                                   "OME-Zarr store, each at its physical position: any NGFF viewer opens it.",
)
    p.add_argument("--dataset", default="twin", help="'twin' (default)")
    p.add_argument("--preset", default="small", choices=["small", "large"], help="the twin's size")
    p.add_argument("--out", required=True, help="the store to write (a new folder, conventionally *.zarr)")
    p.add_argument("--no-xanes", action="store_true", help="leave out the XANES edge-energy map (skips its pipeline)")
    p.add_argument("--overwrite", action="store_true", help="replace a store an earlier export wrote (never "
                                                            "anything else)")
    p.set_defaults(func=_export_zarr)
    _with_examples(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.func is None:  # `batteryzoom` or `batteryzoom data` alone: the help, as --help gives
        args.help_parser.print_help()
        return 0
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
