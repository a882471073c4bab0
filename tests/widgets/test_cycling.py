"""bz.widgets.CycleExplorer: draws bz.cycling's analysis of a record and computes none itself."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError


def test_cycle_explorer_draws_bz_cycling_results_for_the_choices():
    from batteryzoom.widgets import CycleExplorer

    one = bz.data.load("twin/cycling-one-cycle")
    rest = bz.data.load("twin/cycling-self-discharge")
    truth = bz.data.load("twin/cycling-self-discharge", part="truth")
    ce = CycleExplorer(one, rest)
    assert ce.available_cycles == [1]
    assert [t.name for t in ce.vq_figure.data] == ["cycle 1 charge", "cycle 1 discharge"]
    vq = bz.cycling.vq_curves(one, [1])
    charge = vq[vq["direction"] == "charge"]
    assert max(ce.vq_figure.data[0].x) == pytest.approx(charge["capacity_ah"].max())
    # dQ/dV of the chosen direction is bz.cycling's curve
    np.testing.assert_allclose(ce.dqdv_figure.data[0].y, bz.cycling.dqdv(one, cycle=1, direction="discharge")["dqdv_ah_per_v"])
    ce.direction.value = "charge"
    np.testing.assert_allclose(ce.dqdv_figure.data[0].y, bz.cycling.dqdv(one, cycle=1, direction="charge")["dqdv_ah_per_v"])
    # the rest after the charge: bz.cycling.self_discharge's fit, K-value and verdict
    step = ce.rest_select.value
    result = bz.cycling.self_discharge(rest, rest_step=step)
    assert f"{result.k_value_mv_per_day:.3f} mV/day" in ce.summary.value
    assert result.k_value_mv_per_day == pytest.approx(truth["k_value_mv_per_day"], rel=0.05)
    assert ">fail<" in ce.summary.value  # the defective cell fails QC
    names = [t.name for t in ce.rest_figure.data]
    assert any("fit" in n for n in names) and any("K-value" in n for n in names)
    with pytest.raises(InputError, match=r"cycles \[7\] are not in the record"):
        CycleExplorer(one, rest, cycles=[7])


def test_cycle_explorer_says_when_a_rest_is_too_short_for_a_k_value():
    """Two hours of the twin's rest: the relaxation is not over, so the explorer shows no
    K-value with an interval, does not call the relaxation over, and does not colour the
    inconclusive verdict like a pass."""
    from batteryzoom.widgets import CycleExplorer

    one = bz.data.load("twin/cycling-one-cycle")
    rest = bz.data.load("twin/cycling-self-discharge")
    step = int(bz.cycling.find_rests(rest).index[0])
    start = rest.loc[rest["step_count"] == step, "test_time_second"].iloc[0]
    short = rest[rest["test_time_second"] <= start + 2 * 3600].reset_index(drop=True)
    assert bz.cycling.self_discharge(short).verdict == "inconclusive"
    ce = CycleExplorer(one, short)
    html = ce.summary.value
    assert "inconclusive" in html and "not over" in html and "relaxation over after" not in html
    assert "#009E73" not in html  # the pass colour
    assert "relaxation over after" not in ce.rest_figure.layout.annotations[0].text


@pytest.mark.realdata
def test_a_rest_of_minutes_reads_in_minutes_and_shows_no_leakage(twin, fetch_real):
    """The real LG M50T record's 5-minute rests read "0.00 d" and showed "the fit's leakage
    term: 1.27e+03 mV/day, 600 mA". A rest of minutes is labelled in minutes, and neither
    the summary nor the figure gives a leakage for it: they say why."""
    from batteryzoom.widgets import CycleExplorer

    fetch_real("real/cycler/neware-m50t")
    ce = CycleExplorer(bz.data.load("real/cycler/neware-m50t"))
    labels = [label for label, _ in ce.rest_select.options]
    assert len(labels) == 7 and all(label.endswith("5 min after cccv_charge") for label in labels), labels
    result = ce.self_discharge(ce.rest_select.value)
    assert bz.plots.cycling.rest_too_short(result)
    html = ce.summary.value
    assert "far too short" in html and " mA" not in html and "leakage term" not in html
    names = [t.name for t in ce.rest_figure.data]
    assert not any("leakage" in n or "K-value" in n for n in names), names
    note = ce.rest_figure.layout.annotations[0].text
    assert "far too short" in note and " mA" not in note
    rest = twin("cycling-self-discharge")
    # the full 25-day rest reads in days and keeps its numbers
    full = CycleExplorer(twin("cycling-one-cycle"), rest)
    label, step = full.rest_select.options[0]
    assert label.startswith(f"step {step}: 25.0 days after"), label
    assert not bz.plots.cycling.rest_too_short(full.self_discharge(step)) and " mA" in full.summary.value


def test_cycle_explorer_fits_a_narrow_output_area(twin):
    """Two 520 px figures side by side overflowed JupyterLab's ~1,017 px output area: the
    panels are narrower than half of it, and their rows wrap (stack) when narrower still
    (the browser test measures it in JupyterLab)."""
    from batteryzoom.widgets import CycleExplorer

    ce = CycleExplorer(twin("cycling-one-cycle"), twin("cycling-self-discharge"))
    for fig in (ce.vq_figure, ce.dqdv_figure, ce.rest_figure):
        assert fig.layout.width <= 1000 / 2
        assert fig.layout.legend.orientation == "h"  # under the plot, not beside it
    rows = [c for c in ce.children if isinstance(c, type(ce.children[0]))]
    assert all(r.layout.flex_flow == "row wrap" for r in rows)


def test_cycle_explorer_takes_an_analysis_and_shows_its_results(twin):
    """Given bz.cycling.analyze_record's result, the explorer draws what the analysis holds
    (the same objects, not a second computation)."""
    from batteryzoom.widgets import CycleExplorer

    analysis = bz.cycling.analyze_record(twin("cycling-one-cycle"), twin("cycling-self-discharge"),
                                         threshold_mv_per_day=10.0)
    ce = CycleExplorer(analysis)
    assert ce.analysis is analysis and ce.threshold_mv_per_day == 10.0
    assert ce.dqdv(1, "discharge") is analysis.dqdv(1, "discharge")
    step = ce.rest_select.value
    assert ce.self_discharge(step) is analysis.self_discharge(step)
    assert ">pass<" in ce.summary.value  # 6.3 mV/day under a 10 mV/day threshold
    with pytest.raises(InputError, match="rest_record goes to bz.cycling.analyze_record"):
        CycleExplorer(analysis, twin("cycling-self-discharge"))
    with pytest.raises(InputError, match="differs from the analysis's"):
        CycleExplorer(analysis, threshold_mv_per_day=2.0)


def test_the_widget_calls_one_analysis_function():
    """widgets/cycling.py computes no science: of bz.cycling it uses analyze_record (and the
    result types), nothing else."""
    import batteryzoom.widgets.cycling as module

    tree = ast.parse(Path(module.__file__).read_text())
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "cycling"}
    assert used == {"analyze_record", "RecordAnalysis", "SelfDischargeResult"}
