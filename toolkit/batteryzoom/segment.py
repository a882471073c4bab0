"""Segmentation: phases, particles, cracks and pores, primary grains.

Compute functions in the design's sense: they take volumes (``xarray.DataArray`` with dims
``(z, y, x)`` and attrs ``voxel_size_um``, or numpy arrays plus ``voxel_size_um``) and return
label volumes and tables (one row per object, units in column names). Voxel sizes may
differ per axis: every distance (distance transforms, structuring elements, marching
cubes, region properties) is computed in µm with the real spacing.

Electrode scale
    :func:`phase_thresholds`, :func:`classify_phases`, :func:`phase_fractions`,
    :func:`porosity`, :func:`depth_profile`, :func:`find_coating`,
    :func:`segment_particles` (thresholds → crack filling → distance transform → h-maxima
    markers → watershed, border flags, per-particle table), :func:`crack_analysis`
    (crack fraction, crack surface density, damage class), :func:`damage_depth_profile`,
    :func:`radial_grey_profile` (grey level from each particle's surface to its core).

Particle scale
    :func:`particle_mask`, :func:`void_mask` (cracks and pores inside the particle),
    :func:`segment_grains` (boundary map from a Hessian ridge filter and darkness →
    markers → watershed) and :func:`segment_grains_chemical` (supervoxels on an
    edge-energy map merged by similarity), :func:`grain_table`,
    :func:`adjusted_rand_index` (to score a segmentation against the twin's truth).

Damage classes (:data:`DAMAGE_THRESHOLDS`): a particle whose crack fraction (crack and
internal void volume over the volume of the hole-filled, closed particle) is below 2 % is
*least* damaged, 2–10 % *mild*, 10 % and above *severe*. The twin draws its classes in
ranges that sit inside these (0–1.2 %, 3.5–7.5 %, 13–22 %).

Whole-volume operations (watershed, distance transforms) need the volume in memory: a
dask-backed input is computed first (the electrode and particle volumes of the study are
tens of millions of voxels at most).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from ._progress import progress
from .errors import InputError

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
]

# Codes of classify_phases for three phases, in the order of the real labelled electrodes
# (NREL: 0 pore / 1 NMC / 2 carbon-binder; taufactor: 0 / 85 / 170 in the same order).
PHASE_CODES = {"pore": 0, "nmc": 1, "carbon_binder": 2}
DAMAGE_CLASSES = ("least", "mild", "severe")
DAMAGE_THRESHOLDS = (0.02, 0.10)
_AXES = ("z", "y", "x")


# Structuring elements and iteration counts larger than this many voxels (radius) are
# refused: they come from a voxel size in the wrong unit (mm or nm given as µm), and a
# ball that large takes hours or all the memory (1e-4 µm voxels: a 58 TiB ball).
_MAX_RADIUS_VOXELS = 50
_MAX_STEPS_VOXELS = 500
# multi-Otsu is combinatorial in the number of classes: 3.3 s at 5, 92 s at 6 (96k voxels)
_MAX_OTSU_PHASES = 5
_PIXEL_UNITS = ("pixel", "pixels", "px", "voxel", "voxels")


class VoxelSizeWarning(UserWarning):
    """The voxel size is unknown, so one voxel is taken as 1 µm: lengths passed in µm
    are then in voxels, and results labelled µm are in voxels."""


# --------------------------------------------------------------------------- helpers


def _voxel_size(volume: Any, voxel_size_um: Any, name: str) -> tuple[float, float, float]:
    """The (z, y, x) voxel size in µm: the argument, else the DataArray's
    ``voxel_size_um`` attribute, else the spacing of its (uniform) z/y/x coordinates.

    A DataArray whose voxel size is recorded as unknown (``attrs["voxel_size_um"] is
    None``, as :func:`batteryzoom.io.read_volume` writes it, or coordinates in pixels)
    is measured in voxels, with a :class:`VoxelSizeWarning`.
    """
    given = voxel_size_um
    unknown = False
    if given is None and isinstance(volume, xr.DataArray):
        given = volume.attrs.get("voxel_size_um")
        if given is None and all(d in volume.coords and volume.sizes[d] > 1 for d in _AXES):
            # the design's coordinates are µm: a uniform spacing is the voxel size
            steps = [np.diff(np.asarray(volume[d].values, float)) for d in _AXES]
            if all(np.allclose(st, st[0], rtol=1e-6) and st[0] > 0 for st in steps):
                given = [float(st[0]) for st in steps]
                unknown = "voxel_size_um" in volume.attrs or any(
                    str(volume[d].attrs.get("units", "")).lower() in _PIXEL_UNITS for d in _AXES)
    if given is None:
        raise InputError(
            f"{name}: the voxel size is unknown. Pass voxel_size_um=(dz, dy, dx) in µm "
            "(or one number for cubic voxels); pass 1.0 to work in voxel units."
        )
    try:
        size = np.broadcast_to(np.asarray(given, float), (3,))
    except (TypeError, ValueError) as exc:
        raise InputError(f"voxel_size_um={given!r}: give one number or three (dz, dy, dx) in µm, "
                         "e.g. 0.5 or (1.0, 0.5, 0.5)") from exc
    if not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise InputError(f"voxel_size_um={given!r}: give positive sizes in µm, e.g. (0.5, 0.5, 0.5)")
    if unknown:
        warnings.warn(
            f"{name}: the voxel size is unknown (no voxel_size_um; the coordinates are pixel indices), "
            "so one voxel is taken as 1 µm: the µm parameters are applied in voxels and the µm results "
            "are in voxels. Pass voxel_size_um=(dz, dy, dx) in µm, or read the volume with "
            "bz.io.read_volume(path, voxel_size_um=...).",
            VoxelSizeWarning, stacklevel=3)
    return tuple(float(s) for s in size)


def _length(name: str, value: Any, *, zero_ok: bool = False) -> float:
    """A finite length (µm) argument, positive (or ≥ 0 when ``zero_ok``)."""
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={value!r}: give a length in µm (a number)") from exc
    if not np.isfinite(x) or x < 0 or (x == 0 and not zero_ok):
        need = "zero or positive" if zero_ok else "positive"
        raise InputError(f"{name}={value!r}: must be a {need} length in µm")
    return x


def _check_voxels(name: str, value_um: float, voxel: tuple, limit: int = _MAX_RADIUS_VOXELS) -> None:
    """Refuse a length that spans more than ``limit`` voxels (a unit slip, before allocating)."""
    n = value_um / min(voxel)
    if n <= limit:
        return
    hint = (" The voxel size looks like it is in mm (or another unit), not µm."
            if min(voxel) < 5e-3 else "")
    raise InputError(
        f"{name}={value_um:g} µm spans {n:.3g} voxels at voxel_size_um={list(voxel)} µm (at most {limit} "
        f"are supported: a larger structuring element takes hours or all the memory).{hint} Give "
        f"voxel_size_um in µm (e.g. 0.5 for 500 nm voxels) or a smaller {name}."
    )


def _mask(obj: Any, name: str) -> np.ndarray:
    """A boolean mask argument (bool, or numbers that are all 0 or 1); grey levels are refused."""
    arr = _array(obj, name)
    if arr.dtype == bool:
        return arr
    if np.isin(arr, (0, 1)).all():
        return arr.astype(bool)
    raise InputError(f"{name}: expected a boolean mask, got dtype {arr.dtype} with values other than 0 and 1; "
                     f"threshold it first (e.g. {name} > t) or pass a mask from bz.segment")


def _array(volume: Any, name: str) -> np.ndarray:
    """The values of a 3D volume as numpy (a dask-backed volume is computed)."""
    data = volume.data if isinstance(volume, xr.DataArray) else volume
    if hasattr(data, "compute") and not isinstance(data, np.ndarray):
        data = data.compute()
    try:
        arr = np.asarray(data)
    except Exception as exc:  # noqa: BLE001 - the message names the argument
        raise InputError(f"{name}: cannot be read as an array ({exc})") from exc
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{name}: dtype {arr.dtype} is not a real number type; pass a float or integer volume")
    if arr.ndim != 3:
        raise InputError(f"{name}: expected a 3D volume (z, y, x), got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name}: the volume is empty (shape {arr.shape})")
    return arr


def _origin(obj: Any) -> np.ndarray:
    """Coordinate (µm) of voxel (0, 0, 0): the DataArray's first z/y/x coordinates, else 0."""
    if isinstance(obj, xr.DataArray) and all(d in obj.coords and obj.sizes.get(d, 0) > 0 for d in _AXES):
        return np.array([float(obj[d].values[0]) for d in _AXES])
    return np.zeros(3)


