"""Raw tomography acquisitions, one reader per format, all returning the acquisition model.

:func:`read_acquisition` tells the format by content and reads any of them into the one
Dataset of :mod:`batteryzoom.io.acquisition` (projections, flats, darks, angles in
degrees, pixel size, energy, provenance):

- APS Data Exchange HDF5: :func:`read_dxchange` (``dxchange``)
- Zeiss/Xradia ``.txrm`` and ``.xrm``: :func:`read_xradia` (``xradia``)
- TIFF projection series with an angles file: :func:`read_tiff_series` (``tiff_series``)
- NeXus with ``image_key`` and external links: :func:`read_nexus` (``nexus``)
- NSLS-II FXI HDF5: :func:`read_fxi` (``fxi``)
- MATLAB sinograms: :func:`read_matlab_sinogram` (``matlab``)
- one acquisition per energy: :func:`read_multi_energy` (``multi_energy``)

Submodules load on first use (``lazy_loader``; the names are listed in ``__init__.pyi``).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
