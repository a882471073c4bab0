"""Fixtures of the cycler reader tests (tests/io/cycler/): real records read through the
manifest, and a small synthetic cycle to write in any table layout."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import need

# the optional piece each real record needs
NEEDS = {
    "real/cycler/biologic-cellpy": "galvani",
    "real/cycler/biologic-navani-gcpl": "galvani",
    "real/cycler/arbin-res": "mdb-export",
}


def _need_piece(piece: str | None) -> None:
    if piece == "galvani":
        try:
            import galvani  # noqa: F401
        except ImportError:
            need("galvani is not installed: pip install 'batteryzoom[gpl]' (make test installs it)")
    elif piece == "mdb-export" and shutil.which("mdb-export") is None:
        need("mdbtools is not installed: sudo apt-get install mdbtools (make setup installs it)")


@pytest.fixture(scope="session")
def read_real(fetch_real, unchanged):
    """``read_real(name) -> DataFrame``: a real cycler record of the manifest, read through
    its loader (time-repair warnings silenced) with its files' SHA-256 unchanged after the
    read, or skip/fail when a piece is missing."""
    import batteryzoom as bz
    from batteryzoom.io.cycler import TimeRepairWarning

    def _read(name: str) -> pd.DataFrame:
        files = fetch_real(name)
        _need_piece(NEEDS.get(name))
        with unchanged(*files), warnings.catch_warnings():
            warnings.simplefilter("ignore", TimeRepairWarning)
            return bz.data.load(name)

    return _read


@pytest.fixture(scope="session")
def need_piece():
    """``need_piece(piece)``: skip (fail under CI) when ``"galvani"`` or ``"mdb-export"`` is missing."""
    return _need_piece


@pytest.fixture(scope="session")
def cycle_table():
    """``cycle_table(n=400, dt=10.0)``: a rest, a 1 A charge, a rest and a 1 A discharge,
    sampled every ``dt`` seconds, as columns ``t`` (s), ``v`` (V), ``i`` (A)."""

    def _table(n: int = 400, dt: float = 10.0) -> pd.DataFrame:
        t = np.arange(n) * dt
        q = n // 4
        current = np.r_[np.zeros(q), np.ones(q), np.zeros(q), -np.ones(n - 3 * q)]
        voltage = 3.6 + 0.5 * np.r_[np.zeros(q), np.linspace(0, 1, q), np.ones(q), np.linspace(1, 0, n - 3 * q)]
        return pd.DataFrame({"t": t, "v": voltage, "i": current})

    return _table


# --------------------------------------------------------------------------- references
# Each make's test module builds, for its real files, an independent reference table (the
# format's own library, mdbtools' raw tables, or pandas on the raw columns) with the
# columns below, and compares read_cycler's table to it with assert_matches_reference:
#
#   t       test time (s) (or step_t, the step time)   v      cell voltage (V)
#   i       current (A), + on charge        step   the reference's own step key (any values)
#   q       the file's own charge count, signed or not, as the file writes it (Ah), or
#   q_ch, q_dis   its two counts of charge and of discharge (Arbin, PEC, BDF, BTSDA)
#
# and the counts' scope as the format documents it: "step" (restarts at each step),
# "running" (carries on over steps and restarts where it falls back, e.g. Arbin's count per
# cycle) or "net" (signed, over the test: BioLogic's (Q-Qo)). The reference's per-step
# amounts come from those raw counts with the simple arithmetic here, not from the reader.


def _amounts(q: np.ndarray, starts: np.ndarray, ends: np.ndarray, scope: str) -> np.ndarray:
    """Per step: the count's signed change over the step from its baseline."""
    if scope == "step":
        base = np.zeros(len(starts))
    elif scope == "net":  # over the test, from wherever it starts
        base = np.r_[q[0], q[starts[1:] - 1]]
    else:
        prev = np.r_[0.0, q[starts[1:] - 1]]
        base = np.where(np.abs(q[starts]) + 1e-12 >= np.abs(prev), prev, 0.0)
    return q[ends] - base


