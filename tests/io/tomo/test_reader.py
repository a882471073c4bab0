"""bz.io.tomo.reader: the format told by content; every real acquisition loads through the manifest."""

from __future__ import annotations

import shutil

import pytest

import batteryzoom as bz
from batteryzoom.errors import FileFormatError, InputError
from batteryzoom.io.acquisition import check_acquisition
from batteryzoom.io.tomo import FORMATS, detect_format

# manifest entry -> format it must be detected as, format name in attrs, projection shape
REAL = {
    "real/tomo/aps-tooth-dxchange": ("dxchange", "dxchange", (181, 2, 640)),
    "real/tomo/xradia-chip-txrm": ("xradia", "xradia-txrm", (7, 256, 256)),
    "real/tomo/xradia-chip-xrm": ("xradia", "xradia-xrm", (1, 512, 512)),
    "real/tomo/diamond-i13-tiff-series": ("tiff-series", "tiff-series", (91, 135, 160)),
    "real/tomo/diamond-k11-nexus": ("nexus", "nexus", (3001, 22, 26)),
    "real/tomo/diamond-i12-dendrite-sinogram": ("matlab-sinogram", "matlab-sinogram", (360, 1, 1260)),
}


def test_every_real_tomo_entry_is_covered():
    assert set(REAL) == {n for n in bz.data.list() if n.startswith("real/tomo/")}


@pytest.mark.parametrize("name", sorted(REAL))
def test_every_real_acquisition_loads_through_the_manifest(name, fetch_real, unchanged):
    paths = fetch_real(name)
    detected, fmt, shape = REAL[name]
    entry = bz.data.info(name)
    target = paths[0].parent if entry.loader.get("folder") else paths[[s.path for s in entry.files].index(entry.loader["file"])]
    assert detect_format(target) == detected
    with unchanged(*paths):
        acq = bz.data.load(name)
    assert check_acquisition(acq) is acq
    assert acq.attrs["format"] == fmt and acq.projections.shape == shape
    assert acq.attrs["angle_unit_source"] and acq.attrs["source_path"] == str(target)


def test_the_format_is_told_by_content_not_by_name(fetch_real, tmp_path):
    (tooth,) = fetch_real("real/tomo/aps-tooth-dxchange")
    (txrm,) = fetch_real("real/tomo/xradia-chip-txrm")
    (mat,) = fetch_real("real/tomo/diamond-i12-dendrite-sinogram")
    for src, name, fmt in ((tooth, "scan.dat", "dxchange"), (txrm, "scan.h5", "xradia"), (mat, "sino.bin", "matlab-sinogram")):
        shutil.copy(src, tmp_path / name)
        assert detect_format(tmp_path / name) == fmt
    assert bz.io.read_acquisition(tmp_path / "scan.dat").attrs["format"] == "dxchange"
    (tmp_path / "notes.txt").write_text("not an acquisition")
    with pytest.raises(FileFormatError, match=r"notes\.txt: unknown acquisition format.*pass format="):
        bz.io.read_acquisition(tmp_path / "notes.txt")
    with pytest.raises(FileFormatError, match=r"nothing\.h5: does not exist"):
        bz.io.read_acquisition(tmp_path / "nothing.h5")


def test_options_the_format_does_not_take_are_refused(fetch_real):
    (tooth,) = fetch_real("real/tomo/aps-tooth-dxchange")
    with pytest.raises(InputError, match=r"format 'dxchange' \(read_dxchange\) takes no flats=, value_scale=; "
                                         r"it takes angle_unit, angles, energy_ev"):
        bz.io.read_acquisition(tooth, flats="x.xrm", value_scale=2)
    with pytest.raises(InputError, match=r"format='jpeg' is not one of"):
        bz.io.read_acquisition(tooth, format="jpeg")
    assert sorted(FORMATS) == ["dxchange", "fxi", "matlab-sinogram", "multi-energy", "nexus", "tiff-series", "xradia"]


def test_damaged_acquisitions_are_refused_or_read_the_same(fetch_real, fuzz_reader):
    """Each raw-tomography format, damaged by the seeded fuzzer: a BatteryZoomError, the
    clean acquisition, or a warning (projections computed, attrs compared)."""
    from batteryzoom.testing.payload import hdf5_free, judge, ole_free, text_judge, tiff_free

    h5 = judge(hdf5_free, "raw data of an unfiltered HDF5 dataset", structure_may_change=True)
    ole = judge(ole_free, "an Xradia value stream", structure_may_change=True)
    tiff = judge(tiff_free, "raw pixels of an uncompressed TIFF strip", shifted=True)
    lines = text_judge(min_columns=1)

    def by_suffix(path, mutation):
        suffix = path.suffix.lower()
        return (tiff if suffix in (".tif", ".tiff") else h5 if suffix in (".h5", ".nxs") else lines)(path, mutation)

    fuzz_reader(bz.io.read_acquisition, fetch_real("real/tomo/aps-tooth-dxchange"), n=15, seed=501, judge=h5)
    txrm = next(p for p in fetch_real("real/tomo/xradia-chip-txrm") if p.suffix == ".txrm")
    fuzz_reader(lambda p: bz.io.read_acquisition(p, flats="absent"), [txrm], n=15, seed=502, judge=ole)
    xrm = next(p for p in fetch_real("real/tomo/xradia-chip-xrm") if p.suffix == ".xrm")
    fuzz_reader(bz.io.read_acquisition, [xrm], n=10, seed=503, judge=ole)
    i13 = next(p for p in fetch_real("real/tomo/diamond-i13-tiff-series") if p.name == "angles.txt").parent
    fuzz_reader(bz.io.read_acquisition, [i13 / "angles.txt", i13 / "flat_00001.tiff", i13 / "tiffs" / "raw_00045.tiff"],
                n=4, seed=504, judge=by_suffix, root=i13)
    k11 = fetch_real("real/tomo/diamond-k11-nexus")
    nxs = next(p for p in k11 if p.suffix == ".nxs")
    fuzz_reader(bz.io.read_acquisition, sorted(k11), n=4, seed=505, judge=by_suffix, root=nxs.parent, target=nxs.name)
    fuzz_reader(lambda p: bz.io.read_acquisition(p, value_scale=1000),
                fetch_real("real/tomo/diamond-i12-dendrite-sinogram"), n=15, seed=506)
