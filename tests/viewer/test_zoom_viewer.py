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
from pathlib import Path

import numpy as np
import pytest
from conftest import made_up_grain_stats


PROJECT_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def grain_volume(twin_particle_grains):
    return twin_particle_grains


@pytest.fixture(scope="module")
def _shared_viewer(xvfb_display):
    from batteryzoom.viewer import ZoomViewer

    zv = ZoomViewer(show=True, ndisplay=3)
    zv.viewer.window._qt_window.resize(1100, 800)
    yield zv
    zv.close()


@pytest.fixture
def zoom_viewer(_shared_viewer):
    """One napari window for the small tests (a window costs seconds), emptied for each."""
    _shared_viewer.clear()
    _shared_viewer.viewer.dims.ndisplay = 3
    yield _shared_viewer
    _shared_viewer.clear()


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


def _magenta_pixels(image) -> int:
    """Pixels of the highlight colour (#FF00FF, shaded): viridis has none of it."""
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return int(((r > 150) & (b > 150) & (g < 0.35 * np.minimum(r, b))).sum())


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
        "bad = [m for m in ('napari', 'qtpy', 'PyQt5', 'PyQt6', 'vispy') if m in sys.modules]; "
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "toolkit")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.fixture(scope="module")
def twin_zoom():
    """The twin's hierarchy with its data: cell CT, electrode CT, nano-CT, XANES grains."""
    import batteryzoom as bz

    h = bz.zoom.Hierarchy.from_twin("small")
    data = {name: bz.data.load(name) for name in ("twin/cell-ct", "twin/electrode-ct", "twin/particle-nanoct")}
    # the cell's 35 M voxels every 2nd in y and x: a quarter of the rendering, same frame
    data["twin/cell-ct"] = data["twin/cell-ct"][:, ::2, ::2]
    truth = bz.data.load("twin/particle-xanes", part="truth")
    labels = truth["grain_labels"]
    stats = bz.regions.region_stats(truth["edge_energy_ev"], labels, name="edge_energy_ev")
    return h, data, labels, stats


def _grains_facing(labels, scale, translate, view, n=3):
    """Large grains whose centroid the camera sees, robustly (rays 0.2 µm around it hit the
    same grain), biggest first: ``[(label, centroid_world_um), ...]``."""
    from scipy import ndimage

    ids = np.unique(labels[labels > 0])
    centroids = np.asarray(ndimage.center_of_mass(labels > 0, labels, ids)) * scale + translate
    sizes = ndimage.sum(labels > 0, labels, ids)
    u = np.cross(view, [0.3, 0.5, 0.8])
    u /= np.linalg.norm(u)
    w = np.cross(view, u)
    targets = []
    for k in np.argsort(-sizes):
        gid, c = int(ids[k]), centroids[k]
        around = [c + a * u + b * w for a in (-0.2, 0, 0.2) for b in (-0.2, 0, 0.2)]
        if all(_first_label_along(labels, scale, translate, p, view) == gid for p in around):
            targets.append((gid, c))
        if len(targets) == n:
            break
    return targets


