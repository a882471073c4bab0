"""Helpers the scale modules share: the level figure (a slice in µm with its child's box)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .sources import Source


# what a child's box on its parent's slice is called (not the dataset's file name)
_BOX_LABELS = {"electrode": "electrode CT", "particle": "particle nano-CT", "grain": "3D XANES field of view"}


def level_figure(source: Source, scale: str, volume: Any, title: str) -> Any | None:
    """A slice of ``scale``'s volume in µm, with its child's box (where the zoom goes next)."""
    from ..plots import style
    from ..plots import zoom as pz

    h = source.hierarchy()
    name = source.level(scale)
    if h is None or name is None or name not in h:
        return None
    lv = h[name]
    kids = [k for k in h.children(name) if h[k].shape is not None]
    boxes = []
    index = lv.shape[0] // 2
    for k, kid in enumerate(kids):
        lo, hi = h.box_in(kid, name)
        if k == 0:  # the plane through the first child's centre, so its box shows cut
            index = int(np.clip(np.rint((lo[0] + hi[0]) / 2 / lv.voxel_size_um[0]), 0, lv.shape[0] - 1))
        scale_of_kid = h[kid].scale or ""
        boxes.append((kid, lo, hi, style.SCALE_COLORS.get(scale_of_kid, style.COLORWAY[0]), True,
                      _BOX_LABELS.get(scale_of_kid, kid.split("/")[-1])))
    data = volume.data if hasattr(volume, "data") else volume
    plane = np.asarray(data[index], dtype=np.float32)
    z_um = index * lv.voxel_size_um[0]
    return pz.level_figure(plane, axis="z", voxel_size_um=lv.voxel_size_um, boxes=boxes,
                           title=f"{title} (z = {style.um_text(z_um)} µm)", height=560)

