"""Readers, by family. Every reader returns the design's objects (DataFrame / xarray) and
raises :class:`~batteryzoom.errors.FileFormatError` naming the file, the problem and the fix.

- cycler files -> one BDF table: :func:`read_cycler` (``io.cycler``)
- TXM frames and XANES stacks: :func:`read_xrm`, :func:`read_txm_scan`,
  :func:`read_xanes_hdf5`, :func:`read_xanes_tiff`, :func:`read_xanes_zarr` (``io.txm``)
- spectra: :func:`read_spectrum` (``io.spectra``)
- volumes (TIFF stack/sequence, HDF5, zarr, npz, raw): :func:`read_volume` (``io.volumes``)

Submodules load on first use, so ``import batteryzoom`` stays light.
"""

from __future__ import annotations

import importlib

# public name -> submodule that defines it
_EXPORTS = {
    "read_cycler": "cycler",
    "read_xrm": "txm",
    "read_txm_scan": "txm",
    "read_xanes_hdf5": "txm",
    "read_xanes_tiff": "txm",
    "read_xanes_zarr": "txm",
    "read_spectrum": "spectra",
    "read_volume": "volumes",
    "read_acquisition": "tomo",
}
_SUBMODULES = set(_EXPORTS.values())

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'batteryzoom.io' has no attribute {name!r}")


def __dir__():
    return __all__
