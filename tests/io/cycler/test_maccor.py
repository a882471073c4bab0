"""Maccor (io/cycler/maccor.py): unsigned Amps signed from the State column."""

from __future__ import annotations

import pytest

from batteryzoom import cycling


@pytest.mark.realdata
def test_maccor_current_is_signed_from_the_state_column(read_real):
    maccor = read_real("real/cycler/maccor-m50-0degc")
    ms = cycling.cycle_summary(maccor)
    assert ms["discharge_capacity_ah"].sum() > 10  # Maccor |I| signed from the State column
