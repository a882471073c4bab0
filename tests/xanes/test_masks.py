"""bz.xanes.masks (and the optical density it starts from): which voxels to trust."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz


def test_optical_density_and_masks(xanes_edge_stack):
    sample = np.array([[50.0, 0.0], [100.0, 10.0]])
    flat = np.array([[100.0, 100.0], [100.0, 0.0]])
    od = bz.xanes.optical_density(sample, flat)
    assert od[0, 0] == pytest.approx(np.log(2)) and od[1, 0] == pytest.approx(0.0)
    assert np.isnan(od[0, 1]) and np.isnan(od[1, 1])  # no log of a non-positive number
    od_dark = bz.xanes.optical_density(sample + 10, flat + 10, dark=np.full((2, 2), 10.0))
    assert od_dark[0, 0] == pytest.approx(np.log(2), rel=1e-6)
    energy, stack, _ = xanes_edge_stack((10, 10))
    stack[:, :5] = 0.4 + 0.001 * np.random.default_rng(0).normal(size=stack[:, :5].shape)  # no edge there
    maps = bz.xanes.edge_maps(stack, energy, e0=8341.0)
    mk = bz.xanes.masks(maps)
    assert not mk["mask"][:5].any() and mk["mask"][5:].all()


def _dice(a, b):
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


def test_edge_jump_map_of_two_twin_energies_finds_where_the_ni_is(twin):
    # a two-energy scan (pre/post edge, as SSRL 6-2c's 8324/8354 eV) picked from the twin
    stack = twin("particle-xanes")
    truth = twin("particle-xanes", "truth")
    energy = stack["energy"].values
    picks = [int(np.abs(energy - e).argmin()) for e in (8324.0, 8354.0)]
    two = stack.isel(energy=picks)
    with pytest.raises(bz.errors.InputError, match="has 2 energies.*edge_jump_map"):
        bz.xanes.edge_maps(two)
    aligned, shifts = bz.xanes.align(two, show_progress=False)
    jump = bz.xanes.edge_jump_map(aligned)
    assert jump.dims == ("z", "y", "x") and jump.dtype == np.float32
    assert jump.attrs["pre_edge_ev"] == [energy[picks[0]]] and jump.attrs["post_edge_ev"] == [energy[picks[1]]]
    true_jump = truth["edge_jump"].values
    ok = np.isfinite(jump.values)
    assert ok.mean() > 0.8  # NaN only in the band outside the common field of view
    assert np.corrcoef(jump.values[ok], true_jump[ok])[0, 1] > 0.95
    ni = truth["density"].values > 0.5  # the truth of where the Ni-bearing solid is
    assert _dice(bz.xanes.particle_mask(jump).values, ni) > 0.85


@pytest.mark.realdata
def test_edge_jump_map_of_the_real_two_energy_ssrl_scan(fetch_real):
    folder = fetch_real("real/xanes/ssrl-nca-frames")[0].parent
    od = bz.io.read_txm_scan(folder)
    assert od.sizes["energy"] == 2
    with pytest.raises(bz.errors.InputError, match="has 2 energies \\(8324.0-8354.0 eV\\).*edge_jump_map"):
        bz.xanes.edge_maps(od)
    jump = bz.xanes.edge_jump_map(od)
    mask = bz.xanes.particle_mask(jump)
    assert jump.attrs["pre_edge_ev"] == [8324.0] and jump.attrs["post_edge_ev"] == [8354.0]
    # NCA particles (~20 % of the field): a clear Ni jump on them, ~0 around them
    assert 0.05 < float(mask.mean()) < 0.5
    assert float(np.nanmedian(jump.values[mask.values])) > 0.2
    assert abs(float(np.nanmedian(jump.values[~mask.values]))) < 0.06
