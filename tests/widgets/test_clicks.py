"""bz.widgets._clicks: the click relay turns relayed browser clicks into plotly points."""

from __future__ import annotations


def _relay_message(relay, content: dict) -> None:
    """Deliver a custom message to a widget exactly as the comm does (``model.send`` in JS)."""
    relay._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def _two_trace_figure():
    import plotly.graph_objects as go

    return go.FigureWidget([go.Scatter(x=[0, 1, 2], y=[5, 6, 7], name="a"),
                            go.Scatter(x=[3, 4, 5], y=[8, 9, 10], name="b")])


def test_click_relay_dispatches_relayed_clicks_as_plotly_points(send_click):
    from plotly.callbacks import Points

    from batteryzoom.widgets._clicks import ClickRelay

    fig = _two_trace_figure()
    relay = ClickRelay(fig, traces=[0, 1])
    # the front end finds the figure by this class
    assert relay.figure_class in fig._dom_classes and relay.traces == [0, 1]
    on_a, on_any = [], []
    relay.on_click(lambda trace, points, state: on_a.append((trace, points)), trace=0)
    relay.on_click(lambda trace, points, state: on_any.append((trace, points)))
    _relay_message(relay, {"event": "bound"})
    assert relay.bound and relay.received == 0 and not on_a and not on_any
    # a click on trace "b"'s point 2 (and one on trace 7, which this relay does not carry)
    _relay_message(relay, {"event": "click", "points": [
        {"trace": 1, "point": 2, "x": 5.0, "y": 10.0, "z": None},
        {"trace": 7, "point": 0, "x": 0.0, "y": 0.0, "z": None}]})
    assert relay.received == 1 and on_a == []
    [(trace, points)] = on_any
    assert trace is fig.data[1] and isinstance(points, Points)
    assert (points.trace_index, points.trace_name) == (1, "b")
    assert (points.point_inds, points.xs, points.ys) == ([2], [5.0], [10.0])
    # a click on trace "a" reaches both callbacks
    _relay_message(relay, {"event": "click", "points": [{"trace": 0, "point": 1, "x": 1.0, "y": 6.0, "z": None}]})
    assert [p.point_inds for _, p in on_a] == [[1]] and len(on_any) == 2
    # once the relay is bound, the figure's own click (also sent by plotly) is not a second click
    send_click(fig, trace=0, point=1, x=1.0, y=6.0)
    assert len(on_a) == 1 and len(on_any) == 2


def test_click_relay_falls_back_to_the_figures_clicks_and_close_detaches(send_click):
    from batteryzoom.widgets._clicks import on_click

    fig = _two_trace_figure()
    got = []
    relay = on_click(fig, lambda trace, points, state: got.append((trace.name, points.point_inds)), traces=[1])
    # no front end has reported (e.g. one that renders the figure elsewhere): plotly's click
    send_click(fig, trace=1, point=0, x=3.0, y=8.0)
    send_click(fig, trace=0, point=0)  # not a relayed trace
    assert got == [("b", [0])] and not relay.bound
    relay.close()
    assert relay.figure_class not in fig._dom_classes
    send_click(fig, trace=1, point=2, x=5.0, y=10.0)
    _relay_message(relay, {"event": "click", "points": [{"trace": 1, "point": 1, "x": 4.0, "y": 9.0, "z": None}]})
    assert got == [("b", [0])], "a closed relay calls nothing"


def test_relayed_click_on_the_mesh_selects_the_grain(explorer, surface):
    i = 321
    g = int(surface.labels[i])
    _relay_message(explorer.clicks, {"event": "bound"})
    _relay_message(explorer.clicks, {"event": "click", "points": [
        {"trace": 0, "point": int(surface.vertex_start[i]) + 2, "x": 1.0, "y": 2.0, "z": 3.0}]})
    assert explorer.selected == [g]
    assert f"grain #{g}" in explorer.table.value
