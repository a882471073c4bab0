"""napari: every level of the zoom in one world frame, and grain picking in 3D.

``bz.viewer`` is the optional desktop view (``pip install 'batteryzoom[napari]'``). napari
and Qt are imported inside the functions that need them, so ``import batteryzoom`` (and even
``import batteryzoom.viewer``) never loads them.

Every layer gets ``scale`` (voxel size, µm) and ``translate`` (where its voxel ``(0, 0, 0)``
centre sits in the world frame, µm), so the cell, the electrode, the particle and its grains
overlap where they physically are, and zooming the canvas is a physical zoom from the cell
(mm) down to a grain (a fraction of a µm).

Picking: a click (press and release without dragging) on the canvas casts the ray along the
camera's view direction through the clicked point and asks each pickable labels layer for
the first non-background label along it (napari's ``Layer.get_value(position,
view_direction=..., dims_displayed=..., world=True)``). The picked label goes to the
callbacks registered with :meth:`ZoomViewer.on_pick` and, when statistics were given, its
edge-energy histogram is drawn in a dock widget.

>>> zv = bz.viewer.show(hierarchy, data, labels={"twin/particle-xanes": grains},
...                     stats={"twin/particle-xanes": stats})          # doctest: +SKIP
>>> zv.on_pick(lambda layer, label: print(layer, label))               # doctest: +SKIP
"""

from __future__ import annotations

import os
from itertools import combinations, product
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .regions import RegionLookup
from .errors import InputError, MissingDependencyError

__all__ = ["ZoomViewer", "show", "pick_label", "volume_scale_um"]

PickCallback = Callable[[str, int], Any]


def _require_napari():
    try:
        import napari
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise MissingDependencyError(
            "napari", "bz.viewer", "pip install 'batteryzoom[napari]'"
        ) from exc
    return napari


def volume_scale_um(volume: Any, voxel_size_um: Sequence[float] | float | None = None) -> np.ndarray:
    """Voxel size (µm, ``(z, y, x)``) of ``volume``: the argument, else the xarray's
    ``attrs["voxel_size_um"]`` or coordinate spacing.

    Raises
    ------
    InputError
        When none is given, or the size is not three positive numbers.
    """
    from .plots.zoom import volume_frame

    return volume_frame(volume, voxel_size_um)[0]


def _as_array(volume: Any) -> Any:
    """The array napari should display (numpy or dask; xarray unwrapped, never loaded)."""
    # an xarray object's .data is its numpy/dask array (a numpy array's .data is a buffer)
    data = volume.data if hasattr(volume, "dims") else volume
    if getattr(data, "ndim", None) != 3:
        raise InputError(f"expected a 3D volume (z, y, x); got shape {getattr(data, 'shape', None)}")
    return data


def pick_label(layer: Any, event: Any) -> int | None:
    """The first non-background label of ``layer`` along the click's ray, or None.

    Parameters
    ----------
    layer : napari.layers.Labels
    event : napari mouse event
        Carries ``position`` (world, µm), ``view_direction`` and ``dims_displayed``; in 2D
        the view direction is None and the value under the cursor is returned.
    """
    value = layer.get_value(
        event.position,
        view_direction=event.view_direction,
        dims_displayed=list(event.dims_displayed),
        world=True,
    )
    if isinstance(value, tuple):  # multiscale: (data_level, value)
        value = value[-1]
    if value is None:
        return None
    value = int(value)
    return value if value != 0 else None


def _mean_colormap(lookup: RegionLookup):
    """A napari label colormap: each label coloured by its mean (viridis, 2–98 % range)."""
    from napari.utils.colormaps import DirectLabelColormap, ensure_colormap

    finite = lookup.mean[np.isfinite(lookup.mean)]
    lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
    scaled = np.clip((lookup.mean - lo) / max(hi - lo, 1e-12), 0, 1)
    colors = ensure_colormap("viridis").map(np.nan_to_num(scaled, nan=0.0))
    color_dict = {int(lab): c for lab, c in zip(lookup.labels, colors)}
    color_dict[None] = np.zeros(4)  # labels without statistics: transparent
    color_dict[0] = np.zeros(4)
    return DirectLabelColormap(color_dict=color_dict)


def _box_edges_um(box_min_um: Sequence[float], box_max_um: Sequence[float]) -> list[np.ndarray]:
    """The 12 edges of an axis-aligned box as 2-point paths (world µm, z y x)."""
    bounds = np.stack([np.asarray(box_min_um, float), np.asarray(box_max_um, float)])
    bits = list(product((0, 1), repeat=3))
    corners = [bounds[list(b), [0, 1, 2]] for b in bits]
    return [
        np.stack([corners[i], corners[j]])
        for i, j in combinations(range(8), 2)
        if sum(a != b for a, b in zip(bits[i], bits[j])) == 1  # neighbours differ on one axis
    ]


