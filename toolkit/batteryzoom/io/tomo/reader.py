"""One entry point for raw tomography: :func:`read_acquisition` sniffs the format and reads.

The format is told by content, not by the file name: HDF5 files by their datasets
(``/exchange/data`` Data Exchange, ``img_tomo`` FXI, ``image_key`` NeXus), OLE2 documents
as Zeiss/Xradia, MATLAB files by their header, TIFFs and folders of TIFFs as projection
series, a folder or list of acquisition files as a multi-energy scan.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from ...errors import FileFormatError, InputError
from .._files import regular_file
from .._xradia import OLE_MAGIC
from ..volumes import TIFF_SUFFIXES
from ._common import open_h5

__all__ = ["read_acquisition", "detect_format", "FORMATS"]

# format name -> "module:function" in this package (imported on first use)
FORMATS = {
    "dxchange": "dxchange:read_dxchange",
    "xradia": "xradia:read_xradia",
    "tiff-series": "tiff_series:read_tiff_series",
    "nexus": "nexus:read_nexus",
    "fxi": "fxi:read_fxi",
    "matlab-sinogram": "matlab:read_matlab_sinogram",
    "multi-energy": "multi_energy:read_multi_energy",
}
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_MULTI_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs", ".txrm", ".xrm", ".mat")


def _hdf5_at(head: bytes) -> bool:
    # HDF5 may follow a user block of 512, 1024, 2048 ... bytes (MATLAB 7.3 writes 512)
    return any(head[o:o + 8] == _HDF5_MAGIC for o in (0, 512, 1024, 2048))


def detect_format(path: str | os.PathLike | Sequence[str | os.PathLike]) -> str:
    """The format of a raw acquisition, from its content (a key of :data:`FORMATS`).

    Parameters
    ----------
    path : path-like or sequence of path-like
        A file, a folder, or a list of per-energy files.

    Raises
    ------
    FileFormatError
        Missing, or a content none of the readers knows (the message says what was seen).

    Examples
    --------
    >>> import batteryzoom as bz
    >>> (path,) = bz.data.fetch("real/tomo/aps-tooth-dxchange")
    >>> detect_format(path)
    'dxchange'
    """
    if not isinstance(path, (str, os.PathLike)):
        return "multi-energy"
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "does not exist", "check the path")
    if path.is_dir():
        return _folder_format(path)
    regular_file(path, "acquisition file")  # a FIFO or device is refused before it is opened
    with open(path, "rb") as fh:
        head = fh.read(2056)
    if head.startswith(OLE_MAGIC):
        return "xradia"
    if head.startswith(b"MATLAB"):
        return "matlab-sinogram"
    if head[:4] in _TIFF_MAGICS:
        return "tiff-series"
    if _hdf5_at(head):
        return _hdf5_format(path)
    raise FileFormatError(path, f"unknown acquisition format (starts with {head[:16]!r})",
                          f"pass format= one of {sorted(FORMATS)}, or convert the file")


def _folder_format(folder: Path) -> str:
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    tiffs = [p for p in entries if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES]
    subfolder_tiffs = any(q.suffix.lower() in TIFF_SUFFIXES for d in entries if d.is_dir() for q in d.iterdir())
    if tiffs or subfolder_tiffs:
        return "tiff-series"
    if sum(p.is_file() and p.suffix.lower() in _MULTI_SUFFIXES for p in entries) >= 2:
        return "multi-energy"
    raise FileFormatError(folder, "holds neither projection TIFFs nor several acquisition files",
                          "pass the acquisition file itself, or format=")


def _hdf5_format(path: Path) -> str:
    import h5py

    with open(path, "rb") as fh:
        if fh.read(19).startswith(b"MATLAB 7.3 MAT-file"):
            return "matlab-sinogram"
    with open_h5(path) as fh:
        if "exchange" in fh and "data" in fh["exchange"]:
            return "dxchange"
        if "img_tomo" in fh:
            return "fxi"
        for key in fh:  # NeXus marks its groups with NX_class (dangling links skipped)
            if isinstance(fh.get(key, getlink=True), h5py.HardLink) and "NX_class" in fh[key].attrs:
                return "nexus"
        found: list[str] = []
        fh.visit(lambda name: found.append(name) if name.rsplit("/", 1)[-1] == "image_key" else None)
        if found:
            return "nexus"
        keys = sorted(fh.keys())[:12]
    raise FileFormatError(path, f"an HDF5 file of no known tomography layout (top level: {keys})",
                          "Data Exchange needs /exchange/data, FXI img_tomo, NeXus an image_key; or pass format=")


def read_acquisition(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str | None = None,
    angles=None,
    angle_unit: str | None = None,
    pixel_size_um: float | None = None,
    energy_ev=None,
    flats=None,
    darks=None,
    normalized: bool | None = None,
    lazy: bool | None = None,
    **options,
) -> xr.Dataset:
    """Read a raw tomography acquisition, whatever instrument wrote it.

    Parameters
    ----------
    path : path-like or sequence of path-like
        A file (``.h5``, ``.nxs``, ``.txrm``, ``.xrm``, ``.mat``, ``.tif``), a folder (a
        TIFF projection series, or one acquisition file per energy) or a list of
        per-energy files. Opened read-only; never modified.
    format : str, optional
        One of :data:`FORMATS` (``"dxchange"``, ``"xradia"``, ``"tiff-series"``,
        ``"nexus"``, ``"fxi"``, ``"matlab-sinogram"``, ``"multi-energy"``); default
        detected from the content (:func:`detect_format`).
    angles : array-like, optional
        One rotation angle per projection, replacing the file's.
    angle_unit : {"deg", "rad"}, optional
        The unit of the angles, when the file states none (they are then detected from
        their span, and ``attrs["angle_unit_source"]`` says how) or states it wrong.
    pixel_size_um : float, optional
        Detector pixel size at the sample (µm), overriding the file (1 nm–1 mm).
    energy_ev : float or sequence, optional
        Photon energy (eV), overriding the file (100 eV–1 MeV); one per energy for a
        multi-energy scan.
    flats, darks : optional
        Flat/dark frames the file lacks (a path or an array), for the formats that take
        them (Xradia, TIFF series, multi-energy); ``flats="absent"`` reads an Xradia file
        without any.
    normalized : bool, optional
        The projections already hold ``-ln(I/I0)`` (Xradia).
    lazy : bool, optional
        Dask-backed projections (read chunk by chunk); default: above 512 MiB, so a big
        acquisition is never loaded whole.
    **options
        Format-specific options (``angles_file=`` for TIFF series, ``data_path=`` for
        NeXus, ``value_scale=`` for MATLAB sinograms, ...; see each reader).

    Returns
    -------
    xarray.Dataset
        The acquisition (:mod:`batteryzoom.io.acquisition`): ``projections`` ``(angle,
        row, col)`` or ``(energy, angle, row, col)``, ``flats``, ``darks``, ``angle`` in
        degrees, frame orders, ``attrs`` with the pixel size (µm), energy (eV), the
        format, the source and how each fact was established.

    Raises
    ------
    FileFormatError
        An unknown or damaged file, or one whose content does not add up (the message
        names the file, the problem and the fix).
    InputError
        An option the format does not take, or an implausible override.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> (path,) = bz.data.fetch("real/tomo/aps-tooth-dxchange")
    >>> acq = bz.io.read_acquisition(path)
    >>> acq.attrs["format"], acq.projections.shape, acq.flats.shape, acq.darks.shape
    ('dxchange', (181, 2, 640), (10, 2, 640), (10, 2, 640))
    >>> acq.attrs["angle_unit_source"]
    '/exchange/theta in deg (the file says so)'
    """
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"format={fmt!r} is not one of {sorted(FORMATS)}")
    module, name = FORMATS[fmt].split(":")
    reader = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    given = {"angles": angles, "angle_unit": angle_unit, "pixel_size_um": pixel_size_um, "energy_ev": energy_ev,
             "flats": flats, "darks": darks, "normalized": normalized, "lazy": lazy, **options}
    given = {k: v for k, v in given.items() if v is not None}
    params = inspect.signature(reader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = sorted(k for k in given if k not in params)
    if unknown and not takes_any:
        accepted = sorted(k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)
        raise InputError(f"format {fmt!r} ({name}) takes no {', '.join(f'{k}=' for k in unknown)}; "
                         f"it takes {', '.join(accepted)}")
    return reader(path, **given)