def test_all_levels_in_one_world_frame_and_a_click_picks_a_grain(xvfb_display, twin_zoom, artifact_dir):
    import qtpy
    from PIL import Image

    import batteryzoom as bz

    # the napari extra is PyQt6 (napari deprecates PyQt5): no deprecation toast on screen
    assert qtpy.QT6, f"napari runs on {qtpy.API_NAME}; install 'batteryzoom[napari]' (PyQt6)"
    h, data, grain_labels, stats = twin_zoom
    got = []
    zv = bz.viewer.show(h, data, labels={"twin/particle-xanes": grain_labels},
                        stats={"twin/particle-xanes": stats}, on_pick=lambda layer, label: got.append((layer, label)))
    try:
        zv.viewer.window._qt_window.resize(1200, 800)
        # every level sits where the hierarchy puts it, in µm, in one world frame
        for name in h.names:
            lo, hi = h.world_box(name)
            box = zv.viewer.layers[f"{name} box"]
            np.testing.assert_allclose(np.asarray(box.extent.world), [lo, hi], atol=1e-6)
            layer = zv.viewer.layers[name if name in data else f"{name} labels"]
            voxel = np.asarray(h[name].voxel_size_um)
            step = np.asarray(h[name].shape) / np.asarray(layer.data.shape)  # 2 in y, x for the cell
            last_centre = hi - voxel / 2 - (step - 1) * voxel  # the subsample stops one voxel early
            np.testing.assert_allclose(np.asarray(layer.extent.world), [lo + voxel / 2, last_centre], atol=1e-6)
            np.testing.assert_allclose(layer.scale, voxel * step)
        assert set(zv.level_layers) == set(h.names)

        # µm everywhere: every layer's units, the axes, the scale bar, the status bar
        for layer in zv.viewer.layers:
            assert [str(u) for u in layer.units] == ["micrometer"] * 3, layer.name
        assert tuple(zv.viewer.dims.axis_labels) == ("z (µm)", "y (µm)", "x (µm)")
        assert zv.viewer.canvas.overlays.scale_bar.visible and zv.viewer.canvas.overlays.axes.visible
        zv.viewer.mouse_over_canvas = True
        zv.viewer.cursor.position = (32800.0, -4.0, 5018.0)
        zv.viewer.update_status_from_cursor()
        assert zv.viewer.status["coordinates"].startswith("z 32800.00, y -4.00, x 5018.00 µm")
        zv.viewer.mouse_over_canvas = False
        # the first thing a user sees controls a data layer, not a box's shape-editing tools
        assert type(zv.viewer.layers.selection.active).__name__ == "Image"

        # zooming in is a physical zoom: one screenshot per level, stitched for the README
        shots = []
        for name in h.names:
            zv.focus_level(name)
            if name == "twin/particle-xanes":
                zv.camera.angles = (10.0, -30.0, 60.0)  # an oblique 3D view of the grains
            shots.append(zv.screenshot(canvas_only=True))
        # the level's own data layer is the active one, not a hidden level's
        assert zv.viewer.layers.selection.active.name == "twin/particle-xanes labels"
        for shot in shots:
            rgb = shot[..., :3].astype(float)
            assert rgb.std() > 10, "every level renders something"
        tiles = [Image.fromarray(s[..., :3]).resize((480, int(480 * s.shape[0] / s.shape[1]))) for s in shots]
        montage = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)), "black")
        x = 0
        for t in tiles:
            montage.paste(t, (x, 0))
            x += t.width
        montage.save(artifact_dir / "napari_zoom_levels.png")

        # Home (the button) after focus_level frames the level shown, not the hidden cell
        # 30 mm wide around it (a black canvas)
        from qtpy.QtWidgets import QApplication

        zv.viewer.window._qt_viewer.viewerButtons.resetViewButton.click()
        QApplication.processEvents()
        lo, hi = h.world_box("twin/particle-xanes")
        np.testing.assert_allclose(zv.camera.center, (lo + hi) / 2, atol=0.05 * float(np.max(hi - lo)))
        assert zv.screenshot()[..., :3].astype(float).std() > 10, "Home shows the particle"
        zv.focus_level("twin/particle-xanes")
        zv.camera.angles = (10.0, -30.0, 60.0)
        unpicked = _magenta_pixels(zv.screenshot())  # the axes overlay draws y in magenta

        # a real click on a grain, in the world frame (translate ~ 33 mm): the callback and
        # the dock get that grain, and the dock shows bz.regions' histogram of it
        labels = np.asarray(grain_labels)
        scale, translate = (np.asarray(v) for v in h.napari_transform("twin/particle-xanes").values())
        view = np.asarray(zv.camera.view_direction)
        targets = _grains_facing(labels, scale, translate, view)
        assert len(targets) == 3, "the twin particle should show several large grains to the camera"
        for gid, centre in targets:
            zv.camera.center = tuple(centre)
            _click_centre(zv)
            assert got[-1] == ("twin/particle-xanes labels", gid)
        assert [g for _, g in got] == [g for g, _ in targets]
        last = targets[-1][0]
        dock = zv.histogram_dock
        np.testing.assert_array_equal(dock.summary.counts, stats.histogram(last)[0])
        assert dock.summary.mean == stats.table.loc[last, "edge_energy_ev_mean"]
        assert dock.title.text().startswith(f"grain {last}: mean edge energy ")
        assert " eV, FWHM " in dock.title.text() and dock.canvas.x_title == "edge energy (eV)"
        assert dock.canvas.painted_label == last  # drawn, not only set
        image = zv.screenshot(artifact_dir / "napari_grain_pick.png")
        # the picked grain is drawn in magenta in 3D, and only the last one picked
        assert zv.highlighted == ("twin/particle-xanes labels", last)
        assert _magenta_pixels(image) > unpicked + 100
        colormap = zv.viewer.layers["twin/particle-xanes labels"].colormap
        assert colormap.map(last).ravel()[:3].tolist() == [1.0, 0.0, 1.0]
        assert colormap.map(targets[0][0]).ravel()[:3].tolist() != [1.0, 0.0, 1.0]
        assert (image[..., :3].sum(-1) > 30).mean() > 0.10, "the particle should cover >10 % of the canvas"
        zv.screenshot(artifact_dir / "napari_grain_pick_window.png", canvas_only=False)
    finally:
        zv.close()


