"""Volume readers: CT slices and stacks as labelled ``xarray.DataArray`` objects.

One entry point, :func:`read_volume`, for what cell and electrode CT arrives as:

- a **TIFF sequence**: a folder of ``.tif``/``.tiff`` files or a list of them, one slice per
  file, in natural order (``im2`` before ``im10``);
- a **multi-page TIFF** (one file, one slice per page) or a single 2D TIFF;
- **HDF5** (``dataset=`` the dataset path inside the file);
- **zarr** (a store folder; ``dataset=`` the array inside a group; OME-Zarr scales read);
- **NumPy** ``.npz`` (``dataset=`` the key) and ``.npy``;
- **raw** binary (given ``shape`` and ``dtype``, e.g. ``">u2"`` for big-endian uint16).

Every reader returns dims ``(z, y, x)`` (or ``(y, x)`` for one slice) with coordinates in
µm (index × voxel size) and attrs ``voxel_size_um`` (a list per dim, or ``None`` when the
size is unknown: coordinates are then pixel indices) and ``source``. The voxel size is the
one given, else the one the file records (TIFF ImageJ/OME/centimetre resolution, HDF5 or
zarr attributes). Big inputs come back dask-backed, read chunk by chunk; source files are
only ever opened read-only.

Bad input raises :class:`~batteryzoom.errors.FileFormatError` (or
:class:`~batteryzoom.errors.InputError` for bad arguments) naming the file, the problem and
the fix: a damaged file too, whatever its library raises (or, for tifffile, only logs: a
multi-page TIFF whose page chain breaks is refused, never returned as its first pages),
and a chunk of a lazily read HDF5 or zarr volume that fails when dask computes it (the
message names the chunk).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._progress import progress as _progress
from ..errors import FileFormatError, InputError
from ..frames import Frame, frame_of
from ._files import (GuardedArray, check_chunk_index, check_hdf5_size, check_tiff_pages, library_errors, regular_file,
                     tiff_checked)
from ._plausible import PIXEL_RANGE_UM

__all__ = ["read_volume", "natural_sort", "EAGER_LIMIT_BYTES", "UNIT_TO_UM"]

PathLike = str | os.PathLike
TIFF_SUFFIXES = (".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5", ".nxs", ".nx5")
RAW_SUFFIXES = (".raw", ".bin", ".dat", ".vol")
# Above this size a volume comes back dask-backed unless chunks=False: the design keeps big
# volumes out of memory, and 512 MiB is ~2 % of a workstation's RAM.
EAGER_LIMIT_BYTES = 512 * 2**20

# length units -> µm, for the unit strings instruments and ImageJ write
_UNIT_TO_UM = {
    "um": 1.0, "µm": 1.0, "μm": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0,
    "micrometre": 1.0, "\\u00b5m": 1.0, "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3,
    "mm": 1e3, "millimeter": 1e3, "millimetre": 1e3, "cm": 1e4, "centimeter": 1e4,
    "centimetre": 1e4, "m": 1e6, "meter": 1e6, "metre": 1e6, "a": 1e-4, "å": 1e-4,
    "angstrom": 1e-4,
}
UNIT_TO_UM = _UNIT_TO_UM  # public: io.tomo reads detector pixel sizes written in these units
# attribute names that hold a voxel size in µm (HDF5 / zarr), in order of preference;
# element_size_um is the ilastik / Fiji HDF5 convention
_UM_ATTRS = ("voxel_size_um", "element_size_um", "pixel_size_um", "voxel_um", "pixel_um")
# attribute names holding a size whose unit comes from a "unit(s)" attribute
_UNITLESS_ATTRS = ("voxel_size", "pixel_size", "spacing", "resolution")


def natural_sort(paths: Sequence[PathLike]) -> list[Path]:
    """Sort paths so that numbers compare as numbers (``im2`` before ``im10``)."""

    def key(p: Path):
        return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]

    return sorted((Path(p) for p in paths), key=key)


def read_volume(
    source: PathLike | Sequence[PathLike],
    voxel_size_um: float | Sequence[float] | None = None,
    *,
    shape: Sequence[int] | None = None,
    dtype: Any = None,
    dataset: str | None = None,
    chunks: Any = None,
    progress: bool | None = None,
    offset: int = 0,
) -> xr.DataArray:
    """Read a CT slice or volume as a labelled array with coordinates in µm.

    Parameters
    ----------
    source : path or sequence of paths
        A TIFF file, a folder of TIFF slices, a list of TIFF slice files, an HDF5 file,
        a zarr store, an ``.npz``/``.npy`` file, or a raw binary file (with ``shape`` and
        ``dtype``). Opened read-only; never modified.
    voxel_size_um : float or sequence of float, optional
        Voxel size in µm, one number (isotropic) or one per dimension (``(z, y, x)`` or
        ``(y, x)``). Overrides what the file records. When neither gives it,
        ``attrs["voxel_size_um"]`` is ``None`` and the coordinates are pixel indices.
    shape : sequence of int, optional
        Shape of a raw file (``(z, y, x)`` or ``(y, x)``), required for raw input.
    dtype : numpy dtype or str, optional
        Data type of a raw file (e.g. ``"uint16"``, ``">f4"``), required for raw input.
    dataset : str, optional
        Which array: the dataset path in an HDF5 file (``"/exchange/data"``), the array
        inside a zarr group, or the key of an ``.npz`` file. Optional when there is only
        one candidate.
    chunks : int, tuple, "auto", False or None
        ``None`` (default): in memory up to :data:`EAGER_LIMIT_BYTES`, dask-backed above.
        ``False``: always in memory. Anything else: dask-backed with these chunks (dask's
        chunk syntax, e.g. ``(16, -1, -1)``).
    progress : bool, optional
        Show a progress bar while reading a TIFF sequence (default: follows
        ``BATTERYZOOM_PROGRESS``).
    offset : int
        Header bytes to skip at the start of a raw file.

    Returns
    -------
    xarray.DataArray
        Dims ``("z", "y", "x")`` for a volume or ``("y", "x")`` for one slice; the file's
        own dtype (uint8, uint16, float32, ...). Coordinates: index × voxel size in µm
        (attr ``units="µm"``), or pixel indices (``units="pixel"``) when the voxel size is
        unknown. Attrs: ``voxel_size_um`` (list of float per dim, or ``None``),
        ``voxel_size_from`` (``"argument"``, the metadata it came from, or ``None``),
        ``source`` (the path read), ``format``.

    Raises
    ------
    FileFormatError
        The file is missing, unreadable, empty, of an unknown format, not 2D/3D, or a TIFF
        sequence has a missing or differently sized slice (the message names it).
    InputError
        An argument is malformed (voxel size, shape, dtype, dataset name).

    Examples
    --------
    A folder of TIFF slices, an HDF5 dataset with its voxel size in an attribute, and a raw
    file (tiny files written for the example):

    >>> import pathlib, shutil, tempfile
    >>> import h5py, numpy as np, tifffile
    >>> from batteryzoom.io import read_volume
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> vol = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)
    >>> (tmp / "scan").mkdir()
    >>> for k, plane in enumerate(vol):
    ...     tifffile.imwrite(tmp / "scan" / f"slice{k:03d}.tif", plane)
    >>> ct = read_volume(tmp / "scan", voxel_size_um=6.5)
    >>> ct.dims, ct.shape, ct.attrs["voxel_size_um"], float(ct["x"][-1])
    (('z', 'y', 'x'), (4, 5, 6), [6.5, 6.5, 6.5], 32.5)
    >>> with h5py.File(tmp / "tomo.h5", "w") as fh:
    ...     fh["exchange/data"] = vol
    ...     fh["exchange/data"].attrs["voxel_size_um"] = [2.0, 1.0, 1.0]
    >>> read_volume(tmp / "tomo.h5", dataset="/exchange/data").attrs["voxel_size_um"]
    [2.0, 1.0, 1.0]
    >>> vol.astype("<u2").tofile(tmp / "vol.raw")
    >>> raw = read_volume(tmp / "vol.raw", shape=(4, 5, 6), dtype="<u2")
    >>> bool((raw.values == vol).all()), raw.attrs["voxel_size_um"], raw["x"].attrs["units"]
    (True, None, 'pixel')
    >>> shutil.rmtree(tmp)
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileFormatError(path, "does not exist", "check the path (a file, a folder of TIFF slices or a zarr store)")
        if path.is_dir():
            if _is_zarr(path):
                data, meta = _read_zarr(path, dataset)
            else:
                files = _folder_slices(path)
                data, meta = _read_tiff_sequence(files, chunks, progress, check_gaps=True)
        else:
            regular_file(path, "volume file")
            suffix = path.suffix.lower()
            if shape is not None or dtype is not None or suffix in RAW_SUFFIXES:
                data, meta = _read_raw(path, shape, dtype, offset)
            elif suffix in TIFF_SUFFIXES:
                data, meta = _read_tiff(path, chunks)
            elif suffix in HDF5_SUFFIXES:
                data, meta = _read_hdf5(path, dataset)
            elif suffix == ".npz":
                data, meta = _read_npz(path, dataset)
            elif suffix == ".npy":
                with library_errors(path, "reading it as .npy"):
                    data, meta = np.load(path, mmap_mode="r", allow_pickle=False), {"format": "npy"}
            elif suffix == ".zarr" or suffix == ".zip":
                data, meta = _read_zarr(path, dataset)
            else:
                raise FileFormatError(
                    path, f"unknown volume format {suffix!r}",
                    "give a TIFF, HDF5 (.h5), zarr, .npz/.npy file, a folder of TIFF slices, "
                    "or a raw file with shape= and dtype=",
                )
        source_str = str(path)
    elif isinstance(source, Sequence) and not isinstance(source, (bytes, bytearray)):
        files = [Path(p) for p in source]
        if not files:
            raise InputError("source=[]: the list of slice files is empty; give at least one TIFF file")
        for f in files:
            if not f.is_file():
                raise FileFormatError(f, "slice file of the sequence does not exist", "restore it or drop it from the list")
        data, meta = _read_tiff_sequence(files, chunks, progress, check_gaps=False)
        source_str = str(files[0].parent)
    else:
        raise InputError(
            f"source={source!r}: expected a path or a list of paths, got {type(source).__name__}"
        )
    return _to_dataarray(data, meta, voxel_size_um, chunks, source_str)


