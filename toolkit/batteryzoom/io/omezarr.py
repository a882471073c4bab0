"""OME-Zarr (NGFF 0.5) for volumes in physical frames: write images and labels as
multiscale pyramids with their scale and translation in µm, read them back as xarray.

One store holds several images, one group each (``store/<name>``), with integer label
volumes under ``store/<name>/labels/<label>`` as the NGFF labels specification places
them. Every image is written by ome-zarr-py (the NGFF reference implementation) and
carries ``coordinateTransformations`` = ``scale`` (voxel size, µm) then ``translation``
(µm, where voxel ``(0, 0, 0)``'s centre sits in the store's one world frame): any NGFF
viewer (napari with napari-ome-zarr, neuroglancer, vizarr) therefore places the images of
one store where they belong relative to each other.

The pyramid is built chunk by chunk on dask, never whole: images by 2×2×2 block means
(level ``k`` has voxel ``2**k`` times larger, and its first voxel centre moves by
``(2**k - 1) / 2`` voxels: written into its translation), labels by taking every
``2**k``-th voxel (a label is never averaged; the translation stays). Levels stop when an
axis would fall under ``min_size`` voxels.

The store's root attributes list the images (``attrs["batteryzoom"]["images"]``) with
the extra attributes each DataArray carried (JSON-able ones: level, parent, units), so
:func:`read_ome_zarr` returns the same frames (``voxel_size_um``, ``origin_um`` and
``z``/``y``/``x`` coordinates in µm) and names.

This module writes into a folder it is given; the atomic publication of a whole store
(temporary folder, then a rename) is the caller's: :func:`batteryzoom.zoom.write_zoom_zarr`.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..frames import frame_of

__all__ = ["write_ome_zarr", "read_ome_zarr", "store_levels", "NGFF_VERSION", "WRITTEN_BY"]

NGFF_VERSION = "0.5"
WRITTEN_BY = "batteryzoom.io.omezarr"
_SPATIAL = ("z", "y", "x")


def _writer():
    """ome-zarr-py's writer; it warns about its own deprecated defaults at import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ome_zarr import writer
    return writer


def _as_dask(obj: Any, chunk_voxels: int):
    import dask.array as da

    data = obj.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=chunk_voxels)
    return data.rechunk({i: chunk_voxels for i in range(data.ndim)})


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name.startswith("."):
        raise InputError(f"{what} name {name!r}: give a non-empty name without '/', '\\' or a leading '.'")
    return name


def _check_volume(name: str, obj: Any) -> None:
    if not hasattr(obj, "dims") or tuple(obj.dims) not in (_SPATIAL, _SPATIAL[1:]):
        raise InputError(f"{name}: write_ome_zarr takes xarray DataArrays with dims (z, y, x) or (y, x), "
                         f"got {type(obj).__name__} with dims {getattr(obj, 'dims', None)}; select one energy or "
                         "transpose first")


