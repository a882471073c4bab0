# Subpackages of batteryzoom, loaded lazily (lazy_loader.attach_stub reads this file).
__all__ = [
    "errors", "frames", "data", "io", "cycling", "cell", "segment", "xanes", "regions", "zoom", "tomo",
    "plots", "widgets", "viewer", "report", "cli", "__version__",
]

from . import (
    cell,
    cli,
    cycling,
    data,
    errors,
    frames,
    io,
    plots,
    regions,
    report,
    segment,
    tomo,
    viewer,
    widgets,
    xanes,
    zoom,
)

__version__: str