# --------------------------------------------------------------------------- assembly


def _to_dataarray(data, meta: dict, voxel_size_um, chunks, source: str) -> xr.DataArray:
    import dask.array as da

    ndim = data.ndim
    if ndim == 3 and data.shape[0] == 1:
        data = data[0]
        ndim = 2
        if meta.get("voxel_size_um") is not None and len(meta["voxel_size_um"]) == 3:
            meta["voxel_size_um"] = meta["voxel_size_um"][1:]
    if ndim not in (2, 3):
        extra = " (the last axis looks like colour channels: convert to grey first)" if data.shape[-1] in (3, 4) else ""
        raise FileFormatError(
            source, f"holds a {ndim}D array of shape {tuple(data.shape)}, not a 2D slice or 3D volume{extra}",
            "select a 2D/3D dataset (dataset=) or slice the array before analysis",
        )
    if 0 in data.shape:
        raise FileFormatError(source, f"is empty (shape {tuple(data.shape)})", "check that the export finished")
    dims = ("z", "y", "x")[-ndim:]

    size, size_from = _resolve_voxel_size(voxel_size_um, meta, data.shape, source)

    nbytes = int(np.prod(data.shape, dtype=np.int64)) * np.dtype(data.dtype).itemsize
    is_dask = isinstance(data, da.Array)
    if chunks is False or (chunks is None and nbytes <= EAGER_LIMIT_BYTES):
        # np.array copies a memory map (raw, .npy) into memory, so no file stays mapped
        try:
            with library_errors(source, "reading its values"):
                arr = data.compute() if is_dask else np.array(data)
        finally:
            if meta.get("close") is not None:
                meta["close"]()
    else:
        want = chunks if chunks is not None else ((1,) + (-1,) * (ndim - 1) if ndim == 3 else "auto")
        if is_dask:
            arr = data if chunks is None else data.rechunk(want)
        else:
            arr = da.from_array(data, chunks=want)

    # the frame written into the result: coordinates index x size in µm, or pixel indices
    # (and voxel_size_um None) when the size is unknown, as bz.frames reads them back
    frame = Frame(voxel_size_um=tuple(size) if size is not None else (1.0,) * ndim, origin_um=(0.0,) * ndim,
                  dims=dims, unit="um" if size is not None else "px")
    unit = "µm" if frame.known else "pixel"
    coords = {dim: xr.Variable(dim, c, attrs={"units": unit}) for dim, c in frame.coords(arr.shape).items()}
    attrs = {
        **frame.attrs(),
        "voxel_size_from": size_from,
        "source": source,
        "format": meta.get("format", ""),
    }
    if meta.get("dataset"):
        attrs["dataset"] = meta["dataset"]
    return xr.DataArray(arr, dims=dims, coords=coords, attrs=attrs, name=meta.get("name") or "volume")


