"""bz.xanes.uncertainty: the propagated half-step uncertainty and the pooled noise level are
calibrated."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.data.twin.xanes import energy_grid
from batteryzoom.xanes.uncertainty import half_step_error_factor


def test_propagated_half_step_uncertainty_matches_monte_carlo(arctan_edge):
    """4,000 noisy copies of one spectrum: predicted 1-sigma vs the empirical scatter."""
    energy = energy_grid()
    rng = np.random.default_rng(11)
    sigma = 0.005
    stack = arctan_edge(energy, 8342.3)[:, None] + rng.normal(0, sigma, (len(energy), 4000))
    maps = bz.xanes.edge_maps(stack, energy, methods=("half_step",))
    scatter = np.std(maps["edge_energy_half_step_ev"])
    predicted = np.median(maps["edge_energy_half_step_err_ev"])
    # the pre-edge line is extrapolated ~70 eV: its noise dominates the interpolation's
    factor = half_step_error_factor(energy, float(np.median(maps["e0_ev"])), maps["edge_energy_half_step_ev"])
    assert np.nanmedian(factor) > 1.3
    assert 0.85 < predicted / scatter < 1.2, (predicted, scatter)
    old = np.median(maps["edge_energy_half_step_err_ev"] / factor)
    assert old / scatter < 0.75  # the interpolation-only estimate was far too small


def test_pooled_noise_is_the_stacks_and_each_voxels_own_is_a_student_t(robust_sd, arctan_edge):
    """The pre-edge line's residual has ~5 degrees of freedom: one voxel's noise estimate
    scatters by ~30 %, and error / predicted becomes a Student-t (robust sd 1.08 at 5 dof).
    The pooled estimate (default) is the stack's noise to ~1 %, and calibrated like the
    true level."""
    import xarray as xr

    energy = energy_grid()
    rng = np.random.default_rng(13)
    sigma, n_vox = 0.01, 20000
    centres = 8342 + rng.normal(0, 0.5, n_vox)
    clean = arctan_edge(energy[:, None], centres[None])
    stack = clean + rng.normal(0, sigma, clean.shape)
    truth = bz.xanes.edge_maps(clean, energy, methods=("half_step",), e0=8346.0)["edge_energy_half_step_ev"]
    sds = {}
    for noise in ("pooled", "voxel", sigma):
        for fast in (True, False):  # the compiled kernel and the general path
            maps = bz.xanes.edge_maps(stack, energy, methods=("half_step",), e0=8346.0, noise=noise, fast=fast)
            z = (maps["edge_energy_half_step_ev"] - truth) / maps["edge_energy_half_step_err_ev"]
            sds[noise, fast] = robust_sd(z[np.isfinite(z)])
    ds = bz.xanes.edge_maps(xr.DataArray(stack, dims=("energy", "v"), coords={"energy": energy}),
                            methods=("half_step",), e0=8346.0)
    print(f"\nrobust sd of error/predicted: {sds}; pooled noise {ds.attrs['noise_od']:.5f} (true {sigma})")
    assert ds.attrs["noise"] == "pooled" and ds.attrs["noise_od"] == pytest.approx(sigma, rel=0.03)
    for fast in (True, False):
        assert abs(sds["pooled", fast] - 1) < 0.05 and abs(sds[sigma, fast] - 1) < 0.05
        assert 1.05 < sds["voxel", fast] < 1.15  # the t distribution at 5 dof: 1.077
    # a per-voxel e0 (Larch's find_e0) pools too
    per_voxel = bz.xanes.edge_maps(stack[:, :3000], energy, methods=("half_step",))
    own = bz.xanes.edge_maps(stack[:, :3000], energy, methods=("half_step",), noise="voxel")
    ratio = per_voxel["edge_energy_half_step_err_ev"] / own["edge_energy_half_step_err_ev"]
    ratio = ratio[np.isfinite(ratio)]
    assert 0.05 < np.std(ratio) < 0.6 and 0.9 < np.median(ratio) < 1.2
    np.testing.assert_array_equal(per_voxel["edge_energy_half_step_ev"], own["edge_energy_half_step_ev"])
    for bad in ("mean", -1.0, np.nan, True, "0.01x"):
        with pytest.raises(bz.errors.InputError, match="noise="):
            bz.xanes.edge_maps(stack[:, :10], energy, noise=bad)
