# Public names of batteryzoom.segment, loaded lazily (lazy_loader.attach_stub).
from ._common import VoxelSizeWarning
from .chemical import segment_grains_chemical
from .chunked import chunk_grid, label_in_chunks, map_in_chunks
from .cracks import (
    DAMAGE_CLASSES,
    DAMAGE_THRESHOLDS,
    crack_analysis,
    damage_class,
    damage_depth_profile,
    radial_grey_profile,
)
from .grains import (
    GrainSegmentation,
    adjusted_rand_index,
    grain_table,
    particle_mask,
    segment_grains,
    void_mask,
)
from .particles import ParticleSegmentation, particle_table, segment_particles
from .phases import (
    PHASE_CODES,
    classify_phases,
    depth_profile,
    find_coating,
    phase_fractions,
    phase_thresholds,
    porosity,
)
from .pipelines import (
    DamageCensus,
    ElectrodeDamage,
    GrainCensus,
    ParticleStructure,
    electrode_damage,
    particle_structure,
)

__all__ = [
    "VoxelSizeWarning",
    "PHASE_CODES",
    "DAMAGE_CLASSES",
    "DAMAGE_THRESHOLDS",
    "ParticleSegmentation",
    "GrainSegmentation",
    "phase_thresholds",
    "classify_phases",
    "phase_fractions",
    "porosity",
    "depth_profile",
    "find_coating",
    "segment_particles",
    "particle_table",
    "label_in_chunks",
    "map_in_chunks",
    "chunk_grid",
    "crack_analysis",
    "damage_class",
    "damage_depth_profile",
    "radial_grey_profile",
    "particle_mask",
    "void_mask",
    "segment_grains",
    "segment_grains_chemical",
    "grain_table",
    "adjusted_rand_index",
    "DamageCensus",
    "ElectrodeDamage",
    "GrainCensus",
    "ParticleStructure",
    "electrode_damage",
    "particle_structure",
]
