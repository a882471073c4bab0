"""What napari is given for each layer: scale and units in µm, display dtype, colours, boxes.

Qt-free (napari's colormap classes are imported inside :func:`label_colormap`), so these
rules are tested without a window.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations, product
from typing import Any

import numpy as np

from ..errors import InputError
from ..frames import frame_of

__all__ = ["UNITS", "AXIS_LABELS", "HIGHLIGHT_COLOR", "HIGHLIGHT_RGBA", "volume_scale_um", "as_array", "display_labels",
           "box_edges_um", "label_colors", "label_colormap"]

# every layer's world axes are µm (pint spelling for napari's ``units``)
UNITS = ("um", "um", "um")
# napari's axes overlay and dims sliders show these; it has no place for a unit of its own
AXIS_LABELS = ("z (µm)", "y (µm)", "x (µm)")
# the picked grain: magenta is outside viridis, so it never reads as an edge energy
HIGHLIGHT_COLOR = "#FF00FF"
HIGHLIGHT_RGBA = (1.0, 0.0, 1.0, 1.0)
# grains of a layer without statistics once one of them is picked
_UNPICKED_GREY = (0.7, 0.7, 0.7, 1.0)


def volume_scale_um(volume: Any, voxel_size_um: Sequence[float] | float | None = None) -> np.ndarray:
    """Voxel size (µm, ``(z, y, x)``) of ``volume``: the argument, else what the volume
    records (``bz.frames.frame_of``: ``attrs["voxel_size_um"]`` or coordinate spacing).

    Raises
    ------
    InputError
        When none is given or recorded, or the size is not three positive numbers.

    Examples
    --------
    >>> import numpy as np
    >>> volume_scale_um(np.zeros((2, 3, 4)), 0.5)
    array([0.5, 0.5, 0.5])
    """
    frame = frame_of(volume, voxel_size_um, ndim=3, missing="raise", name="the volume")
    return np.asarray(frame.voxel_size_um, float)


def as_array(volume: Any) -> Any:
    """The array napari should display (numpy or dask; xarray unwrapped, never loaded)."""
    # an xarray object's .data is its numpy/dask array (a numpy array's .data is a buffer)
    data = volume.data if hasattr(volume, "dims") else volume
    if getattr(data, "ndim", None) != 3:
        raise InputError(f"expected a 3D volume (z, y, x); got shape {getattr(data, 'shape', None)}")
    return data


def display_labels(data: Any, max_label: int | None = None) -> Any:
    """Labels in the smallest unsigned dtype that holds them (uint8/uint16), else as given.

    napari draws uint8/uint16 labels through a lookup texture and wider integers through a
    hash table in the shader: under software OpenGL (Xvfb, remote desktops) a frame of the
    twin's 2,032 grains took 5-9 s as int32 and ~1.4 s as uint16. ``max_label`` (e.g. from
    the statistics) spares a pass over a dask array; a numpy array is measured.

    >>> display_labels(np.array([[[0, 3], [2, 1]]], dtype=np.int64)).dtype
    dtype('uint8')
    >>> display_labels(np.array([[[0, 70000]]])).dtype
    dtype('int64')
    """
    dtype = np.dtype(data.dtype)
    if not np.issubdtype(dtype, np.integer) or dtype.itemsize <= 2 and dtype.kind == "u":
        return data
    if max_label is None:
        if not isinstance(data, np.ndarray):
            return data  # a dask volume: one more pass over it is not worth a faster frame
        if data.size and data.min() < 0:
            return data
        max_label = int(data.max()) if data.size else 0
    for small in (np.uint8, np.uint16):
        if max_label <= np.iinfo(small).max:
            return data.astype(small)
    return data


def box_edges_um(box_min_um: Sequence[float], box_max_um: Sequence[float]) -> list[np.ndarray]:
    """The 12 edges of an axis-aligned box as 2-point paths (world µm, z y x).

    >>> len(box_edges_um((0, 0, 0), (1, 2, 3)))
    12
    """
    bounds = np.stack([np.asarray(box_min_um, float), np.asarray(box_max_um, float)])
    bits = list(product((0, 1), repeat=3))
    corners = [bounds[list(b), [0, 1, 2]] for b in bits]
    return [
        np.stack([corners[i], corners[j]])
        for i, j in combinations(range(8), 2)
        if sum(a != b for a, b in zip(bits[i], bits[j])) == 1  # neighbours differ on one axis
    ]


def label_colors(lookup: Any = None, highlight: int | None = None) -> dict:
    """RGBA per label: by mean (viridis over the 2–98 % range of the means, as the
    notebook's GrainExplorer) when statistics are given, the picked label in
    :data:`HIGHLIGHT_COLOR`; ``None`` keys the colour of labels not listed.

    Without statistics the unpicked labels are grey once one is picked.

    >>> import numpy as np, batteryzoom as bz
    >>> stats = bz.regions.region_stats(np.array([1.0, 2.0, 3.0]), np.array([1, 2, 3]), name="e")
    >>> colors = label_colors(bz.regions.RegionLookup(stats), highlight=2)
    >>> colors[2].tolist(), colors[0].tolist()
    ([1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    """
    from napari.utils.colormaps import ensure_colormap

    colors: dict = {}
    if lookup is not None:
        finite = lookup.mean[np.isfinite(lookup.mean)]
        lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
        scaled = np.clip((lookup.mean - lo) / max(hi - lo, 1e-12), 0, 1)
        rgba = ensure_colormap("viridis").map(np.nan_to_num(scaled, nan=0.0))
        colors = {int(lab): np.asarray(c, float) for lab, c in zip(lookup.labels, rgba)}
        colors[None] = np.zeros(4)  # labels without statistics: transparent
    else:
        colors[None] = np.asarray(_UNPICKED_GREY)
    colors[0] = np.zeros(4)
    if highlight is not None:
        colors[int(highlight)] = np.asarray(HIGHLIGHT_RGBA)
    return colors


def label_colormap(lookup: Any = None, highlight: int | None = None):
    """:func:`label_colors` as a napari ``DirectLabelColormap``."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict=label_colors(lookup, highlight))
