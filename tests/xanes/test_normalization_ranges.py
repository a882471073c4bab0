"""bz.xanes.normalization.pre_edge_ranges: the warning for spectra too short for Larch's
default ranges, and the explicit ranges it suggests (measured on real standards)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.xanes.normalization import ShortSpectrumWarning, pre_edge_ranges


def _suggested(message: str) -> dict:
    found = dict(re.findall(r"(pre1|pre2|norm1|norm2|nnorm)=(-?[\d.]+)", message))
    return {k: (int(v) if k == "nnorm" else float(v)) for k, v in found.items()}


@pytest.mark.realdata
def test_a_40_ev_spectrum_warns_with_explicit_ranges(fetch_real):
    fetch_real("real/xanes/ref-nio")
    nio = bz.data.load("real/xanes/ref-nio")
    e, mu = nio["energy"].values, nio.values
    e0 = bz.xanes.find_e0(mu, e)
    cut = (e >= e0 - 20) & (e <= e0 + 20)
    with pytest.warns(ShortSpectrumWarning, match="pre-edge range ends 9.8 eV below e0.*post-edge range starts "
                                                   "5.0 eV above e0, on the white line .a constant.") as record:
        bz.xanes.edge_energy(mu[cut], e[cut], e0=None)
    ranges = _suggested(str(record[0].message))
    assert ranges == {"pre1": -19.0, "pre2": -10.0, "norm1": 15.0, "norm2": 20.0, "nnorm": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortSpectrumWarning)  # explicit ranges: no warning
        bz.xanes.edge_energy(mu[cut], e[cut], e0=None, **ranges)


@pytest.mark.realdata
def test_the_suggested_ranges_move_the_edge_less_than_the_defaults(fetch_real):
    """Real standards cut short: the half-step edge energy against the whole spectrum's."""
    default, suggested = [], []
    for name in ("real/xanes/ref-nio", "real/xanes/ref-linio2", "real/xanes/ref-ni-xasref-ni-foil-ni-k"):
        fetch_real(name)
        s = bz.data.load(name)
        e, mu = s["energy"].values, s.values
        with warnings.catch_warnings():
            warnings.simplefilter("error", ShortSpectrumWarning)  # a whole spectrum does not warn
            whole = bz.xanes.edge_energy(mu, e, e0=None)
        e0 = bz.xanes.find_e0(mu, e)
        for below, above in ((20, 20), (30, 30), (40, 40), (25, 85), (40, 60), (60, 60)):
            cut = (e >= e0 - below) & (e <= e0 + above)
            with pytest.warns(ShortSpectrumWarning) as record:
                default.append(bz.xanes.edge_energy(mu[cut], e[cut], e0=None) - whole)
            ranges = _suggested(str(next(r.message for r in record if r.category is ShortSpectrumWarning)))
            suggested.append(bz.xanes.edge_energy(mu[cut], e[cut], e0=None, **ranges) - whole)
    rms = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in (("default", default), ("suggested", suggested))}
    assert max(np.abs(default)) > 0.8  # the problem is real: short spectra move the edge
    assert rms["suggested"] < 0.5 * rms["default"], rms


def test_long_enough_or_explicit_ranges_do_not_warn():
    e = np.arange(8200.0, 8600.0, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortSpectrumWarning)
        r = pre_edge_ranges(e, 8345.0)
        assert r.pre2 <= -20 and r.norm1 >= 25
        pre_edge_ranges(e[(e > 8325) & (e < 8365)], 8345.0, bz.xanes.normalization.LarchDefaults(
            pre1=-18, pre2=-12, norm1=10, norm2=18, nnorm=0))
    with pytest.warns(ShortSpectrumWarning, match="post-edge range starts"):
        pre_edge_ranges(e[e < 8390], 8345.0)  # 45 eV above e0: the post-edge starts on the white line
