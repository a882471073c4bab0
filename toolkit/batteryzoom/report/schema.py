"""``batteryzoom.yaml``: read safely and checked whole before any work starts.

:func:`load_spec` reads the file with a loader that refuses what a dataset description
never needs and what can hurt: anchors and aliases (``&a`` / ``*a``: a kilobyte of nested
aliases expands to gigabytes, the "billion laughs") and keys given twice (YAML keeps the
last silently: a second ``cycler:`` would replace the first). :func:`check_spec` then checks
every key against :data:`SCHEMA` (types, ranges, units) and reports every problem at once,
one line each, naming the key, the problem and the fix. The keys themselves are documented
in :class:`batteryzoom.report.FolderSource` (and the README).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import FileFormatError

__all__ = ["load_spec", "check_spec", "SCHEMA"]

SCALE_KEYS = ("cycler", "cell", "electrode", "particle", "grain")
# the biggest file a dataset description needs (a few hundred lines at most)
_MAX_BYTES = 1 << 20


# --------------------------------------------------------------------------- kinds of value
# each takes a value and returns a problem in words ("" when the value is fine)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _got(v: Any) -> str:
    """``got <v>``, and why when YAML read a number as text (``2e3``: write ``2.0e+3``)."""
    texts = [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)]
    for x in texts:
        try:
            float(x)
        except ValueError:
            continue
        return f"got {v!r} (YAML reads {x!r} as text: write it with a decimal point and a signed exponent, " \
               f"e.g. {float(x):.1f})"
    return f"got {v!r}"


def _path(v: Any) -> str:
    return "" if isinstance(v, str) and v.strip() else f"must be a file or folder path (text), got {v!r}"


def _paths(v: Any) -> str:
    if isinstance(v, list) and v:
        return next((p for p in map(_path, v) if p), "")
    return _path(v)


def _text(v: Any) -> str:
    return "" if isinstance(v, (str, int)) and not isinstance(v, bool) else f"must be text, got {v!r}"


def _positive(v: Any) -> str:
    return "" if _is_number(v) and v > 0 else f"must be a number > 0, {_got(v)}"


def _voxel(v: Any) -> str:
    if _is_number(v) and v > 0:
        return ""
    if isinstance(v, list) and len(v) == 3 and all(_is_number(x) and x > 0 for x in v):
        return ""
    return (f"must be a number > 0 in µm (or three: dz, dy, dx), {_got(v)}; write the number alone "
            "(e.g. 0.5 for 500 nm)")


def _origin(v: Any) -> str:
    if isinstance(v, list) and len(v) == 3 and all(_is_number(x) for x in v):
        return ""
    return f"must be three numbers in µm (z, y, x), e.g. [0.0, 120.5, 80.0], {_got(v)}"


def _one_of(*choices: str):
    def check(v: Any) -> str:
        return "" if v in choices else f"must be one of {list(choices)}, got {v!r}"
    return check


def _energies(v: Any) -> str:
    if isinstance(v, list):
        ok = len(v) >= 2 and all(_is_number(x) and x > 0 for x in v)
        return "" if ok else f"must be a text file or a list of at least two energies > 0 (eV or keV), got {v!r}"
    return _path(v)


def _two_labels(v: Any) -> str:
    ok = isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) and x > 0
                                                      for x in v)
    return "" if ok else f"must be two grain labels (integers > 0), e.g. [12, 34], got {v!r}"


def _magnification(v: Any) -> str:
    if v in ("fit", "none") or (isinstance(v, list) and len(v) >= 2 and all(_is_number(x) and x > 0 for x in v)):
        return ""
    return (f"must be fit (measured from the projections), none (a microscope that keeps its magnification) or "
            f"one pixel-size ratio > 0 per energy, got {v!r}")


def _mapping(v: Any) -> str:
    return "" if isinstance(v, dict) else f"must be a mapping of keywords (the function's keyword arguments), got {v!r}"


_VOLUME = {"volume": _path, "voxel_size_um": _voxel, "dataset": _text, "origin_um": _origin}
# a raw acquisition instead of a volume (electrode, particle, grain; FolderSource: "Raw acquisitions")
_RAW = {"raw": _path, "raw_read": _mapping, "reconstruct": _mapping, "cache": _path}

#: per section, its keys and the check of each value (see :class:`FolderSource` for their meaning)
SCHEMA: dict[str, dict[str, Any]] = {
    "cycler": {"one_cycle": _path, "self_discharge": _path, "cell_id": _text, "population": _paths,
               "threshold_mv_per_day": _positive, "format": _text},
    "cell": dict(_VOLUME),
    "electrode": {**_VOLUME, **_RAW, "thickness_axis": _one_of("z", "y", "x"),
                  "collector_side": _one_of("low", "high")},
    "particle": {**_VOLUME, **_RAW},
    "grain": {"stack": _path, "energies": _energies, "voxel_size_um": _voxel, "origin_um": _origin,
              "labels": _path, "designated": _two_labels, "layout": _text, "magnification": _magnification, **_RAW},
}
# the file(s) a section must name
REQUIRED = {"cycler": ("one_cycle", "self_discharge", "population"), "cell": ("volume",),
            "electrode": ("volume", "raw"), "particle": ("volume", "raw"), "grain": ("stack", "raw")}


# --------------------------------------------------------------------------- the loader


def _loader():
    import yaml

    class SafeLoader(yaml.SafeLoader):
        """yaml's SafeLoader without anchors and aliases, and without repeated keys."""

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "anchors and aliases (&name, *name) are not allowed in batteryzoom.yaml: "
                    "write each value out", event.start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice (lines {seen[key] + 1} and "
                        f"{key_node.start_mark.line + 1}); keep one", key_node.start_mark)
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep)

    return SafeLoader


