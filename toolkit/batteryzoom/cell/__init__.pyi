# The public names of bz.cell, loaded lazily by lazy_loader.attach_stub (see __init__.py).
__all__ = [
    "Can",
    "Layers",
    "CellSlice",
    "CellVolume",
    "CellFindings",
    "find_can",
    "unroll",
    "track_layers",
    "find_defects",
    "analyze_slice",
    "analyze_volume",
    "link_defects",
    "score_defects",
    "cell_pipeline",
    "line_image",
    "DEFECT_COLUMNS",
]

from .analysis import CellSlice, analyze_slice
from .can import Can, find_can
from .defects import DEFECT_COLUMNS, find_defects, score_defects
from .layers import Layers, track_layers
from .lines import line_image
from .pipeline import CellFindings, cell_pipeline
from .unrolling import unroll
from .volume import CellVolume, analyze_volume, link_defects
