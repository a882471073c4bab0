"""Zeiss/Xradia OLE2 files: the header, the images and an embedded reference, read lazily.

The one reader of the container that :mod:`batteryzoom.io.txm` (single ``.xrm`` frames of
a XANES scan) and :mod:`batteryzoom.io.tomo.xradia` (``.txrm`` tomographies, ``.xrm`` with
a reference) share. An Xradia file is an OLE2 compound document (read with olefile) whose
streams hold little-endian arrays: ``ImageInfo/*`` (image size, data type, energy, angles,
pixel size, exposures, dates; one value per image in multi-image files),
``ImageData<k>/Image<n>`` (image ``n``, 100 images per ``ImageData`` storage) and, when a
reference (flat field) was taken with the image, ``ReferenceData/Image``.

:func:`read_header` reads the header only; :func:`read_images` reads a range of images;
:class:`XradiaImages` is an array-like view that dask can read chunk by chunk without
holding the file open (it is picklable, so it runs on a ``dask.distributed`` cluster).
Every failure of olefile (truncated or corrupt file) becomes a
:class:`~batteryzoom.errors.FileFormatError` naming the file, and so does a file whose
size is not a whole number of sectors (bytes inserted or lost: every sector after them
would be read shifted, as valid-looking pixels), or whose image size or data type is
implausible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FileFormatError
from ._files import library_errors, regular_file

__all__ = ["XRM_DTYPES", "OLE_MAGIC", "XradiaHeader", "XradiaImages", "read_header", "read_images",
           "read_reference", "image_stream"]

# Xradia ImageInfo/DataType codes -> numpy dtypes
XRM_DTYPES = {5: np.uint16, 10: np.float32, 3: np.uint8, 6: np.int16, 7: np.int32, 8: np.uint32}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Xradia writes fixed-width 40-byte date strings, one per image
_DATE_BYTES = 40
# an image side beyond this (pixels) is no detector's: a damaged size field
MAX_SIDE_PX = 65536


@dataclass
class XradiaHeader:
    """What an Xradia file records about its images (internal to :mod:`batteryzoom.io`).

    Per-image arrays hold the first ``n_images`` values of their stream (Xradia pads
    some streams, e.g. ``ImageInfo/Energy``, with zeros); a stream the file lacks is None.
    """

    path: Path
    width: int
    height: int
    dtype: np.dtype
    n_images: int
    energies_ev: np.ndarray | None
    angles_deg: np.ndarray | None
    pixel_size_um: float
    exposures_s: np.ndarray | None
    dates: list[str]
    reference: dict | None = None
    extra: dict = field(default_factory=dict)


def image_stream(n: int) -> str:
    """The stream of image ``n`` (1-based): 100 images per ``ImageData`` storage."""
    return f"ImageData{(n - 1) // 100 + 1}/Image{n}"


def _open(path: Path):
    import olefile

    regular_file(path, "Xradia .xrm/.txrm file")
    with open(path, "rb") as fh:
        head = fh.read(512)
    if not head.startswith(OLE_MAGIC) or len(head) < 512:
        raise FileFormatError(path, "not an OLE2 compound file, so not an Xradia .xrm/.txrm file",
                              "check the file (a truncated copy?) or pass a .txrm/.xrm file")
    shift = int.from_bytes(head[30:32], "little")
    sector = 1 << shift if 7 <= shift <= 16 else 0
    size = path.stat().st_size
    if sector == 0 or size % sector:
        raise FileFormatError(path, f"holds {size} bytes, not a whole number of {sector or '?'}-byte OLE2 sectors: "
                                    "bytes were lost or added", "the file is truncated or corrupt: copy it again")
    try:
        # olefile only logs "incorrect" defects by default (an entry referenced twice, a
        # chain cut short): a damaged directory would lose streams silently (a zeroed
        # sector dropped ImageInfo/Date); the 14 real .xrm/.txrm files of the mirror have none
        return olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT)
    except Exception as exc:  # olefile raises OSError and its own types for a damaged file
        raise FileFormatError(path, f"the OLE2 structure is damaged ({type(exc).__name__}: {exc})",
                              "the file is truncated or corrupt: copy it again from the instrument") from exc


def _stream(ole, path: Path, name: str, dtype, required: bool = True) -> np.ndarray | None:
    if not ole.exists(name):
        if required:
            raise FileFormatError(path, f"stream {name!r} is missing", "is this an Xradia .xrm/.txrm file?")
        return None
    try:
        raw = ole.openstream(name).read()
    except Exception as exc:
        raise FileFormatError(path, f"stream {name!r} cannot be read ({type(exc).__name__}: {exc})",
                              "the file is truncated or corrupt") from exc
    dt = np.dtype(dtype)
    return np.frombuffer(raw[: len(raw) // dt.itemsize * dt.itemsize], dtype=dt)


def _first_value(ole, path: Path, name: str) -> int:
    values = _stream(ole, path, name, "<i4")
    if values.size == 0:
        raise FileFormatError(path, f"stream {name!r} is empty", "the file is truncated or corrupt")
    return int(values[0])


def _first(values: np.ndarray | None, n: int) -> np.ndarray | None:
    if values is None or values.size == 0:
        return None
    return values[:n].astype(np.float64)


def read_header(path: str | os.PathLike) -> XradiaHeader:
    """The header of an Xradia ``.xrm``/``.txrm`` file (no pixel read).

    Raises
    ------
    FileFormatError
        Not an OLE2 file, damaged, a required stream missing, an unknown data type, or
        no image at all.
    """
    path = Path(path)
    with _open(path) as ole, library_errors(path, "reading its OLE2 header"):
        return _header(ole, path)


def _header(ole, path: Path) -> XradiaHeader:
    width = _first_value(ole, path, "ImageInfo/ImageWidth")
    height = _first_value(ole, path, "ImageInfo/ImageHeight")
    code = _first_value(ole, path, "ImageInfo/DataType")
    if not (0 < width <= MAX_SIDE_PX and 0 < height <= MAX_SIDE_PX):
        raise FileFormatError(path, f"records an image of {width} x {height} pixels", "the header is damaged")
    if code not in XRM_DTYPES:
        raise FileFormatError(path, f"unknown ImageInfo/DataType {code}", f"known codes: {sorted(XRM_DTYPES)}")
    n = 0
    while ole.exists(image_stream(n + 1)):
        n += 1
    if n == 0:
        raise FileFormatError(path, "no ImageData1/Image1 stream", "is this an Xradia .xrm/.txrm file?")
    exposures = _first(_stream(ole, path, "ImageInfo/ExpTimes", "<f4", required=False), n)
    if exposures is None or not np.isfinite(exposures[0]) or exposures[0] <= 0:
        exposures = _first(_stream(ole, path, "AcquisitionSettings/ExpTime", "<f4", required=False), n)
    pixel = _stream(ole, path, "ImageInfo/PixelSize", "<f4", required=False)
    dates: list[str] = []
    if ole.exists("ImageInfo/Date"):
        raw = ole.openstream("ImageInfo/Date").read()
        records = [raw[i:i + _DATE_BYTES] for i in range(0, len(raw), _DATE_BYTES)] or [raw]
        dates = [r.split(b"\0")[0].decode("ascii", "replace") for r in records[:n]]
    # set when the instrument already divided the images by a reference
    corrected = _stream(ole, path, "ImageInfo/OriginalDataRefCorrected", "<i4", required=False)
    reference = None
    if ole.exists("ReferenceData/Image"):
        ref_code = _stream(ole, path, "ReferenceData/DataType", "<i4", required=False)
        ref_exp = _stream(ole, path, "ReferenceData/ExpTime", "<f4", required=False)
        reference = {
            "dtype": np.dtype(XRM_DTYPES.get(int(ref_code[0]), XRM_DTYPES[code]))
            if ref_code is not None and ref_code.size else np.dtype(XRM_DTYPES[code]),
            "exposure_s": float(ref_exp[0]) if ref_exp is not None and ref_exp.size else float("nan"),
        }
    return XradiaHeader(
        path=path,
        width=width,
        height=height,
        dtype=np.dtype(XRM_DTYPES[code]),
        n_images=n,
        energies_ev=_first(_stream(ole, path, "ImageInfo/Energy", "<f4", required=False), n),
        angles_deg=_first(_stream(ole, path, "ImageInfo/Angles", "<f4", required=False), n),
        pixel_size_um=float(pixel[0]) if pixel is not None and pixel.size else float("nan"),
        exposures_s=exposures,
        dates=dates,
        reference=reference,
        extra={"ref_corrected": bool(corrected is not None and corrected.size and corrected[0]),
               # Xradia writes 0 for an uncalibrated pixel (and the energy): not recorded
               "pixel_size_missing": pixel is None or not pixel.size or pixel[0] == 0},
    )


def _image(ole, path: Path, name: str, dtype: np.dtype, height: int, width: int) -> np.ndarray:
    raw = _stream(ole, path, name, np.dtype(dtype).newbyteorder("<"))
    if raw.size != width * height:
        raise FileFormatError(path, f"{name.split('/')[-1]} holds {raw.size} values, expected {height}x{width}",
                              "the file is truncated or corrupt")
    return raw.reshape(height, width).astype(np.dtype(dtype).newbyteorder("="), copy=True)


def read_images(path: str | os.PathLike, header: XradiaHeader, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Images ``start`` to ``stop`` (0-based, stop excluded), ``(n, height, width)``, stored dtype."""
    path = Path(path)
    stop = header.n_images if stop is None else stop
    out = np.empty((max(stop - start, 0), header.height, header.width), header.dtype)
    with _open(path) as ole, library_errors(path, "reading its images"):
        for i, n in enumerate(range(start + 1, stop + 1)):
            out[i] = _image(ole, path, image_stream(n), header.dtype, header.height, header.width)
    return out


