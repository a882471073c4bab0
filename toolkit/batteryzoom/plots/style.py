"""The house style of batteryzoom figures.

One plotly template, ``"batteryzoom"``, registered on import of this module: white
background, light grid, readable fonts, a colourblind-safe colour cycle (Okabe–Ito), and
the edge-energy colour scale used for every Ni K-edge map. Builders call :func:`figure`
(or :func:`apply`) so every figure looks the same in a notebook, the HTML report and the
PNG/SVG export.

Numbers read the same everywhere: no thousands separator (an edge energy is ``8341.5 eV``,
never ``8,341.5`` beside ``8342``), no SI suffixes on axes that carry a unit (``15000 µm``,
not ``15k µm``), and :func:`tick_format` gives an axis whose range is known one number of
decimals for every tick label (``4.00, 4.05, 4.10``, not ``4, 4.05, 4.1``).
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["TEMPLATE", "COLORWAY", "EDGE_ENERGY_COLORSCALE", "SCALE_COLORS", "LABEL_SHADOW", "figure", "apply",
           "tick_format", "colorbar_ticks", "um_text", "value_label"]

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
# Text drawn over images (labels of boxes, scale bars) keeps a dark outline: readable on
# bright and dark pixels alike (plotly's ``textfont.shadow``)
LABEL_SHADOW = "1px 1px 1px #000, -1px -1px 1px #000, 1px -1px 1px #000, -1px 1px 1px #000"
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
        # decimal point, no thousands separator: plotly's default ".," separates only the
        # numbers with decimals among 4-digit ones ("8342" next to "8,341.5")
        separators=".",
    )
    # full numbers on axes with units: the default SI suffixes read "15k µm" and "2k µm"
    axis = dict(showline=True, linecolor="#444", mirror=True, ticks="outside", gridcolor="#eee",
                exponentformat="none")
    template.layout.xaxis.update(axis)
    template.layout.yaxis.update(axis)
    pio.templates[TEMPLATE] = template


_register()


def apply(fig: go.Figure, title: str | None = None) -> go.Figure:
    """Give ``fig`` the house template (and a title); returns ``fig``."""
    fig.update_layout(template=TEMPLATE)
    if title is not None:
        fig.update_layout(title_text=title)
    return fig


def figure(title: str | None = None, **layout) -> go.Figure:
    """A new empty figure in the house style.

    Examples
    --------
    >>> from batteryzoom.plots.style import figure
    >>> fig = figure("Capacity fade")
    >>> fig.layout.title.text, fig.layout.template.layout.font.family is not None
    ('Capacity fade', True)
    """
    fig = go.Figure(layout=dict(template=TEMPLATE, **layout))
    if title is not None:
        fig.update_layout(title_text=title)
    return fig


def um_text(value: float) -> str:
    """A length or position in µm as a person writes it, for titles and labels: 4
    significant digits, never in exponent notation (14148, not 1.415e+04; 755.5; 0.08)."""
    v = float(value)
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def tick_format(lo: float, hi: float, max_ticks: int = 10) -> str | None:
    """A d3 tick format giving every tick label on ``[lo, hi]`` the same decimals.

    Plotly drops trailing zeros (``4``, ``4.05``, ``4.1``). Its tick step is a 1, 2 or 5
    × 10ⁿ no smaller than the shown range over the number of ticks (at most ten, fewer on
    short axes or when the range is padded; at most ``nticks`` when that is set); the
    decimals returned are those of the smallest such step on ``[lo, hi]``, so every tick
    plotly can pick is printed exactly, all alike.

    Parameters
    ----------
    lo, hi : float
        The range the axis (or colour bar) shows, in its units; padding it wider is fine.
    max_ticks : int
        The most ticks plotly may draw: 10 by default, or the axis' ``nticks`` (give a
        colour bar ``nticks`` and the same number here: its steps then match exactly).

    Returns
    -------
    str or None
        ``".Nf"`` (``".0f"`` for integer steps), or None for an empty or non-finite range.
    """
    import math

    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi == lo:
        return None
    rough = abs(hi - lo) / max(int(max_ticks), 1)
    power = 10.0 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough * (1 - 1e-9))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f".{decimals}f"


def colorbar_ticks(lo: float | None, hi: float | None, n: int = 6) -> dict:
    """Colour-bar tick settings for a scale ``[lo, hi]``: at most ``n`` ticks, every label
    with the same decimals (``8340, 8341, 8342``, never ``8342`` beside ``8,341.5``)."""
    if lo is None or hi is None:
        return {}
    fmt = tick_format(lo, hi, n)
    return dict(nticks=n, tickformat=fmt) if fmt else {}


# the unit a map's name ends with (``edge_energy_ev``): the house's names carry their unit
_NAME_UNITS = {"_ev": "eV", "_um": "µm", "_v": "V", "_s": "s"}


def value_label(name: str) -> tuple[str, str]:
    """Axis label and unit from a map's name, for every view of it (figures, widgets, napari).

    >>> value_label("edge_energy_ev")
    ('edge energy (eV)', 'eV')
    >>> value_label("crack_fraction")
    ('crack fraction', '')
    """
    for suffix, unit in _NAME_UNITS.items():
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})", unit
    return name.replace("_", " "), ""
