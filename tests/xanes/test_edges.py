"""bz.xanes.edges: edge energies by three methods, their uncertainty, numpy/dask/xarray input,
failed spectra, the fused path."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import batteryzoom as bz


@pytest.mark.realdata
def test_half_step_and_derivative_e0_of_the_standards(standards):
    """STUDY.md: with Larch's default ranges NiO ~ 8340.0 eV and LiNiO2 ~ 8341.5 eV."""
    found = {}
    for name in ("NiO", "LiNiO2"):
        maps = bz.xanes.edge_maps(standards[name], e0=None)
        found[name] = {m: float(maps[f"edge_energy_{m}_ev"]) for m in bz.xanes.EDGE_METHODS}
        assert float(maps["edge_energy_half_step_err_ev"]) < 0.1
    assert found["NiO"]["half_step"] == pytest.approx(8340.0, abs=0.1)
    assert found["LiNiO2"]["half_step"] == pytest.approx(8341.5, abs=0.1)
    # Ni3+ sits above Ni2+ by every method
    for m in bz.xanes.EDGE_METHODS:
        assert found["LiNiO2"][m] > found["NiO"][m]
    # the derivative maximum lies on the rising edge, above the half step
    assert 8340 < found["NiO"]["derivative"] < 8346 < found["LiNiO2"]["derivative"] < 8349


def test_half_step_recovers_known_edges_and_its_error_estimate_is_honest(xanes_edge_stack):
    energy, clean, truth = xanes_edge_stack((20, 30))
    maps = bz.xanes.edge_maps(clean, energy, methods=("half_step", "derivative"))
    # an arctan edge's 0.5 crossing sits at its centre; the post-edge tail biases the
    # Larch edge step slightly, so allow a few hundredths of an eV
    err = maps["edge_energy_half_step_ev"] - truth
    assert np.abs(err - err.mean()).max() < 0.02 and abs(err.mean()) < 0.1
    assert np.abs(maps["edge_energy_derivative_ev"] - truth).max() < 0.15
    # noisy copies of one voxel: predicted 1-sigma vs the empirical scatter
    energy, noisy, truth = xanes_edge_stack((40, 50), seed=3, noise=0.01)
    one = np.repeat(noisy[:, :1, :1], 40, axis=1).repeat(50, axis=2)
    one = one + np.random.default_rng(9).normal(0, 0.01, one.shape)
    m = bz.xanes.edge_maps(one, energy, methods=("half_step",))
    scatter = np.nanstd(m["edge_energy_half_step_ev"])
    predicted = np.nanmedian(m["edge_energy_half_step_err_ev"])
    assert 0.6 < predicted / scatter < 1.6, (predicted, scatter)


def test_numpy_dask_and_xarray_inputs_agree(xanes_edge_stack):
    import dask.array as da

    energy, stack, _ = xanes_edge_stack((16, 16), noise=0.003)
    ref = bz.xanes.edge_maps(stack, energy)
    lazy = bz.xanes.edge_maps(da.from_array(stack, chunks=(20, 5, 8)), energy)
    assert hasattr(lazy["edge_energy_half_step_ev"], "dask")
    for key, value in ref.items():
        np.testing.assert_allclose(np.asarray(lazy[key].compute() if hasattr(lazy[key], "compute") else lazy[key]),
                                   value, equal_nan=True)
    arr = xr.DataArray(stack, dims=("energy", "y", "x"), coords={"energy": energy, "y": np.arange(16) * 0.03})
    ds = bz.xanes.edge_maps(arr)
    assert ds["edge_energy_half_step_ev"].dims == ("y", "x") and "y" in ds.coords
    np.testing.assert_allclose(ds["edge_energy_half_step_ev"].values, ref["edge_energy_half_step_ev"])
    norm = bz.xanes.normalize(da.from_array(stack, chunks=(60, 8, 8)), energy, e0=8341.0)
    np.testing.assert_allclose(norm["norm"].compute(), bz.xanes.normalize(stack, energy, e0=8341.0)["norm"])


def test_failed_spectra_are_masked_not_crashing(xanes_edge_stack):
    energy, stack, _ = xanes_edge_stack((5, 5))
    stack[:, 0, 0] = np.nan
    stack[3, 0, 1] = np.inf
    stack[:, 0, 2] = 0.0  # all-zero: a known crash of per-spectrum tools
    stack[:, 0, 3] = 1.0  # constant
    maps = bz.xanes.edge_maps(stack, energy)
    assert not maps["valid"][0, :4].any() and maps["valid"][1:].all()
    assert np.isnan(maps["edge_energy_half_step_ev"][0, :4]).all()
    mk = bz.xanes.masks(maps, min_edge_step=0.1)
    assert mk["failed"][0, :4].all() and not mk["mask"][0, :4].any() and mk["mask"][1:].all()
    norm = bz.xanes.normalize(stack, energy)  # per-voxel Larch path too
    assert np.isnan(norm["e0_ev"][0, :4]).all() and np.isfinite(norm["e0_ev"][1:]).all()


def test_fused_fixed_e0_kernel_equals_the_general_path(xanes_edge_stack):
    energy, stack, _ = xanes_edge_stack((30, 40), seed=5, noise=0.004)
    stack[:, 0, 0] = np.nan
    stack[0, 0, 1] = np.inf  # outside every fit range: still flags the spectrum
    for methods in (("half_step",), bz.xanes.EDGE_METHODS):
        fast = bz.xanes.edge_maps(stack, energy, methods=methods, e0=8341.0, block_voxels=256)
        slow = bz.xanes.edge_maps(stack, energy, methods=methods, e0=8341.0, fast=False)
        np.testing.assert_array_equal(fast["valid"], slow["valid"])
        assert not fast["valid"][0, :2].any()
        for key in fast:
            if key.startswith("edge_energy") and not key.endswith("err_ev"):
                np.testing.assert_allclose(fast[key], slow[key], atol=2e-3, equal_nan=True)
        np.testing.assert_allclose(fast["edge_step"], slow["edge_step"], rtol=1e-5, equal_nan=True)
    # the block size changes no result (default: 65,536 voxels for the kernel); a bad one is named
    default = bz.xanes.edge_maps(stack, energy, e0=8341.0)
    small = bz.xanes.edge_maps(stack, energy, e0=8341.0, block_voxels=7)
    for key in default:
        np.testing.assert_array_equal(small[key], default[key], err_msg=key)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(bz.errors.InputError, match="block_voxels"):
            bz.xanes.edge_maps(stack, energy, e0=8341.0, block_voxels=bad)
