"""Where a file's free values sit: the bytes whose damage no reader can see in principle.

A format without checksums stores some bytes whose every value is valid: the raw samples of
an uncompressed image (a flipped bit in a uint16 pixel is another valid pixel), the numbers
of a text table (``0.5`` turned into ``0.4`` is another valid number). Damage confined to
such bytes gives a valid, different file; a reader cannot tell, and the fuzzer
(:mod:`batteryzoom.testing.fuzz`) counts it as ``"undetectable"``, not as a silent bug.
Everything else (headers, offsets, sizes, directory and FAT sectors, checksummed data:
gzip, zip, zlib/deflate) is structure, whose damage a reader must catch.

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

from .fuzz import Mutation, Verdict

__all__ = ["tiff_free", "ole_free", "hdf5_free", "text_free", "zarr_chunk_judge", "tiff_deflate_judge", "judge",
           "text_judge", "XRADIA_STRUCTURE"]

Ranges = list[tuple[int, int]]
_NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(rb"[^\s,;]+")
_XDI_FIELD = re.compile(rb"^[ \t]*#[ \t]*[A-Z][A-Za-z0-9_]*\.[A-Za-z0-9_]+[ \t]*:", re.MULTILINE)
# The Xradia streams that give the images their shape and type: structure. Every other
# stream holds values (pixels, energies, angles, sizes, exposures, dates) or is never read.
XRADIA_STRUCTURE = re.compile(r"^(ImageInfo/(ImageWidth|ImageHeight|DataType|NoOfImages|ImagesTaken)|"
                              r"ReferenceData/DataType)$")


def _merge(ranges) -> Ranges:
    out: Ranges = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# TIFF compressions without an integrity check: none, LZW, PackBits. A damaged strip of
# theirs that still decodes to the page's size is another valid image. Deflate (zlib's
# Adler-32), zstd and others check their data: damage to them is detectable.
_UNCHECKED_TIFF = (1, 5, 32773)


def tiff_free(path: Path) -> Ranges:
    """The strips/tiles of every TIFF page stored raw or with a codec that has no integrity
    check (LZW, PackBits): damage there that still decodes to the page's size is another
    valid image; a reader must still catch a strip that decodes short or long."""
    import tifffile

    out = []
    with tifffile.TiffFile(path) as tif:
        for page in tif.pages:
            if page.compression not in _UNCHECKED_TIFF:
                continue
            out.extend((int(o), int(o) + int(n)) for o, n in zip(page.dataoffsets, page.databytecounts))
    return _merge(out)


def ole_free(path: Path, structure: re.Pattern | Callable[[str], bool] = XRADIA_STRUCTURE) -> Ranges:
    """Every byte of an OLE2 file except its structure: the header, the FAT, DIFAT,
    MiniFAT and directory sectors, and the streams ``structure`` matches (``a/b`` names;
    for Xradia the image sizes and data types). Image pixels, energies, angles, dates,
    streams a reader never opens and the slack after streams are all free."""
    import os
    import struct

    import olefile

    match = structure.match if isinstance(structure, re.Pattern) else structure
    size = os.path.getsize(path)
    taken: Ranges = [(0, 512)]
    with olefile.OleFileIO(str(path)) as ole:
        sec = ole.sectorsize

        def sectors(chain):
            for s_ in chain:
                taken.append(((s_ + 1) * sec, (s_ + 2) * sec))

        with open(path, "rb") as fh:
            head = fh.read(512)
        difat = [v for v in struct.unpack("<109I", head[76:76 + 436]) if v < 0xFFFFFFFA]
        d = ole.first_difat_sector
        seen = set()
        while d < 0xFFFFFFFA and d not in seen and (d + 1) * sec < size:
            seen.add(d)
            sectors([d])
            with open(path, "rb") as fh:
                fh.seek((d + 1) * sec)
                entries = struct.unpack(f"<{sec // 4}I", fh.read(sec))
            difat += [v for v in entries[:-1] if v < 0xFFFFFFFA]
            d = entries[-1]
        sectors(difat)  # the FAT itself
        sectors(_chain(ole.fat, ole.first_dir_sector))
        sectors(_chain(ole.fat, ole.first_mini_fat_sector))
        if ole.minifat is None:
            ole.loadminifat()
        root_sectors = list(_chain(ole.fat, ole.root.isectStart))
        mini = ole.minisectorsize
        for entry_path in ole.listdir(streams=True, storages=False):
            name = "/".join(entry_path)
            if not match(name):
                continue
            entry = ole.direntries[ole._find(name)]
            if entry.size < ole.minisectorcutoff:
                for ms in _chain(ole.minifat, entry.isectStart):
                    offset = ms * mini
                    if offset // sec < len(root_sectors):
                        start = (root_sectors[offset // sec] + 1) * sec + offset % sec
                        taken.append((start, start + mini))
            else:
                sectors(_chain(ole.fat, entry.isectStart))
    taken = _merge(taken)
    free, at = [], 0
    for a, b in taken:
        if a > at:
            free.append((at, min(a, size)))
        at = max(at, b)
    if at < size:
        free.append((at, size))
    return [r for r in free if r[1] > r[0]]


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


def _still_a_number(clean_ranges: Ranges, mutation: Mutation, clean_size: int) -> bool:
    """Whether every replaced number of a text file is, in the damaged copy, one finite number."""
    shift = 0
    moved = len(mutation.data) != clean_size  # a number replaced by one of another length
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
        if moved:
            shift += (m.end() - m.start()) - (stop - start)
    return True


def judge(free: Callable[[Path], Ranges], reason: str, *, text: bool = False, shifted: bool = False,
          structure_may_change: bool = False) -> Callable[[Path, Mutation], str | Verdict | None]:
    """A judge for the fuzzer: ``reason`` when a mutation only replaced bytes inside the
    clean file's free ranges (``free(path)``, computed once per file), else None. With
    ``text=True`` every replaced number must also still read as one finite number. With
    ``shifted=True`` bytes inserted or removed inside a free range count too, for formats
    that locate nothing by the file's length (TIFF: the samples after the point move, and
    any structure there that moves with them breaks, which a reader must catch). With
    ``structure_may_change`` the verdict allows what a reader derives from those values to
    change (the scan range from the angles, which frames are flats from NeXus image keys)."""
    cache: dict[Path, Ranges] = {}
    sizes: dict[Path, int] = {}

    def _judge(path: Path, mutation: Mutation) -> str | None:
        if not mutation.spans or not (mutation.in_place or shifted):
            return None
        path = Path(path)
        if path not in cache:
            try:
                cache[path] = free(path)
            except Exception:  # noqa: BLE001 - a file its own library cannot map has no free ranges
                cache[path] = []
            sizes[path] = path.stat().st_size
        ranges = cache[path]
        if not all(_within(ranges, a, max(b, a + 1) if a == b else b) for a, b in mutation.spans):
            return None
        if text and not _still_a_number(ranges, mutation, sizes[path]):
            return None
        return Verdict(reason, True) if structure_may_change else reason

    return _judge


def _data_rows(lines: list[bytes], min_columns: int = 2) -> list[int]:
    rows = []
    for i, line in enumerate(lines):
        tokens = _TOKEN.findall(line)
        if len(tokens) >= min_columns and all(_NUMBER.fullmatch(t) for t in tokens):
            rows.append(i)
    return rows


def _rows_lost_at_an_end(clean: bytes, damaged: bytes, min_columns: int = 2) -> bool:
    """Whether ``damaged`` is ``clean`` with whole lines removed at the start (header lines,
    then possibly the first data rows), among the header lines, or at the end (the last
    data rows; a cut that leaves only blanks of the next line counts), leaving at least one
    data row: a valid, shorter table."""
    lines = clean.splitlines(keepends=True)
    rows = _data_rows(lines, min_columns)
    if not rows or len(damaged) >= len(clean):
        return False
    first, last = rows[0], rows[-1]
    got = damaged.splitlines(keepends=True)
    if got and not got[-1].strip() and clean.startswith(damaged):
        got = got[:-1]  # a cut inside the blanks that start the next line
    i = 0
    while i < len(got) and i < len(lines) and got[i] == lines[i]:
        i += 1
    j = i + len(lines) - len(got)
    if j <= i or lines[j:] != got[i:]:
        return False
    if not any(r < i or r >= j for r in rows):
        return False
    if i == 0 and clean.startswith(b"# XDI") and _XDI_FIELD.search(damaged):
        return False  # an XDI file without its version line but with its fields: a reader can tell
    if i == 0 or j <= first:
        return True  # the start of the file, or header lines only (a valid, less informative header)
    return all(k in rows for k in range(i, j)) and (i == first or j >= last + 1)


def _one_text_value_changed(clean: bytes, damaged: bytes) -> bool:
    """Whether the damage changed one header line in place (same lines otherwise) or one
    number of a data row into another valid finite number."""
    n = min(len(clean), len(damaged))
    a = len(_common_prefix(clean, damaged))
    b = _common_suffix_length(clean, damaged, n - a)
    old, new = clean[a:len(clean) - b], damaged[a:len(damaged) - b]
    if b"\n" in old or b"\n" in new or b"\r" in old or b"\r" in new:
        return False
    start = clean.rfind(b"\n", 0, a) + 1
    stop = clean.find(b"\n", len(clean) - b)
    line = clean[start:len(clean) if stop < 0 else stop]
    new_line = damaged[start:len(damaged) if stop < 0 else stop - len(clean) + len(damaged)]
    tokens = _TOKEN.findall(line)
    is_row = len(tokens) >= 2 and all(_NUMBER.fullmatch(t) for t in tokens)
    rows_before = _data_rows(clean[:start].splitlines(keepends=True))
    if not is_row:
        return not rows_before  # a header line: any text is a valid (other) header
    new_tokens = _TOKEN.findall(new_line)
    if len(new_tokens) != len(tokens) or not all(_NUMBER.fullmatch(t) for t in new_tokens):
        return False
    try:
        values = [float(t) for t in new_tokens]
    except ValueError:
        return False
    return all(v == v and abs(v) != float("inf") for v in values)


# A grid is regular around a step when the steps next to it agree within this factor; a
# single step this many times theirs is then a gap. A step this many times its largest
# neighbour is a gap on any grid. (The reader's rule, io.spectra.reader._missing_points,
# states the same definition of a regular grid.)
REGULAR_GRID_SPREAD = 1.25
GAP_ON_REGULAR_GRID = 1.8
GAP_ON_ANY_GRID = 4.0


def _first_column(data: bytes, min_columns: int = 2) -> list[float]:
    out = []
    for line in data.splitlines():
        tokens = _TOKEN.findall(line)
        if len(tokens) >= min_columns and all(_NUMBER.fullmatch(t) for t in tokens):
            try:
                out.append(float(tokens[0]))
            except ValueError:
                out.append(float("nan"))
    return out


def _gap_visible(grid: list[float], at: int, gap: float) -> bool:
    """Whether a step of ``gap`` between rows ``at - 1`` and ``at`` of ``grid`` (the rows
    left) stands out from the steps around it."""
    import numpy as np

    e = np.asarray(grid, dtype=float)
    step = np.abs(np.diff(e))
    around = np.r_[step[max(at - 3, 0):max(at - 1, 0)], step[at:at + 2]]
    if around.size < 3 or not np.all(np.isfinite(around)) or around.min() <= 0:
        return False
    if gap >= GAP_ON_ANY_GRID * around.max():
        return True
    return around.max() <= REGULAR_GRID_SPREAD * around.min() and gap >= GAP_ON_REGULAR_GRID * float(np.median(around))


def _rows_lost_at_an_end_spliced(clean: bytes, damaged: bytes, min_columns: int = 2) -> bool:
    """Whether the damaged table's rows are the clean table's first rows or its last ones
    (by their first column; a deletion across lines may splice the row at the seam, whose
    energy stays and whose other values change): a valid shorter table."""
    a, b = _first_column(clean, min_columns), _first_column(damaged, min_columns)
    if not b or len(b) >= len(a):
        return False
    if clean.startswith(b"# XDI") and not damaged.startswith(b"# XDI") and _XDI_FIELD.search(damaged):
        return False
    if clean.startswith(damaged) and not clean[:len(damaged)].endswith((b"\n", b"\r")) and \
            a[:len(b) - 1] == b[:-1] and not clean.endswith((b"\n", b"\r")):
        return True  # a file whose lines are not ended, cut inside its last kept number: a valid shorter file
    return a[:len(b)] == b or a[len(a) - len(b):] == b


def _rows_lost_inside_unseen(clean: bytes, damaged: bytes, min_columns: int = 2) -> bool:
    """Whether the damage removed a block of data rows inside the table (and, with a
    deletion across lines, left at most one spliced row at the seam) where the grid is too
    irregular for the gap to show."""
    a, b = _first_column(clean, min_columns), _first_column(damaged, min_columns)
    if not b or len(b) >= len(a):
        return False
    k1 = 0
    while k1 < len(b) and a[k1] == b[k1]:
        k1 += 1
    k2 = 0
    while k2 < len(b) - k1 and a[len(a) - 1 - k2] == b[len(b) - 1 - k2]:
        k2 += 1
    if k1 + k2 < len(b) - 1 or k1 == 0 or k2 == 0:
        return False  # more than one spliced row, or an end (judged by _rows_lost_at_an_end)
    left, right = a[k1 - 1], a[len(a) - k2]
    rest = a[:k1] + a[len(a) - k2:]
    return not _gap_visible(rest, k1, abs(right - left))


_STR_SPLIT = re.compile(r"[\s,;]+")
_STR_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _row_still_numbers(clean_line: bytes, damaged_line: bytes) -> bool:
    """Whether a damaged data row still holds as many values, each a finite number (split
    as a reader splits decoded text: any Unicode blank, comma or semicolon)."""
    a = [t for t in _STR_SPLIT.split(clean_line.decode("latin-1").strip()) if t]
    b = [t for t in _STR_SPLIT.split(damaged_line.decode("latin-1").strip()) if t]
    if len(a) != len(b) or not all(_STR_NUMBER.fullmatch(t) for t in b):
        return False
    try:
        return all(abs(float(t)) != float("inf") for t in b)
    except ValueError:
        return False


def _common_prefix(a: bytes, b: bytes) -> bytes:
    import numpy as np

    n = min(len(a), len(b))
    diff = np.flatnonzero(np.frombuffer(a, np.uint8, n) != np.frombuffer(b, np.uint8, n))
    return a[:int(diff[0]) if diff.size else n]


def _common_suffix_length(a: bytes, b: bytes, limit: int) -> int:
    import numpy as np

    n = min(len(a), len(b), limit)
    if n <= 0:
        return 0
    x = np.frombuffer(a, np.uint8)[len(a) - n:][::-1]
    y = np.frombuffer(b, np.uint8)[len(b) - n:][::-1]
    diff = np.flatnonzero(x != y)
    return int(diff[0]) if diff.size else n


def _header_or_rows_edited(clean: bytes, damaged: bytes) -> bool:
    """Whether the damage changed header text only (data rows untouched; the XDI version
    line excepted: its loss is visible), or, in place, header text and numbers of data
    rows into other finite numbers (no line made or lost)."""
    n = min(len(clean), len(damaged))
    a = len(_common_prefix(clean, damaged))
    b = _common_suffix_length(clean, damaged, n - a)
    lines = clean.splitlines(keepends=True)
    rows = _data_rows(lines)
    if not rows:
        return False
    data_start = sum(len(line) for line in lines[:rows[0]])
    if clean.startswith(b"# XDI/") and not damaged.startswith(b"# XDI/"):
        return False
    if len(clean) - b <= data_start:
        return True  # only the header changed
    if len(damaged) != len(clean):
        return False
    got = damaged.splitlines(keepends=True)
    if len(got) != len(lines) or any(len(x) != len(y) for x, y in zip(got, lines)):
        return False  # a line end made or lost
    return all(_row_still_numbers(x, y) for k, (x, y) in enumerate(zip(lines, got)) if k in set(rows) and x != y)


def text_judge(values: str = "a number of the table replaced by another valid number",
               rows: str = "whole lines lost at an end of the table (a valid shorter file)",
               irregular: str = "rows lost inside the table where its energy grid is irregular (no visible gap)",
               min_columns: int = 2,
               repeated: str = "one more copy of a line the file already repeats (another valid file)"):
    """The judge of text tables: numbers of data rows turned into other valid numbers,
    header text changed in place (free text: another valid header), or whole lines
    removed at the start or the end of the file leaving data rows (a text table states no
    row count, so a shorter table is a valid file), or rows removed inside the table where
    the first column's grid is too irregular for the gap to show (on a regular grid it
    shows, and a reader must see it), or one more copy of a line inside a run of equal
    lines (the flat/dark positions repeating an angles file's first angle)."""
    numbers = judge(text_free, values, text=True)
    cache: dict[Path, bytes] = {}

    def _judge(path: Path, mutation: Mutation):
        found = numbers(path, mutation)
        if found:
            return found
        path = Path(path)
        if path not in cache:
            cache[path] = path.read_bytes()
        clean = cache[path]
        if _header_or_rows_edited(clean, mutation.data) or _one_text_value_changed(clean, mutation.data):
            return Verdict(values, True)  # header text may rename a column or a field
        if _rows_lost_at_an_end(clean, mutation.data, min_columns) or \
                _rows_lost_at_an_end_spliced(clean, mutation.data, min_columns):
            return Verdict(rows, True)
        if _rows_lost_inside_unseen(clean, mutation.data, min_columns):
            return Verdict(irregular, True)
        if _repeat_repeated(clean, mutation.data):
            return Verdict(repeated, True)
        return None

    return _judge


def _repeat_repeated(clean: bytes, damaged: bytes) -> bool:
    """Whether ``damaged`` is ``clean`` with one more copy of a line that the clean file
    already repeats on adjacent lines (a run of equal lines, such as the stage positions
    of flats and darks in an angles file, one longer): another valid file."""
    a = [ln.rstrip(b"\r\n") for ln in clean.splitlines(keepends=True)]
    b = [ln.rstrip(b"\r\n") for ln in damaged.splitlines(keepends=True)]
    if len(b) != len(a) + 1:
        return False
    i = next((k for k in range(len(a)) if a[k] != b[k]), len(a))  # b[i] is the inserted line
    line = b[i]
    if b[:i] + b[i + 1:] != a or not line.strip():
        return False
    # the clean lines of the run it joins: the ones just before and after the insertion
    run = [k for k in (i - 2, i - 1, i, i + 1) if 0 <= k < len(a) and a[k] == line]
    return len(run) >= 2 and any(r + 1 in run for r in run)


def tiff_deflate_judge(reason: str = "inside a deflate-compressed TIFF strip that still decodes to its size with a "
                                     "matching Adler-32: another valid file"):
    """The judge of damage inside zlib (deflate) strips of a TIFF: when each damaged strip
    still decompresses, zlib's Adler-32 check included, to the clean strip's size, the
    file is valid by its own checks (Adler-32 misses some multi-byte changes of a
    low-entropy image), so no reader can see the damage."""
    import zlib

    cache: dict[Path, list[tuple[int, int]]] = {}

    def _strips(path: Path) -> list[tuple[int, int]]:
        import tifffile

        out = []
        with tifffile.TiffFile(path) as tif:
            for page in tif.pages:
                if int(page.compression) in (8, 32946):
                    out += [(int(o), int(o) + int(c)) for o, c in zip(page.dataoffsets, page.databytecounts)]
        return out

    def _judge(path: Path, mutation: Mutation):
        if not mutation.in_place or not mutation.spans:
            return None
        path = Path(path)
        if path not in cache:
            try:
                cache[path] = _strips(path)
            except Exception:  # noqa: BLE001 - not a TIFF this judge can read: nothing is free
                cache[path] = []
        clean = None
        for a, b in mutation.spans:
            strip = next(((s, e) for s, e in cache[path] if s <= a and b <= e), None)
            if strip is None:
                return None
            clean = path.read_bytes() if clean is None else clean
            try:
                if len(zlib.decompress(mutation.data[strip[0]:strip[1]])) != len(zlib.decompress(
                        clean[strip[0]:strip[1]])):
                    return None
            except Exception:  # noqa: BLE001 - zlib.error, or isal's IsalError once fastnda has patched zlib
                return None
        return Verdict(reason, False)

    return _judge


_ZARR_METADATA = (".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json")


def zarr_chunk_judge(reason: str = "a chunk of a zarr store whose codec checks nothing (zstd without checksum, "
                                   "blosc): another valid chunk"):
    """The judge of zarr stores written without a checksumming codec (zarr's default zstd
    and blosc keep none): damage in place inside a chunk that still decodes is another
    valid chunk. Metadata files (``zarr.json``, ``.zarray``, ...) are structure."""
    def _judge(path: Path, mutation: Mutation):
        if Path(path).name in _ZARR_METADATA or not mutation.in_place or not mutation.spans:
            return None
        return Verdict(reason, False)

    return _judge