class ZoomViewer:
    """A napari viewer holding levels of the zoom in one world frame (µm), with picking.

    Parameters
    ----------
    viewer : napari.Viewer, optional
        An existing viewer to fill; a new one is created otherwise.
    title : str
    ndisplay : {2, 3}
        Start in 2D slices or in 3D.
    show : bool
        Show the window (False for scripted use, e.g. screenshots in tests).
    """

    def __init__(self, viewer: Any = None, *, title: str = "batteryzoom", ndisplay: int = 3, show: bool = True):
        napari = _require_napari()
        self.viewer = viewer if viewer is not None else napari.Viewer(title=title, ndisplay=ndisplay, show=show)
        self.viewer.dims.ndisplay = ndisplay
        self.picks: list[tuple[str, int]] = []
        self._pickable: dict[str, RegionLookup | None] = {}
        self._callbacks: list[PickCallback] = []
        self.histogram_dock = None
        self.hierarchy: Any = None
        self.level_layers: dict[str, list[str]] = {}  # level name -> its layers' names
        self.viewer.mouse_drag_callbacks.append(self._on_mouse_drag)

    @property
    def camera(self) -> Any:
        """The napari camera (``viewer.scene.camera`` from napari 0.9, ``viewer.camera`` before)."""
        scene = getattr(self.viewer, "scene", None)
        return scene.camera if scene is not None else self.viewer.camera

    # ---------------------------------------------------------------- layers
    def add_image(
        self,
        volume: Any,
        *,
        name: str,
        translate_um: Sequence[float] = (0.0, 0.0, 0.0),
        voxel_size_um: Sequence[float] | float | None = None,
        **kwargs: Any,
    ):
        """Add a grey-level volume; ``translate_um`` is its voxel-0 centre in the world (µm)."""
        scale = volume_scale_um(volume, voxel_size_um)
        kwargs.setdefault("colormap", "gray")
        kwargs.setdefault("blending", "translucent")
        kwargs.setdefault("rendering", "attenuated_mip")
        return self.viewer.add_image(
            _as_array(volume), name=name, scale=scale, translate=np.asarray(translate_um, float), **kwargs
        )

    def add_labels(
        self,
        labels: Any,
        *,
        name: str,
        translate_um: Sequence[float] = (0.0, 0.0, 0.0),
        voxel_size_um: Sequence[float] | float | None = None,
        stats: Any = None,
        spectra: Any = None,
        stats_name: str | None = None,
        pickable: bool = True,
        color_by_mean: bool = True,
        **kwargs: Any,
    ):
        """Add a label volume (particles, grains). Pickable layers answer clicks in 3D.

        Parameters
        ----------
        labels : array-like (z, y, x) of int
        stats : RegionStats, optional
            ``bz.regions.region_stats`` of a map over these labels: the picked label's
            histogram, mean and FWHM are drawn in the dock.
        spectra : optional
            Mean spectrum per label (see :class:`batteryzoom.regions.RegionLookup`).
        color_by_mean : bool
            With ``stats``, colour each label by its mean (viridis over the 2–98 % range of
            the means, as in the notebook's GrainExplorer) instead of napari's random colours.
        """
        scale = volume_scale_um(labels, voxel_size_um)
        data = _as_array(labels)
        if not np.issubdtype(np.dtype(data.dtype), np.integer):
            raise InputError(f"labels layer {name!r} has dtype {data.dtype}; pass integer labels")
        kwargs.setdefault("opacity", 1.0)
        layer = self.viewer.add_labels(
            data, name=name, scale=scale, translate=np.asarray(translate_um, float), **kwargs
        )
        lookup = RegionLookup(stats, name=stats_name, spectra=spectra) if stats is not None else None
        if lookup is not None and color_by_mean and "colormap" not in kwargs:
            layer.colormap = _mean_colormap(lookup)
        if pickable:
            self._pickable[name] = lookup
            if lookup is not None:
                self._ensure_dock(lookup.name)
        return layer

    def add_box(
        self,
        box_min_um: Sequence[float],
        box_max_um: Sequence[float],
        *,
        name: str,
        color: str = "#E69F00",
        width_um: float | None = None,
    ):
        """Draw an axis-aligned box (world µm) as 12 edges, e.g. a child level's field of view."""
        extent = float(np.max(np.subtract(box_max_um, box_min_um)))
        return self.viewer.add_shapes(
            _box_edges_um(box_min_um, box_max_um),
            shape_type="path",
            name=name,
            edge_color=color,
            edge_width=width_um if width_um is not None else extent / 100,
            face_color="transparent",
        )

    # --------------------------------------------------------------- picking
    def on_pick(self, callback: PickCallback) -> PickCallback:
        """Call ``callback(layer_name, label)`` whenever a label is picked; returns it."""
        self._callbacks.append(callback)
        return callback

    def select(self, layer_name: str, label: int) -> None:
        """Select ``label`` of a pickable layer as if it had been clicked."""
        if layer_name not in self._pickable:
            raise InputError(f"{layer_name!r} is not a pickable labels layer; pickable: {list(self._pickable)}")
        layer = self.viewer.layers[layer_name]
        label = int(label)
        lookup = self._pickable[layer_name]
        summary = lookup.summary(label) if lookup is not None else None
        layer.selected_label = label
        self.picks.append((layer_name, label))
        if self.histogram_dock is not None:
            self.histogram_dock.show_summary(summary, label)
        for callback in self._callbacks:
            callback(layer_name, label)

    def _pick(self, event: Any) -> tuple[str, int] | None:
        # the finest level was added last and sits inside the others: ask it first
        for name in reversed(list(self._pickable)):
            layer = self.viewer.layers[name]
            if not layer.visible:
                continue
            label = pick_label(layer, event)
            if label is not None:
                return name, label
        return None

    def _on_mouse_drag(self, viewer: Any, event: Any):
        # a click is a press and a release without motion; a drag rotates the camera
        yield
        dragged = False
        while event.type == "mouse_move":
            dragged = True
            yield
        if dragged or not self._pickable:
            return
        hit = self._pick(event)
        if hit is not None:
            self.select(*hit)

    def _ensure_dock(self, value_name: str) -> None:
        if self.histogram_dock is not None:
            return
        from ._viewer_qt import HistogramDock

        self.histogram_dock = HistogramDock(value_name)
        self.viewer.window.add_dock_widget(self.histogram_dock, name="grain histogram", area="right")

    # ----------------------------------------------------------------- views
    def focus(self, layer_name: str, margin: float = 1.1) -> None:
        """Centre the camera on a layer and zoom so that it fills the canvas."""
        layer = self.viewer.layers[layer_name]
        extent = np.asarray(layer.extent.world)  # (2, 3): min, max corners in µm
        self.camera.center = tuple((extent[0] + extent[1]) / 2)
        size = float(np.max(extent[1] - extent[0])) * margin
        canvas = self.viewer.window._qt_viewer.canvas.size if hasattr(self.viewer, "window") else (600, 600)
        self.camera.zoom = float(min(canvas)) / size

    def focus_level(self, name: str, margin: float = 1.1) -> None:
        """Zoom onto one level of the hierarchy (after :func:`show`).

        The level's layers and those of the levels inside it are shown, the data of the
        levels that contain it are hidden (their voxels would stand between the camera and
        the level), and the camera frames the level's box.
        """
        if self.hierarchy is None or name not in self.level_layers:
            raise InputError(f"{name!r} is not a level shown by bz.viewer.show; levels: {list(self.level_layers)}")
        inside = {n for n in self.level_layers if name in self.hierarchy.path(n)}
        for level, layer_names in self.level_layers.items():
            for layer_name in layer_names:
                self.viewer.layers[layer_name].visible = level in inside
        self.focus(self.level_layers[name][0], margin=margin)

    def screenshot(self, path: str | os.PathLike | None = None, canvas_only: bool = True) -> np.ndarray:
        """RGBA image of the canvas (and save it as PNG when ``path`` is given)."""
        image = self.viewer.screenshot(canvas_only=canvas_only)
        if path is not None:
            import imageio.v3 as iio

            iio.imwrite(Path(path), image)
        return image

    def clear(self) -> None:
        """Remove every layer and forget picks, pickable layers and callbacks."""
        self.viewer.layers.clear()
        self.picks.clear()
        self._pickable.clear()
        self._callbacks.clear()
        self.level_layers.clear()
        self.hierarchy = None
        if self.histogram_dock is not None:
            self.histogram_dock.show_summary(None)

    def close(self) -> None:
        """Close the napari window."""
        self.viewer.close()


