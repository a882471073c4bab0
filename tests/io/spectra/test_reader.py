"""bz.io.read_spectrum / spectrum_groups (io/spectra/reader.py): every real spectrum of the
mirror against xraylarch (its own readers and its pre_edge), the µ conventions, units,
repeated points, Athena groups, and the files a reader must refuse."""

from __future__ import annotations

import gzip
import os
import re
import threading
import time
import warnings

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import FileFormatError, InputError
from batteryzoom.io import spectra
from batteryzoom.io.spectra import SpectrumWarning

pytestmark = pytest.mark.realdata

# How xraylarch reads each real spectrum, stated per file (the reference, not our rules):
# (larch reader, the absorbance as larch's columns give it, factor to eV)
LARCH = {
    "real/xanes/ni-foil": ("xdi", "mutrans", 1),
    "real/xanes/ref-nio": ("ascii", "col2", 1000),
    "real/xanes/ref-linio2": ("ascii", "col2", 1000),
    "real/xanes/nca-spectrum-csv": ("ascii", "col2", 1),
    "real/xanes/nca-spectrum-tsv": ("ascii", "col2", 1),
    "real/xanes/ref-ni-xaslib-ni-metal-rt-01": ("xdi", "ln(i0/itrans)", 1),
    "real/xanes/ref-ni-xaslib-nis-rt-01": ("xdi", "ln(i0/itrans)", 1),
    "real/xanes/ref-ni-xasref-ni-foil-ni-k": ("ascii", "mu", 1),
    "real/xanes/ref-co-xaslib-co-metal-rt": ("xdi", "ln(i0/itrans)", 1),
    "real/xanes/ref-co-xasref-co-foil-co-k": ("ascii", "mu", 1),
    "real/xanes/ref-mn-xaslib-mno-rt-01": ("xdi", "ln(i0/itrans)", 1),
    "real/xanes/ref-mn-xaslib-mn2o3-rt-01": ("xdi", "ln(i0/itrans)", 1),
    "real/xanes/ref-mn-xaslib-mn3o4-rt-01": ("xdi", "ln(i0/itrans)", 1),
    "real/xanes/ref-mn-xaslib-mno2-rt-01": ("xdi", "ln(i0/itrans)", 1),
    "real/xanes/ref-mn-larch-aps10bm-2019-mno2-raw": ("ascii", "ln(io/it)", 1),
    "real/xanes/ref-mn-larch-aps12bm-2019-mn-kev": ("ascii", "mu01", 1000),
    "real/xanes/ref-mn-xasref-mn-foil-mn-k": ("ascii", "mu", 1),
}
PROJECTS = ["real/xanes/ref-ni-larch-nio", "real/xanes/ref-mn-larch-mn"]
# Tolerances against larch.xafs.pre_edge (bz.xanes.normalization re-implements its rules)
E0_TOL_EV = 0.01
STEP_RTOL = 1e-6
NORM_ATOL = 1e-6


@pytest.fixture(scope="module")
def larch():
    try:
        import larch.io
        import larch.xafs
    except ImportError:
        from conftest import need

        need("xraylarch (a test dependency) is not installed: pip install xraylarch")
    return larch


def _mean_of_repeats(energy, *columns):
    """Larch keeps repeated energies; average them to compare with one point each."""
    u, inv = np.unique(energy, return_inverse=True)
    return (u,) + tuple(np.bincount(inv, weights=c) / np.bincount(inv) for c in columns)


def _larch_spectrum(larch, path, kind, expr, factor):
    group = larch.io.read_xdi(str(path)) if kind == "xdi" else larch.io.read_ascii(str(path))
    cols = dict(zip(group.array_labels, group.data))
    if expr.startswith("ln("):
        a, b = expr[3:-1].split("/")
        mu = np.log(cols[a] / cols[b])
    else:
        mu = cols[expr]
    return _mean_of_repeats(group.data[0] * factor, mu)


