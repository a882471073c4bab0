"""bz.cycling.cycler_qc, the cycler scale's pipeline: on the twin it gives the report's cycler
findings (tests/reference/report_findings_twin.csv) number for number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batteryzoom import cycling
from batteryzoom.errors import InputError

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "report_findings_twin.csv"


@pytest.fixture(scope="module")
def qc(twin):
    rest = twin("cycling-self-discharge")
    return cycling.cycler_qc(twin("cycling-one-cycle"), rest, twin("cycling-population"),
                             cell_id=rest.attrs["cell"], threshold_mv_per_day=2.0)


@pytest.fixture(scope="module")
def reference():
    ref = pd.read_csv(REFERENCE, dtype=str, keep_default_na=False)
    return ref[ref["scale"] == "cycler"].set_index("finding")


def test_the_pipeline_gives_the_reports_cycler_findings(qc, reference):
    """Each cycler row of the reference, value and note, printed from the pipeline's numbers
    with the report's formats."""
    r = qc.self_discharge
    ours = {
        "charge capacity (cycle 1)": (f"{qc.charge_capacity_ah:.4g}", ""),
        "discharge capacity (cycle 1)": (f"{qc.discharge_capacity_ah:.4g}", ""),
        "coulombic efficiency (cycle 1)": (f"{100 * qc.coulombic_efficiency:.2f}", ""),
        "K-value (voltage drop after relaxation)": (
            f"{r.k_value_mv_per_day:.3f}",
            f"{r.confidence:.0%} CI [{r.k_ci_low_mv_per_day:.2f}, {r.k_ci_high_mv_per_day:.2f}]; "
            f"window from day {r.window_start_day:.2f}"),
        "leakage current": (f"{r.leakage_current_a * 1e3:.3f}", ""),
        "capacity lost over the rest": (f"{r.capacity_lost_ah * 1e3:.1f}", ""),
        "relaxation over after": (f"{r.relaxation_end_day * 24:.1f}", ""),
        "robust z-score of the K-value in its lot": (
            f"{qc.robust_z:.1f}", f"{qc.lot_size} cells; outlier above {qc.z_threshold}"),
        "cells of the lot flagged": (", ".join(qc.flagged), None),  # the note is the twin's truth
        "QC verdict": (qc.verdict, None),
    }
    assert list(ours) == reference.index.tolist()
    for finding, (value, note) in ours.items():
        assert value == reference.loc[finding, "value"], finding
        if note is not None:
            assert note == reference.loc[finding, "note"], finding
    assert qc.cycle == 1 and r.relaxation_complete and qc.cell_id == "SN-0009"


def test_the_result_holds_the_tables_the_figures_draw(qc, twin):
    assert qc.cycles.index.tolist() == [1]
    assert qc.population.index.tolist() == sorted(twin("cycling-population")["cell_id"].astype(str).unique())
    assert set(qc.population_results) == set(qc.population.index)
    # the cell under test is one of its lot: its lot row and its own record agree
    assert qc.population.loc[qc.cell_id, "k_value_mv_per_day"] == qc.self_discharge.k_value_mv_per_day
    summary = qc.summary()
    assert summary["verdict"] == "fail" and summary["flagged"] == "SN-0009" and summary["lot_size"] == 13
    assert summary["k_value_mv_per_day"] == qc.self_discharge.k_value_mv_per_day


def test_a_lot_alone_puts_its_flagged_cell_under_test(qc, twin):
    alone = cycling.cycler_qc(population=twin("cycling-population"))
    assert alone.cell_id == "SN-0009" and alone.self_discharge is alone.population_results["SN-0009"]
    assert alone.verdict == "fail" and alone.robust_z == qc.robust_z and alone.cycles is None
    assert alone.notes == ["no self-discharge record of its own: SN-0009, the lot's first flagged cell, "
                           "is the cell under test"] and qc.notes == []


