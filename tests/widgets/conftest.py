"""Shared fixtures of the widget tests: a twin particle's grains, its surface, a GrainExplorer
with made-up statistics, and a click delivered as the browser sends it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import made_up_grain_stats

from batteryzoom.plots import grains as pg


@pytest.fixture(scope="module")
def particle(twin_particle_grains):
    return twin_particle_grains


@pytest.fixture(scope="module")
def surface(particle):
    level, labels = particle
    return pg.grain_surface(labels, level.voxel_size_um, cut="octant")


@pytest.fixture
def explorer(particle, surface):
    from batteryzoom.widgets import GrainExplorer

    level, labels = particle
    values = labels.astype(np.float32) * 0.001 + 8340.0  # each grain's voxels carry its label
    return GrainExplorer(labels, made_up_grain_stats(labels), values=values,
                         voxel_size_um=level.voxel_size_um, surface=surface)


@pytest.fixture
def send_click():
    """Deliver a click to a FigureWidget exactly as the browser's plotly.js front end does."""

    def send(fig, trace: int = 0, point: int = 0, x: float = 0.0, y: float = 0.0) -> None:
        fig._handler_js2py_pointsCallback({"new": {
            "event_type": "plotly_click",
            "points": {"trace_indexes": [trace], "point_indexes": [int(point)], "xs": [x], "ys": [y]},
            "device_state": {"ctrl": False, "alt": False, "shift": False, "meta": False, "button": 0, "buttons": 1},
            "selector": None,
        }})

    return send


@pytest.fixture
def constructed_stats():
    """Made-up per-grain statistics shaped like bz.regions.region_stats' (a function of the labels)."""
    return made_up_grain_stats

