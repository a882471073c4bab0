"""Cracks of electrode particles: crack fraction and surface density per particle, damage
classes, damage against depth, and the grey level from each particle's surface to its core.

Damage classes (:data:`DAMAGE_THRESHOLDS`): a particle whose crack fraction (crack and
internal void volume over the volume of the hole-filled, closed particle) is below 2 % is
*least* damaged, 2–10 % *mild*, 10 % and above *severe*. The twin draws its classes in
ranges that sit inside these (0–1.2 %, 3.5–7.5 %, 13–22 %).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from .._progress import progress
from ..errors import InputError
from . import _common as c

__all__ = ["DAMAGE_CLASSES", "DAMAGE_THRESHOLDS", "damage_class", "crack_analysis", "damage_depth_profile",
           "radial_grey_profile"]

DAMAGE_CLASSES = ("least", "mild", "severe")
DAMAGE_THRESHOLDS = (0.02, 0.10)


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


def _closed_particle(lab: np.ndarray, sol: np.ndarray, l: int, crop: tuple, pad: np.ndarray,
                     ball: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(solid, closed)`` of particle ``l`` in ``crop``: its solid voxels, and its label
    joined with its solid closed by ``ball`` and hole-filled, never into a neighbour."""
    own = lab[crop] == l
    s = sol[crop] & own
    closed = ndimage.binary_fill_holes(ndimage.binary_closing(np.pad(s, pad[:, None]), structure=ball))
    closed = closed[tuple(slice(p, -p) for p in pad)] | own
    # the closing may reach into a touching neighbour: never count it
    closed &= ~((sol[crop] | (lab[crop] > 0)) & ~own)
    return s, closed


