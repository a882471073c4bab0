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
