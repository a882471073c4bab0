# Public names of batteryzoom.io.spectra, loaded lazily (lazy_loader.attach_stub).
from .reader import ENERGY_RANGE_EV, KEV_THRESHOLD, SpectrumWarning, read_spectrum, spectrum_groups

__all__ = ["read_spectrum", "spectrum_groups", "KEV_THRESHOLD", "ENERGY_RANGE_EV", "SpectrumWarning"]
