"""Figures of the zoom: slices of a level in physical units, a scale bar, labels overlay,
and the boxes of a level's children drawn on it.

Slices are sent to the browser as PNG images (plotly ``Image`` traces with a ``source``
data URI) placed in µm with ``x0``/``dx``/``y0``/``dy``: a 700×700 slice is ~100 kB instead
of megabytes of JSON numbers, so moving a slider stays fluid on big volumes. Grey levels are
windowed (``lo``→0, ``hi``→255); labels are drawn as translucent colours (or only their
boundaries) on a transparent background.

Axes: a slice normal to ``z`` shows ``x`` across and ``y`` down; normal to ``y``: ``x`` across,
``z`` down; normal to ``x``: ``y`` across, ``z`` down. Coordinates are µm in the volume's
local frame (index × voxel size, plus an optional origin).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..errors import InputError
from ..frames import frame_of
from . import style

__all__ = [
    "AXES",
    "volume_frame",
    "nice_length",
    "window",
    "gray_png_uri",
    "labels_png_uri",
    "decode_png_uri",
    "slice_axes",
    "image_trace",
    "scale_bar",
    "box_trace",
    "level_figure",
]

AXES = ("z", "y", "x")
# label colours: Okabe–Ito without black, then tab10-like extras
_LABEL_COLORS = np.array(
    [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233),
     (240, 228, 66), (148, 103, 189), (140, 86, 75), (127, 127, 127), (188, 189, 34), (23, 190, 207)],
    dtype=np.uint8,
)


def volume_frame(
    volume: Any,
    voxel_size_um: Sequence[float] | float | None = None,
    origin_um: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Voxel size and voxel-0 position (µm, z y x) of a volume, by
    :func:`batteryzoom.frames.frame_of`.

    The arguments win; else an xarray volume's ``attrs["voxel_size_um"]`` (or its coordinate
    spacing) and its first coordinates; an unknown voxel size raises
    :class:`~batteryzoom.errors.InputError` (a figure in µm needs it; pass
    ``voxel_size_um="px"`` to draw in voxels).

    Examples
    --------
    >>> import numpy as np
    >>> vs, origin = volume_frame(np.zeros((4, 6, 8)), (1.0, 0.5, 0.5))
    >>> vs.tolist(), origin.tolist()
    ([1.0, 0.5, 0.5], [0.0, 0.0, 0.0])
    """
    frame = frame_of(volume, voxel_size_um, origin_um, ndim=3)
    if frame.ndim != 3:
        raise InputError(f"volume: expected a (z, y, x) volume, got spatial dims {frame.dims}")
    return np.asarray(frame.voxel_size_um), np.asarray(frame.origin_um)


def nice_length(span: float, fraction: float = 0.2) -> float:
    """A round length (1, 2 or 5 × 10ⁿ) close to ``fraction`` of ``span`` (for scale bars)."""
    if not np.isfinite(span) or span <= 0:
        raise InputError(f"span={span!r}: a scale bar needs a positive extent")
    target = span * fraction
    power = 10.0 ** np.floor(np.log10(target))
    for m in (5.0, 2.0, 1.0):
        if m * power <= target:
            return float(m * power)
    return float(power)


def format_length(length_um: float) -> str:
    """``1500`` -> ``"1.5 mm"``, ``0.2`` -> ``"200 nm"``, ``20`` -> ``"20 µm"``."""
    if length_um >= 1000:
        return f"{length_um / 1000:g} mm"
    if length_um < 1:
        return f"{length_um * 1000:g} nm"
    return f"{length_um:g} µm"


