"""bz.io.tomo.nexus: Diamond DIAD's scan 18014 (external links, dangling ones) and NXtomo files."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom._blocks import is_dask
from batteryzoom.errors import FileFormatError
from batteryzoom.io.tomo import read_nexus

K11 = "real/tomo/diamond-k11-nexus"


def test_k11_has_the_files_own_facts_and_equals_h5py(fetch_real, unchanged):
    nxs, imaging, panda = fetch_real(K11)
    with unchanged(nxs, imaging, panda):
        acq = bz.io.read_acquisition(nxs)
    # README: 3,201 frames of 22×26 uint16: 50 flats + 50 darks, 3,001 projections over
    # 90→270° (0.06° steps), 50 flats + 50 darks; angles in gts_theta_value; dangling links
    assert acq.attrs["format"] == "nexus"
    assert acq.attrs["image_key_counts"] == {"projection": 3001, "flat": 100, "dark": 100}
    assert acq.projections.shape == (3001, 22, 26) and acq.projections.dtype == np.uint16
    assert acq.flat_order.values.tolist() == list(range(0, 50)) + list(range(3101, 3151))
    assert acq.dark_order.values.tolist() == list(range(50, 100)) + list(range(3151, 3201))
    assert acq.projection_order.values.tolist() == list(range(100, 3101))
    assert acq.angle.values[0] == pytest.approx(90, abs=0.01) and acq.angle.values[-1] == pytest.approx(270, abs=0.01)
    assert np.median(np.diff(acq.angle.values)) == pytest.approx(0.06, abs=1e-3)
    assert acq.attrs["exposure_s"] == 0.02 and acq.attrs["experiment"] == "mg32775-1"
    assert any("k11-18014-EtherCAT.h5" in s for s in acq.attrs["links_skipped"])
    # the independent read: h5py on the linked files themselves, image_key from the .nxs
    with h5py.File(nxs, "r") as f:
        keys = f["/entry/instrument/imaging/image_key"][()]
    with h5py.File(imaging, "r") as f:
        frames = f["/entry/detector/detector"][()]
    with h5py.File(panda, "r") as f:
        theta = f["/entry/gts_theta.value/gts_theta.value"][()]
    np.testing.assert_array_equal(acq.projections.values, frames[keys == 0])
    np.testing.assert_array_equal(acq.flats.values, frames[keys == 1])
    np.testing.assert_array_equal(acq.darks.values, frames[keys == 2])
    np.testing.assert_array_equal(acq.angle.values, theta[keys == 0])


def test_a_missing_file_is_named_only_when_needed(fetch_real, tmp_path):
    nxs, imaging, panda = fetch_real(K11)
    (tmp_path / "k11-18014").mkdir()
    shutil.copy(nxs, tmp_path / nxs.name)
    shutil.copy(panda, tmp_path / "k11-18014" / panda.name)
    with pytest.raises(FileFormatError, match=r"k11-18014\.nxs: the frames cannot be read: .*"
                                              r"k11-18014/k11-18014-imaging\.h5 .* which is missing.*keep the \.nxs"):
        read_nexus(tmp_path / nxs.name)
    shutil.copy(imaging, tmp_path / "k11-18014" / imaging.name)
    (tmp_path / "k11-18014" / panda.name).unlink()  # the angles' file: no other angles recorded
    with pytest.raises(FileFormatError, match=r"records no rotation angles.*pass angles="):
        read_nexus(tmp_path / nxs.name)
    acq = read_nexus(tmp_path / nxs.name, angles=np.linspace(90, 270, 3001), angle_unit="deg")
    assert acq.sizes["angle"] == 3001 and acq.attrs["angle_unit_source"].startswith("given")


def _nxtomo(path, keys, angles, units="rad", data=None):
    keys = np.asarray(keys, np.int32)
    n = keys.size
    frames = data if data is not None else np.where((keys == 1)[:, None, None], 1000, np.where(
        (keys == 2)[:, None, None], 0, 600)).astype(np.uint16) * np.ones((n, 4, 5), np.uint16)
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        det = entry.create_group("instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        det["data"] = frames
        det["image_key"] = keys
        det["x_pixel_size"] = 6.5
        det["x_pixel_size"].attrs["units"] = "um"
        det["count_time"] = 0.1
        sample = entry.create_group("sample")
        sample["rotation_angle"] = np.asarray(angles, np.float64)
        if units:
            sample["rotation_angle"].attrs["units"] = units
        data_group = entry.create_group("data")  # NXtomo links the same stack from here
        data_group["data"] = h5py.SoftLink("/entry/instrument/detector/data")
        data_group["image_key"] = h5py.SoftLink("/entry/instrument/detector/image_key")
        mono = entry.create_group("instrument/monochromator")
        mono["energy"] = 25.0
        mono["energy"].attrs["units"] = "keV"
    return path


def test_nxtomo_interleaved_flats_keep_their_order_and_units(tmp_path):
    keys = [2, 1, 0, 0, 0, 0, 3, 0, 1]
    angles = np.r_[0, 0, np.linspace(0, np.pi, 5)[:4], 0, np.pi, np.pi]
    path = _nxtomo(tmp_path / "scan.nxs", keys, angles)
    acq = bz.io.read_acquisition(path)
    assert acq.flat_order.values.tolist() == [1, 8] and acq.dark_order.values.tolist() == [0]
    assert acq.projection_order.values.tolist() == [2, 3, 4, 5, 7]
    np.testing.assert_allclose(acq.angle.values, [0, 45, 90, 135, 180])
    assert "in rad (the file says so)" in acq.attrs["angle_unit_source"]
    assert acq.attrs["invalid_frames_dropped"] == 1
    assert acq.attrs["pixel_size_um"] == 6.5 and acq.attrs["energy_ev"] == 25000.0
    assert acq.attrs["exposure_s"] == 0.1
    lazy = read_nexus(path, lazy=True)
    assert is_dask(lazy.projections.data)
    np.testing.assert_array_equal(lazy.projections.values, acq.projections.values)


def test_bad_nexus_files(tmp_path):
    path = _nxtomo(tmp_path / "keys.nxs", [1, 0, 0], [0, 0, 1])
    with h5py.File(path, "r+") as f:
        del f["entry/instrument/detector/image_key"]
        f["entry/instrument/detector/image_key"] = np.array([1, 0], np.int32)
        del f["entry/data/image_key"]
    with pytest.raises(FileFormatError, match=r"keys\.nxs: no 3D frame stack beside"):
        read_nexus(path)
    with pytest.raises(FileFormatError, match=r"image_key has 2 keys for 3 frames"):
        read_nexus(path, data_path="/entry/instrument/detector/data")
    path = _nxtomo(tmp_path / "nokey.nxs", [1, 0, 0], [0, 0, 1])
    with h5py.File(path, "r+") as f:
        del f["entry/instrument/detector/image_key"], f["entry/data/image_key"]
    with pytest.raises(FileFormatError, match=r"nokey\.nxs: no image_key dataset.*pass image_key_path="):
        read_nexus(path)
    path = _nxtomo(tmp_path / "noflat.nxs", [0, 0, 0, 0], np.linspace(0, 3, 4), units="deg")
    with pytest.raises(FileFormatError, match=r"noflat\.nxs: raw projections need flat fields"):
        read_nexus(path)
    path = _nxtomo(tmp_path / "badkey.nxs", [1, 0, 7], [0, 0, 1])
    with pytest.raises(FileFormatError, match=r"holds keys \[7\]"):
        read_nexus(path)


def test_a_damaged_chunk_index_is_refused(fetch_real, tmp_path):
    """The imaging file's 3,201 chunks are indexed by a v1 B-tree without checksum: 893
    zeroed bytes of one node (found by the fuzzer) sent 36 frames to other chunks' pixels
    without any HDF5 error."""
    nxs, imaging, panda = fetch_real(K11)
    (tmp_path / "k11-18014").mkdir()
    shutil.copy(nxs, tmp_path / nxs.name)
    shutil.copy(panda, tmp_path / "k11-18014" / panda.name)
    data = imaging.read_bytes()
    (tmp_path / "k11-18014" / imaging.name).write_bytes(data[:2681991] + bytes(893) + data[2681991 + 893:])
    with pytest.raises(FileFormatError, match=r"imaging\.h5: the chunk index of /entry/detector/detector is damaged"):
        read_nexus(tmp_path / nxs.name)