def _resolve_voxel_size(given, meta: dict, shape: tuple[int, ...], source: str) -> tuple[list[float] | None, str | None]:
    """The voxel size (µm per dim, or None when unknown) and where it came from: the
    argument (checked by :func:`batteryzoom.frames.frame_of`), else the file's metadata."""
    ndim = len(shape)
    if given is not None:
        if isinstance(given, str):  # frame_of's "px" means pixels on purpose: not a size to record
            raise InputError(f"voxel_size_um={given!r}: give the voxel size of {source} in µm, one "
                             f"number or one per dimension ({ndim} for this {ndim}D data)")
        if np.ndim(given) == 1 and np.size(given) == 3 and ndim == 2:
            given = list(given)[1:]  # (z, y, x) given for a single slice: keep (y, x)
        return list(frame_of(tuple(shape), voxel_size_um=given, ndim=ndim).voxel_size_um), "argument"
    found = meta.get("voxel_size_um")
    if found is None:
        return None, None
    values = [float(v) for v in found]
    if len(values) == 1:  # one isotropic size
        values = values * ndim
    elif len(values) == 3 and ndim == 2:
        values = values[1:]
    elif len(values) == 2 and ndim == 3:
        # the file records the in-plane pixel only: assume cubic voxels (state it in attrs)
        values = [values[0]] + values
        meta["voxel_size_from"] = f"{meta.get('voxel_size_from')} (z assumed = in-plane)"
    if len(values) != ndim:
        raise FileFormatError(source, f"{meta.get('voxel_size_from')} records {len(values)} voxel sizes {values} for "
                                      f"{ndim}D data", "pass voxel_size_um= with one size per dimension")
    lo, hi = PIXEL_RANGE_UM
    if not all(np.isfinite(v) and lo <= v <= hi for v in values):
        raise FileFormatError(source, f"{meta.get('voxel_size_from')} records a voxel size of {values} µm, outside the "
                                      f"plausible {lo:g}–{hi:g} µm (a damaged or mis-united value)",
                              "pass voxel_size_um= with the right size")
    return values, meta.get("voxel_size_from")


