"""Figures of the particle scale: grains, cracks and pores on a nano-CT slice, grain sizes,
surface-to-core profiles.

Builders draw results of :mod:`batteryzoom.segment` and :mod:`batteryzoom.regions`; they
compute nothing beyond choosing what to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..errors import InputError
from . import style
from .electrode import labelled_slice, size_distribution

__all__ = ["grain_slice", "grain_size_distribution", "radial_profile", "grains_vs_depth"]


def grain_slice(
    volume: Any,
    grains: Any = None,
    *,
    cracks: Any = None,
    pores: Any = None,
    axis: str = "z",
    index: int | None = None,
    title: str | None = None,
    height: int = style.DEFAULT_HEIGHT,
) -> go.Figure:
    """A nano-CT slice with grain outlines and the crack and pore masks in colour.

    With masks the outlines take one colour of their own, and the title names each colour
    (``"grain outlines in green, cracks in orange, pores in sky blue"``).

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.plots.particle import grain_slice
    >>> volume = np.random.default_rng(0).normal(1.0, 0.1, (8, 24, 24)).astype(np.float32)
    >>> grains = np.zeros(volume.shape, np.int32)
    >>> grains[:, 4:12, 4:20], grains[:, 12:20, 4:20] = 1, 2
    >>> fig = grain_slice(volume, grains, index=4)
    >>> fig.layout.title.text
    'Particle nano-CT: grains (z = 4 µm)'
    """
    masks = {name: m for name, m in (("cracks", cracks), ("pores", pores)) if m is not None}
    return labelled_slice(volume, grains, masks=masks, axis=axis, index=index, boundaries=True,
                          title=title or "Particle nano-CT: grains" + (", cracks and pores" if masks else ""),
                          labels_name="grain outlines", height=height)


def grain_size_distribution(tables: Mapping[str, pd.DataFrame] | pd.DataFrame, *, bins: int = 40,
                            title: str = "Primary grain sizes") -> go.Figure:
    """Equivalent-diameter histograms of grain tables (e.g. truth vs segmentation)."""
    return size_distribution(tables, column="equivalent_diameter_um", bins=bins, exclude_border=False, title=title)


def radial_profile(
    profiles: Mapping[str, pd.DataFrame] | pd.DataFrame,
    *,
    column: str | None = None,
    title: str = "Surface-to-core profile",
    y_title: str | None = None,
    band: bool | None = None,
) -> go.Figure:
    """Mean (line) and interquartile band of a map against depth below the surface.

    Parameters
    ----------
    profiles : DataFrame or dict of name -> DataFrame
        Tables of :func:`batteryzoom.regions.radial_profile` (one row per shell, columns
        ``distance_um``, ``<name>_mean``, ``<name>_p25``, ``<name>_p75``). For a per-label
        profile (``(label, shell)`` index) pass one label's rows, or a dict of several.
    column : str, optional
        The ``<name>`` prefix of the statistics columns; default the first ``*_mean``.
    band : bool, optional
        Draw the interquartile band. Default: unless the map is yes/no (every quartile 0 or
        1, e.g. a void mask): the band of such a map spans 0 to 1 wherever both occur and
        says nothing; its mean is the fraction.

    Examples
    --------
    >>> import pandas as pd
    >>> from batteryzoom.plots.particle import radial_profile
    >>> void = pd.DataFrame({"distance_um": [0.2, 0.6], "void_mean": [0.3, 0.1],
    ...                      "void_p25": [0.0, 0.0], "void_p75": [1.0, 0.0]})
    >>> [t.name for t in radial_profile(void).data]   # a yes/no map: no band
    ['profile mean']
    """
    if isinstance(profiles, pd.DataFrame):
        profiles = {"profile": profiles}
    fig = style.figure(title)
    for i, (name, table) in enumerate(profiles.items()):
        if "distance_um" not in table.columns:
            raise InputError(f"profiles[{name!r}]: no 'distance_um' column; use bz.regions.radial_profile")
        prefix = column or next((c[:-5] for c in table.columns if c.endswith("_mean")), None)
        if prefix is None or f"{prefix}_mean" not in table.columns:
            raise InputError(f"profiles[{name!r}]: no '{prefix}_mean' column")
        color = style.COLORWAY[i % len(style.COLORWAY)]
        x = table["distance_um"].to_numpy()
        quartiles = [f"{prefix}_p25", f"{prefix}_p75"]
        draw_band = band
        if draw_band is None and set(quartiles) <= set(table.columns):
            q = table[quartiles].to_numpy(float)
            draw_band = not np.isin(q[np.isfinite(q)], (0.0, 1.0)).all()
        if draw_band and set(quartiles) <= set(table.columns):
            fig.add_scatter(x=list(x) + list(x[::-1]),
                            y=list(table[f"{prefix}_p75"]) + list(table[f"{prefix}_p25"][::-1]),
                            fill="toself", fillcolor=color, opacity=0.2, line=dict(width=0),
                            name=f"{name} IQR", hoverinfo="skip")
        fig.add_scatter(x=x, y=table[f"{prefix}_mean"], mode="lines+markers", name=f"{name} mean",
                        line=dict(color=color))
    fig.update_xaxes(title_text="depth below the surface (µm)")
    fig.update_yaxes(title_text=y_title or (column or "value"))
    return fig


def grains_vs_depth(table: pd.DataFrame, *, highlight: Sequence[int] = (),
                    title: str = "Grain size against depth below the particle surface") -> go.Figure:
    """Scatter of grain equivalent diameter against the distance of its centroid from the
    particle surface (a :func:`batteryzoom.segment.grain_table`); ``highlight`` labels are
    drawn larger (e.g. the study's grains #1 and #2)."""
    for col in ("equivalent_diameter_um", "distance_from_surface_um", "label"):
        if col not in table.columns:
            raise InputError(f"table: no column {col!r}; use bz.segment.grain_table")
    fig = style.figure(title)
    fig.add_scatter(x=table["distance_from_surface_um"], y=table["equivalent_diameter_um"], mode="markers",
                    marker=dict(size=5, color=style.COLORWAY[0], opacity=0.6), name="grains",
                    customdata=table["label"],
                    hovertemplate="grain %{customdata}<br>depth %{x:.2f} µm<br>D %{y:.2f} µm<extra></extra>")
    chosen = table[table["label"].isin(list(highlight))]
    if len(chosen):
        fig.add_scatter(x=chosen["distance_from_surface_um"], y=chosen["equivalent_diameter_um"],
                        mode="markers+text", text=[f"#{lab}" for lab in chosen["label"]], textposition="top center",
                        marker=dict(size=12, color=style.COLORWAY[1]), name="highlighted")
    fig.update_xaxes(title_text="distance from the particle surface (µm)")
    fig.update_yaxes(title_text="equivalent diameter (µm)")
    return fig
