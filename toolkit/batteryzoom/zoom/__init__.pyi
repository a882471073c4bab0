__all__ = ["Level", "Hierarchy", "BoxOutsideParentWarning", "WORLD", "write_zoom_zarr", "check_zoom_target", "twin_zoom"]

from .hierarchy import Hierarchy
from .levels import WORLD, BoxOutsideParentWarning, Level
from .omezarr import check_zoom_target, twin_zoom, write_zoom_zarr