def _assert_matches_reference(df: pd.DataFrame, ref: pd.DataFrame, *, scope: str | None, t_atol: float,
                             v_atol: float, i_atol: float | None, q_rtol: float = 1e-3,
                             q_atol: float | None = None,
                             rows: slice | None = None) -> None:
    """read_cycler's table against the reference: the same rows, time, voltage and current
    within the file's resolution, and what every reference step moved (charge minus
    discharge for one count, each for two) within ``q_rtol`` (plus ``q_atol``, default
    1e-5 of the largest step's: a rest holding a count of a few nAh is a rest, 0 Ah) of
    the sum of read_cycler's own steps' totals over that step's rows."""
    ours = (df if rows is None else df.iloc[rows]).reset_index(drop=True)
    ref = (ref if rows is None else ref.iloc[rows]).reset_index(drop=True)
    assert len(ours) == len(ref), f"{len(ours)} rows read, the reference has {len(ref)}"
    if "t" in ref:
        np.testing.assert_allclose(ours["test_time_second"], ref["t"], atol=t_atol, rtol=0)
    else:  # a reference with only the step time (NewareNDA)
        np.testing.assert_allclose(ours["step_time_second"], ref["step_t"], atol=t_atol, rtol=0)
    np.testing.assert_allclose(ours["voltage_volt"], ref["v"], atol=v_atol, rtol=0)
    if i_atol is not None:  # None: the file has no current column (checked by the caller)
        np.testing.assert_allclose(ours["current_ampere"], ref["i"], atol=i_atol, rtol=0)
    if scope is None:
        return
    step = ref["step"].to_numpy()
    starts = np.flatnonzero(np.r_[True, step[1:] != step[:-1]])
    ends = np.r_[starts[1:], len(step)] - 1
    sc = ours["step_count"].to_numpy()
    at_end = np.r_[sc[1:] != sc[:-1], True]  # each of our steps' totals, once, at its last row
    ch = np.where(at_end, ours["charging_capacity_ah"].to_numpy(), 0.0)
    dis = np.where(at_end, ours["discharging_capacity_ah"].to_numpy(), 0.0)
    # per step of the reference: its direction (the sign of its mean current)
    i_ref = ref["i"].to_numpy(np.float64)
    direction = np.sign(np.add.reduceat(i_ref, starts))
    if "q_ch" in ref:
        # two counts: each compared in the steps of its direction (a count of the other
        # direction inside a step, such as Arbin's resistance pulse at a step's start, is
        # not the step's: BDF counts a step's own direction)
        wants = {"charge": _amounts(ref["q_ch"].to_numpy(np.float64), starts, ends, scope),
                 "discharge": _amounts(ref["q_dis"].to_numpy(np.float64), starts, ends, scope)}
        gots = {"charge": np.add.reduceat(ch, starts), "discharge": np.add.reduceat(dis, starts)}
        use = {"charge": direction > 0, "discharge": direction < 0}
    else:
        wants = {"net": np.abs(_amounts(ref["q"].to_numpy(np.float64), starts, ends, scope))}
        gots = {"net": np.abs(np.add.reduceat(ch - dis, starts))}
        use = {"net": np.ones(len(starts), dtype=bool)}
    scale = max(float(np.abs(w).max(initial=0.0)) for w in wants.values())
    floor = 1e-5 * scale if q_atol is None else q_atol
    for what in wants:
        got, want = gots[what], np.abs(wants[what])
        bad = use[what] & (np.abs(got - want) > q_rtol * want + floor + 1e-12)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise AssertionError(f"{what} of the reference step at rows {starts[k]}..{ends[k]}: the file's count "
                                 f"moved {want[k]:.9g} Ah, read_cycler counts {got[k]:.9g} Ah "
                                 f"({int(bad.sum())} of {int(use[what].sum())} steps off)")


@pytest.fixture(scope="session")
def matches_reference():
    """``matches_reference(df, ref, scope=..., t_atol=..., v_atol=..., i_atol=...)``: the
    comparison of read_cycler's table with an independent reference (see above)."""
    return _assert_matches_reference


@pytest.fixture(scope="session")
def clock_seconds():
    """``clock_seconds(series)``: ``"0d 01:02:03.5"`` / ``"71:02:03.500"`` cells -> seconds,
    parsed here with a regex of its own (the tests' independent reading of clocks)."""
    import re

    rx = re.compile(r"^\s*(?:(\d+)d\s+)?(\d+):(\d+):(\d+(?:\.\d*)?)\s*$")

    def _seconds(values) -> np.ndarray:
        out = []
        for cell in values:
            m = rx.match(str(cell))
            assert m, f"not a clock: {cell!r}"
            d, h, mi, s = m.groups()
            out.append(int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s))
        return np.asarray(out)

    return _seconds
