"""The hierarchy of scales: every dataset in one physical frame, from the cell to a grain.

A :class:`Hierarchy` holds :class:`Level` objects -- a cell CT, an electrode region of
interest inside it, a particle nano-tomogram inside that, a 3D XANES field of view on the
particle -- each with its grid (shape, voxel size) and where it sits in its parent. With
it you can draw a child's box on its parent, map a point (a clicked voxel, a defect, a
particle centre) between any two levels, follow the path from the cell down to a grain,
and give napari layers the ``scale``/``translate`` that put every level in one world.

>>> import batteryzoom as bz
>>> h = bz.zoom.Hierarchy.from_twin("small")
>>> h.path("twin/particle-xanes")
['twin/cell-ct', 'twin/electrode-ct', 'twin/particle-nanoct', 'twin/particle-xanes']
>>> lo, hi = h.box_in("twin/electrode-ct", "twin/cell-ct")   # µm, in the cell's frame
>>> h.map_points([0.0, 0.0, 0.0], "twin/particle-nanoct", "twin/cell-ct")  # voxel 0, in the cell
array([  783.06,  9183.06, 14201.06])

Frames (the conventions of :mod:`batteryzoom.frames`)
------------------------------------------------------
- Axes ``(z, y, x)`` (or ``(y, x)`` for 2-D levels); all lengths in µm.
- A level's *local frame* has its zero at the centre of voxel ``(0, 0, 0)``: voxel index
  ``i`` sits at ``i * voxel_size_um`` (the xarray coordinates of a level's data).
- ``origin_um`` is where that zero sits in the *parent's* local frame; for a root level
  the parent is the world frame (for the twin: the cell's axis at ``y = x = 0``, ``z``
  the height above the can's bottom).
- Frames differ by translations only (every level is axis-aligned with its parent).
- A level's box is its extent in voxel *edges*: ``origin - voxel/2`` to
  ``origin + (shape - 1/2) * voxel`` in the parent's frame.

Validation
----------
Unknown parents, cycles, duplicate names, dimension mismatches and non-positive or
non-finite voxel sizes raise :class:`~batteryzoom.errors.InputError`. A child box that
lies *entirely* outside its parent raises too (that is almost always a unit or frame
mistake: origin in voxels or mm, or measured from the parent's corner instead of its
voxel 0's centre). A box that sticks out *partly* -- by more than half a parent voxel --
warns with :class:`BoxOutsideParentWarning`: real fields of view do overhang the volume
they were registered to; pass ``strict=True`` to make it an error. A grid that overhangs
on purpose states it (``Level(overhang_um=...)``, ``frame.overhang_um`` in the manifest:
a reconstruction's field of view holds air around its sample) and is accepted silently up
to that much; beyond it, it warns as any other.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
