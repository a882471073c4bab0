"""The ``batteryzoom`` command.

::

    batteryzoom data list [--scale SCALE] [--real | --synthetic]
    batteryzoom data info NAME
    batteryzoom data fetch NAME [--refetch] [--no-download]
    batteryzoom data verify [NAME ...] [--download]
    batteryzoom report [--dataset twin|PATH] [--out DIR]
    batteryzoom reconstruct ACQUISITION --out VOLUME.zarr [--centre PX] [--method fbp|fourier|sirt|iradon]
                            [--filter NAME] [--no-rings] [--no-outliers] [--rows FIRST:STOP]
                            [--chunks N] [--overwrite]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    print(f"{out}: {dict(zip(vol.dims, vol.shape))}, voxel {vol.attrs.get('voxel_size_um')} µm, "
          f"{vol.attrs.get('units')}; centre {shown} px\n{side}: centre and parameters")
    return 0


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

    p = sub.add_parser("reconstruct", help="raw tomography acquisition -> volume (zarr), centre found if not given")
    p.add_argument("acquisition", help="an acquisition saved as zarr/netCDF, or an instrument file "
                                       "bz.io.read_acquisition reads")
    p.add_argument("--out", required=True, help="the volume's zarr store; its centre and parameters go "
                                                "beside it as .json")
    p.add_argument("--centre", type=float, default=None, help="rotation axis in detector columns (px); "
                                                              "default: found per energy")
    p.add_argument("--method", default="fbp", choices=["fbp", "fourier", "sirt", "iradon"])
    p.add_argument("--filter", default="ramp", choices=["ramp", "shepp-logan", "cosine", "hamming", "hann"])
    p.add_argument("--no-rings", action="store_true", help="skip stripe (ring) removal")
    p.add_argument("--no-outliers", action="store_true", help="skip zinger removal")
    p.add_argument("--rows", default=None, help="detector rows FIRST:STOP (default all)")
    p.add_argument("--chunks", type=int, default=16, help="detector rows per block (default 16)")
    p.add_argument("--overwrite", action="store_true", help="replace a volume an earlier reconstruct wrote "
                                                            "(never anything else)")
    p.set_defaults(func=_reconstruct)
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
