"""bz.io TXM readers (io/txm.py): real SSRL 6-2c and APS frames, synthetic HDF5/TIFF/zarr stacks."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

import batteryzoom as bz
from batteryzoom.errors import FileFormatError, InputError
from batteryzoom.frames import frame_of
from batteryzoom.io import txm

pytestmark = pytest.mark.realdata


# ----------------------------------------------------------------------------- .xrm frames


def test_read_xrm_ssrl_takes_energy_from_the_file_name(fetch_real):
    paths = fetch_real("real/xanes/ssrl-nca-frames")
    sample = next(p for p in paths if p.name == "rep01_20161456_ssrl-test-data_08354.0_eV_001of003.xrm")
    frame = bz.io.read_xrm(sample)
    assert frame.shape == (1024, 1024) and frame.dtype == np.uint16 and frame.dims == ("y", "x")
    assert float(frame["energy"]) == 8354.0 and frame.attrs["energy_source"] == "filename"  # ImageInfo/Energy is 0
    assert frame.attrs["pixel_size_um"] == pytest.approx(0.0312, abs=1e-6)
    assert float(frame["x"][1]) == pytest.approx(0.0312, abs=1e-6)
    assert frame.attrs["exposure_s"] == pytest.approx(0.5)
    assert frame.attrs["date"].startswith("05/29/16")
    assert 100 < float(frame.mean()) < 2000


def test_read_xrm_aps_takes_energy_from_the_header(fetch_real):
    paths = fetch_real("real/xanes/aps-frames")
    frame = bz.io.read_xrm(next(p for p in paths if p.name == "fov07_xanessoc01_8353_0eV.xrm"))
    assert frame.attrs["energy_source"] == "header"
    assert float(frame["energy"]) == pytest.approx(8353.03, abs=0.01)
    assert frame.attrs["pixel_size_um"] == pytest.approx(0.03895, abs=1e-5)


def _ole(path, name, dtype):
    """A stream as an array, read with olefile alone (the independent reader)."""
    import olefile

    with olefile.OleFileIO(str(path)) as ole:
        raw = ole.openstream(name).read()
    return np.frombuffer(raw[: len(raw) // np.dtype(dtype).itemsize * np.dtype(dtype).itemsize], dtype)


@pytest.mark.parametrize("name", ["real/xanes/ssrl-nca-frames", "real/xanes/aps-frames"])
def test_every_real_xrm_frame_equals_olefile(fetch_real, name):
    for path in (p for p in fetch_real(name) if p.suffix == ".xrm"):
        frame = bz.io.read_xrm(path)
        height, width = (int(_ole(path, f"ImageInfo/Image{k}", "<i4")[0]) for k in ("Height", "Width"))
        assert frame.shape == (height, width)
        np.testing.assert_array_equal(frame.values, _ole(path, "ImageData1/Image1", frame.dtype).reshape(height, width))
        assert frame.attrs["pixel_size_um"] == pytest.approx(float(_ole(path, "ImageInfo/PixelSize", "<f4")[0]))
        assert frame.attrs["exposure_s"] == pytest.approx(float(_ole(path, "ImageInfo/ExpTimes", "<f4")[0]))
        if frame.attrs["energy_source"] == "header":
            assert float(frame["energy"]) == pytest.approx(float(_ole(path, "ImageInfo/Energy", "<f4")[0]))


def test_a_frame_without_a_pixel_size_is_in_pixels_never_taken_as_um(tmp_path, fetch_real):
    import olefile

    src = next(p for p in fetch_real("real/xanes/aps-frames") if p.name == "fov07_xanessoc01_8353_0eV.xrm")
    assert frame_of(bz.io.read_xrm(src)).voxel_size_um == pytest.approx((0.03895, 0.03895), abs=1e-5)
    path = tmp_path / src.name
    path.write_bytes(src.read_bytes())
    with olefile.OleFileIO(str(path), write_mode=True) as ole:  # PixelSize 0: not recorded
        n = len(ole.openstream("ImageInfo/PixelSize").read())
        ole.write_stream("ImageInfo/PixelSize", np.zeros(n // 4, "<f4").tobytes())
    frame = bz.io.read_xrm(path)
    assert frame.attrs["voxel_size_um"] is None and frame["x"].attrs["units"] == "pixel"
    np.testing.assert_array_equal(frame["x"].values[:3], [0.0, 1.0, 2.0])
    assert frame_of(frame, missing="px").unit == "px"
    with pytest.raises(InputError, match="voxel size is unknown"):
        frame_of(frame)


def test_energy_from_filename_patterns():
    assert txm.energy_from_filename("rep01_000051_ref_x_08324.0_eV_001of010.xrm") == 8324.0
    assert txm.energy_from_filename("fov07_xanessoc01_8250_0eV.xrm") == 8250.0
    assert txm.energy_from_filename("ref_8353.5eV.xrm") == 8353.5
    assert txm.energy_from_filename("no_energy_here.xrm") is None


def test_ssrl_scan_averages_exposure_rates_into_optical_density(fetch_real):
    paths = fetch_real("real/xanes/ssrl-nca-frames")
    od = bz.data.load("real/xanes/ssrl-nca-frames")
    assert od.dims == ("energy", "y", "x") and od.shape == (2, 1024, 1024)
    np.testing.assert_array_equal(od["energy"].values, [8324.0, 8354.0])
    assert od.attrs["exposures"] == [2, 2] and od.attrs["flat_exposures"] == [2, 2]
    assert od.attrs["voxel_size_um"] == pytest.approx([0.0312, 0.0312])
    assert od["x"].values[1] == pytest.approx(0.0312)
    # recompute one pixel by hand: mean(sample / 0.5 s) over exposures vs mean(ref / 0.3 s)
    by_name = {p.name: p for p in paths}
    s = [bz.io.read_xrm(by_name[f"rep01_20161456_ssrl-test-data_08354.0_eV_00{i}of003.xrm"]) for i in (1, 2)]
    r = [bz.io.read_xrm(by_name[f"rep01_00035{i}_ref_20161456_ssrl-test-data_08354.0_eV_00{i}of010.xrm"]) for i in (1, 2)]
    y, x = 400, 512
    i_rate = np.mean([float(f[y, x]) / f.attrs["exposure_s"] for f in s])
    i0_rate = np.mean([float(f[y, x]) / f.attrs["exposure_s"] for f in r])
    assert float(od[1, y, x]) == pytest.approx(-np.log(i_rate / i0_rate), rel=1e-5)
    assert np.isfinite(od.values).mean() > 0.999


@pytest.mark.parametrize("name", ["real/xanes/ssrl-nca-frames", "real/xanes/aps-frames"])
def test_real_frames_give_an_edge_jump_map_and_a_plausible_particle_mask(fetch_real, name):
    fetch_real(name)
    od = bz.data.load(name)
    jump = bz.xanes.edge_jump_map(od)
    mask = bz.xanes.particle_mask(jump)
    fraction = float(mask.mean())
    # NCA / NMC particles cover a minority of a 1024^2 field of view (~20 % and ~9 %)
    assert 0.03 < fraction < 0.5, fraction
    # the Ni edge jump is positive on particles and ~0 on the background
    assert float(jump.values[mask.values].mean()) > 0.2
    assert abs(float(np.median(jump.values[~mask.values]))) < 0.06


def test_every_real_xanes_entry_loads(fetch_real):
    """Every real entry of the grain scale, frames and spectra of the wider corpus alike,
    loads with an energy axis that spans its element's K-edge."""
    edges = {"mn": 6539.0, "co": 7709.0, "ni": 8333.0}
    names = [n for n in bz.data.list(scale="grain", synthetic=False) if n.startswith("real/xanes/")]
    assert len(names) >= 21
    for name in names:
        fetch_real(name)
        obj = bz.data.load(name)
        assert isinstance(obj, xr.DataArray) and "energy" in obj.dims, name
        e = obj["energy"].values
        edge = next((v for k, v in edges.items() if k in bz.data.info(name).tags), edges["ni"])
        assert np.all(np.diff(e) > 0) and e.min() < edge < e.max() and e.max() - e.min() < 2000, name


