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
]

from .run import (
    ReportFigure,
    ReportFiles,
    ScaleResult,
    ZoomReport,
    export_figures,
    find_chromium,
    main,
    run_zoom,
    write_report,
)
from .sources import DATASET_FILE, SCALES, FolderSource, Source, TwinSource
