"""Plotly clicks that reach the kernel however slow the kernel is to answer.

A plotly ``FigureWidget`` reports clicks, hovers and unhovers to Python through one synced
trait (``_js2py_pointsCallback``). ipywidgets keeps at most one state update of a model in
flight; while one is pending it merges later updates into a buffer where the newest value
of a trait wins. Hovering sends an update on every picked frame, and plotly emits one more
hover right after the button is released. So when the kernel is slow to acknowledge (busy
running a cell, or a loaded machine), a click made while a hover is in flight is
overwritten in the buffer by that next hover and never reaches Python. The browser test
saw exactly this under load: the click left the page as part of nothing, the histogram
never filled.

:class:`ClickRelay` delivers clicks as custom messages instead (``model.send``), which
ipywidgets sends at once and never merges: every click arrives, in order, once the kernel
gets to it. Its front end (an anywidget ``initialize`` hook, no view) finds the figure's
plotly graph div by a CSS class it puts on the figure, whichever front end (JupyterLab,
Notebook 7) renders it, and listens to plotly's own ``plotly_click``. Where it cannot find
the figure (a front end that renders elsewhere), the figure's own click callbacks still
work: they are used until the relay reports that it is bound.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import traitlets
from plotly.callbacks import Points

__all__ = ["ClickRelay", "on_click"]

ClickCallback = Callable[[Any, Points, Any], Any]

_ESM = r"""
export default {
  initialize({ model }) {
    const cls = model.get("figure_class");
    const traces = new Set(model.get("traces"));
    const bound = new WeakSet();
    let announced = false;
    const bind = () => {
      for (const host of document.getElementsByClassName(cls)) {
        // plotly's widget plots into the view's own element (the one with the class);
        // look inside too, should a front end wrap it
        const gd = host.classList.contains("js-plotly-plot") ? host : host.querySelector(".js-plotly-plot");
        if (!gd || bound.has(gd) || typeof gd.on !== "function") continue;
        bound.add(gd);
        gd.dataset.batteryzoomClicks = cls;  // visible in the DOM: which relay listens here
        // one click per press: a 3D scene emits plotly_click on every frame it draws
        // while the button is down over a point
        let armed = false;
        gd.addEventListener("pointerdown", () => { armed = true; }, true);
        gd.on("plotly_click", (event) => {
          const points = ((event && event.points) || [])
            .filter((p) => traces.has(p.curveNumber))
            .map((p) => ({ trace: p.curveNumber, point: p.pointNumber ?? null,
                           x: p.x ?? null, y: p.y ?? null, z: p.z ?? null }));
          if (!armed || points.length === 0) return;
          armed = false;
          model.send({ event: "click", points });
        });
        if (!announced) {
          announced = true;
          model.send({ event: "bound" });
        }
      }
    };
    const observer = new MutationObserver(bind);
    observer.observe(document.body, { childList: true, subtree: true });
    bind();
    return () => observer.disconnect();
  },
};
"""


class ClickRelay(anywidget.AnyWidget):
    """Deliver the clicks on some traces of a plotly FigureWidget to Python, reliably.

    Parameters
    ----------
    figure : plotly.graph_objects.FigureWidget
        Gets a CSS class by which the relay's front end finds its graph div.
    traces : sequence of int
        Indexes of the traces whose clicks are delivered.

    Notes
    -----
    The relay has no view: create it and keep a reference (the composite widget holding
    the figure does); it works as soon as the figure is displayed. Callbacks are called as
    plotly's are, ``callback(trace, points, state)``, with ``state`` None.
    """

    _esm = _ESM
    figure_class = traitlets.Unicode().tag(sync=True)
    traces = traitlets.List(traitlets.Int()).tag(sync=True)

    def __init__(self, figure: Any, traces: Sequence[int] = (0,)):
        css_class = f"batteryzoom-clicks-{uuid.uuid4().hex[:12]}"
        super().__init__(figure_class=css_class, traces=[int(t) for t in traces])
        self.figure = figure
        figure.add_class(css_class)
        self.bound = False  # the front end found the figure: its own click path is ignored
        self.received = 0  # clicks delivered by the relay (what a test can count)
        self._callbacks: list[tuple[int | None, ClickCallback]] = []
        self.on_msg(self._on_message)
        for index in self.traces:
            figure.data[index].on_click(self._on_figure_click, append=True)

    def on_click(self, callback: ClickCallback, trace: int | None = None) -> None:
        """Call ``callback(trace, points, state)`` on a click on ``trace`` (any relayed trace
        when None)."""
        self._callbacks.append((trace, callback))

    def _dispatch(self, index: int, points: Points) -> None:
        trace = self.figure.data[index]
        for want, callback in self._callbacks:
            if want is None or want == index:
                callback(trace, points, None)

    def _on_message(self, _widget: Any, content: dict, _buffers: Any) -> None:
        event = content.get("event") if isinstance(content, dict) else None
        if event == "bound":
            self.bound = True
        elif event == "click":
            self.bound = True
            self.received += 1
            by_trace: dict[int, list[dict]] = {}
            for p in content.get("points", []):
                by_trace.setdefault(int(p["trace"]), []).append(p)
            for index, pts in by_trace.items():
                if index not in self.traces:
                    continue
                self._dispatch(index, Points(
                    point_inds=[p["point"] for p in pts], xs=[p["x"] for p in pts], ys=[p["y"] for p in pts],
                    trace_name=self.figure.data[index].name, trace_index=index,
                ))

    def close(self) -> None:
        """Detach from the figure (no callback is called any more) and close the front end."""
        # also called by ipywidgets when the relay is garbage collected, maybe half-built
        getattr(self, "_callbacks", []).clear()
        with contextlib.suppress(Exception):  # the figure may already be gone
            self.figure.remove_class(self.figure_class)
        super().close()

    def _on_figure_click(self, trace: Any, points: Points, _state: Any) -> None:
        # the figure's own path: only while the relay has not reported (else a click would
        # arrive twice); plotly calls every trace's callbacks, those not clicked with no
        # points, which the relay never does
        if self.bound or not points.point_inds:
            return
        self._dispatch(points.trace_index, points)


def on_click(figure: Any, callback: ClickCallback, traces: Sequence[int] = (0,)) -> ClickRelay:
    """Call ``callback(trace, points, state)`` for every click on ``traces`` of ``figure``,
    also when the kernel is busy or slow to answer (see the module docstring).

    Returns the :class:`ClickRelay`; keep a reference to it as long as the figure lives.
    """
    relay = ClickRelay(figure, traces)
    relay.on_click(callback)
    return relay
