"""bz.viewer: napari under Xvfb with a real OpenGL context, picking a grain with a real click.

The canvas is clicked through Qt (QTest on the vispy canvas widget), so the test runs the
whole path a user's click takes: Qt mouse events -> vispy -> napari's mouse callbacks ->
the ray along the view direction -> the grain label -> our callbacks and the histogram dock.
Which grain the click must hit is computed independently, by marching the same ray through
the label volume in numpy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batteryzoom.data.twin import frames, grains

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.gui


@dataclass
class _Stats:
    """A per-grain statistics result in the shape bz.regions.region_stats returns."""

    table: pd.DataFrame
    histograms: np.ndarray
    bin_edges: np.ndarray

    def histogram(self, label):
        return self.histograms[self.table.index.get_loc(label)], self.bin_edges


def _constructed_stats(labels: np.ndarray) -> _Stats:
    """Made-up but distinct per-grain histograms: the dock must show the picked one's."""
    ids = np.unique(labels[labels > 0])
    rng = np.random.default_rng(0)
    hist = rng.integers(0, 50, size=(len(ids), 32))
    table = pd.DataFrame(
        {
            "count": hist.sum(1),
            "edge_energy_ev_mean": 8341.0 + rng.normal(0, 0.5, len(ids)),
            "edge_energy_ev_fwhm": rng.uniform(0.5, 2.0, len(ids)),
        },
        index=pd.Index(ids, name="label"),
    )
    return _Stats(table, hist, np.linspace(8336.0, 8348.0, 33))


@pytest.fixture(scope="module")
def grain_volume():
    level = frames.level("twin/particle-xanes", "small")
    labels = grains.grain_labels(grains.particle_geometry(7), level)
    return level, labels


@pytest.fixture
def zoom_viewer(xvfb_display):
    from batteryzoom.viewer import ZoomViewer

    zv = ZoomViewer(show=True, ndisplay=3)
    zv.viewer.window._qt_window.resize(1100, 800)
    yield zv
    zv.close()


def _first_label_along(labels, scale, translate, point_um, direction):
    """First non-zero label met by the ray through ``point_um`` along ``direction`` (numpy)."""
    extent = np.linalg.norm(np.asarray(labels.shape) * scale)
    t = np.arange(-extent, extent, np.min(scale) / 8)
    pts = np.asarray(point_um)[None] + t[:, None] * np.asarray(direction)[None]
    idx = np.round((pts - translate) / scale).astype(int)
    inside = np.all((idx >= 0) & (idx < labels.shape), axis=1)
    values = labels[tuple(idx[inside].T)]
    hits = values[values > 0]
    return int(hits[0]) if len(hits) else 0


