# Public names of batteryzoom.regions, loaded lazily (lazy_loader.attach_stub reads this file).
__all__ = [
    "RegionStats",
    "region_stats",
    "sigma_clip",
    "truncated_normal_variance",
    "Heterogeneity",
    "heterogeneity",
    "radial_profile",
    "surface_distance_um",
    "peak_and_fwhm",
    "fwhm",
    "FWHM_PER_SIGMA",
    "RegionLookup",
    "RegionSummary",
]

from . import clipping, percentiles, profiles, selection, stats, widths
from .clipping import sigma_clip, truncated_normal_variance
from .heterogeneity import Heterogeneity, heterogeneity
from .profiles import radial_profile, surface_distance_um
from .selection import RegionLookup, RegionSummary
from .stats import RegionStats, region_stats
from .widths import FWHM_PER_SIGMA, fwhm, peak_and_fwhm
