"""Where a hierarchy's levels come from: the synthetic twin's frames, or the data manifest's
``frame`` / ``parent`` / ``box_um`` fields."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import InputError
from .levels import Level

__all__ = ["twin_levels", "levels_from_manifest"]

# the twin's levels and the scale each belongs to (used when the manifest lacks them)
_TWIN_SCALES = {
    "twin/cell-ct": "cell",
    "twin/electrode-ct": "electrode",
    "twin/particle-nanoct": "particle",
    "twin/particle-xanes": "grain",
}


def twin_levels(preset: str = "small") -> list[Level]:
    """The synthetic twin's levels for ``preset`` (:func:`batteryzoom.data.twin.frames.levels`),
    each with its scale."""
    from ..data.twin import frames

    return [replace(lv, scale=_twin_scale(lv.name)) for lv in frames.levels(preset).values()]


def levels_from_manifest(
    manifest: Any = None,
    *,
    root: str | None = None,
    names: Iterable[str] | None = None,
) -> list[Level]:
    """The levels the data manifest places (see :meth:`Hierarchy.from_manifest`)."""
    from .. import data as bzdata
    from ..data.manifest import Manifest

    if not isinstance(manifest, Manifest):
        manifest = bzdata.manifest(manifest)
    levels: dict[str, Level] = {}
    problems: dict[str, tuple[str | None, str]] = {}  # (parent, message): raised if kept
    for entry in manifest:
        if entry.frame is None and entry.parent is None:
            continue
        try:
            lv = _level_from_entry(entry)
        except InputError as exc:
            problems[entry.name] = (entry.parent, str(exc))
            continue
        if lv is not None:
            levels[lv.name] = lv
    if names is not None:
        keep = set(names)
        for n in sorted(keep & set(problems)):
            raise InputError(problems[n][1])
        missing = keep - set(levels)
        if missing:
            raise InputError(f"names: {sorted(missing)} have no frame in the manifest")
        levels = {n: lv for n, lv in levels.items() if n in keep}
    if root is not None:
        if root not in levels:
            raise InputError(f"root: {root!r} has no frame in the manifest (levels: {sorted(levels)})")
        keep = {root}
        changed = True
        while changed:
            changed = False
            for n, lv in levels.items():
                if n not in keep and lv.parent in keep:
                    keep.add(n)
                    changed = True
        levels = {n: lv for n, lv in levels.items() if n in keep}
        levels[root] = replace(levels[root], parent=None) if levels[root].parent not in keep else levels[root]
    for n, (parent, msg) in problems.items():
        if names is None and (root is None or parent in levels):
            raise InputError(msg)  # a broken entry inside what was asked for
    for lv in levels.values():
        if lv.parent in problems:
            raise InputError(problems[lv.parent][1])
        if lv.parent is not None and lv.parent not in levels:
            raise InputError(
                f"{lv.name}: its parent {lv.parent!r} has no frame (voxel_size_um/origin_um) in the manifest; "
                "give the parent a frame or leave this entry out (names=..., root=...)"
            )
    return list(levels.values())


def _twin_scale(name: str) -> str | None:
    try:
        from .. import data as bzdata

        return bzdata.info(name).scale
    except Exception:  # noqa: BLE001 - no manifest entry: fall back to the known twin levels
        return _TWIN_SCALES.get(name)


def _level_from_entry(entry: Any) -> Level | None:
    frame = entry.frame or {}
    vs = frame.get("voxel_size_um") or entry.extra.get("voxel_size_um")
    if vs is None:
        if entry.parent is not None:
            raise InputError(
                f"{entry.name}: has a parent but no voxel size (frame.voxel_size_um) in the manifest; add a frame"
            )
        return None
    vs = np.asarray(vs, float)
    origin = frame.get("origin_um")
    shape = None
    box = entry.box_um
    if box is not None:
        lo, hi = np.asarray(box["min"], float), np.asarray(box["max"], float)
        if lo.size != vs.size:
            raise InputError(f"{entry.name}: box_um has {lo.size} axes, the voxel size {vs.size}")
        n = (hi - lo) / vs
        shape = tuple(int(x) for x in np.rint(n))
        tol = 1e-6 * np.maximum(1.0, np.abs(hi - lo))
        if np.any(np.abs(n - np.rint(n)) * vs > tol) or min(shape) < 1:
            raise InputError(
                f"{entry.name}: box_um spans {(hi - lo).tolist()} µm, not a whole number of "
                f"{vs.tolist()} µm voxels; fix box_um or frame.voxel_size_um in the manifest"
            )
        if origin is None:
            origin = lo + vs / 2
        elif np.any(np.abs(np.asarray(origin) - vs / 2 - lo) > tol):
            raise InputError(
                f"{entry.name}: box_um.min {lo.tolist()} does not match frame.origin_um - voxel/2 "
                f"{(np.asarray(origin) - vs / 2).tolist()} in the manifest; one of them is wrong"
            )
    over = frame.get("overhang_um")
    return Level(
        name=entry.name, shape=shape, voxel_size_um=tuple(vs), origin_um=origin,
        parent=entry.parent, scale=entry.scale, overhang_um=None if over is None else tuple(over),
    )
