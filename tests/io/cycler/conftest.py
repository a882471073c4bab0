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
def read_real(fetch_real):
    """``read_real(name) -> DataFrame``: a real cycler record of the manifest, read through
    its loader (time-repair warnings silenced), or skip/fail when a piece is missing."""
    import batteryzoom as bz
    from batteryzoom.io.cycler import TimeRepairWarning

    def _read(name: str) -> pd.DataFrame:
        fetch_real(name)
        _need_piece(NEEDS.get(name))
        with warnings.catch_warnings():
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
