"""Figures of the electrochemistry scale (plotly, house style).

Each builder draws a result it is given (a BDF table, a table from :mod:`batteryzoom.cycling`
or a :class:`~batteryzoom.cycling.SelfDischargeResult`) and computes no science beyond
what it calls in :mod:`batteryzoom.cycling` for the drawing.

- :func:`voltage_capacity`: the study's Fig. S1, voltage against capacity, charge and
  discharge of each cycle.
- :func:`self_discharge`: Fig. S2, voltage against time in days with the fitted decay, the
  K-value window and the K-value annotated; several results overlay (a population).
- :func:`dqdv`: differential capacity with its peaks.
- :func:`cycle_summary`: capacities and efficiencies per cycle.
- :func:`population`: K-value per cell with the threshold and the robust-z verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import cycling as _cycling
from .style import COLORWAY, apply, figure, tick_format

__all__ = ["voltage_capacity", "self_discharge", "dqdv", "cycle_summary", "population"]

_DIRECTION_DASH = {"charge": "solid", "discharge": "dash"}


def _thin(sub: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Every k-th row (and the last) so a trace holds at most ``max_points`` points."""
    if max_points <= 0 or len(sub) <= max_points:
        return sub
    step = int(np.ceil(len(sub) / max_points))
    keep = np.r_[np.arange(0, len(sub), step), len(sub) - 1]
    return sub.iloc[np.unique(keep)]


def voltage_capacity(df: pd.DataFrame, cycles: Sequence[int] | None = None,
                     title: str = "Voltage vs capacity (Fig. S1)", max_points: int = 4000) -> go.Figure:
    """Voltage (V) against capacity (Ah) for the charge (solid) and discharge (dashed) of
    each cycle.

    Parameters
    ----------
    df : pandas.DataFrame
        BDF table.
    cycles : sequence of int, optional
        Cycles to draw (default: all, up to 12).
    max_points : int
        At most this many points per trace (evenly thinned; 0 keeps all).
    """
    vq = _cycling.vq_curves(df, None if cycles is None else list(cycles))
    fig = figure(title)
    shown = sorted(vq["cycle_count"].unique())[:12] if cycles is None else list(cycles)
    for k, cyc in enumerate(shown):
        color = COLORWAY[k % len(COLORWAY)]
        for direction, sub in vq[vq["cycle_count"] == cyc].groupby("direction", sort=False):
            sub = _thin(sub, max_points)
            fig.add_trace(go.Scattergl(
                x=sub["capacity_ah"], y=sub["voltage_volt"], mode="lines",
                name=f"cycle {cyc} {direction}", legendgroup=f"c{cyc}",
                line=dict(color=color, dash=_DIRECTION_DASH[direction], width=2),
                hovertemplate="%{x:.4f} Ah<br>%{y:.4f} V<extra>" + f"cycle {cyc} {direction}</extra>",
            ))
    fig.update_xaxes(title_text="Capacity (Ah)", tickformat=_span_format(vq["capacity_ah"]))
    fig.update_yaxes(title_text="Voltage (V)", tickformat=_span_format(vq["voltage_volt"]))
    return fig


