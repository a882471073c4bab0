# Public names of batteryzoom.widgets, loaded lazily (lazy_loader.attach_stub reads this file).
__all__ = ["CycleExplorer", "GrainExplorer", "SliceViewer", "ZoomNavigator"]

from .cycling import CycleExplorer
from .grains import GrainExplorer
from .slices import SliceViewer
from .zoom import ZoomNavigator