def test_a_cell_from_outside_the_lot_joins_it_for_its_z_score(qc, twin):
    """The defective record under another name, against five healthy cells: its z-score is
    taken with it among them (6 cells), and the lot fails it as well as the threshold."""
    lot = twin("cycling-population")
    healthy = lot[lot["cell_id"].isin(["SN-0003", "SN-0006", "SN-0008", "SN-0010", "SN-0012"])]
    outside = cycling.cycler_qc(rest=twin("cycling-self-discharge"), population=healthy, cell_id="newcomer")
    assert outside.lot_size == 6 and outside.robust_z > 3.5
    assert outside.flagged == [] and outside.verdict == "fail"
    assert outside.self_discharge.k_value_mv_per_day == qc.self_discharge.k_value_mv_per_day
    # a threshold out of reach: the lot alone fails it
    lenient = cycling.cycler_qc(rest=twin("cycling-self-discharge"), population=healthy, cell_id="newcomer",
                                threshold_mv_per_day=100.0)
    assert lenient.self_discharge.verdict == "pass" and lenient.verdict == "fail"


def test_parts_without_a_record_are_none(twin):
    only_one = cycling.cycler_qc(twin("cycling-one-cycle"))
    assert only_one.discharge_capacity_ah == pytest.approx(2.0336, abs=1e-4)
    assert only_one.self_discharge is None and only_one.verdict is None and only_one.flagged is None
    rest = cycling.cycler_qc(rest=twin("cycling-self-discharge"))
    assert rest.cell_id == "SN-0009" and rest.robust_z is None and rest.verdict == "fail"
    with pytest.raises(InputError, match="cycler_qc needs a record"):
        cycling.cycler_qc()


def test_the_one_cycle_numbers_come_from_the_first_complete_cycle(twin):
    """A record whose cycle 1 is a discharge alone (a cell put on test charged) gave
    'CE nan %' and 'looks normal': the first cycle with a charge and a discharge is the
    one, and the pipeline says which."""
    one = twin("cycling-one-cycle")
    dis = one[one["step_type"] == "cc_discharge"].copy()
    later = one.copy()
    later["test_time_second"] = later["test_time_second"] + dis["test_time_second"].iloc[-1] + 10.0
    later["step_count"] = later["step_count"] + 1
    later["cycle_count"] = 2
    dis["step_count"] = 1
    record = pd.concat([dis, later], ignore_index=True)
    qc = cycling.cycler_qc(record)
    assert qc.cycles.index.tolist() == [1, 2] and np.isnan(qc.cycles.loc[1, "coulombic_efficiency"])
    assert qc.cycle == 2 and qc.coulombic_efficiency == pytest.approx(0.9961, abs=1e-4)
    assert qc.summary()["cycle"] == 2
    assert qc.notes == ["cycle 2 is the one-cycle test's: the first with both a charge and a discharge "
                        "(cycle 1 before it holds only one of them)"]
    alone = cycling.cycler_qc(dis.reset_index(drop=True))
    assert alone.cycle is None and alone.coulombic_efficiency is None
    assert "no complete cycle" in alone.notes[0]


def test_a_lot_whose_rests_are_too_short_decides_nothing(twin):
    """Every rest of the lot cut to 12 h: no K-value, so no z-score, nobody flagged and
    every verdict inconclusive (it was a fail for all 13)."""
    from batteryzoom.data.twin.cycling import cut_rest

    lot = twin("cycling-population")
    five = lot[lot["cell_id"].isin(["SN-0001", "SN-0002", "SN-0003", "SN-0004", "SN-0009"])]
    cut = pd.concat([cut_rest(g.drop(columns="cell_id").reset_index(drop=True), 0.5)[0].assign(cell_id=cid)
                     for cid, g in five.groupby("cell_id", observed=True)], ignore_index=True)
    qc = cycling.cycler_qc(population=cut)
    assert (qc.population["verdict"] == "inconclusive").all() and qc.flagged == []
    assert qc.population["robust_z"].isna().all() and not qc.population["population_outlier"].any()
    assert qc.verdict == "inconclusive" and qc.robust_z is None and qc.lot_size == 0
