"""bz.io.omezarr: the twin's volumes and labels into one NGFF 0.5 store and back, checked
against the NGFF models (ome-zarr-models) and read by ome-zarr-py's own reader."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from batteryzoom.errors import InputError
from batteryzoom.io.omezarr import read_ome_zarr, write_ome_zarr


@pytest.fixture(scope="module")
def particle(twin):
    grey = twin("particle-nanoct")
    grains = twin("particle-nanoct", "grains")
    return grey, grains


@pytest.fixture(scope="module")
def store(particle, tmp_path_factory):
    import batteryzoom as bz

    grey, grains = particle
    zoom = bz.zoom.Hierarchy.from_twin()
    where = zoom.napari_transform("twin/particle-nanoct")["translate"]
    path = tmp_path_factory.mktemp("omezarr") / "zoom.zarr"
    write_ome_zarr(path, {"particle": grey}, labels={"particle": {"grains": grains}},
                   translations_um={"particle": where}, chunk_voxels=32)
    return path, where


def test_the_twin_particle_and_its_grains_come_back_in_the_world_frame(particle, store):
    grey, grains = particle
    path, where = store
    back = read_ome_zarr(path)
    vol, lab = back["particle"], back["particle/labels/grains"]
    np.testing.assert_array_equal(vol.values, grey.values)
    np.testing.assert_array_equal(lab.values, grains.values)
    assert lab.dtype == grains.dtype
    for i, d in enumerate("zyx"):  # voxel 0's centre at the level's world offset, the twin's spacing
        assert vol[d].values[0] == pytest.approx(where[i])
        np.testing.assert_allclose(np.diff(vol[d].values), 0.08, rtol=1e-9)
    assert vol.attrs["level"] == grey.attrs["level"]  # the writer's record of the attributes
    assert vol.attrs["pyramid_levels"] == 3  # 112 -> 56 -> 28 (min_size 16)


def test_every_image_and_label_group_validates_against_the_ngff_models(store):
    import zarr
    from ome_zarr_models.v05 import Image, ImageLabel

    path, _ = store
    root = zarr.open_group(str(path), mode="r")
    image = Image.from_zarr(root["particle"])
    label = ImageLabel.from_zarr(root["particle/labels/grains"])
    assert [a.unit for a in image.attributes.ome.multiscales[0].axes] == ["micrometer"] * 3
    assert len(label.attributes.ome.multiscales[0].datasets) == 3


def test_a_pyramid_level_sits_where_its_blocks_are(particle, store):
    """Level 1 is the 2x2x2 block mean: its voxel 0 is the mean of level 0's first block, and
    its translation is that block's centre; labels are sampled, never averaged."""
    import zarr

    grey, grains = particle
    path, where = store
    root = zarr.open_group(str(path), mode="r")
    ms = root["particle"].attrs["ome"]["multiscales"][0]["datasets"]
    tf1 = {t["type"]: t[t["type"]] for t in ms[1]["coordinateTransformations"]}
    level1 = np.asarray(root["particle"][ms[1]["path"]])
    assert level1[0, 0, 0] == pytest.approx(float(grey.values[:2, :2, :2].astype(np.float64).mean()), rel=1e-5)
    np.testing.assert_allclose(tf1["scale"], [0.16] * 3)
    np.testing.assert_allclose(tf1["translation"], np.asarray(where) + 0.04)
    lms = root["particle/labels/grains"].attrs["ome"]["multiscales"][0]["datasets"]
    lab1 = np.asarray(root["particle/labels/grains"][lms[1]["path"]])
    np.testing.assert_array_equal(lab1, grains.values[::2, ::2, ::2])
    ltf1 = {t["type"]: t[t["type"]] for t in lms[1]["coordinateTransformations"]}
    np.testing.assert_allclose(ltf1["translation"], where)


def test_ome_zarr_py_reads_the_store_in_micrometres(store):
    """The NGFF reference implementation (ome-zarr-py's reader, what napari-ome-zarr uses)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ome_zarr.io import parse_url
        from ome_zarr.reader import Reader

    path, where = store
    nodes = list(Reader(parse_url(str(path / "particle")))())
    image = nodes[0]
    transforms = image.metadata["coordinateTransformations"][0]
    by_type = {t["type"]: t[t["type"]] for t in transforms}
    np.testing.assert_allclose(by_type["translation"], where)
    np.testing.assert_allclose(by_type["scale"], [0.08] * 3)
    assert [a["unit"] for a in image.metadata["axes"]] == ["micrometer"] * 3


def _vol(n=32, **attrs):
    return xr.DataArray(np.zeros((n, n, n), "f4"), dims=("z", "y", "x"), attrs={"voxel_size_um": 1.0, **attrs})


@pytest.mark.parametrize("images, kwargs, words", [
    ({"a": xr.DataArray(np.zeros((8, 8, 8), "f4"), dims=("z", "y", "x"))}, {}, "voxel"),
    ({"a": xr.DataArray(np.zeros((3, 8, 8, 8), "f4"), dims=("energy", "z", "y", "x"),
                        attrs={"voxel_size_um": 1.0})}, {}, "select one energy"),
    ({"a/b": _vol()}, {}, "without '/'"),
    ({"a": _vol()}, {"labels": {"a": {"g": _vol()}}}, "integer"),
    ({"a": _vol()}, {"labels": {"a": {"g": _vol(16).astype("i4")}}}, "grid"),
    ({"a": _vol()}, {"labels": {"b": {"g": _vol().astype("i4")}}}, "not one of the images"),
    ({"a": _vol()}, {"translations_um": {"a": (1.0, 2.0)}}, "3 finite"),
    ({}, {}, "at least one"),
])
def test_bad_input_is_refused_naming_the_problem(tmp_path, images, kwargs, words):
    with pytest.raises(InputError, match=words):
        write_ome_zarr(tmp_path / "out.zarr", images, **kwargs)


def test_an_existing_path_is_never_overwritten(tmp_path):
    (tmp_path / "out.zarr").mkdir()
    (tmp_path / "out.zarr" / "mine.txt").write_text("the user's")
    with pytest.raises(InputError, match="already exists"):
        write_ome_zarr(tmp_path / "out.zarr", {"a": _vol()})
    assert (tmp_path / "out.zarr" / "mine.txt").read_text() == "the user's"


def test_reading_something_else_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a zarr store"):
        read_ome_zarr(tmp_path / "nothing.zarr")
