"""bz.io.tomo.fxi: NSLS-II FXI tomography files, written here in FXI's published layout.

No real FXI tomography is small enough to mirror; the file below follows the beamline's own
``export_fly_scan`` (NSLS-II FXI profile / export workflow): every dataset it writes, with
its dtype, ``X_eng`` in keV, ``angle`` in degrees from the interpolated rotation motor,
``Pixel Size`` as text in nm. pyxas's ``tomo_recon`` reads the same keys.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom._blocks import is_dask
from batteryzoom.errors import FileFormatError
from batteryzoom.io.tomo import detect_format, read_fxi


def _fly_scan(path, *, n=61, shape=(6, 8), kev=8.353, seed=0, angle=None, bkg=True, multi=None):
    """An FXI fly_scan file as export_fly_scan writes it."""
    rng = np.random.default_rng(seed)
    lead = () if multi is None else (len(multi),)
    img_tomo = rng.integers(2000, 9000, lead + (n,) + shape).astype(np.uint16)
    img_bkg = rng.integers(20000, 30000, lead + (10,) + shape).astype(np.uint16)
    img_dark = rng.integers(90, 110, lead + (10,) + shape).astype(np.uint16)
    if angle is None:  # a fly scan: the rotation motor interpolated at each frame's time
        angle = np.linspace(-90, 90, n) + rng.normal(0, 0.01, n)
    M = (2100.0 / 70.0 - 1) * 10.0  # (DetU_z / zp_z - 1) * 10
    with h5py.File(path, "w") as hf:
        hf.create_dataset("note", data=str("LiNiO2 particle"))
        hf.create_dataset("uid", data="5b0a6d9e-0000-4000-8000-000000000000")
        hf.create_dataset("scan_id", data=int(41234))
        hf.create_dataset("scan_time", data=1.6e9)
        hf.create_dataset("X_eng", data=kev if multi is None else np.asarray(multi))
        if bkg:
            hf.create_dataset("img_bkg", data=np.array(img_bkg, dtype=np.uint16))
            hf.create_dataset("img_dark", data=np.array(img_dark, dtype=np.uint16))
        hf.create_dataset("img_bkg_avg", data=np.median(img_bkg, axis=-3, keepdims=True).astype(np.float32))
        hf.create_dataset("img_dark_avg", data=np.median(img_dark, axis=-3, keepdims=True).astype(np.float32))
        hf.create_dataset("img_tomo", data=np.array(img_tomo, dtype=np.uint16))
        hf.create_dataset("angle", data=angle)
        for key in ("x_ini", "y_ini", "z_ini", "r_ini"):
            hf.create_dataset(key, data=0.0)
        hf.create_dataset("Magnification", data=M)
        hf.create_dataset("Pixel Size", data=str(str(6500.0 / M) + "nm"))
    return path


def test_fly_scan_reads_as_written_and_equals_h5py(tmp_path, unchanged):
    path = _fly_scan(tmp_path / "fly_scan_id_41234.h5")
    assert detect_format(path) == "fxi"
    with unchanged(path):
        acq = bz.io.read_acquisition(path)
    assert acq.attrs["format"] == "fxi" and acq.projections.shape == (61, 6, 8)
    assert acq.attrs["energy_ev"] == pytest.approx(8353.0) and "keV" in acq.attrs["energy_source"]
    assert acq.attrs["pixel_size_um"] == pytest.approx(6.5 / 290.0)
    assert acq.attrs["scan_id"] == 41234 and acq.attrs["note"] == "LiNiO2 particle"
    assert acq.attrs["date"].startswith("2020-09-13")
    assert "convention" in acq.attrs["angle_unit_source"]
    assert acq.attrs["flats_source"] == "img_bkg (every frame)"
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(acq.projections.values, f["img_tomo"][()])
        np.testing.assert_array_equal(acq.flats.values, f["img_bkg"][()])
        np.testing.assert_array_equal(acq.darks.values, f["img_dark"][()])
        np.testing.assert_array_equal(acq.angle.values, f["angle"][()])
    lazy = read_fxi(path, lazy=True)
    assert is_dask(lazy.projections.data)
    np.testing.assert_array_equal(lazy.projections.values, acq.projections.values)


def test_only_the_median_flat_kept(tmp_path):
    acq = read_fxi(_fly_scan(tmp_path / "tomo_scan_id_1.h5", bkg=False))
    assert acq.flats.shape == (1, 6, 8) and acq.flats.dtype == np.float32
    assert "median" in acq.attrs["flats_source"]


def test_a_multi_energy_fxi_file(tmp_path):
    path = _fly_scan(tmp_path / "xanes3d.h5", n=5, multi=[8.33, 8.34, 8.35], angle=np.linspace(0, 180, 5))
    acq = read_fxi(path)
    assert acq.projections.dims == ("energy", "angle", "row", "col") and acq.projections.shape == (3, 5, 6, 8)
    assert acq.energy.values.tolist() == [8330.0, 8340.0, 8350.0]
    assert acq.flats.shape == (3, 10, 6, 8) and "angle_by_energy" not in acq.coords
    lazy = read_fxi(path, lazy=True)
    assert lazy.projections.data.chunks[0] == (1, 1, 1)  # one energy per chunk, never all at once
    np.testing.assert_array_equal(lazy.projections.values, acq.projections.values)
    with h5py.File(path, "r+") as f:
        del f["X_eng"]
        f["X_eng"] = [8.33, 8.34]
    with pytest.raises(FileFormatError, match=r"X_eng holds 2 energies for 3 energies of img_tomo.*energy_ev="):
        read_fxi(path)


def test_bad_fxi_files(tmp_path):
    path = _fly_scan(tmp_path / "rad.h5", angle=np.linspace(-np.pi / 2, np.pi / 2, 61))
    with pytest.raises(FileFormatError, match=r"rad\.h5: angle should be in deg by the format, but detected: "
                                              r".*reads as radians.*angle_unit="):
        read_fxi(path)
    assert read_fxi(path, angle_unit="rad").angle.values[-1] == pytest.approx(90.0)
    path = _fly_scan(tmp_path / "short.h5", angle=np.linspace(-90, 90, 60))
    with pytest.raises(FileFormatError, match=r"short\.h5: 60 angles for 61 projections"):
        read_fxi(path)
    path = _fly_scan(tmp_path / "nopixel.h5")
    with h5py.File(path, "r+") as f:
        del f["Pixel Size"]
        f["Pixel Size"] = "0.0nm"  # export_count writes 0 when the magnification is unknown
    with pytest.raises(FileFormatError, match=r"Pixel Size \(0\.0nm\) records a pixel size of 0 µm.*pixel_size_um="):
        read_fxi(path)
    assert read_fxi(path, pixel_size_um=0.02).attrs["pixel_size_um"] == 0.02
