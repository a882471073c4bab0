"""bz.segment.chemical: grains from an edge-energy map (chemical domains), on distinct
synthetic domains and on the twin's XANES truth map; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom import segment
from batteryzoom.errors import InputError


@pytest.fixture(scope="module")
def domains():
    """27 cubic domains of 12 voxels whose edge energies differ by ≥ 0.6 eV, noise 0.15 eV."""
    rng = np.random.default_rng(1)
    idx = np.indices((36, 36, 36)) // 12
    truth = 1 + idx[0] * 9 + idx[1] * 3 + idx[2]
    energy = 8340 + 0.6 * rng.permutation(27)[truth - 1] + rng.normal(0, 0.15, truth.shape)
    return truth, energy


def test_chemical_grains_recover_distinct_domains(domains):
    truth, energy = domains
    res = segment.segment_grains_chemical(energy, voxel_size_um=0.1)
    assert segment.adjusted_rand_index(truth, res.labels) > 0.9
    assert res.params["noise_sigma_ev"] == pytest.approx(0.15, rel=0.2)
    assert res.boundary is None and len(res.table) >= 27


def test_chemical_grains_on_the_twin_xanes_truth():
    truth = bz.data.load("twin/particle-xanes", part="truth", lazy=False)
    grains = truth["grain_labels"].values
    energy = truth["edge_energy_ev"].where(truth["grain_labels"] > 0)
    res = segment.segment_grains_chemical(energy)  # voxel size from the µm coordinates
    assert res.labels.attrs["voxel_size_um"] == pytest.approx([0.16] * 3)
    ari = segment.adjusted_rand_index(grains, res.labels, mask=(grains > 0) & (truth["density"].values > 0.5))
    print(f"chemical-map grains on the twin XANES truth map: ARI = {ari:.3f}, {len(res.table)} domains "
          f"for {len(np.unique(grains)) - 1} grains (grains ≈ 4 voxels across)")
    assert ari > 0.2  # chemical domains, coarser than the grains (documented in the docstring)


def test_anisotropic_voxels_give_the_same_domains_in_um(domains):
    """The same 27 domains sampled at (0.1, 0.1, 0.05) µm (twice the voxels along x, fresh
    noise): recovered as well, with the same physical volume as the cubic map's."""
    truth, energy = domains
    rng = np.random.default_rng(2)
    idx = np.indices((36, 36, 72)) // np.array([12, 12, 24])[:, None, None, None]
    fine = 1 + idx[0] * 9 + idx[1] * 3 + idx[2]
    means = 8340 + 0.6 * rng.permutation(27)
    res = segment.segment_grains_chemical(means[fine - 1] + rng.normal(0, 0.15, fine.shape),
                                          voxel_size_um=(0.1, 0.1, 0.05))
    assert segment.adjusted_rand_index(fine, res.labels) > 0.9
    cubic = segment.segment_grains_chemical(energy, voxel_size_um=0.1)
    assert res.table["volume_um3"].sum() == pytest.approx(cubic.table["volume_um3"].sum()) == pytest.approx(36**3 * 1e-3)


def test_lengths_in_voxels_are_named_px(domains):
    truth, energy = domains
    px = segment.segment_grains_chemical(energy, voxel_size_um="px", supervoxel_um=6.0)
    assert px.params["voxel_size_um"] == "px" and px.labels.attrs["voxel_size_um"] is None
    assert "volume_px3" in px.table.columns and "volume_um3" not in px.table.columns
    assert px.table["volume_px3"].sum() == 36**3


BAD = [
    # (call on the grey map g, words the message must hold)
    (lambda g: segment.segment_grains_chemical(np.full((6, 6, 6), np.nan), voxel_size_um=0.1), "no finite"),
    (lambda g: segment.segment_grains_chemical(g, voxel_size_um=1, supervoxel_um=0), "supervoxel_um"),
    (lambda g: segment.segment_grains_chemical(g, voxel_size_um=1, supervoxel_um=-1), "supervoxel_um"),
    (lambda g: segment.segment_grains_chemical(g, voxel_size_um=1, merge_z=-1), "merge_z"),
    (lambda g: segment.segment_grains_chemical(g, voxel_size_um=1, compactness=0), "compactness"),
    (lambda g: segment.segment_grains_chemical(g, voxel_size_um=1, smooth_um=-1), "smooth_um"),
    (lambda g: segment.segment_grains_chemical(g, g[:3] > 0.5, voxel_size_um=1), "particle: shape"),
    (lambda g: segment.segment_grains_chemical(g.astype(complex), voxel_size_um=1), "not a real"),
    (lambda g: segment.segment_grains_chemical(g), "voxel size is unknown"),
]


@pytest.mark.parametrize("call, words", BAD, ids=[w for _, w in BAD])
def test_bad_arguments_raise_input_errors_that_name_them(call, words):
    grey = np.random.default_rng(0).random((8, 8, 8)).astype(np.float32)
    with pytest.raises(InputError, match=words):
        call(grey)