def window(values: Any, percentiles: tuple[float, float] = (1.0, 99.0)) -> tuple[float, float]:
    """Grey-level window ``(lo, hi)`` from the given percentiles of the finite values."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(v, percentiles)
    if hi <= lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def _png_uri(array: np.ndarray) -> str:
    from PIL import Image  # scikit-image depends on Pillow

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def gray_png_uri(slice2d: Any, lo: float, hi: float) -> str:
    """A 2D slice windowed to 8-bit grey (``lo``→0, ``hi``→255; NaN→0) as a PNG data URI."""
    a = np.asarray(slice2d, dtype=np.float32)
    scaled = np.nan_to_num((a - lo) / (hi - lo) * 255.0, nan=0.0)
    return _png_uri(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def labels_png_uri(labels2d: Any, *, alpha: float = 0.45, boundaries: bool = False,
                   color: tuple[int, int, int] | None = None) -> str:
    """A 2D label slice as translucent colours (label 0 transparent) in a PNG data URI.

    Colours cycle through a colour-blind-safe palette by label value, or every label takes
    one ``color`` (RGB); with ``boundaries=True`` only each region's outline is drawn (opaque):
    in its own colour on either side of a boundary between two regions, or, in one
    ``color``, one pixel wide (on the side of the larger label).
    """
    lab = np.asarray(labels2d)
    if not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"labels slice has dtype {lab.dtype}; labels must be integers")
    rgba = np.zeros(lab.shape + (4,), np.uint8)
    show = lab > 0
    if boundaries:
        from skimage.segmentation import find_boundaries

        if color is None:
            show = find_boundaries(lab, mode="inner") & show
        else:
            # one line per boundary: a pixel marks it when a 4-neighbour has a smaller label
            # (the background's 0 included), so two touching regions draw it once
            padded = np.pad(lab, 1, mode="edge")
            centre = padded[1:-1, 1:-1]
            smaller = np.zeros(lab.shape, bool)
            for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
                smaller |= padded[dy:dy + lab.shape[0], dx:dx + lab.shape[1]] < centre
            show = smaller & show
    colors = (np.asarray(color, np.uint8) if color is not None
              else _LABEL_COLORS[(lab[show].astype(np.int64) - 1) % len(_LABEL_COLORS)])
    rgba[show, :3] = colors
    rgba[show, 3] = 255 if boundaries else int(round(alpha * 255))
    return _png_uri(rgba)


def decode_png_uri(uri: str) -> np.ndarray:
    """The pixel array of a PNG data URI (for tests and exports)."""
    from PIL import Image

    header, _, payload = uri.partition(",")
    if not header.startswith("data:image/png;base64"):
        raise InputError("not a PNG data URI")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))))


def slice_axes(axis: str) -> tuple[str, str]:
    """The (across, down) axes of a slice normal to ``axis``."""
    if axis not in AXES:
        raise InputError(f"axis={axis!r}: choose one of {AXES}")
    return {"z": ("x", "y"), "y": ("x", "z"), "x": ("y", "z")}[axis]


def image_trace(uri: str, *, x0_um: float, dx_um: float, y0_um: float, dy_um: float, name: str = "") -> go.Image:
    """A plotly Image placed in µm: pixel ``(0, 0)`` centred at ``(x0, y0)``, pixels ``dx × dy``."""
    return go.Image(source=uri, x0=x0_um, dx=dx_um, y0=y0_um, dy=dy_um, name=name, hoverinfo="x+y")


def scale_bar(
    x_range_um: Sequence[float],
    y_range_um: Sequence[float],
    *,
    xref: str = "x",
    yref: str = "y",
    color: str = "white",
    fraction: float = 0.2,
) -> tuple[dict, dict, float]:
    """A physical scale bar for an image spanning ``x_range_um`` × ``y_range_um``.

    Returns
    -------
    shape : dict
        A plotly layout shape near the bottom-left corner (y axis pointing down): a bar
        in ``color`` outlined in its contrast colour, so its ends show on bright and dark
        pixels alike (a white bar over a white particle has no end).
    annotation : dict
        Its label, e.g. ``"2 µm"``, on a translucent backing of the contrast colour.
    length_um : float
        The bar's length (a round number close to ``fraction`` of the width).
    """
    x0, x1 = map(float, x_range_um)
    y0, y1 = sorted(map(float, y_range_um))
    length = nice_length(x1 - x0, fraction)
    left = x0 + 0.05 * (x1 - x0)
    y = y1 - 0.06 * (y1 - y0)  # near the bottom edge of an image drawn with y down
    half = 0.006 * (y1 - y0)  # the bar's half thickness
    contrast = _contrast(color)
    shape = dict(type="rect", xref=xref, yref=yref, x0=left, x1=left + length, y0=y - half, y1=y + half,
                 fillcolor=color, line=dict(color=contrast, width=1), name="scale bar")
    r, g, b = _rgb(contrast)
    annotation = dict(xref=xref, yref=yref, x=left + length / 2, y=y - 0.03 * (y1 - y0),
                      text=format_length(length), showarrow=False, yanchor="bottom",
                      font=dict(color=color, size=12), bgcolor=f"rgba({r},{g},{b},0.55)", borderpad=1,
                      name="scale bar")
    return shape, annotation, length


def _rgb(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"``, ``"#rgb"``, ``"white"``/``"black"`` or ``"rgb(r, g, b)"`` as integers."""
    named = {"white": (255, 255, 255), "black": (0, 0, 0)}
    c = color.strip().lower()
    if c in named:
        return named[c]
    if c.startswith("#") and len(c) == 4:  # "#333"
        c = "#" + "".join(ch * 2 for ch in c[1:])
    if c.startswith("#") and len(c) == 7:
        return tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
    if c.startswith("rgb"):
        return tuple(int(float(v)) for v in c[c.index("(") + 1:c.index(")")].split(",")[:3])  # type: ignore[return-value]
    raise InputError(f"color={color!r}: give '#rrggbb', '#rgb', 'rgb(r, g, b)', 'white' or 'black'")


