"""bz.testing.fuzz: seeded mutations, and the reader outcomes they are classified into."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from batteryzoom.errors import FileFormatError
from batteryzoom.testing.fuzz import campaign, mutations, run_case

CLEAN = b"time,voltage\n0,3.5\n1,3.6\n2,3.7\n"


def test_mutations_are_seeded_and_damage_the_bytes():
    a = [m.data for m in mutations(CLEAN, seed=3, n=20)]
    b = [m.data for m in mutations(CLEAN, seed=3, n=20)]
    assert a == b
    assert sum(x != CLEAN for x in a) >= 18  # a mutation may, rarely, give the same bytes
    assert [m.data for m in mutations(CLEAN, seed=4, n=20)] != a


def _reader(kind):
    def read(path: Path):
        text = path.read_bytes()
        if kind == "refuse":
            raise FileFormatError(path, "damaged", "use a clean copy")
        if kind == "escape":
            raise KeyError("raw")
        if kind == "hang":
            time.sleep(5)
        if kind == "warn":
            warnings.warn("repaired a row")
            return len(text) + 1
        return len(text)
    return read


@pytest.mark.parametrize("kind, expected", [("refuse", "refused"), ("escape", "escaped"), ("warn", "warned"),
                                            ("ok", "silent"), ("hang", "hang")])
def test_run_case_classifies_what_the_reader_did(tmp_path, kind, expected):
    f = tmp_path / "x.csv"
    f.write_bytes(CLEAN[:-3])
    out = run_case(_reader(kind), f, len(CLEAN), timeout_s=0.5)
    assert out.kind == expected
    assert out.bug == (expected in ("escaped", "silent", "hang"))


def test_same_result_is_not_a_bug_and_the_clean_file_is_untouched(tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(CLEAN)
    outcomes = campaign(lambda p: p.read_bytes()[:5], [f], n_per_file=10, seed=0)
    assert f.read_bytes() == CLEAN
    assert len(outcomes) == 10 and {o.kind for o in outcomes} <= {"same", "silent"}
    assert any(o.kind == "same" for o in outcomes)  # damage past byte 5 does not change the result
