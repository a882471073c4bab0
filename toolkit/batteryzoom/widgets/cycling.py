"""CycleExplorer: choose cycles and a rest period, see V–Q, dQ/dV and the self-discharge fit."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import cycling
from ..errors import InputError
from ..plots import cycling as pc

__all__ = ["CycleExplorer"]

# Figure sizes (px) chosen so two panels sit side by side in JupyterLab's default output
# area (~1,017 px wide with the file browser open) and wrap one under the other when narrower.
_PANEL_WIDTH = 480
_PANEL_HEIGHT = 430


def _wrapping_row(children) -> widgets.HBox:
    """A row whose items wrap onto the next line when the output area is too narrow."""
    return widgets.HBox(children, layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start",
                                                        width="100%"))


class CycleExplorer(widgets.VBox):
    """The electrochemistry of a cycler record, interactively.

    Pick cycles to see their voltage–capacity curves (Fig. S1) and their differential
    capacity (charge or discharge), and pick a rest after a charge to see the self-discharge
    fit (Fig. S2) with its K-value, leakage current and verdict. The analyses are
    :func:`batteryzoom.cycling.analyze_record`'s, run once per choice and kept (a second
    look is free); the explorer only draws them.

    Parameters
    ----------
    record : pandas.DataFrame or batteryzoom.cycling.RecordAnalysis
        A BDF table (``bz.io.read_cycler``, ``bz.data.load("twin/cycling-one-cycle")``),
        or the analysis of one (``bz.cycling.analyze_record(record, rest_record)``).
    rest_record : pandas.DataFrame, optional
        A record holding the self-discharge test, when it is not in ``record`` (e.g.
        ``bz.data.load("twin/cycling-self-discharge")``); with an analysis, give it to
        :func:`~batteryzoom.cycling.analyze_record` instead.
    threshold_mv_per_day : float, optional
        The QC threshold on the K-value (mV/day) for the verdict (default 2.0, or the
        analysis's).
    cycles : list of int, optional
        The cycles shown first (default: the first three).

    Examples
    --------
    >>> import batteryzoom as bz
    >>> explorer = bz.widgets.CycleExplorer(bz.data.load("twin/cycling-one-cycle"))
    >>> explorer.available_cycles
    [1]
    """

    def __init__(
        self,
        record: pd.DataFrame | cycling.RecordAnalysis,
        rest_record: pd.DataFrame | None = None,
        *,
        threshold_mv_per_day: float | None = None,
        cycles: list[int] | None = None,
    ):
        if isinstance(record, cycling.RecordAnalysis):
            if rest_record is not None:
                raise InputError("rest_record goes to bz.cycling.analyze_record(record, rest_record), "
                                 "not beside an analysis")
            if threshold_mv_per_day is not None and threshold_mv_per_day != record.threshold_mv_per_day:
                raise InputError(f"threshold_mv_per_day={threshold_mv_per_day} differs from the analysis's "
                                 f"{record.threshold_mv_per_day}; pass it to bz.cycling.analyze_record")
            self.analysis = record
        else:
            self.analysis = cycling.analyze_record(
                record, rest_record, threshold_mv_per_day=2.0 if threshold_mv_per_day is None else threshold_mv_per_day)
        self.record = self.analysis.record
        self.rest_record = self.analysis.rest_record
        self.threshold_mv_per_day = self.analysis.threshold_mv_per_day
        self.available_cycles = self.analysis.cycles
        self.rests = self.analysis.rests

        chosen = cycles if cycles is not None else self.available_cycles[:3]
        unknown = sorted(set(chosen) - set(self.available_cycles))
        if unknown:
            raise InputError(f"cycles {unknown} are not in the record (it has {self.available_cycles})")
        self.cycle_select = widgets.SelectMultiple(
            options=self.available_cycles, value=tuple(chosen), description="cycles", rows=min(6, len(self.available_cycles)),
        )
        self.direction = widgets.ToggleButtons(options=["discharge", "charge"], value="discharge",
                                               description="dQ/dV", style={"button_width": "90px"})
        # find_rests indexes its rows by step_count
        rest_options = [
            (f"step {int(step)}: {pc.duration_text(r.duration_second)} after {r.previous_step_type}", int(step))
            for step, r in zip(self.rests.index, self.rests.itertuples())
        ]
        self.rest_select = widgets.Dropdown(options=rest_options or [("no rest after a charge", None)],
                                            description="rest", layout=widgets.Layout(width="420px", max_width="100%"))
        self.summary = widgets.HTML(layout=widgets.Layout(max_width=f"{_PANEL_WIDTH}px"))
        self.vq_box, self.dqdv_box, self.rest_box = (widgets.Box() for _ in range(3))
        self.cycle_select.observe(lambda _: self._draw_cycles(), names="value")
        self.direction.observe(lambda _: self._draw_cycles(), names="value")
        self.rest_select.observe(lambda _: self._draw_rest(), names="value")
        super().__init__(children=[
            _wrapping_row([self.cycle_select, self.direction]),
            _wrapping_row([self.vq_box, self.dqdv_box]),
            self.rest_select,
            _wrapping_row([self.rest_box, self.summary]),
        ], layout=widgets.Layout(width="100%", max_width="100%"))
        self.add_class("batteryzoom-cycle-explorer")
        self._draw_cycles()
        self._draw_rest()

    # ------------------------------------------------------------- analyses
    def dqdv(self, cycle: int, direction: str) -> pd.DataFrame:
        """The analysis's dQ/dV of one half-cycle (``bz.cycling.dqdv``, computed once)."""
        return self.analysis.dqdv(cycle, direction)

    def self_discharge(self, rest_step: int) -> cycling.SelfDischargeResult:
        """The analysis's fit of one rest (``bz.cycling.self_discharge``, computed once)."""
        return self.analysis.self_discharge(rest_step)

    # -------------------------------------------------------------- drawing
    def _draw_cycles(self) -> None:
        chosen = list(self.cycle_select.value)
        self.vq_figure = go.FigureWidget(pc.voltage_capacity(self.record, chosen))
        fig = None
        for cyc in chosen:
            try:
                curve = self.dqdv(cyc, self.direction.value)
            except InputError:
                continue  # that cycle has no such half-cycle
            fig = pc.dqdv(curve, title=f"dQ/dV ({self.direction.value})", name=f"cycle {cyc}", fig=fig)
        self.dqdv_figure = go.FigureWidget(fig if fig is not None else go.Figure())
        for f in (self.vq_figure, self.dqdv_figure):
            # the legend under the plot: beside it, it took a third of a narrow panel's width
            f.update_layout(width=_PANEL_WIDTH, height=_PANEL_HEIGHT + 20 * len(chosen),
                            legend=dict(orientation="h", x=0, xanchor="left", y=-0.18, yanchor="top"),
                            margin=dict(l=60, r=20, t=80, b=60 + 20 * len(chosen)))
        self.vq_box.children = [self.vq_figure]
        self.dqdv_box.children = [self.dqdv_figure]

    def _draw_rest(self) -> None:
        step = self.rest_select.value
        if step is None:
            self.rest_figure = None
            self.rest_box.children = []
            self.summary.value = "<i>No rest after a charge in this record.</i>"
            return
        try:
            result = self.self_discharge(step)
        except InputError as exc:
            self.rest_figure = None
            self.rest_box.children = []
            self.summary.value = f"<span style='color:#b00020'>{exc}</span>"
            return
        too_short = pc.rest_too_short(result)
        self.rest_figure = go.FigureWidget(pc.self_discharge(result))
        self.rest_figure.update_layout(width=_PANEL_WIDTH, height=_PANEL_HEIGHT,
                                       legend=dict(orientation="h", x=0, xanchor="left", y=-0.18, yanchor="top"),
                                       margin=dict(l=60, r=20, t=50, b=90))
        self.rest_box.children = [self.rest_figure]
        verdict_color = {"fail": "#b00020", "pass": "#009E73"}.get(result.verdict, "#555555")
        if result.relaxation_complete:
            rows = (
                f"<tr><th style='text-align:left'>K-value</th><td>{result.k_value_mv_per_day:.3f} mV/day "
                f"[{result.k_ci_low_mv_per_day:.3f}, {result.k_ci_high_mv_per_day:.3f}]</td></tr>"
                f"<tr><th style='text-align:left'>leakage current</th><td>{result.leakage_current_a * 1e3:.3f} mA</td></tr>"
                f"<tr><th style='text-align:left'>capacity lost</th><td>{result.capacity_lost_ah * 1e3:.1f} mAh</td></tr>"
                f"<tr><th style='text-align:left'>relaxation over after</th><td>{result.relaxation_end_day:.2f} days</td></tr>"
            )
        elif too_short:  # minutes of rest: the fall is the relaxation; no leakage to speak of
            need = result.rest_needed_day
            rows = (
                f"<tr><th style='text-align:left'>rest</th><td>{pc.duration_text(result.rest_duration_day * 86400)}"
                " after the charge: far too short for a self-discharge estimate (the relaxation is not over)"
                + (f" (a rest of about {need:.2g} days is needed)" if np.isfinite(need) else "")
                + "; over it the voltage falls by relaxation alone, so no K-value or leakage current is shown</td></tr>"
            )
        else:  # the rest does not identify the relaxation: no K-value to screen by
            need = result.rest_needed_day
            rows = (
                f"<tr><th style='text-align:left'>relaxation</th><td>not over as far as the "
                f"{result.rest_duration_day:.2g}-day rest shows (not identified): "
                + (f"a rest of about {need:.2g} days is needed" if np.isfinite(need) else "a longer rest is needed")
                + " for a K-value</td></tr>"
                f"<tr><th style='text-align:left'>K-value</th><td>only bounded: {result.k_ci_low_mv_per_day:.3g} to "
                f"{result.k_ci_high_mv_per_day:.3g} mV/day</td></tr>"
                f"<tr><th style='text-align:left'>the fit's leakage term only</th>"
                f"<td>{result.k_value_mv_per_day:.3g} mV/day, {result.leakage_current_a * 1e3:.3g} mA</td></tr>"
            )
        self.summary.value = (
            "<table style='margin:1em'>" + rows
            + f"<tr><th style='text-align:left'>verdict (threshold {result.threshold_mv_per_day:g} mV/day)</th>"
            f"<td><b style='color:{verdict_color}'>{result.verdict}</b></td></tr></table>"
        )
