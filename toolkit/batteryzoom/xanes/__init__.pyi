# Public names of batteryzoom.xanes, loaded lazily (lazy_loader.attach_stub reads this file).
__all__ = [
    "optical_density",
    "align",
    "aligned_edge_maps",
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
    "grain_chemistry",
    "GrainChemistry",
    "xanes_from_raw",
    "RawXanes",
]

from . import alignment, chemistry, denoise, edges, fitting, from_raw, normalization, regional, stack, streamed, uncertainty
from .alignment import align, apply_shifts
from .chemistry import GrainChemistry, grain_chemistry
from .denoise import PCAModel, pca_denoise, pca_edge_maps, pca_fit
from .edges import EDGE_METHODS, edge_energy, edge_maps
from .fitting import linear_combination
from .from_raw import RawXanes, xanes_from_raw
from .masks import edge_jump_map, masks, particle_mask
from .normalization import LarchDefaults, find_e0, normalize, pre_edge_ranges
from .regional import region_edge_stats
from .stack import optical_density
from .streamed import aligned_edge_maps
