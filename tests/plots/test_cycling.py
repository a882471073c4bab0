"""bz.plots.cycling: the electrochemistry figures draw what they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def test_an_inconclusive_rest_is_not_annotated_as_a_k_value(sd_result):
    """A rest too short for the relaxation to end (notebook 01's 2 h LG M50 rest) gave
    "K = 49.66 mV/day [48.32, 51.01] (95%) ... relaxation over after 0.07 d": a K-value
    with a tight interval, and a relaxation called over that the result says is not."""
    import dataclasses

    short = dataclasses.replace(sd_result, relaxation_complete=False, verdict="inconclusive",
                                relaxation_end_day=sd_result.rest_duration_day)
    text = pc.self_discharge(short).layout.annotations[0].text
    assert "relaxation not over" in text and "relaxation over after" not in text
    assert "inconclusive" in text and "K = " not in text and "(95%)" not in text
    assert "not a K-value to screen by" in text


def test_an_inconclusive_rest_has_no_k_value_in_its_legend(sd_result):
    """Notebook 01's 2 h LG M50 rest kept a legend entry 'LG M50 (real) (K = 49.66 mV/day)'
    and a 'K-value line' beside an annotation saying there is no K-value."""
    import dataclasses

    short = dataclasses.replace(sd_result, relaxation_complete=False, verdict="inconclusive",
                                relaxation_end_day=sd_result.rest_duration_day)
    other = dataclasses.replace(sd_result, cell_id="SN-other")
    for fig in (pc.self_discharge(short), pc.self_discharge([other, short], highlight="SN-defect")):
        names = [t.name for t in fig.data if t.legendgroup == "SN-defect"]
        assert not any("K =" in n or "K-value" in n for n in names), names
        assert "SN-defect" in names and "SN-defect fit's leakage term" in names
        text = " ".join(a.text for a in fig.layout.annotations)
        assert "K = " not in text and "no K-value" in text
    # in a lot, a cell whose rest measured one keeps its K-value
    lot = [t.name for t in fig.data if t.legendgroup == "SN-other"]
    assert lot == [f"SN-other (K = {sd_result.k_value_mv_per_day:.2f} mV/day)"]
    # a measured one keeps its K-value
    names = [t.name for t in pc.self_discharge(sd_result).data]
    assert names[0] == f"SN-defect (K = {sd_result.k_value_mv_per_day:.2f} mV/day)" and "SN-defect K-value line" in names


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
    assert "voltage-binned" in fig.layout.title.text  # the smoothing, stated under the title
    s = cycling.cycle_summary(one_cycle)
    fig2 = pc.cycle_summary(s)
    assert [t.name for t in fig2.data] == ["charge capacity", "discharge capacity", "coulombic efficiency",
                                           "energy efficiency"]
    assert fig2.data[2].y[0] == pytest.approx(s["coulombic_efficiency"].iloc[0] * 100)


# ------------------------------------------------------------------ as a reader sees them


def test_fig_s1_ticks_carry_the_same_decimals(one_cycle, assert_uniform_ticks):
    fig = pc.voltage_capacity(one_cycle)
    v = np.concatenate([np.asarray(t.y, float) for t in fig.data])
    q = np.concatenate([np.asarray(t.x, float) for t in fig.data])
    # 4.0 beside 4.2, not 4 beside 4.2
    assert_uniform_ticks(fig.layout.yaxis.tickformat, v.min(), v.max())
    assert_uniform_ticks(fig.layout.xaxis.tickformat, q.min(), q.max())


def test_fig_s2_draws_the_fit_over_the_data(sd_result, assert_uniform_ticks):
    fig = pc.self_discharge(sd_result)
    # plotly draws every WebGL trace above every SVG trace: a fit or K-value line in SVG
    # hid under the data points it fits, whatever the trace order; all SVG (a notebook page
    # keeps only ~16 WebGL contexts), the fit comes after the data and is drawn over it
    types = {t.type for t in fig.data}
    assert types == {"scatter"}, types
    names = [t.name for t in fig.data]
    assert names.index("SN-defect fit") > 0 and names.index("SN-defect K-value line") > 0
    v = np.asarray(fig.data[0].y, float)
    assert_uniform_ticks(fig.layout.yaxis.tickformat, v.min(), v.max())  # 4.00, 4.05, 4.10: not 4, 4.05, 4.1


def test_population_threshold_label_sits_at_the_threshold_on_the_log_axis():
    pop = bz.data.load("twin/cycling-population")
    table, _ = cycling.screen_population(pop)
    fig = pc.population(table)
    thr = float(table["threshold_mv_per_day"].iloc[0])
    assert fig.layout.yaxis.type == "log"
    line = [s for s in fig.layout.shapes if s.y0 == s.y1][0]
    assert line.y0 == pytest.approx(thr)
    label = [a for a in fig.layout.annotations if "threshold" in a.text][0]
    # an annotation's y on a log axis is log10 of the value (add_hline's label sat at 10**thr)
    assert label.yref == "y" and 10 ** label.y == pytest.approx(thr)
    # points with their intervals, not bars: a bar's length on a log axis depends on where
    # the axis starts
    assert not any(t.type == "bar" for t in fig.data)
    # the range spans the intervals and the threshold, not decades of nothing
    lo, hi = fig.layout.yaxis.range
    values = np.r_[table["k_ci_low_mv_per_day"], table["k_ci_high_mv_per_day"], thr]
    assert lo <= np.log10(values.min()) and hi >= np.log10(values.max())
    assert hi - lo <= np.log10(values.max() / values.min()) + 0.5
    # tick labels say their value: plotly's own minor log ticks print 0.3 as "3" beside "1"
    ax = fig.layout.yaxis
    assert ax.tickvals is not None and [float(x) for x in ax.ticktext] == pytest.approx(list(ax.tickvals))
    # the colours of the verdicts are in the legend
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert all(any(name.startswith(v) for name in legend) for v in set(table["verdict"]))


def test_population_draws_a_cell_without_k_value_as_one():
    """A cell whose relaxation did not end within its rest has no K-value: its point (the
    fitted leakage term's slope) is open, its hover and the legend say so."""
    pop = bz.data.load("twin/cycling-population")
    table, _ = cycling.screen_population(pop)
    short = table.index[0]
    table.loc[short, ["relaxation_complete", "verdict"]] = [False, "inconclusive"]
    fig = pc.population(table)
    cells = fig.data[0]
    order = list(cells.x)
    symbols = list(cells.marker.symbol)
    assert symbols[order.index(str(short))] == "circle-open"
    assert {s for i, s in enumerate(symbols) if order[i] != str(short)} == {"circle"}
    hover = cells.customdata[order.index(str(short))][3]
    assert hover.startswith("no K-value") and cells.customdata[order.index(str(table.index[1]))][3] == "K = "
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert any(name.startswith("inconclusive: no K-value") for name in legend)


def test_efficiency_axis_ticks_are_round_with_uniform_decimals(assert_uniform_ticks):
    """Notebook 01's LG M50T summary read 100.39, 98.65, 96.91 % on the efficiency axis:
    plotly syncs an overlaying axis' ticks to the primary axis' gridlines unless told not to."""
    rng = np.random.default_rng(0)
    n = 8
    charge = 4.7 + rng.normal(0, 0.01, n)
    summary = pd.DataFrame({"charge_capacity_ah": charge, "discharge_capacity_ah": charge * 0.995,
                            "coulombic_efficiency": rng.uniform(0.9, 1.004, n),
                            "energy_efficiency": rng.uniform(0.91, 0.94, n)},
                           index=pd.RangeIndex(1, n + 1, name="cycle_count"))
    fig = pc.cycle_summary(summary)
    right = fig.layout.yaxis2
    assert right.overlaying == "y" and right.title.text == "Efficiency (%)"
    assert right.tickmode == "auto", "the efficiency axis picks round ticks of its own, not the capacity axis' grid"
    eff = np.concatenate([np.asarray(t.y, float) for t in fig.data if t.yaxis == "y2"])
    assert_uniform_ticks(right.tickformat, eff.min(), eff.max())
    cap = np.concatenate([np.asarray(t.y, float) for t in fig.data if t.yaxis == "y"])
    assert_uniform_ticks(fig.layout.yaxis.tickformat, cap.min(), cap.max())