# --------------------------------------------------------------------------- TIFF


def _folder_slices(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES and not p.name.startswith(".")]
    if not files:
        others = sorted({p.suffix.lower() for p in folder.iterdir() if p.is_file()})
        raise FileFormatError(
            folder, f"holds no .tif/.tiff slices (found suffixes {others or 'none'})",
            "point at a folder of TIFF slices, a zarr store, or a volume file",
        )
    return natural_sort(files)


def _check_numbering(files: list[Path]) -> None:
    """Raise when the slice numbers of a sequence skip one (a missing file)."""
    pattern = re.compile(r"^(.*?)(\d+)(\D*)$")
    parts = [pattern.match(f.stem) for f in files]
    if len(files) < 3 or not all(parts):
        return
    prefixes = {(m.group(1), m.group(3), f.suffix) for m, f in zip(parts, files)}
    if len(prefixes) != 1:
        return
    numbers = np.array([int(m.group(2)) for m in parts])
    steps = np.diff(numbers)
    if np.any(steps <= 0):
        return
    step = int(np.median(steps))
    bad = np.flatnonzero(steps != step)
    if bad.size == 0:
        return
    i = int(bad[0])
    width = len(parts[i].group(2))
    prefix, tail, suffix = next(iter(prefixes))
    missing = [f"{prefix}{n:0{width}d}{tail}{suffix}" for n in range(numbers[i] + step, numbers[i + 1], step)]
    what = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "") if missing else f"numbers {numbers[i]} -> {numbers[i + 1]}"
    raise FileFormatError(
        files[0].parent,
        f"the TIFF sequence skips {what} (after {files[i].name}, before {files[i + 1].name}; "
        f"{len(files)} files, step {step})",
        "restore the missing slice, or pass the list of files to read explicitly",
    )