def _like(values: np.ndarray, template: Any, voxel: tuple, name: str, **attrs) -> xr.DataArray:
    """A DataArray with the template's coords (or µm coords from the voxel size)."""
    if isinstance(template, xr.DataArray) and template.dims == _AXES:
        coords = {d: template[d].values for d in _AXES if d in template.coords}
        base = {k: v for k, v in template.attrs.items() if k not in ("units", "description")}
    else:
        coords = {}
        base = {}
    for d, n, v in zip(_AXES, values.shape, voxel):
        coords.setdefault(d, np.arange(n) * v)
    return xr.DataArray(values, dims=_AXES, coords=coords, name=name,
                        attrs={**base, "voxel_size_um": list(voxel), **attrs})


def _ellipsoid(radius_um: float, voxel: tuple) -> np.ndarray:
    """A ball of ``radius_um`` on an anisotropic grid (ellipsoid in voxel units)."""
    r = [max(0, int(np.floor(radius_um / v))) for v in voxel]
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in r)]
    dist2 = sum((g * v) ** 2 for g, v in zip(grids, voxel))
    return dist2 <= radius_um**2 + 1e-9


def _axis_index(axis: str | int) -> int:
    if isinstance(axis, str):
        if axis not in _AXES:
            raise InputError(f"axis={axis!r}: choose one of {_AXES}")
        return _AXES.index(axis)
    if axis not in (0, 1, 2):
        raise InputError(f"axis={axis!r}: give 0, 1, 2 or 'z', 'y', 'x'")
    return int(axis)


def _h_maxima(image: np.ndarray, h: float) -> np.ndarray:
    """Regional maxima of dynamic ≥ h (the h-maxima transform), as a boolean mask.

    Grey reconstruction by dilation of ``image - h`` under ``image`` (iterated 3×3×3
    maximum filter, capped by the image, until stable); the maxima are where the residue
    ``image - reconstruction`` reaches ``h``. Same result as
    ``skimage.morphology.h_maxima`` (full connectivity), about twice as fast on distance
    maps because the separable maximum filter replaces the global sort.
    """
    img = np.asarray(image, np.float32)
    h = np.float32(h)
    rec = img - h
    while True:
        prev = rec
        for _ in range(4):
            rec = np.minimum(ndimage.maximum_filter(rec, size=3), img)
        if np.array_equal(rec, prev):
            break
    return (img - rec) >= h * np.float32(1 - 1e-6)


# --------------------------------------------------------------------------- phases


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
        Number of phases (≥ 2).
    max_samples : int
        Voxels used at most.

    Returns
    -------
    numpy.ndarray
        ``n_phases - 1`` increasing thresholds (grey-level units).
    """
    from skimage.filters import threshold_multiotsu

    n_phases = _n_phases(n_phases)
    if isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer)) or max_samples < 1:
        raise InputError(f"max_samples={max_samples!r}: give a positive whole number of voxels (default 2000000)")
    arr = _array(volume, "volume")
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


def _thresholds(thresholds: Any, name: str = "thresholds") -> np.ndarray:
    """Grey-level thresholds: finite, strictly increasing, at least one."""
    try:
        t = np.asarray(thresholds, float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={thresholds!r}: give increasing grey-level numbers") from exc
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise InputError(f"{name}={thresholds!r}: give one or more finite grey levels")
    if np.any(np.diff(t) <= 0):
        raise InputError(f"{name}={thresholds!r}: the thresholds must increase (dark to bright); "
                         f"pass them sorted, e.g. {sorted(t.tolist())}")
    return t


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
    thresholds : sequence of float, optional
        Increasing grey-level thresholds; default :func:`phase_thresholds`.
    n_phases : int
        Used when ``thresholds`` is None.
    voxel_size_um : float or (dz, dy, dx), optional
        Default: the DataArray's attrs.
    denoise_sigma_um : float, optional
        Gaussian pre-smoothing (µm); default half a voxel. 0 disables it.
    codes : tuple of int, optional
        Code of each grey class from darkest to brightest. Default for three phases
        ``(0, 2, 1)``: pore (darkest) 0, carbon-binder 2, NMC (brightest) 1, the
        convention of :data:`PHASE_CODES`; otherwise ``0, 1, 2, ...``.

    Returns
    -------
    DataArray, uint8
        Phase codes; NaN voxels get the darkest class's code. ``attrs["thresholds"]``,
        ``attrs["n_nan"]``.
    """
    arr = _array(volume, "volume")
    voxel = _voxel_size(volume, voxel_size_um, "volume")
    if denoise_sigma_um is not None:
        denoise_sigma_um = _length("denoise_sigma_um", denoise_sigma_um, zero_ok=True)
    if thresholds is None:
        thresholds = phase_thresholds(arr, n_phases)
    thresholds = _thresholds(thresholds)
    n_classes = len(thresholds) + 1
    if codes is None:
        codes = (0, 2, 1) if n_classes == 3 else tuple(range(n_classes))
    if len(codes) != n_classes:
        raise InputError(f"codes={codes!r}: need {n_classes} codes for {len(thresholds)} thresholds")
    if not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c <= 255 for c in codes):
        raise InputError(f"codes={codes!r}: phase codes are stored as uint8; give whole numbers from 0 to 255")
    smooth = _denoise(arr, voxel, denoise_sigma_um)
    nan = ~np.isfinite(smooth)
    n_nan = int(nan.sum())
    if n_nan:
        smooth = np.where(nan, -np.inf, smooth)
    cls = np.digitize(smooth, thresholds).astype(np.uint8)
    phases = np.asarray(codes, np.uint8)[cls]
    return _like(phases, volume, voxel, "phases", units="phase code",
                 thresholds=thresholds.tolist(), n_nan=n_nan,
                 description="phase map (" + ", ".join(f"{c}" for c in codes) + " from dark to bright)")


def _denoise(arr: np.ndarray, voxel: tuple, sigma_um: float | None) -> np.ndarray:
    out = arr.astype(np.float32, copy=False)
    sigma = [0.5] * 3 if sigma_um is None else [sigma_um / v for v in voxel]
    if max(sigma) <= 0:
        return out
    nan = ~np.isfinite(out)
    if not nan.any():
        return ndimage.gaussian_filter(out, sigma)
    # normalized convolution: NaNs neither spread nor pull their neighbours down
    weight = ndimage.gaussian_filter((~nan).astype(np.float32), sigma)
    smooth = ndimage.gaussian_filter(np.where(nan, 0, out), sigma)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = smooth / weight
    res[nan] = np.nan
    return res


