"""Figures of the cell scale (plotly, house style): the slice, the unrolled roll, the deformation.

Builders draw results from :mod:`batteryzoom.cell` (a :class:`~batteryzoom.cell.CellSlice`,
:class:`~batteryzoom.cell.Layers`, :class:`~batteryzoom.cell.Can`, the defect tables and the
volume's deformation map) and compute nothing beyond what drawing needs (binning a large
image for display, the outline of a fitted ellipse).

- :func:`slice_figure`: the slice with the can's fitted ellipse, the tracked windings and the
  defects (optionally the true defects of the twin) overlaid.
- :func:`unrolled_figure`: the slice on (angle, radius) with the tracked ridges: each winding a
  line climbing one pitch per turn.
- :func:`deformation_figure`: the residual from the fitted spiral, per (turn, angle) for one
  slice or per (z, angle) through a volume, with defects marked.
- :func:`can_figure`: the can's outer surface against its fitted ellipse, dents shaded.
- :func:`summary_figure`: the per-slice summary of a volume along z.

Lengths are µm (in a voxel frame, ``voxel_size_um="px"``, the tables name them ``..._px`` and
their ``length_unit`` says "px"; axis titles follow it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import InputError
from ..frames import frame_of
from .style import COLORWAY, apply, figure, tick_format

__all__ = [
    "slice_figure",
    "unrolled_figure",
    "deformation_figure",
    "can_figure",
    "summary_figure",
    "DEFECT_STYLE",
]

# marker symbol and colour per defect type (Okabe–Ito)
DEFECT_STYLE = {
    "buckling": ("diamond", "#D55E00"),
    "gap": ("square", "#0072B2"),
    "tear": ("x", "#CC79A7"),
    "inclusion": ("star", "#E69F00"),
    "dent": ("triangle-up", "#009E73"),
}
_RIDGE_COLORS = ("#56B4E9", "#F0E442")


_PX_NAME = re.compile(r"_px(?=$|_per_)")


def _unit(obj: Any) -> str:
    attrs = getattr(obj, "attrs", {}) or {}
    unit = attrs.get("length_unit", getattr(obj, "length_unit", "um"))
    return "px" if unit in ("pixel", "px") else "µm"


def _um_names(table: Any) -> Any:
    """A table of bz.cell in a voxel frame (``pitch_px``) read under its µm names (its unit
    stays in ``attrs["length_unit"]``): one drawing code for both frames."""
    if table is None or not isinstance(table, pd.DataFrame):
        return table
    return table.rename(columns=lambda c: _PX_NAME.sub("_um", c) if isinstance(c, str) else c)


def _bin_image(values: np.ndarray, max_pixels: int) -> tuple[np.ndarray, int]:
    """Block-mean binning so the longer side has at most ``max_pixels`` (display only)."""
    f = int(np.ceil(max(values.shape) / max_pixels)) if max_pixels else 1
    if f <= 1:
        return values, 1
    ny, nx = (values.shape[0] // f) * f, (values.shape[1] // f) * f
    return values[:ny, :nx].reshape(ny // f, f, nx // f, f).mean(axis=(1, 3)), f


def _image_axes(image: Any, voxel_size_um: float | None, shape: tuple[int, int]):
    # the frame by the package's one reader; an unknown size draws in pixels (1 per voxel)
    frame = frame_of(image, voxel_size_um, ndim=2, missing="px")
    (y0, x0), (vy, vx) = frame.origin_um, frame.voxel_size_um
    return y0 + np.arange(shape[0]) * vy, x0 + np.arange(shape[1]) * vx, vx


def _defect_traces(defects: pd.DataFrame, x: str, y: str, name_prefix: str = "", truth: bool = False,
                   xscale: float = 1.0) -> list[go.Scatter]:
    traces = []
    if defects is None or len(defects) == 0:
        return traces
    defects = _um_names(defects)
    for kind, g in defects.groupby("type", sort=False):
        symbol, color = DEFECT_STYLE.get(kind, ("circle", "#000000"))
        text = [
            f"{kind}<br>magnitude {m:.1f}<br>severity {s:.2f}" + (f"<br>{d}" if isinstance(d, str) and d else "")
            for m, s, d in zip(g.magnitude_um, g.severity, g.get("detail", pd.Series([""] * len(g), index=g.index)))
        ]
        traces.append(go.Scatter(
            x=g[x].to_numpy(float) * xscale, y=g[y].to_numpy(float), mode="markers",
            name=f"{name_prefix}{kind}",
            marker=dict(symbol=f"{symbol}-open" if truth else symbol, size=16 if truth else 11, color=color,
                        line=dict(width=2 if truth else 1, color=color if truth else "white")),
            text=text, hoverinfo="text+x+y", legendgroup=f"{name_prefix}{kind}",
            cliponaxis=False,  # a defect at 0° or 360° (an axis' end) shows whole, not halved
        ))
    return traces


def slice_figure(
    image: Any,
    result: Any = None,
    *,
    voxel_size_um: float | None = None,
    truth: pd.DataFrame | None = None,
    show_layers: bool = True,
    max_pixels: int = 700,
    title: str | None = None,
) -> go.Figure:
    """The slice with the can's ellipse, the tracked windings and the defects overlaid.

    Parameters
    ----------
    image : DataArray or array (y, x)
        The slice (grey values).
    result : CellSlice, optional
        Output of :func:`batteryzoom.cell.analyze_slice` on that slice.
    voxel_size_um : float, optional
        Pixel size when ``image`` carries none.
    truth : DataFrame, optional
        True defects (``type``, ``y_um``, ``x_um``, ``magnitude_um``, ``severity``), drawn as
        open markers (e.g. the twin's defects near this slice's height).
    show_layers : bool
        Draw every tracked winding.
    max_pixels : int
        Bin the image for display so its longer side has at most this many pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.plots.cell import slice_figure
    >>> image = np.random.default_rng(0).normal(100.0, 5.0, (64, 80)).astype(np.float32)
    >>> fig = slice_figure(image, voxel_size_um=25.0)   # no analysis: the slice alone, in µm
    >>> heat = fig.data[0]
    >>> heat.type, float(heat.x[-1]), float(heat.y[-1])   # the last pixel centres, µm
    ('heatmap', 1975.0, 1575.0)
    """
    values = np.asarray(image.values if hasattr(image, "values") else image, dtype=np.float32)
    if values.ndim != 2:
        raise InputError(f"slice_figure: expected one 2D slice, got shape {values.shape}")
    y, x, v = _image_axes(image, voxel_size_um, values.shape)
    shown, f = _bin_image(values, max_pixels)
    ys = y[: shown.shape[0] * f].reshape(-1, f).mean(axis=1) if f > 1 else y
    xs = x[: shown.shape[1] * f].reshape(-1, f).mean(axis=1) if f > 1 else x
    # the can is the brightest 1-2 % of a slice: let the roll use the grey range
    lo, hi = np.percentile(shown[np.isfinite(shown)], [0.5, 98.0])
    unit = _unit(result.layers if result is not None and result.layers is not None else image)
    fig = figure(title or "Slice: can, windings and defects")
    fig.add_trace(go.Heatmap(z=shown, x=xs, y=ys, colorscale="Gray", zmin=lo, zmax=hi, showscale=False,
                             name="slice", hovertemplate=f"x %{{x:.0f}} {unit}<br>y %{{y:.0f}} {unit}<br>%{{z:.0f}}<extra></extra>"))
    if result is not None:
        can = result.can
        if can is not None:
            t = np.linspace(0, 2 * np.pi, 361)
            a, b, th = can.semi_major_um, can.semi_minor_um, can.orientation_rad
            fig.add_trace(go.Scatter(
                x=can.centre_x_um + a * np.cos(t) * np.cos(th) - b * np.sin(t) * np.sin(th),
                y=can.centre_y_um + a * np.cos(t) * np.sin(th) + b * np.sin(t) * np.cos(th),
                mode="lines", name="can (fitted ellipse)", line=dict(color=COLORWAY[2], width=1.5, dash="dot"),
                hoverinfo="name"))
        layers = result.layers
        if show_layers and layers is not None:
            ry, rx = layers.ridge_yx_um()
            step = max(1, ry.shape[1] // 720)
            for parity in (0, 1):
                xx, yy = [], []
                for k in range(parity, ry.shape[0], 2):
                    xx += list(rx[k, ::step]) + [None]
                    yy += list(ry[k, ::step]) + [None]
                fig.add_trace(go.Scatter(
                    x=xx, y=yy, mode="lines", name="windings (even turns)" if parity == 0 else "windings (odd turns)",
                    line=dict(color=_RIDGE_COLORS[parity], width=1), connectgaps=False, hoverinfo="skip",
                    legendgroup="windings"))
        for tr in _defect_traces(result.defects, "x_um", "y_um"):
            fig.add_trace(tr)
    for tr in _defect_traces(truth, "x_um", "y_um", name_prefix="true ", truth=True):
        fig.add_trace(tr)
    # the axes end where the image ends (no blank bands inside the frame)
    x_edges = [float(xs[0] - f * v / 2), float(xs[-1] + f * v / 2)]
    y_edges = [float(ys[0] - f * v / 2), float(ys[-1] + f * v / 2)]
    fig.update_xaxes(title_text=f"x ({unit})", constrain="domain", range=x_edges)
    fig.update_yaxes(title_text=f"y ({unit})", range=y_edges[::-1], scaleanchor="x", scaleratio=1, constrain="domain")
    fig.update_layout(height=650, legend=dict(itemsizing="constant"))
    return fig


def unrolled_figure(unrolled: Any, layers: Any = None, *, max_pixels: int = 900, title: str | None = None) -> go.Figure:
    """The unrolled slice (angle across, radius up) with the tracked ridges.

    Parameters
    ----------
    unrolled : DataArray (radius, angle)
        From :func:`batteryzoom.cell.unroll` (or ``CellSlice.unrolled``).
    layers : Layers, optional
        Tracked windings to draw over it.
    """
    vals = np.asarray(unrolled.values, dtype=np.float32)
    r = np.asarray(unrolled.radius.values, float)
    ang = np.degrees(np.asarray(unrolled.angle.values, float))
    fr = max(1, int(np.ceil(vals.shape[0] / max_pixels)))
    fa = max(1, int(np.ceil(vals.shape[1] / max_pixels)))
    shown = vals[::fr, ::fa]
    finite = shown[np.isfinite(shown)]
    lo, hi = np.percentile(finite, [0.5, 99.5]) if finite.size else (0, 1)
    unit = _unit(unrolled)
    fig = figure(title or "Unrolled slice: each winding a line, one pitch per turn")
    fig.add_trace(go.Heatmap(z=shown, x=ang[::fa], y=r[::fr], colorscale="Gray", zmin=lo, zmax=hi, showscale=False,
                             hovertemplate=f"angle %{{x:.1f}}°<br>r %{{y:.0f}} {unit}<extra></extra>"))
    if layers is not None:
        la = np.degrees(layers.angle_rad)
        step = max(1, len(la) // 1000)
        for k in range(layers.n_turns):
            fig.add_trace(go.Scatter(x=la[::step], y=layers.radius_um[k, ::step], mode="lines",
                                     line=dict(color=_RIDGE_COLORS[k % 2], width=1), name=f"turn {k}",
                                     showlegend=False, hovertemplate=f"turn {k}<br>%{{x:.1f}}°, %{{y:.1f}} {unit}<extra></extra>"))
    fig.update_xaxes(title_text="angle (°, from +x towards +y)", range=[0, 360])
    fig.update_yaxes(title_text=f"radius ({unit})")
    return fig


def deformation_figure(
    source: Any,
    *,
    turn: int | None = None,
    defects: pd.DataFrame | None = None,
    limit_um: float | None = None,
    title: str | None = None,
) -> go.Figure:
    """The deformation: each winding's distance from the fitted spiral (blue in, red out).

    Parameters
    ----------
    source : Layers or DataArray (z, turn, angle)
        One slice's :class:`~batteryzoom.cell.Layers` (drawn turn × angle) or a volume's
        ``CellVolume.residual`` (drawn z × angle: one ``turn``, or by default at each
        (z, angle) the turn displaced most).
    turn : int, optional
        For a volume: the turn to draw.
    defects : DataFrame, optional
        Defects to mark (``angle_rad`` and ``turn`` for a slice, ``z_um`` for a volume).
    limit_um : float, optional
        Colour range ±limit (default: the 99th percentile of |residual|).
    """
    if hasattr(source, "residual_um") and hasattr(source, "angle_rad"):
        res = np.asarray(source.residual_um, float)
        ang = np.degrees(source.angle_rad)
        yvals = np.arange(res.shape[0])
        ylabel, unit = "turn (from the inside)", _unit(source)
        xcol, ycol = "angle_rad", "turn"
    elif hasattr(source, "dims") and tuple(source.dims) == ("z", "turn", "angle"):
        data = np.asarray(source.values, float)
        ang = np.degrees(np.asarray(source.angle.values, float))
        yvals = np.asarray(source.z.values, float)
        unit = "px" if source.attrs.get("units") in ("pixel", "px") else "µm"
        if turn is not None:
            res = data[:, turn, :]
        else:
            idx = np.nanargmax(np.where(np.isfinite(data), np.abs(data), -1), axis=1)
            res = np.take_along_axis(data, idx[:, None, :], axis=1)[:, 0, :]
        ylabel = f"z ({unit})"
        xcol, ycol = "angle_rad", "z_um"
    else:
        raise InputError("deformation_figure: pass a Layers or a (z, turn, angle) residual DataArray")
    finite = np.abs(res[np.isfinite(res)])
    lim = limit_um or (float(np.percentile(finite, 99)) if finite.size else 1.0)
    what = f"turn {turn}" if turn is not None else ("largest displacement over the turns" if ylabel.startswith("z") else "")
    fig = figure(title or f"Deformation: distance from the fitted spiral {('(' + what + ')') if what else ''}".strip())
    fig.add_trace(go.Heatmap(z=res, x=ang, y=yvals, colorscale="RdBu_r", zmid=0, zmin=-lim, zmax=lim,
                             colorbar=dict(title=dict(text=f"radial displacement<br>({unit}, + outward)", side="right")),
                             hovertemplate=f"%{{x:.1f}}°<br>{ylabel.split(' (')[0]} %{{y}}<br>%{{z:.1f}} {unit}<extra></extra>"))
    if defects is not None and len(defects):
        defects = _um_names(defects)
        d = defects.dropna(subset=[ycol]) if ycol in defects else defects.iloc[0:0]
        for tr in _defect_traces(d, xcol, ycol, xscale=180 / np.pi):
            fig.add_trace(tr)
    fig.update_xaxes(title_text="angle (°)", range=[0, 360])
    fig.update_yaxes(title_text=ylabel)
    return fig


def can_figure(can: Any, title: str | None = None) -> go.Figure:
    """The can's outer surface minus its fitted ellipse, against the angle; dents shaded."""
    p = _um_names(can.profile)
    unit = _unit(can.profile)
    fig = figure(title or "Can: outer surface against its fitted ellipse")
    ok = p.valid.to_numpy()
    fig.add_trace(go.Scatter(x=np.degrees(p.angle_rad[ok]), y=p.residual_um[ok], mode="lines", name="outer surface - ellipse",
                             line=dict(color=COLORWAY[0])))
    fig.add_trace(go.Scatter(x=np.degrees(p.angle_rad[ok]), y=p.wall_um[ok], mode="lines", name="wall thickness",
                             line=dict(color=COLORWAY[2], dash="dot"), yaxis="y2"))
    for d in _um_names(can.dents).itertuples():
        lo, hi = np.degrees(d.angle_rad - d.width_rad / 2), np.degrees(d.angle_rad + d.width_rad / 2)
        fig.add_vrect(x0=lo, x1=hi, fillcolor=DEFECT_STYLE["dent"][1], opacity=0.15, line_width=0)
        fig.add_annotation(x=np.degrees(d.angle_rad), y=-d.depth_um, text=f"dent {d.depth_um:.1f} {unit}",
                           showarrow=True, arrowhead=2)
    fig.update_xaxes(title_text="angle (°)", range=[0, 360])
    wall = p.wall_um[ok].to_numpy(float)
    wall = wall[np.isfinite(wall)]
    # the wall's axis gets round ticks of its own (an overlaying axis otherwise takes the
    # residual's gridlines: 6.83, 7.41, ... px) and the legend sits above the plot, clear
    # of both axes' ticks
    fig.update_layout(yaxis=dict(title=f"residual ({unit})"),
                      yaxis2=dict(title=f"wall ({unit})", overlaying="y", side="right", showgrid=False,
                                  tickmode="auto", nticks=6,
                                  tickformat=tick_format(wall.min(), wall.max()) if wall.size else None),
                      legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom"),
                      margin=dict(t=90))
    return fig


