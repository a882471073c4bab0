"""Sniffing (io/cycler/sniff.py) over the reader registry (io/cycler/_registry.py): every
real record named by its content (whatever its name), header variants (units or none,
preambles, quoted lines, BOMs, separators), sure markers before column names, an error
listing the candidates and their evidence when two makes match alike, the registry's
order, and what a file no format matches is refused as."""

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
    "real/cycler/neware-new-nda-file": "neware-nda",
    "real/cycler/neware-2-1-6-61-07005012": "neware-nda",
    "real/cycler/neware-issue5-test-2": "neware-ndax",
    "real/cycler/neware-issue27-46-1-5-60-zzzzzzzztest": "neware-ndax",
    "real/cycler/neware-issue94-unit27-example-data-file": "neware-ndax",
    "real/cycler/neware-pr28-test-data-collection-ndc17": "neware-ndax",
    "real/cycler/neware-sim": "neware-nda",
    "real/cycler/neware-nda8": "neware-nda",
    "real/cycler/neware-nda-v22": "neware-nda",
    "real/cycler/neware-nda-v26": "neware-nda",
    "real/cycler/neware-21-10-7-85": "neware-ndax",
    "real/cycler/neware-unit27-example-corrupt": "neware-ndax",
    "real/cycler/neware-empty": "neware-ndax",
    "real/cycler/neware-nw4-120-1-6-53": "neware-ndax",
    "real/cycler/neware-scrubbed-ndc2": "neware-ndax",
    "real/cycler/neware-cellpy-20260302-ife-bts85-2-9-8-1": "neware-ndax",
    "real/cycler/neware-navani-test": "neware-ndax",
    "real/cycler/arbin-cellpy-20160805-test001-45-cc-01": "arbin-res",
    "real/cycler/arbin-cellpy-aux-one-x-dx": "arbin-res",
    "real/cycler/arbin-cellpy-aux-multi-x": "arbin-res",
    "real/cycler/arbin-beep-2017-05-09-test-tc-contact-ch33": "arbin-csv",
    "real/cycler/arbin-beep-fastcharge-000025-ch8": "arbin-csv",
    "real/cycler/arbin-pyprobe-sample-data-arbin": "arbin-csv",
    "real/cycler/maccor-cellpy-maccor-002": "maccor-txt",
    "real/cycler/maccor-beep-maccor-test-file-4267-66-6519-eda0001-041": "maccor-eis",
    "real/cycler/maccor-beep-predictiondiagnostics-000151-paused-052": "maccor-txt",
    "real/cycler/maccor-beep-prediag-000229-000229-truncated-034": "maccor-txt",
    "real/cycler/maccor-beep-xtesladiag-000038con-078": "maccor-txt",
    "real/cycler/maccor-pyprobe-sample-data-maccor": "maccor-txt",
    "real/cycler/biologic-navani-00-test-04-mb-c01": "biologic-mpr",
    "real/cycler/biologic-navani-00-test-01-ocv-c01": "biologic-mpr",
    "real/cycler/biologic-pyprobe-sample-data-biologic-ca1": "biologic-mpt",
    "real/cycler/biologic-pyprobe-sample-data-biologic-no-header": "biologic-mpt",
    "real/cycler/biologic-pyprobe-sample-data-biologic-timestamped": "biologic-mpt",
    "real/cycler/novonix-beep-test-nova-form-ch01-01-short": "novonix-csv",
    "real/cycler/novonix-pyprobe-sample-data-novonix": "novonix-csv",
    "real/cycler/basytec-pyprobe-sample-data-basytec": "basytec-txt",
    "real/cycler/indigo-beep-indigo-test-sample": "indigo-h5",
    "real/cycler/pec-cellpy-pec": "pec-csv",
    "real/cycler/pec-cellpy-pec-test25205": "pec-csv",
    "real/cycler/bdf-cellpy-batmo-bdf": "bdf-csv",
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_record_is_sniffed_from_its_content(name, fetch_real, tmp_path, unchanged):
    path = fetch_real(name)[0]
    with unchanged(path):
        assert detect_format(path) == EXPECTED[name]
    # the content decides, not the name: the same bytes under a neutral name
    blind = tmp_path / "record.dat"
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


def _arbin_rows(n=5):
    return "".join(f"{k},{k * 10.0},{k * 10.0},1,1,0.5,3.{k},0.{k},0\n" for k in range(1, n + 1))


@pytest.mark.parametrize("header, expected", [
    # Arbin: units in parentheses (MITS Pro), none (the database's names, TRI's exports),
    # spaced names with units (MITS Pro 8)
    ("Data_Point,Test_Time(s),Step_Time(s),Step_Index,Cycle_Index,Current(A),Voltage(V),Charge_Capacity(Ah),"
     "Discharge_Capacity(Ah)", "arbin-csv"),
    ("Data_Point,Test_Time,Step_Time,Step_Index,Cycle_Index,Current,Voltage,Charge_Capacity,Discharge_Capacity",
     "arbin-csv"),
    ("Data Point,Test Time (s),Step Time (s),Step Index,Cycle Index,Current (A),Voltage (V),Charge Capacity (Ah),"
     "Discharge Capacity (Ah)", "arbin-csv"),
])
def test_arbin_header_variants_with_or_without_units(tmp_path, header, expected):
    path = tmp_path / "export.csv"
    path.write_text(header + "\n" + _arbin_rows())
    assert detect_format(path) == expected
    # a UTF-8 BOM and CRLF line ends are the exports' own: the same answer, the same rows
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert detect_format(bom) == expected
    from batteryzoom.io.cycler import read_cycler

    assert len(read_cycler(bom)) == len(read_cycler(path)) == 5  # the BOM does not eat the first row


