"""bz.zoom.write_zoom_zarr / twin_zoom and `batteryzoom export-zarr`: the twin's whole zoom
in one OME-Zarr store, every level at the world position the hierarchy gives it, labels
beside their images, the store published atomically and never over someone else's files."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError
from batteryzoom.zoom.omezarr import image_name


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    zoom, labels = bz.zoom.twin_zoom(xanes_map=True, progress=False)
    path = tmp_path_factory.mktemp("zoom") / "twin.zarr"
    bz.zoom.write_zoom_zarr(path, zoom, labels=labels)
    return path, zoom, labels


def test_every_level_sits_at_its_world_offset(exported):
    path, zoom, labels = exported
    back = bz.io.read_ome_zarr(path)
    for lv in zoom:
        img = back[image_name(lv.name)]
        assert img.attrs["level"] == lv.name and img.shape == lv.shape
        offset = zoom.offset_um(lv.name)
        np.testing.assert_allclose([float(img[d][0]) for d in "zyx"], offset, atol=1e-9)
        np.testing.assert_allclose(img.attrs["voxel_size_um"], lv.voxel_size_um)
    # a point of the particle maps to the same world position through the store as through the hierarchy
    nano = back[image_name("twin/particle-nanoct")]
    idx = np.array([10, 20, 30])
    world = [float(nano[d][i]) for d, i in zip("zyx", idx)]
    np.testing.assert_allclose(world, zoom.to_world("twin/particle-nanoct", idx * 0.08), atol=1e-9)


def test_labels_and_the_xanes_map_come_back_equal(exported, twin):
    path, zoom, labels = exported
    back = bz.io.read_ome_zarr(path)
    grains = back[image_name("twin/particle-nanoct") + "/labels/grains"]
    np.testing.assert_array_equal(grains.values, twin("particle-nanoct", "grains").values)
    particles = back[image_name("twin/electrode-ct") + "/labels/particles"]
    np.testing.assert_array_equal(particles.values, twin("electrode-ct", "particles").values)
    edge = back[image_name("twin/particle-xanes")].values
    truth = np.asarray(zoom["twin/particle-xanes"].data)
    np.testing.assert_array_equal(np.isnan(edge), np.isnan(truth))
    assert np.nanmedian(edge) == pytest.approx(8342.5, abs=2.0)  # a Ni K-edge map in eV, not a stack


def test_the_store_validates_against_the_ngff_models(exported):
    import zarr
    from ome_zarr_models.v05 import Image, ImageLabel

    path, zoom, labels = exported
    root = zarr.open_group(str(path), mode="r")
    for lv in zoom:
        Image.from_zarr(root[image_name(lv.name)])
    for level, sets in labels.items():
        for name in sets:
            ImageLabel.from_zarr(root[f"{image_name(level)}/labels/{name}"])


def test_targets_it_did_not_write_are_refused_and_its_own_replaced_on_request(exported, tmp_path):
    path, zoom, labels = exported
    mine = tmp_path / "mine.zarr"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    small = bz.zoom.Hierarchy([bz.zoom.Level("a", (16, 16, 16), 1.0)])
    small.set_data("a", np.ones((16, 16, 16), "f4"))
    with pytest.raises(InputError, match="not a store batteryzoom wrote"):
        bz.zoom.write_zoom_zarr(mine, small, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep"
    ours = bz.zoom.write_zoom_zarr(tmp_path / "ours.zarr", small)
    with pytest.raises(InputError, match="overwrite=True"):
        bz.zoom.write_zoom_zarr(ours, small)
    small.set_data("a", np.full((16, 16, 16), 2, "f4"))
    bz.zoom.write_zoom_zarr(ours, small, overwrite=True)
    assert float(bz.io.read_ome_zarr(ours)["a"].max()) == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.zarr", "ours.zarr"]  # no temporaries left


def test_an_interrupted_export_leaves_nothing_under_the_name(tmp_path, monkeypatch):
    import batteryzoom.zoom.omezarr as mod

    small = bz.zoom.Hierarchy([bz.zoom.Level("a", (16, 16, 16), 1.0)])
    small.set_data("a", np.ones((16, 16, 16), "f4"))

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mod, "write_ome_zarr", boom)
    with pytest.raises(KeyboardInterrupt):
        bz.zoom.write_zoom_zarr(tmp_path / "z.zarr", small)
    assert list(tmp_path.iterdir()) == []


def test_the_command_refuses_before_working_and_writes_the_zoom(tmp_path, capsys):
    from batteryzoom.cli import main

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("user")
    assert main(["export-zarr", "--out", str(tmp_path / "taken"), "--no-xanes"]) == 2
    assert "not a store batteryzoom wrote" in capsys.readouterr().err
    assert main(["export-zarr", "--out", str(tmp_path / "z.zarr"), "--no-xanes"]) == 0
    assert "3 levels" in capsys.readouterr().out
    assert sorted(bz.io.read_ome_zarr(tmp_path / "z.zarr", labels=False)) == [
        "twin--cell-ct", "twin--electrode-ct", "twin--particle-nanoct"]
