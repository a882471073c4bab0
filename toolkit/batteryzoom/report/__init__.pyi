# The public names of bz.report, loaded lazily by lazy_loader.attach_stub (see __init__.py).
__all__ = [
    "run_zoom",
    "write_report",
    "main",
    "ZoomReport",
    "ScaleResult",
    "ReportFigure",
    "ReportFiles",
    "find_chromium",
    "export_figures",
    "SCALES",
    "DATASET_FILE",
    "Source",
    "TwinSource",
    "FolderSource",
    "grain_scale",
    "GrainScale",
]

from .export import export_figures, find_chromium
from .grain import GrainScale, grain_scale
from .results import ReportFigure, ReportFiles, ScaleResult, ZoomReport
from .run import main, run_zoom
from .sources import DATASET_FILE, SCALES, FolderSource, Source, TwinSource
from .write import write_report
