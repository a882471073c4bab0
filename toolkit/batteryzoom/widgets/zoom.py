"""ZoomNavigator: walk the zoom's levels, from the cell down to a grain and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..errors import InputError
from ..plots import style
from ..plots import zoom as pz
from ._clicks import ClickRelay
from .slices import _array, _take

__all__ = ["ZoomNavigator"]


def _scale_color(scale: str | None) -> str:
    return style.SCALE_COLORS.get(scale or "", style.COLORWAY[0])


class ZoomNavigator(widgets.VBox):
    """A breadcrumb of the zoom's levels and a slice of the current level with its children.

    The slice is in the current level's own frame (µm); every child level is drawn as its
    box (solid where the slice's plane cuts it, dotted where only its footprint shows).
    Click inside a box (or pick the child and press "zoom in") to descend into it; click a
    level of the breadcrumb (or "zoom out") to go back up. The plane's slider moves
    through the current level.

    Parameters
    ----------
    hierarchy : batteryzoom.zoom.Hierarchy
        The levels and where each sits in its parent.
    data : mapping of level name -> volume (z, y, x), optional
        What to show for each level (a level's own ``data`` otherwise). A level without data
        shows its footprint, so the boxes of its children still show where they are.
    start : str, optional
        The level to open at (default: the first root).
    axis : {"z", "y", "x"}
        The slices' normal.
    panel_px : int
        Height of the slice in pixels.

    Attributes
    ----------
    level : str
        The current level.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> nav = bz.widgets.ZoomNavigator(bz.zoom.Hierarchy.from_twin("small"))
    >>> nav.level, nav.hierarchy.children(nav.level)   # it starts at the root
    ('twin/cell-ct', ['twin/electrode-ct'])
    """

    def __init__(
        self,
        hierarchy: Any,
        data: Mapping[str, Any] | None = None,
        *,
        start: str | None = None,
        axis: str = "z",
        panel_px: int = 520,
    ):
        if axis not in pz.AXES:
            raise InputError(f"axis={axis!r}: choose one of {pz.AXES}")
        self.hierarchy = hierarchy
        self.axis = axis
        self.panel_px = panel_px
        self._data = dict(data or {})
        unknown = set(self._data) - set(hierarchy.names)
        if unknown:
            raise InputError(f"data for {sorted(unknown)}: not levels of the hierarchy {hierarchy.names}")
        self._windows: dict[str, tuple[float, float]] = {}
        self.history: list[str] = []
        self.level = start if start is not None else hierarchy.roots[0]
        hierarchy[self.level]  # validates the name with a clear message
        self.index = 0

        self.breadcrumb = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self.children_dropdown = widgets.Dropdown(description="child", layout=widgets.Layout(width="320px"))
        self.zoom_in = widgets.Button(description="zoom in", icon="search-plus", layout=widgets.Layout(width="110px"))
        self.zoom_out = widgets.Button(description="zoom out", icon="search-minus", layout=widgets.Layout(width="110px"))
        self.zoom_in.on_click(lambda _: self.children_dropdown.value and self.go(self.children_dropdown.value))
        self.zoom_out.on_click(lambda _: self.up())
        # the plane's position in µm, as the title says it (a voxel index read as µm)
        self.slider = widgets.FloatSlider(description=f"{axis} (µm)", continuous_update=False, readout_format=".1f",
                                          style={"description_width": "initial"},
                                          layout=widgets.Layout(width="420px", max_width="100%"))
        self.slider.observe(self._on_slider, names="value")
        self.info = widgets.HTML()
        self.figure = go.FigureWidget()
        self.clicks: ClickRelay | None = None
        self._figure_box = widgets.Box([self.figure], layout=widgets.Layout(max_width="100%", overflow="hidden"))
        super().__init__(children=[
            self.breadcrumb,
            widgets.HBox([self.children_dropdown, self.zoom_in, self.zoom_out], layout=widgets.Layout(align_items="center")),
            self._figure_box,
            widgets.HBox([self.slider, self.info], layout=widgets.Layout(align_items="center", flex_flow="row wrap")),
        ], layout=widgets.Layout(max_width="100%"))
        self.add_class("batteryzoom-zoom-navigator")
        self.go(self.level)

    # ------------------------------------------------------------------- data
    def _level_data(self, name: str) -> Any:
        volume = self._data.get(name)
        if volume is None:
            volume = getattr(self.hierarchy[name], "data", None)
        return None if volume is None else _array(volume, f"data[{name!r}]")

    def _boxes(self, name: str, position_um: float) -> list[tuple]:
        ax = pz.AXES.index(self.axis)
        out = []
        for child in self.hierarchy.children(name):
            if self.hierarchy[child].shape is None:
                continue
            lo, hi = self.hierarchy.box_in(child, name)
            cut = bool(lo[ax] <= position_um <= hi[ax])
            out.append((child, lo, hi, _scale_color(self.hierarchy[child].scale), cut))
        return out

    def position_um(self) -> float:
        """Position of the slice's plane in the current level's frame (µm)."""
        lv = self.hierarchy[self.level]
        return float(self.index * lv.voxel_size_um[pz.AXES.index(self.axis)])

    # ------------------------------------------------------------ navigation
    def go(self, name: str) -> None:
        """Show level ``name`` (any level of the hierarchy)."""
        lv = self.hierarchy[name]
        if lv.ndim != 3 or lv.shape is None:
            raise InputError(f"{name}: the navigator shows 3D levels with a known shape")
        self.level = name
        self.history.append(name)
        ax = pz.AXES.index(self.axis)
        n = lv.shape[ax]
        # open on the plane through the first child's centre, so its box shows cut
        kids = [c for c in self.hierarchy.children(name) if self.hierarchy[c].shape is not None]
        if kids:
            lo, hi = self.hierarchy.box_in(kids[0], name)
            index = int(np.clip(np.rint((lo[ax] + hi[ax]) / 2 / lv.voxel_size_um[ax]), 0, n - 1))
        else:
            index = n // 2
        self.index = index
        self._syncing = True
        try:
            step = float(lv.voxel_size_um[ax])
            # max before step: a step larger than the old range would be clipped away
            self.slider.min, self.slider.max = 0.0, max((n - 1) * step, step)
            self.slider.step = step
            self.slider.value = index * step
            options = [(f"{c} ({self.hierarchy[c].scale or 'level'})", c) for c in kids]
            self.children_dropdown.options = options
            self.children_dropdown.value = options[0][1] if options else None
        finally:
            self._syncing = False
        self.zoom_in.disabled = not kids
        self.zoom_out.disabled = lv.parent is None
        self._draw_breadcrumb()
        self._draw_figure()
        self._draw_info()

    def up(self) -> None:
        """Go to the current level's parent."""
        parent = self.hierarchy[self.level].parent
        if parent is not None:
            self.go(parent)

    def set_index(self, index: int) -> None:
        """Move the slice's plane to voxel ``index`` of the current level."""
        lv = self.hierarchy[self.level]
        n = lv.shape[pz.AXES.index(self.axis)]
        if not 0 <= int(index) < n:
            raise InputError(f"{self.axis} index {index} is outside 0..{n - 1} of {self.level}")
        self.index = int(index)
        if self._slider_index(self.slider.value) != self.index:
            self._syncing = True
            try:
                self.slider.value = self.position_um()
            finally:
                self._syncing = False
        self._update_slice()
        self._draw_info()

    def click(self, across_um: float, down_um: float) -> str | None:
        """What a click on the slice at (across, down) µm does: descend into the child whose
        box holds that point (returns its name), or nothing (None)."""
        point = np.zeros(3)
        across, down = pz.slice_axes(self.axis)
        point[pz.AXES.index(self.axis)] = self.position_um()
        point[pz.AXES.index(across)] = across_um
        point[pz.AXES.index(down)] = down_um
        child = self.hierarchy.child_at(self.level, point)
        if child is None:
            # a footprint (dotted box) counts too: the plane may pass above or below it
            ax = pz.AXES.index(self.axis)
            for name, lo, hi, _, _ in self._boxes(self.level, point[ax]):
                inside = all(lo[i] <= point[i] <= hi[i] for i in range(3) if i != ax)
                if inside:
                    child = name
                    break
        if child is not None:
            self.go(child)
        return child

    # -------------------------------------------------------------- drawing
    def _slider_index(self, value_um: float) -> int:
        """The voxel index of a slider position (µm)."""
        step = self.hierarchy[self.level].voxel_size_um[pz.AXES.index(self.axis)]
        return int(np.rint(value_um / step))

    def _on_slider(self, change) -> None:
        if not getattr(self, "_syncing", False) and self._slider_index(change["new"]) != self.index:
            self.set_index(self._slider_index(change["new"]))

    def _draw_breadcrumb(self) -> None:
        items = []
        path = self.hierarchy.path(self.level)
        for k, name in enumerate(path):
            lv = self.hierarchy[name]
            button = widgets.Button(
                description=f"{lv.scale or 'level'}: {name.split('/')[-1]}",
                tooltip=name, disabled=name == self.level,
                button_style="info" if name == self.level else "",
                layout=widgets.Layout(width="auto"),
            )
            button.on_click(lambda _, name=name: self.go(name))
            if k:
                items.append(widgets.HTML("&nbsp;›&nbsp;"))
            items.append(button)
        self.breadcrumb.children = items

    def _slice(self) -> np.ndarray | None:
        data = self._level_data(self.level)
        if data is None:
            return None
        return _take(data, self.axis, self.index)

    def _draw_figure(self) -> None:
        lv = self.hierarchy[self.level]
        s = self._slice()
        if s is not None and self.level not in self._windows:
            self._windows[self.level] = pz.window(s)
        fig = pz.level_figure(
            s, axis=self.axis, shape=lv.shape, voxel_size_um=lv.voxel_size_um,
            window_lo_hi=self._windows.get(self.level), boxes=self._boxes(self.level, self.position_um()),
            title=f"{self.level} — {self.axis} = {style.um_text(self.position_um())} µm", height=self.panel_px,
        )
        self.figure = go.FigureWidget(fig)
        # clicks through a relay (a FigureWidget's own click can be lost on a busy kernel);
        # the previous level's figure and relay are dropped
        if self.clicks is not None:
            self.clicks.close()
        self.clicks = ClickRelay(self.figure, traces=range(len(self.figure.data)))
        self.clicks.on_click(lambda trace, points, state: points.xs and self.click(points.xs[0], points.ys[0]),
                             trace=0)
        for index in range(1, len(self.figure.data)):
            self.clicks.on_click(lambda trace, points, state: points.point_inds and trace.name != self.level
                                 and self.go(trace.name), trace=index)
        self._figure_box.children = [self.figure]

    def _update_slice(self) -> None:
        s = self._slice()
        boxes = self._boxes(self.level, self.position_um())
        with self.figure.batch_update():
            if s is not None:
                self.figure.data[0].source = pz.gray_png_uri(s, *self._windows[self.level])
            for trace, (_, _, _, _, cut) in zip(self.figure.data[1:], boxes):
                trace.line.dash = "solid" if cut else "dot"
            self.figure.layout.title.text = f"{self.level} — {self.axis} = {style.um_text(self.position_um())} µm"

    def _draw_info(self) -> None:
        lv = self.hierarchy[self.level]
        parts = [f"<b>{self.level}</b> ({lv.scale or 'level'})",
                 f"{' × '.join(map(str, lv.shape))} voxels of {' × '.join(f'{v:g}' for v in lv.voxel_size_um)} µm"]
        if lv.parent is not None:
            lo, hi = self.hierarchy.box_in(self.level, lv.parent)
            size = hi - lo
            parts.append(f"box in {lv.parent}: {' × '.join(style.um_text(v) for v in size)} µm at "
                         f"({', '.join(style.um_text(v) for v in lo)}) µm")
        self.info.value = " · ".join(parts)
