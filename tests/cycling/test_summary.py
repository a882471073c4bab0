"""bz.cycling.cycle_summary scored against the twin's ground truth."""

from __future__ import annotations

import pytest

from batteryzoom import cycling
from batteryzoom.errors import InputError


def test_cycle_summary_matches_twin_truth(twin):
    df, truth = twin("cycling-one-cycle"), twin("cycling-one-cycle", part="truth")
    s = cycling.cycle_summary(df)
    assert len(s) == 1
    row = s.iloc[0]
    assert row["charge_capacity_ah"] == pytest.approx(truth["charge_capacity_ah"], rel=1e-6)
    assert row["discharge_capacity_ah"] == pytest.approx(truth["discharge_capacity_ah"], rel=1e-6)
    assert row["charge_energy_wh"] == pytest.approx(truth["charge_energy_wh"], rel=1e-6)
    assert row["discharge_energy_wh"] == pytest.approx(truth["discharge_energy_wh"], rel=1e-6)
    assert row["coulombic_efficiency"] == pytest.approx(truth["discharge_capacity_ah"] / truth["charge_capacity_ah"])
    assert row["cv_charge_share"] == pytest.approx(truth["cv_charge_capacity_ah"] / truth["charge_capacity_ah"],
                                                   abs=2e-3)
    # the 4 A discharge runs at a lower mean voltage than the 2 A charge (overpotential)
    assert row["mean_discharge_voltage_volt"] < row["mean_charge_voltage_volt"] - 0.1


def test_a_table_without_the_bdf_columns_is_refused(twin):
    df = twin("cycling-one-cycle")
    with pytest.raises(InputError, match="lacks the BDF columns"):
        cycling.cycle_summary(df.drop(columns=["current_ampere"]))
    with pytest.raises(InputError, match="has no rows"):
        cycling.cycle_summary(df.iloc[:0])
    with pytest.raises(InputError, match="must be a BDF DataFrame"):
        cycling.cycle_summary(df.to_numpy())
