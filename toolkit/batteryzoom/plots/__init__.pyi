# Submodules of batteryzoom.plots, one per scale, loaded lazily (lazy_loader.attach_stub).
__all__ = ["style", "cycling", "cell", "electrode", "particle", "xanes", "grains", "zoom", "twin"]

from . import cell, cycling, electrode, grains, particle, style, twin, xanes, zoom
