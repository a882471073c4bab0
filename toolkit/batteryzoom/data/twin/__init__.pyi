# Submodules of batteryzoom.data.twin, loaded lazily (lazy_loader.attach_stub reads this file).
__all__ = ["frames", "grains", "cycling", "cell", "electrode", "particle", "xanes", "xanes_raw"]
__all__ += ["particle_raw"]

from . import cell, cycling, electrode, frames, grains, particle, xanes, xanes_raw
from . import particle_raw