# what a summary column measures, in words (its unit comes from the name: ``_um`` -> µm)
_SUMMARY_WORDS = {
    "n_windings": "windings",
    "n_layers": "layers",
    "pitch_um": "winding pitch",
    "spiral_a_um": "spiral radius at its start",
    "spiral_b_um_per_rad": "spiral growth",
    "spiral_centre_y_um": "spiral centre y",
    "spiral_centre_x_um": "spiral centre x",
    "residual_rms_um": "spiral residual, RMS",
    "residual_robust_um": "spiral residual, robust SD",
    "ovality_um": "roll ovality",
    "thickness_um": "layer thickness",
    "gap_um": "gap between layers",
    "can_centre_y_um": "can centre y",
    "can_centre_x_um": "can centre x",
    "can_diameter_um": "can diameter",
    "can_semi_major_um": "can semi-major axis",
    "can_semi_minor_um": "can semi-minor axis",
    "can_orientation_rad": "can orientation",
    "can_eccentricity": "can eccentricity",
    "can_wall_um": "can wall",
    "can_residual_rms_um": "can off its ellipse, RMS",
    "n_dents": "dents",
    "max_dent_um": "deepest dent",
}
_SUMMARY_UNITS = {"_um_per_rad": "{length}/rad", "_um": "{length}", "_rad": "rad", "_deg": "°"}


