"""bz.xanes.fitting: non-negative linear combinations of reference spectra."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import batteryzoom as bz


def test_nnls_matches_scipy_and_sum_to_one_recovers_fractions():
    from scipy.optimize import nnls

    rng = np.random.default_rng(4)
    refs = rng.uniform(0, 1, (3, 25))
    energy = np.arange(25.0) + 8300
    y = rng.normal(0.3, 0.5, (25, 40))
    out = bz.xanes.linear_combination(y, refs, energy)
    for v in range(40):
        x, rnorm = nnls(refs.T, y[:, v])
        np.testing.assert_allclose(out["fraction"][:, v], x, atol=1e-8)
        assert out["residual_rms"][v] == pytest.approx(rnorm / 5.0, rel=1e-6)
    frac = rng.uniform(0, 1, (2, 6, 6))
    frac /= frac.sum(axis=0)
    two = refs[:2]
    stack = np.einsum("ke,kyx->eyx", two, frac)
    res = bz.xanes.linear_combination(stack, two, energy, sum_to_one=True)
    np.testing.assert_allclose(res["fraction"], frac, atol=1e-10)


@pytest.mark.realdata
def test_state_of_charge_map_between_nio_and_linio2(standards):
    energy = np.arange(8320.0, 8400.0, 1.0)
    refs = {n: bz.xanes.normalize(standards[n])["norm"] for n in ("NiO", "LiNiO2")}
    nio = np.interp(energy, refs["NiO"]["energy"], refs["NiO"])
    lno = np.interp(energy, refs["LiNiO2"]["energy"], refs["LiNiO2"])
    soc = np.linspace(0, 1, 12).reshape(3, 4)
    stack = xr.DataArray((1 - soc)[None] * nio[:, None, None] + soc[None] * lno[:, None, None],
                         dims=("energy", "y", "x"), coords={"energy": energy})
    res = bz.xanes.linear_combination(stack, refs, sum_to_one=True)
    np.testing.assert_allclose(res["fraction"].sel(reference="LiNiO2").values, soc, atol=1e-6)