def _interface_area(solid: np.ndarray, void: np.ndarray, voxel: tuple) -> float:
    """Area (µm²) of the voxel faces between ``solid`` and ``void``."""
    face_area = [voxel[1] * voxel[2], voxel[0] * voxel[2], voxel[0] * voxel[1]]
    area = 0.0
    for axis in range(3):
        a = np.moveaxis(solid, axis, 0)
        b = np.moveaxis(void, axis, 0)
        area += face_area[axis] * (np.count_nonzero(a[:-1] & b[1:]) + np.count_nonzero(b[:-1] & a[1:]))
    return area


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
        Particle labels, 0 = background.
    solid : bool array or DataArray, same shape
        The active-material mask (e.g. :attr:`ParticleSegmentation.solid`).
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the labels' DataArray; an unknown size raises (``"px"``: ``close_um`` in
        voxels, lengths named ``*_px``).
    close_um : float
        Radius of the closing that seals cracks open to the particle surface.
    thresholds : (float, float)
        Damage-class boundaries (:func:`damage_class`).
    progress_bar : bool, optional
        Show progress of the per-particle loop.

    Returns
    -------
    DataFrame
        ``label``, ``crack_fraction``, ``crack_volume_um3``, ``crack_surface_density_per_um``,
        ``damage_class``.

    Examples
    --------
    A 6-voxel cube split by a one-voxel crack that stops short of its faces:

    >>> import numpy as np
    >>> from batteryzoom import segment
    >>> labels = np.zeros((8, 8, 8), np.int32); labels[1:7, 1:7, 1:7] = 1
    >>> solid = labels > 0; solid[2:6, 2:6, 4] = False
    >>> table = segment.crack_analysis(labels, solid, voxel_size_um=0.5, close_um=0.5)
    >>> table[["label", "crack_fraction", "crack_volume_um3", "damage_class"]].round(3)
       label  crack_fraction  crack_volume_um3 damage_class
    0      1           0.074               2.0         mild
    """
    lab = c.array(labels, "labels")
    sol = c.mask(solid, "solid")
    if sol.shape != lab.shape:
        raise InputError(f"solid: shape {sol.shape} differs from labels' {lab.shape}")
    frame = c.volume_frame(labels, voxel_size_um, "labels")
    voxel = frame.voxel_size_um
    c.integer_labels(lab)
    close_um = c.length("close_um", close_um, zero_ok=True)
    c.check_voxels("close_um", close_um, voxel)
    ball = c.ellipsoid(close_um, voxel)
    pad = np.asarray(ball.shape) // 2 + 1
    vvox = float(np.prod(voxel))
    rows = []
    for l, sl in progress(list(enumerate(ndimage.find_objects(lab), start=1)), "cracks", enabled=progress_bar,
                          unit="particle"):
        if sl is None:
            continue
        lo = [max(0, s.start - p) for s, p in zip(sl, pad)]
        hi = [min(n, s.stop + p) for s, n, p in zip(sl, lab.shape, pad)]
        s, closed = _closed_particle(lab, sol, l, tuple(slice(a, b) for a, b in zip(lo, hi)), pad, ball)
        void = closed & ~s
        n_closed = int(closed.sum())
        area = _interface_area(s, void, voxel)
        rows.append((l, void.sum() / max(n_closed, 1), void.sum() * vvox, (2 / 3) * area / max(n_closed * vvox, 1e-12)))
    table = pd.DataFrame(rows, columns=["label", "crack_fraction", "crack_volume_um3", "crack_surface_density_per_um"])
    table["label"] = table["label"].astype(np.int32)
    table["damage_class"] = damage_class(table["crack_fraction"], thresholds)
    return c.lengths_named(table, frame)


def damage_depth_profile(
    table: pd.DataFrame,
    *,
    depth_column: str | None = None,
    n_bins: int = 4,
    exclude_border: bool = True,
) -> pd.DataFrame:
    """Damage against electrode depth: particles binned by depth.

    Parameters
    ----------
    table : DataFrame
        A particle table with depths and cracks (``segment_particles(...).table``).
    depth_column : str, optional
        The depth column; default ``"depth_from_collector_um"`` (``..._px`` for a table
        measured in voxels).
    n_bins : int
        Number of equal-width depth bins between the shallowest and deepest particle.
    exclude_border : bool
        Leave out the particles cut by the volume's faces.

    Returns
    -------
    DataFrame
        One row per depth bin: ``depth_um`` (bin centre; ``depth_px`` for a depth column
        in voxels), ``n_particles``, ``mean_crack_fraction``, ``median_crack_fraction``,
        and ``fraction_<class>`` for each damage class.

    Examples
    --------
    >>> import pandas as pd
    >>> from batteryzoom import segment
    >>> table = pd.DataFrame({"depth_from_collector_um": [1.0, 2.0, 9.0, 10.0],
    ...                       "crack_fraction": [0.0, 0.01, 0.05, 0.2]})
    >>> table["damage_class"] = segment.damage_class(table["crack_fraction"])
    >>> segment.damage_depth_profile(table, n_bins=2)[["depth_um", "n_particles", "fraction_least"]]
       depth_um  n_particles  fraction_least
    0      3.25            2             1.0
    1      7.75            2             0.0
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"table: expected a DataFrame (segment_particles(...).table), got {type(table).__name__}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise InputError(f"n_bins={n_bins!r}: give a whole number of depth bins ≥ 1, e.g. 4")
    if depth_column is None:
        px = "depth_from_collector_px" in table.columns and "depth_from_collector_um" not in table.columns
        depth_column = "depth_from_collector_px" if px else "depth_from_collector_um"
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
    depth_name = "depth_px" if depth_column.endswith("_px") else "depth_um"
    rows = []
    for b in range(n_bins):
        part = data[idx == b]
        row = {depth_name: (edges[b] + edges[b + 1]) / 2, "n_particles": len(part),
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

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Grey levels.
    labels : integer array or DataArray, same shape
        Particle labels (e.g. :attr:`ParticleSegmentation.labels`).
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the volume's; an unknown size raises (``"px"``: distances in voxels,
        columns ``distance_*_px``).
    shell_width_um, max_distance_um : float, optional
        Shell thickness (default the largest voxel size) and the depth beyond which voxels
        join the last shell (default no limit).

    Returns
    -------
    DataFrame
        Index ``(label, shell)``; columns ``distance_min_um``, ``distance_max_um``,
        ``distance_um``, ``count`` and the grey statistics ``grey_mean``, ``grey_std``,
        ``grey_p25``, ``grey_median``, ``grey_p75``, ... (see ``bz.regions.region_stats``).
    """
    from .. import regions

    arr = c.array(volume, "volume")
    lab = c.array(labels, "labels")
    if lab.shape != arr.shape:
        raise InputError(f"labels: shape {lab.shape} differs from the volume's {arr.shape}")
    frame = c.volume_frame(volume, voxel_size_um, "volume")
    table = regions.radial_profile(arr, None, frame.voxel_size_um, labels=lab, shell_width_um=shell_width_um,
                                   max_distance_um=max_distance_um, name="grey")
    return c.lengths_named(table, frame)
