"""napari's File > Open for batteryzoom's files (the npe2 plugin in ``batteryzoom/napari.yaml``).

``pip install batteryzoom[napari]`` registers the plugin; napari then opens

- an OME-Zarr store :func:`batteryzoom.zoom.write_zoom_zarr` (``batteryzoom export-zarr``)
  wrote, or any NGFF 0.5 image :func:`batteryzoom.io.read_ome_zarr` reads: every image as
  a multiscale layer and every label volume as a labels layer, each at its physical
  position (``scale`` and ``translate`` in µm, ``units`` micrometre, axis labels z, y, x);
- a TXM frame (``.xrm``, :func:`batteryzoom.io.read_xrm`) in µm when its pixel size is
  recorded;
- a raw tomography acquisition :func:`batteryzoom.io.read_acquisition` reads (``.txrm``,
  Data Exchange / NeXus / FXI ``.h5``): its projections ``(angle, row, col)``.

A file the plugin cannot read makes :func:`get_reader` return None (napari then offers
other readers), never an exception; a file it recognises but finds damaged raises the
reader's :class:`~batteryzoom.errors.BatteryZoomError`, which napari shows.

This module imports napari nowhere: the layer data it returns are plain tuples, so it is
tested without a display; the viewer test opens a store through napari itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["get_reader", "read_layers"]

LayerData = tuple[Any, dict, str]
_UM = "micrometer"


def _is_ngff(path: Path) -> bool:
    import json

    meta = path / "zarr.json"
    if not meta.is_file():
        return False
    try:
        attrs = json.loads(meta.read_text()).get("attributes", {})
    except (OSError, ValueError):
        return False
    if "batteryzoom" in attrs or "ome" in attrs:
        return True
    return any((child / "zarr.json").is_file() and '"ome"' in (child / "zarr.json").read_text()
               for child in path.iterdir() if child.is_dir())


def _ome_zarr_layers(path: Path) -> list[LayerData]:
    from ..io.omezarr import read_ome_zarr, store_levels

    layers = []
    for name, arr in read_ome_zarr(path).items():
        is_label = "/labels/" in name
        kwargs = {
            "name": name.replace("--", "/"),
            "scale": tuple(arr.attrs["voxel_size_um"]),
            "translate": tuple(arr.attrs["origin_um"]),
            "units": (_UM,) * arr.ndim,
            "axis_labels": tuple(arr.dims),
            "metadata": {"batteryzoom": {k: v for k, v in arr.attrs.items() if isinstance(v, (str, int, float, list))}},
        }
        levels = store_levels(path, name)
        if len(levels) > 1:
            kwargs["multiscale"] = True
            data = levels
        else:
            data = arr.data
        if not is_label:
            kwargs["blending"] = "translucent" if layers else "opaque"
        layers.append((data, kwargs, "labels" if is_label else "image"))
    return layers


def _xrm_layers(path: Path) -> list[LayerData]:
    from ..io.txm import read_xrm

    frame = read_xrm(path)
    pixel = frame.attrs.get("pixel_size_um")
    lead = frame.ndim - 2
    kwargs = {"name": path.name, "axis_labels": tuple(frame.dims),
              "metadata": {"energy_ev": frame.attrs.get("energy_ev")}}
    if pixel:
        kwargs.update(scale=(1.0,) * lead + (float(pixel),) * 2, units=("",) * lead + (_UM,) * 2)
    return [(frame.values, kwargs, "image")]


def _acquisition_layers(path: Path) -> list[LayerData]:
    from ..io.tomo import read_acquisition

    acq = read_acquisition(path)
    proj = acq["projections"]
    pixel = acq.attrs.get("pixel_size_um")
    lead = proj.ndim - 2
    kwargs = {"name": f"{path.name} projections", "axis_labels": tuple(proj.dims)}
    if pixel:
        kwargs.update(scale=(1.0,) * lead + (float(pixel),) * 2, units=("",) * lead + (_UM,) * 2)
    return [(proj.data, kwargs, "image")]


def read_layers(path: str | os.PathLike) -> list[LayerData]:
    """The napari layer data of one file or store (see the module docstring).

    Returns
    -------
    list of (data, kwargs, layer_type)
        napari's LayerData tuples: ``data`` a numpy/dask array (or a list of them for a
        multiscale image), ``kwargs`` the layer's keyword arguments (``scale``,
        ``translate`` in µm, ``units``, ``axis_labels``, ``name``), ``layer_type``
        ``"image"`` or ``"labels"``.

    Raises
    ------
    BatteryZoomError
        The file is of a kind this plugin reads but cannot be read (the reader's message).
    """
    path = Path(path)
    if path.is_dir() and _is_ngff(path):
        return _ome_zarr_layers(path)
    if path.suffix.lower() == ".xrm":
        return _xrm_layers(path)
    return _acquisition_layers(path)


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """napari's reader hook: :func:`read_layers` if ``path`` looks like ours, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir():
        return (lambda _path: read_layers(p)) if _is_ngff(p) else None
    if p.suffix.lower() in (".xrm", ".txrm", ".h5", ".hdf5", ".hdf", ".nxs"):
        return lambda _path: read_layers(p)
    return None
