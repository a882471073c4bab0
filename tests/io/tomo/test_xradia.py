"""bz.io.tomo.xradia: Zeiss/Xradia .txrm and .xrm, checked against olefile read directly."""

from __future__ import annotations

import pickle

import numpy as np
import olefile
import pytest

import batteryzoom as bz
from batteryzoom._blocks import is_dask
from batteryzoom.errors import FileFormatError, InputError
from batteryzoom.io.tomo import read_xradia

TXRM = "real/tomo/xradia-chip-txrm"
XRM = "real/tomo/xradia-chip-xrm"


def _ole(path, name, dtype):
    """A stream as an array, read with olefile alone (the independent reader)."""
    with olefile.OleFileIO(str(path)) as ole:
        raw = ole.openstream(name).read()
    return np.frombuffer(raw[: len(raw) // np.dtype(dtype).itemsize * np.dtype(dtype).itemsize], dtype)


def test_txrm_has_the_files_own_facts_and_equals_olefile(fetch_real, unchanged):
    (path,) = fetch_real(TXRM)
    with unchanged(path):
        acq = read_xradia(path, flats="absent")
    # README: 7 projections at −45…+45° (15° steps), 256×256 uint16, 0.156 µm, 9200 eV, 5 s, no reference
    assert acq.attrs["format"] == "xradia-txrm" and acq.attrs["flats_absent"] is True and "flats" not in acq
    assert acq.projections.shape == (7, 256, 256) and acq.projections.dtype == np.uint16
    np.testing.assert_allclose(acq.angle.values, np.arange(-45, 46, 15), atol=0.02)
    np.testing.assert_allclose(np.diff(acq.angle.values), 15, atol=0.01)
    assert acq.attrs["pixel_size_um"] == pytest.approx(0.156, abs=5e-4)
    assert acq.attrs["energy_ev"] == pytest.approx(9200, abs=0.5)
    assert acq.attrs["exposure_s"] == 5.0
    assert acq.attrs["date"].startswith("11/09/15")  # 2015
    assert "convention" in acq.attrs["angle_unit_source"]
    for k in range(7):
        np.testing.assert_array_equal(acq.projections.values[k],
                                      _ole(path, f"ImageData1/Image{k + 1}", "<u2").reshape(256, 256))
    np.testing.assert_array_equal(acq.angle.values, _ole(path, "ImageInfo/Angles", "<f4")[:7].astype(np.float64))
    np.testing.assert_allclose(acq.col.values[1], _ole(path, "ImageInfo/PixelSize", "<f4")[0], rtol=1e-6)


def test_txrm_without_a_reference_asks_for_flats(fetch_real, unchanged):
    txrm, xrm = fetch_real(TXRM)[0], fetch_real(XRM)[0]
    with unchanged(txrm, xrm):
        with pytest.raises(FileFormatError, match=r"txrm_test_chip_tomo\.txrm: holds 7 images and no reference "
                                                  r"\(flat-field\) image.*needs flats — pass flats=.*\.xrm.*"
                                                  r"normalized=True.*flats='absent'"):
            read_xradia(txrm)
        with pytest.raises(FileFormatError, match=r"was taken at 7191\.0 eV, the projections at 9200\.0 eV"):
            read_xradia(txrm, flats=xrm)
        flats = np.full((2, 256, 256), 30000, np.uint16)
        acq = bz.io.read_acquisition(txrm, flats=flats)
        np.testing.assert_array_equal(acq.flats.values, flats)
        assert acq.attrs["flats_source"] == "given array (2, 256, 256)"
        with pytest.raises(FileFormatError, match=r"flats are 3×256 px but the projections 256×256 px"):
            read_xradia(txrm, flats=np.ones((3, 256), np.uint16))
        assert read_xradia(txrm, normalized=True).attrs["normalized"] is True


def test_txrm_lazy_reads_image_by_image(fetch_real):
    (path,) = fetch_real(TXRM)
    lazy = read_xradia(path, flats="absent", lazy=True)
    assert is_dask(lazy.projections.data)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy.projections.data))[6].compute(),
                                  lazy.projections.values[6])
    np.testing.assert_array_equal(lazy.projections[2:5].values, read_xradia(path, flats="absent").projections[2:5].values)


def test_xrm_with_embedded_reference(fetch_real, unchanged):
    (path,) = fetch_real(XRM)
    with unchanged(path):
        acq = bz.io.read_acquisition(path)
    # README: one .xrm at −0.06°, 512×512 uint16, 0.078 µm, 7191 eV, 40 s, flat as ReferenceData/Image
    assert acq.attrs["format"] == "xradia-xrm"
    assert acq.projections.shape == (1, 512, 512) and acq.flats.shape == (1, 512, 512)
    assert acq.angle.values[0] == pytest.approx(-0.06, abs=1e-6)
    assert acq.attrs["pixel_size_um"] == pytest.approx(0.078, abs=5e-4)
    assert acq.attrs["energy_ev"] == pytest.approx(7191, abs=0.5)
    assert acq.attrs["exposure_s"] == pytest.approx(40, abs=0.2) and acq.attrs["flat_exposure_s"] == 40.0
    assert acq.attrs["flats_source"] == "ReferenceData/Image (embedded)"
    np.testing.assert_array_equal(acq.projections.values[0], _ole(path, "ImageData1/Image1", "<u2").reshape(512, 512))
    np.testing.assert_array_equal(acq.flats.values[0], _ole(path, "ReferenceData/Image", "<u2").reshape(512, 512))


def test_manifest_loads_both(fetch_real):
    fetch_real(TXRM), fetch_real(XRM)
    txrm = bz.data.load(TXRM)  # the manifest's loader args: flats='absent'
    assert txrm.attrs["flats_absent"] and txrm.sizes["angle"] == 7
    assert bz.data.load(XRM).sizes["flat"] == 1


def test_damaged_files_and_bad_values(fetch_real, tmp_path):
    (path,) = fetch_real(TXRM)
    cut = tmp_path / "cut.txrm"
    cut.write_bytes(path.read_bytes()[:400_000])
    with pytest.raises(FileFormatError, match=r"cut\.txrm: .*(truncated|corrupt|damaged)"):
        read_xradia(cut, flats="absent")
    other = tmp_path / "not_ole.txrm"
    other.write_bytes(b"hello" * 100)
    with pytest.raises(FileFormatError, match=r"not_ole\.txrm: not an OLE2 compound file"):
        read_xradia(other)
    with pytest.raises(FileFormatError, match=r"not_ole\.txrm: unknown acquisition format"):
        bz.io.read_acquisition(other)
    acq = read_xradia(path, flats="absent", pixel_size_um=0.2, energy_ev=9000)
    assert acq.attrs["pixel_size_um"] == 0.2 and "0.155789" in acq.attrs["pixel_size_source"]
    with pytest.raises(InputError, match=r"energy_ev=50 is outside the plausible photon energy range"):
        read_xradia(path, flats="absent", energy_ev=50)
