"""Where every level of the synthetic twin sits: one physical frame from the cell to a grain.

Conventions (shared by every twin generator and by ``bz.zoom``):

- Axes are ``(z, y, x)``; all lengths in µm.
- Each level has a *local frame* whose zero is the centre of its voxel ``(0, 0, 0)``;
  the xarray coordinates of a twin dataset are local: ``z = arange(nz) * voxel_size_um[0]``.
- ``origin_um`` is where that zero sits in the *parent's* local frame. For the root (the
  cell) the parent is the world frame: the cell's axis is at ``y = x = 0`` and ``z`` is the
  height above the can's bottom.
- ``box_um`` is the level's extent in the parent's frame (voxel edges, not centres):
  ``min = origin - voxel/2``, ``max = origin + (shape - 1/2) * voxel``.
- Each level is a :class:`batteryzoom.frames.Level` (the package's one level type, also the
  zoom hierarchy's), with its ``preset``; ``level.attrs()`` are the frame attributes every
  twin dataset of that level carries.
- Frames differ by translations only (every level is axis-aligned with the cell).

The physical boxes are the same for both presets; a preset changes only the voxel size
(resolution), so ``small`` and ``large`` twins describe the same cell.

The zoom path: cell CT ⊃ electrode ROI (at the metallic inclusion) ⊃ one secondary particle
(nano-CT) ⊃ the 3D XANES field of view (co-registered with the nano-CT, same box).
"""

from __future__ import annotations

import numpy as np

from ...frames import Level

__all__ = ["Level", "PRESETS", "level", "levels", "CELL_AXIS_WORLD_UM", "INCLUSION_WORLD_UM"]

PRESETS = ("small", "large")

# The 18650 can: 18 mm outer diameter, 65 mm tall; we image a 1.6 mm slab at mid-height.
CAN_OUTER_DIAMETER_UM = 18_000.0
CAN_HEIGHT_UM = 65_000.0
SLAB_BOTTOM_UM = 32_000.0
SLAB_HEIGHT_UM = 1_600.0
CELL_AXIS_WORLD_UM = (0.0, 0.0)  # (y, x) of the cell axis in the world frame

# The metallic foreign particle sits between windings at about r = 5 mm on the +x axis,
# halfway up the slab. The cell generator snaps it to the nearest inter-winding gap and
# records the exact position in its defect table; the electrode ROI is centred here.
INCLUSION_WORLD_UM = (SLAB_BOTTOM_UM + SLAB_HEIGHT_UM / 2, 0.0, 5_000.0)

# Electrode ROI: 64 x 64 µm laterally, 80 µm through the thickness (x, radial at the
# inclusion): Al foil at small x, the coating (~60 µm), the separator side at large x.
ELECTRODE_SIZE_UM = (64.0, 64.0, 80.0)
# The designated secondary particle (the one the study zooms into), measured from the
# electrode box's min corner (so it sits at the same physical place for both presets):
# centred laterally, near the separator (the most damaged depth).
PARTICLE_CENTRE_IN_ELECTRODE_UM = (32.0, 32.0, 58.0)
PARTICLE_DIAMETER_UM = 8.0
PARTICLE_BOX_UM = 8.96  # cube edge of the nano-CT / XANES field of view


def _check_preset(preset: str) -> None:
    if preset not in PRESETS:
        from ...errors import InputError

        raise InputError(f"preset={preset!r}: choose one of {PRESETS}")


def _fit(extent_um: float, voxel_um: float) -> int:
    return int(round(extent_um / voxel_um))


def levels(preset: str = "small") -> dict[str, Level]:
    """Every level of the twin for ``preset``, keyed by manifest name."""
    _check_preset(preset)
    cell_voxel = {"small": 25.0, "large": 12.5}[preset]
    electrode_voxel = {"small": 0.5, "large": 0.25}[preset]
    nanoct_voxel = {"small": 0.08, "large": 0.035}[preset]
    xanes_voxel = {"small": 0.16, "large": 0.035}[preset]

    # cell: square field just wider than the can, centred on the axis
    n_xy = _fit(CAN_OUTER_DIAMETER_UM + 400.0, cell_voxel)
    n_xy += n_xy % 2
    n_z = _fit(SLAB_HEIGHT_UM, cell_voxel)
    cell_origin = (
        SLAB_BOTTOM_UM + cell_voxel / 2,
        CELL_AXIS_WORLD_UM[0] - (n_xy - 1) / 2 * cell_voxel,
        CELL_AXIS_WORLD_UM[1] - (n_xy - 1) / 2 * cell_voxel,
    )
    cell = Level("twin/cell-ct", (n_z, n_xy, n_xy), (cell_voxel,) * 3, cell_origin, preset=preset)

    # electrode ROI at the inclusion, in the cell's local frame
    inc_local = np.subtract(INCLUSION_WORLD_UM, np.asarray(cell_origin))
    e_shape = tuple(_fit(L, electrode_voxel) for L in ELECTRODE_SIZE_UM)
    e_min = inc_local - np.asarray(ELECTRODE_SIZE_UM) / 2
    electrode = Level(
        "twin/electrode-ct", e_shape, (electrode_voxel,) * 3,
        tuple((e_min + electrode_voxel / 2).round(6).tolist()), parent=cell.name, preset=preset,
    )

    # the particle's field of view inside the electrode (local frame: zero at voxel 0's centre)
    p_min = particle_centre_in_electrode_um(electrode_voxel) - PARTICLE_BOX_UM / 2
    p_shape = (_fit(PARTICLE_BOX_UM, nanoct_voxel),) * 3
    particle = Level(
        "twin/particle-nanoct", p_shape, (nanoct_voxel,) * 3,
        tuple((p_min + nanoct_voxel / 2).round(6).tolist()), parent=electrode.name, preset=preset,
    )
    # XANES: the same box as the nano-CT (co-registered), its own voxel size
    x_shape = (_fit(PARTICLE_BOX_UM, xanes_voxel),) * 3
    xanes = Level(
        "twin/particle-xanes", x_shape, (xanes_voxel,) * 3,
        tuple((np.full(3, -nanoct_voxel / 2) + xanes_voxel / 2).round(6).tolist()), parent=particle.name,
        preset=preset,
    )
    return {lv.name: lv for lv in (cell, electrode, particle, xanes)}


def particle_centre_in_electrode_um(electrode_voxel_um: float) -> np.ndarray:
    """The designated particle's centre in the electrode's local frame (µm, z y x)."""
    return np.asarray(PARTICLE_CENTRE_IN_ELECTRODE_UM) - electrode_voxel_um / 2


def level(name: str, preset: str = "small") -> Level:
    """One level by manifest name, e.g. ``level("twin/particle-xanes", "large")``."""
    return levels(preset)[name]
