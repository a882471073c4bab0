"""bz.io.read_spectrum (io/spectra.py): real Ni standards in eV, text layouts and errors."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import FileFormatError
from batteryzoom.io import spectra

pytestmark = pytest.mark.realdata


def test_reference_spectra_are_read_in_ev(fetch_real):
    fetch_real("real/xanes/ref-nio")
    nio = bz.data.load("real/xanes/ref-nio")
    assert nio.attrs["energy_unit_in_file"] == "keV"
    assert nio["energy"].values[0] == pytest.approx(8200.0) and nio["energy"].values[-1] == pytest.approx(9000.0)
    foil = bz.data.load("real/xanes/ni-foil")
    assert foil.name == "mutrans" and "i0" in foil.coords and foil.attrs["Element.symbol"] == "Ni"
    assert foil["energy"].values[0] == pytest.approx(8133.0)


def test_read_spectrum_formats_and_errors(tmp_path):
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
    np.testing.assert_allclose(bz.io.read_spectrum(desc).values, mu)  # reversed, not rejected
    dup = tmp_path / "dup.txt"
    dup.write_text("8300 0.1\n8301 0.2\n8301 0.3\n8302 0.4\n")
    with pytest.raises(FileFormatError, match="not strictly increasing"):
        bz.io.read_spectrum(dup)
    one = tmp_path / "one.txt"
    one.write_text("8300\n8301\n")
    with pytest.raises(FileFormatError, match="at least two columns"):
        bz.io.read_spectrum(one)
    with pytest.raises(FileFormatError, match="no column named"):
        bz.io.read_spectrum(csv, column="mu")
    assert spectra.KEV_THRESHOLD == 200.0