def _read_tiff_sequence(files: list[Path], chunks, progress, check_gaps: bool):
    import tifffile

    if check_gaps:
        _check_numbering(files)
    # Headers first (cheap): every slice must be one 2D page of the same shape and dtype,
    # so a bad file is named before any pixel is read.
    first_shape = first_dtype = None
    for f in files:
        with tiff_checked(regular_file(f, "TIFF slice"), "reading its TIFF header"):
            with tifffile.TiffFile(f) as tif:
                check_tiff_pages(tif, f)
                series = tif.series[0]
                shp, dt = tuple(series.shape), np.dtype(series.dtype)
        shp = tuple(s for s in shp if s != 1) or shp
        if first_shape is None:
            first_shape, first_dtype = shp, dt
            if len(shp) != 2:
                raise FileFormatError(f, f"holds an array of shape {shp}; a sequence needs one 2D slice per file",
                                      "read multi-page files one by one with read_volume(file)")
        elif shp != first_shape or dt != first_dtype:
            raise FileFormatError(
                f, f"is {shp} {dt}, unlike the other slices ({first_shape} {first_dtype}, from {files[0].name})",
                "re-export it at the same size and type, or leave it out of the list",
            )
    # a slice file records (y, x) only, unless ImageJ wrote a z spacing
    meta = {"format": "tiff-sequence", **_tiff_voxel_size(files[0])}
    shape = (len(files),) + first_shape

    def _one(f):
        with tiff_checked(f, "reading its pixels"):  # a header that reads but pixels cut short
            image = tifffile.imread(f)
        if image.size != int(np.prod(first_shape)) or image.dtype != first_dtype:
            raise FileFormatError(f, f"holds {image.dtype} {image.shape}, unlike its header and the other slices "
                                     f"({first_dtype} {first_shape})", "the file is damaged: copy it again")
        return image.reshape(first_shape)

    nbytes = int(np.prod(shape, dtype=np.int64)) * first_dtype.itemsize
    if chunks is False or (chunks is None and nbytes <= EAGER_LIMIT_BYTES):
        out = np.empty(shape, dtype=first_dtype)
        for i, f in enumerate(_progress(files, "reading TIFF sequence", total=len(files), enabled=progress, unit="slice")):
            out[i] = _one(f)
        return out, meta
    import dask
    import dask.array as da

    lazy = [da.from_delayed(dask.delayed(_one)(f), first_shape, dtype=first_dtype) for f in files]
    return da.stack(lazy), meta


def _read_tiff(path: Path, chunks):
    import tifffile

    with tiff_checked(path, "reading its TIFF header"), tifffile.TiffFile(path) as tif:
        check_tiff_pages(tif, path)
        series = tif.series[0]
        shp = tuple(series.shape)
        dt = np.dtype(series.dtype)
        if "S" in series.axes:  # samples per pixel: RGB(A), not a grey CT slice
            raise FileFormatError(
                path, f"is a colour image (axes {series.axes}, shape {shp})",
                "export the CT slices as single-channel (grey) TIFF",
            )
        meta = {"format": "tiff", **_tiff_voxel_size(path, tif)}
        pages = len(tif.pages)
    squeezed = tuple(s for s in shp if s != 1) or shp[-2:]
    nbytes = int(np.prod(shp, dtype=np.int64)) * dt.itemsize
    if chunks is False or (chunks is None and nbytes <= EAGER_LIMIT_BYTES):
        with tiff_checked(path, "reading its pixels"):
            data = tifffile.imread(path)
        if data.size != int(np.prod(squeezed)):
            raise FileFormatError(path, f"its {pages} pages hold {data.shape}, not the {squeezed} its header states",
                                  "the file is truncated or damaged: copy it again")
        return data.reshape(squeezed), meta
    import dask.array as da
    import zarr

    with tiff_checked(path, "opening its pixels lazily"):
        store = zarr.open(tifffile.imread(path, aszarr=True), mode="r")
    data = da.from_array(GuardedArray(store, path, "TIFF pages"), chunks=store.chunks, name=False).reshape(squeezed)
    return data, meta


