"""The Qt widget of the plugin's Plugins > batteryzoom > Grain distributions (the npe2
manifest's ``python_name``; what it pairs and computes is decided Qt-free in
:mod:`.napari_widget`). Imported only by napari when the widget is opened."""

from __future__ import annotations

from qtpy.QtWidgets import QComboBox, QLabel, QPushButton, QVBoxLayout, QWidget

from ..errors import BatteryZoomError
from ._qt import HistogramDock
from .napari_widget import grain_stats, layer_pairs
from .readout import axis_title
from .zoom_viewer import ZoomViewer

__all__ = ["GrainWidget"]


class GrainWidget(QWidget):
    """The plugin's grain widget (:mod:`.napari_widget`): which labels and which map, a
    button that computes the per-grain statistics once, then the picked grain's histogram."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.setObjectName("batteryzoom-grains")
        # napari hands plugins a proxy of the public API; ZoomViewer, ours, changes this viewer's
        # Home (see ZoomViewer._home_fits_visible_layers) and needs the viewer itself
        self.napari_viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
        self.zoom = None  # the ZoomViewer that picks, made on the first computation
        self.pairs = QComboBox(self)
        self.button = QPushButton("Compute grain statistics", self)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.histogram = HistogramDock("value", self)
        layout = QVBoxLayout(self)
        for widget in (QLabel("grain labels · map on the same grid", self), self.pairs, self.button, self.status,
                       self.histogram):
            layout.addWidget(widget)
        self.button.clicked.connect(self.compute)
        self.napari_viewer.layers.events.inserted.connect(self.refresh)
        self.napari_viewer.layers.events.removed.connect(self.refresh)
        self.refresh()

    def refresh(self, event=None) -> None:
        """List the (labels, map) pairs on one grid (after a layer is added or removed)."""
        chosen = self.pairs.currentText()
        self.pairs.clear()
        for labels, image in layer_pairs(self.napari_viewer.layers):
            self.pairs.addItem(f"{labels}  ·  {image}", (labels, image))
        if chosen:
            self.pairs.setCurrentIndex(max(self.pairs.findText(chosen), 0))
        self.button.setEnabled(self.pairs.count() > 0)
        if not self.pairs.count():
            self.status.setText("open a zoom store (File > Open) with a grain labels layer and a map on its grid")

    def compute(self) -> None:
        """Statistics of the chosen map over the chosen labels; clicks then pick grains."""
        pair = self.pairs.currentData()
        if pair is None:
            return
        labels, image = pair
        layers = self.napari_viewer.layers
        try:
            stats = grain_stats(layers[labels], layers[image], progress=False)
        except BatteryZoomError as exc:
            self.status.setText(str(exc))
            return
        if self.zoom is None:
            self.zoom = ZoomViewer(viewer=self.napari_viewer, ndisplay=self.napari_viewer.dims.ndisplay, show=False)
            self.zoom.histogram_dock = self.histogram  # draw in this widget, not a second dock
        self.histogram.value_name = stats.name
        self.histogram.canvas.x_title = axis_title(stats.name)
        self.zoom.make_pickable(labels, stats)
        self.status.setText(f"{len(stats.table)} grains of {labels!r}: click one in 3D")