def test_scan_folder_errors(tmp_path, fetch_real):
    paths = fetch_real("real/xanes/ssrl-nca-frames")
    with pytest.raises(FileFormatError, match="no files match"):
        bz.io.read_txm_scan(tmp_path)
    for p in paths:  # samples only, no flat field
        if p.suffix == ".xrm" and "_ref_" not in p.name:
            os.symlink(p, tmp_path / p.name)
    with pytest.raises(FileFormatError, match="0 flat-field"):
        bz.io.read_txm_scan(tmp_path)
    bad = tmp_path / "broken.xrm"
    bad.write_bytes(b"not an ole file")
    with pytest.raises(FileFormatError, match="not an OLE2"):
        bz.io.read_xrm(bad)


# ----------------------------------------------------------------------------- HDF5 / TIFF / zarr


def _synthetic_frames(n_e=5, shape=(12, 10), seed=0):
    rng = np.random.default_rng(seed)
    od = rng.uniform(0.1, 1.5, (n_e,) + shape).astype(np.float32)
    dark = np.full(shape, 100.0, np.float32)
    flat = rng.uniform(5000, 6000, (n_e,) + shape).astype(np.float32)
    image = (flat - dark) * np.exp(-od) + dark
    return od, image, flat, dark


def test_read_xanes_hdf5_fxi_layout(tmp_path):
    import h5py

    od, image, flat, dark = _synthetic_frames()
    path = tmp_path / "fxi.h5"
    with h5py.File(path, "w") as fh:
        fh["img_xanes"] = image
        fh["img_bkg"] = flat
        fh["img_dark"] = np.stack([dark, dark])
        fh["X_eng"] = np.array([8.30, 8.33, 8.34, 8.35, 8.40])  # keV, as FXI writes
    out = bz.io.read_xanes_hdf5(path, pixel_size_um=0.02)
    np.testing.assert_allclose(out.values, od, atol=2e-4)
    np.testing.assert_allclose(out["energy"].values, [8300, 8330, 8340, 8350, 8400])
    assert out.attrs["voxel_size_um"] == [0.02, 0.02]
    with h5py.File(path, "a") as fh:
        del fh["X_eng"]
        fh["X_eng"] = np.array([8.30, 8.33])
    with pytest.raises(FileFormatError, match="5 frames but the energy list has 2"):
        bz.io.read_xanes_hdf5(path)
    with pytest.raises(FileFormatError, match="no dataset"):
        bz.io.read_xanes_hdf5(path, layout={"image": "/missing"})