def _tiff_voxel_size(path: Path, tif=None) -> dict:
    """Voxel size recorded in a TIFF: ImageJ (unit + spacing), OME, or cm resolution."""
    import tifffile

    own = tif is None
    if own:
        with tiff_checked(path, "reading its TIFF header"):
            tif = tifffile.TiffFile(path)
    try:
        page = tif.pages[0]
        # OME-TIFF: PhysicalSize{X,Y,Z} with their units
        if tif.is_ome and tif.ome_metadata:
            size = _ome_size(tif.ome_metadata)
            if size is not None:
                return {"voxel_size_um": size, "voxel_size_from": "OME-TIFF PhysicalSize"}
        xres = yres = None
        try:
            xres, yres = page.get_resolution()
        except Exception:  # no resolution tags
            pass
        ij = tif.imagej_metadata if tif.is_imagej else None
        if ij:
            unit = str(ij.get("unit", "")).strip().lower()
            factor = _UNIT_TO_UM.get(unit)
            if factor is not None and xres and yres and xres > 0 and yres > 0:
                xy = [factor / float(yres), factor / float(xres)]
                size = ([factor * float(ij["spacing"])] if "spacing" in ij else []) + xy
                return {"voxel_size_um": size, "voxel_size_from": f"ImageJ metadata (unit {unit})"}
            return {}
        # Plain TIFF: only a centimetre resolution unit is a physical pixel size; an inch
        # unit is a print resolution (72/96/300 dpi written by default) and a unitless one
        # says nothing.
        unit = int(getattr(page, "resolutionunit", 1))
        if unit == 3 and xres and yres and xres > 0 and yres > 0:
            return {"voxel_size_um": [1e4 / float(yres), 1e4 / float(xres)], "voxel_size_from": "TIFF resolution (cm)"}
        return {}
    finally:
        if own:
            tif.close()


def _ome_size(xml: str) -> list[float] | None:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag.endswith("Pixels"):
            out = []
            for ax in ("Z", "Y", "X"):
                v = el.get(f"PhysicalSize{ax}")
                if v is None:
                    if ax == "Z":
                        continue
                    return None
                unit = el.get(f"PhysicalSize{ax}Unit", "µm").strip().lower()
                factor = _UNIT_TO_UM.get(unit)
                if factor is None:
                    return None
                out.append(float(v) * factor)
            return out
    return None


# --------------------------------------------------------------------------- HDF5, zarr, npz, raw


def _attrs_voxel_size(attrs_list: list[tuple[str, Any]]) -> dict:
    """Voxel size from HDF5/zarr attributes (first hit wins: the dataset, then its parents)."""
    for where, attrs in attrs_list:
        for key in _UM_ATTRS:
            if key in attrs:
                value = np.atleast_1d(np.asarray(attrs[key], dtype=np.float64)).tolist()
                return {"voxel_size_um": value, "voxel_size_from": f"attribute {where}{key}"}
        for key in _UNITLESS_ATTRS:
            if key in attrs:
                unit = attrs.get(f"{key}_unit", attrs.get("units", attrs.get("unit")))
                if isinstance(unit, bytes):
                    unit = unit.decode()
                factor = _UNIT_TO_UM.get(str(unit).strip().lower()) if unit is not None else None
                if factor is None:
                    continue  # a size without a unit is not trusted
                value = (np.atleast_1d(np.asarray(attrs[key], dtype=np.float64)) * factor).tolist()
                return {"voxel_size_um": value, "voxel_size_from": f"attribute {where}{key} ({unit})"}
    return {}