def show(
    hierarchy: Any,
    data: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, Any] | None = None,
    stats: Mapping[str, Any] | None = None,
    spectra: Mapping[str, Any] | None = None,
    on_pick: PickCallback | None = None,
    boxes: bool = True,
    ndisplay: int = 3,
    viewer: Any = None,
    show: bool = True,
) -> ZoomViewer:
    """Open the levels of ``hierarchy`` as napari layers in one world frame (µm).

    Parameters
    ----------
    hierarchy : batteryzoom.zoom.Hierarchy
        Where each level sits: its ``napari_transform(name)`` gives the layer's ``scale``
        and ``translate`` in µm.
    data : mapping of level name -> volume (z, y, x), optional
        Grey-level volumes to show; a level's own ``data`` is used when not given here. A
        volume may be a strided subsample of its level (every k-th voxel from voxel 0 along
        an axis, e.g. ``cell[:, ::2, ::2]``, lighter to render): its scale is then k voxels.
    labels : mapping of level name -> label volume (z, y, x), optional
        Label layers (particles at the electrode, grains at the particle); pickable.
    stats : mapping of level name -> RegionStats, optional
        Per-label statistics of those labels (``bz.regions.region_stats``): the picked
        label's histogram is drawn in a dock.
    spectra : mapping of level name -> mean spectra per label, optional
    on_pick : callable(layer_name, label), optional
    boxes : bool
        Draw each level's box (its field of view) as an outline.
    ndisplay : {2, 3}
    viewer : napari.Viewer, optional
    show : bool

    Returns
    -------
    ZoomViewer
    """
    from .plots.style import SCALE_COLORS

    zv = ZoomViewer(viewer, ndisplay=ndisplay, show=show)
    data = dict(data or {})
    labels = dict(labels or {})
    stats = dict(stats or {})
    spectra = dict(spectra or {})
    unknown = (set(data) | set(labels) | set(stats)) - set(_level_names(hierarchy))
    if unknown:
        raise InputError(f"levels {sorted(unknown)} are not in the hierarchy {_level_names(hierarchy)}")
    zv.hierarchy = hierarchy
    for name in _level_names(hierarchy):
        scale, translate = _transform(hierarchy, name)
        layers = []
        volume = data.get(name)
        if volume is None:
            volume = getattr(_level(hierarchy, name), "data", None)
        if volume is not None:
            step = _stride(volume, _level(hierarchy, name), name)
            layers.append(zv.add_image(volume, name=name, voxel_size_um=scale * step, translate_um=translate).name)
        if name in labels:
            layers.append(zv.add_labels(
                labels[name], name=f"{name} labels", voxel_size_um=scale, translate_um=translate,
                stats=stats.get(name), spectra=spectra.get(name),
            ).name)
        if boxes:
            lo, hi = _world_box(hierarchy, name)
            color = SCALE_COLORS.get(getattr(_level(hierarchy, name), "scale", None) or "", "#E69F00")
            layers.append(zv.add_box(lo, hi, name=f"{name} box", color=color).name)
        zv.level_layers[name] = layers
    if on_pick is not None:
        zv.on_pick(on_pick)
    return zv


