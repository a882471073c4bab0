"""The whole zoom as one OME-Zarr store: every level's volume (and label volumes) at its
world position, written atomically (:func:`write_zoom_zarr`), and the synthetic twin's
zoom assembled for it (:func:`twin_zoom`).

The format itself (NGFF 0.5 through ome-zarr-py, pyramids, µm transforms) is
:mod:`batteryzoom.io.omezarr`; this module decides what goes in and where (the hierarchy's
world offsets) and publishes the store: it is built under a temporary name beside the
target and renamed into place, so an interrupted export leaves no half store under the
target's name, and an existing folder is replaced only when this function wrote it and
``overwrite=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..data.store import atomic_directory
from ..errors import InputError
from ..io.omezarr import WRITTEN_BY, write_ome_zarr
from .hierarchy import Hierarchy

__all__ = ["write_zoom_zarr", "check_zoom_target", "twin_zoom", "image_name"]


def image_name(level: str) -> str:
    """The store's group name of a level: its name with ``/`` turned into ``--``
    (``"twin/cell-ct"`` → ``"twin--cell-ct"``); the level name itself is kept in the
    image's attributes (``attrs["level"]``)."""
    return level.replace("/", "--")


def _root_mark(path: Path) -> str | None:
    import json

    meta = path / "zarr.json"
    if not meta.is_file():
        return None
    attrs = json.loads(meta.read_text()).get("attributes", {})
    return attrs.get("batteryzoom", {}).get("written_by")


def _spatial(level, data: Any) -> Any:
    """``data`` as a DataArray with the level's dims, its attributes naming the level."""
    import xarray as xr

    if not isinstance(data, xr.DataArray):
        data = xr.DataArray(data, dims=level.dims)
    if tuple(data.dims) != tuple(level.dims):
        raise InputError(f"{level.name}: data dims {tuple(data.dims)}; the zoom export writes spatial volumes "
                         f"{tuple(level.dims)} (select one energy, or attach a map such as the edge-energy map)")
    attrs = {**data.attrs, "level": level.name, "voxel_size_um": list(level.voxel_size_um)}
    if level.parent is not None:
        attrs["parent"] = level.parent
    if level.scale is not None:
        attrs["scale"] = level.scale
    return data.assign_attrs(attrs)


