"""bz.cycling.screen_population and robust_zscore on the twin's lot (one defective cell)."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom import cycling
from batteryzoom.errors import InputError


@pytest.fixture(scope="module")
def screened(twin):
    truth = twin("cycling-population", part="truth").set_index("cell_id")
    table, results = cycling.screen_population(twin("cycling-population"))
    return table, results, truth


def test_population_screen_flags_the_defective_cell_only(screened):
    table, results, truth = screened
    assert set(table.index) == set(truth.index)
    flagged = set(table.index[table["verdict"] == "fail"])
    assert flagged == set(truth.index[truth["defective"]])
    assert (table["verdict"] == "pass").sum() == 12
    d = truth.index[truth["defective"]][0]
    assert table.loc[d, "robust_z"] > 3.5 and table.loc[d, "population_outlier"]
    healthy = table.drop(index=d)
    assert (healthy["robust_z"] < 3.5).all()
    # every cell scored against its truth
    k_err = (table["k_value_mv_per_day"] / truth["k_value_mv_per_day"] - 1).abs()
    leak_err = (table["leakage_current_a"] / truth["leakage_current_a"] - 1).abs()
    assert k_err.max() < 0.05, k_err
    assert leak_err.max() < 0.10, leak_err
    assert results[d].verdict == "fail"


def test_population_verdict_needs_no_threshold_to_find_the_outlier(screened):
    table, _, truth = screened
    relaxed = table["k_value_mv_per_day"].to_numpy()
    z = cycling.robust_zscore(relaxed)
    assert np.argmax(z) == list(table.index).index(truth.index[truth["defective"]][0])
    assert cycling.robust_zscore(np.array([1.0, 1.0, 1.0]))[0] == 0.0


def test_a_lot_outlier_fails_below_the_threshold_and_only_on_the_high_side(twin):
    """With the absolute threshold out of reach (100 mV/day), the lot alone fails the
    defective cell; the cell farthest *below* its peers is no defect and passes."""
    lot = twin("cycling-population")
    five = lot[lot["cell_id"].isin(["SN-0001", "SN-0002", "SN-0003", "SN-0004", "SN-0009"])]
    table, _ = cycling.screen_population(five, threshold_mv_per_day=100.0)
    assert not table["threshold_fail"].any()
    assert table.index[table["verdict"] == "fail"].tolist() == ["SN-0009"]
    assert table.loc["SN-0009", "population_outlier"] and table.attrs["z_threshold"] == 3.5
    low = table["robust_z"].idxmin()
    assert table.loc[low, "robust_z"] < 0 and table.loc[low, "verdict"] == "pass"
    # a stricter z threshold than the defect's z lets it pass
    strict, _ = cycling.screen_population(five, threshold_mv_per_day=100.0,
                                          z_threshold=float(table.loc["SN-0009", "robust_z"]) + 1)
    assert (strict["verdict"] == "pass").all()


def test_population_without_its_cell_column_is_refused(twin):
    with pytest.raises(InputError, match="no column 'cell'"):
        cycling.screen_population(twin("cycling-one-cycle"), by="cell")