def _levels(shape: tuple[int, ...], min_size: int, max_levels: int | None) -> int:
    """How many pyramid levels keep every axis at ``min_size`` voxels or more (≥ 1)."""
    n = 1
    while min(s // 2 ** n for s in shape) >= min_size and (max_levels is None or n < max_levels):
        n += 1
    return n


def _pyramid(data, n_levels: int, labels: bool) -> list:
    """Level 0 and its 2×-downsampled successors (block means, or strided for labels)."""
    out = [data]
    for _ in range(1, n_levels):
        prev = out[-1]
        if labels:
            out.append(prev[tuple(slice(None, None, 2) for _ in range(prev.ndim))])
        else:
            import dask.array as da

            out.append(da.coarsen(np.mean, prev.astype(np.float32), {i: 2 for i in range(prev.ndim)},
                                  trim_excess=True).astype(np.float32))
    return out


def _transforms(voxel_um: np.ndarray, origin_um: np.ndarray, level: int, labels: bool) -> list[dict]:
    f = 2 ** level
    shift = 0.0 if labels else (f - 1) / 2
    return [{"type": "scale", "scale": [float(v * f) for v in voxel_um]},
            {"type": "translation", "translation": [float(o + shift * v) for o, v in zip(origin_um, voxel_um)]}]


def _write_multiscale(group, pyramid: list, dims: tuple[str, ...], voxel_um: np.ndarray, origin_um: np.ndarray,
                      name: str, labels: bool, parent=None) -> None:
    """Write ``pyramid`` with ome-zarr-py, then state its transforms (scale + translation in
    µm): ome-zarr-py's own translation assumes its resampling, not ours."""
    writer = _writer()
    axes = [{"name": d, "type": "space", "unit": "micrometer"} for d in dims]
    scale = dict(zip(dims, (float(v) for v in voxel_um)))
    if labels:
        writer.write_multiscale_labels(pyramid, parent, name, axes=axes, scale=scale)
        container = parent["labels"]
        # ome-zarr-py 0.18 leaves "version" out of the labels container, which NGFF 0.5 requires
        container.attrs["ome"] = {"version": NGFF_VERSION, **dict(container.attrs["ome"])}
        group = container[name]
    else:
        writer.write_multiscale(pyramid, group, axes=axes, scale=scale, name=name)
    ome = dict(group.attrs["ome"])
    multiscales = [dict(m) for m in ome["multiscales"]]
    multiscales[0]["datasets"] = [
        {"path": ds["path"], "coordinateTransformations": _transforms(voxel_um, origin_um, k, labels)}
        for k, ds in enumerate(multiscales[0]["datasets"])]
    ome["multiscales"] = multiscales
    group.attrs["ome"] = ome


def _json_attrs(attrs: Mapping) -> dict:
    """The attributes that survive JSON (the rest is dropped: a reader could not use it)."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out


def write_ome_zarr(
    path: str | os.PathLike,
    images: Mapping[str, Any],
    *,
    labels: Mapping[str, Mapping[str, Any]] | None = None,
    translations_um: Mapping[str, Any] | None = None,
    chunk_voxels: int = 64,
    min_size: int = 16,
    max_levels: int | None = None,
) -> Path:
    """Write volumes and their label volumes into a new OME-Zarr store (NGFF 0.5).

    Parameters
    ----------
    path : str or path-like
        A folder that does not exist yet, or an empty one (this function never
        overwrites; publish atomically with :func:`batteryzoom.zoom.write_zoom_zarr`).
    images : mapping of str to xarray.DataArray
        Image name → volume with dims ``(z, y, x)`` or ``(y, x)`` (any dtype; numpy or
        dask, read block by block) and a frame :func:`batteryzoom.frames.frame_of`
        reads (a volume without a voxel size is refused).
    labels : mapping of str to mapping of str to xarray.DataArray, optional
        Image name → {label name → integer volume on that image's grid}.
    translations_um : mapping of str to sequence of float, optional
        Image name → where its voxel ``(0, 0, 0)`` centre sits in the store's world frame
        (µm). Default: the frame's own origin.
    chunk_voxels : int
        Chunk edge (voxels) of every array written.
    min_size : int
        The pyramid stops before an axis falls under this many voxels.
    max_levels : int, optional
        At most this many pyramid levels (level 0 included).

    Returns
    -------
    pathlib.Path
        The store.

    Raises
    ------
    InputError
        An existing path, a volume without dims ``(z, y, x)``/``(y, x)`` or voxel size, a
        label volume on another grid or of a non-integer dtype, a bad name.

    Examples
    --------
    >>> import tempfile, numpy as np, xarray as xr
    >>> from batteryzoom.io.omezarr import write_ome_zarr, read_ome_zarr
    >>> vol = xr.DataArray(np.arange(32 ** 3, dtype="f4").reshape(32, 32, 32), dims=("z", "y", "x"),
    ...                    attrs={"voxel_size_um": 0.5})
    >>> store = write_ome_zarr(tempfile.mkdtemp() + "/zoom.zarr", {"particle": vol},
    ...                        translations_um={"particle": (10.0, 20.0, 30.0)})
    >>> back = read_ome_zarr(store)["particle"]
    >>> float(back.x[0]), back.attrs["voxel_size_um"], back.attrs["pyramid_levels"]
    (30.0, [0.5, 0.5, 0.5], 2)
    """
    import zarr

    path = Path(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise InputError(f"{path}: already exists; write_ome_zarr writes a new store only (choose another path, "
                         "or use batteryzoom.zoom.write_zoom_zarr, which replaces a store it wrote)")
    if not isinstance(chunk_voxels, int) or chunk_voxels < 8:
        raise InputError(f"chunk_voxels={chunk_voxels!r}: give an integer ≥ 8")
    if not isinstance(images, Mapping) or not images:
        raise InputError("images: give a mapping {name: xarray.DataArray} with at least one volume")
    labels = dict(labels or {})
    translations_um = dict(translations_um or {})
    for key in (*labels, *translations_um):
        if key not in images:
            raise InputError(f"{key!r} in labels/translations_um is not one of the images {sorted(images)}")
    root = zarr.open_group(str(path), mode="w", zarr_format=3)  # new or empty: checked above
    listing = {}
    for name, obj in images.items():
        name = _check_name(name, "image")
        _check_volume(name, obj)
        frame = frame_of(obj, ndim=obj.ndim, name=name)
        voxel = np.asarray(frame.voxel_size_um, float)
        origin = np.asarray(translations_um.get(name, frame.origin_um), float)
        if origin.shape != voxel.shape or not np.all(np.isfinite(origin)):
            raise InputError(f"translations_um[{name!r}]={translations_um.get(name)!r}: give {voxel.size} finite µm")
        n_levels = _levels(obj.shape, min_size, max_levels)
        group = root.create_group(name)
        _write_multiscale(group, _pyramid(_as_dask(obj, chunk_voxels), n_levels, False), tuple(obj.dims),
                          voxel, origin, name, labels=False)
        label_names = []
        for lname, lab in labels.get(name, {}).items():
            lname = _check_name(lname, f"{name}: label")
            _check_volume(f"{name}/labels/{lname}", lab)
            if tuple(lab.shape) != tuple(obj.shape) or not np.issubdtype(lab.dtype, np.integer):
                raise InputError(f"labels[{name!r}][{lname!r}]: shape {tuple(lab.shape)} dtype {lab.dtype}; a label "
                                 f"volume is integer on its image's grid {tuple(obj.shape)}")
            _write_multiscale(None, _pyramid(_as_dask(lab, chunk_voxels), n_levels, True), tuple(obj.dims),
                              voxel, origin, lname, labels=True, parent=group)
            label_names.append(lname)
        listing[name] = {"attrs": _json_attrs(obj.attrs), "labels": label_names, "dtype": str(obj.dtype)}
    root.attrs["batteryzoom"] = {"written_by": WRITTEN_BY, "images": listing}
    return path


def _multiscale_volume(group, name: str, where: str):
    """Level 0 of a multiscale group as a lazy DataArray in µm, and its level count."""
    import dask.array as da
    import xarray as xr

    try:
        ms = group.attrs["ome"]["multiscales"][0]
        axes = [a["name"] for a in ms["axes"]]
        ds0 = ms["datasets"][0]
        tf = {t["type"]: t for t in ds0["coordinateTransformations"]}
        scale = np.asarray(tf["scale"]["scale"], float)
        translation = np.asarray(tf.get("translation", {"translation": [0.0] * len(axes)})["translation"], float)
        data = da.from_zarr(group[ds0["path"]])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: not an NGFF multiscale image ({type(exc).__name__}: {exc}); "
                         "open it with an OME-Zarr tool to see what it holds") from None
    if tuple(axes) not in (_SPATIAL, _SPATIAL[1:]) or data.ndim != len(axes):
        raise InputError(f"{where}: axes {axes}; read_ome_zarr reads spatial (z, y, x) or (y, x) images")
    coords = {d: translation[i] + np.arange(data.shape[i]) * scale[i] for i, d in enumerate(axes)}
    arr = xr.DataArray(data, dims=tuple(axes), coords=coords, name=name,
                       attrs={"voxel_size_um": scale.tolist(), "origin_um": translation.tolist(),
                              "pyramid_levels": len(ms["datasets"])})
    return arr


def read_ome_zarr(path: str | os.PathLike, *, labels: bool = True) -> dict[str, Any]:
    """Read every image of an OME-Zarr store (lazily, level 0) in its physical frame.

    Parameters
    ----------
    path : str or path-like
        A store :func:`write_ome_zarr` wrote, or any NGFF 0.5 store with one image at its
        root or one per child group.
    labels : bool
        Also return each image's label volumes, as ``"<image>/labels/<label>"``.

    Returns
    -------
    dict of str to xarray.DataArray
        Name → dask-backed DataArray, dims ``(z, y, x)`` (or ``(y, x)``), coordinates in
        µm of the store's world frame, ``attrs["voxel_size_um"]``, ``attrs["origin_um"]``
        (voxel 0's centre, world frame), ``attrs["pyramid_levels"]`` and the attributes
        the writer recorded.

    Raises
    ------
    InputError
        A path that is not a zarr store or holds no NGFF image.
    """
    import zarr

    path = Path(path)
    try:
        root = zarr.open_group(str(path), mode="r")
    except (FileNotFoundError, ValueError, OSError, zarr.errors.GroupNotFoundError) as exc:
        raise InputError(f"{path}: not a zarr store ({type(exc).__name__}); give the folder an OME-Zarr writer "
                         "made (e.g. batteryzoom export-zarr)") from None
    ours = dict(root.attrs.get("batteryzoom", {}).get("images", {}))
    names = list(ours) or ([""] if "ome" in root.attrs else sorted(root.group_keys()))
    out: dict[str, Any] = {}
    for name in names:
        group = root[name] if name else root
        key = name or path.stem
        arr = _multiscale_volume(group, key, f"{path}/{name}")
        arr.attrs.update({k: v for k, v in ours.get(name, {}).get("attrs", {}).items()
                          if k not in ("voxel_size_um", "origin_um")})
        out[key] = arr
        if labels and "labels" in group:
            for lname in group["labels"].attrs.get("ome", {}).get("labels", []):
                out[f"{key}/labels/{lname}"] = _multiscale_volume(group["labels"][lname], lname,
                                                                  f"{path}/{name}/labels/{lname}")
    if not out:
        raise InputError(f"{path}: no NGFF image found (no 'ome' multiscales at the root or in a child group)")
    return out


def store_levels(path: str | os.PathLike, name: str) -> list:
    """Every pyramid level of one image of a store, finest first, as lazy dask arrays.

    ``name`` is a key :func:`read_ome_zarr` returns (``"particle"``,
    ``"particle/labels/grains"``; ``""`` or the store's stem for an image at the root).
    Level ``k`` has voxels ``2**k`` times larger (for napari's multiscale layers).
    """
    import dask.array as da
    import zarr

    path = Path(path)
    root = zarr.open_group(str(path), mode="r")
    key = "" if name in ("", path.stem) and "ome" in root.attrs else name
    group = root[key] if key else root
    try:
        datasets = group.attrs["ome"]["multiscales"][0]["datasets"]
    except (KeyError, IndexError, TypeError):
        raise InputError(f"{path}/{key}: not an NGFF multiscale image") from None
    return [da.from_zarr(group[ds["path"]]) for ds in datasets]
