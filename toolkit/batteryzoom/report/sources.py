"""Where the main job's inputs come from: the synthetic twin, or a folder of the user's data.

A *source* hands :func:`batteryzoom.report.run_zoom` the inputs of each scale of the zoom
(cycler records, volumes, a XANES stack), the hierarchy that places the volumes in one
frame (when known), and, for the twin only, the ground truth that the report prints
beside each finding. It computes nothing. The interface is :class:`Source` (:mod:`.source`);
the twin's is :class:`TwinSource` (:mod:`.twin`), both importable from here too.

The convention of a folder of your own data is :class:`FolderSource`'s docstring
(``help(bz.report.FolderSource)``).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from ..errors import BatteryZoomError, FileFormatError, InputError
from .source import FINISHED, FROM_RAW, SCALES, Source
from .twin import TwinSource

__all__ = ["SCALES", "DATASET_FILE", "Source", "TwinSource", "FolderSource", "open_source"]

DATASET_FILE = "batteryzoom.yaml"

_VOLUME_SCALES = ("cell", "electrode", "particle", "grain")

# keywords the source sets itself: the cache and progress are its own, reading needs the path
_RESERVED = {"raw_read": {"path"}, "reconstruct": {"acquisition", "out", "overwrite", "progress"}}


# ---------------------------------------------------------------- a folder of user data


# what the grain's raw route takes of reconstruct: (bz.xanes.xanes_from_raw's keywords)
_XANES_RAW_KEYWORDS = {"centre", "method", "rings", "jitter"}


def _raw_grid(acq: Any) -> tuple[int, int, int]:
    """The grid a raw scan reconstructs to by default: the detector's rows × columns × columns."""
    return (int(acq.sizes["row"]), int(acq.sizes["col"]), int(acq.sizes["col"]))


def _bad(path: Path, problem: str, fix: str | None = None) -> FileFormatError:
    return FileFormatError(path, problem, fix or f"see `help(batteryzoom.report)` for the {DATASET_FILE} convention")


