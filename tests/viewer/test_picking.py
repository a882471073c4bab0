"""bz.viewer.picking: the label a click returns (napari's ray query stood in for)."""

from __future__ import annotations

from types import SimpleNamespace

from batteryzoom.viewer import pick_label


class _Layer:
    """napari's ``Labels.get_value`` answered from a 1D row of labels along z."""

    def __init__(self, row, multiscale=False):
        self.row, self.multiscale, self.asked = row, multiscale, []

    def get_value(self, position, *, view_direction, dims_displayed, world):
        self.asked.append((tuple(position), view_direction, dims_displayed, world))
        value = self.row[int(position[0])] if 0 <= position[0] < len(self.row) else None
        return (0, value) if self.multiscale else value


def test_first_label_along_the_ray_background_and_outside_are_none():
    click = SimpleNamespace(position=(2.0, 0.0, 0.0), view_direction=(1.0, 0.0, 0.0), dims_displayed=(0, 1, 2))
    layer = _Layer([0, 0, 5, 5, 0])
    assert pick_label(layer, click) == 5
    assert layer.asked[-1] == ((2.0, 0.0, 0.0), (1.0, 0.0, 0.0), [0, 1, 2], True)  # world coordinates
    assert pick_label(layer, SimpleNamespace(**{**vars(click), "position": (0.0, 0, 0)})) is None
    assert pick_label(layer, SimpleNamespace(**{**vars(click), "position": (9.0, 0, 0)})) is None
    assert pick_label(_Layer([0, 0, 7], multiscale=True), click) == 7
