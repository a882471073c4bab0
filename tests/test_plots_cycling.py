"""bz.plots.cycling: the electrochemistry figures draw what they are given."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom import cycling
from batteryzoom.plots import cycling as pc


@pytest.fixture(scope="module")
def one_cycle():
    return bz.data.load("twin/cycling-one-cycle")


@pytest.fixture(scope="module")
def sd_result():
    return cycling.self_discharge(bz.data.load("twin/cycling-self-discharge"), cell_id="SN-defect")


def test_voltage_capacity_is_fig_s1(one_cycle):
    fig = pc.voltage_capacity(one_cycle)
    names = [t.name for t in fig.data]
    assert names == ["cycle 1 charge", "cycle 1 discharge"]
    assert fig.layout.xaxis.title.text == "Capacity (Ah)" and fig.layout.yaxis.title.text == "Voltage (V)"
    assert fig.layout.template.layout.colorway is not None  # house template applied
    ch = fig.data[0]
    assert np.max(ch.y) == pytest.approx(one_cycle["voltage_volt"].max(), abs=1e-3)
    assert np.max(ch.x) == pytest.approx(cycling.cycle_summary(one_cycle)["charge_capacity_ah"].iloc[0])


def test_self_discharge_figure_annotates_the_k_value(sd_result):
    fig = pc.self_discharge(sd_result)
    names = [t.name for t in fig.data]
    assert names[0].startswith("SN-defect (K = ") and "SN-defect fit" in names and "SN-defect K-value line" in names
    text = fig.layout.annotations[0].text
    assert f"K = {sd_result.k_value_mv_per_day:.2f} mV/day" in text and "fail" in text
    assert fig.layout.xaxis.title.text == "Time at rest (days)"
    assert np.max(fig.data[0].x) == pytest.approx(25.0)


def test_population_and_overlay_figures():
    pop = bz.data.load("twin/cycling-population")
    table, results = cycling.screen_population(pop[pop["cell_id"].isin(["SN-0001", "SN-0002", "SN-0003",
                                                                        "SN-0009"])].reset_index(drop=True))
    fig = pc.population(table)
    bar = fig.data[0]
    assert list(bar.x) == list(table.sort_values("k_value_mv_per_day").index.astype(str))
    overlay = pc.self_discharge(results, highlight="SN-0009")
    assert sum("fit" in (t.name or "") for t in overlay.data) == 1  # only the highlighted cell's fit


def test_dqdv_and_cycle_summary_figures(one_cycle):
    curve = cycling.dqdv(one_cycle, direction="discharge")
    fig = pc.dqdv(curve)
    assert len(fig.data) == 2 and fig.layout.yaxis.title.text == "dQ/dV (Ah/V)"
    assert "voltage-binned" in fig.layout.annotations[0].text
    s = cycling.cycle_summary(one_cycle)
    fig2 = pc.cycle_summary(s)
    assert [t.name for t in fig2.data] == ["charge capacity", "discharge capacity", "coulombic efficiency",
                                           "energy efficiency"]
    assert fig2.data[2].y[0] == pytest.approx(s["coulombic_efficiency"].iloc[0] * 100)
