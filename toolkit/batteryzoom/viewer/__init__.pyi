# Public names of batteryzoom.viewer, loaded lazily (lazy_loader.attach_stub reads this file).
__all__ = ["ZoomViewer", "show", "pick_label", "volume_scale_um"]

from .zoom_viewer import ZoomViewer, pick_label, show, volume_scale_um
