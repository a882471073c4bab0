"""Novonix (io/cycler/novonix.py): both real exports (quoted lines, a JSON protocol)
against pandas reading their raw [Data] columns."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest

from batteryzoom.io.cycler import detect_format, read_cycler

NOVONIX = ["real/cycler/novonix-beep-test-nova-form-ch01-01-short", "real/cycler/novonix-pyprobe-sample-data-novonix"]


def _data_section(path) -> pd.DataFrame:
    """The rows after [Data], each line's wrapping quotes removed, read by pandas."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start = lines.index("[Data]") + 1
    body = "\n".join(ln.strip().strip('"') for ln in lines[start:] if ln.strip())
    return pd.read_csv(io.StringIO(body))


@pytest.mark.realdata
@pytest.mark.parametrize("name", NOVONIX)
def test_every_novonix_export_matches_its_raw_columns(name, fetch_real, unchanged, matches_reference):
    path = fetch_real(name)[0]
    assert detect_format(path) == "novonix-csv"
    with unchanged(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_cycler(path)
    raw = _data_section(path)
    # Capacity (Ah) is unsigned and carries on over the steps of one direction ("running")
    ref = pd.DataFrame({"t": raw["Run Time (h)"] * 3600, "v": raw["Potential (V)"], "i": raw["Current (A)"],
                        "q": raw["Capacity (Ah)"], "step": raw["Step Number"]})
    # as printed: Run Time to 1e-7 h (0.36 ms), voltage 1e-8 V, current 1e-8 A
    matches_reference(df, ref, scope="running", t_atol=4e-4, v_atol=1e-9, i_atol=1e-9)
    np.testing.assert_allclose(df["temperature_celsius"], raw["Temperature (°C)"])
    stamps = pd.to_datetime(raw["Date and Time"], format="mixed")
    np.testing.assert_allclose(df["unix_time_second"], (stamps - pd.Timestamp("1970-01-01")).dt.total_seconds())
    assert df.attrs["metadata"]["Channel"] == "01"