class FolderSource(Source):
    """A folder of the user's own data described by ``batteryzoom.yaml``.

    ``batteryzoom report --dataset FOLDER`` (or ``bz.report.run_zoom(FOLDER)``) reads
    ``FOLDER/batteryzoom.yaml``, which lists the files of each scale you have; scales you leave out are skipped. Paths are relative
    to the folder (or absolute); a ``*`` pattern in a cycler path reads every matching file.
    Nothing in the folder is ever modified. Every key is optional except one file per
    scale you include::

        name: "18650 cell #42"              # shown in the report's title
        cycler:
          one_cycle: cycler/formation.ndax   # Fig. S1: any file bz.io.read_cycler reads
          self_discharge: cycler/rest.csv    # Fig. S2: a charge followed by a long rest
          cell_id: "#42"                     # the cell under test (default: the file's stem)
          population: cycler/lot/*.csv       # its lot, one record per file (cell id = file stem)
          threshold_mv_per_day: 2.0          # QC limit on the K-value
        cell:
          volume: ct/cell/                   # bz.io.read_volume: TIFF folder or file, HDF5, zarr, npz
          voxel_size_um: 25.0                # when the file does not record it
        electrode:
          volume: ct/electrode.tif           # grey levels, or phase labels (0 = pore)
          voxel_size_um: 0.5
          thickness_axis: x                  # through the coating (default x) ...
          collector_side: low                # ... with the current collector at its low end
          origin_um: [755.75, 9155.75, 14147.75]   # optional: voxel 0's centre in the cell frame
        particle:
          volume: nanoct/particle.h5
          dataset: /exchange/data            # inside an HDF5 file or zarr group, when needed
          voxel_size_um: 0.08
          origin_um: [27.31, 27.31, 53.31]   # optional: in the electrode frame
        grain:
          stack: xanes/particle.h5           # read_xanes_hdf5 / _zarr / _tiff (+ energies:)
          energies: xanes/energies.txt       # TIFF stacks only: one energy per frame (eV or keV)
          voxel_size_um: 0.16
          origin_um: [0.04, 0.04, 0.04]      # optional: in the particle frame
          labels: xanes/grains.tif           # optional: grain labels on the stack's grid
          designated: [12, 34]               # optional: the two grains of Fig. S3

    **Raw acquisitions.** The electrode, particle and grain scales may give ``raw:`` instead
    of ``volume:`` (``stack:`` for the grain): projections with their flats, darks and
    angles in any format ``bz.io.read_acquisition`` reads (Data Exchange, Xradia
    ``.txrm``/``.xrm``, a TIFF series folder, NeXus, FXI, MATLAB; for the grain a
    multi-energy scan: a folder, a ``*`` pattern or a list of per-energy files). The scale
    is then reconstructed on load with ``bz.tomo.reconstruct`` (the centre found
    automatically unless given), in memory, or into ``cache:`` (a zarr store, reused while
    the raw files and options are unchanged)::

        particle:
          raw: nanoct/scan.h5                # read_acquisition recognises the format
          raw_read: {pixel_size_um: 0.08}    # optional: read_acquisition's keywords (flats, angles, ...)
          reconstruct: {rings: false}        # optional: bz.tomo.reconstruct's keywords (centre, method, rows, ...)
          cache: ../recon/particle.zarr      # optional, outside the folder: written once, reused; + particle.json
          origin_um: [27.31, 27.31, 53.31]

    For the grain, a raw multi-energy scan takes the route of the twin's raw 3D XANES:
    :func:`batteryzoom.xanes.xanes_from_raw` (FBP per energy with the centre found from
    the projections, stripes removed, jitter corrected, the magnification across energies
    measured and corrected, then aligned; ``reconstruct:`` may give its ``centre``,
    ``method``, ``rings``, ``jitter``; ``magnification:`` is ``fit`` (the default),
    ``none`` for a microscope that keeps its magnification, or one pixel-size ratio per
    energy; ``cache:`` receives the per-energy reconstructions, rewritten on each run). For a propagation-based (phase-contrast)
    nano-CT, give the particle Paganin's retrieval as the twin's route does:
    ``reconstruct: {phase: {delta_beta: 32, distance_m: 2.0e-4}, rings: false}``. The
    report names each scale's route (:attr:`ZoomReport.routes`).

    ``voxel_size_um`` is passed as the pixel size when the file records none. The centre
    used is recorded in the volume's attributes (``centre_px``, ``centre_fits``,
    ``reconstruction``: every parameter) and, with a cache, in the JSON beside it (as
    ``batteryzoom reconstruct`` writes), with the request it answered. A cache that
    batteryzoom did not write is never replaced.

    ``origin_um`` (z, y, x, µm) places a scale's voxel 0 in the frame of the scale above it
    that is present (cell ⊃ electrode ⊃ particle ⊃ grain); with it the report draws each
    child's box on its parent and, for the grains, takes the particle's grain segmentation
    onto the XANES grid when no ``labels`` are given.

    The values are checked before any scale runs, and every problem is reported at once,
    one line each (``bz.report.schema``):

    - paths (``one_cycle``, ``self_discharge``, ``volume``, ``stack``, ``labels``,
      ``energies`` as a file): text, and the file must exist; ``population`` one path, a
      ``*`` pattern or a list of them;
    - ``voxel_size_um``: a number > 0 in µm (or three: dz, dy, dx), written without a unit;
    - ``origin_um``: three numbers in µm (z, y, x);
    - ``threshold_mv_per_day``: a number > 0 (mV/day);
    - ``thickness_axis``: ``z``, ``y`` or ``x``; ``collector_side``: ``low`` or ``high``;
    - ``energies`` as a list: at least two numbers > 0 (eV or keV); ``designated``: two
      grain labels (integers > 0); ``name``, ``description``, ``cell_id``, ``dataset``,
      ``format``, ``layout``: text.

    The file is read as plain YAML without anchors or aliases (``&a``, ``*a``) and without
    a key given twice: both are refused with the line to fix (a repeated ``cycler:`` would
    otherwise silently replace the first, and nested aliases can expand a small file to
    gigabytes). A scale whose files turn out unreadable fails alone: the others still run.

    Parameters
    ----------
    folder : path-like
        The folder holding ``batteryzoom.yaml`` (or the YAML file itself).

    Raises
    ------
    FileFormatError
        The folder or its ``batteryzoom.yaml`` is missing, not YAML, names an unknown scale
        or key, lists no file for a scale, or points at a file that does not exist.
    """

    def __init__(self, folder: str | os.PathLike):
        from .schema import check_spec, load_spec

        path = Path(folder).expanduser()
        if path.is_dir():
            path = path / DATASET_FILE
        if not path.is_file():
            raise _bad(path, "no such file",
                       f"--dataset takes 'twin' or a folder holding {DATASET_FILE} that lists your files per scale")
        self.spec_path = path.resolve()
        self.folder = self.spec_path.parent
        # read safely and checked whole (types, ranges, units) before any scale runs
        spec = check_spec(load_spec(path), path)
        self.name = str(spec.get("name") or self.folder.name)
        self.description = str(spec.get("description") or f"user data in {self.folder}")
        self.spec: dict[str, dict] = {}
        for scale in SCALES:
            section = spec.get(scale)
            if section is None:
                continue
            self._check_files(scale, section)
            self.spec[scale] = section
        self._hierarchy = None
        self._levels: dict[str, Any] = {}
        self._cache: dict[str, dict[str, Any]] = {}

    # -- paths
    def _resolve(self, value: Any, scale: str, key: str) -> Path:
        if not isinstance(value, (str, os.PathLike)):
            raise _bad(self.spec_path, f"{scale}.{key} must be a path, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.folder / p

    def _glob(self, value: Any, scale: str, key: str) -> list[Path]:
        values = value if isinstance(value, list) else [value]
        out: list[Path] = []
        for v in values:
            p = self._resolve(v, scale, key)
            matches = sorted(Path(m) for m in glob.glob(str(p))) if any(c in str(p) for c in "*?[") else [p]
            out.extend(matches)
        return out

    def _check_files(self, scale: str, section: dict) -> None:
        from .schema import REQUIRED

        main = REQUIRED[scale]
        if "raw" in main:
            given = [k for k in main if section.get(k)]
            if len(given) > 1:
                raise _bad(self.spec_path, f"section {scale!r} gives both {given[0]} and raw",
                           f"give the reconstructed {given[0]} or the raw acquisition, not both")
            for key in ("raw_read", "reconstruct"):
                self._options(section, scale, key)
            if section.get("magnification") is not None and not section.get("raw"):
                raise _bad(self.spec_path, f"{scale}.magnification corrects a raw scan's pixel size across energies; "
                           f"{scale} gives no raw:", "remove it (a finished stack is on one grid already)")
            if section.get("cache") and not section.get("raw"):
                raise _bad(self.spec_path, f"{scale}.cache is where a raw acquisition is reconstructed to; "
                           f"{scale} gives no raw:")
            if section.get("cache"):
                cache = self._resolve(section["cache"], scale, "cache").resolve()
                if cache == self.folder.resolve() or self.folder.resolve() in cache.parents:
                    raise _bad(self.spec_path, f"{scale}.cache {section['cache']!r} is inside the dataset folder; "
                               "batteryzoom never writes into your data",
                               f"give a cache outside it, e.g. ../recon/{scale}.zarr")
        if not any(section.get(k) for k in main):
            raise _bad(self.spec_path, f"section {scale!r} names no file: give {' or '.join(main)}")
        for key in ("one_cycle", "self_discharge", "population", "volume", "stack", "energies", "labels", "raw"):
            if not section.get(key):
                continue
            if key == "energies" and isinstance(section[key], list):
                continue
            paths = self._glob(section[key], scale, key)
            if not paths:
                raise _bad(self.spec_path, f"{scale}.{key}: no file matches {section[key]!r}")
            for p in paths:
                if not p.exists():
                    raise _bad(p, f"listed as {scale}.{key} in {self.spec_path} but does not exist",
                               "fix the path (relative paths start at the YAML file's folder)")

    # -- Source API
    def has(self, scale: str) -> bool:
        return scale in self.spec

    def route(self, scale: str) -> str | None:
        s = self.spec.get(scale)
        if scale == "cycler" or s is None:
            return None
        if s.get("raw"):
            phase = (s.get("reconstruct") or {}).get("phase")
            how = ("bz.xanes.xanes_from_raw: FBP per energy, magnification across energies fitted, aligned"
                   if scale == "grain" else "bz.tomo.reconstruct" + (
                       f": Paganin phase retrieval δ/β {phase.get('delta_beta')}" if isinstance(phase, dict) else ""))
            return f"{FROM_RAW} ({s['raw']}: {how})"
        return f"{FINISHED} ({s.get('stack') or s.get('volume')})"

    def load(self, scale: str) -> dict[str, Any]:
        # read once: the hierarchy and the scale's analysis share the volumes
        if scale not in self._cache:
            self._cache[scale] = self._load(scale)
        return self._cache[scale]

    def _load(self, scale: str) -> dict[str, Any]:
        from .. import io

        s = self.spec[scale]
        if scale == "cycler":
            fmt = s.get("format", "auto")
            out: dict[str, Any] = {"threshold_mv_per_day": float(s.get("threshold_mv_per_day", 2.0))}
            for key in ("one_cycle", "self_discharge"):
                out[key] = io.read_cycler(self._resolve(s[key], scale, key), format=fmt) if s.get(key) else None
            sd_path = self._resolve(s["self_discharge"], scale, "self_discharge") if s.get("self_discharge") else None
            out["cell_id"] = str(s.get("cell_id") or (sd_path.stem if sd_path else "cell"))
            out["population"] = None
            if s.get("population"):
                import pandas as pd

                frames = []
                for p in self._glob(s["population"], scale, "population"):
                    df = io.read_cycler(p, format=fmt)
                    df.insert(0, "cell_id", p.stem)
                    frames.append(df)
                out["population"] = pd.concat(frames, ignore_index=True)
            return out
        voxel = s.get("voxel_size_um")
        if scale == "grain":
            # a raw multi-energy scan takes the route of the twin's: bz.xanes.xanes_from_raw
            # (per-energy FBP, magnification across energies, alignment), run by the scale
            acq, options = self._raw_xanes(s) if s.get("raw") else (None, {})
            stack = None if acq is not None else self._read_stack(s)
            grid = _raw_grid(acq) if acq is not None else tuple(stack.shape[1:])
            labels = None
            if s.get("labels"):
                labels = io.read_volume(self._resolve(s["labels"], scale, "labels"), voxel_size_um=voxel)
                if labels.shape != grid:
                    raise _bad(self._resolve(s["labels"], scale, "labels"),
                               f"grain labels have shape {labels.shape}; the XANES stack's volume is {grid}",
                               "give labels on the stack's own grid (from raw: the detector's rows × columns × "
                               "columns, centred on the axis)")
            designated = s.get("designated")
            if designated is not None and (not isinstance(designated, list) or len(designated) != 2):
                raise _bad(self.spec_path, f"grain.designated must be two grain labels, got {designated!r}")
            return {"stack": stack, "acquisition": acq, "options": options, "labels": labels,
                    "designated": designated}
        raw = self._reconstruct(scale, s) if s.get("raw") else None
        vol = raw if raw is not None else io.read_volume(self._resolve(s["volume"], scale, "volume"),
                                                         voxel_size_um=voxel, dataset=s.get("dataset"))
        if vol.ndim != 3:
            raise _bad(self._resolve(s["volume"], scale, "volume"), f"is a {vol.ndim}D image; the {scale} scale needs a "
                       "3D volume (z, y, x)", "give a multi-page TIFF, a folder of slices, HDF5, zarr or npz")
        options = {k: s[k] for k in ("thickness_axis", "collector_side") if k in s}
        return {"volume": vol, **options}

    def _options(self, section: dict, scale: str, key: str) -> dict[str, Any]:
        """``raw_read`` / ``reconstruct``: a mapping of the function's keywords, checked."""
        import inspect

        value = section.get(key) or {}
        if not isinstance(value, dict):
            raise _bad(self.spec_path, f"{scale}.{key} must be a mapping of keywords, got {value!r}")
        if key == "raw_read":
            from ..io import read_acquisition as func
            allowed = set(inspect.signature(func).parameters) - {"options"}  # + a reader's own: checked on read
        else:
            from ..tomo import reconstruct as func
            allowed = set(inspect.signature(func).parameters)
        allowed -= _RESERVED[key]
        bad = sorted(set(value) - allowed) if key == "reconstruct" else sorted(set(value) & _RESERVED[key])
        if bad:
            raise _bad(self.spec_path, f"{scale}.{key} has keyword(s) {bad} that {func.__name__} does not take "
                       f"here; allowed: {sorted(allowed)}")
        return dict(value)

    def _raw_xanes(self, s: dict) -> tuple[Any, dict[str, Any]]:
        """The grain's raw multi-energy scan, read, and the keywords of
        :func:`batteryzoom.xanes.xanes_from_raw` it gives (``reconstruct:``, ``cache:``)."""
        from .. import io

        paths = self._glob(s["raw"], "grain", "raw")
        read = self._options(s, "grain", "raw_read")
        if s.get("voxel_size_um") is not None and "pixel_size_um" not in read:
            voxel = s["voxel_size_um"]
            read["pixel_size_um"] = float(voxel[-1] if isinstance(voxel, list) else voxel)
        options = self._options(s, "grain", "reconstruct")
        bad = sorted(set(options) - _XANES_RAW_KEYWORDS)
        if bad:
            raise _bad(self.spec_path, f"grain.reconstruct has keyword(s) {bad} that the grain's raw route "
                       f"(bz.xanes.xanes_from_raw) does not take; it takes {sorted(_XANES_RAW_KEYWORDS)}",
                       "remove them, or reconstruct the stack yourself and give it as grain.stack")
        try:
            acq = io.read_acquisition(paths[0] if len(paths) == 1 else paths, **read)
        except TypeError as exc:  # a keyword the format's reader does not take
            raise _bad(self.spec_path, f"grain.raw_read: {exc}") from None
        if "energy" not in acq["projections"].dims:
            raise _bad(self._resolve(s["raw"], "grain", "raw"), "is one energy; the grain scale needs a multi-energy "
                       "scan (one acquisition per energy)", "give a folder, a * pattern or a list of per-energy files")
        if "magnification" in s:  # fit (the default), none, or the scales as known
            options["magnification"] = None if s["magnification"] == "none" else s["magnification"]
        if s.get("cache"):  # the per-energy reconstructions, streamed there (rewritten on each run)
            options.update(out=self._resolve(s["cache"], "grain", "cache"), overwrite=True)
        return acq, options

    def _reconstruct(self, scale: str, s: dict):
        """A raw acquisition to the scale's volume (the grain's stack) with
        bz.tomo.reconstruct, reusing ``cache`` when the JSON beside it records the same
        request."""
        import json

        import xarray as xr

        from .. import io, tomo
        from ..data.store import atomic_write_bytes
        from ..tomo.pipeline import written_by_us

        paths = self._glob(s["raw"], scale, "raw")
        read = self._options(s, scale, "raw_read")
        if s.get("voxel_size_um") is not None and "pixel_size_um" not in read:
            voxel = s["voxel_size_um"]
            read["pixel_size_um"] = float(voxel[-1] if isinstance(voxel, list) else voxel)
        options = self._options(s, scale, "reconstruct")
        request = {"raw": [str(p) for p in paths], "mtime": [os.stat(p).st_mtime for p in paths],
                   "raw_read": read, "reconstruct": options}
        request = json.loads(json.dumps(request, default=str))  # as the JSON will hold it
        cache = self._resolve(s["cache"], scale, "cache") if s.get("cache") else None
        side = cache.with_suffix(".json") if cache is not None else None
        if cache is not None and cache.is_dir() and side.is_file():
            try:
                recorded = json.loads(side.read_text()).get("request")
            except (OSError, ValueError):
                recorded = None
            if recorded == request and written_by_us(cache):
                return self._checked(scale, s, xr.open_zarr(cache, consolidated=False)["volume"])
        if side is not None and side.exists() and not written_by_us(side):
            raise _bad(side, f"exists beside {scale}.cache and was not written by batteryzoom",
                       "move it, or give another cache path")
        try:
            acq = io.read_acquisition(paths[0] if len(paths) == 1 else paths, **read)
        except TypeError as exc:  # a keyword the format's reader does not take
            raise _bad(self.spec_path, f"{scale}.raw_read: {exc}") from None
        vol = tomo.reconstruct(acq, out=cache, overwrite=cache is not None, progress=None, **options)
        if cache is not None:
            body = json.loads(tomo.parameters_json(vol))
            atomic_write_bytes(side, json.dumps({**body, "request": request}, indent=2).encode("utf-8"))
        return self._checked(scale, s, vol)

    def _checked(self, scale: str, s: dict, vol):
        """A reconstructed volume (stack) with the dims its scale needs."""
        expected = 4 if scale == "grain" else 3
        if vol.ndim != expected:
            what = "a multi-energy scan (one acquisition per energy)" if scale == "grain" else "one energy"
            raise _bad(self._resolve(s["raw"], scale, "raw"), f"reconstructs to dims {vol.dims}; the {scale} "
                       f"scale needs {what}")
        return vol

    def _read_stack(self, s: dict):
        from .. import io

        path = self._resolve(s["stack"], "grain", "stack")
        voxel = s.get("voxel_size_um")
        pixel = float(voxel[-1] if isinstance(voxel, list) else voxel) if voxel is not None else None
        suffix = path.suffix.lower()
        if suffix in (".h5", ".hdf5", ".hdf", ".nxs"):
            stack = io.read_xanes_hdf5(path, layout=s.get("layout"), pixel_size_um=pixel)
        elif suffix == ".zarr" or (path.is_dir() and ((path / ".zgroup").exists() or (path / "zarr.json").exists())):
            stack = io.read_xanes_zarr(path)
        else:
            if not s.get("energies"):
                raise _bad(self.spec_path, f"grain.stack {path.name} is a TIFF stack: give grain.energies "
                           "(a list or a text file with one energy per frame)")
            energies = s["energies"]
            if not isinstance(energies, list):
                energies = self._resolve(energies, "grain", "energies")
            stack = io.read_xanes_tiff(path, energies, pixel_size_um=pixel)
        if stack.ndim != 4:
            raise _bad(path, f"the XANES stack has dims {stack.dims}; the grain scale needs (energy, z, y, x)",
                       "give a 3D XANES stack (a tomogram at each energy)")
        if voxel is not None:
            stack.attrs["voxel_size_um"] = list(voxel) if isinstance(voxel, list) else [float(voxel)] * 3
        return stack

    def hierarchy(self):
        """Levels of the volumes present, nested cell ⊃ electrode ⊃ particle ⊃ grain where
        ``origin_um`` places them; None when no volume gives a voxel size."""
        if self._hierarchy is not None or not any(s in self.spec for s in _VOLUME_SCALES):
            return self._hierarchy
        from ..zoom import Hierarchy, Level

        levels = []
        parent = None
        for scale in _VOLUME_SCALES:
            if scale not in self.spec:
                continue
            s = self.spec[scale]
            try:
                data = self.load(scale)
            except BatteryZoomError:
                # this scale's own run reports why; its neighbours are placed without it
                parent = None
                continue
            if scale == "grain" and data.get("acquisition") is not None:
                # reconstructed by the grain scale itself: its grid is known from the detector
                from ..frames import frame_of

                acq = data["acquisition"]
                frame = frame_of(_raw_grid(acq), voxel_size_um=acq.attrs.get("pixel_size_um"), missing="px")
                if not frame.known:
                    continue
                shape, vs = _raw_grid(acq), frame.voxel_size_um
            else:
                vol = data["stack"].isel(energy=0) if scale == "grain" else data["volume"]
                vs = vol.attrs.get("voxel_size_um")
                if vs is None or vol.ndim != 3:
                    continue
                shape = tuple(vol.shape)
            origin = s.get("origin_um")
            levels.append(Level(name=scale, shape=shape, voxel_size_um=tuple(vs),
                                origin_um=tuple(origin) if origin is not None and parent else (0.0,) * 3,
                                parent=parent if origin is not None else None, scale=scale))
            self._levels[scale] = scale
            parent = scale
        self._hierarchy = Hierarchy(levels) if levels else None
        return self._hierarchy

    def level(self, scale: str) -> str | None:
        self.hierarchy()
        return self._levels.get(scale)

    def inputs(self) -> list[Path]:
        """The dataset's folder and the folder of every file it lists elsewhere."""
        folders = {self.folder}
        for scale, section in self.spec.items():
            for key in ("one_cycle", "self_discharge", "population", "volume", "stack", "energies", "labels", "raw"):
                if section.get(key) and not (key == "energies" and isinstance(section[key], list)):
                    folders.update(p.resolve().parent for p in self._glob(section[key], scale, key))
        return sorted(folders)


def open_source(dataset: Any, *, from_raw: bool = False) -> Source:
    """``"twin"`` → :class:`TwinSource` (``from_raw``: its raw acquisitions for the particle
    and grain scales); a folder or YAML path → :class:`FolderSource` (which takes the route
    its ``batteryzoom.yaml`` gives: ``raw:`` or a volume); a :class:`Source` is returned as is."""
    if isinstance(dataset, Source):
        return dataset
    if isinstance(dataset, str) and dataset == "twin":
        return TwinSource(from_raw=from_raw)
    if isinstance(dataset, (str, os.PathLike)):
        return FolderSource(dataset)
    raise InputError(f"dataset={dataset!r}: pass 'twin' or the path of a folder holding {DATASET_FILE}")
