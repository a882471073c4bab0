"""SliceViewer: orthogonal slices of any volume, in µm, with sliders, a scale bar and labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..errors import InputError
from ..plots import style
from ..plots import zoom as pz
from ._clicks import ClickRelay, on_click

__all__ = ["SliceViewer"]


def _array(volume: Any, name: str) -> Any:
    if hasattr(volume, "dims"):
        if tuple(volume.dims) != pz.AXES:
            if set(volume.dims) != set(pz.AXES):
                raise InputError(f"{name} has dims {volume.dims}; expected (z, y, x)")
            volume = volume.transpose(*pz.AXES)
        return volume.data
    if getattr(volume, "ndim", None) != 3:
        raise InputError(f"{name} must be a 3D volume (z, y, x); got shape {getattr(volume, 'shape', None)}")
    return volume


def _take(data: Any, axis: str, index: int) -> np.ndarray:
    """One slice normal to ``axis`` as numpy (dask computes only that slice)."""
    key = [slice(None)] * 3
    key[pz.AXES.index(axis)] = int(index)
    out = data[tuple(key)]
    if hasattr(out, "compute"):
        out = out.compute()
    out = np.asarray(out)
    # rows = "down" axis, columns = "across" axis (see plots.zoom.slice_axes)
    across, down = pz.slice_axes(axis)
    remaining = [a for a in pz.AXES if a != axis]
    if remaining.index(down) != 0:
        out = out.T
    return out


class SliceViewer(widgets.VBox):
    """Orthogonal slices of a volume with sliders, a physical scale bar and a labels overlay.

    Three panels show the slices normal to ``z``, ``y`` and ``x`` through the current point,
    with crosshairs where the other two planes cut them; axes are in µm and each panel has
    a scale bar. Moving a slider (or clicking a panel, which moves the other two planes to
    the clicked point) reads only the slices it needs, so dask volumes bigger than memory
    stay lazy.

    Parameters
    ----------
    volume : xarray.DataArray, numpy or dask array (z, y, x)
        Grey levels. An xarray volume gives its voxel size (``attrs["voxel_size_um"]`` or
        coordinate spacing) and origin (first coordinates).
    labels : array-like (z, y, x) of int, optional
        Drawn over the grey levels as translucent colours (0 transparent).
    voxel_size_um, origin_um : optional
        When the volume does not carry them (µm, ``(z, y, x)``; origin default 0).
    window : (lo, hi), optional
        Grey-level window; default: the 1–99 % range of the three central slices.
    boundaries : bool
        Draw only the labels' outlines.
    label_alpha : float
        Opacity of the labels overlay.
    panel_px : int
        Height of each panel in pixels.

    Examples
    --------
    >>> import numpy as np
    >>> import batteryzoom as bz
    >>> volume = np.random.default_rng(0).normal(100.0, 10.0, (10, 20, 30)).astype(np.float32)
    >>> viewer = bz.widgets.SliceViewer(volume, voxel_size_um=(1.0, 0.5, 0.5))
    >>> viewer.shape, viewer.voxel_size_um.tolist()
    ((10, 20, 30), [1.0, 0.5, 0.5])
    """

    def __init__(
        self,
        volume: Any,
        *,
        labels: Any = None,
        voxel_size_um: Sequence[float] | float | None = None,
        origin_um: Sequence[float] | None = None,
        window: tuple[float, float] | None = None,
        boundaries: bool = False,
        label_alpha: float = 0.45,
        panel_px: int = 340,
        title: str | None = None,
    ):
        self._data = _array(volume, "volume")
        self.shape = tuple(int(n) for n in self._data.shape)
        self.voxel_size_um, self.origin_um = pz.volume_frame(volume, voxel_size_um, origin_um)
        self._labels = None
        if labels is not None:
            self._labels = _array(labels, "labels")
            if tuple(self._labels.shape) != self.shape:
                raise InputError(f"labels have shape {tuple(self._labels.shape)}, the volume {self.shape}")
        self.boundaries = boundaries
        self.label_alpha = label_alpha
        self.index = {a: n // 2 for a, n in zip(pz.AXES, self.shape)}
        if window is None:
            window = pz.window(np.concatenate([_take(self._data, a, self.index[a]).ravel() for a in pz.AXES]))
        self.window = (float(window[0]), float(window[1]))

        self.figures: dict[str, go.FigureWidget] = {}
        self.clicks: dict[str, ClickRelay] = {}
        self.sliders: dict[str, widgets.IntSlider] = {}
        self.readouts: dict[str, widgets.Label] = {}
        panels = []
        for axis in pz.AXES:
            fig = go.FigureWidget(self._panel(axis, panel_px))
            # through a relay: a FigureWidget's own click can be lost on a busy kernel
            self.clicks[axis] = on_click(fig, lambda trace, points, state, axis=axis: self._on_click(axis, points))
            self.figures[axis] = fig
            n = self.shape[pz.AXES.index(axis)]
            slider = widgets.IntSlider(value=self.index[axis], min=0, max=n - 1, description=axis,
                                       continuous_update=False, readout=True,
                                       layout=widgets.Layout(width=f"{panel_px}px"))
            slider.observe(lambda change, axis=axis: self._on_slider(axis, change["new"]), names="value")
            self.sliders[axis] = slider
            self.readouts[axis] = widgets.Label(self._position_text(axis))
            panels.append(widgets.VBox([fig, widgets.HBox([slider, self.readouts[axis]])]))
        header = [widgets.HTML(f"<b>{title}</b>")] if title else []
        # the panels wrap onto the next line when the output area is narrower than the three
        # (three 380 px panels overflowed JupyterLab's ~1,017 px output area)
        row = widgets.HBox(panels, layout=widgets.Layout(flex_flow="row wrap", width="100%"))
        super().__init__(children=[*header, row], layout=widgets.Layout(max_width="100%"))
        self.add_class("batteryzoom-slice-viewer")

    # ------------------------------------------------------------ geometry
    def _extent(self, axis: str) -> tuple[tuple[float, float], tuple[float, float]]:
        across, down = pz.slice_axes(axis)
        ranges = []
        for a in (across, down):
            i = pz.AXES.index(a)
            v, o, n = self.voxel_size_um[i], self.origin_um[i], self.shape[i]
            ranges.append((o - v / 2, o + (n - 0.5) * v))
        return ranges[0], ranges[1]

    def position_um(self, axis: str) -> float:
        """Position (µm) of the current plane normal to ``axis``."""
        i = pz.AXES.index(axis)
        return float(self.origin_um[i] + self.index[axis] * self.voxel_size_um[i])

    def _position_text(self, axis: str) -> str:
        return f"{axis} = {self.position_um(axis):.3g} µm"

    def slice(self, axis: str) -> np.ndarray:
        """The slice currently shown normal to ``axis`` (rows: down axis, columns: across)."""
        return _take(self._data, axis, self.index[axis])

    def _crosshair_shapes(self, axis: str) -> list[dict]:
        across, down = pz.slice_axes(axis)
        (x0, x1), (y0, y1) = self._extent(axis)
        line = dict(color="rgba(255,200,0,0.7)", width=1, dash="dot")
        return [
            dict(type="line", x0=self.position_um(across), x1=self.position_um(across), y0=y0, y1=y1,
                 line=line, name=f"{across} plane"),
            dict(type="line", x0=x0, x1=x1, y0=self.position_um(down), y1=self.position_um(down),
                 line=line, name=f"{down} plane"),
        ]

    def _image_props(self, axis: str) -> dict:
        return dict(source=pz.gray_png_uri(self.slice(axis), *self.window))

    def _labels_props(self, axis: str) -> dict:
        lab = _take(self._labels, axis, self.index[axis])
        return dict(source=pz.labels_png_uri(lab, alpha=self.label_alpha, boundaries=self.boundaries))

    def _panel(self, axis: str, panel_px: int) -> go.Figure:
        across, down = pz.slice_axes(axis)
        ia, idn = pz.AXES.index(across), pz.AXES.index(down)
        (x0, x1), (y0, y1) = self._extent(axis)
        aspect = (x1 - x0) / (y1 - y0)
        fig = style.figure(title=f"normal to {axis}", height=panel_px,
                           width=int(min(max(panel_px * aspect, 200), 2.5 * panel_px)) + 40)
        place = dict(x0_um=self.origin_um[ia], dx_um=self.voxel_size_um[ia],
                     y0_um=self.origin_um[idn], dy_um=self.voxel_size_um[idn])
        fig.add_trace(pz.image_trace(self._image_props(axis)["source"], name="slice", **place))
        if self._labels is not None:
            overlay = pz.image_trace(self._labels_props(axis)["source"], name="labels", **place)
            overlay.hoverinfo = "skip"
            fig.add_trace(overlay)
        bar, text, _ = pz.scale_bar((x0, x1), (y0, y1))
        fig.update_layout(shapes=[*self._crosshair_shapes(axis), bar], annotations=[text],
                          margin=dict(l=45, r=5, t=30, b=35), title_font_size=12)
        fig.update_xaxes(title_text=f"{across} (µm)", range=[x0, x1], showgrid=False, zeroline=False)
        fig.update_yaxes(title_text=f"{down} (µm)", range=[y1, y0], showgrid=False, zeroline=False,
                         scaleanchor="x", scaleratio=1)
        return fig

    # ----------------------------------------------------------- interaction
    def set_index(self, axis: str, index: int) -> None:
        """Move the plane normal to ``axis`` to voxel ``index`` and redraw what changed."""
        if axis not in pz.AXES:
            raise InputError(f"axis={axis!r}: choose one of {pz.AXES}")
        n = self.shape[pz.AXES.index(axis)]
        if not 0 <= int(index) < n:
            raise InputError(f"{axis} index {index} is outside 0..{n - 1}")
        self.index[axis] = int(index)
        if self.sliders and self.sliders[axis].value != index:
            self.sliders[axis].value = int(index)  # its observer sees the index already set
        fig = self.figures[axis]
        with fig.batch_update():
            fig.data[0].update(self._image_props(axis))
            if self._labels is not None:
                fig.data[1].update(self._labels_props(axis))
        for other, f in self.figures.items():
            if other != axis:
                shapes = list(f.layout.shapes)
                f.layout.shapes = [*self._crosshair_shapes(other), *shapes[2:]]
        self.readouts[axis].value = self._position_text(axis)

    def _on_slider(self, axis: str, index: int) -> None:
        if index != self.index[axis]:
            self.set_index(axis, index)

    def set_position_um(self, axis: str, position_um: float) -> None:
        """Move the plane normal to ``axis`` to the voxel nearest ``position_um``."""
        i = pz.AXES.index(axis)
        index = int(np.clip(np.rint((position_um - self.origin_um[i]) / self.voxel_size_um[i]), 0, self.shape[i] - 1))
        self.set_index(axis, index)

    def _on_click(self, axis: str, points) -> None:
        if not points.xs:
            return
        across, down = pz.slice_axes(axis)
        self.set_position_um(across, points.xs[0])
        self.set_position_um(down, points.ys[0])