def _contrast(color: str) -> str:
    """Black for a light colour, white for a dark one."""
    r, g, b = _rgb(color)
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


def box_trace(
    lo_um: Sequence[float],
    hi_um: Sequence[float],
    *,
    name: str,
    color: str,
    text: str | None = None,
    textposition: str = "top right",
) -> go.Scatter:
    """An axis-aligned rectangle (across, down) in µm, plus a marker at its centre.

    The centre marker has a fixed size on screen, so a child far smaller than its parent
    (a 64 µm electrode region in an 18 mm cell) still shows and can be clicked; it is the
    trace's last point, labelled with ``text`` (default: the part of ``name`` after the
    last ``/``) in the box's colour with a dark outline, readable on any grey. The box is
    not clipped at the axes, so a box as large as its parent's image still shows whole.
    ``textposition`` (plotly's) puts the label on the side of the centre with room for it.
    """
    (a0, d0), (a1, d1) = lo_um, hi_um
    label = text if text is not None else name.split("/")[-1]
    return go.Scatter(
        x=[a0, a1, a1, a0, a0, None, (a0 + a1) / 2], y=[d0, d0, d1, d1, d0, None, (d0 + d1) / 2],
        mode="lines+markers+text", line=dict(color=color, width=3), name=name,
        marker=dict(size=[0, 0, 0, 0, 0, 0, 16], color=color, symbol="circle-open", line=dict(width=3)),
        text=[""] * 6 + [label], textposition=textposition,
        textfont=dict(color=color, size=13, shadow=style.LABEL_SHADOW),
        hovertext=[name] * 7, hoverinfo="text", showlegend=False, cliponaxis=False,
    )


