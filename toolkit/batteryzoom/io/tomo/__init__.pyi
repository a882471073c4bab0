__all__ = [
    "read_acquisition",
    "detect_format",
    "FORMATS",
    "read_dxchange",
    "read_xradia",
    "read_tiff_series",
    "projection_lines",
    "read_nexus",
    "IMAGE_KEYS",
    "read_fxi",
    "FXI_TOMO_LAYOUT",
    "read_matlab_sinogram",
    "MAX_OPTICAL_DENSITY",
    "read_multi_energy",
]

from .dxchange import read_dxchange
from .fxi import FXI_TOMO_LAYOUT, read_fxi
from .matlab import MAX_OPTICAL_DENSITY, read_matlab_sinogram
from .multi_energy import read_multi_energy
from .nexus import IMAGE_KEYS, read_nexus
from .reader import FORMATS, detect_format, read_acquisition
from .tiff_series import projection_lines, read_tiff_series
from .xradia import read_xradia