def check_zoom_target(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse a target :func:`write_zoom_zarr` may not write (before any work starts).

    Raises
    ------
    InputError
        ``path`` exists and is not a store batteryzoom wrote, or is one and ``overwrite``
        is False.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not (path.is_dir() and _root_mark(path) == WRITTEN_BY):
            raise InputError(f"{path}: exists and is not a store batteryzoom wrote; it is left untouched. "
                             "Choose a new path")
        if not overwrite:
            raise InputError(f"{path}: a zoom store from an earlier export is there; pass overwrite=True "
                             "(--overwrite) to replace it, or choose a new path")
    return path


def write_zoom_zarr(
    path: str | os.PathLike,
    hierarchy: Hierarchy,
    *,
    labels: dict[str, dict[str, Any]] | None = None,
    overwrite: bool = False,
    chunk_voxels: int = 64,
) -> Path:
    """Write every level of ``hierarchy`` that has data into one OME-Zarr store.

    Parameters
    ----------
    path : str or path-like
        The store (a folder, conventionally ``*.zarr``). It must not exist, unless it is
        a store this function wrote and ``overwrite=True``.
    hierarchy : Hierarchy
        Levels with data attached (:meth:`Hierarchy.set_data`): spatial volumes
        ``(z, y, x)`` or ``(y, x)``, numpy or dask (read chunk by chunk). Levels without
        data are left out; each image is placed at its world offset
        (:meth:`Hierarchy.offset_um`).
    labels : dict of str to dict of str to array, optional
        Level name → {label name → integer volume on that level's grid}.
    overwrite : bool
        Replace a store this function wrote before (never anything else).
    chunk_voxels : int
        Chunk edge of the arrays written (voxels).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        No level with data, a target that exists and is not ours (or ``overwrite`` is
        False), data that is not spatial.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> import batteryzoom as bz
    >>> zoom = bz.zoom.Hierarchy([bz.zoom.Level("cell", (32, 32, 32), 10.0),
    ...                           bz.zoom.Level("roi", (32, 32, 32), 1.0, origin_um=(50, 60, 70), parent="cell")])
    >>> _ = zoom.set_data("cell", np.zeros((32, 32, 32), "f4"))
    >>> _ = zoom.set_data("roi", np.ones((32, 32, 32), "f4"))
    >>> store = bz.zoom.write_zoom_zarr(tempfile.mkdtemp() + "/zoom.zarr", zoom)
    >>> roi = bz.io.read_ome_zarr(store)["roi"]
    >>> float(roi.z[0]), float(roi.x[0]), roi.attrs["parent"]
    (50.0, 70.0, 'cell')
    """
    path = Path(path)
    if not isinstance(hierarchy, Hierarchy):
        raise InputError(f"hierarchy: pass a bz.zoom.Hierarchy, got {type(hierarchy).__name__}")
    check_zoom_target(path, overwrite)
    images, translations, label_sets = {}, {}, {}
    for lv in hierarchy:
        if lv.data is None:
            continue
        key = image_name(lv.name)
        images[key] = _spatial(lv, lv.data)
        translations[key] = tuple(float(x) for x in hierarchy.offset_um(lv.name))
        if labels and lv.name in labels:
            label_sets[key] = {n: _spatial(lv, a) for n, a in labels[lv.name].items()}
    unknown = sorted(set(labels or {}) - {lv.name for lv in hierarchy if lv.data is not None})
    if unknown:
        raise InputError(f"labels: {unknown} are not levels with data ({[lv.name for lv in hierarchy]})")
    if not images:
        raise InputError("hierarchy: no level has data attached; attach volumes with hierarchy.set_data(name, data)")
    with atomic_directory(path, replace=lambda old: _root_mark(old) == WRITTEN_BY) as tmp:
        write_ome_zarr(tmp, images, labels=label_sets, translations_um=translations, chunk_voxels=chunk_voxels)
    return path


def twin_zoom(preset: str = "small", *, xanes_map: bool = True, progress: bool | None = None):
    """The synthetic twin's zoom with its data, ready for :func:`write_zoom_zarr`.

    Returns ``(hierarchy, labels)``: the cell CT, the electrode CT (with the true particle
    labels), the particle nano-CT (true grain labels) and, with ``xanes_map``, the 3D
    XANES level as its half-step edge-energy map (eV; :func:`batteryzoom.xanes.grain_chemistry`
    of the stack, NaN where the edge is not trusted) with the nano-CT's grains carried
    onto its grid. Volumes stay lazy (dask from the cache's zarr stores).
    """
    from .. import data as bzdata

    zoom = Hierarchy.from_twin(preset)
    names = {lv.scale: lv.name for lv in zoom}
    labels: dict[str, dict[str, Any]] = {}
    for scale, part in (("cell", None), ("electrode", "particles"), ("particle", "grains")):
        name = names[scale]
        zoom.set_data(name, bzdata.load(name, preset=preset, lazy=True))
        if part:
            labels[name] = {part: bzdata.load(name, part=part, preset=preset, lazy=True)}
    if xanes_map:
        from ..xanes import grain_chemistry

        name = names["grain"]
        chem = grain_chemistry(bzdata.load(name, preset=preset, lazy=False), progress=progress)
        zoom.set_data(name, chem.edge.astype("float32"))
        grains = zoom.regrid_labels(bzdata.load(names["particle"], part="grains", preset=preset, lazy=False).values,
                                    names["particle"], name)
        labels[name] = {"grains": grains.astype("int32")}
    return zoom, labels