def _compare_with_larch(larch, ours, energy, mu):
    from larch import Group
    from larch.xafs import pre_edge

    np.testing.assert_allclose(ours["energy"].values, energy, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.values, mu, rtol=1e-12, atol=1e-12)
    ref = Group(energy=energy, mu=mu)
    pre_edge(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short spectra warn (tested below)
        norm = bz.xanes.normalize(ours)
    assert float(norm["e0_ev"]) == pytest.approx(ref.e0, abs=E0_TOL_EV)
    assert float(norm["edge_step"]) == pytest.approx(ref.edge_step, rel=STEP_RTOL)
    np.testing.assert_allclose(norm["norm"].values, ref.norm, atol=NORM_ATOL)


@pytest.mark.parametrize("name", sorted(LARCH))
def test_every_spectrum_reads_as_larch_reads_it(larch, fetch_real, name, unchanged):
    (path,) = fetch_real(name)
    with unchanged(path):
        ours = bz.data.load(name)
    _compare_with_larch(larch, ours, *_larch_spectrum(larch, path, *LARCH[name]))


@pytest.mark.parametrize("name", PROJECTS)
def test_every_athena_group_reads_as_larch_reads_it(larch, fetch_real, name, unchanged):
    (path,) = fetch_real(name)
    with unchanged(path):
        names = bz.io.spectrum_groups(path)
        project = larch.io.read_athena(str(path), do_preedge=False)
        assert project.groups, name
        for group in project.groups.values():
            ours = bz.io.read_spectrum(path, group=group.athena_id)  # by Athena's hash key
            assert ours.attrs["athena_key"] == group.athena_id and ours.attrs["group"] in names
            _compare_with_larch(larch, ours, group.energy, group.mu)
    # every record of the project is a group, also those larch drops for a repeated label
    text = gzip.decompress(path.read_bytes()).decode("latin-1")
    assert len(names) == text.count("[record]") == len(set(names))


def test_athena_groups_sharing_a_label_are_both_kept(fetch_real):
    (path,) = fetch_real("real/xanes/ref-ni-larch-nio")
    names = bz.io.spectrum_groups(path)
    assert len(names) == 24 and names[:3] == ["NiO.000 [naqow]", "Ref NiO.000 [sdhhl]", "NiO.000 [cymnj]"]
    assert names[-2:] == ["NiO", "Ref NiO"]
    first = bz.io.read_spectrum(path, group="NiO.000 [naqow]")
    text = gzip.decompress(path.read_bytes()).decode("latin-1")
    x_line = text[text.index("$old_group = 'naqow'"):].split("@x = (", 1)[1].split(")", 1)[0]
    assert first["energy"].values[:3].tolist() == [float(v.strip("'")) for v in x_line.split(",")[:3]]
    assert first.equals(bz.io.read_spectrum(path, group=0)) and first.equals(bz.io.read_spectrum(path, group="naqow"))
    with pytest.raises(FileFormatError, match=r"names 2 groups.*NiO.000 \[naqow\]"):
        bz.io.read_spectrum(path, group="NiO.000")
    with pytest.raises(FileFormatError, match="Athena project of 24 groups.*pass group="):
        bz.io.read_spectrum(path)
    with pytest.raises(FileFormatError, match="no group 'NiO.005'"):
        bz.io.read_spectrum(path, group="NiO.005")
    with pytest.raises(FileFormatError, match="out of range"):
        bz.io.read_spectrum(path, group=24)
    merge = bz.data.load("real/xanes/ref-ni-larch-nio")  # the manifest's loader reads the merge
    assert merge.attrs["group"] == "NiO" and merge.attrs["athena_e0_ev"] == pytest.approx(8344.0, abs=0.01)


def test_an_athena_array_of_another_length_is_left_out_and_said(fetch_real):
    (path,) = fetch_real("real/xanes/ref-mn-larch-mn")
    assert bz.io.spectrum_groups(path)[4] == "Li2MnO3"
    with pytest.warns(SpectrumWarning, match="@stddev .2669 values for 2628 energies"):
        todorokite = bz.io.read_spectrum(path, group="todorokite")  # case ignored
    assert todorokite.sizes["energy"] == 2628 and "stddev" not in todorokite.coords
    assert "@stddev" in todorokite.attrs["not_kept"]


def test_xdi_without_mu_is_transmission_from_i0_and_itrans(fetch_real):
    """The column-convention pair: the same Ni foil scan stored as mutrans and as i0, itrans."""
    raw = bz.data.load("real/xanes/ref-ni-xaslib-ni-metal-rt-01")
    foil = bz.data.load("real/xanes/ni-foil")
    assert raw.name == "mu" and raw.attrs["mu_from"] == "transmission: ln(i0/itrans)"
    assert {"i0", "itrans"} <= set(raw.coords)
    np.testing.assert_allclose(raw.values, foil.values, atol=1e-5)  # mutrans is written to 6 digits
    # the old reading took i0 as µ: e0 8327.5 eV and a NaN half-step; µ gives Larch's edge
    assert float(bz.xanes.normalize(raw)["e0_ev"]) == pytest.approx(8331.5)
    assert np.isfinite(bz.xanes.edge_energy(raw, e0=None))
    assert raw.attrs["Element.symbol"] == "Ni" and raw.attrs["format"] == "xdi"


def test_mu_conventions_on_small_files(tmp_path):
    e = np.linspace(8300, 8400, 11)
    i0, it, fl = np.full(11, 1e5), np.linspace(5e4, 2e4, 11), np.linspace(10, 900, 11)
    header = "# XDI/1.0\n# Column.1: energy eV\n# Column.2: i0\n# Column.3: ifluor\n# ///\n#---\n"
    f = tmp_path / "fluo.xdi"
    f.write_text(header + "\n".join(f"{a} {b} {c}" for a, b, c in zip(e, i0, fl)))
    s = bz.io.read_spectrum(f)
    assert s.attrs["mu_from"] == "fluorescence: ifluor/i0"
    np.testing.assert_allclose(s.values, fl / i0)
    both = tmp_path / "both.dat"
    both.write_text("energy I0 It If\n" + "\n".join(f"{a} {b} {c} {d}" for a, b, c, d in zip(e, i0, it, fl)))
    np.testing.assert_allclose(bz.io.read_spectrum(both).values, np.log(i0 / it))
    np.testing.assert_allclose(bz.io.read_spectrum(both, mode="fluorescence").values, fl / i0)
    assert bz.io.read_spectrum(both, column="It").name == "It"
    with pytest.raises(InputError, match="mode="):
        bz.io.read_spectrum(both, mode="absorbance")
    refer = tmp_path / "refer.xdi"
    refer.write_text(header.replace("ifluor", "irefer") + "\n".join(f"{a} {b} {c}" for a, b, c in zip(e, i0, fl)))
    with pytest.raises(FileFormatError, match="no µ column, and no i0 with itrans or ifluor"):
        bz.io.read_spectrum(refer)  # a detector signal is not an absorbance
    neg = tmp_path / "neg.dat"
    neg.write_text("energy i0 itrans\n" + "\n".join(f"{a} {b} {-1 if k == 3 else c}"
                                                    for k, (a, b, c) in enumerate(zip(e, i0, it))))
    with pytest.warns(SpectrumWarning, match="1 of 11 µ values are NaN"):
        assert np.isnan(bz.io.read_spectrum(neg).values[3])


def test_energy_units_are_stated_detected_or_refused(tmp_path, fetch_real):
    kev = bz.data.load("real/xanes/ref-mn-larch-aps12bm-2019-mn-kev")
    assert kev.attrs["energy_unit_in_file"] == "keV" and kev.attrs["energy_unit_from"] == "the file's header"
    assert kev["energy"].values[0] == pytest.approx(6339.0) and kev.name == "mu01" and kev.attrs["format"] == "spec"
    nio = bz.data.load("real/xanes/ref-nio")
    assert nio.attrs["energy_unit_in_file"] == "keV" and nio.attrs["energy_unit_from"].startswith("detected")
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("8.330 0.1\n8.331 0.2\n8332.0 0.3\n8333.0 0.4\n")
    with pytest.raises(FileFormatError, match="mixes keV-like and eV-like values .row 1: 8.33, row 3: 8332"):
        bz.io.read_spectrum(mixed)
    with pytest.raises(FileFormatError, match="mixes"):
        bz.io.read_spectrum(mixed, energy_unit="keV")  # one axis, two units: no unit fixes it
    index = tmp_path / "index.txt"
    index.write_text("\n".join(f"{k} {k * 0.1}" for k in range(0, 50)))
    with pytest.raises(FileFormatError, match="outside the 100 eV–200 keV.*pass energy_unit="):
        bz.io.read_spectrum(index)  # a point index, not energies
    assert bz.io.read_spectrum(index, energy_unit="eV")["energy"].values[1] == 1.0  # the override
    with pytest.raises(InputError, match="energy_unit='J'"):
        bz.io.read_spectrum(fetch_real("real/xanes/ref-nio")[0], energy_unit="J")


def test_repeated_first_points_are_averaged_and_reported(fetch_real):
    (path,) = fetch_real("real/xanes/ref-mn-larch-aps10bm-2019-mno2-raw")
    with pytest.warns(SpectrumWarning, match="the first 3 points share 6389.9975 eV: averaged into one"):
        s = bz.io.read_spectrum(path)
    assert s.sizes["energy"] == 3464 - 2 and s.attrs["format"] == "mrcat"
    assert s.attrs["mu_from"] == "transmission: ln(Io/It)" and "averaged" in s.attrs["repaired"]
    assert float(s["Io"][0]) == pytest.approx(np.mean([62850, 62770, 62680]))
    assert float(s["If"].min()) < 0  # the fluorescence channel's negative counts ride along


def test_text_layouts_order_and_errors(tmp_path):
    e = np.linspace(8.3, 8.4, 11)
    mu = np.linspace(0, 1, 11)
    kev = tmp_path / "two.txt"
    np.savetxt(kev, np.column_stack([e, mu]))
    assert bz.io.read_spectrum(kev)["energy"].values[0] == pytest.approx(8300.0)
    csv = tmp_path / "s.csv"
    csv.write_text("energy_ev,norm,extra\n" + "\n".join(f"{x * 1000},{y},{2 * y}" for x, y in zip(e, mu)))
    s = bz.io.read_spectrum(csv)
    assert s.name == "norm" and "extra" in s.coords and s["energy"].values[-1] == pytest.approx(8400.0)
    assert bz.io.read_spectrum(csv, column="extra").values[-1] == pytest.approx(2.0)
    desc = tmp_path / "desc.tsv"
    desc.write_text("\n".join(f"{x * 1000}\t{y}" for x, y in zip(e[::-1], mu[::-1])))
    reversed_scan = bz.io.read_spectrum(desc)
    np.testing.assert_allclose(reversed_scan.values, mu)  # reversed, not rejected
    assert reversed_scan.attrs["energy_order_in_file"] == "descending (reversed)"
    dup = tmp_path / "dup.txt"
    dup.write_text("8300 0.1\n8301 0.2\n8301 0.3\n8302 0.4\n")
    with pytest.raises(FileFormatError, match="not strictly increasing: point 2"):
        bz.io.read_spectrum(dup)  # a repeat inside the scan is not a settling monochromator
    one = tmp_path / "one.txt"
    one.write_text("8300\n8301\n")
    with pytest.raises(FileFormatError, match="no table of numbers"):
        bz.io.read_spectrum(one)
    with pytest.raises(FileFormatError, match="no column named"):
        bz.io.read_spectrum(csv, column="mu")
    with pytest.raises(FileFormatError, match="column=0 is out of range"):
        bz.io.read_spectrum(csv, column=0)
    with pytest.raises(FileFormatError, match="not an Athena project"):
        bz.io.read_spectrum(csv, group="NiO")
    with pytest.raises(FileFormatError, match="not an Athena project"):
        bz.io.spectrum_groups(csv)
    assert spectra.KEV_THRESHOLD == 200.0


def test_what_is_not_a_regular_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.xdi"
    os.mkfifo(fifo)
    done = []
    worker = threading.Thread(target=lambda: done.append(_refusal(fifo)), daemon=True)
    worker.start()
    worker.join(10)
    assert done and re.search("is a FIFO .named pipe., not a regular file", done[0])  # no blocking open()
    assert "is a character device" in _refusal("/dev/zero")
    assert "is a folder" in _refusal(tmp_path)
    assert "does not exist" in _refusal(tmp_path / "missing.xdi")


def _refusal(path) -> str:
    try:
        bz.io.read_spectrum(path)
    except FileFormatError as exc:
        return str(exc)
    return "read"


def test_damaged_gzip_and_text_are_refused_with_the_line(tmp_path, fetch_real):
    (path,) = fetch_real("real/xanes/ref-mn-larch-mn")
    data = path.read_bytes()
    cut = tmp_path / "cut.prj"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="gzip stream ends early"):
        bz.io.read_spectrum(cut, group=0)
    flipped = bytearray(data)
    flipped[-6] ^= 0x10  # the stored length: the CRC/length check catches it
    bad = tmp_path / "crc.prj"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(FileFormatError, match="gzip"):
        bz.io.read_spectrum(bad, group=0)
    text = tmp_path / "stray.txt"
    text.write_text("8300 0.1\n8301 0.2\nERROR beam lost\n8302 0.3\n")
    with pytest.raises(FileFormatError, match="line 3 is not a row of numbers"):
        bz.io.read_spectrum(text)
    short = tmp_path / "short.txt"
    short.write_text("8300 0.1 5\n8301 0.2 5\n8302 0.3\n8303 0.4 5\n")
    with pytest.raises(FileFormatError, match="line 3 has 2 values, the rows above 3"):
        bz.io.read_spectrum(short)
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"8300 0.1\n8301 0.2\n\x00\x00\n8302 0.3\n")
    with pytest.raises(FileFormatError, match="NUL bytes .first at byte 18, line 3"):
        bz.io.read_spectrum(nul)


