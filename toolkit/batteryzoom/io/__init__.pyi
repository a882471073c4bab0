# Public names of batteryzoom.io, loaded lazily (lazy_loader.attach_stub).
from . import acquisition, cycler, omezarr, spectra, tomo, txm, volumes
from .cycler import read_cycler
from .omezarr import read_ome_zarr, write_ome_zarr
from .spectra import read_spectrum, spectrum_groups
from .tomo import read_acquisition
from .txm import read_txm_scan, read_xanes_hdf5, read_xanes_tiff, read_xanes_zarr, read_xrm
from .volumes import read_volume

__all__ = [
    "read_acquisition",
    "read_cycler",
    "read_ome_zarr",
    "read_spectrum",
    "spectrum_groups",
    "read_txm_scan",
    "read_volume",
    "read_xanes_hdf5",
    "read_xanes_tiff",
    "read_xanes_zarr",
    "read_xrm",
    "write_ome_zarr",
]
