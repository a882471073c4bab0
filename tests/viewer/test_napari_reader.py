"""The npe2 plugin: napari's File > Open on batteryzoom's OME-Zarr zoom, TXM frames and raw
tomography, layers in µm at their physical positions; files it does not know are left to
other readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.viewer.napari_reader import get_reader, read_layers

MANIFEST = Path(bz.__file__).parent / "napari.yaml"


@pytest.fixture(scope="module")
def store(twin, tmp_path_factory):
    zoom = bz.zoom.Hierarchy.from_twin()
    zoom.set_data("twin/electrode-ct", twin("electrode-ct"))
    zoom.set_data("twin/particle-nanoct", twin("particle-nanoct"))
    path = tmp_path_factory.mktemp("plugin") / "zoom.zarr"
    bz.zoom.write_zoom_zarr(path, zoom, labels={"twin/particle-nanoct": {"grains": twin("particle-nanoct", "grains")}})
    return path, zoom


def test_the_zoom_store_opens_as_layers_in_micrometres(store):
    path, zoom = store
    layers = {kw["name"]: (data, kw, kind) for data, kw, kind in get_reader(str(path))(str(path))}
    assert sorted(layers) == ["twin/electrode-ct", "twin/particle-nanoct", "twin/particle-nanoct/labels/grains"]
    for name in ("twin/electrode-ct", "twin/particle-nanoct"):
        data, kw, kind = layers[name]
        assert kind == "image" and kw["units"] == ("micrometer",) * 3 and kw["axis_labels"] == ("z", "y", "x")
        np.testing.assert_allclose(kw["scale"], zoom[name].voxel_size_um)
        np.testing.assert_allclose(kw["translate"], zoom.offset_um(name))  # napari's world = the hierarchy's
        assert kw["multiscale"] and data[0].shape == zoom[name].shape and data[1].shape[0] == zoom[name].shape[0] // 2
    data, kw, kind = layers["twin/particle-nanoct/labels/grains"]
    assert kind == "labels" and np.issubdtype(data[0].dtype, np.integer)
    np.testing.assert_allclose(kw["translate"], zoom.offset_um("twin/particle-nanoct"))


def test_files_it_does_not_know_are_left_to_other_readers(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "plain").mkdir()
    import zarr

    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w", zarr_format=3).create_array("a", shape=(4,), dtype="f4")
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(str(tmp_path / "plain")) is None
    assert get_reader(str(tmp_path / "plain.zarr")) is None
    assert get_reader([str(tmp_path / "a.xrm"), str(tmp_path / "b.xrm")]) is None


def test_a_txm_frame_opens_in_micrometres(fetch_real):
    path = next(p for p in fetch_real("real/xanes/ssrl-nca-frames") if p.suffix == ".xrm")
    (data, kw, kind), = read_layers(path)
    frame = bz.io.read_xrm(path)
    assert kind == "image" and data.shape == frame.shape
    assert kw["scale"][-1] == pytest.approx(frame.attrs["pixel_size_um"]) and kw["units"][-1] == "micrometer"


def test_the_manifest_is_valid_and_napari_opens_the_store_through_it(store, xvfb_display):
    import napari
    from npe2 import PluginManager, PluginManifest

    manifest = PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()  # every command's python_name imports
    pm = PluginManager.instance()
    if manifest.name not in pm:  # an editable install made before the entry point existed
        pm.register(manifest)
    path, zoom = store
    viewer = napari.Viewer(show=False)
    try:
        layers = viewer.open(str(path), plugin="batteryzoom")
        names = [layer.name for layer in layers]
        assert "twin/particle-nanoct" in names
        nano = viewer.layers["twin/particle-nanoct"]
        assert [str(u) for u in nano.units] == ["micrometer"] * 3
        corner = nano.data_to_world((0, 0, 0))
        np.testing.assert_allclose(corner, zoom.offset_um("twin/particle-nanoct"), atol=1e-9)
        assert viewer.layers["twin/particle-nanoct/labels/grains"].__class__.__name__ == "Labels"
    finally:
        viewer.close()


def test_a_raw_tomography_acquisition_opens_as_its_projections(fetch_real, unchanged):
    (path,) = fetch_real("real/tomo/aps-tooth-dxchange")
    with unchanged(path):
        (data, kw, kind), = get_reader(str(path))(str(path))
    acq = bz.io.read_acquisition(path)
    assert kind == "image" and kw["axis_labels"] == ("angle", "row", "col")
    assert data.shape == acq["projections"].shape
