"""bz.io.tomo.dxchange: APS Data Exchange HDF5, on TomoPy's tooth and on files written here."""

from __future__ import annotations

import pickle
import shutil
import tracemalloc

import h5py
import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom._blocks import is_dask
from batteryzoom.errors import FileFormatError, InputError
from batteryzoom.io.tomo import read_dxchange

TOOTH = "real/tomo/aps-tooth-dxchange"


def test_tooth_has_the_files_own_facts_and_equals_an_independent_read(fetch_real, unchanged):
    (path,) = fetch_real(TOOTH)
    with unchanged(path):
        acq = bz.io.read_acquisition(path)
    # README: 181 projections × 2 rows × 640 px float32 counts (3.9k–34k), 10 flats, 10 darks,
    # θ = 0…179.0° in degrees, step 180/181; no pixel size or energy in the file
    assert acq.attrs["format"] == "dxchange"
    assert acq.projections.shape == (181, 2, 640) and acq.projections.dtype == np.float32
    assert acq.sizes["flat"] == 10 and acq.sizes["dark"] == 10
    assert 3.5e3 < float(acq.projections.min()) and float(acq.projections.max()) < 3.5e4
    np.testing.assert_allclose(np.diff(acq.angle.values), 180 / 181, rtol=1e-9)
    assert acq.angle.values[0] == 0.0 and abs(acq.angle.values[-1] - 179.0) < 0.01
    assert "units" not in acq.attrs["angle_unit_source"] and "the file says so" in acq.attrs["angle_unit_source"]
    assert acq.attrs["pixel_size_um"] is None and acq.attrs["energy_ev"] is None
    assert acq.row.attrs["units"] == "px"
    with h5py.File(path, "r") as f:  # the independent reader
        np.testing.assert_array_equal(acq.projections.values, f["/exchange/data"][()])
        np.testing.assert_array_equal(acq.flats.values, f["/exchange/data_white"][()])
        np.testing.assert_array_equal(acq.darks.values, f["/exchange/data_dark"][()])
        np.testing.assert_array_equal(acq.angle.values, f["/exchange/theta"][()])
        assert f["/exchange/theta"].attrs["units"] == "degrees"


def test_lazy_read_is_dask_and_equal(fetch_real):
    (path,) = fetch_real(TOOTH)
    lazy = read_dxchange(path, lazy=True)
    assert is_dask(lazy.projections.data)
    np.testing.assert_array_equal(lazy.projections.values, read_dxchange(path).projections.values)
    # no open file handle inside: the graph pickles, as a dask.distributed worker needs
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy.projections.data)).compute(), lazy.projections.values)


def _write(path, data, theta, white=None, dark=None, theta_units="degrees", **meta):
    with h5py.File(path, "w") as f:
        f["exchange/data"] = data
        f["exchange/theta"] = theta
        if theta_units:
            f["exchange/theta"].attrs["units"] = theta_units
        if white is not None:
            f["exchange/data_white"] = white
        if dark is not None:
            f["exchange/data_dark"] = dark
        for name, (value, unit) in meta.items():
            f[name] = value
            if unit:
                f[name].attrs["units"] = unit
    return path


def test_angles_in_radians_and_metadata_with_units(tmp_path):
    data = np.full((181, 3, 4), 800, np.uint16)
    path = _write(tmp_path / "a.h5", data, np.linspace(0, np.pi, 181), np.full((2, 3, 4), 1000, np.uint16),
                  theta_units="rad", **{"measurement/instrument/monochromator/energy": (8.333, "keV"),
                                        "measurement/instrument/detection_system/objective/resolution": (650.0, "nm")})
    acq = read_dxchange(path)
    assert abs(acq.angle.values[-1] - 180.0) < 1e-9
    assert acq.attrs["energy_ev"] == pytest.approx(8333.0) and "keV" in acq.attrs["energy_source"]
    assert acq.attrs["pixel_size_um"] == pytest.approx(0.65)
    np.testing.assert_allclose(acq.col.values, np.arange(4) * 0.65)
    given = read_dxchange(path, pixel_size_um=0.5, energy_ev=9000.0)
    assert given.attrs["pixel_size_um"] == 0.5 and "0.65" in given.attrs["pixel_size_source"]
    assert given.attrs["energy_ev"] == 9000.0


