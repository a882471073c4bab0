"""Battery Data Format tables (io/cycler/bdf.py): the SINTEF record's defects repaired and
reported."""

from __future__ import annotations

import pytest


@pytest.mark.realdata
def test_bdf_record_defects_are_repaired_and_reported(read_real):
    sintef = read_real("real/cycler/bdf-sintef-g20m7")
    assert any("cycle_count" in r for r in sintef.attrs["repairs"])  # the 6.283185 defect
    assert any("discharging_capacity_ah fell" in r for r in sintef.attrs["repairs"])
