"""Primary-grain geometry of the twin's secondary particle, shared by nano-CT and XANES.

The particle is a sphere packed with primary grains from a Laguerre (power) tessellation:
each grain ``i`` has a seed ``s_i`` and a weight ``w_i`` (µm²), and a point ``p`` belongs
to the grain minimising ``|p - s_i|² - w_i``. Seeds are placed by dart throwing with a
minimum spacing (so grains are compact, not slivers) and the weights spread the grain
sizes. The geometry is analytic, so the same grains can be sampled on any grid: the
nano-CT (fine voxels) and the XANES field of view (coarser voxels) agree by construction.

Coordinates here are particle-centred µm ``(z, y, x)``; :func:`particle_centre_um` gives
the particle centre in a level's local frame (see :mod:`.frames`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from . import frames

__all__ = ["ParticleGeometry", "particle_geometry", "grain_labels", "particle_centre_um"]


@dataclass(frozen=True)
class ParticleGeometry:
    """Seeds, weights and radius of one secondary particle (particle-centred µm)."""

    radius_um: float
    seeds_um: np.ndarray  # (n_grains, 3) float64
    weights_um2: np.ndarray  # (n_grains,) float64

    @property
    def n_grains(self) -> int:
        return len(self.seeds_um)


def particle_geometry(
    seed: int,
    diameter_um: float = frames.PARTICLE_DIAMETER_UM,
    mean_grain_um: float = 0.75,
    size_spread: float = 0.3,
) -> ParticleGeometry:
    """Draw the grain seeds and weights of a spherical secondary particle.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; same seed, same geometry.
    diameter_um : float
        Particle diameter (µm).
    mean_grain_um : float
        Target mean equivalent diameter of a primary grain (µm); grains come out between
        roughly 0.3 and 1.2 µm.
    size_spread : float
        Relative spread of the Laguerre weights (0 gives a plain Voronoi tessellation).
    """
    rng = np.random.default_rng(seed)
    radius = diameter_um / 2
    grain_volume = np.pi / 6 * mean_grain_um**3
    # seed the sphere plus a shell one grain thick, so surface grains are cut, not stretched
    outer = radius + mean_grain_um
    n_target = int(round(4 / 3 * np.pi * outer**3 / grain_volume))
    min_spacing = 0.72 * mean_grain_um
    accepted: list[np.ndarray] = []
    tree_pts = np.empty((0, 3))
    # dart throwing in batches: candidates closer than min_spacing to an accepted seed
    # (or to an earlier candidate of the same batch) are dropped
    for _ in range(200):
        if len(tree_pts) >= n_target:
            break
        cand = rng.uniform(-outer, outer, size=(4 * n_target, 3))
        cand = cand[np.linalg.norm(cand, axis=1) <= outer]
        if len(tree_pts):
            d, _ = cKDTree(tree_pts).query(cand, k=1)
            cand = cand[d >= min_spacing]
        keep = []
        if len(cand):
            ctree = cKDTree(cand)
            taken = np.zeros(len(cand), bool)
            for i in range(len(cand)):
                if taken[i]:
                    continue
                keep.append(i)
                taken[ctree.query_ball_point(cand[i], min_spacing)] = True
        accepted.append(cand[keep])
        tree_pts = np.concatenate([tree_pts] + accepted[-1:])
    seeds = tree_pts[:n_target]
    weights = rng.normal(0.0, size_spread, len(seeds)) * mean_grain_um**2
    return ParticleGeometry(radius_um=radius, seeds_um=seeds, weights_um2=weights)


def particle_centre_um(level: frames.Level) -> np.ndarray:
    """Centre of the designated particle in ``level``'s local frame (µm, z y x)."""
    levels = frames.levels(level.preset)
    offset = np.zeros(3)
    lv = level
    # walk up to the electrode, summing origins (frames differ by translations only)
    while lv.name != "twin/electrode-ct":
        if lv.parent is None:
            raise ValueError(f"{level.name} is not inside the electrode")
        offset += np.asarray(lv.origin_um)
        lv = levels[lv.parent]
    electrode_voxel = levels["twin/electrode-ct"].voxel_size_um[0]
    return frames.particle_centre_in_electrode_um(electrode_voxel) - offset


def grain_labels(
    geometry: ParticleGeometry,
    level: frames.Level,
    chunk_voxels: int = 2_000_000,
) -> np.ndarray:
    """Label every voxel of ``level`` with its grain (1..n), 0 outside the particle.

    Parameters
    ----------
    geometry : ParticleGeometry
    level : frames.Level
        The grid to sample (its shape, voxel size and frame).
    chunk_voxels : int
        Voxels per KD-tree query, bounding memory on large grids.

    Returns
    -------
    numpy.ndarray
        ``level.shape`` int32; grain ``i`` of ``geometry.seeds_um`` has label ``i + 1``.
        Grains that fall entirely outside the sphere simply do not appear.
    """
    # Laguerre cells as nearest neighbours in 4D: lift seed i to (s_i, sqrt(W - w_i))
    lift = np.sqrt(geometry.weights_um2.max() - geometry.weights_um2 + 1e-12)
    tree = cKDTree(np.column_stack([geometry.seeds_um, lift]))
    centre = particle_centre_um(level)
    z, y, x = (np.arange(n) * v - c for n, v, c in zip(level.shape, level.voxel_size_um, centre))
    labels = np.zeros(level.shape, np.int32)
    plane = level.shape[1] * level.shape[2]
    step = max(1, chunk_voxels // plane)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    for z0 in range(0, level.shape[0], step):
        zz = z[z0 : z0 + step][:, None, None]
        r2 = zz**2 + yy[None] ** 2 + xx[None] ** 2
        inside = r2 <= geometry.radius_um**2
        if not inside.any():
            continue
        idx = np.nonzero(inside)
        pts = np.column_stack(
            [zz[idx[0], 0, 0], yy[idx[1], idx[2]], xx[idx[1], idx[2]], np.zeros(len(idx[0]))]
        )
        _, nearest = tree.query(pts, k=1, workers=-1)
        block = labels[z0 : z0 + step]
        block[idx] = nearest + 1
    return labels