def phase_fractions(
    phases: Any,
    *,
    names: dict[str, int] | None = None,
    region: Any = None,
) -> pd.DataFrame:
    """Voxel count and volume fraction of every phase (exact counts, no thresholds).

    Parameters
    ----------
    phases : array-like or DataArray of int
        A phase map (e.g. real labelled electrodes: 0/1/2 or 0/85/170).
    names : dict, optional
        ``{name: code}``; codes not named are reported by value.
    region : boolean array, optional
        Count only these voxels (e.g. the coating).

    Returns
    -------
    DataFrame
        One row per code present: ``phase``, ``code``, ``voxels``, ``fraction``.
    """
    arr = _array(phases, "phases")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"phases: expected integer phase codes, got dtype {arr.dtype}; classify grey levels "
                         "first with bz.segment.classify_phases")
    if region is not None:
        region = _mask(region, "region")
        if region.shape != arr.shape:
            raise InputError(f"region: shape {region.shape} differs from the phase map's {arr.shape}")
        arr = arr[region]
    values = arr.ravel()
    if values.size == 0:
        raise InputError("region: selects no voxels")
    codes, counts = np.unique(values, return_counts=True)
    by_code = {v: k for k, v in (names or {}).items()}
    return pd.DataFrame({
        "phase": [by_code.get(int(c), str(int(c))) for c in codes],
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

    Returns
    -------
    DataFrame
        One row per slab: ``position_um`` (slab centre, local frame) and one
        ``<phase>_fraction`` column per code present.
    """
    arr = _array(phases, "phases")
    voxel = _voxel_size(phases, voxel_size_um, "phases")
    ax = _axis_index(axis)
    moved = np.moveaxis(arr, ax, -1).reshape(-1, arr.shape[ax])
    codes = np.unique(arr)
    by_code = {v: k for k, v in (names or {}).items()}
    if isinstance(phases, xr.DataArray) and _AXES[ax] in phases.coords:
        position = np.asarray(phases[_AXES[ax]].values, float)
    else:
        position = np.arange(arr.shape[ax]) * voxel[ax]
    out = {"position_um": position}
    for c in codes:
        out[f"{by_code.get(int(c), str(int(c)))}_fraction"] = (moved == c).mean(axis=0)
    return pd.DataFrame(out)


def find_coating(solid: Any, *, axis: str | int = "x", voxel_size_um: Any = None,
                 min_fraction: float = 0.02) -> tuple[float, float]:
    """Extent of the active coating along ``axis``: where the solid fraction of a slab is
    above ``min_fraction`` of its maximum.

    Returns
    -------
    (low_um, high_um)
        Slab edges (µm, in the volume's coordinates: index × voxel size plus the
        DataArray's first coordinate) of the first and last occupied slabs. A volume cut
        entirely inside the coating returns its own faces.
    """
    arr = _mask(solid, "solid")
    voxel = _voxel_size(solid, voxel_size_um, "solid")
    if not 0 < min_fraction <= 1:
        raise InputError(f"min_fraction={min_fraction!r}: give a fraction of the fullest slab in (0, 1], e.g. 0.02")
    ax = _axis_index(axis)
    other = tuple(i for i in range(3) if i != ax)
    profile = arr.mean(axis=other)
    if profile.max() == 0:
        raise InputError("solid: no solid voxels; cannot locate the coating")
    occupied = np.nonzero(profile >= min_fraction * profile.max())[0]
    v = voxel[ax]
    o = _origin(solid)[ax]
    return float(o + occupied[0] * v - v / 2), float(o + occupied[-1] * v + v / 2)


# --------------------------------------------------------------------------- particles


@dataclass
class ParticleSegmentation:
    """Result of :func:`segment_particles`.

    Attributes
    ----------
    labels : DataArray, int32 (z, y, x)
        Particle labels 1..n (the closed particle: its cracks and internal voids included),
        0 elsewhere.
    table : DataFrame
        One row per particle (see :func:`particle_table`), plus the crack columns of
        :func:`crack_analysis`.
    solid : DataArray, bool
        The NMC (active material) mask the particles were built from.
    filled : DataArray, bool
        ``solid`` with cracks and internal voids filled (the watershed's mask).
    thresholds : list of float or None
        Grey-level thresholds used (None for a phase-labelled input).
    n_nan : int
        NaN voxels in the input (treated as not solid).
    params : dict
        The parameters, for the record.
    """

    labels: xr.DataArray
    table: pd.DataFrame
    solid: xr.DataArray
    filled: xr.DataArray
    thresholds: list[float] | None
    n_nan: int
    params: dict = field(default_factory=dict)


def _fill_cracks(solid: np.ndarray, voxel: tuple, opening_radius_um: float, depth_um: float) -> np.ndarray:
    """Fill cracks and internal voids of particles, not the pores between particles.

    Open pore space is the pore that a ball of ``opening_radius_um`` fits into (a
    morphological opening of the pore space), grown back along the pore space by
    ``depth_um`` (geodesic dilation). Pore voxels it does not reach are narrow and deep
    inside the solid — cracks and voids — and become solid; enclosed holes are filled too.
    The pore throats between neighbouring particles open onto wide pores within a short
    distance, so they stay pores and touching particles stay separable.
    """
    pore = ~solid
    ball = _ellipsoid(opening_radius_um, voxel)
    open_pore = ndimage.binary_opening(pore, structure=ball)
    steps = max(1, int(round(depth_um / float(np.mean(voxel)))))
    reached = ndimage.binary_dilation(open_pore, iterations=steps, mask=pore)
    return ndimage.binary_fill_holes(solid | (pore & ~reached))


def segment_particles(
    volume: Any,
    *,
    voxel_size_um: Any = None,
    solid_code: int | None = None,
    thresholds: Any = None,
    h_um: float = 0.5,
    opening_radius_um: float = 1.0,
    crack_depth_um: float = 2.5,
    min_volume_um3: float = 8.0,
    thickness_axis: str | int = "x",
    collector_um: float | None = None,
    separator_um: float | None = None,
    collector_side: str = "low",
    cracks: bool = True,
    progress_bar: bool | None = None,
) -> ParticleSegmentation:
    """Segment the active-material particles of an electrode volume.

    Steps (parameters in µm, so anisotropic voxels are honoured):

    1. **Solid**: a phase-labelled input (integer dtype) gives ``volume == solid_code``;
       a grey-level input is denoised (Gaussian, half a voxel) and thresholded above the
       brightest :func:`phase_thresholds` threshold (three phases: pore, carbon-binder,
       NMC), or above ``thresholds[-1]`` when given.
    2. **Crack filling** (:func:`_fill_cracks`): pore voxels farther than
       ``crack_depth_um`` along the pore space from pore regions wide enough to hold a ball
       of ``opening_radius_um`` are cracks or voids and are filled, as are enclosed holes.
    3. **Distance transform** (Euclidean, µm) of the filled solid.
    4. **Markers**: h-maxima of the distance map with ``h_um``: a particle needs a centre
       at least ``h_um`` deeper than the neck joining it to a neighbour.
    5. **Watershed** of the negated distance from the markers inside the filled solid;
       objects under ``min_volume_um3`` are dropped.
    6. **Table** (:func:`particle_table`) and, if ``cracks``, :func:`crack_analysis`.

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Grey levels (float) or phase codes (integer).
    voxel_size_um : float or (dz, dy, dx), optional
        Default: ``volume.attrs["voxel_size_um"]``.
    solid_code : int, optional
        For phase-labelled input: the active material's code. Default: the most common
        non-zero code.
    thresholds : sequence of float, optional
        Grey-level thresholds (the last one separates the active material).
    h_um, opening_radius_um, crack_depth_um, min_volume_um3 : float
        See the steps above.
    thickness_axis : {"z", "y", "x"}
        Through-thickness axis of the electrode.
    collector_um, separator_um : float, optional
        Positions (local frame, µm) of the current collector and separator faces of the
        coating along ``thickness_axis``. Default: :func:`find_coating` on the solid (a
        volume cut inside the coating gives its own faces).
    collector_side : {"low", "high"}
        Whether the collector is at the low or the high end of ``thickness_axis``.
    cracks : bool
        Add the :func:`crack_analysis` columns to the table.
    progress_bar : bool, optional
        Show progress of the per-particle measurements.

    Returns
    -------
    ParticleSegmentation
    """
    from skimage.measure import label as cc_label
    from skimage.segmentation import watershed

    arr = _array(volume, "volume")
    voxel = _voxel_size(volume, voxel_size_um, "volume")
    if collector_side not in ("low", "high"):
        raise InputError(f"collector_side={collector_side!r}: choose 'low' or 'high'")
    h_um = _length("h_um", h_um)
    opening_radius_um = _length("opening_radius_um", opening_radius_um)
    crack_depth_um = _length("crack_depth_um", crack_depth_um)
    min_volume_um3 = _length("min_volume_um3", min_volume_um3, zero_ok=True)
    # before any work: a voxel size in the wrong unit makes these huge
    _check_voxels("opening_radius_um", opening_radius_um, voxel)
    _check_voxels("crack_depth_um", crack_depth_um, voxel, _MAX_STEPS_VOXELS)
    for name, value in (("collector_um", collector_um), ("separator_um", separator_um)):
        if value is not None and not np.isfinite(value):
            raise InputError(f"{name}={value!r}: give a finite position in µm, or None to find the coating")
    n_nan = 0
    used_thresholds = None
    grey = None
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        if solid_code is None:
            codes, counts = np.unique(arr[arr != 0], return_counts=True)
            if codes.size == 0:
                raise InputError("volume: all voxels are 0 (background); there is no solid phase to segment")
            solid_code = int(codes[np.argmax(counts)])
        solid = arr == solid_code
    else:
        grey = arr.astype(np.float32, copy=False)
        nan = ~np.isfinite(grey)
        n_nan = int(nan.sum())
        if n_nan == grey.size:
            raise InputError("volume: every voxel is NaN")
        if thresholds is None:
            used_thresholds = phase_thresholds(grey, 3)
        else:
            used_thresholds = _thresholds(thresholds)
        smooth = _denoise(grey, voxel, None)
        with np.errstate(invalid="ignore"):
            solid = smooth > used_thresholds[-1]
        solid &= ~nan
    if not solid.any():
        raise InputError("volume: no voxel is classed as solid (active material); check thresholds/solid_code")
    filled = _fill_cracks(solid, voxel, opening_radius_um, crack_depth_um)
    dist = ndimage.distance_transform_edt(filled, sampling=voxel)
    markers = cc_label(_h_maxima(dist, h_um) & filled)
    labels = watershed(-dist, markers, mask=filled).astype(np.int32)
    min_voxels = min_volume_um3 / float(np.prod(voxel))
    counts = np.bincount(labels.ravel())
    small = counts < min_voxels
    small[0] = False
    if small.any():
        labels[small[labels]] = 0
    # relabel 1..n in order of first appearance (deterministic)
    present = np.unique(labels)
    present = present[present > 0]
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[present] = np.arange(1, present.size + 1, dtype=np.int32)
    labels = lut[labels]
    if present.size == 0:
        raise InputError("volume: no particle larger than min_volume_um3 was found")

    ax = _axis_index(thickness_axis)
    labels_da = _like(labels, volume, voxel, "particles", units="label", description="segmented particles")
    solid_da = _like(solid, volume, voxel, "solid", units="mask", description="active-material mask")
    if collector_um is None or separator_um is None:
        low, high = find_coating(solid_da, axis=ax)
        if collector_side == "high":
            low, high = high, low
        collector_um = low if collector_um is None else collector_um
        separator_um = high if separator_um is None else separator_um
    table = particle_table(labels_da, thickness_axis=ax, collector_um=collector_um,
                           separator_um=separator_um, progress_bar=progress_bar)
    if cracks:
        crack_cols = crack_analysis(labels, solid, voxel_size_um=voxel, progress_bar=progress_bar)
        table = table.merge(crack_cols, on="label", how="left")
    params = {
        "h_um": h_um, "opening_radius_um": opening_radius_um, "crack_depth_um": crack_depth_um,
        "min_volume_um3": min_volume_um3, "thickness_axis": _AXES[ax], "collector_um": collector_um,
        "separator_um": separator_um, "voxel_size_um": list(voxel),
    }
    table.attrs.update(params)
    return ParticleSegmentation(
        labels=labels_da,
        table=table,
        solid=solid_da,
        filled=_like(filled, volume, voxel, "filled", units="mask", description="solid with cracks filled"),
        thresholds=None if used_thresholds is None else [float(t) for t in used_thresholds],
        n_nan=n_nan,
        params=params,
    )


def _sphericity(mask: np.ndarray, voxel: tuple) -> float:
    """Wadell sphericity π^(1/3) (6V)^(2/3) / A of one object.

    The surface is the 0.5 level (marching cubes, real spacing) of the mask smoothed by a
    Gaussian of one voxel, which removes the voxel staircase; V is the volume enclosed by
    that same surface (divergence theorem), so the smoothing's slight shrinkage cancels.
    A voxelized sphere of radius 2.5–15 voxels scores 0.975–0.997.
    """
    from skimage.measure import marching_cubes, mesh_surface_area

    padded = ndimage.gaussian_filter(np.pad(mask.astype(np.float32), 3), 1.0)
    if padded.max() <= 0.5:
        return float("nan")
    verts, faces, _, _ = marching_cubes(padded, 0.5, spacing=voxel)
    area = mesh_surface_area(verts, faces)
    v0, v1, v2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    volume = abs(float(np.einsum("ij,ij->i", v0, np.cross(v1, v2)).sum())) / 6
    if area <= 0 or volume <= 0:
        return float("nan")
    return float(np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / area)


def _compact_labels(lab: np.ndarray, name: str = "labels") -> tuple[np.ndarray, np.ndarray | None]:
    """Labels renumbered 1..n when they are sparse (ids far above the object count), with
    ``ids[k]`` the original id of new label k (None when left as they are)."""
    if lab.min() < 0:
        raise InputError(f"{name}: negative label values (min {int(lab.min())}); labels are 0 (background) "
                         "and positive ids")
    top = int(lab.max())
    if top <= 0:
        raise InputError(f"{name}: no labelled object (all voxels are 0)")
    if top <= max(2 * lab.size, 1 << 16):
        return lab, None
    ids, inverse = np.unique(lab, return_inverse=True)
    if ids[0] != 0:
        ids = np.concatenate([[0], ids])
        inverse = inverse + 1
    return inverse.reshape(lab.shape).astype(np.int64), ids


def particle_table(
    labels: Any,
    *,
    voxel_size_um: Any = None,
    thickness_axis: str | int = "x",
    collector_um: float | None = None,
    separator_um: float | None = None,
    sphericity: bool = True,
    progress_bar: bool | None = None,
) -> pd.DataFrame:
    """One row per labelled particle.

    Parameters
    ----------
    labels : integer array or DataArray, (z, y, x)
        Particle labels, 0 = background. Ids may be sparse or huge (renumbered
        internally; the table keeps the original ids).
    voxel_size_um : float or (dz, dy, dx), optional
        Default: the DataArray's ``voxel_size_um`` attribute or coordinate spacing.
    thickness_axis : {"z", "y", "x"} or int
        Axis along which the depths are measured.
    collector_um, separator_um : float, optional
        Positions (µm, the volume's coordinates) of the collector and separator faces.
    sphericity : bool
        Compute the Wadell sphericity (marching cubes per particle; the slow part).
    progress_bar : bool, optional
        Show progress of the sphericity loop.

    Returns
    -------
    DataFrame
        Columns ``label`` (int32, int64 for ids beyond int32), ``volume_um3``,
        ``equivalent_diameter_um``, ``sphericity``, ``centroid_{z,y,x}_um`` (the volume's
        coordinates: index × voxel size, plus the DataArray's first coordinate),
        ``depth_from_collector_um`` and ``depth_from_separator_um`` (along
        ``thickness_axis``, when the positions are given), ``border`` (bool: touches a
        face of the volume).

    Raises
    ------
    InputError
        Non-integer or negative labels, no labelled voxel, unknown voxel size.
    """
    from skimage.measure import regionprops_table

    lab = _array(labels, "labels")
    if not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"labels: expected an integer label image, got dtype {lab.dtype}")
    voxel = _voxel_size(labels, voxel_size_um, "labels")
    lab, ids = _compact_labels(lab)
    props = pd.DataFrame(regionprops_table(lab, properties=("label", "area", "centroid"), spacing=voxel))
    props = props.rename(columns={"area": "volume_um3", "centroid-0": "centroid_z_um",
                                  "centroid-1": "centroid_y_um", "centroid-2": "centroid_x_um"})
    for d, o in zip(_AXES, _origin(labels)):
        props[f"centroid_{d}_um"] += o
    props["equivalent_diameter_um"] = (6 * props["volume_um3"] / np.pi) ** (1 / 3)
    if sphericity:
        slices = ndimage.find_objects(lab)
        values = []
        for row in progress(props.itertuples(), "sphericity", total=len(props), enabled=progress_bar,
                            unit="particle"):
            sl = slices[row.label - 1]
            values.append(_sphericity(lab[sl] == row.label, voxel))
        props["sphericity"] = values
    ax = _axis_index(thickness_axis)
    pos = props[f"centroid_{_AXES[ax]}_um"]
    if collector_um is not None:
        props["depth_from_collector_um"] = (pos - collector_um).abs()
    if separator_um is not None:
        props["depth_from_separator_um"] = (separator_um - pos).abs()
    border = np.zeros(int(lab.max()) + 1, bool)
    for axis in range(3):
        for face in (0, -1):
            border[np.unique(np.take(lab, face, axis=axis))] = True
    props["border"] = border[props["label"].to_numpy()]
    props["label"] = props["label"].to_numpy() if ids is None else ids[props["label"].to_numpy()]
    props["label"] = props["label"].astype(np.int32 if props["label"].max() <= np.iinfo(np.int32).max else np.int64)
    return props.reset_index(drop=True)


# --------------------------------------------------------------------------- cracks


def damage_class(crack_fraction: Any, thresholds: tuple[float, float] = DAMAGE_THRESHOLDS) -> pd.Categorical:
    """Damage class of each crack fraction: least (< 2 %), mild (2–10 %), severe (≥ 10 %).

    Parameters
    ----------
    crack_fraction : array-like of float
        Crack fractions in [0, 1] (NaN allowed: no class).
    thresholds : (float, float)
        Class boundaries, ``0 ≤ low < high ≤ 1``.

    Returns
    -------
    pandas.Categorical
        Ordered categories :data:`DAMAGE_CLASSES`, same length as the input.

    Raises
    ------
    InputError
        Values outside [0, 1] (percent instead of a fraction?), non-numbers, bad thresholds.
    """
    try:
        values = np.asarray(crack_fraction, float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"crack_fraction: cannot be read as numbers ({exc}); pass fractions in [0, 1]") from exc
    bad = np.isfinite(values) & ((values < 0) | (values > 1)) | np.isinf(values)
    if bad.any():
        raise InputError(f"crack_fraction: {int(bad.sum())} value(s) outside [0, 1] (e.g. {values[bad].flat[0]:g}); "
                         "a crack fraction is a volume fraction (percent? divide by 100)")
    lo, hi = thresholds
    if not 0 <= lo < hi <= 1:
        raise InputError(f"thresholds={thresholds!r}: need 0 ≤ low < high ≤ 1")
    idx = np.digitize(values, [lo, hi])
    cats = np.asarray(DAMAGE_CLASSES, object)[idx]
    cats = np.where(np.isnan(values), None, cats)
    return pd.Categorical(cats, categories=DAMAGE_CLASSES, ordered=True)


def crack_analysis(
    labels: Any,
    solid: Any,
    *,
    voxel_size_um: Any = None,
    close_um: float = 1.0,
    thresholds: tuple[float, float] = DAMAGE_THRESHOLDS,
    progress_bar: bool | None = None,
) -> pd.DataFrame:
    """Cracks and internal voids of each particle.

    For particle ``l``: its solid voxels ``S = solid & (labels == l)``; its closed particle
    ``C = (labels == l) | fill_holes(closing(S, ball(close_um)))``. The crack fraction is
    ``|C \\ S| / |C|`` (crack and void volume over the closed particle's volume). The crack
    surface density is the solid–crack interface area inside ``C`` over ``|C|`` (µm⁻¹),
    the interface counted as voxel faces times 2/3 (the mean projected area of an
    isotropically oriented surface on the voxel faces).

    Parameters
    ----------
    labels : int array or DataArray, (z, y, x)
    solid : bool array or DataArray, same shape
        The active-material mask (e.g. :attr:`ParticleSegmentation.solid`).
    voxel_size_um : float or (dz, dy, dx), optional
    close_um : float
        Radius of the closing that seals cracks open to the particle surface.
    thresholds : (float, float)
        Damage-class boundaries (:func:`damage_class`).

    Returns
    -------
    DataFrame
        ``label``, ``crack_fraction``, ``crack_volume_um3``, ``crack_surface_density_per_um``,
        ``damage_class``.
    """
    lab = _array(labels, "labels")
    sol = _mask(solid, "solid")
    if sol.shape != lab.shape:
        raise InputError(f"solid: shape {sol.shape} differs from labels' {lab.shape}")
    voxel = _voxel_size(labels, voxel_size_um, "labels")
    if not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"labels: expected an integer label image, got dtype {lab.dtype}")
    close_um = _length("close_um", close_um, zero_ok=True)
    _check_voxels("close_um", close_um, voxel)
    ball = _ellipsoid(close_um, voxel)
    pad = np.asarray(ball.shape) // 2 + 1
    face_area = [voxel[1] * voxel[2], voxel[0] * voxel[2], voxel[0] * voxel[1]]
    vvox = float(np.prod(voxel))
    slices = ndimage.find_objects(lab)
    rows = []
    for l, sl in progress(list(enumerate(slices, start=1)), "cracks", enabled=progress_bar, unit="particle"):
        if sl is None:
            continue
        lo = [max(0, s.start - p) for s, p in zip(sl, pad)]
        hi = [min(n, s.stop + p) for s, n, p in zip(sl, lab.shape, pad)]
        crop = tuple(slice(a, b) for a, b in zip(lo, hi))
        own = lab[crop] == l
        s = sol[crop] & own
        closed = ndimage.binary_fill_holes(ndimage.binary_closing(np.pad(s, pad[:, None]), structure=ball))
        closed = closed[tuple(slice(p, -p) for p in pad)] | own
        # the closing may reach into a touching neighbour: never count it
        closed &= ~((sol[crop] | (lab[crop] > 0)) & ~own)
        void = closed & ~s
        n_closed = int(closed.sum())
        area = 0.0
        for axis in range(3):
            a = np.moveaxis(s, axis, 0)
            b = np.moveaxis(void, axis, 0)
            area += face_area[axis] * (np.count_nonzero(a[:-1] & b[1:]) + np.count_nonzero(b[:-1] & a[1:]))
        rows.append((l, void.sum() / max(n_closed, 1), void.sum() * vvox, (2 / 3) * area / max(n_closed * vvox, 1e-12)))
    table = pd.DataFrame(rows, columns=["label", "crack_fraction", "crack_volume_um3", "crack_surface_density_per_um"])
    table["label"] = table["label"].astype(np.int32)
    table["damage_class"] = damage_class(table["crack_fraction"], thresholds)
    return table


def damage_depth_profile(
    table: pd.DataFrame,
    *,
    depth_column: str = "depth_from_collector_um",
    n_bins: int = 4,
    exclude_border: bool = True,
) -> pd.DataFrame:
    """Damage against electrode depth: particles binned by depth.

    Returns
    -------
    DataFrame
        One row per depth bin: ``depth_um`` (bin centre), ``n_particles``,
        ``mean_crack_fraction``, ``median_crack_fraction``, and ``fraction_<class>`` for
        each damage class.
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"table: expected a DataFrame (segment_particles(...).table), got {type(table).__name__}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise InputError(f"n_bins={n_bins!r}: give a whole number of depth bins ≥ 1, e.g. 4")
    for col in (depth_column, "crack_fraction", "damage_class"):
        if col not in table.columns:
            raise InputError(f"table: no column {col!r}; use a table from segment_particles or crack_analysis")
    data = table[~table["border"]] if exclude_border and "border" in table.columns else table
    if data.empty:
        raise InputError("table: no particles to profile (all on the border?); pass exclude_border=False")
    if not np.isfinite(data[depth_column].to_numpy(float)).any():
        raise InputError(f"table: column {depth_column!r} has no finite depth; give collector_um/separator_um "
                         "to segment_particles or particle_table")
    data = data[np.isfinite(data[depth_column].to_numpy(float))]
    edges = np.linspace(data[depth_column].min(), data[depth_column].max(), n_bins + 1)
    idx = np.clip(np.digitize(data[depth_column], edges[1:-1]), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        part = data[idx == b]
        row = {"depth_um": (edges[b] + edges[b + 1]) / 2, "n_particles": len(part),
               "mean_crack_fraction": part["crack_fraction"].mean() if len(part) else np.nan,
               "median_crack_fraction": part["crack_fraction"].median() if len(part) else np.nan}
        for cls in DAMAGE_CLASSES:
            row[f"fraction_{cls}"] = (part["damage_class"] == cls).mean() if len(part) else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["depth_column"] = depth_column
    return out


def radial_grey_profile(
    volume: Any,
    labels: Any,
    *,
    voxel_size_um: Any = None,
    shell_width_um: float | None = None,
    max_distance_um: float | None = None,
) -> pd.DataFrame:
    """Grey level of every particle from its surface to its core.

    Cracks open in the core of a damaged particle: its grey level drops toward the centre,
    while an intact particle stays flat. The shells (depth below each particle's own
    surface, ``shell_width_um`` thick, default one voxel) and their statistics come from
    :func:`batteryzoom.regions.radial_profile` (one pass over the voxels).

    Returns
    -------
    DataFrame
        Index ``(label, shell)``; columns ``distance_min_um``, ``distance_max_um``,
        ``distance_um``, ``count`` and the grey statistics ``grey_mean``, ``grey_std``,
        ``grey_p25``, ``grey_median``, ``grey_p75``, ... (see ``bz.regions.region_stats``).
    """
    from . import regions

    arr = _array(volume, "volume")
    lab = _array(labels, "labels")
    if lab.shape != arr.shape:
        raise InputError(f"labels: shape {lab.shape} differs from the volume's {arr.shape}")
    voxel = _voxel_size(volume, voxel_size_um, "volume")
    return regions.radial_profile(arr, None, voxel, labels=lab, shell_width_um=shell_width_um,
                                  max_distance_um=max_distance_um, name="grey")


# --------------------------------------------------------------------------- grains


@dataclass
class GrainSegmentation:
    """Result of :func:`segment_grains` / :func:`segment_grains_chemical`.

    Attributes
    ----------
    labels : DataArray, int32 (z, y, x)
        Grain labels 1..n inside the particle, 0 outside.
    table : DataFrame
        :func:`grain_table` of the labels.
    particle : DataArray, bool
        The particle mask (cracks and pores included).
    boundary : DataArray, float32 or None
        The boundary map the watershed flooded (None for the chemical method).
    params : dict
    """

    labels: xr.DataArray
    table: pd.DataFrame
    particle: xr.DataArray
    boundary: xr.DataArray | None
    params: dict = field(default_factory=dict)


def particle_mask(volume: Any, *, voxel_size_um: Any = None, close_um: float = 0.25) -> xr.DataArray:
    """The mask of the (largest) particle in a nano-CT volume, cracks and pores included.

    Otsu threshold of the volume smoothed by one voxel, closing with a ball of
    ``close_um`` (seals cracks open to the surface), holes filled, largest connected
    component kept.

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Grey levels (bright particle).
    voxel_size_um : float or (dz, dy, dx), optional
        Default: the DataArray's attrs or coordinate spacing.
    close_um : float
        Radius (µm) of the closing ball; at most 50 voxels.

    Returns
    -------
    DataArray, bool, (z, y, x)
        The particle mask, with the volume's coordinates and ``attrs["voxel_size_um"]``.
    """
    from skimage.filters import threshold_otsu

    arr = _array(volume, "volume").astype(np.float32)
    voxel = _voxel_size(volume, voxel_size_um, "volume")
    close_um = _length("close_um", close_um, zero_ok=True)
    _check_voxels("close_um", close_um, voxel)
    smooth = _denoise(arr, voxel, float(np.mean(voxel)))
    finite = np.isfinite(smooth)
    if not finite.any() or np.ptp(smooth[finite]) == 0:
        raise InputError("volume: no finite grey-level variation (all NaN or constant): no particle to find")
    t = threshold_otsu(smooth[finite])
    mask = np.where(finite, smooth, -np.inf) > t
    mask = ndimage.binary_fill_holes(ndimage.binary_closing(np.pad(mask, 4), structure=_ellipsoid(close_um, voxel)))
    mask = mask[4:-4, 4:-4, 4:-4]
    lab, n = ndimage.label(mask)
    if n == 0:
        raise InputError("volume: no particle found above the Otsu threshold")
    if n > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        mask = lab == np.argmax(sizes)
    return _like(mask, volume, voxel, "particle", units="mask", description="particle mask")


def void_mask(volume: Any, particle: Any, *, threshold: float | None = None,
              voxel_size_um: Any = None) -> xr.DataArray:
    """Cracks and pores inside a particle: the particle's voxels darker than ``threshold``.

    The volume is smoothed by half a voxel (single-voxel noise would otherwise speckle the
    solid). Default threshold: half-way between the solid level (median of the particle's
    voxels) and the void level (median of the voxels outside the particle, which hold what
    fills the pores) — the half-maximum criterion, which keeps the volume of voids wider
    than the blur and underestimates voids thinner than it (on the twin's nano-CT: 3.7 %
    measured for 4.7 % true, precision 92 %). Without voxels outside the particle, Otsu's
    threshold on the particle's voxels is used.

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Grey levels.
    particle : bool array or DataArray, (z, y, x)
        The particle mask (e.g. :func:`particle_mask`); 0/1 numbers are accepted, grey
        levels are not.
    threshold : float, optional
        Grey level below which a particle voxel is void (finite).
    voxel_size_um : float or (dz, dy, dx), optional

    Returns
    -------
    DataArray, bool, (z, y, x)
        Void voxels inside the particle; ``attrs["threshold"]`` (grey level used) and
        ``attrs["void_fraction"]`` (void voxels over particle voxels).
    """
    from skimage.filters import threshold_otsu

    arr = _array(volume, "volume").astype(np.float32)
    mask = _mask(particle, "particle")
    if mask.shape != arr.shape:
        raise InputError(f"particle: shape {mask.shape} differs from the volume's {arr.shape}")
    if not mask.any():
        raise InputError("particle: the mask is empty; there is no particle to find voids in")
    voxel = _voxel_size(volume, voxel_size_um, "volume")
    smooth = _denoise(arr, voxel, None)
    finite = np.isfinite(smooth)
    inside = smooth[mask & finite]
    outside = smooth[~mask & finite]
    if threshold is not None:
        try:
            t = float(threshold)
        except (TypeError, ValueError) as exc:
            raise InputError(f"threshold={threshold!r}: give a grey level (a number) or None") from exc
        if not np.isfinite(t):
            raise InputError(f"threshold={threshold!r}: give a finite grey level, or None for the default")
    elif outside.size:
        t = float(np.median(inside) + np.median(outside)) / 2
    else:
        t = float(threshold_otsu(inside))
    with np.errstate(invalid="ignore"):
        void = mask & (smooth < t)
    return _like(void, volume, voxel, "voids", units="mask", description="cracks and pores inside the particle",
                 threshold=t, void_fraction=float(void[mask].mean()))


def _boundary_map(arr: np.ndarray, mask: np.ndarray, voxel: tuple, sigma_um: float, dark_weight: float) -> np.ndarray:
    """Grain-boundary strength: a Hessian valley filter plus local darkness.

    A grain boundary is a thin dark sheet: across it the grey level has a sharp minimum, so
    the largest eigenvalue of the Hessian (Gaussian derivatives at ``sigma_um``, in
    physical units so anisotropic voxels are honoured) is large and positive. The
    darkness term ``max(0, 1 - g / median(g in the particle))`` (``g`` smoothed by
    ``sigma_um``) adds cracks and pores and the boundaries' lower density. Both are
    normalized (ridge by its 90th percentile inside the particle) before being summed.
    """
    from skimage.feature import hessian_matrix_eigvals

    sigma = [sigma_um / v for v in voxel]
    img = arr.astype(np.float32)
    h = []
    for i in range(3):
        for j in range(i, 3):
            order = [0, 0, 0]
            order[i] += 1
            order[j] += 1
            h.append(ndimage.gaussian_filter(img, sigma, order=order) / (voxel[i] * voxel[j]))
    ridge = np.clip(hessian_matrix_eigvals(h)[0], 0, None)
    scale = np.percentile(ridge[mask], 90)
    ridge /= scale if scale > 0 else 1.0
    smooth = ndimage.gaussian_filter(img, sigma)
    ref = np.median(smooth[mask])
    dark = np.clip(1 - smooth / ref, 0, None) if ref > 0 else np.zeros_like(smooth)
    return (ridge + dark_weight * dark).astype(np.float32)


def segment_grains(
    volume: Any,
    *,
    voxel_size_um: Any = None,
    particle: Any = None,
    sigma_um: float | None = None,
    dark_weight: float = 3.0,
    interior_percentile: float = 50.0,
    h_um: float | None = None,
) -> GrainSegmentation:
    """Segment the primary grains of a particle nano-tomogram.

    1. **Particle mask** (:func:`particle_mask`) unless given.
    2. **Boundary map** (:func:`_boundary_map`): Hessian valley strength at ``sigma_um``
       (default one voxel) + ``dark_weight`` × darkness.
    3. **Markers**: grain interiors are the particle voxels whose boundary strength is
       below its ``interior_percentile``-th percentile; their distance transform (µm)
       has one peak per grain; h-maxima with ``h_um`` (default 0.3 of the mean voxel
       size) keeps peaks that stand out by at least that much.
    4. **Watershed** of the boundary map from the markers inside the particle.

    The defaults reach an adjusted Rand index ≥ 0.85 on the twin's nano-CT (80 nm voxels,
    grains ≈ 0.3–1.2 µm); finer voxels allow smaller ``interior_percentile`` and larger
    ``h_um``.

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Grey levels (bright solid, dark boundaries and cracks).
    voxel_size_um : float or (dz, dy, dx), optional
    particle : bool array, optional
        The particle mask.
    sigma_um, dark_weight, interior_percentile, h_um
        See the steps.

    Returns
    -------
    GrainSegmentation
    """
    from skimage.measure import label as cc_label
    from skimage.segmentation import watershed

    arr = _array(volume, "volume").astype(np.float32)
    voxel = _voxel_size(volume, voxel_size_um, "volume")
    nan = ~np.isfinite(arr)
    if nan.all():
        raise InputError("volume: every voxel is NaN")
    if nan.any():
        arr = np.where(nan, np.nanmin(arr), arr)
    if particle is None:
        mask = particle_mask(arr, voxel_size_um=voxel).values
    else:
        mask = _mask(particle, "particle")
        if mask.shape != arr.shape:
            raise InputError(f"particle: shape {mask.shape} differs from the volume's {arr.shape}")
    if not mask.any():
        raise InputError("particle: the mask is empty; no grains to segment")
    mask = mask & ~nan
    sigma_um = float(np.mean(voxel)) if sigma_um is None else _length("sigma_um", sigma_um)
    h_um = 0.3 * float(np.mean(voxel)) if h_um is None else _length("h_um", h_um)
    if not (np.isfinite(dark_weight) and dark_weight >= 0):
        raise InputError(f"dark_weight={dark_weight!r}: give a weight ≥ 0 (0 uses the Hessian term alone)")
    if not 0 < interior_percentile < 100:
        raise InputError(f"interior_percentile={interior_percentile}: give a percentile in (0, 100)")
    boundary = _boundary_map(arr, mask, voxel, sigma_um, dark_weight)
    interior = mask & (boundary < np.percentile(boundary[mask], interior_percentile))
    dist = ndimage.distance_transform_edt(interior, sampling=voxel)
    markers = cc_label(_h_maxima(dist, h_um) & interior)
    labels = _like(watershed(boundary, markers, mask=mask).astype(np.int32), volume, voxel, "grains",
                   units="label", description="segmented grains")
    table = grain_table(labels, mask)
    params = {"sigma_um": sigma_um, "dark_weight": dark_weight, "interior_percentile": interior_percentile,
              "h_um": h_um, "voxel_size_um": list(voxel), "method": "boundary watershed"}
    table.attrs.update(params)
    return GrainSegmentation(
        labels=labels,
        table=table,
        particle=_like(mask, volume, voxel, "particle", units="mask", description="particle mask"),
        boundary=_like(boundary, volume, voxel, "boundary", units="a.u.", description="grain-boundary map"),
        params=params,
    )


def segment_grains_chemical(
    edge_energy_ev: Any,
    particle: Any = None,
    *,
    voxel_size_um: Any = None,
    supervoxel_um: float = 0.6,
    compactness: float = 0.2,
    merge_z: float = 3.0,
    smooth_um: float = 0.0,
) -> GrainSegmentation:
    """Segment grains from a chemical map (e.g. per-voxel Ni K-edge energy).

    Grains differ in oxidation state, so a map of edge energy shows them as patches of
    similar value. 1) optionally, the map is smoothed inside the particle (normalized
    Gaussian convolution, ``smooth_um``; off by default: SLIC averages within supervoxels
    already); 2) SLIC supervoxels (scikit-image,
    on the energy values, with the real spacing) of about ``supervoxel_um`` across;
    3) neighbouring supervoxels are merged hierarchically, most similar first, while their
    mean edge energies are statistically indistinguishable: the difference of the means
    (of the raw values) over its standard error, ``|m_a - m_b| / (σ sqrt(1/n_a + 1/n_b))``,
    is below ``merge_z``; σ is the voxel noise, estimated robustly from differences
    between neighbouring voxels.
    scikit-image's ``merge_hierarchical`` on the region adjacency graph does the merging,
    statistics updated after every merge. A plain threshold on the difference of means
    would chain neighbouring grains of similar chemistry across the whole particle; the
    standard error shrinks as regions grow, so merging stops at real chemical contrasts.

    Parameters
    ----------
    edge_energy_ev : DataArray or array, (z, y, x)
        The chemical map (eV); NaN outside the particle or where no edge was found.
    particle : bool array, optional
        Default: the finite voxels of the map.
    voxel_size_um : float or (dz, dy, dx), optional
    supervoxel_um, compactness, merge_z, smooth_um
        See above. ``compactness`` weighs space against energy (eV per µm of SLIC's
        normalised distance): small values follow the chemistry.

    Returns
    -------
    GrainSegmentation
        ``boundary`` is None; ``params["n_supervoxels"]`` records the SLIC count.

    Notes
    -----
    This finds *chemical domains*: neighbouring grains whose edge energies agree within the
    noise become one domain. On the twin's XANES truth map (0.16 µm voxels, grains ≈ 4
    voxels across, grain means spread by ~0.5 eV) the domains match the crystallographic
    grains with an adjusted Rand index of only ≈ 0.33; where grains differ clearly (≥ 0.5 eV
    between neighbours, several voxels across) it recovers them (ARI > 0.9, see the
    tests). Use :func:`segment_grains` on a nano-tomogram for the grains themselves.
    """
    from skimage.graph import RAG, merge_hierarchical
    from skimage.segmentation import slic

    energy = _array(edge_energy_ev, "edge_energy_ev").astype(np.float64)
    voxel = _voxel_size(edge_energy_ev, voxel_size_um, "edge_energy_ev")
    supervoxel_um = _length("supervoxel_um", supervoxel_um)
    smooth_um = _length("smooth_um", smooth_um, zero_ok=True)
    if not (np.isfinite(compactness) and compactness > 0):
        raise InputError(f"compactness={compactness!r}: give a positive weight (eV per µm), e.g. 0.2")
    if not (np.isfinite(merge_z) and merge_z >= 0):
        raise InputError(f"merge_z={merge_z!r}: give a z-score ≥ 0 (0 merges nothing), e.g. 3")
    finite = np.isfinite(energy)
    if particle is None:
        mask = finite
    else:
        mask = _mask(particle, "particle")
        if mask.shape != energy.shape:
            raise InputError(f"particle: shape {mask.shape} differs from the map's {energy.shape}")
        mask = mask & finite
    if not mask.any():
        raise InputError("edge_energy_ev: no finite value inside the particle; nothing to segment")
    filled = np.where(mask, energy, 0.0)
    if smooth_um > 0:
        sigma = [smooth_um / v for v in voxel]
        weight = ndimage.gaussian_filter(mask.astype(np.float64), sigma)
        with np.errstate(invalid="ignore", divide="ignore"):
            smooth = np.where(mask, ndimage.gaussian_filter(filled, sigma) / weight, 0.0)
    else:
        smooth = filled
    n_segments = max(1, int(mask.sum() * np.prod(voxel) / supervoxel_um**3))
    with warnings.catch_warnings():
        # SLIC's internal per-segment means divide by zero for centres that lost their voxels
        warnings.filterwarnings("ignore", "invalid value encountered in divide", RuntimeWarning)
        sv = slic(smooth, n_segments=n_segments, compactness=compactness, spacing=voxel, mask=mask,
                  channel_axis=None, start_label=1, enforce_connectivity=True).astype(np.int64)
    n = int(sv.max()) + 1
    # region statistics from the raw (unsmoothed) values: independent noise, honest errors
    raw = np.where(mask, energy, 0.0).ravel()
    total = np.bincount(sv.ravel(), weights=raw, minlength=n)
    count = np.bincount(sv.ravel(), minlength=n).astype(float)
    # the voxel noise, from differences between neighbouring voxels of the particle (robust:
    # median absolute difference / 0.6745 / sqrt 2); grain boundaries barely move a median
    diffs = []
    for axis in range(3):
        e = np.moveaxis(np.where(mask, energy, np.nan), axis, 0)
        d = (e[1:] - e[:-1]).ravel()
        diffs.append(d[np.isfinite(d)])
    d = np.concatenate(diffs)
    sigma_ev = float(np.median(np.abs(d)) / 0.6745 / np.sqrt(2)) if d.size else 0.0

    def z_score(a: dict, b: dict) -> float:
        se = sigma_ev * np.sqrt(1 / a["count"] + 1 / b["count"])
        return abs(a["mean"] - b["mean"]) / se if se > 0 else np.inf

    rag = RAG()
    for l in range(1, n):
        if count[l] > 0:
            rag.add_node(l, labels=[l], total=total[l], count=count[l], mean=total[l] / count[l])
    for axis in range(3):
        a = np.moveaxis(sv, axis, 0)
        lo, hi = a[:-1].ravel(), a[1:].ravel()
        keep = (lo != hi) & (lo > 0) & (hi > 0)
        pairs = np.unique(np.column_stack([np.minimum(lo[keep], hi[keep]), np.maximum(lo[keep], hi[keep])]), axis=0)
        for u, v in pairs:
            rag.add_edge(int(u), int(v), weight=z_score(rag.nodes[u], rag.nodes[v]))

    def weight_func(graph, src, dst, nbr):
        return {"weight": z_score(graph.nodes[dst], graph.nodes[nbr])}

    def merge_func(graph, src, dst):
        node, other = graph.nodes[dst], graph.nodes[src]
        for key in ("total", "count"):
            node[key] += other[key]
        node["mean"] = node["total"] / node["count"]

    merged = merge_hierarchical(sv, rag, thresh=merge_z, rag_copy=False, in_place_merge=True,
                                merge_func=merge_func, weight_func=weight_func)
    merged = np.where(mask, merged + 1, 0)
    # relabel 1..n
    _, inverse = np.unique(merged, return_inverse=True)
    labels = inverse.reshape(merged.shape).astype(np.int32)
    if not (merged == 0).any():  # 0 (outside) sorts first when present
        labels += 1
    labels = _like(labels, edge_energy_ev, voxel, "grains", units="label",
                   description="grains segmented from the chemical map")
    table = grain_table(labels, mask)
    params = {"supervoxel_um": supervoxel_um, "compactness": compactness, "merge_z": merge_z,
              "n_supervoxels": int((count[1:] > 0).sum()), "noise_sigma_ev": sigma_ev, "voxel_size_um": list(voxel),
              "method": "SLIC supervoxels merged by edge-energy similarity"}
    table.attrs.update(params)
    return GrainSegmentation(
        labels=labels,
        table=table,
        particle=_like(mask, edge_energy_ev, voxel, "particle", units="mask", description="particle mask"),
        boundary=None,
        params=params,
    )


def grain_table(labels: Any, particle: Any = None, *, voxel_size_um: Any = None) -> pd.DataFrame:
    """One row per grain: ``label``, ``volume_um3``, ``equivalent_diameter_um``,
    ``centroid_{z,y,x}_um`` (the volume's coordinates), ``distance_from_surface_um`` (depth of the
    centroid below the particle surface; 0 when the centroid falls outside the particle).

    Parameters
    ----------
    labels : integer array or DataArray, (z, y, x)
        Grain labels, 0 outside.
    particle : bool array, (z, y, x), optional
        The particle mask the depths are measured in; default ``labels > 0``.
    voxel_size_um : float or (dz, dy, dx), optional

    Returns
    -------
    DataFrame
        One row per grain, columns as above (µm, µm³; ``label`` int32).
    """
    from skimage.measure import regionprops_table

    lab = _array(labels, "labels")
    if not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"labels: expected an integer label image, got dtype {lab.dtype}; "
                         "pass e.g. labels.astype(np.int32)")
    voxel = _voxel_size(labels, voxel_size_um, "labels")
    if lab.min() < 0:
        raise InputError(f"labels: negative label values (min {int(lab.min())}); labels are 0 (background) "
                         "and positive ids")
    if lab.max() <= 0:
        raise InputError("labels: no labelled grain (all voxels are 0)")
    mask = lab > 0 if particle is None else _mask(particle, "particle")
    if mask.shape != lab.shape:
        raise InputError(f"particle: shape {mask.shape} differs from the labels' {lab.shape}")
    props = pd.DataFrame(regionprops_table(lab, properties=("label", "area", "centroid"), spacing=voxel))
    props = props.rename(columns={"area": "volume_um3", "centroid-0": "centroid_z_um",
                                  "centroid-1": "centroid_y_um", "centroid-2": "centroid_x_um"})
    props["equivalent_diameter_um"] = (6 * props["volume_um3"] / np.pi) ** (1 / 3)
    depth = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=voxel)[1:-1, 1:-1, 1:-1]
    idx = np.round(props[["centroid_z_um", "centroid_y_um", "centroid_x_um"]].to_numpy() / np.asarray(voxel))
    for d, o in zip(_AXES, _origin(labels)):
        props[f"centroid_{d}_um"] += o
    idx = np.clip(idx.astype(int), 0, np.asarray(lab.shape) - 1)
    props["distance_from_surface_um"] = depth[tuple(idx.T)]
    props["label"] = props["label"].astype(np.int32)
    return props[["label", "volume_um3", "equivalent_diameter_um", "centroid_z_um", "centroid_y_um",
                  "centroid_x_um", "distance_from_surface_um"]].reset_index(drop=True)


def adjusted_rand_index(truth: Any, labels: Any, mask: Any = None) -> float:
    """Adjusted Rand index between two label images (Hubert & Arabie 1985).

    1 for identical partitions (up to renaming), ~0 for chance agreement. Computed from
    the contingency table (sparse), over ``mask`` voxels when given (e.g. the truth's
    solid voxels), else over all voxels.

    Parameters
    ----------
    truth, labels : integer array-like, same shape
        The two label images (any ids; 0 is a label like the others).
    mask : bool array, same shape, optional
        Voxels to compare.

    Returns
    -------
    float
        The adjusted Rand index (1 = identical partitions).
    """
    from scipy.sparse import coo_matrix

    a = _array(truth, "truth") if np.ndim(truth) == 3 else np.asarray(truth)
    b = _array(labels, "labels") if np.ndim(labels) == 3 else np.asarray(labels)
    if a.shape != b.shape:
        raise InputError(f"labels: shape {b.shape} differs from truth's {a.shape}")
    if mask is not None:
        m = np.asarray(mask.values if isinstance(mask, xr.DataArray) else mask, bool)
        if m.shape != a.shape:
            raise InputError(f"mask: shape {m.shape} differs from truth's {a.shape}")
        a, b = a[m], b[m]
    a, b = a.ravel(), b.ravel()
    if a.size < 2:
        raise InputError("mask: fewer than two voxels to compare")
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = coo_matrix((np.ones(a.size), (ai, bi))).tocsr()
    table.sum_duplicates()

    def pairs(x):
        x = np.asarray(x, float)
        return float((x * (x - 1) / 2).sum())

    index = pairs(table.data)
    row = pairs(np.asarray(table.sum(axis=1)).ravel())
    col = pairs(np.asarray(table.sum(axis=0)).ravel())
    total = a.size * (a.size - 1) / 2
    expected = row * col / total
    top = (row + col) / 2
    if top == expected:
        return 1.0
    return float((index - expected) / (top - expected))
