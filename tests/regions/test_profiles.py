"""bz.regions.profiles: distance from a surface, surface-to-core profiles."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError


def test_surface_distance_is_exact_for_a_slab_with_anisotropic_voxels():
    mask = np.zeros((12, 60, 60), bool)
    mask[2:10, :, :] = True  # a slab 8 voxels thick along z, filling y and x
    vs = (0.5, 0.1, 0.1)
    d = bz.regions.surface_distance_um(mask, vs)
    # the array border is outside too: away from it (> 2.9 µm), depth is along z only
    col = d[2:10, 30, 30]
    np.testing.assert_allclose(col, [0.25, 0.75, 1.25, 1.75, 1.75, 1.25, 0.75, 0.25], atol=1e-6)
    assert d[0, 30, 30] == 0
    # near the y border the nearest surface is the border, in µm of y voxels
    assert d[5, 0, 30] == pytest.approx(0.05, abs=1e-6)


def test_radial_profile_recovers_a_surface_to_core_gradient():
    # a sphere of radius 4 µm whose value is its true depth below the surface
    for vs in ((0.2, 0.2, 0.2), (0.4, 0.2, 0.1)):
        shape = tuple(int(round(10.0 / v)) for v in vs)
        z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * v for n, v in zip(shape, vs)], indexing="ij")
        r = np.sqrt(z**2 + y**2 + x**2)
        mask = r <= 4.0
        depth = 4.0 - r
        prof = bz.regions.radial_profile(depth, mask, vs, shell_width_um=0.4, name="depth_um")
        assert prof.index.name == "shell" and prof.index[0] == 1
        assert np.all(np.diff(prof["depth_um_mean"].to_numpy()) > 0)
        # measured distance agrees with the true depth: voxel by voxel within 0.6 of the
        # coarsest voxel edge, shell by shell (means) within 0.4 of it
        d = bz.regions.surface_distance_um(mask, vs)
        assert np.abs(d[mask] - depth[mask]).max() < 0.6 * max(vs)
        good = prof["count"] > 50
        err = np.abs(prof.loc[good, "distance_um"] - prof.loc[good, "depth_um_mean"])
        assert err.max() < 0.4 * max(vs), (vs, err.max())
        assert np.all(prof["distance_min_um"] < prof["distance_max_um"])
    # two touching cubes profiled each from its own surface
    labels = np.zeros((10, 10, 20), np.int32)
    labels[1:9, 1:9, 1:9] = 1
    labels[1:9, 1:9, 9:17] = 2  # touches region 1
    prof2 = bz.regions.radial_profile(np.ones(labels.shape), None, 1.0, labels=labels)
    assert prof2.index.names == ["label", "shell"]
    assert list(prof2.loc[1].index) == [1, 2, 3, 4] and list(prof2.loc[2].index) == [1, 2, 3, 4]
    np.testing.assert_array_equal(prof2.loc[1, "count"], prof2.loc[2, "count"])
    assert prof2.loc[(1, 1), "count"] == 8**3 - 6**3
    with pytest.raises(InputError, match="mask"):
        bz.regions.radial_profile(np.ones((3, 3, 3)), np.zeros((3, 3, 3), bool), 1.0)
