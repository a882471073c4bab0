"""Reading a cycler file's bytes safely: a regular file only (never a FIFO, a device or a
folder), bounded reads, text decoded the way cycler software writes it, and helper
programs (``mdb-export``, a fallback reader) run with a bound on their time and output.

Every reader reaches the file through here (or through a library given a checked path),
so that ``/dev/zero`` is never read to the end, a FIFO never blocks, and the decoding
(UTF-8 with or without BOM, Windows-1252, Latin-1) and its NUL check are the same for all.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

from ...errors import FileFormatError

__all__ = ["check_file", "read_bytes", "head_bytes", "decode", "head_text", "read_text", "MAX_BYTES", "run_bounded"]

#: the largest file read whole (a cycler export of 4 GiB is not a table to hold in memory
#: as text; binary formats are read by their libraries, which map the file)
MAX_BYTES = 4 << 30


def check_file(path: Path, what: str = "file") -> os.stat_result:
    """The file's ``stat`` after checking it is an existing, non-empty regular file.

    A FIFO, a socket, a device (``/dev/zero``) or a folder is refused before it is opened:
    opening a FIFO blocks until a writer comes, and a device never ends.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileFormatError(path, f"{what} does not exist", "check the path") from None
    except OSError as exc:
        raise FileFormatError(path, f"{what} cannot be opened ({exc.strerror or exc})",
                              "check the path and its permissions") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise FileFormatError(path, f"is {kind}, not a regular file", "pass the path of the record file itself")
    if st.st_size == 0:
        raise FileFormatError(path, "is empty (0 bytes)", "re-export the record from the cycler software")
    return st


def head_bytes(path: Path, n: int) -> bytes:
    """The first ``n`` bytes of a checked regular file."""
    check_file(path)
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise FileFormatError(path, f"cannot be read ({exc.strerror or exc})", "check the file") from None


def read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    """A whole regular file, refused beyond ``limit`` bytes (read no further than its size)."""
    st = check_file(path)
    if st.st_size > limit:
        raise FileFormatError(path, f"is {st.st_size / 2**30:.1f} GiB, too large to read as a text table "
                                    f"(limit {limit / 2**30:.1f} GiB)", "split the export or save it as parquet")
    try:
        with open(path, "rb") as fh:
            return fh.read(st.st_size)
    except OSError as exc:
        raise FileFormatError(path, f"cannot be read ({exc.strerror or exc})", "check the file") from None


def decode(raw: bytes) -> tuple[str, str]:
    """``(text, encoding)``: UTF-8 (a leading BOM removed), else Windows-1252, else Latin-1.

    Latin-1 decodes every byte, so this never fails; NUL bytes are kept (the table parser
    reports the lines they damage).
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        try:
            return raw.decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    elif raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its BOM (some Windows exports)
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def head_text(path: Path, n: int = 8192) -> str:
    """The first ``n`` bytes decoded (a multi-byte character cut at the end is dropped)."""
    raw = head_bytes(path, n)
    if len(raw) == n:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # the cut fell inside a UTF-8 character: drop its first bytes, not the encoding
            if exc.reason == "unexpected end of data":
                raw = raw[: exc.start]
    return decode(raw)[0]


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """A whole text file, decoded as :func:`decode` does."""
    return decode(read_bytes(path, limit))[0]


def run_bounded(cmd: list[str], limit_bytes: int, limit_s: float) -> tuple[bytes, bytes, int, str]:
    """``(stdout, stderr, exit code, why it was stopped or "")``: the process is killed when
    it runs over ``limit_s`` seconds or writes over ``limit_bytes``."""
    import selectors

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    chunks: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    total = 0
    why = ""
    deadline = time.monotonic() + limit_s
    sel = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        sel.register(stream, selectors.EVENT_READ)
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                why = f"ran over {limit_s:.0f} s"
                break
            for key, _ in sel.select(timeout=min(left, 1.0)):
                data = key.fileobj.read(1 << 16)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                chunks[key.fileobj.fileno()].append(data)
                total += len(data)
            if total > limit_bytes:
                why = f"wrote over {limit_bytes / 2**20:.0f} MiB"
                break
    finally:
        sel.close()
        if why:
            proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
            pass
        out = b"".join(chunks[proc.stdout.fileno()])
        err = b"".join(chunks[proc.stderr.fileno()])
        proc.stdout.close()
        proc.stderr.close()
    return out, err, proc.returncode if proc.returncode is not None else -9, why
