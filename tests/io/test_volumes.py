"""bz.io.read_volume: every format cell CT arrives as, voxel sizes, errors, real files."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import dask.array as da
import h5py
import numpy as np
import pytest
import tifffile
import xarray as xr
import zarr

import batteryzoom as bz
from batteryzoom.errors import FileFormatError, InputError
from batteryzoom.frames import frame_of
from batteryzoom.io import volumes


@pytest.fixture()
def vol():
    """A small deterministic uint16 volume (z, y, x) whose slices all differ."""
    rng = np.random.default_rng(3)
    return rng.integers(0, 60000, size=(12, 20, 24), dtype=np.uint16)


def _write_sequence(folder: Path, vol: np.ndarray, pad: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, sl in enumerate(vol, start=1):
        p = folder / f"slice{i:0{pad}d}.tif" if pad else folder / f"slice{i}.tif"
        tifffile.imwrite(p, sl)
        paths.append(p)
    return paths


def _digest(paths) -> list[str]:
    return [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]


# --------------------------------------------------------------------------- TIFF sequences


def test_tiff_sequence_folder_reads_in_natural_order_with_progress(tmp_path, vol, capsys):
    # unpadded names: lexical order would put slice10 before slice2
    paths = _write_sequence(tmp_path / "seq", vol)
    before = _digest(paths)
    out = bz.io.read_volume(tmp_path / "seq", voxel_size_um=6.5, progress=True)
    assert out.dims == ("z", "y", "x") and out.shape == vol.shape and out.dtype == np.uint16
    np.testing.assert_array_equal(out.values, vol)
    assert out.attrs["voxel_size_um"] == [6.5, 6.5, 6.5] and out.attrs["voxel_size_from"] == "argument"
    np.testing.assert_allclose(out.x.values, np.arange(24) * 6.5)
    assert out.x.attrs["units"] == "µm"
    assert out.attrs["source"] == str(tmp_path / "seq")
    assert "reading TIFF sequence" in capsys.readouterr().err
    assert _digest(paths) == before  # source files untouched


def test_tiff_sequence_from_a_list_equals_the_folder_and_honours_list_order(tmp_path, vol):
    paths = _write_sequence(tmp_path / "seq", vol, pad=3)
    from_list = bz.io.read_volume(paths[::-1], progress=False)
    np.testing.assert_array_equal(from_list.values, vol[::-1])
    assert volumes.natural_sort(paths[::-1]) == paths


def test_tiff_sequence_with_a_missing_file_names_it(tmp_path, vol):
    paths = _write_sequence(tmp_path / "seq", vol, pad=3)
    paths[6].unlink()  # slice007.tif
    with pytest.raises(FileFormatError, match=r"slice007\.tif"):
        bz.io.read_volume(tmp_path / "seq")
    with pytest.raises(FileFormatError, match=r"slice007\.tif.*does not exist"):
        bz.io.read_volume(paths)


def test_tiff_sequence_with_a_differently_sized_file_names_it(tmp_path, vol):
    paths = _write_sequence(tmp_path / "seq", vol, pad=2)
    tifffile.imwrite(paths[4], vol[4, :-1])
    with pytest.raises(FileFormatError, match=r"slice05\.tif.*\(19, 24\).*\(20, 24\)"):
        bz.io.read_volume(tmp_path / "seq")
    tifffile.imwrite(paths[4], vol[4].astype(np.float32))
    with pytest.raises(FileFormatError, match=r"slice05\.tif.*float32"):
        bz.io.read_volume(tmp_path / "seq")


def test_tiff_sequence_comes_back_dask_backed_when_asked(tmp_path, vol):
    _write_sequence(tmp_path / "seq", vol)
    out = bz.io.read_volume(tmp_path / "seq", chunks=(4, -1, -1))
    assert isinstance(out.data, da.Array) and out.data.chunks[0] == (4, 4, 4)
    np.testing.assert_array_equal(out.values, vol)


def test_big_inputs_come_back_lazy_by_default(tmp_path, vol, monkeypatch):
    _write_sequence(tmp_path / "seq", vol)
    tifffile.imwrite(tmp_path / "stack.tif", vol)
    monkeypatch.setattr(volumes, "EAGER_LIMIT_BYTES", vol.nbytes // 2)
    for src in (tmp_path / "seq", tmp_path / "stack.tif"):
        out = bz.io.read_volume(src)
        assert isinstance(out.data, da.Array), src
        np.testing.assert_array_equal(out.values, vol)
    # chunks=False forces memory whatever the size
    assert isinstance(bz.io.read_volume(tmp_path / "stack.tif", chunks=False).data, np.ndarray)


def test_empty_folder_and_non_tiff_folder_are_explained(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileFormatError, match="no .tif/.tiff slices"):
        bz.io.read_volume(tmp_path / "empty")
    with pytest.raises(InputError, match="empty"):
        bz.io.read_volume([])


# --------------------------------------------------------------------------- single TIFF files


def test_multipage_tiff_reads_imagej_spacing_and_unit(tmp_path, vol):
    path = tmp_path / "stack.tif"
    # ImageJ: resolution in pixels per unit, spacing = z step; 0.65 µm in-plane, 1.3 µm in z
    tifffile.imwrite(path, vol, imagej=True, resolution=(1 / 0.65, 1 / 0.65),
                     metadata={"spacing": 1.3, "unit": "micron", "axes": "ZYX"})
    out = bz.io.read_volume(path)
    np.testing.assert_array_equal(out.values, vol)
    np.testing.assert_allclose(out.attrs["voxel_size_um"], [1.3, 0.65, 0.65])
    assert "ImageJ" in out.attrs["voxel_size_from"]
    np.testing.assert_allclose(out.z.values[-1], 11 * 1.3)
    # an explicit size wins over the file's
    assert bz.io.read_volume(path, voxel_size_um=[2, 1, 1]).attrs["voxel_size_um"] == [2.0, 1.0, 1.0]


def test_the_frame_written_is_the_one_bz_frames_reads_back(tmp_path, vol):
    path = tmp_path / "v.npy"
    np.save(path, vol)
    out = bz.io.read_volume(path, voxel_size_um=(1.0, 0.5, 0.25))
    assert frame_of(out).voxel_size_um == (1.0, 0.5, 0.25) and frame_of(out).origin_um == (0.0, 0.0, 0.0)
    np.testing.assert_array_equal(out.x.values, np.arange(vol.shape[2]) * 0.25)
    # one slice given (z, y, x): keeps (y, x)
    np.save(tmp_path / "s.npy", vol[0])
    assert frame_of(bz.io.read_volume(tmp_path / "s.npy", voxel_size_um=[2, 1, 1])).voxel_size_um == (1.0, 1.0)
    # unknown: recorded as None with pixel coordinates, so a length in µm is refused downstream
    unknown = bz.io.read_volume(path)
    assert unknown.attrs["voxel_size_um"] is None and unknown.x.attrs["units"] == "pixel"
    assert frame_of(unknown, missing="px").unit == "px"
    with pytest.raises(InputError, match="voxel size is unknown"):
        frame_of(unknown)


@pytest.mark.parametrize("bad", [0, -1.0, [1.0, 2.0], float("nan"), "px"])
def test_a_bad_voxel_size_argument_is_refused(tmp_path, vol, bad):
    np.save(tmp_path / "v.npy", vol)
    with pytest.raises(InputError, match="voxel_size_um="):
        bz.io.read_volume(tmp_path / "v.npy", voxel_size_um=bad)


def test_imagej_in_mm_and_tiff_resolution_in_cm_are_converted(tmp_path, vol):
    tifffile.imwrite(tmp_path / "mm.tif", vol[0], imagej=True, resolution=(100.0, 100.0), metadata={"unit": "mm"})
    np.testing.assert_allclose(bz.io.read_volume(tmp_path / "mm.tif").attrs["voxel_size_um"], [10.0, 10.0])
    # 2000 px/cm = 5 µm pixels (TIFF ResolutionUnit 3 = centimetre)
    tifffile.imwrite(tmp_path / "cm.tif", vol[0], resolution=(2000.0, 2000.0), resolutionunit=3)
    np.testing.assert_allclose(bz.io.read_volume(tmp_path / "cm.tif").attrs["voxel_size_um"], [5.0, 5.0])


def test_print_dpi_and_unitless_resolution_are_not_taken_as_voxel_size(tmp_path, vol):
    tifffile.imwrite(tmp_path / "dpi.tif", vol[0], resolution=(72.0, 72.0), resolutionunit=2)
    tifffile.imwrite(tmp_path / "ij.tif", vol[0], imagej=True, resolution=(1e6, 1e6), metadata={"unit": ""})
    for name in ("dpi.tif", "ij.tif"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # unknown size is normal: no warning
            out = bz.io.read_volume(tmp_path / name)
        assert out.dims == ("y", "x")
        assert out.attrs["voxel_size_um"] is None and out.attrs["voxel_size_from"] is None
        assert out.x.attrs["units"] == "pixel"
        np.testing.assert_array_equal(out.x.values, np.arange(24))


def test_ome_tiff_physical_size(tmp_path, vol):
    path = tmp_path / "v.ome.tif"
    tifffile.imwrite(path, vol, metadata={"axes": "ZYX", "PhysicalSizeX": 0.4, "PhysicalSizeY": 0.4,
                                          "PhysicalSizeZ": 0.8, "PhysicalSizeXUnit": "µm",
                                          "PhysicalSizeYUnit": "µm", "PhysicalSizeZUnit": "µm"})
    np.testing.assert_allclose(bz.io.read_volume(path).attrs["voxel_size_um"], [0.8, 0.4, 0.4])


def test_colour_tiff_is_refused(tmp_path):
    rgb = np.zeros((8, 9, 3), np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    with pytest.raises(FileFormatError, match="rgb.tif.*colour"):
        bz.io.read_volume(tmp_path / "rgb.tif")


def test_corrupt_tiff_names_the_file(tmp_path, vol):
    _write_sequence(tmp_path / "seq", vol, pad=2)
    (tmp_path / "seq" / "slice03.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(FileFormatError, match=r"slice03\.tif: reading its TIFF header failed .*not a TIFF file"):
        bz.io.read_volume(tmp_path / "seq")


# --------------------------------------------------------------------------- HDF5, zarr, npz, raw


def test_hdf5_dataset_path_and_element_size_attribute(tmp_path, vol):
    path = tmp_path / "tomo.h5"
    with h5py.File(path, "w") as fh:
        ds = fh.create_dataset("exchange/data", data=vol, chunks=(4, 20, 24))
        ds.attrs["element_size_um"] = [2.0, 1.0, 1.0]
        fh.create_dataset("exchange/dark", data=vol[:2])
    with pytest.raises(InputError, match="dataset="):
        bz.io.read_volume(path)  # two candidates: must say which
    out = bz.io.read_volume(path, dataset="/exchange/data")
    np.testing.assert_array_equal(out.values, vol)
    assert out.attrs["voxel_size_um"] == [2.0, 1.0, 1.0] and out.attrs["dataset"] == "/exchange/data"
    lazy = bz.io.read_volume(path, dataset="exchange/data", chunks=(4, -1, -1))
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy[5].values, vol[5])
    with pytest.raises(InputError, match="no dataset 'nope'"):
        bz.io.read_volume(path, dataset="nope")


def test_hdf5_size_with_unit_on_the_group(tmp_path, vol):
    path = tmp_path / "tomo.hdf5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("recon/vol", data=vol)
        fh["recon"].attrs["pixel_size"] = 0.0065
        fh["recon"].attrs["units"] = "mm"
    np.testing.assert_allclose(bz.io.read_volume(path).attrs["voxel_size_um"], [6.5] * 3)


def test_zarr_array_and_group(tmp_path, vol):
    arr = zarr.create_array(str(tmp_path / "a.zarr"), shape=vol.shape, dtype=vol.dtype, chunks=(4, 20, 24))
    arr[:] = vol
    arr.attrs["voxel_size_um"] = [3.0, 3.0, 3.0]
    out = bz.io.read_volume(tmp_path / "a.zarr")
    np.testing.assert_array_equal(out.values, vol)
    assert out.attrs["voxel_size_um"] == [3.0, 3.0, 3.0]
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("recon", data=vol)
    group.create_array("other", data=vol[:3])
    with pytest.raises(InputError, match="dataset="):
        bz.io.read_volume(tmp_path / "g.zarr")
    out = bz.io.read_volume(tmp_path / "g.zarr", dataset="recon", chunks=(6, -1, -1))
    assert isinstance(out.data, da.Array)
    np.testing.assert_array_equal(out.values, vol)


def test_a_volume_written_by_xarray_round_trips(tmp_path, vol):
    da_in = xr.DataArray(vol, dims=("z", "y", "x"), name="ct", attrs={"voxel_size_um": [2.0, 2.0, 2.0]})
    da_in.to_dataset().to_zarr(tmp_path / "ct.zarr", consolidated=False)
    out = bz.io.read_volume(tmp_path / "ct.zarr")
    np.testing.assert_array_equal(out.values, vol)
    assert out.attrs["voxel_size_um"] == [2.0, 2.0, 2.0]


def test_npz_key_and_npy(tmp_path, vol):
    np.savez(tmp_path / "v.npz", image=vol, labels=vol > 5)
    with pytest.raises(InputError, match=r"\['image', 'labels'\]"):
        bz.io.read_volume(tmp_path / "v.npz")
    np.testing.assert_array_equal(bz.io.read_volume(tmp_path / "v.npz", dataset="labels").values, vol > 5)
    np.savez(tmp_path / "one.npz", vol[0], voxel_size_um=[1.5, 1.5])
    one = bz.io.read_volume(tmp_path / "one.npz")
    assert one.dims == ("y", "x") and one.attrs["voxel_size_um"] == [1.5, 1.5]
    np.save(tmp_path / "v.npy", vol)
    out = bz.io.read_volume(tmp_path / "v.npy", voxel_size_um=1)
    assert isinstance(out.data, np.ndarray) and not isinstance(out.data, np.memmap)
    np.testing.assert_array_equal(out.values, vol)


def test_raw_with_shape_dtype_and_byte_order(tmp_path, vol):
    path = tmp_path / "vol.raw"
    path.write_bytes(b"HEAD" + vol.astype(">u2").tobytes())
    out = bz.io.read_volume(path, 0.5, shape=vol.shape, dtype=">u2", offset=4)
    np.testing.assert_array_equal(out.values, vol)
    assert out.attrs["voxel_size_um"] == [0.5, 0.5, 0.5]
    with pytest.raises(InputError, match="shape= and dtype="):
        bz.io.read_volume(path)
    with pytest.raises(FileFormatError, match=r"vol\.raw.*bytes.*needs"):
        bz.io.read_volume(path, shape=(12, 20, 25), dtype=">u2", offset=4)


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_named(tmp_path, vol):
    with pytest.raises(FileFormatError, match="nowhere.tif.*does not exist"):
        bz.io.read_volume(tmp_path / "nowhere.tif")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FileFormatError, match="unknown volume format '.txt'"):
        bz.io.read_volume(tmp_path / "notes.txt")
    np.save(tmp_path / "empty.npy", np.zeros((0, 5, 5), np.uint8))
    with pytest.raises(FileFormatError, match="empty.npy.*empty"):
        bz.io.read_volume(tmp_path / "empty.npy")
    np.save(tmp_path / "line.npy", np.zeros(5))
    with pytest.raises(FileFormatError, match="1D"):
        bz.io.read_volume(tmp_path / "line.npy")
    np.save(tmp_path / "v.npy", vol)
    for bad in (0, -1, [1, 2], float("nan")):
        with pytest.raises(InputError, match="voxel_size_um"):
            bz.io.read_volume(tmp_path / "v.npy", voxel_size_um=bad)
    with pytest.raises(InputError):
        bz.io.read_volume(42)


def test_one_slice_volume_becomes_a_2d_slice(tmp_path, vol):
    tifffile.imwrite(tmp_path / "one.tif", vol[:1], imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "um", "spacing": 3.0, "axes": "ZYX"})
    out = bz.io.read_volume(tmp_path / "one.tif")
    assert out.dims == ("y", "x")
    np.testing.assert_allclose(out.attrs["voxel_size_um"], [0.5, 0.5])


# --------------------------------------------------------------------------- real files


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name, shape, dtype, voxel",
    [
        ("real/ct/cell-slice-im1", (576, 576), np.uint16, None),
        ("real/ct/cell-slice-im1-mask", (576, 576), np.uint8, None),
        ("real/ct/can-dent-mask", (576, 576), np.bool_, None),
        ("real/ct/cell-header-volume", (100, 728, 728), np.uint8, None),
        ("real/ct/jellybamm-cc-skeleton", (1750, 1750), np.int8, [10.4, 10.4]),
        ("real/ct/electrode-taufactor-nmc", (256, 256, 256), np.uint8, None),
        ("real/ct/electrode-nrel-nmc1cal", (251, 301, 301), np.uint8, [0.398] * 3),
    ],
)
def test_every_real_ct_entry_loads_through_the_manifest(fetch_real, name, shape, dtype, voxel):
    paths = fetch_real(name)
    out = bz.data.load(name)
    assert out.shape == shape and out.dtype == dtype
    assert out.dims == ("z", "y", "x")[-len(shape):]
    assert out.attrs["voxel_size_um"] == voxel
    assert np.asarray(out[(0,) * (len(shape) - 2)]).std() > 0  # real content, not zeros
    # every voxel as the independent reader gives it (tifffile, numpy's npz)
    if paths[0].suffix == ".npz":
        with np.load(paths[0]) as archive:
            reference = archive["arr_0"]
    else:
        reference = np.stack([tifffile.imread(p) for p in sorted(paths)]) if len(paths) > 1 else tifffile.imread(paths[0])
    np.testing.assert_array_equal(out.values, reference.reshape(shape))


@pytest.mark.realdata
def test_real_cell_vol_sequence_reads_as_one_volume_with_progress(fetch_real, capsys):
    paths = fetch_real("real/ct/cell-header-volume")
    out = bz.io.read_volume(paths[0].parent, progress=True)
    assert out.shape == (100, 728, 728)
    assert "reading TIFF sequence" in capsys.readouterr().err
    # slice k is file im{k+1:03d}.tif: natural order, every slice distinct
    np.testing.assert_array_equal(out[41].values, tifffile.imread(paths[0].parent / "im042.tif"))
    assert len({hash(out[i].values.tobytes()) for i in range(0, 100, 10)}) == 10


# ----------------------------------------------------------------------------- damaged files


def _npy_values(clean_path, mutation):
    """Bytes changed in place inside an .npz member's array data, the zip's CRC rewritten
    (testing.fuzz's zip mutations): an .npy has no checksum, so no reader can tell."""
    parts = mutation.name.split(":")
    if len(parts) != 3 or parts[0] != "zip" or not parts[1].endswith(".npy"):
        return None
    op, _, where = parts[2].partition("@")
    offset = int(where.split("+")[0]) if where and where.split("+")[0].isdigit() else -1
    if op in ("overwrite", "zeros", "ones", "bitflip") and offset >= 256:  # past any header
        return "values of an .npy array inside a zip whose checksum was rewritten (npy has none)"
    return None


def test_damaged_volumes_are_refused_or_read_the_same(fetch_real, fuzz_reader, tmp_path, vol):
    """Real TIFF (a mask and a 16-bit slice), TIFF sequence, HDF5 (DXchange) and npz
    files, and a chunked zarr store, each damaged by the seeded fuzzer."""
    from batteryzoom.testing.payload import hdf5_free, judge, tiff_free, zarr_chunk_judge

    tiff = judge(tiff_free, "raw pixels of an uncompressed TIFF strip", shifted=True)
    found = fuzz_reader(bz.io.read_volume, [fetch_real("real/ct/can-dent-mask")[0],
                                            fetch_real("real/ct/cell-slice-im1")[0]], n=12, seed=401, judge=tiff)
    assert found["refused"] > 0
    seq = sorted(fetch_real("real/ct/cell-header-volume"))
    fuzz_reader(bz.io.read_volume, [seq[0], seq[-1]], n=4, seed=402, judge=tiff, root=seq[0].parent)
    (tooth,) = fetch_real("real/tomo/aps-tooth-dxchange")
    fuzz_reader(lambda p: bz.io.read_volume(p, dataset="/exchange/data"), [tooth], n=20, seed=403,
                judge=judge(hdf5_free, "raw data of an unfiltered HDF5 dataset", structure_may_change=True))
    fuzz_reader(bz.io.read_volume, fetch_real("real/ct/jellybamm-cc-skeleton"), n=15, seed=404, judge=_npy_values)
    store = zarr.open_array(str(tmp_path / "v.zarr"), mode="w", shape=vol.shape, chunks=(4, 10, 12), dtype=vol.dtype)
    store[:] = vol
    store.attrs["voxel_size_um"] = [1.0, 0.5, 0.5]
    files = sorted(p for p in (tmp_path / "v.zarr").rglob("*") if p.is_file())
    metadata = [p for p in files if p.name in ("zarr.json", ".zarray", ".zattrs")]
    assert metadata
    fuzz_reader(bz.io.read_volume, metadata + [p for p in files if p not in metadata][:4], n=4, seed=405,
                judge=zarr_chunk_judge(), root=tmp_path / "v.zarr")


def test_a_tiff_whose_page_chain_ends_early_is_refused(fetch_real, tmp_path):
    """Zeroed bytes in a page directory of the real 251-page NREL stack (found by the
    fuzzer) ended tifffile's page chain: 28 pages came back without any error."""
    (path,) = fetch_real("real/ct/electrode-nrel-nmc1cal")
    data = path.read_bytes()
    cut = tmp_path / path.name
    cut.write_bytes(data[:409435] + bytes(3945) + data[409435 + 3945:])
    with pytest.raises(FileFormatError, match=r"page 29 of 29 holds no image"):
        bz.io.read_volume(cut)
    pages = tmp_path / "stack.tif"
    tifffile.imwrite(pages, np.arange(4 * 40 * 50, dtype=np.uint16).reshape(4, 40, 50), photometric="minisblack",
                     metadata=None)  # no shape in a description: the page chain alone says how many
    with tifffile.TiffFile(pages) as tif:
        first, second = tif.pages[0], tif.pages[1].offset
        next_of_first = first.offset + 2 + 12 * len(first.tags)  # the directory's "next page" field
    raw = bytearray(pages.read_bytes())
    assert int.from_bytes(raw[next_of_first:next_of_first + 4], "little") == second
    raw[next_of_first:next_of_first + 4] = bytes(4)  # the chain now ends after page 1
    pages.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match=r"its 1 pages account for .* the page chain ends early"):
        bz.io.read_volume(pages)
