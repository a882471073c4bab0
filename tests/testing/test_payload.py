"""bz.testing.payload: the free-value byte ranges of TIFF, OLE2 (Xradia), HDF5 and text files."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.testing.payload import hdf5_free, ole_free, text_free, tiff_free


def _gather(path, ranges) -> bytes:
    data = path.read_bytes()
    return b"".join(data[a:b] for a, b in ranges)


def test_tiff_free_ranges_are_the_raw_pixels(tmp_path):
    import tifffile

    image = np.arange(3 * 20 * 30, dtype=np.uint16).reshape(3, 20, 30)
    tifffile.imwrite(tmp_path / "s.tif", image, photometric="minisblack", rowsperstrip=7)
    assert _gather(tmp_path / "s.tif", tiff_free(tmp_path / "s.tif")) == image.tobytes()
    tifffile.imwrite(tmp_path / "z.tif", image, photometric="minisblack", compression="zlib")
    assert tiff_free(tmp_path / "z.tif") == []  # deflate checks its data (Adler-32): no free values


def test_hdf5_free_ranges_are_the_unfiltered_datasets(tmp_path):
    import h5py

    a = np.arange(600, dtype=np.float32).reshape(20, 30)
    with h5py.File(tmp_path / "f.h5", "w") as fh:
        fh["plain"] = a
        fh.create_dataset("packed", data=a, compression="gzip")
    assert _gather(tmp_path / "f.h5", hdf5_free(tmp_path / "f.h5")) == a.tobytes()


@pytest.mark.realdata
def test_ole_free_ranges_hold_the_image_stream(fetch_real):
    import olefile

    path = next(p for p in fetch_real("real/tomo/xradia-chip-xrm") if p.suffix == ".xrm")
    with olefile.OleFileIO(str(path)) as ole:
        image = ole.openstream("ImageData1/Image1").read()
        pixel = ole.openstream("ImageInfo/PixelSize").read()
    free = ole_free(path)  # everything but the header, FAT, directory and the Xradia shape streams
    data = path.read_bytes()
    at = data.index(image[:4096])
    assert any(a <= at and at + 4096 <= b for a, b in free)  # the pixels are free
    assert not any(a < 512 for a, b in free)  # the header is not
    structural = [(a, b) for a, b in ole_free(path, lambda name: True) if b - a >= 4]
    assert len(pixel) == 4 and data.count(pixel) >= 1
    assert sum(b - a for a, b in structural) < sum(b - a for a, b in free)


def test_text_free_ranges_are_the_numbers_of_data_lines(tmp_path):
    f = tmp_path / "t.dat"
    f.write_bytes(b"Offsets= 1 2\n3000 x 806\nenergy mu\n8300 0.5\n8301 -6e-1\n")
    assert [f.read_bytes()[a:b] for a, b in text_free(f)] == [b"8300", b"0.5", b"8301", b"-6e-1"]


def test_text_judge_frees_what_no_reader_can_see_and_nothing_else(tmp_path):
    from batteryzoom.testing.fuzz import Mutation, Verdict
    from batteryzoom.testing.payload import text_judge

    rows = [f"{8300 + k}.0 0.{k:03d}\n" for k in range(30)]
    clean = ("# energy mu\n" + "".join(rows)).encode()
    f = tmp_path / "s.txt"
    f.write_bytes(clean)
    is_free = text_judge()

    def verdict(data: bytes, spans=(), in_place=False):
        return is_free(f, Mutation("m", data, spans, in_place))

    assert isinstance(verdict(clean[: clean.index(rows[20].encode())]), Verdict)  # cut at a row boundary
    assert isinstance(verdict(clean.replace(b"# energy mu\n", b"")), Verdict)  # the header line lost
    assert isinstance(verdict(clean.replace(b"energy", b"enurgy")), Verdict)  # header text changed
    assert verdict(clean.replace(rows[15].encode(), b"")) is None  # a row lost inside a regular grid shows
    assert verdict(clean.replace(b"0.015", b"0.0x5")) is None  # not a number any more
    irregular = ("# energy mu\n" + "".join(f"{e} 0.1\n" for e in (8300, 8301, 8303, 8306, 8310, 8315, 8321, 8328)))
    g = tmp_path / "irregular.txt"
    g.write_text(irregular)
    assert isinstance(is_free(g, Mutation("drop", irregular.replace("8310 0.1\n", "").encode())), Verdict)
    xdi = b"# XDI/1.0\n# Column.1: energy eV\n# Column.2: mu\n# Element.symbol: Ni\n" + b"".join(r.encode() for r in rows)
    h = tmp_path / "s.xdi"
    h.write_bytes(xdi)
    assert is_free(h, Mutation("lost", xdi.replace(b"# XDI/1.0\n", b""))) is None  # visible: fields remain


def test_deflate_judge_frees_only_damage_the_strip_checksum_cannot_see(fetch_real):
    from batteryzoom.testing.fuzz import Mutation, mutations
    from batteryzoom.testing.payload import tiff_deflate_judge

    (path,) = fetch_real("real/ct/electrode-taufactor-nmc")  # 256 deflate strips
    data = path.read_bytes()
    judge_ = tiff_deflate_judge()
    # a real find of the fuzzer: one flipped bit in page 239's strip changes 6 pixels and
    # Adler-32 still matches, so zlib (and every reader) accepts it
    found = next(m for m in mutations(data, seed=7919 * 3, n=200) if m.name == "bitflip@1679800")
    assert judge_(path, found) is not None
    broken = bytearray(data)
    broken[1806719:1806727] = bytes(8)  # the same strip, eight bytes zeroed: zlib refuses it
    assert judge_(path, Mutation("zeros", bytes(broken), ((1806719, 1806727),), True)) is None
    header = bytearray(data)
    header[4] ^= 1  # the first directory's offset: structure
    assert judge_(path, Mutation("bitflip", bytes(header), ((4, 5),), True)) is None
