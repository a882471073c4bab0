"""Absorption spectra: XDI, Athena projects, SPEC/MRCAT scans and text columns, one reader.

- :func:`read_spectrum` (``reader``): one spectrum as a 1-D DataArray over ``energy`` (eV)
- :func:`spectrum_groups`: the groups of an Athena project
- ``tables``: text tables (XDI, SPEC, MRCAT, plain); ``athena``: Athena's Perl projects

Submodules load on first use (``lazy_loader``, names in ``__init__.pyi``).

>>> import batteryzoom as bz
>>> nio = bz.io.read_spectrum(bz.data.fetch("real/xanes/ref-nio")[0])  # two columns, energy in keV
>>> nio.energy.values[:2], nio.attrs["energy_unit_in_file"]
(array([8200., 8205.]), 'keV')
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