def _summary_words(column: str, length: str = "µm") -> tuple[str, str]:
    """A summary column in words and its unit: ``"residual_robust_um"`` -> ``("spiral
    residual, robust SD", "µm")``; unknown columns lose their unit suffix and underscores."""
    unit = ""
    stem = column
    for suffix, u in _SUMMARY_UNITS.items():
        if column.endswith(suffix):
            stem, unit = column[: -len(suffix)], u.format(length=length)
            break
    words = _SUMMARY_WORDS.get(column)
    if words is None:
        words = stem[2:] + " (count)" if stem.startswith("n_") and not unit else stem
        words = words.replace("_", " ")
    return words, unit


def summary_figure(summary: pd.DataFrame, columns: Sequence[str] = ("n_windings", "can_diameter_um", "residual_robust_um"),
                   title: str | None = None) -> go.Figure:
    """Per-slice summary of a volume along z: chosen columns and the defects found per slice.

    Each row's axis title says what it shows in words with its unit (``can diameter
    (µm)``; ``px`` when the summary's lengths are in pixels), as do the legend entries.
    """
    length = "µm" if summary.attrs.get("length_unit", "um") == "um" else "px"
    summary = _um_names(summary)  # in pixels: pitch_px read as pitch_um, titled with "px"
    cols = [c for c in (_PX_NAME.sub("_um", c) for c in columns) if c in summary]
    kinds = [c for c in summary.columns if c.startswith("n_") and c[2:] in DEFECT_STYLE]
    rows = len(cols) + (1 if kinds else 0)
    if rows == 0:
        raise InputError(f"summary_figure: none of {list(columns)} in the summary")
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04)
    z = summary.z_um.to_numpy(float)
    for i, c in enumerate(cols, start=1):
        words, unit = _summary_words(c, length)
        name = f"{words} ({unit})" if unit else words
        fig.add_trace(go.Scatter(x=z, y=summary[c], mode="lines+markers", name=name, marker=dict(size=4),
                                 line=dict(color=COLORWAY[(i - 1) % len(COLORWAY)])), row=i, col=1)
        # a row is ~150 px high: a long title goes on two lines
        axis_title = name
        if len(name) > 20:
            head, _, tail = words.partition(", ")
            axis_title = f"{head}<br>{tail} ({unit})" if tail else f"{words}<br>({unit})"
            axis_title = axis_title.replace(" ()", "").replace("<br>()", "")
        fig.update_yaxes(title_text=axis_title, row=i, col=1)
    if kinds:
        for c in kinds:
            fig.add_trace(go.Bar(x=z, y=summary[c], name=c[2:], marker_color=DEFECT_STYLE[c[2:]][1]), row=rows, col=1)
        fig.update_yaxes(title_text="defects found", row=rows, col=1)
        # the legend in the figure's order (plotly reverses it for stacked bars)
        fig.update_layout(barmode="stack", legend_traceorder="normal")
    fig.update_xaxes(title_text="z (µm)" if length == "µm" else "z (slice)", row=rows, col=1)
    apply(fig, title or "Slice by slice")
    fig.update_layout(height=180 * rows + 120)
    return fig