def level_figure(
    slice2d: Any = None,
    *,
    axis: str = "z",
    shape: Sequence[int] | None = None,
    voxel_size_um: Sequence[float],
    origin_um: Sequence[float] = (0.0, 0.0, 0.0),
    window_lo_hi: tuple[float, float] | None = None,
    boxes: Sequence[tuple[str, Sequence[float], Sequence[float], str, bool]] = (),
    title: str | None = None,
    height: int = 520,
    width: int | None = None,
) -> go.Figure:
    """One slice of a level, in µm, with a scale bar and its children's boxes.

    Parameters
    ----------
    slice2d : array (down, across), optional
        The slice normal to ``axis`` (see :func:`slice_axes`). Without data, the level's
        footprint is drawn as a flat grey image of its extent (``shape`` is then needed),
        so clicks on it still report positions.
    shape : (3,) ints, optional
        The level's grid ``(z, y, x)`` (only needed without ``slice2d``).
    voxel_size_um, origin_um : (3,) floats, (z, y, x)
        The level's voxel size and where its voxel 0 centre sits (µm).
    boxes : sequence of ``(name, lo_um, hi_um, colour, cut)`` or ``(..., cut, label)``
        Children's boxes: ``lo``/``hi`` are (z, y, x) corners in this level's frame;
        ``cut`` says whether the slice's plane passes through the box (solid outline) or
        not (dotted: the box's footprint only); ``label``, the text shown beside the box
        (default: the part of ``name`` after the last ``/``).

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0: the image; traces 1..: the boxes (named after the children).

    Examples
    --------
    A slice of a level with one child's box drawn on it (µm in the level's frame):

    >>> import numpy as np
    >>> from batteryzoom.plots.zoom import level_figure
    >>> fig = level_figure(np.zeros((40, 60)), voxel_size_um=(1.0, 0.5, 0.5),
    ...                    boxes=[("roi", (0.0, 5.0, 5.0), (10.0, 10.0, 15.0), "#D55E00", True)])
    >>> box = fig.data[1]   # the child's outline (x across, y down), then its clickable centre
    >>> box.name, box.x[:5], box.y[:5]
    ('roi', (5.0, 15.0, 15.0, 5.0, 5.0), (5.0, 5.0, 10.0, 10.0, 5.0))
    >>> [a.text for a in fig.layout.annotations]   # the scale bar
    ['5 µm']
    """
    across, down = slice_axes(axis)
    ia, idn = AXES.index(across), AXES.index(down)
    vs = np.broadcast_to(np.asarray(voxel_size_um, float), (3,))
    org = np.broadcast_to(np.asarray(origin_um, float), (3,))
    if slice2d is not None:
        s = np.asarray(slice2d)
        if s.ndim != 2:
            raise InputError(f"slice2d must be 2D (down, across); got shape {s.shape}")
        n_down, n_across = s.shape
        lo, hi = window_lo_hi if window_lo_hi is not None else window(s)
        uri = gray_png_uri(s, lo, hi)
        dx, dy = vs[ia], vs[idn]
    else:
        if shape is None:
            raise InputError("level_figure needs slice2d or the level's shape")
        n_down, n_across = int(shape[idn]), int(shape[ia])
        # a small flat image stretched over the footprint (pixels need not be voxels)
        px = 64
        uri = _png_uri(np.full((px, px), 235, np.uint8))
        dx, dy = n_across * vs[ia] / px, n_down * vs[idn] / px
    x_range = (org[ia] - vs[ia] / 2, org[ia] + (n_across - 0.5) * vs[ia])
    y_range = (org[idn] - vs[idn] / 2, org[idn] + (n_down - 0.5) * vs[idn])
    fig = style.figure(title=title, height=height, width=width)
    fig.add_trace(image_trace(uri, x0_um=x_range[0] + dx / 2, dx_um=dx, y0_um=y_range[0] + dy / 2, dy_um=dy,
                              name="slice"))
    for name, blo, bhi, color, cut, *label in boxes:
        # the label goes towards the image's middle: beside a centre near the right edge,
        # "top right" ran out of the figure ("electrode-c")
        share_across = ((blo[ia] + bhi[ia]) / 2 - x_range[0]) / (x_range[1] - x_range[0])
        share_down = ((blo[idn] + bhi[idn]) / 2 - y_range[0]) / (y_range[1] - y_range[0])
        position = f"{'bottom' if share_down < 0.15 else 'top'} {'left' if share_across > 0.6 else 'right'}"
        trace = box_trace((blo[ia], blo[idn]), (bhi[ia], bhi[idn]), name=name, color=color,
                          text=label[0] if label else None, textposition=position)
        trace.line.dash = "solid" if cut else "dot"
        fig.add_trace(trace)
    bar_color = "white" if slice2d is not None else "#333"
    shape_, annotation, _ = scale_bar(x_range, y_range, color=bar_color)
    fig.update_layout(shapes=[shape_], annotations=[annotation], margin=dict(l=60, r=20, t=50, b=50))
    fig.update_xaxes(title_text=f"{across} (µm)", range=list(x_range), showgrid=False, zeroline=False)
    fig.update_yaxes(title_text=f"{down} (µm)", range=[y_range[1], y_range[0]], showgrid=False, zeroline=False,
                     scaleanchor="x", scaleratio=1)
    return fig
