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
        if kind == "hang":  # spins: CPU time
            t0 = time.process_time()
            while time.process_time() - t0 < 5:
                pass
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


def test_a_read_blocked_without_cpu_is_a_hang_after_the_wall_limit(tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(CLEAN)
    out = run_case(lambda p: time.sleep(5), f, None, timeout_s=0.5, wall_timeout_s=1.0)
    assert out.kind == "hang" and out.detail.startswith("blocked") and 0.9 < out.seconds < 4


def test_a_read_waiting_for_a_busy_host_is_not_a_hang(tmp_path):
    # a starved read spends wall time without CPU time: 1.2 s of wall time, ~0.1 s of CPU,
    # against a 0.5 s limit (the campaign's 8 xlsx "hangs" read in 0.5 s of CPU)
    f = tmp_path / "x.csv"
    f.write_bytes(CLEAN)

    def starved(path: Path):
        time.sleep(1.1)
        t0 = time.process_time()
        while time.process_time() - t0 < 0.1:
            pass
        return len(path.read_bytes())

    out = run_case(starved, f, len(CLEAN), timeout_s=0.5)
    assert out.kind == "same" and out.seconds > 1.1 and out.cpu_seconds < 0.5


def test_same_result_is_not_a_bug_and_the_clean_file_is_untouched(tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(CLEAN)
    outcomes = campaign(lambda p: p.read_bytes()[:5], [f], n_per_file=10, seed=0)
    assert f.read_bytes() == CLEAN
    assert len(outcomes) == 10 and {o.kind for o in outcomes} <= {"same", "silent"}
    assert any(o.kind == "same" for o in outcomes)  # damage past byte 5 does not change the result


def test_mutations_record_the_bytes_they_replaced():
    data = bytes(range(256)) * 40
    for m in mutations(data, seed=11, n=200):
        if not m.in_place:
            continue
        assert len(m.data) == len(data) and m.spans
        changed = [i for i, (a, b) in enumerate(zip(m.data, data)) if a != b]
        assert all(any(s <= i < e for s, e in m.spans) for i in changed), m.name


def _pixels(path: Path):
    import numpy as np

    raw = path.read_bytes()
    if len(raw) != 16 + 64:
        raise FileFormatError(path, "wrong size", "use a clean copy")
    if raw[:16] != b"HEADER-16-BYTES!":
        raise FileFormatError(path, "bad header", "use a clean copy")
    return np.frombuffer(raw[16:], np.uint8).reshape(8, 8)


def test_damage_confined_to_free_values_is_undetectable_not_silent(tmp_path):
    from batteryzoom.testing.fuzz import counts
    from batteryzoom.testing.payload import judge

    f = tmp_path / "img.raw"
    f.write_bytes(b"HEADER-16-BYTES!" + bytes(range(64)))
    is_free = judge(lambda p: [(16, 80)], "raw pixel data")
    outcomes = campaign(_pixels, [f], n_per_file=120, seed=1, judge=is_free)
    found = counts(outcomes)
    assert found["undetectable"] > 0 and found["refused"] > 0
    # without the judge the same damage is a silent change: nothing is hidden by default
    assert counts(campaign(_pixels, [f], n_per_file=120, seed=1))["silent"] == found["undetectable"] + found["silent"]
    for o in outcomes:  # what the judge called undetectable was a values-only change
        assert o.kind != "undetectable" or o.detail == "raw pixel data"


def test_tree_campaign_damages_each_member_in_a_copy(tmp_path, unchanged):
    from batteryzoom.testing.fuzz import counts, tree_campaign

    root = tmp_path / "scan"
    root.mkdir()
    for k in range(2):
        (root / f"part{k}.txt").write_text(f"{k},1\n{k},2\n")

    def read(folder: Path):
        parts = sorted(folder.glob("*.txt"))
        if len(parts) != 2:
            raise FileFormatError(folder, "a part is missing", "restore it")
        return b"".join(p.read_bytes() for p in parts)

    with unchanged(root):
        outcomes = tree_campaign(read, root, ["part0.txt", root / "part1.txt"], n_per_file=15, seed=2)
    assert len(outcomes) == 30 and {o.source for o in outcomes} == {"part0.txt", "part1.txt"}
    assert sum(counts(outcomes).values()) == 30 and counts(outcomes)["silent"] > 0


def _record(n: int = 3000):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    lsb = 1.97e-5  # a 0.5 A constant-current step logged on an ADC's levels
    return pd.DataFrame({"test_time_second": np.arange(n, dtype=float),
                         "voltage_volt": np.linspace(3.6, 4.2, n),
                         "current_ampere": 0.5 + lsb * rng.integers(-6, 7, n)})


def test_a_few_substitutions_repeated_in_many_records_are_undetectable():
    # the real case: a byte of an LZ4 page, copied by its back-references, turned one ADC
    # level into another in ~1,400 rows, and the same old level into old + 1e-14 elsewhere
    import numpy as np

    from batteryzoom.testing.fuzz import record_table_judge

    clean = _record()
    damaged = clean.copy()
    current = damaged["current_ampere"].to_numpy().copy()
    level = np.unique(current)[6]
    rows = np.flatnonzero(current == level)
    current[rows[: len(rows) * 2 // 3]] = np.unique(current)[8]
    current[rows[len(rows) * 2 // 3:]] = level + 1e-14
    damaged["current_ampere"] = current
    assert len(rows) > len(clean) // 100  # more than the "a value changed" verdict allows
    assert "share a few changed values" in record_table_judge("bitflip@1", damaged, clean)


def test_many_different_changes_are_not_undetectable():
    import numpy as np

    from batteryzoom.testing.fuzz import record_table_judge

    clean = _record()
    damaged = clean.copy()
    rows = np.arange(0, len(clean), 7)  # scattered, each a different new value
    damaged.loc[rows, "voltage_volt"] += np.linspace(1e-3, 2e-3, len(rows))
    assert record_table_judge("bitflip@1", damaged, clean) is None
    assert record_table_judge("delete@1", clean.iloc[np.r_[0:100, 200:len(clean)]], clean.assign()) is None
