"""Qt widgets of the napari viewer (imported only when :mod:`.zoom_viewer` shows a dock,
never at ``import batteryzoom``): a histogram dock drawn with QPainter, so the viewer needs
no plotting library beyond Qt itself. What it says and which bins it draws is decided in
:mod:`.readout` (Qt-free, tested without a window)."""

from __future__ import annotations

import time

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QFont, QPainter, QPen
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..regions import RegionSummary
from ..plots.style import COLORWAY
from .readout import axis_title, shown_bins, summary_title, ticks


class _HistogramCanvas(QWidget):
    """Bars of one region's distribution, with its mean (solid) and FWHM (dashed span)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(280, 190)
        self.summary: RegionSummary | None = None
        self.x_title = ""
        # when the last picked region was drawn (time.perf_counter) and which: the benchmark's
        # click -> dock time ends here
        self.painted_at: float | None = None
        self.painted_label: int | None = None

    def paintEvent(self, event):  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        s = self.summary
        if s is None:
            painter.setPen(QColor("#666"))
            painter.drawText(self.rect(), Qt.AlignCenter, "click a grain in 3D")
            painter.end()
            return
        left, right, top, bottom = 40.0, 14.0, 10.0, 40.0
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        first, stop = shown_bins(s.counts)
        edges = s.bin_edges[first:stop + 1]
        density = s.density[first:stop]
        x0, x1 = float(edges[0]), float(edges[-1])
        ymax = float(density.max()) if density.size and density.max() > 0 else 1.0

        def px(x: float) -> float:
            return plot.left() + (x - x0) / (x1 - x0) * plot.width()

        def py(y: float) -> float:
            return plot.bottom() - y / ymax * plot.height() * 0.95

        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(COLORWAY[0]))
        for lo, hi, d in zip(edges[:-1], edges[1:], density):
            if d > 0:
                painter.drawRect(QRectF(QPointF(px(lo), py(d)), QPointF(px(hi), plot.bottom())))
        if np.isfinite(s.mean):
            painter.setPen(QPen(QColor(COLORWAY[1]), 2))
            painter.drawLine(QPointF(px(s.mean), plot.top()), QPointF(px(s.mean), plot.bottom()))
            if np.isfinite(s.fwhm):
                painter.setPen(QPen(QColor(COLORWAY[1]), 1, Qt.DashLine))
                for x in (s.mean - s.fwhm / 2, s.mean + s.fwhm / 2):
                    painter.drawLine(QPointF(px(x), plot.top()), QPointF(px(x), plot.bottom()))
        painter.setPen(QColor("#222"))
        painter.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        font = QFont()
        font.setPointSize(8)
        painter.setFont(font)
        values, decimals = ticks(x0, x1)
        metrics = painter.fontMetrics()
        for x in values:
            text = f"{x:.{decimals}f}"
            painter.drawLine(QPointF(px(x), plot.bottom()), QPointF(px(x), plot.bottom() + 3))
            painter.drawText(QPointF(px(x) - metrics.horizontalAdvance(text) / 2, plot.bottom() + 15), text)
        title_width = metrics.horizontalAdvance(self.x_title)
        painter.drawText(QPointF(plot.center().x() - title_width / 2, self.height() - 5), self.x_title)
        painter.end()
        self.painted_at = time.perf_counter()
        self.painted_label = s.label


class HistogramDock(QWidget):
    """Dock widget: the picked region's distribution, mean and FWHM (units from the map's
    name, ``edge_energy_ev`` -> eV)."""

    def __init__(self, name: str = "value", parent=None):
        super().__init__(parent)
        self.setObjectName("batteryzoom-histogram")
        self.value_name = name
        self.title = QLabel("no grain selected")
        self.title.setWordWrap(True)
        self.canvas = _HistogramCanvas(self)
        self.canvas.x_title = axis_title(name)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas)
        self.summary: RegionSummary | None = None

    def show_summary(self, summary: RegionSummary | None, label: int | None = None) -> None:
        """Draw ``summary`` (or only the picked label, when no statistics were given) now:
        ``repaint`` paints before returning, ahead of the seconds-long 3D frame that a
        pick also asks for."""
        self.summary = summary
        self.canvas.summary = summary
        self.title.setText(summary_title(summary, self.value_name, label))
        self.title.repaint()
        self.canvas.repaint()