def load_spec(path: str | Path) -> Any:
    """The YAML document of ``path``, read safely (see the module docstring).

    Raises
    ------
    FileFormatError
        Not valid YAML, an anchor or alias, a repeated key, a file over 1 MB or not text.
    """
    import yaml

    path = Path(path)
    if path.stat().st_size > _MAX_BYTES:
        raise FileFormatError(path, f"is {path.stat().st_size:,} bytes; a dataset description is a few KB",
                              "check that this is the right file")
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.load(text, Loader=_loader())  # noqa: S506 -- a SafeLoader subclass
    except UnicodeDecodeError as exc:
        raise FileFormatError(path, f"is not UTF-8 text ({exc.reason})", "save it as UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise FileFormatError(path, f"is not valid YAML ({exc})",
                              "fix the line shown (see help(batteryzoom.report.FolderSource))") from None


def check_spec(spec: Any, path: str | Path) -> dict:
    """``spec`` checked against :data:`SCHEMA`: every problem at once, one line each.

    Returns
    -------
    dict
        ``spec`` itself (name, description and the sections present).

    Raises
    ------
    FileFormatError
        Naming ``path`` and listing each problem (key, what is wrong, what to write).
    """
    path = Path(path)
    if not isinstance(spec, dict):
        raise FileFormatError(path, "must be a mapping of scales (cycler, cell, electrode, particle, grain) to "
                              f"their files, got {type(spec).__name__}",
                              "see help(batteryzoom.report.FolderSource) for an example")
    problems = []
    unknown = sorted(str(k) for k in spec if k not in SCHEMA and k not in ("name", "description"))
    if unknown:
        problems.append(f"unknown key(s) {unknown}; the scales are {list(SCALE_KEYS)} (plus name, description)")
    for key in ("name", "description"):
        if key in spec and _text(spec[key]):
            problems.append(f"{key}: {_text(spec[key])}")
    for scale, keys in SCHEMA.items():
        section = spec.get(scale)
        if section is None:  # absent, or an empty `cell:` line: the scale is left out
            continue
        if not isinstance(section, dict):
            problems.append(f"{scale}: must be a mapping of keys to values, got {section!r}")
            continue
        extra = sorted(str(k) for k in section if k not in keys)
        if extra:
            problems.append(f"section {scale!r} has unknown key(s) {extra}; allowed: {sorted(keys)}")
        for key, value in section.items():
            if key in keys and value is not None and keys[key](value):
                problems.append(f"{scale}.{key}: {keys[key](value)}")
        need = REQUIRED.get(scale, ("volume",))
        if not any(section.get(k) for k in need):
            problems.append(f"{scale}: names no file: give {' or '.join(need)}")
    if not problems and not any(s in spec for s in SCALE_KEYS):
        problems.append(f"lists no scale; add at least one of {list(SCALE_KEYS)}")
    if problems:
        lines = "\n  - ".join(problems)
        raise FileFormatError(path, f"{len(problems)} problem(s):\n  - {lines}\n",
                              "fix each line above (every key: help(batteryzoom.report.FolderSource))")
    return spec
