"""bz.errors: the reader warnings have one public base class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import batteryzoom as bz
from batteryzoom.errors import AcquisitionWarning, ReaderWarning


def _io_modules():
    import batteryzoom.io as io

    for info in pkgutil.walk_packages(io.__path__, "batteryzoom.io."):
        yield importlib.import_module(info.name)


def test_every_warning_class_of_the_readers_is_a_public_reader_warning():
    found = {}
    for mod in _io_modules():
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, Warning) and obj.__module__.startswith("batteryzoom"):
                found[name] = obj
    assert {"CyclerDataWarning", "TimeRepairWarning", "SpectrumWarning", "AcquisitionWarning"} <= set(found)
    assert all(issubclass(cls, ReaderWarning) for cls in found.values()), \
        [n for n, c in found.items() if not issubclass(c, ReaderWarning)]
    assert bz.io.cycler.CyclerDataWarning is found["CyclerDataWarning"]
    assert bz.io.spectra.SpectrumWarning is found["SpectrumWarning"]
    assert found["AcquisitionWarning"] is AcquisitionWarning

