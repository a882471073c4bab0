# Public names of batteryzoom.viewer, loaded lazily (lazy_loader.attach_stub reads this file).
__all__ = ["ZoomViewer", "show", "pick_label", "volume_scale_um"]

from .layers import volume_scale_um
from .picking import pick_label
from .zoom_viewer import ZoomViewer, show
