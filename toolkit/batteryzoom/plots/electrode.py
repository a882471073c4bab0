"""Figures of the electrode scale: labelled slices, particle sizes, depth profiles, damage.

Builders draw the results of :mod:`batteryzoom.segment` (label volumes and tables); they
compute no science beyond picking a slice or binning a column for display. Slices are PNG
images placed in µm (the helpers of :mod:`.zoom`), so a 300×300 slice stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..errors import InputError
from ..frames import frame_of
from . import style, zoom

__all__ = ["labelled_slice", "side_by_side", "size_distribution", "depth_profile", "damage_vs_depth",
           "phase_fractions"]

_DAMAGE_COLORS = {"least": style.COLORWAY[2], "mild": style.COLORWAY[4], "severe": style.COLORWAY[1]}
_MASK_COLORS = ((213, 94, 0), (86, 180, 233), (240, 228, 66))
# their names in the title, where a reader looks for them (Okabe-Ito: vermillion, sky blue, yellow)
_MASK_COLOR_NAMES = ("orange", "sky blue", "yellow")
# label outlines beside masks: one colour none of the masks uses (Okabe-Ito bluish green);
# the palette the labels cycle through otherwise holds the masks' orange and sky blue
_OUTLINE_COLOR, _OUTLINE_COLOR_NAME = (0, 158, 115), "green"


def _plane(values: Any, axis: str, index: int) -> np.ndarray:
    if hasattr(values, "dims"):
        return np.asarray(values.isel({axis: index}).values)
    return np.take(np.asarray(values), index, axis=zoom.AXES.index(axis))


def _coords(volume: Any, voxel_size_um: Any) -> dict[str, np.ndarray]:
    # the frame by the package's one reader; an unknown size draws in voxels
    frame = frame_of(volume, voxel_size_um, ndim=3, missing="px")
    return frame.coords(np.shape(volume)[-3:])


def _mask_png(mask2d: np.ndarray, rgb: tuple[int, int, int], alpha: float = 0.7) -> str:
    rgba = np.zeros(mask2d.shape + (4,), np.uint8)
    rgba[mask2d, :3] = rgb
    rgba[mask2d, 3] = int(round(alpha * 255))
    return zoom._png_uri(rgba)


def labelled_slice(
    volume: Any,
    labels: Any = None,
    *,
    masks: Mapping[str, Any] | None = None,
    axis: str = "z",
    index: int | None = None,
    boundaries: bool = True,
    voxel_size_um: Any = None,
    title: str | None = None,
    labels_name: str | None = None,
    height: int = style.DEFAULT_HEIGHT,
) -> go.Figure:
    """One slice of a grey volume with label outlines (or fills) and coloured masks.

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Grey levels; coordinates in µm from the DataArray (else index × ``voxel_size_um``).
    labels : int array or DataArray, optional
        Particles or grains, drawn as coloured outlines (``boundaries=True``) or fills.
    masks : dict of name -> bool array, optional
        Extra overlays (e.g. ``{"cracks": ..., "pores": ...}``), each in its own colour;
        their names go in the title.
    axis, index : str, int
        Slice normal to ``axis`` at ``index`` (default the middle).
    title : str, optional
        The slice's position is appended (``"(z = 32 µm)"``).
    labels_name : str, optional
        What the labels are, for the title when masks are drawn too (default ``"outlines"``
        or ``"labels"``). With masks, the labels take one colour that no mask uses, named in
        the title beside the masks' (``"grain outlines in green, cracks in orange"``);
        without, each label its own colour.
    height : int
        The figure's height in px (an image panel under ~500 px is too small to read).

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.plots.electrode import labelled_slice
    >>> particles = np.zeros((8, 32, 32), np.int32)
    >>> particles[:, 8:20, 8:20] = 1
    >>> cracks = np.zeros(particles.shape, bool)
    >>> cracks[:, 13:15, 8:20] = True   # a crack across the particle
    >>> grey = np.where(particles > 0, 1.0, 0.2) - 0.5 * cracks
    >>> fig = labelled_slice(grey, particles, masks={"cracks": cracks}, voxel_size_um=0.5, index=4)
    >>> len(fig.data), [t.name for t in fig.data]
    (3, ['grey', 'labels', 'cracks'])
    >>> "cracks in" in fig.layout.title.text and "orange" in fig.layout.title.text
    True
    """
    if np.ndim(volume) != 3:
        raise InputError(f"volume: expected a 3D (z, y, x) volume, got {np.ndim(volume)} dimensions")
    across, down = zoom.slice_axes(axis)
    n = np.shape(volume)[zoom.AXES.index(axis)]
    index = n // 2 if index is None else int(index)
    if not 0 <= index < n:
        raise InputError(f"index={index}: the volume has {n} slices along {axis}")
    coords = _coords(volume, voxel_size_um)
    plane = _plane(volume, axis, index).astype(np.float32)
    # a slice normal to z is (y, x) = (down, across); normal to y or x it is (z, across)
    lo, hi = zoom.window(plane)
    x, y = coords[across], coords[down]
    dx = float(x[1] - x[0]) if len(x) > 1 else 1.0
    dy = float(y[1] - y[0]) if len(y) > 1 else 1.0
    place = dict(x0_um=float(x[0]), dx_um=dx, y0_um=float(y[0]), dy_um=dy)
    where = f"{axis} = {style.um_text(coords[axis][index])} µm"  # as the zoom figures print it
    fig = style.figure(f"{title} ({where})" if title else f"slice {where}", height=height)
    fig.add_trace(zoom.image_trace(zoom.gray_png_uri(plane, lo, hi), name="grey", **place))
    named = []  # (what, rgb, colour name) in the title
    if labels is not None:
        lab = _plane(labels, axis, index)
        one = _OUTLINE_COLOR if masks else None
        fig.add_trace(zoom.image_trace(zoom.labels_png_uri(lab, boundaries=boundaries, color=one), name="labels",
                                       **place))
        if masks:
            named.append((labels_name or ("outlines" if boundaries else "labels"), _OUTLINE_COLOR, _OUTLINE_COLOR_NAME))
    for (name, mask), rgb, colour in zip((masks or {}).items(), _MASK_COLORS, _MASK_COLOR_NAMES):
        fig.add_trace(zoom.image_trace(_mask_png(_plane(mask, axis, index).astype(bool), rgb), name=name, **place))
        named.append((name, rgb, colour))
    if masks:
        # the colour key on a line of its own under the title (one line ran out of the figure)
        key = ", ".join(f"{name} in <span style='color:rgb{rgb}'>{colour}</span>" for name, rgb, colour in named)
        fig.update_layout(title_text=f"{fig.layout.title.text}<br><span style='font-size:13px'>{key}</span>",
                          margin_t=84)
    shape, annotation, _ = zoom.scale_bar((x[0] - dx / 2, x[-1] + dx / 2), (y[0] - dy / 2, y[-1] + dy / 2))
    fig.add_shape(**shape)
    fig.add_annotation(**annotation)
    fig.update_xaxes(title_text=f"{across} (µm)", showgrid=False)
    fig.update_yaxes(title_text=f"{down} (µm)", showgrid=False, autorange="reversed", scaleanchor="x")
    return fig


# a D50 label's row at the top of a size histogram (px; a plot area is >= ~300 px high)
_LABEL_ROW_PX = 20
_LABEL_ROW_FRACTION = 0.075


def side_by_side(figures: Mapping[str, go.Figure], *, title: str | None = None,
                 height: int = style.DEFAULT_HEIGHT) -> go.Figure:
    """Image figures (e.g. :func:`labelled_slice` of the truth and of a segmentation) as
    panels of one figure, side by side, each titled by its key.

    Each panel keeps its traces, scale bar and axis titles; the panels share the y axis's
    range and each keeps its aspect ratio. Give the panels the same volume and slice (as
    ``labelled_slice`` of one volume does) so their grey levels share one scale.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.plots.electrode import labelled_slice, side_by_side
    >>> grey = np.random.default_rng(0).normal(1, 0.1, (4, 16, 16))
    >>> labels = np.zeros(grey.shape, np.int32)
    >>> labels[:, 4:12, 4:12] = 1
    >>> fig = side_by_side({"truth": labelled_slice(grey, labels), "segmented": labelled_slice(grey, labels)})
    >>> [a.text for a in fig.layout.annotations][:2], fig.layout.height
    (['truth', 'segmented'], 560)
    """
    if not figures:
        raise InputError("side_by_side needs at least one figure")
    from plotly.subplots import make_subplots

    names = list(figures)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.08,
                        shared_yaxes=True)
    style.apply(fig, title)
    for k, name in enumerate(names, start=1):
        one = figures[name]
        suffix = "" if k == 1 else str(k)
        for trace in one.data:
            fig.add_trace(trace, row=1, col=k)
        # the scale bar and any other shapes / notes, moved onto this panel's axes
        for shape in one.layout.shapes:
            fig.add_shape(shape.update(xref=f"x{suffix}" if shape.xref == "x" else shape.xref,
                                       yref=f"y{suffix}" if shape.yref == "y" else shape.yref))
        for note in one.layout.annotations:
            fig.add_annotation(note.update(xref=f"x{suffix}" if note.xref == "x" else note.xref,
                                           yref=f"y{suffix}" if note.yref == "y" else note.yref))
        fig.update_xaxes(title_text=one.layout.xaxis.title.text, showgrid=False, row=1, col=k)
        fig.update_yaxes(showgrid=False, scaleanchor=f"x{suffix}", row=1, col=k)
    fig.update_yaxes(title_text=figures[names[0]].layout.yaxis.title.text, autorange="reversed", row=1, col=1)
    # room for the title above the panels' own titles
    fig.update_layout(height=height, showlegend=False, margin_t=100 if title else 60)
    return fig


def size_distribution(
    tables: Mapping[str, pd.DataFrame] | pd.DataFrame,
    *,
    column: str = "equivalent_diameter_um",
    bins: int = 30,
    exclude_border: bool = True,
    title: str = "Particle size distribution",
) -> go.Figure:
    """Histograms (probability density) of a size column, one per table, with their medians.

    The tables share one set of bins (densities compare bin by bin). Each median (D50) is a
    dashed line in its table's colour, labelled in that colour on a row of its own at the
    top of the plot, above the bars (the y range leaves room for the rows): two close
    medians never print their labels over each other.

    Parameters
    ----------
    tables : DataFrame or dict of name -> DataFrame
        Per-object tables (e.g. ``segment_particles(...).table`` of several electrodes).
    column : str
        The size column; its unit is read from the name (``_um`` → µm).
    bins : int
        Number of bins over the range of all the tables' values.
    exclude_border : bool
        Leave out objects cut by the volume's faces (their size is not their size).
    """
    if isinstance(tables, pd.DataFrame):
        tables = {"particles": tables}
    unit = "µm" if column.endswith("_um") else ("µm³" if column.endswith("_um3") else "")
    fig = style.figure(title)
    shown: dict[str, pd.Series] = {}
    for name, table in tables.items():
        if column not in table.columns:
            raise InputError(f"tables[{name!r}]: no column {column!r}")
        data = table[~table["border"]] if exclude_border and "border" in table.columns else table
        shown[name] = data[column].dropna().astype(float)
    every = np.concatenate([v.to_numpy() for v in shown.values()]) if shown else np.empty(0)
    every = every[np.isfinite(every)]
    edges = np.histogram_bin_edges(every, bins=bins) if every.size else None
    top = 0.0
    medians = []
    for i, (name, values) in enumerate(shown.items()):
        color = style.COLORWAY[i % len(style.COLORWAY)]
        binning = {}
        if edges is not None:
            binning = dict(xbins=dict(start=float(edges[0]), end=float(edges[-1]), size=float(edges[1] - edges[0])),
                           autobinx=False)
            if len(values):
                top = max(top, float(np.histogram(values, edges, density=True)[0].max()))
        fig.add_histogram(x=values, histnorm="probability density", name=f"{name} (n = {len(values)})",
                          opacity=0.6, marker_color=color, **binning)
        if len(values):
            medians.append((float(values.median()), color, name))
    # one row per label, lowest median first; each label on the side of its line with more room
    lo, hi = (float(edges[0]), float(edges[-1])) if edges is not None else (0.0, 1.0)
    for row, (median, color, name) in enumerate(sorted(medians, key=lambda m: m[0])):
        fig.add_vline(x=median, line=dict(color=color, dash="dash"))
        right = median <= (lo + hi) / 2
        text = f"D50 {median:.2f} {unit}".strip()
        fig.add_annotation(x=median, xref="x", y=1.0, yref="paper", yanchor="top", yshift=-4 - _LABEL_ROW_PX * row,
                           xanchor="left" if right else "right", xshift=4 if right else -4, showarrow=False,
                           text=text if len(medians) == 1 else f"{name}: {text}", font=dict(color=color),
                           bgcolor="rgba(255,255,255,0.8)", name=f"D50 {name}")
    fig.update_layout(barmode="overlay")
    if top > 0:
        # the label rows sit above the tallest bar
        y_top = top / (1 - 0.03 - _LABEL_ROW_FRACTION * len(medians))
        fig.update_yaxes(range=[0.0, y_top], tickformat=style.tick_format(0.0, y_top))
    if edges is not None:
        fig.update_xaxes(tickformat=style.tick_format(lo, hi))
    fig.update_xaxes(title_text=f"{column.removesuffix('_um').replace('_', ' ')} ({unit})")
    fig.update_yaxes(title_text="probability density")
    return fig


def depth_profile(
    profile: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    names: Mapping[str, str] | None = None,
    collector_um: float | None = None,
    separator_um: float | None = None,
    title: str = "Phase fractions through the electrode",
) -> go.Figure:
    """Fractions against position along the through-thickness axis.

    ``profile`` is :func:`batteryzoom.segment.depth_profile`'s table (``position_um`` and
    ``<phase>_fraction`` columns). ``names`` relabels columns for the legend; the coating's
    faces are drawn when given.
    """
    if "position_um" not in profile.columns:
        raise InputError("profile: no 'position_um' column; use bz.segment.depth_profile")
    columns = columns or [c for c in profile.columns if c.endswith("_fraction")]
    fig = style.figure(title)
    for col in columns:
        fig.add_scatter(x=profile["position_um"], y=profile[col], mode="lines",
                        name=(names or {}).get(col, col.removesuffix("_fraction")))
    for pos, text in ((collector_um, "collector"), (separator_um, "separator")):
        if pos is not None:
            fig.add_vline(x=pos, line=dict(color="#444", dash="dot"), annotation_text=text)
    fig.update_xaxes(title_text="position through the thickness (µm)")
    fig.update_yaxes(title_text="volume fraction", range=[0, 1.02])
    return fig


def damage_vs_depth(
    table: pd.DataFrame,
    profile: pd.DataFrame | None = None,
    *,
    depth_column: str = "depth_from_collector_um",
    exclude_border: bool = True,
    title: str = "Particle cracking against electrode depth",
) -> go.Figure:
    """Crack fraction of every particle against its depth, coloured by damage class, with
    the binned mean (:func:`batteryzoom.segment.damage_depth_profile`) when given."""
    for col in (depth_column, "crack_fraction", "damage_class"):
        if col not in table.columns:
            raise InputError(f"table: no column {col!r}; use bz.segment.segment_particles' table")
    data = table[~table["border"]] if exclude_border and "border" in table.columns else table
    fig = style.figure(title)
    for cls, color in _DAMAGE_COLORS.items():
        part = data[data["damage_class"] == cls]
        fig.add_scatter(x=part[depth_column], y=part["crack_fraction"] * 100, mode="markers",
                        name=f"{cls} (n = {len(part)})", marker=dict(color=color, size=7, opacity=0.8),
                        customdata=part["label"],
                        hovertemplate="particle %{customdata}<br>depth %{x:.1f} µm<br>crack %{y:.1f} %<extra></extra>")
    if profile is not None:
        fig.add_scatter(x=profile["depth_um"], y=profile["mean_crack_fraction"] * 100, mode="lines+markers",
                        name="mean per depth bin", line=dict(color="#000", width=3))
    fig.update_xaxes(title_text=depth_column.removesuffix("_um").replace("_", " ") + " (µm)")
    fig.update_yaxes(title_text="crack fraction (%)")
    return fig


def phase_fractions(tables: Mapping[str, pd.DataFrame], *, title: str = "Phase volume fractions") -> go.Figure:
    """Grouped bars of :func:`batteryzoom.segment.phase_fractions` tables, one group per volume."""
    fig = style.figure(title)
    phases = []
    for table in tables.values():
        phases += [p for p in table["phase"] if p not in phases]
    for phase in phases:
        fig.add_bar(name=phase, x=list(tables),
                    y=[float(t.loc[t["phase"] == phase, "fraction"].sum()) for t in tables.values()],
                    texttemplate="%{y:.1%}", textposition="outside")
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="volume fraction", tickformat=".0%")
    return fig
