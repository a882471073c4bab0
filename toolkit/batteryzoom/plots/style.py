"""The house style of batteryzoom figures.

One plotly template, ``"batteryzoom"``, registered on import of this module: white
background, light grid, readable fonts, a colourblind-safe colour cycle (Okabe–Ito), and
the edge-energy colour scale used for every Ni K-edge map. Builders call :func:`figure`
(or :func:`apply`) so every figure looks the same in a notebook, the HTML report and the
PNG/SVG export.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["TEMPLATE", "COLORWAY", "EDGE_ENERGY_COLORSCALE", "SCALE_COLORS", "figure", "apply"]

TEMPLATE = "batteryzoom"

# Okabe–Ito, colourblind-safe
COLORWAY = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
# One colour per scale of the zoom, used for breadcrumbs and child boxes
SCALE_COLORS = {
    "cycler": "#0072B2",
    "cell": "#D55E00",
    "electrode": "#009E73",
    "particle": "#CC79A7",
    "grain": "#E69F00",
}
# Reduced (low edge energy) -> oxidized (high edge energy)
EDGE_ENERGY_COLORSCALE = "Viridis"
# Figure sizes (px) for static export
DEFAULT_WIDTH = 900
DEFAULT_HEIGHT = 560


def _register() -> None:
    base = pio.templates["plotly_white"]
    template = go.layout.Template(base)
    template.layout.update(
        font=dict(family="DejaVu Sans, Arial, sans-serif", size=13, color="#222"),
        title=dict(font=dict(size=16), x=0.02, xanchor="left"),
        colorway=COLORWAY,
        margin=dict(l=70, r=30, t=60, b=60),
        legend=dict(bgcolor="rgba(255,255,255,0.8)", borderwidth=0),
        hoverlabel=dict(font_size=12),
    )
    template.layout.xaxis.update(showline=True, linecolor="#444", mirror=True, ticks="outside", gridcolor="#eee")
    template.layout.yaxis.update(showline=True, linecolor="#444", mirror=True, ticks="outside", gridcolor="#eee")
    pio.templates[TEMPLATE] = template


_register()


def apply(fig: go.Figure, title: str | None = None) -> go.Figure:
    """Give ``fig`` the house template (and a title); returns ``fig``."""
    fig.update_layout(template=TEMPLATE)
    if title is not None:
        fig.update_layout(title_text=title)
    return fig


def figure(title: str | None = None, **layout) -> go.Figure:
    """A new empty figure in the house style."""
    fig = go.Figure(layout=dict(template=TEMPLATE, **layout))
    if title is not None:
        fig.update_layout(title_text=title)
    return fig
