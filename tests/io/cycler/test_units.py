"""Units and cells of cycler tables (io/cycler/_units.py): dates to epoch seconds whatever
pandas' datetime unit, clocks, numbers with units, and no regex that is quadratic in a cell."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from batteryzoom.errors import FileFormatError
from batteryzoom.io.cycler._units import clock_to_seconds, dates_to_unix, numeric_with_units, unit_factor


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_dates_to_unix_is_epoch_seconds_in_every_datetime_unit(unit):
    """pandas 3 parses to datetime64[us] (or [s]); reading its integers as ns made every
    wall clock 1000x too small (2016 read as 1970-01-18)."""
    stamps = pd.Series(pd.to_datetime(["2016-11-02 15:57:53", "2020-12-11 12:22:12.5"], format="ISO8601").as_unit(unit))
    want = [1478102273.0, 1607689332.5 if unit != "s" else 1607689332.0]
    np.testing.assert_allclose(dates_to_unix(stamps), want)
    np.testing.assert_allclose(dates_to_unix(pd.Series(["11/02/2016 15:57:53", "12/11/2020 12:22:12.5"])),
                               [1478102273.0, 1607689332.5])


def test_damaged_dates_become_nan_instead_of_raising():
    # mixed time zones once raised pandas' ValueError out of read_cycler; a cell of another
    # shape than the column's dates ("1.2.3": dateutil reads it as 2003-01-02) is damage
    got = dates_to_unix(pd.Series(["2019-01-01 00:00:00+01:00", "2019-01-01 00:00:00+02:00", "1.2.3", "x"]))
    assert np.isnan(got[2:]).all() and np.isfinite(got[:2]).all()


def test_clocks_and_units():
    np.testing.assert_allclose(clock_to_seconds(pd.Series(["0d 00:00:05.05", "1d 01:00:00", "71:02:03.5"]), "f", "c"),
                               [5.05, 90000.0, 255723.5])
    values, unit = numeric_with_units(pd.Series(["4.1 V", "4.2V"]), "f", "c")
    assert unit == "v" and values.tolist() == [4.1, 4.2]
    assert unit_factor("temperature", "\ufffdc", "x") == 1.0  # a Celsius whose degree sign was mangled
    assert unit_factor("temperature", "°c", "x") == 1.0


def test_a_30000_digit_cell_is_refused_in_linear_time():
    """``\\d+\\.?\\d*`` followed by a unit let the regex engine split 30,000 digits 30,000
    ways (30 s per cell); the pattern now cannot."""
    t0 = time.perf_counter()
    with pytest.raises(FileFormatError, match="not a number"):
        numeric_with_units(pd.Series(["9" * 30_000 + "x!", "1 V"]), "f", "c")
    assert time.perf_counter() - t0 < 0.5