def read_reference(path: str | os.PathLike, header: XradiaHeader) -> np.ndarray | None:
    """The embedded reference (flat field) ``ReferenceData/Image``, ``(height, width)``, or None."""
    if header.reference is None:
        return None
    path = Path(path)
    with _open(path) as ole, library_errors(path, "reading its reference image"):
        return _image(ole, path, "ReferenceData/Image", header.reference["dtype"], header.height, header.width)


class XradiaImages:
    """Array-like ``(n_images, height, width)`` view of an Xradia file for ``dask.array.from_array``.

    Each read opens the file, reads the images it needs and closes it: nothing stays open
    between reads, and the object pickles (for a ``dask.distributed`` cluster).
    """

    def __init__(self, header: XradiaHeader):
        self.path = header.path
        self.header = header
        self.shape = (header.n_images, header.height, header.width)
        self.dtype = header.dtype
        self.ndim = 3

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first = key[0] if key else slice(None)
        if isinstance(first, (int, np.integer)):
            block = read_images(self.path, self.header, int(first) % self.shape[0], int(first) % self.shape[0] + 1)
            return block[(0,) + key[1:]]
        start, stop, step = first.indices(self.shape[0]) if isinstance(first, slice) else (0, self.shape[0], 1)
        if step != 1 or not isinstance(first, slice):
            return read_images(self.path, self.header)[key]
        return read_images(self.path, self.header, start, stop)[(slice(None),) + key[1:]]
