"""Figures that put the synthetic twin beside real data, so a reader can judge the likeness.

:func:`side_by_side` draws 2D slices in a row, each in its own physical units (µm when the
pixel size is known, pixels otherwise), windowed to its own 1st–99th percentile grey range
and with a scale bar: the same view of a twin slice and of a real CT slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import InputError
from . import style
from . import zoom as pz

__all__ = ["side_by_side"]


def side_by_side(
    panels: Sequence[tuple[str, Any, float | None]],
    *,
    title: str | None = None,
    height: int = 420,
    width: int | None = None,
) -> go.Figure:
    """2D slices in one row, each in physical units with a scale bar.

    Parameters
    ----------
    panels : sequence of ``(title, image, pixel_size_um)``
        ``image`` is a 2D array or DataArray ``(down, across)`` (grey levels or labels);
        ``pixel_size_um`` is its pixel size in µm, or None when unknown (the panel is then
        drawn in pixels and says so).
    title : str, optional
    height, width : int
        Figure size in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Image`` trace per panel (trace ``k`` on axes ``k + 1``).

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.plots.twin import side_by_side
    >>> fig = side_by_side([("twin", np.zeros((20, 30)), 0.5), ("real", np.ones((20, 30)), None)])
    >>> [a.text.split("<br>")[0] for a in fig.layout.annotations][:2], "pixel size unknown" in fig.layout.annotations[1].text
    (['twin', 'real'], True)
    """
    if not panels:
        raise InputError("panels: give at least one (title, image, pixel_size_um)")
    n = len(panels)
    titles = []
    for name, image, pixel in panels:
        shape = np.shape(image)
        if len(shape) != 2:
            raise InputError(f"panel {name!r}: image must be 2D (down, across), got shape {shape}")
        size = f"{shape[1]} × {shape[0]} px" + (f", {pixel:g} µm/px" if pixel else ", pixel size unknown")
        titles.append(f"{name}<br><span style='font-size:11px'>{size}</span>")
    fig = make_subplots(rows=1, cols=n, subplot_titles=titles, horizontal_spacing=0.06)
    style.apply(fig, title)
    shapes, annotations = [], list(fig.layout.annotations)
    for k, (name, image, pixel) in enumerate(panels):
        a = np.asarray(image.values if hasattr(image, "dims") else image, dtype=np.float32)
        step = float(pixel) if pixel else 1.0
        unit = "µm" if pixel else "px"
        lo, hi = pz.window(a)
        if hi <= lo:
            hi = lo + 1.0
        fig.add_trace(pz.image_trace(pz.gray_png_uri(a, lo, hi), x0_um=0.0, dx_um=step, y0_um=0.0, dy_um=step,
                                     name=name), row=1, col=k + 1)
        x_range = (-step / 2, (a.shape[1] - 0.5) * step)
        y_range = (-step / 2, (a.shape[0] - 0.5) * step)
        ax = "" if k == 0 else str(k + 1)
        if pixel:
            bar, label, _ = pz.scale_bar(x_range, y_range, xref=f"x{ax}", yref=f"y{ax}")
            shapes.append(bar)
            annotations.append(label)
        fig.update_xaxes(title_text=f"x ({unit})", range=list(x_range), showgrid=False, zeroline=False,
                         row=1, col=k + 1)
        fig.update_yaxes(title_text=f"y ({unit})" if k == 0 else None, range=[y_range[1], y_range[0]],
                         showgrid=False, zeroline=False, scaleanchor=f"x{ax}", scaleratio=1, row=1, col=k + 1)
    fig.update_layout(shapes=shapes, annotations=annotations, height=height, width=width,
                      margin=dict(l=60, r=20, t=90, b=50))
    return fig
