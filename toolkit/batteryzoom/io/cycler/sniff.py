"""Which cycler format a file holds, from its content: :func:`detect_format`.

The file is sampled once (:class:`Sample`: its first bytes, then, only when a format asks,
its text head, the members of a zip, the sheets of a workbook, the columns of a parquet
file, the keys of an HDF5 file) and every registered format (``_registry``) is asked, in
rank order, what in the sample it recognises (:func:`matches`: ``(format, evidence)``).

The choice, from the evidence:

- a make's own marker (magic bytes, a signature line such as ``EC-Lab ASCII FILE``, a
  preamble such as Maccor's ``Today's Date``) is *sure*: the best-ranked sure match wins,
  unless another make is as sure at the same rank;
- column names alone (an Arbin export without units, a BTSDA export) are *likely*: one make
  matching on names wins; two makes matching on names is a file the sniffer is unsure of;
- the catch-all table readers (``csv``, ``xlsx``) are used only when no make matched.

When unsure, :class:`~batteryzoom.errors.FileFormatError` lists every candidate reader
and what each matched, and asks for ``format=``. A file no format matches is refused with
what it looks like (a zip of other files, a binary, prose) and the formats there are.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from ...errors import FileFormatError
from ._registry import CATCH_ALL, Evidence, Format, by_priority, formats
from ._source import check_file, head_bytes, head_text
from ._text import split_lines

__all__ = ["detect_format", "Sample", "matches", "candidates"]

_PARQUET = b"PAR1"
_ZIP = b"PK\x03\x04"
_HDF5 = b"\x89HDF\r\n\x1a\n"


class Sample:
    """What sniffing reads of a file, each part read once and only when asked for.

    Parameters
    ----------
    path : pathlib.Path
        An existing, non-empty regular file.

    Attributes
    ----------
    head : bytes
        The first 4096 bytes.
    container : {"parquet", "zip", "hdf5", "binary", "text"}
        What the bytes say the file is before any format is asked: a parquet file, a zip
        archive (``.ndax``, ``.xlsx``, a zipped ``.nda``), an HDF5 file, another binary
        (more than 1 % NUL or control bytes in the first 1024 bytes: a few NULs in a text
        file are damage, reported by the table reader, not a sign of a binary), or text.
    """

    def __init__(self, path: Path):
        self.path = path
        self.head = head_bytes(path, 4096)
        if self.head.startswith(_PARQUET):
            self.container = "parquet"
        elif self.head.startswith(_ZIP):
            self.container = "zip"
        elif self.head.startswith(_HDF5):
            self.container = "hdf5"
        elif self.head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            self.container = "text"  # UTF-16 with its BOM
        else:
            lead = self.head[:1024]
            control = sum(b < 9 or 13 < b < 32 for b in lead)
            self.container = "binary" if control > 0.01 * max(len(lead), 1) else "text"

    @cached_property
    def text(self) -> str:
        """The first 8 KiB decoded (UTF-8 with or without BOM, else Windows-1252/Latin-1)."""
        return head_text(self.path)

    @cached_property
    def lines(self) -> list[str]:
        """The first 300 lines of :attr:`text`, quotes wrapping a whole line removed
        (empty unless the file is text)."""
        if self.container != "text":
            return []
        out = []
        for ln in split_lines(self.text)[:300]:
            s = ln.strip()
            out.append(s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' and '"' not in s[1:-1] else ln)
        return out

    @cached_property
    def zip_names(self) -> list[str]:
        """Members of a zip file ([] for other files); a broken zip is refused here."""
        if self.container != "zip":
            return []
        try:
            with zipfile.ZipFile(self.path) as zf:
                return zf.namelist()
        except Exception as exc:  # noqa: BLE001 - zipfile raises many types on a damaged archive
            what = "Neware .ndax" if self.path.suffix.lower() == ".ndax" else "zip-based (.ndax/.xlsx/.nda.zip)"
            raise FileFormatError(
                self.path, f"looks like a {what} file but its zip structure is broken (truncated or corrupt: "
                           f"{type(exc).__name__})",
                "copy the file again from the instrument PC; a partial upload or download truncates it",
            ) from None

    @cached_property
    def is_workbook(self) -> bool:
        """Whether the file is an Office Open XML workbook (a zip with content types)."""
        return "[Content_Types].xml" in self.zip_names

    @cached_property
    def xlsx_sheets(self) -> list[str]:
        """Sheet names of a workbook ([] for other files); a damaged one is refused here."""
        if not self.is_workbook:
            return []
        import openpyxl

        try:
            with open(self.path, "rb") as fh:  # a file object: openpyxl checks a path's suffix
                wb = openpyxl.load_workbook(fh, read_only=True)
                sheets = list(wb.sheetnames)
                wb.close()
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for damage
            raise FileFormatError(self.path, f"is a damaged Excel file ({type(exc).__name__}: {str(exc)[:120]})",
                                  "open and re-save it in Excel") from None
        return sheets

    @cached_property
    def parquet_names(self) -> list[str]:
        """Column names of a parquet file ([] for other files); a damaged one is refused here."""
        if self.container != "parquet":
            return []
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(self.path).names)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for damage
            raise FileFormatError(self.path, f"is a damaged parquet file ({type(exc).__name__}: {str(exc)[:120]})",
                                  "re-export it") from None

    @cached_property
    def hdf5_keys(self) -> list[str]:
        """Top-level group names of an HDF5 file ([] for other files); a damaged one is refused."""
        if self.container != "hdf5":
            return []
        import h5py

        try:
            with h5py.File(self.path, "r") as h5:
                return list(h5.keys())
        except Exception as exc:  # noqa: BLE001 - h5py raises OSError/KeyError/RuntimeError for damage
            raise FileFormatError(self.path, f"is a damaged HDF5 file ({type(exc).__name__}: {str(exc)[:120]})",
                                  "copy it again") from None


def _sample(path: Path) -> Sample:
    check_file(path)
    return Sample(path)


def candidates(sample: Sample) -> list[tuple[Format, Evidence]]:
    """Every format the sample matches, with its evidence, in sniffing order."""
    out = []
    for fmt in by_priority():
        evidence = fmt.match(sample)
        if evidence:
            out.append((fmt, evidence))
    return out


def matches(sample: Sample) -> Iterator[tuple[str, str]]:
    """``(format name, evidence)`` of every format the sample matches, in sniffing order
    (lazily: a later format's parts of the file are read only when the caller goes on)."""
    for fmt in by_priority():
        evidence = fmt.match(sample)
        if evidence:
            yield fmt.name, str(evidence)


def detect_format(path: str | os.PathLike) -> str:
    """The format name of a cycler file, sniffed from its content.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    str
        One of ``FORMATS``, chosen from the evidence as the module docstring says (the
        table in :mod:`batteryzoom.io.cycler` lists what each format matches).

    Raises
    ------
    FileFormatError
        Missing, empty or not a regular file; a broken zip, a damaged workbook, parquet
        or HDF5 file; a content no reader recognises; or a content two makes' readers
        match equally (the message lists the candidates and what each matched).

    Examples
    --------
    >>> import batteryzoom as bz
    >>> from batteryzoom.io.cycler import detect_format
    >>> detect_format(bz.data.fetch("real/cycler/maccor-beep-041")[0])
    'maccor-txt'
    >>> detect_format(bz.data.fetch("real/cycler/neware-interp-test")[0])
    'neware-ndax'
    """
    sample = _sample(Path(path))
    found = candidates(sample)
    if not found:
        raise _unrecognised(sample)
    makes = [(f, e) for f, e in found if f.priority < CATCH_ALL]
    if not makes:
        return found[0][0].name
    sure = [(f, e) for f, e in makes if e.sure]
    pool = sure or makes
    best, _ = pool[0]
    rivals = [(f, e) for f, e in pool[1:] if _make(f) != _make(best) and (not sure or f.priority == best.priority)]
    if rivals:
        listed = "; ".join(f"{f.name} ({e})" for f, e in [pool[0], *rivals])
        basis = "as surely" if sure else "on column names alone"
        raise FileFormatError(
            sample.path, f"matches several cycler readers {basis}: {listed}",
            "pass format= the one that made the file (read_cycler(path, format=...))",
        )
    return best.name


def _make(fmt: Format) -> str:
    return fmt.module.rpartition(".")[2]


def _unrecognised(sample: Sample) -> FileFormatError:
    if sample.container == "zip":
        what = f"is a zip archive holding {sample.zip_names[:5]}, not a cycler record"
    elif sample.container == "text":
        what = "is text but not a cycler table batteryzoom recognises"
    elif sample.container == "hdf5":
        what = f"is an HDF5 file (groups {sample.hdf5_keys[:5]}) but not a cycler record batteryzoom recognises"
    else:
        what = "is a binary file of no known cycler format"
    return FileFormatError(sample.path, what, _unknown_fix())


def _unknown_fix() -> str:
    return (
        "pass format= one of " + ", ".join(formats())
        + ", or column_map={'test_time_second': ..., 'voltage_volt': ..., 'current_ampere': ...} for a plain table"
    )