def test_read_xanes_tiff_stack_and_folder(tmp_path):
    import tifffile

    od, *_ = _synthetic_frames()
    tifffile.imwrite(tmp_path / "stack.tif", od)
    energies = tmp_path / "energies.txt"
    energies.write_text("\n".join(str(e) for e in [8300, 8330, 8340, 8350, 8400]))
    out = bz.io.read_xanes_tiff(tmp_path / "stack.tif", energies)
    np.testing.assert_array_equal(out.values, od)
    assert out["energy"].values[-1] == 8400
    with pytest.raises(FileFormatError, match="5 frames but the energy list has 4"):
        bz.io.read_xanes_tiff(tmp_path / "stack.tif", [8300, 8330, 8340, 8350])
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(od):
        tifffile.imwrite(folder / f"f{i:02d}.tif", frame)
    np.testing.assert_array_equal(bz.io.read_xanes_tiff(folder, energies).values, od)
    tifffile.imwrite(folder / "f99.tif", np.zeros((3, 3), np.float32))
    with pytest.raises(FileFormatError, match="different shapes"):
        bz.io.read_xanes_tiff(folder, list(range(8300, 8306)))
    # a given pixel size is the frame read back; a bad one is refused
    sized = bz.io.read_xanes_tiff(tmp_path / "stack.tif", energies, pixel_size_um=0.05)
    assert frame_of(sized).voxel_size_um == (0.05, 0.05)
    with pytest.raises(InputError, match="positive"):
        bz.io.read_xanes_tiff(tmp_path / "stack.tif", energies, pixel_size_um=-0.05)


def test_read_xanes_zarr_round_trip(tmp_path):
    od, *_ = _synthetic_frames()
    da = xr.DataArray(od, dims=("energy", "y", "x"), coords={"energy": [8300.0, 8330, 8340, 8350, 8400]}, name="od")
    da.to_dataset().to_zarr(tmp_path / "s.zarr", consolidated=False)
    out = bz.io.read_xanes_zarr(tmp_path / "s.zarr")
    np.testing.assert_array_equal(out.values, od)
    assert out.chunks is not None  # lazy


# ----------------------------------------------------------------------------- damaged files


def test_damaged_xrm_frames_and_scans_are_refused_or_read_the_same(fetch_real, fuzz_reader):
    from batteryzoom.testing.payload import judge, ole_free

    ole = judge(ole_free, "an Xradia value stream", structure_may_change=True)
    aps = fetch_real("real/xanes/aps-frames")
    ssrl = [p for p in fetch_real("real/xanes/ssrl-nca-frames") if p.suffix == ".xrm"]
    found = fuzz_reader(bz.io.read_xrm, [aps[0], ssrl[0]], n=20, seed=314, judge=ole)
    assert found["refused"] > 0
    fuzz_reader(bz.io.read_txm_scan, aps[:2], n=4, seed=315, judge=ole, root=aps[0].parent)


def test_damaged_xanes_stacks_are_refused_or_read_the_same(tmp_path, fuzz_reader):
    import h5py
    import tifffile

    from batteryzoom.testing.payload import hdf5_free, judge, tiff_free, zarr_chunk_judge

    od, image, flat, dark = _synthetic_frames()
    energy_kev = [8.30, 8.33, 8.34, 8.35, 8.40]
    with h5py.File(tmp_path / "fxi.h5", "w") as fh:
        fh["img_xanes"] = image
        fh["img_bkg"] = flat
        fh["img_dark"] = np.stack([dark, dark])
        fh["X_eng"] = energy_kev
    fuzz_reader(bz.io.read_xanes_hdf5, [tmp_path / "fxi.h5"], n=20, seed=316,
                judge=judge(hdf5_free, "raw data of an unfiltered HDF5 dataset", structure_may_change=True))
    tifffile.imwrite(tmp_path / "stack.tif", od)
    fuzz_reader(lambda p: bz.io.read_xanes_tiff(p, [e * 1000 for e in energy_kev]), [tmp_path / "stack.tif"], n=20,
                seed=317, judge=judge(tiff_free, "raw pixels of an uncompressed TIFF strip", shifted=True))
    store = tmp_path / "s.zarr"
    xr.DataArray(od, dims=("energy", "y", "x"), coords={"energy": [e * 1000 for e in energy_kev]}, name="od") \
        .to_dataset().chunk({"energy": 2}).to_zarr(store, consolidated=False)
    members = sorted(p for p in store.rglob("*") if p.is_file())  # metadata, energy and od chunks
    assert any(p.name in ("zarr.json", ".zarray") for p in members)
    fuzz_reader(bz.io.read_xanes_zarr, members, n=3, seed=318, judge=zarr_chunk_judge(), root=store)
