"""Static figures: every figure of the report as PNG / SVG through kaleido and the system chromium."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._interrupt import checkpoint
from .results import ReportFigure

__all__ = ["find_chromium", "export_figures", "check_options", "print_size", "FORMATS"]

#: the static formats kaleido writes for the report
FORMATS = ("png", "svg", "pdf")
# CSS pixels per inch: a figure laid out this many pixels per inch shows its fonts at their size in points
_CSS_PX_PER_INCH = 96.0


def find_chromium() -> str | None:
    """Path of the system chromium (``BROWSER_PATH`` if set, else ``chromium`` or
    ``chromium-browser`` on ``PATH``), or None. Never downloads a browser."""
    env = os.environ.get("BROWSER_PATH")
    if env and os.access(env, os.X_OK):
        return env
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


_NO_CHROMIUM = ("static figures (PNG/SVG) not written: chromium was not found. Install it with "
                "`sudo apt-get install chromium` (or run `make setup`), then run the report again; "
                "index.html holds every figure")


def export_figures(
    figures: dict[str, ReportFigure],
    folder: str | os.PathLike,
    *,
    formats: tuple[str, ...] = ("png", "svg"),
    chromium: str | None = None,
    width_mm: float | None = None,
    dpi: float | None = None,
    titles: bool = True,
) -> tuple[dict[str, list[Path]], str]:
    """Write every figure as ``folder/<name>.<format>`` through kaleido and the system chromium.

    All figures go through one browser session (``plotly.io.write_images``). Files are
    written to a temporary folder beside ``folder`` and moved into place one by one
    (atomic renames), so an interrupted export leaves no partial image.

    Parameters
    ----------
    figures : dict of str -> ReportFigure
    folder : path-like
    formats : tuple of {"png", "svg", "pdf"}
    chromium : str, optional
        The browser (default :func:`find_chromium`).
    width_mm, dpi : float, optional
        Print size: each figure laid out ``width_mm`` wide (fonts at their size in points,
        at 96 CSS px per inch) and rasterised at ``dpi`` (PNG ``width_mm / 25.4 * dpi``
        pixels wide, its height by the figure's aspect). A journal's single column is
        85 mm, a double 175 mm, at 300-600 dpi. Default: the figure's own size in pixels
        (900 × 560), at 96 dpi; ``dpi`` alone keeps that size in inches. 3D panels are
        raster inside SVG and PDF too, at the same resolution.
    titles : bool
        Keep each figure's title (a paper's caption usually replaces it).

    Returns
    -------
    written : dict of str -> list of Path
        Per figure, its files (empty when chromium is missing).
    message : str
        What happened, in words.
    """
    formats = check_options(formats, width_mm, dpi)
    chromium = chromium or find_chromium()
    if chromium is None:
        return {}, _NO_CHROMIUM
    import plotly.io as pio

    from ..data.store import temporary_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # named by its owner (pid, start time), so the next run can remove it after a SIGKILL
    tmp = temporary_path(folder)
    tmp.mkdir()
    old = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = chromium  # kaleido (choreographer) drives exactly this browser
    try:
        figs, files, widths, heights, scales = [], [], [], [], []
        for f in figures.values():
            fig = f.figure if titles else _untitled(f.figure)
            width, height, scale = print_size(f.width, f.height, width_mm, dpi)
            for fmt in formats:
                figs.append(fig)
                files.append(tmp / f"{f.name}.{fmt}")
                widths.append(width)
                heights.append(height)
                scales.append(scale)
        t = time.perf_counter()
        pio.write_images(figs, files, width=widths, height=heights, scale=scales, validate=False)
        seconds = time.perf_counter() - t
        written: dict[str, list[Path]] = {}
        for f in figures.values():
            for fmt in formats:
                target = folder / f"{f.name}.{fmt}"
                os.replace(tmp / f"{f.name}.{fmt}", target)
                readable(target)
                checkpoint()
                written.setdefault(f.name, []).append(target)
    finally:
        if old is None:
            os.environ.pop("BROWSER_PATH", None)
        else:
            os.environ["BROWSER_PATH"] = old
        shutil.rmtree(tmp, ignore_errors=True)
    return written, f"{len(files)} static figures written with {chromium} in {seconds:.1f} s"


def check_options(formats: Any, width_mm: Any = None, dpi: Any = None) -> tuple[str, ...]:
    """The formats as a tuple, after checking the export options (before any work).

    Raises
    ------
    InputError
        An unknown format, or a width or resolution that is not a number > 0.
    """
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    if not formats or any(f not in FORMATS for f in formats):
        raise InputError(f"formats={formats!r}: choose from {list(FORMATS)}")
    for name, value in (("width_mm", width_mm), ("dpi", dpi)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e5
        if value is not None and not ok:
            raise InputError(f"{name}={value!r}: give a number > 0 (e.g. width_mm=85, dpi=600)")
    return formats


def print_size(width_px: int, height_px: int, width_mm: float | None, dpi: float | None) -> tuple[int, int, float]:
    """``(width, height, scale)`` for plotly: the layout size in CSS pixels (96 per inch)
    and the scale that gives ``width_mm`` at ``dpi`` (see :func:`export_figures`)."""
    if width_mm is None and dpi is None:
        return width_px, height_px, 1.0
    dpi = 300.0 if dpi is None else float(dpi)
    width_mm = width_px / _CSS_PX_PER_INCH * 25.4 if width_mm is None else float(width_mm)
    width = max(1, round(width_mm / 25.4 * _CSS_PX_PER_INCH))
    height = max(1, round(width * height_px / width_px))
    target = max(1, round(width_mm / 25.4 * dpi))
    return width, height, target / width


def _untitled(fig):
    import plotly.graph_objects as go

    return go.Figure(fig).update_layout(title_text="")


def readable(path: Path) -> None:
    """Give a file written through a private temporary file the usual ``0666 & ~umask`` mode."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)

