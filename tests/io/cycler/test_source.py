"""Safe file access (io/cycler/_source.py): regular files only, refused before they are
opened; bounded helper programs; decoding with or without a BOM."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from batteryzoom.errors import FileFormatError
from batteryzoom.io.cycler import read_cycler
from batteryzoom.io.cycler._source import check_file, decode, run_bounded


@pytest.mark.timeout(20)
def test_a_fifo_a_device_and_a_folder_are_refused_without_reading_them(tmp_path):
    fifo = tmp_path / "record.csv"
    os.mkfifo(fifo)
    with pytest.raises(FileFormatError, match="FIFO"):  # opening it would block until a writer comes
        read_cycler(fifo)
    with pytest.raises(FileFormatError, match="is a device"):  # read_text of /dev/zero never ends
        read_cycler(Path("/dev/zero"))
    with pytest.raises(FileFormatError, match="is a folder"):
        read_cycler(tmp_path)
    with pytest.raises(FileFormatError, match="does not exist"):
        check_file(tmp_path / "nowhere.csv")
    with pytest.raises(FileFormatError, match=r"empty \(0 bytes\)"):
        (tmp_path / "e.csv").write_bytes(b"")
        read_cycler(tmp_path / "e.csv", format="csv")


def test_bounded_programs_are_stopped_by_time_and_by_output():
    t0 = time.perf_counter()
    _out, _err, _code, why = run_bounded([sys.executable, "-c", "import time; time.sleep(30)"], 1 << 20, 1.0)
    assert why.startswith("ran over") and time.perf_counter() - t0 < 10
    out, _err, _code, why = run_bounded([sys.executable, "-c", "while True: print('x' * 1000)"], 1 << 20, 30.0)
    assert why.startswith("wrote over") and len(out) < 2 << 20
    out, err, code, why = run_bounded([sys.executable, "-c", "import sys; print('ok'); sys.stderr.write('warn')"],
                                      1 << 20, 30.0)
    assert (out.strip(), err, code, why) == (b"ok", b"warn", 0, "")


def test_decoding_drops_a_bom_and_falls_back_to_windows_1252():
    assert decode(b"\xef\xbb\xbfa,b\n") == ("a,b\n", "utf-8-sig")
    assert decode("µA".encode("cp1252")) == ("µA", "cp1252")
    assert decode("x".encode("utf-16")) == ("x", "utf-16")
