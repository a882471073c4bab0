"""Exceptions raised by batteryzoom, and the warnings its readers give.

Every error derives from :class:`BatteryZoomError` and its message says which file or
argument is at fault, what is wrong with it, and what to do about it.

A reader that reads a file but had to repair something, left something out, or doubts
what it read says so with a warning derived from :class:`ReaderWarning` (the message
names the file and what was done; the result's ``attrs`` keep it too):

=====================================================  ==================================
warning                                                given by
=====================================================  ==================================
:class:`AcquisitionWarning`                            raw tomography readers
                                                       (``bz.io.read_acquisition``)
``bz.io.cycler.CyclerDataWarning``                     ``bz.io.read_cycler``: rows left
                                                       out or repaired, records missing,
                                                       capacities off ∫I dt
``bz.io.cycler.TimeRepairWarning``                     ``bz.io.read_cycler``: a time
  (a ``CyclerDataWarning``)                            column reconstructed or made
                                                       continuous
``bz.io.spectra.SpectrumWarning``                      ``bz.io.read_spectrum``
=====================================================  ==================================

To turn every such repair into an error (a pipeline that must only see clean files)::

    import warnings
    warnings.simplefilter("error", bz.errors.ReaderWarning)

Examples
--------
>>> import warnings
>>> from batteryzoom.errors import AcquisitionWarning, ReaderWarning
>>> issubclass(AcquisitionWarning, ReaderWarning) and issubclass(ReaderWarning, UserWarning)
True
"""

from __future__ import annotations

__all__ = [
    "BatteryZoomError",
    "InputError",
    "FileFormatError",
    "ManifestError",
    "ChecksumError",
    "DataUnavailableError",
    "MissingDependencyError",
    "ReaderWarning",
    "AcquisitionWarning",
]


class BatteryZoomError(Exception):
    """Base class of every error batteryzoom raises on purpose."""


class InputError(BatteryZoomError, ValueError):
    """An argument has the wrong shape, type, range or content."""


class FileFormatError(InputError):
    """A file cannot be read: unknown format, truncated, corrupt, or missing columns."""

    def __init__(self, path, problem: str, fix: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        msg = f"{self.path}: {problem}"
        if fix:
            msg += f" — {fix}"
        super().__init__(msg)


class ManifestError(BatteryZoomError):
    """The data manifest (or an entry in it) is malformed."""

    def __init__(self, entry: str | None, field: str | None, problem: str):
        self.entry = entry
        self.field = field
        where = "data manifest"
        if entry:
            where += f" entry {entry!r}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")


class ChecksumError(BatteryZoomError):
    """A file's SHA-256 (or size) differs from the one the manifest records.

    ``outcome`` says what became of the file: a cache or mirror copy is left untouched
    (the default); a download that does not match is removed, and the message says so.
    """

    def __init__(self, path, expected: str, actual: str, fix: str | None = None, *,
                 kind: str = "SHA-256", outcome: str = "The file was left untouched."):
        self.path = str(path)
        self.expected = expected
        self.actual = actual
        msg = f"{self.path}: {kind} mismatch (expected {expected}, got {actual}). {outcome}"
        if fix:
            msg += f" {fix}"
        super().__init__(msg)


class DataUnavailableError(BatteryZoomError):
    """A dataset's file is in neither the cache nor the mirror, and cannot be downloaded."""


class MissingDependencyError(BatteryZoomError, ImportError):
    """An optional package is needed for this call and is not installed."""

    def __init__(self, package: str, purpose: str, install: str):
        self.package = package
        super().__init__(
            f"{purpose} needs the optional package {package!r}, which is not installed. "
            f"Install it with: {install}"
        )


class ReaderWarning(UserWarning):
    """A file was read, but with a repair, a left-out part or a doubt the message names:
    the result is not simply the file's content (base of every reader's warning)."""


class AcquisitionWarning(ReaderWarning):
    """A raw acquisition that reads, but shows a sign of damage or an unusual layout
    (angles that do not run one way)."""