def _click_centre(zv):
    from qtpy.QtCore import QPoint, Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    canvas = zv.viewer.window._qt_viewer.canvas.native
    QApplication.processEvents()
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(canvas.width() // 2, canvas.height() // 2))
    QApplication.processEvents()


def test_import_batteryzoom_viewer_loads_no_napari():
    code = (
        "import sys, batteryzoom as bz, batteryzoom.viewer; "
        "bad = [m for m in ('napari', 'qtpy', 'PyQt5', 'vispy') if m in sys.modules]; "
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "toolkit")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_click_on_a_grain_in_3d_picks_that_grain(zoom_viewer, grain_volume, artifact_dir):
    from scipy import ndimage

    level, labels = grain_volume
    scale = np.asarray(level.voxel_size_um)
    # a world position away from zero, so scale AND translate both matter
    translate = np.asarray(level.origin_um) + np.array([12.0, -7.5, 30.25])
    stats = _constructed_stats(labels)
    got = []
    zv = zoom_viewer
    zv.add_labels(labels, name="grains", voxel_size_um=scale, translate_um=translate, stats=stats)
    zv.on_pick(lambda layer, label: got.append((layer, label)))
    zv.viewer.reset_view()
    zv.viewer.camera.angles = (10.0, -30.0, 60.0)  # oblique: a genuinely 3D ray
    view = np.asarray(zv.viewer.camera.view_direction)

    # grains whose centroid is visible from the camera, robustly (the rays 0.2 µm around
    # it hit the same grain), biggest first
    ids = np.unique(labels[labels > 0])
    centroids = np.asarray(ndimage.center_of_mass(labels > 0, labels, ids)) * scale + translate
    sizes = ndimage.sum(labels > 0, labels, ids)
    u = np.cross(view, [0.3, 0.5, 0.8])
    u /= np.linalg.norm(u)
    w = np.cross(view, u)
    targets = []
    for gid, c in sorted(zip(ids, centroids), key=lambda t: -sizes[np.searchsorted(ids, t[0])]):
        around = [c + a * u + b * w for a in (-0.2, 0, 0.2) for b in (-0.2, 0, 0.2)]
        if all(_first_label_along(labels, scale, translate, p, view) == gid for p in around):
            targets.append((int(gid), c))
        if len(targets) == 3:
            break
    assert len(targets) == 3, "the twin particle should show several large grains to the camera"

    for gid, centre in targets:
        zv.viewer.camera.center = tuple(centre)
        _click_centre(zv)
        assert got[-1] == ("grains", gid)
    assert [g for _, g in got] == [g for g, _ in targets]
    # the dock shows the picked grain's own histogram, mean and FWHM
    last = targets[-1][0]
    dock = zv.histogram_dock
    np.testing.assert_array_equal(dock.summary.counts, stats.histogram(last)[0])
    assert dock.summary.mean == stats.table.loc[last, "edge_energy_ev_mean"]
    assert f"grain {last}" in dock.title.text()
    assert zv.viewer.layers["grains"].selected_label == last

    # a real render: the canvas is not blank, and the whole window (dock included) is saved
    image = zv.screenshot(artifact_dir / "napari_grain_pick.png")
    assert image.shape[0] > 200 and image.shape[1] > 200
    rgb = image[..., :3].astype(float)
    assert (rgb.sum(-1) > 30).mean() > 0.10, "the particle should cover >10 % of the canvas"
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 100, "grains should render in many colours"
    zv.screenshot(artifact_dir / "napari_grain_pick_window.png", canvas_only=False)


def test_dragging_rotates_and_does_not_pick(zoom_viewer, grain_volume):
    from qtpy.QtCore import QEvent, QPoint, QPointF, Qt
    from qtpy.QtGui import QMouseEvent
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    level, labels = grain_volume
    zv = zoom_viewer
    zv.add_labels(labels, name="grains", voxel_size_um=level.voxel_size_um)
    zv.viewer.reset_view()
    angles = zv.viewer.camera.angles
    canvas = zv.viewer.window._qt_viewer.canvas.native
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    QApplication.processEvents()
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, centre)
    for dx in range(5, 60, 5):
        # QTest.mouseMove carries no button state in Qt 5: send a drag move by hand
        move = QMouseEvent(QEvent.MouseMove, QPointF(centre + QPoint(dx, dx // 2)), Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(canvas, move)
        QApplication.processEvents()
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, centre + QPoint(60, 30))
    QApplication.processEvents()
    assert zv.picks == []
    assert zv.viewer.camera.angles != angles


def test_select_unknown_layer_or_label_says_what_is_wrong(zoom_viewer, grain_volume):
    from batteryzoom.errors import InputError

    level, labels = grain_volume
    zv = zoom_viewer
    zv.add_labels(labels, name="grains", voxel_size_um=level.voxel_size_um, stats=_constructed_stats(labels))
    with pytest.raises(InputError, match="'cells' is not a pickable labels layer"):
        zv.select("cells", 3)
    with pytest.raises(InputError, match="label 999999 is not in the statistics table"):
        zv.select("grains", 999999)
    with pytest.raises(InputError, match="voxel_size_um"):
        zv.add_labels(labels, name="no scale")
