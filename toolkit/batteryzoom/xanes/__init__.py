"""Grain-scale chemistry: XANES imaging at an absorption edge (here the Ni K-edge).

Everything works on stacks with the **energy axis first**: spectra ``(E,)``, maps
``(E, y, x)``, volumes ``(E, z, y, x)``, as numpy arrays (with the energies passed
separately) or xarray DataArrays with an ``energy`` coordinate in eV. Per-voxel functions
are vectorized over voxels and accept dask arrays chunked over space: each spatial chunk
is processed on its own (``map_blocks``), so a stack larger than memory streams through.

Steps, in the order of an analysis:

- :func:`optical_density`: ``-ln((I - D) / (I0 - D))`` from sample, flat and dark frames.
- :func:`align`: sub-pixel phase-correlation registration of every energy's frame (2D) or
  volume (3D) to a reference energy; returns the aligned stack and the shifts.
- :func:`find_e0` and :func:`normalize`: Larch's ``find_e0`` / ``pre_edge`` with its
  default ranges and rules (see :mod:`.normalization`), per spectrum, vectorized.
- :func:`edge_energy`: edge position per voxel by half-step crossing, smoothed-derivative
  maximum or white-line vertex, with an uncertainty from the pre-edge noise.
- :func:`edge_maps`: normalization + edge energies + masks in one pass (the fast path for
  big stacks).
- :func:`pca_denoise` / :func:`pca_edge_maps`: PCA (SVD) denoising of the spectra (the
  number of components chosen from the data's noise floor), half-step edge energies of
  the denoised spectra with their propagated uncertainty (~2-3x less noise per voxel).
- :func:`region_edge_stats`: per-grain mean edge energy and noise-deconvolved FWHM, with
  flags saying where the statistics can support a 0.05 eV / 10 % claim.
- :func:`masks`, :func:`edge_jump_map`, :func:`particle_mask`: which voxels to trust.
- :func:`linear_combination`: non-negative least squares against reference spectra
  (optionally summing to one) -> fraction maps.
"""

from __future__ import annotations

from .alignment import align, apply_shifts
from .denoise import PCAModel, pca_denoise, pca_edge_maps, pca_fit
from .edges import EDGE_METHODS, edge_energy, edge_maps
from .fitting import linear_combination
from .masks import edge_jump_map, masks, particle_mask
from .normalization import LarchDefaults, find_e0, normalize, pre_edge_ranges
from .regional import region_edge_stats
from .stack import optical_density

__all__ = [
    "optical_density",
    "align",
    "apply_shifts",
    "find_e0",
    "normalize",
    "pre_edge_ranges",
    "LarchDefaults",
    "edge_energy",
    "edge_maps",
    "EDGE_METHODS",
    "pca_fit",
    "pca_denoise",
    "pca_edge_maps",
    "PCAModel",
    "region_edge_stats",
    "masks",
    "edge_jump_map",
    "particle_mask",
    "linear_combination",
]