# -- adapters to bz.zoom.Hierarchy (kept in one place) ---------------------------------

def _level_names(hierarchy: Any) -> list[str]:
    return list(hierarchy.names)


def _level(hierarchy: Any, name: str) -> Any:
    return hierarchy[name]


def _stride(volume: Any, level: Any, name: str) -> np.ndarray:
    """Per-axis step between a volume's voxels and its level's (1 = full resolution)."""
    full = getattr(level, "shape", None)
    shape = tuple(getattr(volume, "shape", ()))
    if full is None or shape == tuple(full):
        return np.ones(3)
    step = np.ceil(np.asarray(full, float) / np.asarray(shape, float))
    if len(shape) != 3 or np.any(np.ceil(np.asarray(full) / step) != np.asarray(shape)):
        raise InputError(
            f"data[{name!r}] has shape {shape}; the level is {tuple(full)}: pass the level's volume "
            "or a strided subsample of it (e.g. volume[:, ::2, ::2])"
        )
    return step


def _transform(hierarchy: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    t = hierarchy.napari_transform(name)
    if isinstance(t, Mapping):
        return np.asarray(t["scale"], float), np.asarray(t["translate"], float)
    scale, translate = t
    return np.asarray(scale, float), np.asarray(translate, float)


def _world_box(hierarchy: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    box = hierarchy.world_box(name)
    if isinstance(box, Mapping):
        return np.asarray(box["min"], float), np.asarray(box["max"], float)
    lo, hi = box
    return np.asarray(lo, float), np.asarray(hi, float)
