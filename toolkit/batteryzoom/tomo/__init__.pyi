from .centre import (
    CentreEstimate as CentreEstimate,
    CentreFit as CentreFit,
    find_centre as find_centre,
    find_centre_rows as find_centre_rows,
    sharpness_curve as sharpness_curve,
)
from .jitter import (
    JitterResult as JitterResult,
    estimate_jitter as estimate_jitter,
    observable as observable,
    shift_projections as shift_projections,
)
from .normalize import normalize as normalize
from .outliers import remove_outliers as remove_outliers
from .phase import paganin as paganin
from .pipeline import parameters_json as parameters_json, reconstruct as reconstruct
from .reconstruction import (
    METHODS as METHODS,
    project as project,
    reconstruct_slices as reconstruct_slices,
)
from .rings import (
    edge_sharpness as edge_sharpness,
    remove_stripes as remove_stripes,
    ring_metric as ring_metric,
)

__all__ = [
    "CentreEstimate",
    "CentreFit",
    "JitterResult",
    "METHODS",
    "edge_sharpness",
    "estimate_jitter",
    "find_centre",
    "find_centre_rows",
    "normalize",
    "observable",
    "paganin",
    "parameters_json",
    "project",
    "reconstruct",
    "reconstruct_slices",
    "remove_outliers",
    "remove_stripes",
    "ring_metric",
    "shift_projections",
    "sharpness_curve",
]
