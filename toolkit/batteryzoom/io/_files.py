"""Opening source files safely: regular files only, bounded reads, library errors named.

Every reader of :mod:`batteryzoom.io` opens its input through these helpers, so that

- a FIFO, a device (``/dev/zero``), a socket or a folder given as a file is refused before
  it is opened (opening a FIFO for reading blocks until a writer comes; reading
  ``/dev/zero`` never ends);
- a read never takes more than a stated number of bytes (a text "spectrum" of 3 GB, a
  gzip bomb), and says so when the file is bigger;
- what the libraries raise on damaged bytes (``OSError``, ``EOFError``, ``zlib.error``,
  ``gzip.BadGzipFile``, ``UnicodeDecodeError``) becomes a
  :class:`~batteryzoom.errors.FileFormatError` naming the file, what is wrong, and what to do.
"""

from __future__ import annotations

import os
import stat
import zlib
from pathlib import Path

from ..errors import FileFormatError

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
        except zlib.error as exc:
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
