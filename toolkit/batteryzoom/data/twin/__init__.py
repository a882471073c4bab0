"""The synthetic twin of the study's cell, at every scale, with ground truth.

A deterministic stand-in for data no public source holds (a multi-day self-discharge
record, a particle nano-tomogram, a 3D XANES volume), nested in one physical frame
(:mod:`.frames`). Every generator takes ``seed`` (``numpy.random.default_rng``; same seed,
same bytes) and is registered in ``data_manifest.yaml``; ``bz.data.load("twin/...")``
generates on first use and caches.

Submodules (generators double as test fixtures, as in PoreSpy):

- :mod:`.frames`: where each level sits (voxel sizes, origins, boxes) for both presets.
- :mod:`.grains`: the particle's primary-grain geometry (shared by nano-CT and XANES).
- :mod:`.cycling`: cycler records (one cycle; self-discharge of a defective cell and a
  healthy population).
- :mod:`.cell`: the 18650 cell CT with planted defects.
- :mod:`.electrode`: the cathode electrode CT with depth-dependent cracking.
- :mod:`.particle`: the particle nano-CT (grains, cracks, pores).
- :mod:`.particle_raw`: that nano-CT as a propagation-based tomography acquires it.
- :mod:`.xanes`: grain-scale 3D XANES at the Ni K-edge.
- :mod:`.xanes_raw`: that XANES as a TXM acquires it (projections, flats, darks per energy).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