def _read_hdf5(path: Path, dataset: str | None):
    import h5py

    check_hdf5_size(path)
    with library_errors(path, "opening it as HDF5"):
        fh = h5py.File(path, "r")
    try:
        with library_errors(path, "reading its HDF5 structure"):
            return _hdf5_dataset(fh, path, dataset)
    except BaseException:
        fh.close()
        raise


def _hdf5_dataset(fh, path: Path, dataset: str | None):
    import h5py

    candidates: list[str] = []
    fh.visititems(lambda name, obj: candidates.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 else None)
    if dataset is None:
        if len(candidates) != 1:
            raise InputError(
                f"{path}: holds {len(candidates)} image datasets {candidates[:10]}; "
                "choose one with dataset='/path/in/file'"
            )
        dataset = candidates[0]
    key = dataset.lstrip("/")
    if key not in fh or not isinstance(fh[key], h5py.Dataset):
        raise InputError(f"{path}: no dataset {dataset!r}; image datasets there: {candidates[:10]}")
    ds = fh[key]
    chain = [(f"{ds.name}@", ds.attrs)]
    parent = ds.parent
    while True:
        chain.append((f"{parent.name}@", parent.attrs))
        if parent.name == "/":
            break
        parent = parent.parent
    meta = {"format": "hdf5", "dataset": ds.name, "close": fh.close, **_attrs_voxel_size(chain)}
    meta["voxel_size_um"] = meta.get("voxel_size_um")
    import dask.array as da

    # dask reads from the open dataset chunk by chunk (each read guarded: a damaged chunk
    # is a FileFormatError naming it); _to_dataarray closes the file when the result is
    # held in memory instead
    if ds.dtype.kind not in "biuf":
        raise FileFormatError(path, f"dataset {ds.name} holds {ds.dtype}, not numbers", "choose an image dataset")
    check_chunk_index(ds, path)
    return da.from_array(GuardedArray(ds, path, f"dataset {ds.name}"), chunks=ds.chunks or "auto", name=False), meta


def _is_zarr(path: Path) -> bool:
    return any((path / name).exists() for name in ("zarr.json", ".zarray", ".zgroup", ".zattrs"))


def _read_zarr(path: Path, dataset: str | None):
    import dask.array as da
    import zarr

    with library_errors(path, "opening it as a zarr store", "check the path, or copy the store again"):
        node = zarr.open(str(path), mode="r")
        return _zarr_node(node, path, dataset)


def _zarr_node(node, path: Path, dataset: str | None):
    import dask.array as da
    import zarr

    chain = []
    if isinstance(node, zarr.Group):
        group = node
        if dataset is None:
            dataset = _zarr_default_array(group, path)
        try:
            node = group[dataset.strip("/")]
        except KeyError:
            raise InputError(f"{path}: no array {dataset!r}; arrays there: {_zarr_arrays(group)[:10]}") from None
        chain.append((f"{dataset}@", dict(node.attrs)))
        chain.append(("/@", dict(group.attrs)))
        meta = {"format": "zarr", "dataset": dataset, **_attrs_voxel_size(chain)}
        if "voxel_size_um" not in meta:
            meta.update(_ome_zarr_size(dict(group.attrs), dataset))
    else:
        meta = {"format": "zarr", **_attrs_voxel_size([("@", dict(node.attrs))])}
    if not isinstance(node, zarr.Array):
        raise InputError(f"{path}: {dataset!r} is a group, not an array; arrays there: {_zarr_arrays(node)[:10]}")
    meta["name"] = node.basename if hasattr(node, "basename") else None
    return da.from_array(GuardedArray(node, path, f"array {dataset or node.path or '/'}"), chunks=node.chunks,
                         name=False), meta


def _zarr_arrays(group) -> list[str]:
    out = []
    for name, item in group.members(max_depth=None):
        if hasattr(item, "shape") and len(item.shape) >= 2:
            out.append(name)
    return sorted(out)


def _zarr_default_array(group, path: Path) -> str:
    attrs = dict(group.attrs)
    ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if ms:
        return ms[0]["datasets"][0]["path"]  # OME-Zarr: the full-resolution level
    arrays = [a for a in _zarr_arrays(group) if a.split("/")[-1] not in ("z", "y", "x")]
    if len(arrays) != 1:
        raise InputError(f"{path}: holds {len(arrays)} arrays {arrays[:10]}; choose one with dataset='name'")
    return arrays[0]


