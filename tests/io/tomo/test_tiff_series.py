"""bz.io.tomo.tiff_series: Diamond I13's TIFF export with its 111-line angles file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tifffile

import batteryzoom as bz
from batteryzoom._blocks import is_dask
from batteryzoom.errors import FileFormatError
from batteryzoom.io.tomo import projection_lines, read_tiff_series

I13 = "real/tomo/diamond-i13-tiff-series"


def _folder(fetch_real):
    paths = fetch_real(I13)
    folder = paths[0].parent
    assert (folder / "angles.txt").is_file() and (folder / "tiffs").is_dir()
    return folder


def test_i13_has_the_files_own_facts_and_equals_tifffile(fetch_real, unchanged):
    folder = _folder(fetch_real)
    with unchanged(folder):
        acq = bz.io.read_acquisition(folder)
    # README: 91 projections, 135×160 uint16, 2° steps from −88.2° to 91.8°, one dark and one
    # flat (float32, averaged); angles.txt has 111 lines, projections are lines 11–101
    assert acq.attrs["format"] == "tiff-series"
    assert acq.projections.shape == (91, 135, 160) and acq.projections.dtype == np.uint16
    assert acq.flats.shape == (1, 135, 160) and acq.flats.dtype == np.float32
    assert acq.darks.shape == (1, 135, 160) and acq.darks.dtype == np.float32
    assert acq.angle.values[0] == pytest.approx(-88.2) and acq.angle.values[-1] == pytest.approx(91.8, abs=1e-3)
    np.testing.assert_allclose(np.diff(acq.angle.values), 2.0, atol=1e-3)
    assert "lines 11–101 are the 91 projections" in acq.attrs["angles_lines"]
    assert "detected" in acq.attrs["angle_unit_source"] and "degrees" in acq.attrs["angle_unit_source"]
    raws = sorted((folder / "tiffs").glob("raw_*.tiff"))
    assert len(raws) == 91
    np.testing.assert_array_equal(acq.projections.values, np.stack([tifffile.imread(p) for p in raws]))
    np.testing.assert_array_equal(acq.flats.values[0], tifffile.imread(folder / "flat_00001.tiff"))
    np.testing.assert_array_equal(acq.darks.values[0], tifffile.imread(folder / "dark_00001.tiff"))
    lines = np.loadtxt(folder / "angles.txt")
    assert lines.size == 111
    np.testing.assert_array_equal(acq.angle.values, lines[10:101])


def test_manifest_loads_the_folder_and_the_projection_folder_reads_too(fetch_real):
    folder = _folder(fetch_real)
    acq = bz.data.load(I13)
    assert acq.sizes["angle"] == 91
    inner = read_tiff_series(folder / "tiffs")  # flats, darks and angles.txt one folder up
    np.testing.assert_array_equal(inner.angle.values, acq.angle.values)
    assert inner.sizes["flat"] == 1 and inner.sizes["dark"] == 1


def test_projection_lines_finds_the_projections_or_says_why_not():
    assert projection_lines([0, 90, 180], 3)[0] == slice(0, 3)
    keep, note = projection_lines([-1, -1, 0, 10, 20, 20, 20], 3, "a.txt")
    assert keep == slice(2, 5) and "lines 3–5" in note
    keep, note = projection_lines([0, 5, 10, 20, 30], 3, "b.txt")  # extra lines are not repeats
    assert keep is None and "b.txt lists 5 angles for 3 projections" in note and "none" in note
    keep, note = projection_lines([0, 10], 3, "c.txt")
    assert keep is None and "c.txt lists 2 angles for 3 projections: too few" in note


def _copy(folder, tmp_path):
    dst = tmp_path / "scan"
    shutil.copytree(folder, dst)
    for p in dst.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)  # the mirror is read-only; the copy is ours
    return dst


def test_counts_that_cannot_be_matched_are_refused_naming_both(fetch_real, tmp_path):
    scan = _copy(_folder(fetch_real), tmp_path)
    angles = scan / "angles.txt"
    values = np.loadtxt(angles)
    angles.write_text("\n".join(f"{v:g}" for v in np.r_[values[10:101], 95.0, 97.0, 99.0, 101.0]))
    with pytest.raises(FileFormatError, match=r"angles\.txt: angles\.txt lists 95 angles for 91 projections.*"
                                              r"pass angles="):
        read_tiff_series(scan)
    given = read_tiff_series(scan, angles=np.linspace(0, 180, 91), angle_unit="deg")
    assert given.angle.values[-1] == 180.0 and given.attrs["angle_unit_source"].startswith("given: angles=")
    angles.unlink()
    with pytest.raises(FileFormatError, match=r"91 projections but no angles file.*angles_file="):
        read_tiff_series(scan)
    (scan / "tiffs" / "raw_00090.tiff").unlink()
    np.savetxt(scan / "theta.txt", values[10:101])
    with pytest.raises(FileFormatError, match=r"theta\.txt lists 91 angles for 90 projections"):
        read_tiff_series(scan)


def test_a_flat_of_zeros_and_a_missing_flat(fetch_real, tmp_path):
    scan = _copy(_folder(fetch_real), tmp_path)
    tifffile.imwrite(scan / "flat_00001.tiff", np.zeros((135, 160), np.float32))
    with pytest.raises(FileFormatError, match=r"flat field 0 of 1 is 100% zeros"):
        read_tiff_series(scan)
    (scan / "flat_00001.tiff").unlink()
    with pytest.raises(FileFormatError, match=r"scan: raw projections need flat fields"):
        read_tiff_series(scan)
    flats = np.full((1, 135, 160), 4e4, np.float32)
    assert read_tiff_series(scan, flats=flats).attrs["flats_source"] == "given array (1, 135, 160)"
    with pytest.raises(FileFormatError, match=r"flats are 1×160 px but the projections 135×160 px"):
        read_tiff_series(scan, flats=np.ones((1, 160), np.float32))


def test_lazy_series_is_dask_and_equal(fetch_real):
    folder = _folder(fetch_real)
    lazy = read_tiff_series(folder, lazy=True)
    assert is_dask(lazy.projections.data)
    np.testing.assert_array_equal(lazy.projections[::30].values, read_tiff_series(folder).projections[::30].values)


def test_a_truncated_projection_or_flat_is_named(fetch_real, tmp_path):
    scan = _copy(_folder(fetch_real), tmp_path)
    raw = scan / "tiffs" / "raw_00005.tiff"
    good = raw.read_bytes()
    raw.write_bytes(good[:20000])  # the header reads, the pixels are cut short
    with pytest.raises(FileFormatError, match=r"raw_00005\.tiff: reading its pixels failed .* truncated or corrupt"):
        read_tiff_series(scan)
    raw.write_bytes(good)
    flat = scan / "flat_00001.tiff"
    flat.write_bytes(flat.read_bytes()[:100])
    with pytest.raises(FileFormatError, match=r"flat_00001\.tiff: reading this flat as TIFF failed"):
        read_tiff_series(scan)


def test_angles_out_of_order_are_warned_naming_the_lines(fetch_real, tmp_path):
    from batteryzoom.errors import AcquisitionWarning

    scan = _copy(_folder(fetch_real), tmp_path)
    lines = (scan / "angles.txt").read_text().splitlines()
    lines[40], lines[60] = lines[60], lines[40]  # two projections' angles swapped
    (scan / "angles.txt").write_text("\n".join(lines) + "\n")
    with pytest.warns(AcquisitionWarning, match=r"angles\.txt: the projections' angles do not run one way: line 41"):
        read_tiff_series(scan)
