"""bz.io.tomo.matlab: ToMoBAR's dendrite sinogram (MATLAB v5) and a v7.3 file written here."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

import batteryzoom as bz
from batteryzoom.errors import FileFormatError
from batteryzoom.io.tomo import detect_format, read_matlab_sinogram

DENDRITE = "real/tomo/diamond-i12-dendrite-sinogram"


def test_dendrite_has_the_files_own_facts_and_equals_scipy(fetch_real, unchanged):
    (path,) = fetch_real(DENDRITE)
    with unchanged(path):
        acq = bz.data.load(DENDRITE)  # the manifest's loader args: value_scale=1000
    # README: sinoRD 1260 detector px × 360 angles float32, anglesRad unwrapped 292.2–295.3 rad
    # in 0.5° steps, values 289–2124 = 1000 × -ln(I/I0)
    assert acq.attrs["format"] == "matlab-sinogram" and acq.attrs["normalized"] is True
    assert acq.projections.shape == (360, 1, 1260) and acq.projections.dtype == np.float32
    assert acq.attrs["value_scale"] == 1000.0 and "1000 × -ln(I/I0)" in acq.attrs["stored_values"]
    np.testing.assert_allclose(np.diff(acq.angle.values), 0.5, atol=1e-3)
    how = acq.attrs["angle_unit_source"]
    assert "anglesRad" in how and "unwrapped" in how and "46 whole turns" in how
    assert 0 <= acq.angle.values[0] < 360 and acq.attrs["scan_range_deg"] == pytest.approx(180, abs=0.01)
    raw = scipy.io.loadmat(str(path))  # the independent reader
    np.testing.assert_allclose(acq.projections.values[:, 0, :], raw["sinoRD"].T / 1000, rtol=1e-6)
    deg = np.degrees(raw["anglesRad"].ravel())
    np.testing.assert_allclose(acq.angle.values, deg - 360 * np.floor(deg[0] / 360), atol=1e-9)
    assert raw["anglesRad"].min() == pytest.approx(292.2, abs=0.05) and raw["anglesRad"].max() == pytest.approx(295.3, abs=0.05)
    assert 0.28 < float(acq.projections.min()) and float(acq.projections.max()) < 2.2


def test_scaled_values_need_value_scale(fetch_real):
    (path,) = fetch_real(DENDRITE)
    with pytest.raises(FileFormatError, match=r"RealDataDend\.mat: sinoRD holds values up to 2124.*"
                                              r"pass value_scale= .*1000 for ToMoBAR"):
        bz.io.read_acquisition(path)


def _mat73(path, variables: dict):
    """A MATLAB v7.3 file: HDF5 behind a 512-byte header, arrays column-major."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            f[name] = np.asarray(value).T
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, written by batteryzoom's test".ljust(116, b" "))
    return path


def test_v73_sinogram_stack_in_degrees(tmp_path):
    rng = np.random.default_rng(3)
    stack = rng.random((4, 90, 32)).astype(np.float32)  # (row, angle, detector)
    path = _mat73(tmp_path / "sino73.mat", {"sino3d": stack, "theta_deg": np.arange(90) * 2.0})
    assert detect_format(path) == "matlab-sinogram"
    acq = read_matlab_sinogram(path)
    assert acq.attrs["matlab_version"] == "7.3 (HDF5)"
    assert acq.projections.shape == (90, 4, 32)
    np.testing.assert_array_equal(acq.projections.values, np.moveaxis(stack, 1, 0))
    np.testing.assert_allclose(acq.angle.values, np.arange(90) * 2.0)
    assert "theta_deg" in acq.attrs["angle_unit_source"]


def test_angles_that_fit_no_axis_or_contradict_their_name(tmp_path):
    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, {"sino": np.ones((50, 40), np.float32), "angles": np.linspace(0, np.pi, 30)})
    with pytest.raises(FileFormatError, match=r"bad\.mat: cannot tell the angles"):
        read_matlab_sinogram(path)
    with pytest.raises(FileFormatError, match=r"30 angles and sino of shape \(50, 40\): no axis"):
        read_matlab_sinogram(path, angles_var="angles")
    scipy.io.savemat(path, {"sino": np.ones((50, 40), np.float32), "angles_deg": np.linspace(0, np.pi, 40)})
    with pytest.raises(FileFormatError, match=r"angles_deg should be in deg by the format.*radians"):
        read_matlab_sinogram(path)
    acq = read_matlab_sinogram(path, angle_unit="rad")
    assert acq.projections.shape == (40, 1, 50) and acq.angle.values[-1] == pytest.approx(180.0)
    (tmp_path / "junk.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 200)
    with pytest.raises(FileFormatError, match=r"junk\.mat: not a readable MATLAB file"):
        read_matlab_sinogram(tmp_path / "junk.mat")
