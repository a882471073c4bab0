"""Where a file's free values sit: the bytes whose damage no reader can see in principle.

A format without checksums stores some bytes whose every value is valid: the raw samples of
an uncompressed image (a flipped bit in a uint16 pixel is another valid pixel), the numbers
of a text table (``0.5`` turned into ``0.4`` is another valid number). Damage confined to
such bytes gives a valid, different file; a reader cannot tell, and the fuzzer
(:mod:`batteryzoom.testing.fuzz`) counts it as ``"undetectable"``, not as a silent bug.
Everything else (headers, offsets, sizes, directory and FAT sectors, compressed or
checksummed data: gzip, zip, zlib) is structure, whose damage a reader must catch.

Each ``*_free`` function returns the sorted ``[start, stop)`` byte ranges of a clean file's
free values; :func:`judge` turns one into a judge for :func:`~batteryzoom.testing.fuzz.campaign`.

Examples
--------
>>> import pathlib, tempfile
>>> from batteryzoom.testing.fuzz import Mutation
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.txt"
>>> _ = path.write_bytes(b"# energy mu\\n8300 0.5\\n8301 0.6\\n")
>>> text_free(path)
[(12, 16), (17, 20), (21, 25), (26, 29)]
>>> is_free = judge(text_free, "a number of the table")
>>> is_free(path, Mutation("bitflip", b"# energy mu\\n8300 0.4\\n8301 0.6\\n", ((19, 20),), True))
'a number of the table'
>>> is_free(path, Mutation("bitflip", b"# energy mu\\n8300 0.5\\n8301 0.6\\x0b", ((29, 30),), True)) is None
True
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from pathlib import Path

from .fuzz import Mutation

__all__ = ["tiff_free", "ole_free", "hdf5_free", "text_free", "judge", "XRADIA_VALUE_STREAMS"]

Ranges = list[tuple[int, int]]
_NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(rb"[^\s,;]+")
# Xradia streams holding values a reader passes through (images, energies, angles, sizes,
# exposures, dates): any value of theirs is a valid file
XRADIA_VALUE_STREAMS = re.compile(
    r"^(ImageData\d+/Image\d+|ReferenceData/Image|ImageInfo/(Energy|Angles|PixelSize|ExpTimes|Date|XPosition|"
    r"YPosition|ZPosition)|AcquisitionSettings/ExpTime|ReferenceData/ExpTime)$")


def _merge(ranges) -> Ranges:
    out: Ranges = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def tiff_free(path: Path) -> Ranges:
    """The strips/tiles of every uncompressed page of a TIFF (their raw samples)."""
    import tifffile

    out = []
    with tifffile.TiffFile(path) as tif:
        for page in tif.pages:
            if page.compression != 1:  # compressed data: a flip breaks the codec or the predictor
                continue
            out.extend((int(o), int(o) + int(n)) for o, n in zip(page.dataoffsets, page.databytecounts))
    return _merge(out)


def ole_free(path: Path, streams: re.Pattern | Callable[[str], bool] = XRADIA_VALUE_STREAMS) -> Ranges:
    """The bytes of an OLE2 file's value streams (``streams`` matches their ``a/b`` names):
    the sectors of big streams, the mini-sectors of small ones, each up to the stream's size."""
    import olefile

    match = streams.match if isinstance(streams, re.Pattern) else streams
    out = []
    with olefile.OleFileIO(str(path)) as ole:
        size, mini = ole.sectorsize, ole.minisectorsize
        root_sectors = list(_chain(ole.fat, ole.root.isectStart))
        if ole.minifat is None and any(e.size < ole.minisectorcutoff for e in ole.direntries if e):
            ole.loadminifat()
        for entry_path in ole.listdir(streams=True, storages=False):
            name = "/".join(entry_path)
            if not match(name):
                continue
            entry = ole.direntries[ole._find(name)]
            left = entry.size
            if entry.size < ole.minisectorcutoff:  # in the mini stream, itself in the root's sectors
                for ms in _chain(ole.minifat, entry.isectStart):
                    offset = ms * mini
                    sector = root_sectors[offset // size]
                    start = (sector + 1) * size + offset % size
                    out.append((start, start + min(mini, left)))
                    left -= mini
            else:
                for s in _chain(ole.fat, entry.isectStart):
                    start = (s + 1) * size
                    out.append((start, start + min(size, left)))
                    left -= size
            if left > 0:
                return []  # a chain shorter than the stream: do not guess
    return _merge(out)


def _chain(fat, start: int):
    seen = set()
    s = start
    while 0 <= s < len(fat) and s not in seen and s < 0xFFFFFFFA:
        seen.add(s)
        yield s
        s = fat[s]


def hdf5_free(path: Path) -> Ranges:
    """The raw data of every HDF5 dataset stored without filters (contiguous, or chunks
    written unfiltered); compressed or checksummed data is structure."""
    import h5py

    out = []
    with h5py.File(path, "r") as fh:
        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset) or obj.dtype.kind not in "biufc":
                return
            plist = obj.id.get_create_plist()
            if plist.get_nfilters():
                return
            if obj.chunks is None:
                offset = obj.id.get_offset()
                if offset is not None:
                    out.append((int(offset), int(offset) + int(obj.id.get_storage_size())))
                return
            for i in range(obj.id.get_num_chunks()):
                info = obj.id.get_chunk_info(i)
                out.append((int(info.byte_offset), int(info.byte_offset) + int(info.size)))

        fh.visititems(visit)
    return _merge(out)


