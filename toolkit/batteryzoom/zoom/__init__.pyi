__all__ = ["Level", "Hierarchy", "BoxOutsideParentWarning", "WORLD"]

from .hierarchy import Hierarchy
from .levels import WORLD, BoxOutsideParentWarning, Level
