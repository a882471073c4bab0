# Submodules of batteryzoom.data.twin, loaded lazily (lazy_loader.attach_stub reads this file).
__all__ = ["frames", "grains", "cycling", "cell", "electrode", "particle", "xanes"]

from . import cell, cycling, electrode, frames, grains, particle, xanes
