"""Which cycler format a file holds, from its content: :func:`detect_format`.

The file is sampled once (:class:`Sample`: its first bytes, then, only when a format asks,
its text head, the members of a zip, the sheets of a workbook, the columns of a parquet
file) and each registered format (``_registry``) is asked in priority order whether the
sample matches it; the first match wins. A file no format matches is refused with what it
looks like (a zip of other files, a binary, prose) and the formats there are.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from ...errors import FileFormatError
from ._registry import by_priority, formats
from ._tables import head_text

__all__ = ["detect_format", "Sample"]

_PARQUET = b"PAR1"
_ZIP = b"PK"


class Sample:
    """What sniffing reads of a file, each part read once and only when asked for.

    Parameters
    ----------
    path : pathlib.Path
        An existing, non-empty file.

    Attributes
    ----------
    head : bytes
        The first 4096 bytes.
    container : {"parquet", "zip", "binary", "text"}
        What the bytes say the file is before any format is asked: a parquet file, a zip
        archive (``.ndax``, ``.xlsx``), another binary (a NUL in the first 1024 bytes), or
        text.
    """

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as fh:
            self.head = fh.read(4096)
        if self.head.startswith(_PARQUET):
            self.container = "parquet"
        elif self.head.startswith(_ZIP):
            self.container = "zip"
        elif b"\x00" in self.head[:1024]:
            self.container = "binary"
        else:
            self.container = "text"

    @cached_property
    def text(self) -> str:
        """The first 8 KiB decoded (UTF-8 with or without BOM, else Latin-1)."""
        return head_text(self.path)

    @cached_property
    def lines(self) -> list[str]:
        """The first 40 lines of :attr:`text` (empty unless the file is text)."""
        return self.text.splitlines()[:40] if self.container == "text" else []

    @cached_property
    def zip_names(self) -> list[str]:
        """Members of a zip file ([] for other files); a broken zip is refused here."""
        if self.container != "zip":
            return []
        try:
            with zipfile.ZipFile(self.path) as zf:
                return zf.namelist()
        except zipfile.BadZipFile:
            what = "Neware .ndax" if self.path.suffix.lower() == ".ndax" else "zip-based (.ndax/.xlsx)"
            raise FileFormatError(
                self.path, f"looks like a {what} file but its zip structure is broken (truncated or corrupt)",
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
            wb = openpyxl.load_workbook(self.path, read_only=True)
            sheets = wb.sheetnames
            wb.close()
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for damage
            raise FileFormatError(self.path, f"is a damaged Excel file ({exc})", "open and re-save it in Excel") from None
        return sheets

    @cached_property
    def parquet_names(self) -> list[str]:
        """Column names of a parquet file ([] for other files); a damaged one is refused here."""
        if self.container != "parquet":
            return []
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(self.path).names
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for damage
            raise FileFormatError(self.path, f"is a damaged parquet file ({exc})", "re-export it") from None


def _sample(path: Path) -> Sample:
    if not path.is_file():
        raise FileFormatError(path, "does not exist or is not a file", "check the path")
    if path.stat().st_size == 0:
        raise FileFormatError(path, "is empty (0 bytes)", "re-export the record from the cycler software")
    return Sample(path)


def matches(sample: Sample) -> Iterator[tuple[str, str]]:
    """``(format name, evidence)`` of every format the sample matches, in sniffing order
    (lazily: a later format's parts of the file are read only when the caller goes on)."""
    for fmt in by_priority():
        evidence = fmt.match(sample)
        if evidence:
            yield fmt.name, evidence


def detect_format(path: str | os.PathLike) -> str:
    """The format name of a cycler file, sniffed from its content.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    str
        One of ``FORMATS`` (the first format, in sniffing order, whose ``match`` the
        content satisfies; the table in :mod:`batteryzoom.io.cycler` lists them).

    Raises
    ------
    FileFormatError
        Missing or empty file, a broken zip, a damaged workbook or parquet file, or a
        content no reader recognises.

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
    for name, _evidence in matches(sample):
        return name
    raise _unrecognised(sample)


def _unrecognised(sample: Sample) -> FileFormatError:
    if sample.container == "zip":
        what = f"is a zip archive holding {sample.zip_names[:5]}, not a cycler record"
    elif sample.container == "text":
        what = "is text but not a cycler table batteryzoom recognises"
    else:
        what = "is a binary file of no known cycler format"
    return FileFormatError(sample.path, what, _unknown_fix())


def _unknown_fix() -> str:
    return (
        "pass format= one of " + ", ".join(formats())
        + ", or column_map={'test_time_second': ..., 'voltage_volt': ..., 'current_ampere': ...} for a plain table"
    )
