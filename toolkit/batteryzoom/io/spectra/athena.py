"""Athena project files (``.prj``): every group of a gzip-compressed Perl data file.

Athena (Demeter, and the older Ifeffit-based Athena) saves a project as Perl statements,
usually gzip-compressed::

    # Athena project file -- Demeter version 0.9.21
    $old_group = 'naqow';                       # the group's hash key
    @args = ('label','NiO.000','bkg_e0',8344.0, ...);   # its parameters, key/value pairs
    @x = ('8133.00072','8142.99769', ...);      # energy (eV)
    @y = ('0.5499','0.5464', ...);              # mu(E)
    @i0 = (...); @signal = (...); @stddev = (...)  # optional
    [record]   # create object and set arrays in ifeffit
    ...
    1;

This module parses those statements itself (no Perl, no ``eval``): a tokenizer for quoted
strings, numbers and brackets, linear in the input. Each group keeps its label (Athena's
name, as shown in its group list), its hash key, its arrays and its parameters.
Several groups may carry the same label (an imported scan and its copy): both are kept,
and :func:`group_names` tells them apart by their keys. A file that is cut short (no
closing ``1;`` after the last record), a record without ``@x``/``@y``, arrays of different
lengths or a value that is not a number is refused, naming the group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import FileFormatError

__all__ = ["AthenaGroup", "is_athena", "parse_athena", "group_names"]

_MAGIC = "Athena project file -- "
# Perl literals: 'quoted' (\' and \\ escaped), bare words/numbers, brackets, separators.
# Alternatives are disjoint and unnested: linear time on any input.
_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|[-+\w.]+|=>|[\[\](){},]")
_STATEMENT = re.compile(r"^([$@%])(\w+)\s*=\s*")
_ARRAYS = ("x", "y", "i0", "signal", "stddev")


@dataclass
class AthenaGroup:
    """One Athena group (internal to :mod:`batteryzoom.io.spectra`)."""

    label: str
    key: str
    index: int
    arrays: dict[str, np.ndarray]
    params: dict[str, object] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # optional arrays whose length is not the energies'


def is_athena(text_head: str) -> bool:
    return _MAGIC in text_head[:500]


def _literal(tok: str) -> object:
    if tok.startswith("'"):
        return tok[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return tok


def _parse_list(path: Path, body: str, what: str) -> list:
    """A Perl list ``( ... )`` into nested Python lists of strings."""
    stack: list[list] = [[]]
    for m in _TOKEN.finditer(body):
        tok = m.group()
        if tok in ("(", "[", "{"):
            stack.append([])
        elif tok in (")", "]", "}"):
            if len(stack) < 2:
                raise FileFormatError(path, f"{what}: unbalanced brackets", "the project file is damaged")
            inner = stack.pop()
            stack[-1].append(inner)
        elif tok not in (",", "=>"):
            stack[-1].append(_literal(tok))
    if len(stack) != 1 or len(stack[0]) != 1 or not isinstance(stack[0][0], list):
        raise FileFormatError(path, f"{what}: not one bracketed list", "the project file is damaged")
    return stack[0][0]


def _numbers(path: Path, values: list, what: str) -> np.ndarray:
    try:
        out = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        bad = next((v for v in values if not _is_number(v)), "?")
        raise FileFormatError(path, f"{what} holds {str(bad)[:30]!r}, not a number",
                              "the project file is damaged: save it again from Athena") from exc
    return out


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def parse_athena(path: Path, text: str) -> tuple[list[AthenaGroup], str]:
    """Every group of an Athena project, in file order, and the header's version line."""
    lines = text.split("\n")
    version = lines[0].lstrip("#").strip() if lines else ""
    if not is_athena(text):
        raise FileFormatError(path, "is not an Athena project file (no 'Athena project file --' header)")
    groups: list[AthenaGroup] = []
    current: dict = {}
    closed = False
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("[record]"):
            groups.append(_group(path, current, len(groups), n))
            current = {}
            continue
        if s == "1;":
            closed = True
            continue
        m = _STATEMENT.match(s)
        if m is None:
            raise FileFormatError(path, f"line {n} is not a Perl statement Athena writes ({s[:50]!r})",
                                  "the project file is damaged: save it again from Athena")
        name = m.group(2)
        if name == "old_group":
            key = _parse_list(path, "(" + s[m.end():].rstrip(";") + ")", f"line {n}")
            current["key"] = str(key[0]) if key else ""
        elif name == "args" or name in _ARRAYS:
            if not s.endswith(";"):
                raise FileFormatError(path, f"line {n} (@{name}) is cut short", "the project file is truncated")
            current[name] = (_parse_list(path, s[m.end():-1], f"line {n} (@{name})"), n)
    if not closed or current:
        raise FileFormatError(path, f"ends without its closing '1;' after {len(groups)} group(s): truncated",
                              "copy the project file again, or save it again from Athena")
    if not groups:
        raise FileFormatError(path, "holds no group", "save at least one spectrum in the project")
    return groups, version


def _group(path: Path, raw: dict, index: int, line: int) -> AthenaGroup:
    args, _ = raw.get("args", ([], 0))
    if len(args) % 2:
        raise FileFormatError(path, f"group {index + 1} (line {line}): @args holds an odd number of items",
                              "the project file is damaged")
    params = {str(args[i]): args[i + 1] for i in range(0, len(args), 2)}
    label = str(params.get("label", raw.get("key", f"group {index + 1}"))).strip()
    where = f"group {index + 1} {label!r}"
    if "x" not in raw or "y" not in raw:
        raise FileFormatError(path, f"{where} (ending line {line}) has no {'@x' if 'x' not in raw else '@y'} array",
                              "the project file is damaged")
    arrays = {}
    for name in _ARRAYS:
        if name in raw:
            values, n = raw[name]
            arrays[name] = _numbers(path, values, f"{where}, @{name} (line {n})")
    n = arrays["x"].size
    if arrays["y"].size != n:
        raise FileFormatError(path, f"{where}: @x has {n} values but @y {arrays['y'].size}",
                              "the project file is damaged: save it again from Athena")
    # Athena keeps an optional array of another length when a group is truncated or
    # rebinned after import (Mn.prj's Todorokite: @stddev of 2669 for 2628 energies):
    # it belongs to no energy, so it is left out, and said
    dropped = [f"@{k} ({v.size} values for {n} energies)" for k, v in arrays.items() if v.size != n]
    arrays = {k: v for k, v in arrays.items() if v.size == n}
    return AthenaGroup(label, str(raw.get("key", "")), index, arrays, params, dropped)


def group_names(groups: list[AthenaGroup]) -> list[str]:
    """One unique name per group: its label, or ``label [key]`` when several share it."""
    count: dict[str, int] = {}
    for g in groups:
        count[g.label] = count.get(g.label, 0) + 1
    return [g.label if count[g.label] == 1 else f"{g.label} [{g.key}]" for g in groups]
