"""Opening source files safely: regular files only, bounded reads, library errors named.

Every reader of :mod:`batteryzoom.io` opens its input through these helpers, so that

- a FIFO, a device (``/dev/zero``), a socket or a folder given as a file is refused before
  it is opened (opening a FIFO for reading blocks until a writer comes; reading
  ``/dev/zero`` never ends);
- a read never takes more than a stated number of bytes (a text "spectrum" of 3 GB, a
  gzip bomb), and says so when the file is bigger;
- what the libraries raise on damaged bytes (h5py, tifffile, olefile, zarr, numcodecs,
  zipfile, scipy.io, zlib: :func:`library_errors`), and what tifffile only *logs*
  (:func:`tiff_checked`), or a page chain that ends early (:func:`check_tiff_pages`) becomes a :class:`~batteryzoom.errors.FileFormatError` naming
  the file, what is wrong, and what to do; so does a chunk of a lazily read store that
  fails when dask computes it (:class:`GuardedArray`);
- an HDF5 file longer or shorter than its superblock says is refused (:func:`check_hdf5_size`),
  and so is a chunked dataset whose chunk index is damaged (:func:`check_chunk_index`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import zlib
from pathlib import Path

import numpy as np

from ..errors import BatteryZoomError, FileFormatError

# A text file read whole (a spectrum, an angles list, an energy list) is far below this;
# a bigger one is not what the caller meant.
TEXT_LIMIT_BYTES = 256 * 2**20
_KIND = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def regular_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a Path, checked to be an existing regular file (symlinks followed),
    without opening it."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileFormatError(path, "does not exist", f"check the path of the {what}") from None
    except OSError as exc:
        raise FileFormatError(path, f"cannot be examined ({exc.strerror or exc})", "check the path and permissions") from exc
    if not stat.S_ISREG(mode):
        kind = _KIND.get(stat.S_IFMT(mode), "not a regular file")
        raise FileFormatError(path, f"is {kind}, not a regular file", f"pass the {what} itself")
    return path


def read_bytes(path: str | os.PathLike, limit: int = TEXT_LIMIT_BYTES, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (a bigger one is refused)."""
    path = regular_file(path, what)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise FileFormatError(path, f"cannot be read ({exc.strerror or exc})", "check the file and its permissions") from exc
    if len(data) > limit:
        raise FileFormatError(path, f"is larger than {limit / 2**20:.0f} MiB, far beyond a {what}",
                              f"is this the {what}? split it or read it with a reader meant for big files")
    return data


def gunzip(data: bytes, path: str | os.PathLike, limit: int = TEXT_LIMIT_BYTES) -> bytes:
    """Decompress a gzip stream (every member; CRC and length checked) to at most ``limit`` bytes."""
    out = bytearray()
    rest = data
    while rest:
        if rest[:2] != b"\x1f\x8b":
            if out and not rest.strip(b"\x00"):
                break  # zero padding after the last member, as gzip itself tolerates
            raise FileFormatError(path, "is not (or no longer) a gzip stream at byte "
                                        f"{len(data) - len(rest)}", "the file is truncated or corrupt: copy it again")
        d = zlib.decompressobj(wbits=31)
        try:
            chunk = d.decompress(rest, limit + 1 - len(out))
        except Exception as exc:  # noqa: BLE001 - zlib.error, or isal's IsalError once fastnda has patched zlib
            raise FileFormatError(path, f"its gzip data is corrupt ({exc})",
                                  "the file is truncated or damaged: copy it again") from exc
        out += chunk
        if len(out) > limit:
            raise FileFormatError(path, f"decompresses to more than {limit / 2**20:.0f} MiB",
                                  "is this the right file? (a damaged or hostile archive)")
        if not d.eof:
            raise FileFormatError(path, "its gzip stream ends early (truncated)", "copy the file again")
        rest = d.unused_data
    return bytes(out)


def decode(data: bytes, path: str | os.PathLike) -> str:
    """Text from bytes: UTF-8 (a leading BOM dropped), else Latin-1 (every byte is a
    character, so header text in a legacy code page still reads); NUL bytes are refused,
    since no text format puts them in a line."""
    if b"\x00" in data:
        at = data.index(b"\x00")
        line = data.count(b"\n", 0, at) + 1
        raise FileFormatError(path, f"holds NUL bytes (first at byte {at}, line {line}): not a text file, or damaged",
                              "copy the file again, or remove the damaged bytes")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# --------------------------------------------------------------------------- library calls


