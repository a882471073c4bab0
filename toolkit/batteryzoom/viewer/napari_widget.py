"""napari's Plugins > batteryzoom > Grain distributions: click a grain, see its distribution.

The npe2 widget of ``batteryzoom/napari.yaml``. After File > Open of a zoom store
(``batteryzoom export-zarr``, read by :mod:`.napari_reader`) the viewer holds the grain
level's map (e.g. the edge energy, eV) and its grain labels as two layers on one grid. The
widget pairs a labels layer with a map on the same grid, computes the per-grain statistics
once (:func:`batteryzoom.regions.region_stats`, chunk by chunk when the layers are dask
arrays), and from then on a click on a grain in 3D draws that grain's histogram, mean and
FWHM in the dock of :class:`~batteryzoom.viewer.ZoomViewer` (the same dock and picking as
``bz.viewer.show``).

Which layers pair, and what the map's values are called, is decided Qt-free here
(:func:`layer_pairs`, :func:`value_name`, :func:`grain_stats`); the widget itself,
``batteryzoom.viewer._grain_widget.GrainWidget`` (the manifest's ``python_name``: napari passes the
viewer to a widget class whose ``__init__`` takes ``napari_viewer``), only draws the choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["layer_pairs", "value_name", "grain_stats"]


def _level0(layer: Any) -> Any:
    """The full-resolution array of a layer (a multiscale layer holds napari's
    ``MultiScaleData`` or a list, whose item 0 is the finest level)."""
    data = layer.data
    return data[0] if getattr(layer, "multiscale", False) or isinstance(data, (list, tuple)) else data


def _same_grid(a: Any, b: Any) -> bool:
    shape_a, shape_b = tuple(_level0(a).shape), tuple(_level0(b).shape)
    return (shape_a == shape_b and np.allclose(a.scale, b.scale, rtol=1e-6)
            and np.allclose(a.translate, b.translate, rtol=1e-6, atol=1e-9))


def _rank(name: str, words: tuple[str, ...]) -> int:
    low = name.lower()
    return next((i for i, w in enumerate(words) if w in low), len(words))


def layer_pairs(layers: Iterable[Any]) -> list[tuple[str, str]]:
    """``(labels layer, map layer)`` names that lie on one grid (shape, scale, translate),
    the likeliest first: labels named like grains, maps named like edge energies.

    Parameters
    ----------
    layers : iterable of napari layers
        Anything with ``name``, ``data``, ``scale``, ``translate`` and a class named
        ``Labels`` or ``Image``.

    Examples
    --------
    >>> from types import SimpleNamespace as L
    >>> grid = dict(scale=(0.1, 0.1, 0.1), translate=(0.0, 0.0, 0.0))
    >>> class Labels(L): pass
    >>> class Image(L): pass
    >>> layers = [Image(name="nano-ct", data=np.zeros((8, 8, 8)), **grid),
    ...           Image(name="edge", data=np.zeros((4, 4, 4)), **grid),
    ...           Labels(name="grains", data=np.zeros((4, 4, 4), int), **grid)]
    >>> layer_pairs(layers)
    [('grains', 'edge')]
    """
    layers = list(layers)
    labels = [lyr for lyr in layers if type(lyr).__name__ == "Labels"]
    images = [lyr for lyr in layers if type(lyr).__name__ == "Image"]
    pairs = [(lab, img) for lab in labels for img in images if _same_grid(lab, img)]
    pairs.sort(key=lambda p: (_rank(p[0].name, ("grain",)), _rank(p[1].name, ("edge", "ev", "xanes"))))
    return [(lab.name, img.name) for lab, img in pairs]


def value_name(layer: Any) -> str:
    """The statistics' column prefix for a map layer, its unit in the name
    (``edge_energy_ev`` for a map in eV; the layer's own ``name`` attribute when the
    store recorded one; ``value`` when nothing says what the values are).

    >>> from types import SimpleNamespace as L
    >>> value_name(L(name="twin/particle-xanes", metadata={"batteryzoom": {"units": "eV"}}))
    'edge_energy_ev'
    >>> value_name(L(name="ct", metadata={}))
    'value'
    """
    attrs = (getattr(layer, "metadata", None) or {}).get("batteryzoom", {})
    if isinstance(attrs.get("name"), str) and attrs["name"]:
        return attrs["name"]
    if str(attrs.get("units", "")).lower() == "ev":
        return "edge_energy_ev"
    return "value"


def grain_stats(labels_layer: Any, map_layer: Any, *, progress: bool | None = None) -> Any:
    """:func:`batteryzoom.regions.region_stats` of ``map_layer`` over ``labels_layer``
    (full resolution; dask data are read chunk by chunk).

    Raises
    ------
    InputError
        The layers do not lie on one grid, or the labels are not integers.
    """
    from ..regions import region_stats

    if not _same_grid(labels_layer, map_layer):
        raise InputError(
            f"layers {labels_layer.name!r} and {map_layer.name!r} are not on one grid (shape "
            f"{tuple(_level0(labels_layer).shape)} vs {tuple(_level0(map_layer).shape)}, scale "
            f"{tuple(labels_layer.scale)} vs {tuple(map_layer.scale)} µm): pick a map of the labels' level, "
            "or regrid the labels onto the map (bz.zoom.Hierarchy.regrid_labels)")
    labels = _level0(labels_layer)
    if not np.issubdtype(np.dtype(labels.dtype), np.integer):
        raise InputError(f"layer {labels_layer.name!r} has dtype {labels.dtype}: grain labels must be integers")
    return region_stats(_level0(map_layer), labels, name=value_name(map_layer),
                        voxel_size_um=tuple(float(s) for s in labels_layer.scale), progress=progress)
