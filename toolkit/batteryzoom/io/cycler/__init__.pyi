# Public names of batteryzoom.io.cycler, loaded lazily (lazy_loader.attach_stub).
from . import (
    api,
    arbin,
    basytec,
    bdf,
    biologic,
    finalize,
    generic_csv,
    indigo,
    maccor,
    neware,
    novonix,
    pec,
    pyprobe,
    sniff,
)
from ._checks import LIMITS
from .api import FORMATS, read_cycler
from .finalize import BDF_COLUMNS, OPTIONAL_COLUMNS, STEP_TYPES, CyclerDataWarning, TimeRepairWarning
from .sniff import detect_format

__all__ = [
    "read_cycler",
    "detect_format",
    "FORMATS",
    "BDF_COLUMNS",
    "OPTIONAL_COLUMNS",
    "STEP_TYPES",
    "TimeRepairWarning",
    "CyclerDataWarning",
    "LIMITS",
]
