"""bz.io.tomo.multi_energy: one acquisition per energy stacked to (energy, angle, row, col)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom._blocks import is_dask
from batteryzoom.errors import FileFormatError
from batteryzoom.io.tomo import read_multi_energy


def _energy_file(path, kev, *, n=7, flats=3, jitter=0.0, seed=0):
    """One energy's FXI fly scan (the XANES-tomography files FXI writes, one per energy)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f["img_tomo"] = rng.integers(1000, 5000, (n, 4, 6)).astype(np.uint16)
        f["img_bkg"] = rng.integers(20000, 30000, (flats, 4, 6)).astype(np.uint16)
        f["img_dark"] = np.full((2, 4, 6), 100, np.uint16)
        f["angle"] = np.linspace(0, 180, n) + jitter * rng.standard_normal(n)
        f["X_eng"] = kev
        f["Pixel Size"] = "21.7nm"
    return path


def test_a_folder_of_energies_stacks_sorted_by_the_files_energies(tmp_path, unchanged):
    kevs = [8.36, 8.33, 8.35, 8.34]
    files = [_energy_file(tmp_path / f"fly_scan_id_{100 + i}.h5", kev, seed=i) for i, kev in enumerate(kevs)]
    with unchanged(tmp_path):
        acq = bz.io.read_acquisition(tmp_path)  # a folder of acquisitions: multi-energy
    assert acq.attrs["format"] == "multi-energy" and acq.attrs["member_format"] == "fxi"
    assert acq.projections.dims == ("energy", "angle", "row", "col") and acq.projections.shape == (4, 7, 4, 6)
    assert acq.energy.values.tolist() == [8330.0, 8340.0, 8350.0, 8360.0]
    assert acq.flats.shape == (4, 3, 4, 6) and acq.darks.shape == (4, 2, 4, 6)
    assert acq.attrs["pixel_size_um"] == pytest.approx(0.0217)
    order = np.argsort(kevs)
    assert acq.attrs["energy_files"] == [str(files[i]) for i in order]
    for k, i in enumerate(order):  # each energy equals its own file, read with h5py
        with h5py.File(files[i], "r") as f:
            np.testing.assert_array_equal(acq.projections.values[k], f["img_tomo"][()])
            np.testing.assert_array_equal(acq.flats.values[k], f["img_bkg"][()])
    lazy = read_multi_energy(files, lazy=True)
    assert is_dask(lazy.projections.data)
    np.testing.assert_array_equal(lazy.projections.values, acq.projections.values)


def test_fly_scan_angles_that_differ_a_little_are_kept_per_energy(tmp_path):
    files = [_energy_file(tmp_path / f"e{i}.h5", kev, jitter=0.5, seed=i) for i, kev in enumerate([8.33, 8.34])]
    acq = read_multi_energy(files)
    assert acq.angle_by_energy.dims == ("energy", "angle")
    with h5py.File(files[1], "r") as f:
        np.testing.assert_allclose(acq.angle_by_energy.values[1], f["angle"][()])
    np.testing.assert_allclose(acq.angle.values, acq.angle_by_energy.values.mean(axis=0))
    assert "angle_by_energy" in acq.attrs["angle_unit_source"]
    far = [_energy_file(tmp_path / f"far{i}.h5", kev, jitter=8.0, seed=i) for i, kev in enumerate([8.33, 8.34])]
    with pytest.raises(FileFormatError, match=r"the projections' angles differ by up to .* between energies"):
        read_multi_energy(far)


def test_energies_that_do_not_stack_are_refused_naming_the_file(tmp_path):
    a = _energy_file(tmp_path / "a.h5", 8.33)
    b = _energy_file(tmp_path / "b.h5", 8.34, flats=4)
    with pytest.raises(FileFormatError, match=r"b\.h5: has 4 flats where a\.h5 has 3"):
        read_multi_energy([a, b])
    c = _energy_file(tmp_path / "c.h5", 8.33)
    with pytest.raises(FileFormatError, match=r"2 files at 8330\.00 eV"):
        read_multi_energy([a, c])
    d = _energy_file(tmp_path / "d.h5", 8.35, n=8)
    with pytest.raises(FileFormatError, match=r"different numbers of projections \(8330\.0 eV: 7, 8350\.0 eV: 8\)"):
        read_multi_energy([a, d])
    with pytest.raises(FileFormatError, match=r"1 acquisition file\(s\)"):
        read_multi_energy([a])
    stacked = read_multi_energy([a, c], energy_ev=[8330.0, 8331.0])
    assert stacked.energy.values.tolist() == [8330.0, 8331.0]
