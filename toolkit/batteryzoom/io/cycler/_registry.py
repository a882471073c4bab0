"""The cycler reader registry: every format :func:`read_cycler` reads, what it matches, and
its reader.

A format is registered by the module of its make (``neware.py``, ``arbin.py``, ...), as
xarray's ``backends/`` register their engines::

    register("maccor-txt", "Maccor text export or raw .0NN text file",
             match=_is_text, read=_read, priority=30)

- ``name``: the ``format=`` name users pass and :func:`~.sniff.detect_format` returns;
- ``description``: one line, listed in ``FORMATS`` and in error messages;
- ``match(sample) -> str | Evidence | None``: what in the file's content says it is this
  format (a short piece of evidence, e.g. ``"a 'Rec#' header line with 'Cyc#'"``), or
  None. A plain string is *sure* evidence (magic bytes, a signature line of the make);
  :class:`Evidence` with ``sure=False`` is column names alone, which another make may
  share (the sniffer refuses to choose between two makes on names alone). The
  ``sample`` is a :class:`~.sniff.Sample`: the first bytes, the text head, the members of
  a zip, the sheets of a workbook, the columns of a parquet file, the keys of an HDF5
  file, each read on first use;
- ``read(path, *, column_map, units, sheet) -> (raw, meta)``: the file as the reader's
  columns (below), which :func:`~.finalize.finalize` turns into the BDF table;
- ``priority``: sniffing order, lower first; the catch-all table readers (``csv``,
  ``xlsx``) come last.

A new reader is a module here that calls :func:`register`, listed in
:data:`_READER_MODULES` (the order of ``FORMATS``).

The reader's columns
--------------------
Any of the BDF columns in SI units (``test_time_second``, ``step_time_second``,
``voltage_volt``, ``current_ampere``, ``step_count``, ``step_index``, ``cycle_count``,
``charging_capacity_ah`` ..., ``unix_time_second``, ``temperature_celsius``), plus the
helpers: ``step_name`` (the instrument's step label), ``capacity_ah``/``energy_wh``
(unsigned, counted over the step or carried on), ``net_capacity_ah`` (signed, over the test
or the cycle), ``step_net_capacity_ah``/``step_net_energy_wh`` (unsigned, per step),
``_step_key`` (an instrument key whose every change starts a step) and ``_eis`` (rows of
an impedance measurement). ``meta`` holds ``reader``, ``instrument``, ``source_units``,
``source_columns``, ``metadata`` and ``capacity_scope`` (``"cycle"`` when the capacity
columns count over the cycle).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# the modules that register formats, in the order FORMATS lists them
_READER_MODULES = ("neware", "biologic", "arbin", "maccor", "novonix", "basytec", "pec", "indigo", "bdf", "pyprobe",
                   "generic_csv")

Reader = Callable[..., "tuple[Any, dict]"]
Matcher = Callable[[Any], "str | Evidence | None"]

#: formats at or after this rank are catch-alls (any table): they never compete with a make
CATCH_ALL = 90


@dataclass(frozen=True)
class Evidence:
    """What a format matched in a file: ``text`` for users, ``sure`` when it is the make's
    own marker rather than column names another make may share."""

    text: str
    sure: bool = True

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Format:
    """One registered format.

    Attributes
    ----------
    name : str
        The ``format=`` name.
    description : str
        One line for users.
    match : callable
        ``match(sample) -> Evidence | None``: the evidence in the file's content, or None
        (the registered matcher's plain strings wrapped as sure evidence).
    read : callable
        ``read(path, *, column_map=None, units=None, sheet=None) -> (raw, meta)``.
    priority : int
        Sniffing order (lower first).
    module : str
        The module that reads it.
    """

    name: str
    description: str
    match: Matcher
    read: Reader
    priority: int
    module: str


_FORMATS: dict[str, Format] = {}
_loaded = False


def register(name: str, description: str, *, match: Matcher, read: Reader, priority: int = 50) -> Format:
    """Register a format (called by the reader modules when they are imported)."""
    if name in _FORMATS and _FORMATS[name].read is not read:
        raise ValueError(f"cycler format {name!r} is registered twice ({_FORMATS[name].module}, {read.__module__})")
    def evidence(sample: Any, _match: Matcher = match) -> Evidence | None:
        found = _match(sample)
        return Evidence(found) if isinstance(found, str) else found

    fmt = Format(name, description, evidence, read, priority, read.__module__)
    _FORMATS[name] = fmt
    return fmt


def formats() -> dict[str, Format]:
    """Every registered format by name, in the order of :data:`_READER_MODULES`."""
    global _loaded
    if not _loaded:
        for module in _READER_MODULES:
            importlib.import_module(f"{__package__}.{module}")
        # a reader module imported on its own registered early: list them in module order
        # (sorted is stable, so each module keeps its own order)
        order = sorted(_FORMATS.values(), key=lambda f: _READER_MODULES.index(f.module.rpartition(".")[2]))
        _FORMATS.clear()
        _FORMATS.update((f.name, f) for f in order)
        _loaded = True
    return _FORMATS


def by_priority() -> list[Format]:
    """The formats in sniffing order (priority, then registration order)."""
    return sorted(formats().values(), key=lambda f: f.priority)