def test_a_30000_digit_cell_is_refused_fast(tmp_path):
    f = tmp_path / "long.txt"
    f.write_text("8300 0.1\n8301 " + "9" * 30000 + "x\n8302 0.3\n")
    t0 = time.perf_counter()
    with pytest.raises(FileFormatError, match="line 2"):
        bz.io.read_spectrum(f)
    assert time.perf_counter() - t0 < 1.0  # linear-time patterns


def test_signs_of_damage_are_warned(tmp_path, fetch_real):
    with pytest.warns(SpectrumWarning, match=r"about 1 point\(s\) seem missing .*8446.000 and 8448.000 eV"):
        bz.data.load("real/xanes/ref-linio2")  # the real file lacks 8447 eV of its 1 eV grid
    rows = "".join(f"{8300 + 0.5 * k:.1f} 0.{k:03d}\n" for k in range(40))
    gap = tmp_path / "gap.txt"
    gap.write_text(rows.replace("8310.0 0.020\n", "").replace("8310.5 0.021\n", ""))
    with pytest.warns(SpectrumWarning, match=r"about 2 point\(s\) seem missing .*first between 8309.500 and 8311.000"):
        assert bz.io.read_spectrum(gap).attrs["doubt"].startswith("about 2 point")
    cut = tmp_path / "cut.txt"
    cut.write_text(rows[:-3])  # "8319.5 0.0" of "8319.5 0.039"
    with pytest.warns(SpectrumWarning, match="ends inside its last row"):
        bz.io.read_spectrum(cut)
    xdi = ("# XDI/1.0\n# Column.1: energy eV\n# Column.2: mutrans\n# Element.symbol: Ni\n# ///\n#---\n"
           "# energy mutrans\n" + rows)
    lost = tmp_path / "lost.xdi"
    lost.write_text(xdi.replace("# XDI/1.0\n", ""))
    with pytest.warns(SpectrumWarning, match="XDI header fields without the '# XDI/1.0' first line"):
        assert bz.io.read_spectrum(lost).attrs["format"] == "text"
    nan = tmp_path / "nan.txt"
    nan.write_text("energy mu i0\n" + "".join(f"{8300 + k}.0 0.1 {'nan' if k == 3 else 5}\n" for k in range(9)))
    with pytest.warns(SpectrumWarning, match=r"non-finite values in column\(s\) i0 \(1\)"):
        bz.io.read_spectrum(nan)
    assert bz.io.read_spectrum(fetch_real("real/xanes/ref-nio")[0]).attrs.get("doubt") is None


# Damaged copies of one real file per layout: XDI with µ, XDI with only i0/itrans, an
# MRCAT preamble, two columns in keV, an Athena project (a gzip stream: no free values)
FUZZED = ["real/xanes/ni-foil", "real/xanes/ref-ni-xaslib-ni-metal-rt-01",
          "real/xanes/ref-mn-larch-aps10bm-2019-mno2-raw", "real/xanes/ref-nio", "real/xanes/ref-ni-larch-nio"]


@pytest.mark.parametrize("name", FUZZED)
def test_damaged_spectra_are_refused_warned_or_read_the_same(fetch_real, fuzz_reader, name):
    from batteryzoom.testing.payload import text_judge

    (path,) = fetch_real(name)
    args = dict(bz.data.info(name).loader.get("args") or {})
    found = fuzz_reader(lambda p: bz.io.read_spectrum(p, **args), [path], n=16, seed=271,
                        judge=None if path.suffix == ".prj" else text_judge())
    assert found["refused"] + found["warned"] > 0  # the damage was seen, not only survived