@contextlib.contextmanager
def library_errors(path: str | os.PathLike, what: str, fix: str = "the file is truncated or corrupt: copy it again"):
    """``with library_errors(path, "reading its images"):`` turns whatever a file library
    raises inside the block (h5py's KeyError and RuntimeError, tifffile's ValueError,
    zarr's and numcodecs' codec errors, zipfile's BadZipFile, MemoryError from a damaged
    size field, ...) into a FileFormatError naming ``path``; BatteryZoomErrors pass."""
    try:
        yield
    except BatteryZoomError:
        raise
    except MemoryError as exc:
        raise FileFormatError(path, f"{what}: the sizes it records need more memory than there is (damaged?)",
                              fix) from exc
    except RecursionError as exc:
        raise FileFormatError(path, f"{what}: its structure loops on itself (damaged)", fix) from exc
    except Exception as exc:  # noqa: BLE001 - every library error of a damaged file becomes ours
        raise FileFormatError(path, f"{what} failed ({type(exc).__name__}: {str(exc)[:200]})", fix) from exc


class _TiffLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def tiff_checked(path: str | os.PathLike, what: str = "reading it as TIFF"):
    """Read a TIFF with tifffile inside the block: tifffile *logs* (does not raise) what it
    skips on a damaged file (a broken page chain, a corrupted tag list, a series it cannot
    shape and replaces by its first page); any such message, or any exception, becomes a
    FileFormatError naming ``path``: a damaged TIFF never comes back as fewer pages."""
    log = logging.getLogger("tifffile")
    handler = _TiffLog()
    log.addHandler(handler)
    try:
        with library_errors(path, what):
            yield
    finally:
        log.removeHandler(handler)
    if handler.messages:
        raise FileFormatError(path, f"is a damaged TIFF: {handler.messages[0][:200]}",
                              "the file is truncated or corrupt: copy it again")


def check_tiff_pages(tif, path: str | os.PathLike) -> None:
    """Refuse a TIFF whose page chain ends before its data does: a damaged "next page"
    offset ends the chain early, and the pages after it, still in the file, would be lost
    without any error (a 251-page stack read as 28 pages). The bytes the pages reference
    (header, page directories, tag values, pixel data) must account for the file but for
    less than one page's data."""
    size = os.path.getsize(path)
    big = tif.is_bigtiff
    inline = 8 if big else 4
    used = 16 if big else 8
    smallest = None
    for k, page in enumerate(tif.pages):
        page_bytes = int(sum(page.databytecounts))
        if not page_bytes or not len(page.tags):
            raise FileFormatError(path, f"page {k + 1} of {len(tif.pages)} holds no image (a damaged page directory)",
                                  "the file is damaged: copy it again")
        smallest = page_bytes if smallest is None else min(smallest, page_bytes)
        used += page_bytes + (16 + 20 * len(page.tags) if big else 6 + 12 * len(page.tags))
        used += sum(int(t.valuebytecount) for t in page.tags if t.valuebytecount > inline)
    series = tif.series[0] if tif.series else None
    if series is not None and getattr(series, "dataoffset", None) is not None:
        used = max(used, int(series.nbytes))  # a contiguous series (ImageJ > 4 GB) records one page only
    if smallest and size - used >= max(smallest, 512):
        raise FileFormatError(path, f"its {len(tif.pages)} pages account for {used} of its {size} bytes: the page "
                                    "chain ends early (a damaged page directory; pages lost)",
                              "the file is damaged: copy it again")


def read_tiff_array(path: str | os.PathLike, what: str = "reading it as TIFF") -> np.ndarray:
    """The first series of a TIFF as tifffile reads it, after :func:`check_tiff_pages`;
    any damage tifffile raises or logs is a FileFormatError naming ``path``."""
    import tifffile

    with tiff_checked(path, what), tifffile.TiffFile(path) as tif:
        check_tiff_pages(tif, path)
        return tif.asarray()


