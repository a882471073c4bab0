"""Phases of an electrode volume: grey-level thresholds, the phase map, phase fractions,
porosity, phase fractions against depth, and where the coating is.

Phase codes follow the real labelled electrodes (:data:`PHASE_CODES`): 0 pore, 1 NMC,
2 carbon-binder. Counts are exact (no thresholds) once a volume is a phase map.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from . import _common as c

__all__ = ["PHASE_CODES", "phase_thresholds", "classify_phases", "phase_fractions", "porosity", "depth_profile",
           "find_coating"]

# Codes of classify_phases for three phases, in the order of the real labelled electrodes
# (NREL: 0 pore / 1 NMC / 2 carbon-binder; taufactor: 0 / 85 / 170 in the same order).
PHASE_CODES = {"pore": 0, "nmc": 1, "carbon_binder": 2}
# multi-Otsu is combinatorial in the number of classes: 3.3 s at 5, 92 s at 6 (96k voxels)
_MAX_OTSU_PHASES = 5


def phase_thresholds(
    volume: Any,
    n_phases: int = 3,
    *,
    max_samples: int = 2_000_000,
) -> np.ndarray:
    """Grey-level thresholds between ``n_phases`` phases (multi-Otsu, refined).

    Multi-Otsu (scikit-image) on up to ``max_samples`` voxels (a regular subsample), then
    each threshold is moved to the midpoint of the means of the two classes it separates
    (one isodata step): Otsu's optimum is pulled toward the wider class, the midpoint is
    where a blurred edge between two phases crosses half-way, so phase volumes are not
    biased by partial-volume voxels. NaN voxels are ignored.

    Parameters
    ----------
    volume : array-like or DataArray, (z, y, x)
        Grey levels.
    n_phases : int
        Number of phases (2 to 5).
    max_samples : int
        Voxels used at most.

    Returns
    -------
    numpy.ndarray
        ``n_phases - 1`` increasing thresholds (grey-level units).

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom import segment
    >>> grey = np.zeros((4, 4, 8)); grey[..., 4:] = 1.0
    >>> segment.phase_thresholds(grey, 2)
    array([0.5])
    """
    from skimage.filters import threshold_multiotsu

    n_phases = _n_phases(n_phases)
    if isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer)) or max_samples < 1:
        raise InputError(f"max_samples={max_samples!r}: give a positive whole number of voxels (default 2000000)")
    arr = c.array(volume, "volume")
    if arr.dtype == bool:
        raise InputError("volume: a boolean mask has no grey levels to threshold; pass the grey-level volume "
                         "(or use the mask itself as the phase map)")
    step = max(1, int(np.ceil((arr.size / max_samples) ** (1 / 3))))
    sample = arr[::step, ::step, ::step].astype(np.float64).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0 or np.ptp(sample) == 0:
        raise InputError("volume: no finite grey-level variation to threshold (all NaN or constant)")
    thresholds = np.asarray(threshold_multiotsu(sample, classes=n_phases), float)
    edges = np.concatenate([[-np.inf], thresholds, [np.inf]])
    means = [sample[(sample > lo) & (sample <= hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])]
    return (np.asarray(means[:-1]) + np.asarray(means[1:])) / 2


def _n_phases(n_phases: Any) -> int:
    if isinstance(n_phases, bool) or not isinstance(n_phases, (int, np.integer)) \
            or not 2 <= n_phases <= _MAX_OTSU_PHASES:
        raise InputError(
            f"n_phases={n_phases!r}: give a whole number from 2 to {_MAX_OTSU_PHASES} (multi-Otsu's cost grows "
            f"combinatorially: 6 phases take minutes). For more phases pass the thresholds yourself "
            "(classify_phases(volume, thresholds=[...]))."
        )
    return int(n_phases)


def classify_phases(
    volume: Any,
    thresholds: Any = None,
    *,
    n_phases: int = 3,
    voxel_size_um: Any = None,
    denoise_sigma_um: float | None = None,
    codes: tuple[int, ...] | None = None,
) -> xr.DataArray:
    """Phase map of a grey-level volume.

    Parameters
    ----------
    volume : array-like or DataArray, (z, y, x)
        Grey levels.
    thresholds : sequence of float, optional
        Increasing grey-level thresholds; default :func:`phase_thresholds`.
    n_phases : int
        Used when ``thresholds`` is None.
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the DataArray's ``voxel_size_um`` attribute or coordinate spacing; an
        unknown size raises (``"px"``: ``denoise_sigma_um`` is then in voxels).
    denoise_sigma_um : float, optional
        Gaussian pre-smoothing (µm); default half a voxel. 0 disables it.
    codes : tuple of int, optional
        Code of each grey class from darkest to brightest. Default for three phases
        ``(0, 2, 1)``: pore (darkest) 0, carbon-binder 2, NMC (brightest) 1, the
        convention of :data:`PHASE_CODES`; otherwise ``0, 1, 2, ...``.

    Returns
    -------
    DataArray, uint8, (z, y, x)
        Phase codes; NaN voxels get the darkest class's code. ``attrs["thresholds"]``,
        ``attrs["n_nan"]``.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> grey = bz.data.load("twin/electrode-ct")[:32, :32, :]
    >>> phases = bz.segment.classify_phases(grey)
    >>> phases.dtype, sorted(set(phases.values.ravel().tolist()))
    (dtype('uint8'), [0, 1, 2])
    """
    arr = c.array(volume, "volume")
    frame = c.volume_frame(volume, voxel_size_um, "volume")
    if denoise_sigma_um is not None:
        denoise_sigma_um = c.length("denoise_sigma_um", denoise_sigma_um, zero_ok=True)
    if thresholds is None:
        thresholds = phase_thresholds(arr, n_phases)
    thresholds = c.thresholds(thresholds)
    n_classes = len(thresholds) + 1
    if codes is None:
        codes = (0, 2, 1) if n_classes == 3 else tuple(range(n_classes))
    if len(codes) != n_classes:
        raise InputError(f"codes={codes!r}: need {n_classes} codes for {len(thresholds)} thresholds")
    if not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 0 <= k <= 255 for k in codes):
        raise InputError(f"codes={codes!r}: phase codes are stored as uint8; give whole numbers from 0 to 255")
    smooth = c.denoise(arr, frame.voxel_size_um, denoise_sigma_um)
    nan = ~np.isfinite(smooth)
    n_nan = int(nan.sum())
    if n_nan:
        smooth = np.where(nan, -np.inf, smooth)
    cls = np.digitize(smooth, thresholds).astype(np.uint8)
    phases = np.asarray(codes, np.uint8)[cls]
    return c.like(phases, volume, frame, "phases", units="phase code",
                  thresholds=thresholds.tolist(), n_nan=n_nan,
                  description="phase map (" + ", ".join(f"{k}" for k in codes) + " from dark to bright)")


def phase_fractions(
    phases: Any,
    *,
    names: dict[str, int] | None = None,
    region: Any = None,
) -> pd.DataFrame:
    """Voxel count and volume fraction of every phase (exact counts, no thresholds).

    Parameters
    ----------
    phases : array-like or DataArray of int, (z, y, x)
        A phase map (e.g. real labelled electrodes: 0/1/2 or 0/85/170).
    names : dict, optional
        ``{name: code}``; codes not named are reported by value.
    region : boolean array, (z, y, x), optional
        Count only these voxels (e.g. the coating).

    Returns
    -------
    DataFrame
        One row per code present: ``phase``, ``code``, ``voxels``, ``fraction``.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom import segment
    >>> phases = np.zeros((2, 2, 4), np.uint8); phases[..., 1:] = 1
    >>> segment.phase_fractions(phases, names={"pore": 0, "nmc": 1})
      phase  code  voxels  fraction
    0  pore     0       4      0.25
    1   nmc     1      12      0.75
    """
    arr = c.array(phases, "phases")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"phases: expected integer phase codes, got dtype {arr.dtype}; classify grey levels "
                         "first with bz.segment.classify_phases")
    if region is not None:
        region = c.mask(region, "region")
        if region.shape != arr.shape:
            raise InputError(f"region: shape {region.shape} differs from the phase map's {arr.shape}")
        arr = arr[region]
    values = arr.ravel()
    if values.size == 0:
        raise InputError("region: selects no voxels")
    codes, counts = np.unique(values, return_counts=True)
    by_code = {v: k for k, v in (names or {}).items()}
    return pd.DataFrame({
        "phase": [by_code.get(int(k), str(int(k))) for k in codes],
        "code": codes.astype(int),
        "voxels": counts.astype(np.int64),
        "fraction": counts / values.size,
    })


def porosity(phases: Any, pore: int = 0, *, region: Any = None) -> float:
    """Pore fraction: voxels with code ``pore`` over all voxels (of ``region``), exactly.

    Parameters
    ----------
    phases : array-like or DataArray of int, (z, y, x)
        A phase map.
    pore : int
        The pores' code (0 in :data:`PHASE_CODES`).
    region : bool array, (z, y, x), optional
        Count only these voxels.

    Returns
    -------
    float
        Fraction in [0, 1]; 0 when the code is absent.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom import segment
    >>> phases = np.ones((2, 2, 4), np.uint8); phases[..., 0] = 0
    >>> segment.porosity(phases)
    0.25
    >>> region = np.zeros(phases.shape, bool); region[..., :2] = True
    >>> segment.porosity(phases, region=region)
    0.5
    """
    table = phase_fractions(phases, region=region)
    row = table[table["code"] == pore]
    return float(row["fraction"].iloc[0]) if len(row) else 0.0


def depth_profile(
    phases: Any,
    *,
    axis: str | int = "x",
    names: dict[str, int] | None = None,
    voxel_size_um: Any = None,
) -> pd.DataFrame:
    """Phase fractions slab by slab along ``axis`` (e.g. porosity vs electrode depth).

    Parameters
    ----------
    phases : array-like or DataArray of int, (z, y, x)
        A phase map.
    axis : {"z", "y", "x"} or int
        The depth axis.
    names : dict, optional
        ``{name: code}``; codes not named are reported by value.
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the DataArray's; an unknown size raises.

    Returns
    -------
    DataFrame
        One row per slab: ``position_um`` (slab centre, the volume's coordinates;
        ``position_px``, the slab index, with ``voxel_size_um="px"``) and one
        ``<phase>_fraction`` column per code present.
    """
    arr = c.array(phases, "phases")
    frame = c.volume_frame(phases, voxel_size_um, "phases")
    ax = c.axis_index(axis)
    moved = np.moveaxis(arr, ax, -1).reshape(-1, arr.shape[ax])
    codes = np.unique(arr)
    by_code = {v: k for k, v in (names or {}).items()}
    out = {"position_um": c.axis_positions(phases, frame, ax)}
    for k in codes:
        out[f"{by_code.get(int(k), str(int(k)))}_fraction"] = (moved == k).mean(axis=0)
    return c.lengths_named(pd.DataFrame(out), frame)


def find_coating(solid: Any, *, axis: str | int = "x", voxel_size_um: Any = None,
                 min_fraction: float = 0.02) -> tuple[float, float]:
    """Extent of the active coating along ``axis``: where the solid fraction of a slab is
    above ``min_fraction`` of its maximum.

    Parameters
    ----------
    solid : bool array or DataArray, (z, y, x)
        The active-material mask.
    axis : {"z", "y", "x"} or int
        The through-thickness axis.
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the DataArray's; an unknown size raises (``"px"``: voxel indices).
    min_fraction : float
        Fraction of the fullest slab's solid fraction that counts as coating, in (0, 1].

    Returns
    -------
    (low_um, high_um)
        Slab edges (µm, in the volume's coordinates: index × voxel size plus the
        DataArray's first coordinate) of the first and last occupied slabs. A volume cut
        entirely inside the coating returns its own faces.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom import segment
    >>> solid = np.zeros((4, 4, 10), bool); solid[..., 2:8] = True
    >>> segment.find_coating(solid, axis="x", voxel_size_um=0.5)
    (0.75, 3.75)
    """
    arr = c.mask(solid, "solid")
    frame = c.volume_frame(solid, voxel_size_um, "solid")
    if not 0 < min_fraction <= 1:
        raise InputError(f"min_fraction={min_fraction!r}: give a fraction of the fullest slab in (0, 1], e.g. 0.02")
    ax = c.axis_index(axis)
    other = tuple(i for i in range(3) if i != ax)
    profile = arr.mean(axis=other)
    if profile.max() == 0:
        raise InputError("solid: no solid voxels; cannot locate the coating")
    occupied = np.nonzero(profile >= min_fraction * profile.max())[0]
    v = frame.voxel_size_um[ax]
    o = frame.origin_um[ax]
    return float(o + occupied[0] * v - v / 2), float(o + occupied[-1] * v + v / 2)
