"""Readers, by family. Every reader returns the design's objects (DataFrame / xarray) and
raises :class:`~batteryzoom.errors.FileFormatError` naming the file, the problem and the fix.

- cycler files -> one BDF table: :func:`read_cycler` (``io.cycler``: one module per make
  around a reader registry, with the sniffing and the shared finalisation)
- TXM frames and XANES stacks: :func:`read_xrm`, :func:`read_txm_scan`,
  :func:`read_xanes_hdf5`, :func:`read_xanes_tiff`, :func:`read_xanes_zarr` (``io.txm``)
- spectra: :func:`read_spectrum` (``io.spectra``)
- volumes (TIFF stack/sequence, HDF5, zarr, npz, raw): :func:`read_volume` (``io.volumes``)
- raw tomography acquisitions (projections, flats, darks, angles): :func:`read_acquisition`
  (``io.tomo``, one module per format; the model in ``io.acquisition``)

Submodules load on first use (``lazy_loader``, names in ``__init__.pyi``), so
``import batteryzoom`` stays light.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