def check_hdf5_size(path: str | os.PathLike) -> None:
    """Refuse an HDF5 file whose size differs from the end-of-file address its superblock
    records (the HDF5 library refuses a shorter file, not a longer one: bytes inserted
    into raw data would shift it silently). Superblock versions 0-3."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(2048 + 64)
    for base in (0, 512, 1024, 2048):  # a user block may precede the superblock
        if head[base:base + 8] == b"\x89HDF\r\n\x1a\n":
            break
    else:
        return  # not found here: the HDF5 library will say so
    version = head[base + 8] if len(head) > base + 8 else -1
    at = base + (40 if version in (0, 1) else 28 if version in (2, 3) else -1)
    if at < base or len(head) < at + 8 or head[base + 13 if version in (0, 1) else base + 9] != 8:
        return  # an exotic layout (offsets not 8 bytes): left to the library
    eoa = int.from_bytes(head[at:at + 8], "little")  # relative to the base address (the user block)
    size = path.stat().st_size
    if size not in (eoa, eoa + base):
        raise FileFormatError(path, f"holds {size} bytes but its HDF5 superblock says {eoa}: "
                                    f"{'bytes were added' if size > eoa else 'truncated'}",
                              "the file is truncated or corrupt: copy it again")


def check_chunk_index(ds, path: str | os.PathLike) -> None:
    """Refuse an HDF5 dataset whose chunk index is damaged: the B-tree that maps each
    chunk to its bytes carries no checksum (before HDF5 1.10's v2 indexes), so a damaged
    node sends reads to the wrong bytes or to none (fill values) without any error. Every
    chunk must have one logical position, on the chunk grid and inside the dataset, and
    its own bytes inside the file, overlapping no other chunk's."""
    if ds.chunks is None:
        return
    found: list[tuple[tuple, int, int]] = []
    with library_errors(path, f"reading the chunk index of {ds.name}"):
        if hasattr(ds.id, "chunk_iter"):
            ds.id.chunk_iter(lambda c: found.append((tuple(c.chunk_offset), int(c.byte_offset), int(c.size))))
        else:  # HDF5 < 1.12.3: one lookup per chunk
            for i in range(ds.id.get_num_chunks()):
                c = ds.id.get_chunk_info(i)
                found.append((tuple(c.chunk_offset), int(c.byte_offset), int(c.size)))
    size = os.path.getsize(path)
    problem = None
    if len({key for key, _, _ in found}) != len(found):
        problem = "two chunks claim the same position"
    elif any(any(k % c or k >= n for k, c, n in zip(key, ds.chunks, ds.shape)) for key, _, _ in found):
        problem = "a chunk lies off the chunk grid or outside the dataset"
    else:
        spans = sorted((offset, length) for _, offset, length in found)
        if spans and (spans[0][0] < 8 or spans[-1][0] + spans[-1][1] > size):
            problem = "a chunk's bytes lie outside the file"
        elif any(a + n > b for (a, n), (b, _) in zip(spans, spans[1:])):
            problem = "two chunks share bytes"
    if problem:
        raise FileFormatError(path, f"the chunk index of {ds.name} is damaged: {problem}",
                              "the file is truncated or corrupt: copy it again")


class GuardedArray:
    """An array-like over a lazily read store for ``dask.array.from_array``: a failure
    while reading a chunk (a damaged compressed chunk, a truncated file) is a
    FileFormatError naming the file and the chunk, however late dask computes it."""

    def __init__(self, inner, path: str | os.PathLike, what: str):
        self.inner, self.path, self.what = inner, str(path), what
        self.shape, self.dtype, self.ndim = tuple(inner.shape), np.dtype(inner.dtype), len(inner.shape)

    def __getitem__(self, key):
        try:
            return np.asarray(self.inner[key])
        except BatteryZoomError:
            raise
        except Exception as exc:  # noqa: BLE001 - any codec or I/O error of a damaged chunk
            raise FileFormatError(self.path, f"{self.what}: the chunk at {_describe_key(key)} cannot be read "
                                             f"({type(exc).__name__}: {str(exc)[:160]})",
                                  "the store is damaged: copy it again") from exc


def _describe_key(key) -> str:
    key = key if isinstance(key, tuple) else (key,)
    parts = []
    for k in key:
        if isinstance(k, slice):
            parts.append(f"{k.start or 0}:{'' if k.stop is None else k.stop}")
        else:
            parts.append(str(k))
    return "[" + ", ".join(parts) + "]"