def _ome_zarr_size(attrs: dict, dataset: str) -> dict:
    ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if not ms:
        return {}
    axes = ms[0].get("axes", [])
    for d in ms[0].get("datasets", []):
        if d.get("path") != dataset:
            continue
        for t in d.get("coordinateTransformations", []):
            if t.get("type") == "scale":
                scale = t["scale"]
                out = []
                for ax, s in zip(axes, scale):
                    if isinstance(ax, dict) and ax.get("type") == "space":
                        factor = _UNIT_TO_UM.get(str(ax.get("unit", "")).lower())
                        if factor is None:
                            return {}
                        out.append(float(s) * factor)
                if out:
                    return {"voxel_size_um": out[-3:], "voxel_size_from": "OME-Zarr scale"}
    return {}


def _read_npz(path: Path, dataset: str | None):
    with library_errors(path, "reading it as a .npz archive"):
        archive = np.load(path, allow_pickle=False)
        return _npz_member(archive, path, dataset)


def _npz_member(archive, path: Path, dataset: str | None):
    with archive:
        keys = [k for k in archive.files if k != "voxel_size_um"]
        if dataset is None:
            if len(keys) != 1:
                raise InputError(f"{path}: holds arrays {keys}; choose one with dataset='key'")
            dataset = keys[0]
        if dataset not in archive.files:
            raise InputError(f"{path}: no array {dataset!r}; keys: {keys}")
        data = archive[dataset]
        _check_npz_member_size(archive, path, dataset, data)
        meta: dict = {"format": "npz", "dataset": dataset, "name": dataset}
        if "voxel_size_um" in archive.files:
            meta["voxel_size_um"] = np.atleast_1d(archive["voxel_size_um"]).astype(float).tolist()
            meta["voxel_size_from"] = "npz key voxel_size_um"
    return data, meta


def _check_npz_member_size(archive, path: Path, dataset: str, data: np.ndarray) -> None:
    """Refuse a member longer or shorter than its header says: numpy reads the declared
    count and ignores the rest, so bytes inserted or lost inside an ``.npy`` (whose zip
    checksum was rewritten) would shift every value silently."""
    try:
        info = archive.zip.getinfo(f"{dataset}.npy")
        with archive.zip.open(info) as fh:
            head = fh.read(12)
    except (KeyError, OSError, ValueError):
        return  # not a plain .npy member: numpy's own checks stand
    if len(head) < 10 or head[:6] != b"\x93NUMPY":
        return
    major = head[6]
    header = 10 + int.from_bytes(head[8:10], "little") if major == 1 else 12 + int.from_bytes(head[8:12], "little")
    if info.file_size != header + data.nbytes:
        raise FileFormatError(path, f"array {dataset!r} holds {info.file_size - header:,} bytes of data where its "
                                    f"header declares {data.nbytes:,} ({data.shape}, {data.dtype}): the archive is "
                                    "damaged", "re-export the .npz from the original data")


def _read_raw(path: Path, shape, dtype, offset: int):
    if shape is None or dtype is None:
        raise InputError(
            f"{path}: a raw file needs shape= and dtype= (e.g. shape=(100, 512, 512), dtype='<u2')"
        )
    try:
        dt = np.dtype(dtype)
        shp = tuple(int(s) for s in shape)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: bad shape={shape!r} or dtype={dtype!r} ({exc})") from exc
    if any(s <= 0 for s in shp):
        raise InputError(f"{path}: shape={shp} must be positive")
    expected = int(np.prod(shp, dtype=np.int64)) * dt.itemsize + int(offset)
    actual = path.stat().st_size
    if actual != expected:
        raise FileFormatError(
            path, f"holds {actual} bytes but shape {shp} of {dt} (+{offset} header bytes) needs {expected}",
            "check shape, dtype and offset",
        )
    return np.memmap(path, dtype=dt, mode="r", offset=int(offset), shape=shp), {"format": "raw"}
