"""Sniffing (io/cycler/sniff.py) over the reader registry (io/cycler/_registry.py): every
real record named by its content, the registry's order, first match wins by rank, and
what a file no format matches is refused as."""

from __future__ import annotations

import importlib
import zipfile

import numpy as np
import pandas as pd
import pytest

import batteryzoom as bz
from batteryzoom.errors import FileFormatError
from batteryzoom.io.cycler import FORMATS, detect_format
from batteryzoom.io.cycler._registry import _READER_MODULES, by_priority, formats

# what each record of the manifest is (the loader's file names say the same)
EXPECTED = {
    "real/cycler/neware-m50t": "neware-ndax",
    "real/cycler/neware-bts85-700k": "neware-ndax",
    "real/cycler/neware-interp-test": "neware-ndax",
    "real/cycler/neware-interp-test-btsda": "neware-btsda",
    "real/cycler/neware-uio-btsda": "neware-btsda",
    "real/cycler/biologic-cellpy": "biologic-mpr",
    "real/cycler/biologic-navani-gcpl": "biologic-mpr",
    "real/cycler/arbin-res": "arbin-res",
    "real/cycler/arbin-xlsx": "arbin-xlsx",
    "real/cycler/maccor-m50-0degc": "maccor-txt",
    "real/cycler/maccor-beep-041": "maccor-txt",
    "real/cycler/bdf-sintef-g20m7": "bdf-csv",
    "real/cycler/lgm50-rest": "pyprobe-parquet",
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_record_is_sniffed_from_its_content(name, fetch_real, tmp_path):
    path = fetch_real(name)[0]
    assert detect_format(path) == EXPECTED[name]
    # the content decides, not the name: the same bytes under a neutral name (a workbook
    # keeps its suffix: openpyxl opens by extension, a limitation left to the hardening work)
    blind = tmp_path / ("record" + (path.suffix if path.suffix == ".xlsx" else ".dat"))
    blind.write_bytes(path.read_bytes())
    assert detect_format(blind) == EXPECTED[name]


def test_every_format_is_registered_once_by_its_make_module():
    regs = formats()
    assert list(regs) == list(FORMATS)
    assert len(FORMATS) == 20
    for name, fmt in regs.items():
        module = fmt.module.rpartition(".")[2]
        assert module in _READER_MODULES, name
        assert importlib.import_module(fmt.module).__doc__, f"{fmt.module} has no docstring"
        assert fmt.description == FORMATS[name]
    # listed by make, in the order of the modules
    order = [_READER_MODULES.index(f.module.rpartition(".")[2]) for f in regs.values()]
    assert order == sorted(order)
    # the catch-all table readers are asked last
    assert [f.name for f in by_priority()][-2:] == ["csv", "xlsx"]


def test_first_match_wins_by_rank(tmp_path):
    # a Maccor export is also a tab-separated table: its own marker ranks first
    maccor = tmp_path / "run.txt"
    maccor.write_text("Today's Date 01/02/2020\nRec#\tCyc#\tStep\tTestTime\tAmps\tVolts\tState\n"
                      + "".join(f"{k}\t0\t1\t0:00:{k:02d}\t1.0\t3.7\tC\n" for k in range(1, 6)))
    assert detect_format(maccor) == "maccor-txt"
    # a parquet table with BDF names is BDF even when it also has PyProBE's
    both = pd.DataFrame({"test_time_second": np.arange(5.0), "Time [s]": np.arange(5.0),
                         "Voltage [V]": np.full(5, 3.7)})
    both.to_parquet(tmp_path / "both.parquet")
    assert detect_format(tmp_path / "both.parquet") == "bdf-parquet"
    both.drop(columns="test_time_second").to_parquet(tmp_path / "pyprobe.parquet")
    assert detect_format(tmp_path / "pyprobe.parquet") == "pyprobe-parquet"


def test_unrecognised_files_are_refused_as_what_they_look_like(tmp_path):
    other_zip = tmp_path / "photos.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("cat.jpg", b"\xff\xd8")
    with pytest.raises(FileFormatError, match=r"zip archive holding \['cat.jpg'\], not a cycler record"):
        detect_format(other_zip)
    broken = tmp_path / "broken.ndax"
    broken.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(FileFormatError, match="Neware .ndax file but its zip structure is broken"):
        detect_format(broken)
    with pytest.raises(FileFormatError, match="does not exist"):
        detect_format(tmp_path / "nowhere.csv")


def test_detect_format_reads_only_the_head_of_a_text_file(tmp_path):
    """Sniffing a big export reads its first 8 KiB, not the whole file."""
    path = tmp_path / "big.csv"
    rows = "".join(f"{k},3.7,1.0\n" for k in range(200_000))
    path.write_text("Test Time (s),Voltage (V),Current (A)\n" + rows)
    from batteryzoom.io.cycler.sniff import Sample

    sample = Sample(path)
    assert len(sample.text) <= 8192 and sample.container == "text"
    assert detect_format(path) == "csv"
    assert bz.io.cycler.detect_format is detect_format


def test_the_package_table_lists_every_format_with_its_module_and_rank():
    """The table in the io.cycler docstring is the users' list of supported variants: it
    must say what the registry does."""
    import re

    doc = bz.io.cycler.__doc__
    table = doc[doc.index("Supported makes"):doc.index("Layout (as xarray")]
    rows = re.findall(r"^``([\w-]+)``\s+.*?\s``(\w+)``\s+(\d+)$", table, flags=re.M)
    assert {name: (module, int(rank)) for name, module, rank in rows} == {
        f.name: (f.module.rpartition(".")[2], f.priority) for f in formats().values()}
