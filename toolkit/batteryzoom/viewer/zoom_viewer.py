"""The napari viewer of the zoom: :class:`ZoomViewer` and :func:`show` (see :mod:`batteryzoom.viewer`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..regions import RegionLookup
from ..errors import InputError, MissingDependencyError
from .layers import AXIS_LABELS, UNITS, as_array, box_edges_um, display_labels, label_colormap, volume_scale_um
from .picking import pick_label
from .readout import status_in_um

__all__ = ["ZoomViewer", "show"]

PickCallback = Callable[[str, int], Any]


def _require_napari():
    try:
        import napari
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise MissingDependencyError(
            "napari", "bz.viewer", "pip install 'batteryzoom[napari]'"
        ) from exc
    return napari


def _overlay(viewer: Any, where: str, name: str) -> Any:
    """napari's overlay ``name`` (``viewer.canvas.overlays`` / ``viewer.scene.overlays``
    from napari 0.9; ``viewer.scale_bar`` / ``viewer.axes`` before)."""
    home = getattr(viewer, where, None)
    overlays = getattr(home, "overlays", None)
    return getattr(overlays, name) if overlays is not None else getattr(viewer, name)


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
        self.highlighted: tuple[str, int] | None = None  # (layer name, label) drawn in magenta
        self.viewer.mouse_drag_callbacks.append(self._on_mouse_drag)
        self.viewer.events.status.connect(self._status_in_um)
        _overlay(self.viewer, "canvas", "scale_bar").visible = True  # in µm: every layer has units
        # z, y, x (µm) in a corner of the canvas (scene axes sit at the world's origin, mm
        # away from a particle); napari before 0.9 has only the scene's
        axes = getattr(getattr(self.viewer, "canvas", None), "overlays", None)
        (axes.axes if axes is not None and hasattr(axes, "axes") else _overlay(self.viewer, "scene", "axes")).visible = True
        self._home_fits_visible_layers()

    def _status_in_um(self, event: Any) -> None:
        # napari prints bare world coordinates; ours are µm and say so
        status = status_in_um(event.value, self.viewer.cursor.position)
        if status != event.value:
            self.viewer.status = status

    def _home_fits_visible_layers(self) -> None:
        """Home (the button and its shortcut both call ``viewer.reset_view()``) frames the
        layers shown, not every layer: after :meth:`focus_level` hides the levels around a
        grain, napari's own reset framed the hidden cell, a black canvas 30 mm wide."""
        viewer = self.viewer
        napari_reset = type(viewer).reset_view

        def reset_view(*, layers=None, **kwargs):
            if layers is None:
                shown = [layer for layer in viewer.layers if layer.visible]
                layers = shown or None
            return napari_reset(viewer, layers=layers, **kwargs)

        # an instance attribute, so that only this viewer's Home changes (napari's model
        # refuses unknown attributes through its own __setattr__)
        object.__setattr__(viewer, "reset_view", reset_view)

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
            as_array(volume), name=name, scale=scale, translate=np.asarray(translate_um, float),
            units=UNITS, axis_labels=AXIS_LABELS, **kwargs
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
        data = as_array(labels)
        if not np.issubdtype(np.dtype(data.dtype), np.integer):
            raise InputError(f"labels layer {name!r} has dtype {data.dtype}; pass integer labels")
        lookup = RegionLookup(stats, name=stats_name, spectra=spectra) if stats is not None else None
        max_label = int(lookup.labels.max()) if lookup is not None and len(lookup) else None
        kwargs.setdefault("opacity", 1.0)
        layer = self.viewer.add_labels(
            display_labels(data, max_label), name=name, scale=scale, translate=np.asarray(translate_um, float),
            units=UNITS, axis_labels=AXIS_LABELS, **kwargs
        )
        if pickable:
            self._register(name, lookup, color_by_mean and "colormap" not in kwargs)
        elif lookup is not None and color_by_mean and "colormap" not in kwargs:
            layer.colormap = label_colormap(lookup)
        return layer

    def make_pickable(self, layer_name: str, stats: Any, *, spectra: Any = None, stats_name: str | None = None,
                      color_by_mean: bool = True) -> None:
        """Make a labels layer already in the viewer (e.g. opened from a store through the
        plugin) answer clicks with its regions' statistics, as :meth:`add_labels` does.

        Parameters
        ----------
        layer_name : str
            A labels layer of the viewer.
        stats : RegionStats
            ``bz.regions.region_stats`` of a map over that layer's labels (same grid).
        """
        if layer_name not in self.viewer.layers:
            raise InputError(f"no layer named {layer_name!r}; layers: {[layer.name for layer in self.viewer.layers]}")
        if self.viewer.layers[layer_name].__class__.__name__ != "Labels":
            raise InputError(f"layer {layer_name!r} is not a labels layer: pick the grain labels")
        self._register(layer_name, RegionLookup(stats, name=stats_name, spectra=spectra), color_by_mean)

    def _register(self, name: str, lookup: RegionLookup | None, colour: bool) -> None:
        if lookup is not None and colour:
            self.viewer.layers[name].colormap = label_colormap(lookup)
        self._pickable[name] = lookup
        if lookup is not None:
            self._ensure_dock(lookup.name)

    def add_box(
        self,
        box_min_um: Sequence[float],
        box_max_um: Sequence[float],
        *,
        name: str,
        color: str = "#E69F00",
        width_um: float | None = None,
    ):
        """Draw an axis-aligned box (world µm) as 12 edges, e.g. a child level's field of view.

        The active layer stays what it was: an active shapes layer shows napari's
        shape-editing tools, which have nothing to edit here."""
        extent = float(np.max(np.subtract(box_max_um, box_min_um)))
        active = self.viewer.layers.selection.active
        layer = self.viewer.add_shapes(
            box_edges_um(box_min_um, box_max_um),
            shape_type="path",
            name=name,
            edge_color=color,
            edge_width=width_um if width_um is not None else extent / 100,
            face_color="transparent",
            units=UNITS,
            axis_labels=AXIS_LABELS,
        )
        if active is not None:
            self.viewer.layers.selection.active = active
        return layer

    # --------------------------------------------------------------- picking
    def on_pick(self, callback: PickCallback) -> PickCallback:
        """Call ``callback(layer_name, label)`` whenever a label is picked; returns it."""
        self._callbacks.append(callback)
        return callback

    def select(self, layer_name: str, label: int) -> None:
        """Select ``label`` of a pickable layer as if it had been clicked: the dock shows its
        statistics and the grain is drawn in :data:`~batteryzoom.viewer.layers.HIGHLIGHT_COLOR`.

        The dock is drawn at once, before the 3D canvas (a frame of the highlighted grains
        takes seconds under software OpenGL; the dock's text and histogram do not wait).
        """
        if layer_name not in self._pickable:
            raise InputError(f"{layer_name!r} is not a pickable labels layer; pickable: {list(self._pickable)}")
        layer = self.viewer.layers[layer_name]
        label = int(label)
        lookup = self._pickable[layer_name]
        summary = lookup.summary(label) if lookup is not None else None
        self.picks.append((layer_name, label))
        if self.histogram_dock is not None:
            self._draw_dock_now(summary, label)
        for callback in self._callbacks:
            callback(layer_name, label)
        self.highlight(layer_name, label)

    def _draw_dock_now(self, summary: Any, label: int) -> None:
        # The dock and the 3D canvas share a window, and painting one part of a window
        # renders every part marked dirty: the canvas is (the click), and its frame takes
        # seconds under software OpenGL. With the canvas's updates held, the dock is drawn
        # over the canvas's last frame; the new frame follows in the event loop.
        canvas = getattr(getattr(self.viewer.window, "_qt_viewer", None), "canvas", None)
        native = getattr(canvas, "native", None)
        if native is not None:
            native.setUpdatesEnabled(False)
        try:
            self.histogram_dock.show_summary(summary, label)
        finally:
            if native is not None:
                native.setUpdatesEnabled(True)
                native.update()

    def highlight(self, layer_name: str, label: int | None) -> None:
        """Draw ``label`` of a pickable layer in magenta (None: no grain highlighted)."""
        if self.highlighted is not None and self.highlighted[0] != layer_name:
            previous = self.highlighted[0]
            if previous in self.viewer.layers:
                self.viewer.layers[previous].colormap = label_colormap(self._pickable.get(previous))
        layer = self.viewer.layers[layer_name]
        if label is None:
            layer.colormap = label_colormap(self._pickable.get(layer_name))
            self.highlighted = None
            return
        layer.selected_label = int(label)
        layer.colormap = label_colormap(self._pickable.get(layer_name), highlight=int(label))
        self.highlighted = (layer_name, int(label))

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
        from ._qt import HistogramDock

        self.histogram_dock = HistogramDock(value_name)
        self.viewer.window.add_dock_widget(self.histogram_dock, name="grain histogram", area="right")

    # ----------------------------------------------------------------- views
    def focus(self, layer_name: str, margin: float = 1.1) -> None:
        """Centre the camera on a layer and zoom so that it fills the canvas."""
        layer = self.viewer.layers[layer_name]
        # napari's fit (the camera's angles kept): its margin is a fraction of the canvas
        self.viewer.fit_to_view(layers=[layer], margin=1.0 - 1.0 / margin)

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
        _activate_a_data_layer(self.viewer, visible_only=True)

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
        self.highlighted = None
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
    from ..plots.style import SCALE_COLORS

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
    _activate_a_data_layer(zv.viewer)
    return zv


def _activate_a_data_layer(viewer: Any, visible_only: bool = False) -> None:
    """Make the finest grey-level layer active (its controls: contrast, colormap,
    rendering), else the finest labels layer: never a box, whose controls are napari's
    shape-editing tools."""
    layers = [layer for layer in viewer.layers if layer.visible or not visible_only]
    for kind in ("image", "labels"):
        found = [layer for layer in layers if type(layer).__name__.lower() == kind]
        if found:
            viewer.layers.selection.active = found[-1]
            return


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
