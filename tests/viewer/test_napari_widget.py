"""The npe2 grain widget: after File > Open of a zoom store, pair the grain labels with the
map on their grid, compute the per-grain statistics once, and a picked grain's histogram is
that grain's distribution in the map."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError
from batteryzoom.viewer.napari_widget import grain_stats, layer_pairs


class Labels(SimpleNamespace):
    pass


class Image(SimpleNamespace):
    pass


def test_only_layers_on_one_grid_pair_and_the_refusal_says_how_to_fix_it():
    grid = {"scale": (0.1, 0.1, 0.1), "translate": (1.0, 2.0, 3.0)}
    grains = Labels(name="grains", data=np.ones((4, 4, 4), np.int32), metadata={}, **grid)
    edge = Image(name="edge", data=[np.zeros((4, 4, 4), np.float32), np.zeros((2, 2, 2))], metadata={}, **grid)
    moved = Image(name="moved", data=np.zeros((4, 4, 4)), metadata={}, scale=grid["scale"], translate=(0, 0, 0))
    coarse = Image(name="coarse", data=np.zeros((4, 4, 4)), metadata={}, scale=(0.2,) * 3, translate=grid["translate"])
    assert layer_pairs([moved, coarse, edge, grains]) == [("grains", "edge")]  # multiscale: its full level
    with pytest.raises(InputError, match="not on one grid.*regrid_labels"):
        grain_stats(grains, coarse)
    floats = Labels(name="float labels", data=np.ones((4, 4, 4)), metadata={}, **grid)
    with pytest.raises(InputError, match="must be integers"):
        grain_stats(floats, edge)


@pytest.fixture(scope="module")
def xanes_store(tmp_path_factory):
    truth = bz.data.load("twin/particle-xanes", part="truth")
    zoom = bz.zoom.Hierarchy.from_twin()
    zoom.set_data("twin/particle-xanes", truth["edge_energy_ev"].astype("float32"))
    path = tmp_path_factory.mktemp("widget") / "zoom.zarr"
    bz.zoom.write_zoom_zarr(path, zoom, labels={"twin/particle-xanes": {"grains": truth["grain_labels"].astype("int32")}})
    return path, truth


def test_plugin_widget_picks_a_grain_and_shows_its_distribution(xanes_store, xvfb_display):
    import napari
    from npe2 import PluginManager, PluginManifest

    manifest = PluginManifest.from_file(Path(bz.__file__).parent / "napari.yaml")
    pm = PluginManager.instance()
    if manifest.name not in pm:
        pm.register(manifest)
    path, truth = xanes_store
    viewer = napari.Viewer(show=False)
    try:
        viewer.open(str(path), plugin="batteryzoom")
        _, widget = viewer.window.add_plugin_dock_widget("batteryzoom", "Grain distributions")
        labels_name, map_name = "twin/particle-xanes/labels/grains", "twin/particle-xanes"
        assert widget.pairs.currentData() == (labels_name, map_name)
        widget.compute()
        assert "click one in 3D" in widget.status.text()
        assert widget.zoom._on_mouse_drag in viewer.mouse_drag_callbacks  # clicks now pick
        # the biggest grain, as a click would select it: its numbers are the truth map's own
        edge, grains = truth["edge_energy_ev"].values, truth["grain_labels"].values
        ids, sizes = np.unique(grains[grains > 0], return_counts=True)
        grain = int(ids[np.argmax(sizes)])
        widget.zoom.select(labels_name, grain)
        shown = widget.histogram.summary
        assert shown is not None and shown.label == grain
        assert shown.mean == pytest.approx(float(edge[grains == grain].mean()), abs=1e-3)
        assert "eV" in widget.histogram.title.text() and widget.histogram.canvas.x_title == "edge energy (eV)"
        assert viewer.layers[labels_name].colormap.color_dict[grain] is not None
    finally:
        viewer.close()
