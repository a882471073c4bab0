"""Qt widgets of the napari viewer (imported only by :mod:`batteryzoom.viewer`, never at
``import batteryzoom``): a histogram dock drawn with QPainter, so the viewer needs no
plotting library beyond Qt itself."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QFont, QPainter, QPen
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from .regions import RegionSummary
from .plots.style import COLORWAY


class _HistogramCanvas(QWidget):
    """Bars of one region's distribution, with its mean (solid) and FWHM (dashed span)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(280, 180)
        self.summary: RegionSummary | None = None
        self.unit = ""

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
        left, right, top, bottom = 40.0, 10.0, 10.0, 34.0
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        density = s.density
        # show the grain's own range (its non-empty bins, padded), not the whole binning
        nz = np.flatnonzero(s.counts)
        lo_bin = max(int(nz[0]) - 2, 0) if nz.size else 0
        hi_bin = min(int(nz[-1]) + 3, len(density)) if nz.size else len(density)
        edges = s.bin_edges[lo_bin:hi_bin + 1]
        density = density[lo_bin:hi_bin]
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
                pen = QPen(QColor(COLORWAY[1]), 1, Qt.DashLine)
                painter.setPen(pen)
                for x in (s.mean - s.fwhm / 2, s.mean + s.fwhm / 2):
                    painter.drawLine(QPointF(px(x), plot.top()), QPointF(px(x), plot.bottom()))
        painter.setPen(QColor("#222"))
        painter.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        font = QFont()
        font.setPointSize(8)
        painter.setFont(font)
        for x in np.linspace(x0, x1, 4)[:-1]:
            painter.drawText(QPointF(px(x) - 4, plot.bottom() + 14), f"{x:.1f}")
        painter.drawText(QPointF(plot.left(), self.height() - 4), self.unit)
        painter.end()


class HistogramDock(QWidget):
    """Dock widget: the picked region's distribution, mean and FWHM."""

    def __init__(self, name: str = "value", parent=None):
        super().__init__(parent)
        self.setObjectName("batteryzoom-histogram")
        self.title = QLabel("no grain selected")
        self.title.setWordWrap(True)
        self.canvas = _HistogramCanvas(self)
        self.canvas.unit = name
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas)
        self.summary: RegionSummary | None = None

    def show_summary(self, summary: RegionSummary | None, label: int | None = None) -> None:
        """Draw ``summary`` (or only the picked label, when no statistics were given)."""
        self.summary = summary
        self.canvas.summary = summary
        if summary is not None:
            self.title.setText(
                f"grain {summary.label}: mean {summary.mean:.2f}, FWHM {summary.fwhm:.2f} "
                f"({self.canvas.unit}; {int(summary.counts.sum())} voxels)"
            )
        elif label is not None:
            self.title.setText(f"grain {label} (no statistics given)")
        else:
            self.title.setText("no grain selected")
        self.canvas.update()
