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
- :func:`aligned_edge_maps`: alignment, normalization and edge maps of a 3D stack in one
  streamed pass over spatial blocks, never building the aligned stack (numpy, dask, a
  zarr store, a ``dask.distributed`` cluster): 60 × 512³ in bounded memory.
- :func:`pca_denoise` / :func:`pca_edge_maps`: PCA (SVD) denoising of the spectra (the
  number of components chosen from the data's noise floor), half-step edge energies of
  the denoised spectra with their propagated uncertainty (~2-3x less noise per voxel).
- :func:`region_edge_stats`: per-grain mean edge energy and noise-deconvolved FWHM, with
  flags saying where the statistics can support a 0.05 eV / 10 % claim.
- :func:`masks`, :func:`edge_jump_map`, :func:`particle_mask`: which voxels to trust.
- :func:`linear_combination`: non-negative least squares against reference spectra
  (optionally summing to one) -> fraction maps.
- :func:`grain_chemistry`: the grain scale's whole recipe (alignment, edge maps, masks,
  per-grain statistics, heterogeneity, the two grains of Fig. S3, noise-free widths) in
  one call, returning a :class:`GrainChemistry`: what the report and notebook 05 print.
- :func:`xanes_from_raw`: the same from a raw multi-energy tomography (projections, flats,
  darks per energy): reconstruction by :mod:`batteryzoom.tomo`, magnification across
  energies, then :func:`grain_chemistry`; returns a :class:`RawXanes`.

Modules: :mod:`.stack` (checks, dispatch), :mod:`.alignment`, :mod:`.normalization`,
:mod:`.edges` (with :mod:`._fused` and :mod:`._general`, its two paths),
:mod:`.uncertainty`, :mod:`.denoise`, :mod:`.masks`, :mod:`.regional`, :mod:`.fitting`,
:mod:`.chemistry` (the pipeline), :mod:`.from_raw` (from projections).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