def test_dragging_rotates_and_does_not_pick(zoom_viewer, grain_volume):
    from qtpy.QtCore import QEvent, QPoint, QPointF, Qt
    from qtpy.QtGui import QMouseEvent
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    level, labels = grain_volume
    zv = zoom_viewer
    zv.add_labels(labels, name="grains", voxel_size_um=level.voxel_size_um)
    zv.viewer.reset_view()
    angles = zv.camera.angles
    canvas = zv.viewer.window._qt_viewer.canvas.native
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    QApplication.processEvents()
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, centre)
    for dx in (15, 30, 45, 60):
        # QTest.mouseMove carries no button state: send a drag move by hand
        move = QMouseEvent(QEvent.MouseMove, QPointF(centre + QPoint(dx, dx // 2)), Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(canvas, move)
        QApplication.processEvents()
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, centre + QPoint(60, 30))
    QApplication.processEvents()
    assert zv.picks == []
    assert zv.camera.angles != angles


def test_select_unknown_layer_or_label_says_what_is_wrong(zoom_viewer, grain_volume):
    from batteryzoom.errors import InputError

    level, labels = grain_volume
    zv = zoom_viewer
    zv.add_labels(labels, name="grains", voxel_size_um=level.voxel_size_um, stats=made_up_grain_stats(labels))
    with pytest.raises(InputError, match="'cells' is not a pickable labels layer"):
        zv.select("cells", 3)
    with pytest.raises(InputError, match="label 999999 is not in the statistics table"):
        zv.select("grains", 999999)
    with pytest.raises(InputError, match="voxel_size_um"):
        zv.add_labels(labels, name="no scale")


def test_level_data_must_be_the_level_or_a_strided_subsample_of_it():
    from types import SimpleNamespace

    import batteryzoom as bz
    from batteryzoom.errors import InputError
    from batteryzoom.viewer.zoom_viewer import _stride

    cell = bz.zoom.Hierarchy.from_twin("small")["twin/cell-ct"]  # 64 × 736 × 736
    assert _stride(SimpleNamespace(shape=(64, 736, 736)), cell, "cell").tolist() == [1, 1, 1]
    assert _stride(SimpleNamespace(shape=(64, 368, 368)), cell, "cell").tolist() == [1, 2, 2]
    assert _stride(SimpleNamespace(shape=(22, 246, 246)), cell, "cell").tolist() == [3, 3, 3]
    with pytest.raises(InputError, match="strided subsample"):
        _stride(SimpleNamespace(shape=(64, 300, 368)), cell, "cell")