def test_maccor_variants_after_any_preamble(tmp_path):
    rows = "".join(f"{k}\t0\t1\t{k}.0\t{k}.0\t0\t0\t1.0\t3.7\tC\t0\t01/02/2020 10:00:{k:02d}\n" for k in range(1, 6))
    raw = "Rec#\tCyc#\tStep\tTest (Sec)\tStep (Sec)\tAmp-hr\tWatt-hr\tAmps\tVolts\tState\tES\tDPt Time\n"
    for preamble in ("", "Today's Date 01/02/2020  Date of Test:\t01/02/2020\n",
                     "Name:\tcell\nChannel:\t3\nProcedure\tx.000\n\n"):
        path = tmp_path / "run.034"
        path.write_text(preamble + raw + rows)
        assert detect_format(path) == "maccor-txt"
    # the CSV export: comma separated, units in names, no State column
    csv = tmp_path / "run.csv"
    csv.write_text("Today's Date ,28-Nov-23\nRec,Cycle C,Step,Test Time (sec),Step Time (sec),Capacity,Energy,"
                   "Current,Voltage,DPT Time\n" + "".join(f"{k},1,1,{k}.0,{k}.0,0,0,0,3.6,23-Nov-23 3:56:1{k} PM\n"
                                                          for k in range(1, 6)))
    assert detect_format(csv) == "maccor-txt"


def test_two_makes_matching_on_column_names_alone_is_an_error_listing_both(tmp_path):
    # Neware's DataPoint and Step Type, and Arbin's own names, in one header: neither make's
    # marker, and names of both
    path = tmp_path / "mixed.csv"
    path.write_text("DataPoint,Step Type,Test_Time,Step_Time,Step_Index,Cycle_Index,Current,Voltage,Charge_Capacity\n"
                    + "".join(f"{k},CC_Chg,{k}.0,{k}.0,1,1,0.5,3.{k},0.{k}\n" for k in range(1, 6)))
    from batteryzoom.io.cycler.sniff import Sample, candidates

    found = {f.name: e for f, e in candidates(Sample(path))}
    assert {"neware-btsda", "arbin-csv", "csv"} <= set(found)
    assert not found["arbin-csv"].sure and not found["neware-btsda"].sure
    with pytest.raises(FileFormatError, match=r"matches several cycler readers on column names alone: "
                                              r"neware-btsda \(.*DataPoint.*\); arbin-csv \(.*Arbin's column names"):
        detect_format(path)
    # the user's format= settles it
    from batteryzoom.io.cycler import read_cycler

    assert read_cycler(path, format="arbin-csv").attrs["format"] == "arbin-csv"


def test_a_sure_marker_beats_column_names(tmp_path):
    # a BDF table (its labels are its own marker) also carries Arbin-like names
    path = tmp_path / "bdf.csv"
    path.write_text("Test Time / s,Voltage / V,Current / A,Step Index / 1,Cycle Count / 1,Charge Capacity / Ah,"
                    "Discharge Capacity / Ah\n" + "".join(f"{k}.0,3.{k},0.5,1,1,0.{k},0\n" for k in range(1, 6)))
    assert detect_format(path) == "bdf-csv"


def test_quoted_lines_and_a_header_less_ec_lab_export_are_recognised(tmp_path):
    novonix = tmp_path / "n.csv"
    novonix.write_text("[Summary]\nNovonix HPC data file\nNovonix\n[End Summary]\n[Data]\n"
                       '"Date and Time,Cycle Number,Step Type,Run Time (h),Step Time (h),Current (A),Potential (V),'
                       'Capacity (Ah),Step Number"\n'
                       + "".join(f'"2022-04-11 10:58:0{k} AM,1,1,{k / 3600:.7f},{k / 3600:.7f},0.01,3.{k},0.0{k},1"\n'
                                 for k in range(5)))
    assert detect_format(novonix) == "novonix-csv"
    mpt = tmp_path / "cut.mpt"
    mpt.write_text("mode\tox/red\terror\tcontrol changes\tNs changes\tcounter inc.\tNs\ttime/s\tEcell/V\tI/mA\n"
                   + "".join(f"1\t1\t0\t0\t0\t0\t0\t{k}.0\t3.{k}\t1.0\n" for k in range(5)))
    assert detect_format(mpt) == "biologic-mpt"


def test_damaged_files_are_refused_by_the_sniffer_with_what_they_look_like(tmp_path):
    import os

    zipped_other = tmp_path / "x.nda.zip"
    with zipfile.ZipFile(zipped_other, "w") as zf:
        zf.writestr("notes.txt", b"hello")
    with pytest.raises(FileFormatError, match=r"zip archive holding \['notes.txt'\]"):
        detect_format(zipped_other)
    h5 = tmp_path / "other.h5"
    import h5py

    with h5py.File(h5, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(FileFormatError, match=r"HDF5 file \(groups \['x'\]\)"):
        detect_format(h5)
    damaged_h5 = tmp_path / "damaged.h5"
    damaged_h5.write_bytes(h5.read_bytes()[:600])
    with pytest.raises(FileFormatError, match="damaged HDF5"):
        detect_format(damaged_h5)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(FileFormatError, match="FIFO"):
        detect_format(fifo)  # refused before it is opened: opening would block
