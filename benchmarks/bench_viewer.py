"""bz.viewer: a grain click in napari until the dock shows that grain (issue 26: ≤ 0.5 s).

The whole path a user's click takes, on the twin's zoom as ``bz.viewer.show`` opens it
(cell, electrode, particle, 2,032 XANES grains) focused on the particle: a Qt mouse click
on the canvas -> napari's mouse callbacks -> the ray through the grain labels -> the
precomputed per-grain statistics -> the dock drawn. The clock stops when the dock's
histogram of the picked grain has been painted. A second row times the click until the
3D frame with the grain highlighted has been drawn too (software OpenGL under Xvfb on a
shared machine: seconds, and not what the budget is about).

Needs napari (the ``napari`` extra) and a display: Xvfb is started when DISPLAY is unset.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time

import numpy as np
from harness import Measurement, case


def _die_with_parent() -> None:
    """Xvfb ends with this process: stopping it while Qt still holds the display would
    crash Qt at exit."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _display() -> subprocess.Popen | None:
    """Start Xvfb when there is no display (as tests/conftest.py does); None otherwise."""
    if os.environ.get("DISPLAY"):
        return None
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        raise RuntimeError("the viewer benchmark needs a display: install xvfb (`make setup`)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    if not number:
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    os.environ["DISPLAY"] = f":{number}"
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    return proc


def _twin_viewer():
    import batteryzoom as bz

    h = bz.zoom.Hierarchy.from_twin("small")
    data = {name: bz.data.load(name) for name in ("twin/cell-ct", "twin/electrode-ct", "twin/particle-nanoct")}
    data["twin/cell-ct"] = data["twin/cell-ct"][:, ::2, ::2]
    truth = bz.data.load("twin/particle-xanes", part="truth")
    labels = truth["grain_labels"]
    stats = bz.regions.region_stats(truth["edge_energy_ev"], labels, name="edge_energy_ev")
    zv = bz.viewer.show(h, data, labels={"twin/particle-xanes": labels}, stats={"twin/particle-xanes": stats})
    zv.viewer.window._qt_window.resize(1200, 800)
    zv.focus_level("twin/particle-xanes")
    scale, translate = (np.asarray(v) for v in h.napari_transform("twin/particle-xanes").values())
    return zv, np.asarray(labels), scale, translate


def _grain_centres_um(labels: np.ndarray, scale: np.ndarray, translate: np.ndarray, n: int) -> list[np.ndarray]:
    """World centroids (µm) of the ``n`` largest grains: where the clicks aim."""
    from scipy import ndimage

    ids, sizes = np.unique(labels[labels > 0], return_counts=True)
    biggest = ids[np.argsort(-sizes)[:n]]
    return [np.asarray(c) * scale + translate for c in ndimage.center_of_mass(labels > 0, labels, biggest)]


@case("viewer")
def grain_click_to_dock():
    from qtpy.QtCore import QPoint, Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    _display()  # a new Xvfb (when needed) lives as long as this benchmark's process
    zv, labels, scale, translate = _twin_viewer()
    canvas = zv.viewer.window._qt_viewer.canvas.native
    dock = zv.histogram_dock.canvas
    to_dock, to_frame = [], []
    for centre in _grain_centres_um(labels, scale, translate, 12):
        zv.camera.center = tuple(centre)
        QApplication.processEvents()  # the frame of the moved camera: not part of a click
        before = len(zv.picks)
        t0 = time.perf_counter()
        QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(canvas.width() // 2, canvas.height() // 2))
        QApplication.processEvents()
        t_frame = time.perf_counter()
        if len(zv.picks) == before:
            continue  # the ray met no grain (a centroid seen through a gap): no pick to time
        assert dock.painted_label == zv.picks[-1][1], "the dock shows the grain that was picked"
        to_dock.append(dock.painted_at - t0)
        to_frame.append(t_frame - t0)
    zv.close()
    if len(to_dock) < 5:
        raise RuntimeError(f"only {len(to_dock)} of 12 clicks picked a grain")
    return [
        Measurement(f"napari grain click -> dock drawn ({len(to_dock)} clicks)", statistics.median(to_dock), 0.5,
                    goal=1.0, note="baseline = issue 26's 0.5 s budget, not a measurement"),
        Measurement("napari grain click -> 3D frame with the highlight drawn", statistics.median(to_frame),
                    note="software OpenGL (Xvfb): shared-CPU rendering, no goal"),
    ]
