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

__all__ = ["voltage_capacity", "self_discharge", "dqdv", "cycle_summary", "population", "rest_too_short",
           "duration_text"]

# A rest shorter than this share of the rest it would need gives no leakage estimate: over
# minutes the voltage's fall is the relaxation alone (a 5-minute rest's "leakage term" read
# 600 mA on a healthy 4.7 Ah cell).
_TOO_SHORT_SHARE = 0.1



def _thin(sub: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Every k-th row (and the last) so a trace holds at most ``max_points`` points."""
    if max_points <= 0 or len(sub) <= max_points:
        return sub
    step = int(np.ceil(len(sub) / max_points))
    keep = np.r_[np.arange(0, len(sub), step), len(sub) - 1]
    return sub.iloc[np.unique(keep)]


def voltage_capacity(df: pd.DataFrame, cycles: Sequence[int] | None = None,
                     title: str = "Voltage vs capacity (Fig. S1)", max_points: int = 2000) -> go.Figure:
    """Voltage (V) against capacity (Ah) for the charge (blue) and discharge (orange) of
    each cycle (darker: later), with the protocol as the legend's title.

    Parameters
    ----------
    df : pandas.DataFrame
        BDF table.
    cycles : sequence of int, optional
        Cycles to draw (default: all, up to 12).
    max_points : int
        At most this many points per trace (evenly thinned; 0 keeps all).

    Examples
    --------
    >>> import batteryzoom as bz
    >>> record = bz.data.load("twin/cycling-one-cycle")
    >>> fig = bz.plots.cycling.voltage_capacity(record)
    >>> sorted({trace.name for trace in fig.data})
    ['cycle 1 charge', 'cycle 1 discharge']
    >>> fig.layout.legend.title.text
    '2 A CC-CV charge / 4 A discharge'
    """
    vq = _cycling.vq_curves(df, None if cycles is None else list(cycles))
    fig = figure(title)
    shown = sorted(vq["cycle_count"].unique())[:12] if cycles is None else list(cycles)
    # charge in blues, discharge in oranges (darker = later cycle), both solid: one colour
    # per cycle with a dashed discharge read as one line, and WebGL dashes over thousands of
    # points came out ragged. SVG, not WebGL: a browser keeps ~16 WebGL contexts per page,
    # and a notebook's older WebGL figures went blank
    shades = np.linspace(0.45, 1.0, len(shown)) if len(shown) > 1 else np.array([1.0])
    for k, cyc in enumerate(shown):
        for direction, sub in vq[vq["cycle_count"] == cyc].groupby("direction", sort=False):
            sub = _thin(sub, max_points)
            fig.add_trace(go.Scatter(
                x=sub["capacity_ah"], y=sub["voltage_volt"], mode="lines",
                name=f"cycle {cyc} {direction}", legendgroup=direction,
                line=dict(color=_shade(_DIRECTION_COLOR[direction], shades[k]), width=2),
                hovertemplate="%{x:.4f} Ah<br>%{y:.4f} V<extra>" + f"cycle {cyc} {direction}</extra>",
            ))
    protocol = _protocol_text(df, shown)
    if protocol:
        fig.update_layout(legend_title=dict(text=protocol, side="top"))
    fig.update_xaxes(title_text="Capacity (Ah)", tickformat=_span_format(vq["capacity_ah"]))
    fig.update_yaxes(title_text="Voltage (V)", tickformat=_span_format(vq["voltage_volt"]))
    return fig


_DIRECTION_COLOR = {"charge": COLORWAY[0], "discharge": COLORWAY[1]}


def _shade(hex_color: str, share: float) -> str:
    """``hex_color`` mixed with white: ``share`` 1 is the colour itself, 0 white."""
    rgb = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)], float)
    mixed = 255 - (255 - rgb) * share
    return "#" + "".join(f"{int(round(v)):02x}" for v in mixed)


def _amps_text(values: np.ndarray) -> str:
    """'2 A' or '2.5–5 A' for the currents of the shown half-cycles."""
    values = np.unique(np.round(values[np.isfinite(values)], 2))
    if not values.size:
        return ""
    lo, hi = values.min(), values.max()
    return f"{lo:.3g} A" if np.isclose(lo, hi, rtol=0.02) else f"{lo:.3g}–{hi:.3g} A"


def _protocol_text(df: pd.DataFrame, cycles: Sequence[int]) -> str:
    """The cycling protocol of ``cycles`` for the legend's title, from the record itself:
    '2 A CC-CV charge / 4 A discharge' (the constant current of each half-cycle: its
    largest current, rounded to 10 mA; CV when the charge has a constant-voltage step)."""
    if not {"step_type", "current_ampere", "cycle_count"} <= set(df.columns):
        return ""
    rows = df[df["cycle_count"].isin(list(cycles))]
    st = rows["step_type"].astype(str)
    current = rows["current_ampere"].to_numpy(float)
    parts = []
    for direction in ("charge", "discharge"):
        half = (st.str.endswith("discharge") == (direction == "discharge")) & st.str.endswith("charge")
        half = half.to_numpy()
        if not half.any():
            continue
        steps = rows.loc[half, ["cycle_count", "step_type"]].assign(i=np.abs(current[half]))
        amps = _amps_text(steps.groupby("cycle_count")["i"].max().to_numpy())
        cv = direction == "charge" and st[half].str.contains("cv").any()
        parts.append(f"{amps} {'CC-CV ' if cv else ''}{direction}".strip())
    return " / ".join(parts)


def duration_text(seconds: float) -> str:
    """A duration in the unit that fits it: s, min, h or days.

    Examples
    --------
    >>> from batteryzoom.plots.cycling import duration_text
    >>> duration_text(300), duration_text(7200), duration_text(25 * 86400)
    ('5 min', '2.0 h', '25.0 days')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _span_format(values) -> str | None:
    """:func:`~.style.tick_format` for an axis showing ``values`` (NaN ignored)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return tick_format(v.min(), v.max()) if v.size else None


def rest_too_short(result) -> bool:
    """Whether a rest is far too short to show any leakage: its relaxation is not over and
    it lasts under a tenth of the rest it would need (at least a day), as a 5-minute rest
    after a charge against the 7 days :func:`batteryzoom.cycling.self_discharge` asks for.
    The fit's leakage term is then the relaxation's slope, not a leakage, and the figures
    and the explorer say so instead of printing it.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> result = bz.cycling.self_discharge(bz.data.load("twin/cycling-self-discharge"))
    >>> bz.plots.cycling.rest_too_short(result)   # 25 days of rest
    False
    """
    if result.relaxation_complete:
        return False
    need = result.rest_needed_day
    need = max(need, 1.0) if np.isfinite(need) else 1.0
    return bool(result.rest_duration_day < _TOO_SHORT_SHARE * need)


def self_discharge(results, title: str = "Self-discharge (Fig. S2)", show_fit: bool = True,
                   highlight: str | None = None, max_points: int = 2000) -> go.Figure:
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
    # the highlighted cell last, so that it is drawn over the grey lot
    order = sorted(results, key=lambda r: highlight is not None and r.cell_id == highlight)
    grey = [r for r in results if many and not (highlight is not None and r.cell_id == highlight)]
    if grey:  # one legend entry for the grey lot (13 entries scrolled in a notebook's legend)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color="#9a9a9a", width=1),
                                   name=f"the other {len(grey)} cells", hoverinfo="skip"))
    for r in order:
        c = _thin(r.curve, max_points)
        strong = (not many) or (highlight is not None and r.cell_id == highlight)
        color = COLORWAY[0] if not many else (COLORWAY[1] if strong else "#9a9a9a")
        label = r.cell_id or "cell"
        # a K-value only where the rest measured one: with the relaxation not over, the
        # slope of the fit's leakage term is an extrapolation, not a K-value
        measured = bool(r.relaxation_complete)
        group = label
        fig.add_trace(go.Scatter(
            x=c["time_day"], y=c["voltage_volt"], mode="markers" if not many else "lines",
            marker=dict(size=5, color=color), line=dict(color=color, width=3 if strong else 1),
            name=f"{label} (K = {r.k_value_mv_per_day:.2f} mV/day)" if measured else label, legendgroup=label,
            showlegend=strong, hovertemplate="day %{x:.3f}<br>%{y:.4f} V<extra>" + label + "</extra>",
        ))
        if show_fit and (strong or not many):
            # SVG like the data, after it (drawn over it); over a highlighted line the fit is
            # thin, dark and dotted, so the line keeps its own colour
            fit_line = dict(color=COLORWAY[2], width=1.5) if not many else dict(color="#000000", width=1.2, dash="dot")
            fig.add_trace(go.Scatter(x=c["time_day"], y=c["fit_volt"], mode="lines", name=f"{label} fit",
                                       legendgroup=group, line=fit_line))
            if rest_too_short(r):  # minutes of rest: the "leakage term" is the relaxation's slope
                continue
            w = (c["time_day"] >= r.window_start_day) & (c["time_day"] <= r.window_end_day)
            fig.add_trace(go.Scatter(x=c.loc[w, "time_day"], y=c.loc[w, "linear_volt"], mode="lines",
                                       name=f"{label} K-value line" if measured else f"{label} fit's leakage term",
                                       legendgroup=group,
                                       line=dict(color=COLORWAY[3] if not many else COLORWAY[0], width=2, dash="dash")))
    if not many or highlight is not None:
        r = results[0] if not many else next((x for x in results if x.cell_id == highlight), results[0])
        if r.relaxation_complete:
            text = (f"K = {r.k_value_mv_per_day:.2f} mV/day "
                    f"[{r.k_ci_low_mv_per_day:.2f}, {r.k_ci_high_mv_per_day:.2f}] ({r.confidence:.0%})<br>"
                    f"leakage ≈ {r.leakage_current_a * 1e3:.3f} mA, lost {r.capacity_lost_ah * 1e3:.0f} mAh<br>"
                    f"relaxation over after {r.relaxation_end_day:.2f} d — verdict: <b>{r.verdict}</b>")
        elif rest_too_short(r):
            need = r.rest_needed_day
            text = (f"a {duration_text(r.rest_duration_day * 86400)} rest: far too short<br>"
                    "for a self-discharge estimate<br>(relaxation not over: the voltage<br>"
                    "falls by relaxation alone)<br>"
                    f"verdict: <b>{r.verdict}</b>: no K-value,<br>no leakage current"
                    + (f"<br>a rest of about {need:.2g} days is needed" if np.isfinite(need) else ""))
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
        # one cell's voltage falls from top left to bottom right: the box goes top right; a
        # lot's healthy cells stay along the top, so there it goes bottom left
        corner = dict(x=0.98, y=0.98, xanchor="right", yanchor="top", align="right") if not many else \
            dict(x=0.02, y=0.02, xanchor="left", yanchor="bottom", align="left")
        fig.add_annotation(xref="paper", yref="paper", text=text, showarrow=False,
                           bgcolor="rgba(255,255,255,0.85)", **corner)
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
    # peak labels: the first curve's only (an overlaid cycle's peaks sit at nearly the same
    # voltages and their labels piled up; hover names them), nudged left/right when two
    # peaks are close, with headroom above the highest so none is cut at the top
    volts = peaks["voltage_volt"].to_numpy(float)
    positions, last = [], -np.inf
    for v in volts:
        close = v - last < 0.12
        positions.append(("top left" if positions and positions[-1] != "top left" else "top right")
                         if close else "top center")
        if close and len(positions) > 1 and positions[-2] == "top center":
            positions[-2] = "top left" if positions[-1] == "top right" else "top right"
        last = v
    fig.add_trace(go.Scatter(x=volts, y=peaks["dqdv_ah_per_v"], mode="markers+text" if k == 0 else "markers",
                             name=f"{label} peaks", marker=dict(color=color, size=9, symbol="triangle-down"),
                             text=[f"{v:.3f} V" for v in volts], textposition=positions,
                             hovertemplate="%{text}<br>%{y:.3g} Ah/V<extra>" + label + "</extra>"))
    y = np.concatenate([np.asarray(t.y, float) for t in fig.data if t.y is not None and len(t.y)])
    y = y[np.isfinite(y)]
    if y.size:
        lo, hi = float(min(y.min(), 0.0)), float(y.max())
        fig.update_yaxes(range=[lo - 0.02 * (hi - lo), hi + 0.15 * (hi - lo)])
    fig.update_xaxes(title_text="Voltage (V)")
    fig.update_yaxes(title_text="dQ/dV (Ah/V)")
    method = curve.attrs.get("method")
    if method and "smoothing:" not in str(fig.layout.title.text):
        # under the title (under the axis it ran into the axis title of a short figure)
        fig.update_layout(title_text=f"{fig.layout.title.text or ''}<br><span style='font-size:11px;color:#555'>"
                                     f"smoothing: {method}</span>", margin_t=80)
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