def test_bad_inputs_are_refused_naming_the_file_and_the_fix(tmp_path):
    data = np.full((10, 3, 4), 800, np.uint16)
    white = np.full((2, 3, 4), 1000, np.uint16)
    theta = np.linspace(0, 180, 10, endpoint=False)
    bad = _write(tmp_path / "short_theta.h5", data, theta[:9], white)
    with pytest.raises(FileFormatError, match=r"short_theta\.h5: 9 angles for 10 projections"):
        read_dxchange(bad)
    bad = _write(tmp_path / "roi.h5", data, theta, np.full((2, 3, 5), 1000, np.uint16))
    with pytest.raises(FileFormatError, match=r"roi\.h5: flats are 3×5 px but the projections 3×4 px"):
        read_dxchange(bad)
    bad = _write(tmp_path / "noflat.h5", data, theta)
    with pytest.raises(FileFormatError, match=r"noflat\.h5: raw projections need flat fields.*pass flats="):
        read_dxchange(bad)
    dead = white.copy()
    dead[1] = 0
    bad = _write(tmp_path / "dead.h5", data, theta, dead)
    with pytest.raises(FileFormatError, match=r"dead\.h5: flat field 1 of 2 is 100% zeros"):
        read_dxchange(bad)
    clipped = white.copy()
    clipped[0, 0, :] = 65535
    bad = _write(tmp_path / "clipped.h5", data, theta, clipped)
    with pytest.raises(FileFormatError, match=r"clipped\.h5: flat field 0 of 2 is saturated: 33\.3% .* 65535"):
        read_dxchange(bad)
    bad = _write(tmp_path / "ambiguous.h5", data[:4], [0.0, 1.0, 2.0, 3.0], white, theta_units=None)
    with pytest.raises(FileFormatError, match=r"ambiguous\.h5: /exchange/theta carry no unit.*angle_unit="):
        read_dxchange(bad)
    assert read_dxchange(bad, angle_unit="deg").angle.values.tolist() == [0.0, 1.0, 2.0, 3.0]
    bad = _write(tmp_path / "pixel.h5", data, theta, white,
                 **{"measurement/instrument/detection_system/objective/resolution": (0.0, "um")})
    with pytest.raises(FileFormatError, match=r"pixel\.h5: .*resolution \(0 um\) records a pixel size of 0 µm.*"
                                              r"pass pixel_size_um="):
        read_dxchange(bad)
    with pytest.raises(InputError, match=r"pixel_size_um=5000 is outside the plausible pixel size range"):
        read_dxchange(_write(tmp_path / "ok.h5", data, theta, white), pixel_size_um=5000)
    with pytest.raises(FileFormatError, match=r"no /exchange/data"):
        with h5py.File(tmp_path / "empty.h5", "w") as f:
            f["x"] = 1
        read_dxchange(tmp_path / "empty.h5")


def test_a_truncated_file_is_a_file_format_error(fetch_real, tmp_path):
    (path,) = fetch_real(TOOTH)
    cut = tmp_path / "tooth_cut.h5"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(FileFormatError, match=r"tooth_cut\.h5: .*(truncated|corrupt)"):
        read_dxchange(cut)
    garbage = tmp_path / "garbage.h5"
    shutil.copy(path, garbage)
    with open(garbage, "r+b") as fh:
        fh.seek(4096)
        fh.write(b"\xff" * 65536)  # overwrite the middle: metadata or chunks
    with pytest.raises(FileFormatError, match=r"garbage\.h5"):
        read_dxchange(garbage).projections.values


def test_a_16_gb_acquisition_is_never_loaded_whole(tmp_path):
    """2000 projections of 2048² uint16 (16.8 GB declared, chunks never written): the read
    returns dask-backed projections without reading them, in bounded memory."""
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("exchange/data", shape=(2000, 2048, 2048), dtype=np.uint16, chunks=(1, 2048, 2048))
        f["exchange/data_white"] = np.full((2, 2048, 2048), 1000, np.uint16)
        f["exchange/theta"] = np.linspace(0, 180, 2000, endpoint=False)
        f["exchange/theta"].attrs["units"] = "deg"
    assert path.stat().st_size < 64 * 2**20
    tracemalloc.start()
    try:
        acq = bz.io.read_acquisition(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert is_dask(acq.projections.data) and acq.projections.nbytes > 16e9
    assert peak < 200 * 2**20, f"reading the header took {peak / 2**20:.0f} MiB"
    first = acq.projections[0].values  # one chunk reads on demand
    assert first.shape == (2048, 2048)
