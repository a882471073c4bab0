"""Mutation-fuzz campaign over batteryzoom's readers (issue #27), one family at a time.

Usage::

    PYTHONPATH=toolkit python toolkit/scripts/fuzz_readers.py --family spectra
    PYTHONPATH=toolkit python toolkit/scripts/fuzz_readers.py --family imaging --cases 1000 --seed 0
    PYTHONPATH=toolkit python toolkit/scripts/fuzz_readers.py --family imaging --reader read_xrm --cases 50

Each reader gets ``--cases`` damaged inputs (default 1,000), spread over the real files of
the data mirror it reads (``bz.data.fetch``; synthetic files only where no real one exists,
said in the table). Every case is classified by :mod:`batteryzoom.testing.fuzz`: refused
(a BatteryZoomError), same, warned, undetectable (damage confined to a format's free
values, judged by :mod:`batteryzoom.testing.payload`: raw pixels of an uncompressed image,
a number of a text table turned into another valid number, and the result differs in
values only), and the bugs: escaped (another exception), hang (over ``--timeout`` of CPU time),
silent. Lazy results are computed (``.load()``), so compute-time failures count. The
clean files are never touched (copies in a temporary folder). Exit status 1 when a bug
was found; ``--csv`` writes every case.

Families register in :data:`FAMILIES` with ``@family("name")``: a function returning the
:class:`Target` list of that family. Add a family by adding one such function.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import batteryzoom as bz
from batteryzoom.testing.fuzz import BUGS, OUTCOMES, Outcome, campaign, counts, tree_campaign
from batteryzoom.testing.payload import (hdf5_free, judge, ole_free, text_judge, tiff_deflate_judge, tiff_free,
                                        zarr_chunk_judge)


@dataclass
class Target:
    """Inputs of one reader to damage: ``files`` one at a time, or (``root`` given) the
    ``files`` of a tree read together (``read`` gets the copy of ``root``, or of
    ``root/target``)."""

    reader: str
    read: Callable[[Path], Any]
    files: list[Path]
    root: Path | None = None
    target: str | None = None
    judge: Callable | None = None
    note: str = ""


FAMILIES: dict[str, Callable[[Path], list[Target]]] = {}


def family(name: str):
    def register(fn):
        FAMILIES[name] = fn
        return fn
    return register


def materialize(result):
    """Compute a lazy (dask-backed) result, so failures at compute time are caught too."""
    return result.load() if hasattr(result, "load") else result


def _files(name: str) -> list[Path]:
    return bz.data.fetch(name)


TEXT_JUDGE = text_judge()


def _any(*judges):
    """A judge: the first verdict any of ``judges`` gives."""
    def first(path: Path, mutation):
        return next((v for v in (j(path, mutation) for j in judges) if v), None)
    return first


TIFF_JUDGE = _any(judge(tiff_free, "raw pixel data of an uncompressed (or unchecked-codec) TIFF strip", shifted=True),
                  tiff_deflate_judge())
OLE_JUDGE = judge(ole_free, "Xradia bytes other than its structure (pixels, energy, angles, pixel size, dates, "
                            "unread streams)", structure_may_change=True)
HDF5_JUDGE = judge(hdf5_free, "raw data of an unfiltered HDF5 dataset", structure_may_change=True)
ZARR_JUDGE = zarr_chunk_judge()
LIST_JUDGE = text_judge(min_columns=1)


def _multi(*judges):
    """A judge for a tree of several formats: the first judge whose format fits the file."""
    def pick(path: Path, mutation):
        for suffixes, j in judges:
            if path.suffix.lower() in suffixes:
                return j(path, mutation)
        return None
    return pick


@family("spectra")
def spectra_targets(work: Path) -> list[Target]:
    names = [n for n in bz.data.list(scale="grain", synthetic=False)
             if n.startswith("real/xanes/") and bz.data.info(n).modality == "xanes-spectrum"]
    targets = []
    for name in names:
        (path,) = _files(name)
        loader = bz.data.info(name).loader or {}
        args = dict(loader.get("args") or {})
        targets.append(Target("read_spectrum", lambda p, a=args: bz.io.read_spectrum(p, **a), [path],
                              judge=None if path.suffix == ".prj" else TEXT_JUDGE))
    return targets


def _synthetic_xanes(work: Path) -> dict[str, Path]:
    """Small XANES stacks in the layouts no real file of the mirror has (FXI HDF5, TIFF, zarr)."""
    import h5py
    import tifffile
    import xarray as xr

    rng = np.random.default_rng(0)
    od = rng.uniform(0.1, 1.5, (6, 24, 20)).astype(np.float32)
    flat = rng.uniform(5000, 6000, (6, 24, 20)).astype(np.float32)
    energy_kev = np.linspace(8.30, 8.40, 6)
    out = {"hdf5": work / "fxi_xanes.h5", "tiff": work / "stack.tif", "zarr": work / "stack.zarr",
           "energies": work / "energies.txt"}
    with h5py.File(out["hdf5"], "w") as fh:
        fh["img_xanes"] = (flat - 100) * np.exp(-od) + 100
        fh["img_bkg"] = flat
        fh["img_dark"] = np.full((2, 24, 20), 100.0, np.float32)
        fh["X_eng"] = energy_kev
    tifffile.imwrite(out["tiff"], od, photometric="minisblack")
    out["energies"].write_text("\n".join(f"{e:.4f}" for e in energy_kev))
    xr.DataArray(od, dims=("energy", "y", "x"), coords={"energy": energy_kev * 1000}, name="od") \
        .to_dataset().chunk({"energy": 2}).to_zarr(out["zarr"], consolidated=False)
    return out


def _volume_zarr(work: Path) -> Path:
    """A zarr store of a real slice (cell CT im_1), chunked, as xarray writes one."""
    import tifffile
    import zarr

    image = tifffile.imread(_files("real/ct/cell-slice-im1")[0])[:288, :288]
    store = work / "im1.zarr"
    arr = zarr.open_array(str(store), mode="w", shape=(2,) + image.shape, chunks=(1, 144, 144), dtype=image.dtype)
    arr[:] = np.stack([image, image[::-1]])
    arr.attrs["voxel_size_um"] = [1.0, 0.5, 0.5]
    return store


@family("imaging")
def imaging_targets(work: Path) -> list[Target]:
    aps = _files("real/xanes/aps-frames")
    ssrl = [p for p in _files("real/xanes/ssrl-nca-frames") if p.suffix == ".xrm"]
    chip_xrm = next(p for p in _files("real/tomo/xradia-chip-xrm") if p.suffix == ".xrm")
    txrm = next(p for p in _files("real/tomo/xradia-chip-txrm") if p.suffix == ".txrm")
    tooth = _files("real/tomo/aps-tooth-dxchange")[0]
    i13 = _files("real/tomo/diamond-i13-tiff-series")
    i13_root = next(p for p in i13 if p.name == "angles.txt").parent
    k11 = _files("real/tomo/diamond-k11-nexus")
    k11_nxs = next(p for p in k11 if p.suffix == ".nxs")
    mat = _files("real/tomo/diamond-i12-dendrite-sinogram")[0]
    cell_vol = sorted(_files("real/ct/cell-header-volume"))
    syn = _synthetic_xanes(work)
    vol_zarr = _volume_zarr(work)
    tiffs = [_files(n)[0] for n in ("real/ct/cell-slice-im1", "real/ct/cell-slice-im1-mask", "real/ct/can-dent-mask",
                                    "real/ct/electrode-taufactor-nmc", "real/ct/electrode-nrel-nmc1cal")]
    energies = [8300.0, 8320.0, 8340.0, 8360.0, 8380.0, 8400.0]
    tiff_or_h5 = _multi(((".tif", ".tiff"), TIFF_JUDGE), ((".h5", ".nxs"), HDF5_JUDGE), ((".txt",), LIST_JUDGE))
    return [
        Target("read_xrm", bz.io.read_xrm, aps + ssrl + [chip_xrm], judge=OLE_JUDGE),
        Target("read_txm_scan", bz.io.read_txm_scan, aps, root=aps[0].parent, judge=OLE_JUDGE),
        Target("read_xanes_hdf5", bz.io.read_xanes_hdf5, [syn["hdf5"]], judge=HDF5_JUDGE, note="synthetic FXI file"),
        Target("read_xanes_tiff", lambda p: bz.io.read_xanes_tiff(p, energies), [syn["tiff"]], judge=TIFF_JUDGE,
               note="synthetic stack"),
        Target("read_xanes_zarr", bz.io.read_xanes_zarr, [p for p in syn["zarr"].rglob("*") if p.is_file()],
               root=syn["zarr"], judge=ZARR_JUDGE, note="synthetic store"),
        Target("read_volume (tiff)", bz.io.read_volume, tiffs, judge=TIFF_JUDGE),
        Target("read_volume (tiff sequence)", bz.io.read_volume, cell_vol[:1] + cell_vol[49:50] + cell_vol[-1:], root=cell_vol[0].parent,
               judge=TIFF_JUDGE, note="TIFF sequence"),
        Target("read_volume (npz)", bz.io.read_volume, _files("real/ct/jellybamm-cc-skeleton")),
        Target("read_volume (hdf5)", lambda p: bz.io.read_volume(p, dataset="/exchange/data"), [tooth], judge=HDF5_JUDGE),
        Target("read_volume (zarr)", bz.io.read_volume, [p for p in vol_zarr.rglob("*") if p.is_file()], root=vol_zarr,
               judge=ZARR_JUDGE, note="zarr store of a real slice"),
        Target("read_acquisition (dxchange)", bz.io.read_acquisition, [tooth], judge=HDF5_JUDGE),
        Target("read_acquisition (xradia)", lambda p: bz.io.read_acquisition(p, flats="absent"), [txrm],
               judge=OLE_JUDGE),
        Target("read_acquisition (xradia)", bz.io.read_acquisition, [chip_xrm], judge=OLE_JUDGE),
        Target("read_acquisition (tiff-series)", bz.io.read_acquisition,
               [i13_root / "angles.txt", i13_root / "flat_00001.tiff", i13_root / "dark_00001.tiff",
                i13_root / "tiffs" / "raw_00000.tiff", i13_root / "tiffs" / "raw_00045.tiff"],
               root=i13_root, judge=tiff_or_h5),
        Target("read_acquisition (nexus)", bz.io.read_acquisition, sorted(p for p in k11 if p.is_file()),
               root=k11_nxs.parent, target=k11_nxs.name, judge=tiff_or_h5),
        Target("read_acquisition (matlab-sinogram)", lambda p: bz.io.read_acquisition(p, value_scale=1000), [mat]),
    ]


def run_family(name: str, cases: int, seed: int, timeout_s: float, only: str | None,
               log: Callable[[str], None] = print) -> dict[str, list[Outcome]]:
    """Every reader of a family over ``cases`` damaged inputs each; outcomes by reader."""
    results: dict[str, list[Outcome]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        targets = FAMILIES[name](Path(tmp))
        readers = {t.reader: [u for u in targets if u.reader == t.reader] for t in targets}
        for reader, group in readers.items():
            if only and only not in reader:
                continue
            n_inputs = sum(len(t.files) for t in group)
            per_file = max(1, math.ceil(cases / n_inputs))
            t0 = time.perf_counter()
            out: list[Outcome] = []
            for k, t in enumerate(group):
                kw = dict(n_per_file=per_file, seed=seed + 1009 * k, timeout_s=timeout_s, materialize=materialize,
                          judge=t.judge, compare_attrs=True)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if t.root is not None:
                        out += tree_campaign(t.read, t.root, t.files, target=t.target, **kw)
                    else:
                        out += campaign(t.read, t.files, **kw)
            results[reader] = out
            c = counts(out)
            log(f"{reader:36s} {len(out):6d} " + " ".join(f"{c[k]:6d}" for k in OUTCOMES)
                + f"  {time.perf_counter() - t0:6.0f} s")
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "cycler" in argv or "--family=cycler" in argv:  # the cycler family has its own runner and options
        sys.path.insert(0, str(Path(__file__).parent))
        import fuzz_cycler

        return fuzz_cycler.main(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", required=True, choices=sorted(FAMILIES) + ["cycler"])
    parser.add_argument("--cases", type=int, default=1000, help="damaged inputs per reader (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds of CPU time before a read counts as a hang (blocked: 10x as much wall time)")
    parser.add_argument("--reader", default=None, help="only readers whose name contains this")
    parser.add_argument("--csv", type=Path, default=None, help="write every case here")
    args = parser.parse_args(argv)
    print(f"{'reader':36s} {'cases':>6s} " + " ".join(f"{k[:6]:>6s}" for k in OUTCOMES) + "  time")
    results = run_family(args.family, args.cases, args.seed, args.timeout, args.reader)
    bugs = [o for out in results.values() for o in out if o.kind in BUGS]
    for o in bugs[:40]:
        print(f"BUG {o.kind}: {o.source} {o.mutation}: {o.detail[:200]}")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["reader", "source", "mutation", "outcome", "seconds", "cpu_seconds", "detail"])
            for reader, out in results.items():
                for o in out:
                    w.writerow([reader, o.source, o.mutation, o.kind, f"{o.seconds:.3f}", f"{o.cpu_seconds:.3f}", o.detail])
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
