"""Which label a click picks: the first non-background label along the camera's ray."""

from __future__ import annotations

from typing import Any

__all__ = ["pick_label"]


def pick_label(layer: Any, event: Any) -> int | None:
    """The first non-background label of ``layer`` along the click's ray, or None.

    Parameters
    ----------
    layer : napari.layers.Labels
    event : napari mouse event
        Carries ``position`` (world, µm), ``view_direction`` and ``dims_displayed``; in 2D
        the view direction is None and the value under the cursor is returned.

    Examples
    --------
    Any object with napari's ``get_value`` answers (here a stand-in for a layer):

    >>> from types import SimpleNamespace
    >>> layer = SimpleNamespace(get_value=lambda position, **ray: 0 if position[0] < 5 else 7)
    >>> click = SimpleNamespace(position=(6.0, 1.0, 1.0), view_direction=(1, 0, 0), dims_displayed=(0, 1, 2))
    >>> pick_label(layer, click), pick_label(layer, SimpleNamespace(**{**vars(click), "position": (1.0, 1, 1)}))
    (7, None)
    """
    value = layer.get_value(
        event.position,
        view_direction=event.view_direction,
        dims_displayed=list(event.dims_displayed),
        world=True,
    )
    if isinstance(value, tuple):  # multiscale: (data_level, value)
        value = value[-1]
    if value is None:
        return None
    value = int(value)
    return value if value != 0 else None
