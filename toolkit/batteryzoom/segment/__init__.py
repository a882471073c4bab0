"""Segmentation: phases, particles, cracks and pores, primary grains.

Compute functions in the design's sense: they take volumes (``xarray.DataArray`` with dims
``(z, y, x)`` and attrs ``voxel_size_um``, or numpy arrays plus ``voxel_size_um``) and return
label volumes and tables (one row per object, units in column names). Voxel sizes may
differ per axis: every distance (distance transforms, structuring elements, geodesic
growth, marching cubes, region properties) is computed in µm with the real spacing.

The voxel size is read by :func:`batteryzoom.frames.frame_of` (its module docstring: the
one policy). Segmentation parameters are lengths in µm, so an unknown voxel size raises an
:class:`~batteryzoom.errors.InputError` that says how to give it; ``voxel_size_um="px"``
works in voxels on purpose: the µm parameters are then read as voxels and the reported
lengths are named ``*_px`` (``equivalent_diameter_px``, ``volume_px3``). Nothing is ever
silently taken as 1 µm.

One module per technique:

``phases``
    :func:`phase_thresholds`, :func:`classify_phases`, :func:`phase_fractions`,
    :func:`porosity`, :func:`depth_profile`, :func:`find_coating`.
``particles``
    :func:`segment_particles` (thresholds → crack filling → distance transform → h-maxima
    markers → watershed, border flags, per-particle table; in overlapping blocks for a
    dask input or a volume over 256³), :func:`particle_table`.
``chunked``
    :func:`map_in_chunks` (a function over overlapping blocks, the cores assembled),
    :func:`label_in_chunks` (labels stitched across block faces by a union-find),
    :func:`chunk_grid`.
``cracks``
    :func:`crack_analysis` (crack fraction, crack surface density, damage class),
    :func:`damage_class`, :func:`damage_depth_profile`, :func:`radial_grey_profile` (grey
    level from each particle's surface to its core).
``grains``
    :func:`particle_mask`, :func:`void_mask` (cracks and pores inside the particle),
    :func:`segment_grains` (boundary map from a Hessian ridge filter and darkness, the
    particle surface's profile divided out → basins of the valley filter → watershed →
    faces that are no boundary merged), :func:`grain_table`, :func:`adjusted_rand_index` (to score a
    segmentation against the twin's truth).
``chemical``
    :func:`segment_grains_chemical` (supervoxels on an edge-energy map merged by
    similarity).
``pipelines``
    One per scale, the recipes the report and the notebooks share:
    :func:`electrode_damage` (particles, porosity, cracks, damage vs depth) and
    :func:`particle_structure` (grains, voids; scored against the truth when given).

Whole-volume operations (watershed, distance transforms) need the volume in memory: a
dask-backed input is computed first, except by :func:`segment_particles`, which reads
it block by block (``chunk_voxels``; peak memory a function of the block size).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