def _span_format(values) -> str | None:
    """:func:`~.style.tick_format` for an axis showing ``values`` (NaN ignored)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return tick_format(v.min(), v.max()) if v.size else None


def self_discharge(results, title: str = "Self-discharge (Fig. S2)", show_fit: bool = True,
                   highlight: str | None = None, max_points: int = 4000) -> go.Figure:
    """Voltage against time (days) of the rest after a charge, with the fitted decay.

    Parameters
    ----------
    results : SelfDischargeResult or a sequence / dict of them
        From :func:`batteryzoom.cycling.self_discharge` or ``screen_population``.
    show_fit : bool
        Draw the relaxation + leakage fit and the K-value line over its window (named the
        fit's leakage term when the relaxation is not over: then it is no K-value).
    highlight : str, optional
        A ``cell_id`` drawn on top in a strong colour (e.g. the flagged cell); the others
        are drawn thin and grey.
    """
    if isinstance(results, _cycling.SelfDischargeResult):
        results = [results]
    elif isinstance(results, dict):
        results = list(results.values())
    fig = figure(title)
    many = len(results) > 1
    for k, r in enumerate(results):
        c = _thin(r.curve, max_points)
        strong = (not many) or (highlight is not None and r.cell_id == highlight)
        color = COLORWAY[0] if not many else (COLORWAY[1] if strong else "#9a9a9a")
        label = r.cell_id or "cell"
        # a K-value only where the rest measured one: with the relaxation not over, the
        # slope of the fit's leakage term is an extrapolation, not a K-value
        measured = bool(r.relaxation_complete)
        fig.add_trace(go.Scattergl(
            x=c["time_day"], y=c["voltage_volt"], mode="markers" if not many else "lines",
            marker=dict(size=5, color=color), line=dict(color=color, width=2.5 if strong else 1),
            name=f"{label} (K = {r.k_value_mv_per_day:.2f} mV/day)" if measured else label, legendgroup=label,
            hovertemplate="day %{x:.3f}<br>%{y:.4f} V<extra>" + label + "</extra>",
        ))
        if show_fit and (strong or not many):
            # WebGL like the data: plotly draws every WebGL trace above every SVG one, so an
            # SVG fit would hide under the 4000 data points it fits
            fig.add_trace(go.Scattergl(x=c["time_day"], y=c["fit_volt"], mode="lines", name=f"{label} fit",
                                       legendgroup=label, line=dict(color=COLORWAY[2], width=1.5)))
            w = (c["time_day"] >= r.window_start_day) & (c["time_day"] <= r.window_end_day)
            fig.add_trace(go.Scattergl(x=c.loc[w, "time_day"], y=c.loc[w, "linear_volt"], mode="lines",
                                       name=f"{label} K-value line" if measured else f"{label} fit's leakage term",
                                       legendgroup=label,
                                       line=dict(color=COLORWAY[3], width=2, dash="dash")))
    if not many or highlight is not None:
        r = results[0] if not many else next((x for x in results if x.cell_id == highlight), results[0])
        if r.relaxation_complete:
            text = (f"K = {r.k_value_mv_per_day:.2f} mV/day "
                    f"[{r.k_ci_low_mv_per_day:.2f}, {r.k_ci_high_mv_per_day:.2f}] ({r.confidence:.0%})<br>"
                    f"leakage ≈ {r.leakage_current_a * 1e3:.3f} mA, lost {r.capacity_lost_ah * 1e3:.0f} mAh<br>"
                    f"relaxation over after {r.relaxation_end_day:.2f} d — verdict: <b>{r.verdict}</b>")
        else:
            # the rest does not identify the relaxation: the K-value is only bounded, and
            # the fit's leakage term is no K-value to screen by
            # (short lines: the box sits inside the plot, beside the legend)
            need = r.rest_needed_day
            text = (f"relaxation not over within the {r.rest_duration_day:.2g} d rest (not identified)<br>"
                    f"verdict: <b>{r.verdict}</b> — no K-value, only "
                    f"{r.k_ci_low_mv_per_day:.3g} to {r.k_ci_high_mv_per_day:.3g} mV/day<br>"
                    f"the fit's leakage term: {r.k_value_mv_per_day:.3g} mV/day, {r.leakage_current_a * 1e3:.3g} mA<br>"
                    "(not a K-value to screen by)"
                    + (f"<br>a rest of about {need:.2g} days is needed" if np.isfinite(need) else ""))
        fig.add_annotation(xref="paper", yref="paper", x=0.98, y=0.98, xanchor="right", yanchor="top",
                           text=text, showarrow=False, align="right", bgcolor="rgba(255,255,255,0.85)")
    fig.update_xaxes(title_text="Time at rest (days)")
    fig.update_yaxes(title_text="Voltage (V)",
                     tickformat=_span_format(np.concatenate([r.curve["voltage_volt"].to_numpy(float) for r in results])))
    return fig


def dqdv(curve: pd.DataFrame, peaks: pd.DataFrame | None = None, title: str = "Differential capacity",
         name: str | None = None, fig: go.Figure | None = None) -> go.Figure:
    """dQ/dV (Ah/V) against voltage, with peak markers.

    Parameters
    ----------
    curve : pandas.DataFrame
        From :func:`batteryzoom.cycling.dqdv`.
    peaks : pandas.DataFrame, optional
        From :func:`batteryzoom.cycling.find_dqdv_peaks` (computed when omitted).
    fig : plotly Figure, optional
        Add to this figure (to overlay cycles).
    """
    if peaks is None:
        peaks = _cycling.find_dqdv_peaks(curve)
    fig = fig if fig is not None else figure(title)
    k = len(fig.data) // 2
    color = COLORWAY[k % len(COLORWAY)]
    label = name or f"cycle {curve.attrs.get('cycle', '')} {curve.attrs.get('direction', '')}".strip()
    fig.add_trace(go.Scatter(x=curve["voltage_volt"], y=curve["dqdv_ah_per_v"], mode="lines", name=label,
                             line=dict(color=color, width=2)))
    fig.add_trace(go.Scatter(x=peaks["voltage_volt"], y=peaks["dqdv_ah_per_v"], mode="markers+text",
                             name=f"{label} peaks", marker=dict(color=color, size=9, symbol="triangle-down"),
                             text=[f"{v:.3f} V" for v in peaks["voltage_volt"]], textposition="top center"))
    fig.update_xaxes(title_text="Voltage (V)")
    fig.update_yaxes(title_text="dQ/dV (Ah/V)")
    if curve.attrs.get("method"):
        fig.add_annotation(xref="paper", yref="paper", x=0.01, y=-0.16, showarrow=False, xanchor="left",
                           text=f"smoothing: {curve.attrs['method']}", font=dict(size=11, color="#555"))
    return fig


def cycle_summary(summary: pd.DataFrame, title: str = "Cycle summary") -> go.Figure:
    """Charge and discharge capacity (Ah, left) and coulombic / energy efficiency (right)
    per cycle, from :func:`batteryzoom.cycling.cycle_summary`."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = summary.index.to_numpy()
    fig.add_trace(go.Scatter(x=x, y=summary["charge_capacity_ah"], mode="lines+markers", name="charge capacity"),
                  secondary_y=False)
    fig.add_trace(go.Scatter(x=x, y=summary["discharge_capacity_ah"], mode="lines+markers",
                             name="discharge capacity"), secondary_y=False)
    fig.add_trace(go.Scatter(x=x, y=summary["coulombic_efficiency"] * 100, mode="lines+markers",
                             name="coulombic efficiency", line=dict(dash="dot")), secondary_y=True)
    fig.add_trace(go.Scatter(x=x, y=summary["energy_efficiency"] * 100, mode="lines+markers",
                             name="energy efficiency", line=dict(dash="dot")), secondary_y=True)
    apply(fig, title)
    fig.update_xaxes(title_text="Cycle", dtick=1)
    capacity = summary[["charge_capacity_ah", "discharge_capacity_ah"]].to_numpy(float).ravel()
    efficiency = summary[["coulombic_efficiency", "energy_efficiency"]].to_numpy(float).ravel() * 100
    fig.update_yaxes(title_text="Capacity (Ah)", secondary_y=False, tickformat=_span_format(capacity))
    # ticks of its own (plotly syncs an overlaying axis' ticks to the primary's gridlines:
    # 91.71, 93.44, ... 100.39 %), round and printed with the same decimals
    fig.update_yaxes(title_text="Efficiency (%)", secondary_y=True, showgrid=False, tickmode="auto",
                     tickformat=_span_format(efficiency))
    return fig


def population(table: pd.DataFrame, title: str = "Self-discharge screen: K-value per cell") -> go.Figure:
    """K-value per cell (a point with its confidence interval, log scale), the QC threshold
    and the population verdict, from :func:`batteryzoom.cycling.screen_population`.

    Trace 0 holds every cell in ascending K-value, coloured by verdict; the verdicts have
    legend entries of their own. Points, not bars: a bar's length on a log axis depends on
    where the axis happens to start.
    """
    t = table.sort_values("k_value_mv_per_day")
    verdict_colors = {"fail": COLORWAY[1], "pass": COLORWAY[0], "inconclusive": "#999999"}
    colors = [verdict_colors.get(v, "#999999") for v in t["verdict"]]
    # a cell whose relaxation did not end within its rest has no K-value: its point is the
    # fitted leakage term's slope, drawn open and said to be that
    relaxed = t["relaxation_complete"].to_numpy(bool) if "relaxation_complete" in t else np.ones(len(t), bool)
    what = np.where(relaxed, "K = ", "no K-value (relaxation not over); fitted leakage term ")
    fig = figure(title)
    fig.add_trace(go.Scatter(
        x=t.index.astype(str), y=t["k_value_mv_per_day"], mode="markers", name="K-value", showlegend=False,
        marker=dict(color=colors, size=11, line=dict(color="white", width=1),
                    symbol=np.where(relaxed, "circle", "circle-open").tolist()),
        error_y=dict(type="data", symmetric=False, color="#444", thickness=1.5, width=6,
                     array=t["k_ci_high_mv_per_day"] - t["k_value_mv_per_day"],
                     arrayminus=t["k_value_mv_per_day"] - t["k_ci_low_mv_per_day"]),
        customdata=np.c_[t["robust_z"], t["leakage_current_a"] * 1e6, t["verdict"], what],
        hovertemplate="%{x}<br>%{customdata[3]}%{y:.3f} mV/day<br>robust z = %{customdata[0]:.1f}"
                      "<br>leakage %{customdata[1]:.1f} µA<br>%{customdata[2]}<extra></extra>",
    ))
    for verdict in [v for v in verdict_colors if v in set(t["verdict"])]:  # legend entries only
        name = "inconclusive: no K-value (relaxation not over)" if verdict == "inconclusive" else verdict
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                 marker=dict(color=verdict_colors[verdict], size=11,
                                             symbol="circle-open" if verdict == "inconclusive" else "circle")))
    thr = float(t["threshold_mv_per_day"].iloc[0])
    fig.add_hline(y=thr, line=dict(color=COLORWAY[1], dash="dash"))
    # on a log axis an annotation's y is log10 of the value (add_hline's own label would sit
    # at 10**thr)
    fig.add_annotation(x=0, xref="paper", xanchor="left", y=float(np.log10(thr)), yref="y", yanchor="bottom",
                       text=f"threshold {thr:g} mV/day", showarrow=False, font=dict(color=COLORWAY[1]))
    values = np.r_[t["k_ci_low_mv_per_day"], t["k_ci_high_mv_per_day"], t["k_value_mv_per_day"], thr]
    values = values[np.isfinite(values) & (values > 0)]
    y_range = [float(np.log10(values.min())) - 0.1, float(np.log10(values.max())) + 0.1] if values.size else None
    ticks = {}
    if y_range is not None:
        # whole values at 1-2-5 steps: plotly's own log ticks label 0.3 as "3" below "1"
        decades = np.arange(np.floor(y_range[0]), np.ceil(y_range[1]) + 1)
        vals = [m * 10.0**d for d in decades for m in (1, 2, 5) if y_range[0] <= np.log10(m * 10.0**d) <= y_range[1]]
        ticks = dict(tickvals=vals, ticktext=[f"{v:g}" for v in vals])
    fig.update_yaxes(title_text="K-value (mV/day)", type="log", range=y_range, **ticks)
    fig.update_xaxes(title_text="Cell")
    # the low-K cells sit bottom left: the legend goes top left, clear of them and of the labels
    fig.update_layout(legend=dict(title_text="verdict", x=0.01, xanchor="left", y=0.99, yanchor="top",
                                  bordercolor="#ccc", borderwidth=1))
    return fig
