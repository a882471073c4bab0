"""Every cycler reader under the mutation fuzzer (bz.testing.fuzz), a few hundred seeded
cases in all: damaged copies of a real record of each format (the format named, so the
damage reaches the reader), each refused with a BatteryZoomError, read as the clean file,
warned about, or judged undetectable by record_table_judge; never a raw exception, a hang
or a silently different table. The campaign of >= 1,000 cases per reader whose counts the
README quotes is toolkit/scripts/fuzz_readers.py --family cycler."""

from __future__ import annotations

import collections
import warnings

import pandas as pd
import pytest

from batteryzoom.io.cycler import FORMATS, read_cycler
from batteryzoom.testing.fuzz import campaign, record_table_judge

# format -> (the real record whose copies are damaged, cases): the smallest of each format
CASES = {
    "neware-ndax": ("real/cycler/neware-scrubbed-ndc2", 16),
    "neware-nda": ("real/cycler/neware-nda-v22", 16),
    "neware-btsda": ("real/cycler/neware-interp-test-btsda", 16),
    "neware-btsda-3level": ("twin:btsda-3level", 16),
    "biologic-mpr": ("real/cycler/biologic-navani-00-test-01-ocv-c01", 16),
    "biologic-mpt": ("real/cycler/biologic-pyprobe-sample-data-biologic-no-header", 16),
    "arbin-res": ("real/cycler/arbin-res", 16),
    "arbin-xlsx": ("real/cycler/arbin-xlsx", 4),  # ~1 s a read: openpyxl
    "arbin-csv": ("real/cycler/arbin-pyprobe-sample-data-arbin", 16),
    "maccor-txt": ("real/cycler/maccor-pyprobe-sample-data-maccor", 16),
    "maccor-eis": ("real/cycler/maccor-beep-maccor-test-file-4267-66-6519-eda0001-041", 16),
    "novonix-csv": ("real/cycler/novonix-pyprobe-sample-data-novonix", 16),
    "basytec-txt": ("real/cycler/basytec-pyprobe-sample-data-basytec", 16),
    "pec-csv": ("real/cycler/pec-cellpy-pec-test25205", 16),
    "indigo-h5": ("real/cycler/indigo-beep-indigo-test-sample", 12),
    "bdf-csv": ("real/cycler/bdf-sintef-g20m7", 8),
    "bdf-parquet": ("parquet:real/cycler/bdf-sintef-g20m7", 8),
    "pyprobe-parquet": ("real/cycler/lgm50-rest", 8),
    "csv": ("real/cycler/arbin-pyprobe-sample-data-arbin", 16),
    "xlsx": ("sheet:real/cycler/arbin-xlsx:Channel_11_1", 4),  # its data sheet alone: a generic workbook
}


def test_every_format_is_fuzzed():
    assert sorted(CASES) == sorted(FORMATS)


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", sorted(CASES))
def test_damaged_copies_are_refused_or_read_right_or_warned(fmt, fetch_real, unchanged, tmp_path):
    spec, n = CASES[fmt]
    if spec == "twin:btsda-3level":
        from batteryzoom.data.twin import cycling as twin

        path = tmp_path / "twin_btsda_three_level.csv"
        path.write_text(twin.one_cycle()["btsda.csv"])
        sources = [path]
    elif spec.startswith("parquet:"):
        sources = fetch_real(spec.split(":", 1)[1])
        path = tmp_path / "g20m7.parquet"
        pd.read_csv(sources[0]).to_parquet(path)
    elif spec.startswith("sheet:"):
        name, sheet = spec.split(":")[1:]
        sources = fetch_real(name)
        path = tmp_path / f"{sheet}.xlsx"
        pd.read_excel(sources[0], sheet_name=sheet).to_excel(path, index=False)
    else:
        sources = fetch_real(spec)
        path = sources[0]
    companions = [f for f in sources[1:] if f.name.endswith("_Metadata.csv")]
    with unchanged(*sources), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes = campaign(lambda p: read_cycler(p, format=fmt), [path], n_per_file=n, seed=2027,
                            timeout_s=30.0, result_judge=record_table_judge, companions=lambda p: companions)
    kinds = collections.Counter(o.kind for o in outcomes)
    bugs = [f"{o.kind}: {o.mutation}: {o.detail[:160]}" for o in outcomes if o.bug]
    assert not bugs, f"{fmt}: {dict(kinds)}\n" + "\n".join(bugs)
    assert len(outcomes) == n
    # the damage reaches the reader: most copies are refused or differ from the clean read
    assert kinds["same"] < n