def text_free(path: Path) -> Ranges:
    """The numbers of a text table's data lines (lines whose every token is a number)."""
    data = Path(path).read_bytes()
    out = []
    pos = 0
    for line in data.splitlines(keepends=True):
        tokens = list(_TOKEN.finditer(line))
        if len(tokens) >= 2 and all(_NUMBER.fullmatch(t.group()) for t in tokens):
            out.extend((pos + t.start(), pos + t.end()) for t in tokens)
        pos += len(line)
    return out


def _within(ranges: Ranges, a: int, b: int) -> bool:
    i = bisect.bisect_right(ranges, (a, float("inf"))) - 1
    return i >= 0 and ranges[i][0] <= a and b <= ranges[i][1]


def _still_a_number(clean_ranges: Ranges, mutation: Mutation) -> bool:
    """Whether every replaced number of a text file is, in the damaged copy, one finite number."""
    shift = 0
    for a, b in mutation.spans:
        i = bisect.bisect_right(clean_ranges, (a, float("inf"))) - 1
        start, stop = clean_ranges[i]
        m = _TOKEN.match(mutation.data, start + shift)
        if m is None or not _NUMBER.fullmatch(m.group()):
            return False
        try:
            value = float(m.group())
        except ValueError:
            return False
        if value != value or value in (float("inf"), float("-inf")):
            return False
        shift += (m.end() - m.start()) - (stop - start)
    return True


def judge(free: Callable[[Path], Ranges], reason: str, *, text: bool = False) -> Callable[[Path, Mutation], str | None]:
    """A judge for the fuzzer: ``reason`` when a mutation only replaced bytes inside the
    clean file's free ranges (``free(path)``, computed once per file), else None. With
    ``text=True`` every replaced number must also still read as one finite number."""
    cache: dict[Path, Ranges] = {}

    def _judge(path: Path, mutation: Mutation) -> str | None:
        if not mutation.in_place or not mutation.spans:
            return None
        path = Path(path)
        if path not in cache:
            try:
                cache[path] = free(path)
            except Exception:  # noqa: BLE001 - a file its own library cannot map has no free ranges
                cache[path] = []
        ranges = cache[path]
        if not all(_within(ranges, a, b) for a, b in mutation.spans):
            return None
        if text and not _still_a_number(ranges, mutation):
            return None
        return reason

    return _judge
