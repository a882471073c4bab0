"""Shared fixtures of the widget tests: a twin particle's grains, its surface, a GrainExplorer
with made-up statistics, and a click delivered as the browser sends it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from batteryzoom.data.twin import frames, grains
from batteryzoom.plots import grains as pg


@dataclass
class _Stats:
    """A per-grain statistics result shaped like bz.regions.region_stats' (values made up)."""

    table: pd.DataFrame
    histograms: np.ndarray
    bin_edges: np.ndarray

    def histogram(self, label):
        return self.histograms[self.table.index.get_loc(label)], self.bin_edges


def _constructed_stats(labels: np.ndarray, seed: int = 0) -> _Stats:
    ids = np.unique(labels[labels > 0])
    rng = np.random.default_rng(seed)
    hist = rng.integers(0, 50, size=(len(ids), 40))
    table = pd.DataFrame(
        {
            "count": hist.sum(1),
            "edge_energy_ev_mean": 8341.0 + rng.normal(0, 0.5, len(ids)),
            "edge_energy_ev_peak": 8341.0 + rng.normal(0, 0.5, len(ids)),
            "edge_energy_ev_fwhm": rng.uniform(0.5, 2.0, len(ids)),
        },
        index=pd.Index(ids, name="label"),
    )
    return _Stats(table, hist, np.linspace(8335.0, 8347.0, 41))


@pytest.fixture(scope="module")
def particle():
    level = frames.level("twin/particle-xanes", "small")
    labels = grains.grain_labels(grains.particle_geometry(7), level)
    return level, labels


@pytest.fixture(scope="module")
def surface(particle):
    level, labels = particle
    return pg.grain_surface(labels, level.voxel_size_um, cut="octant")


@pytest.fixture
def explorer(particle, surface):
    from batteryzoom.widgets import GrainExplorer

    level, labels = particle
    values = labels.astype(np.float32) * 0.001 + 8340.0  # each grain's voxels carry its label
    return GrainExplorer(labels, _constructed_stats(labels), values=values,
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
    return _constructed_stats

