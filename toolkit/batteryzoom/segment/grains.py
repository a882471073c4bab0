"""Primary grains of a particle nano-tomogram: the particle mask, the voids inside it, a
boundary-map watershed, one row per grain, and the adjusted Rand index that scores a
segmentation against the twin's truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from ..errors import InputError
from ..frames import Frame
from . import _common as c

__all__ = ["GrainSegmentation", "particle_mask", "void_mask", "segment_grains", "grain_table",
           "adjusted_rand_index", "SIGMA_UM", "H_UM"]

# segment_grains' scales, in µm, so that the grains found do not depend on the voxel size
# (as one voxel and 0.3 voxel they did: the twin's particle resampled 1.5x finer gave 1,673
# grains instead of 965; now 977), never below one voxel and 0.3 voxel (coarser voxels).
# The values are the former defaults at the nano-CT's 80 nm voxel: unchanged there.
SIGMA_UM = 0.08  # Hessian scale of the boundary map
H_UM = 0.024  # h-maxima depth of the markers' distance transform


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
        The parameters, for the record (``voxel_size_um``: a list in µm, or ``"px"``).
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
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the DataArray's attrs or coordinate spacing; an unknown size raises
        (``"px"``: ``close_um`` in voxels).
    close_um : float
        Radius (µm) of the closing ball; at most 50 voxels.

    Returns
    -------
    DataArray, bool, (z, y, x)
        The particle mask, with the volume's coordinates and ``attrs["voxel_size_um"]``.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> nano = bz.data.load("twin/particle-nanoct")
    >>> mask = bz.segment.particle_mask(nano)
    >>> print(f"{float(mask.mean()):.2f} of the field of view; voxels {mask.attrs['voxel_size_um']} µm")
    0.37 of the field of view; voxels [0.08, 0.08, 0.08] µm
    """
    from skimage.filters import threshold_otsu

    arr = c.array(volume, "volume").astype(np.float32)
    frame = c.volume_frame(volume, voxel_size_um, "volume")
    voxel = frame.voxel_size_um
    close_um = c.length("close_um", close_um, zero_ok=True)
    c.check_voxels("close_um", close_um, voxel)
    smooth = c.denoise(arr, voxel, float(np.mean(voxel)))
    finite = np.isfinite(smooth)
    if not finite.any() or np.ptp(smooth[finite]) == 0:
        raise InputError("volume: no finite grey-level variation (all NaN or constant): no particle to find")
    t = threshold_otsu(smooth[finite])
    mask = np.where(finite, smooth, -np.inf) > t
    ball = c.ellipsoid(close_um, voxel)
    pad = max(4, max(ball.shape) // 2 + 1)  # the closing must not meet the padded border
    mask = ndimage.binary_fill_holes(ndimage.binary_closing(np.pad(mask, pad), structure=ball))
    mask = mask[pad:-pad, pad:-pad, pad:-pad]
    lab, n = ndimage.label(mask)
    if n == 0:
        raise InputError("volume: no particle found above the Otsu threshold")
    if n > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        mask = lab == np.argmax(sizes)
    return c.like(mask, volume, frame, "particle", units="mask", description="particle mask")


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
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the volume's; an unknown size raises.

    Returns
    -------
    DataArray, bool, (z, y, x)
        Void voxels inside the particle; ``attrs["threshold"]`` (grey level used) and
        ``attrs["void_fraction"]`` (void voxels over particle voxels).
    """
    from skimage.filters import threshold_otsu

    arr = c.array(volume, "volume").astype(np.float32)
    mask = c.mask(particle, "particle")
    if mask.shape != arr.shape:
        raise InputError(f"particle: shape {mask.shape} differs from the volume's {arr.shape}")
    if not mask.any():
        raise InputError("particle: the mask is empty; there is no particle to find voids in")
    frame = c.volume_frame(volume, voxel_size_um, "volume")
    smooth = c.denoise(arr, frame.voxel_size_um, None)
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
    return c.like(void, volume, frame, "voids", units="mask", description="cracks and pores inside the particle",
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


def _grain_inputs(arr: np.ndarray, frame: Frame, particle: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(grey, particle mask)`` of :func:`segment_grains`: NaN voxels set to the darkest
    grey level and left out of the mask (the particle's mask found if not given)."""
    nan = ~np.isfinite(arr)
    if nan.all():
        raise InputError("volume: every voxel is NaN")
    if nan.any():
        arr = np.where(nan, np.nanmin(arr), arr)
    if particle is None:
        mask = particle_mask(arr, voxel_size_um=c.size_arg(frame)).values
    else:
        mask = c.mask(particle, "particle")
        if mask.shape != arr.shape:
            raise InputError(f"particle: shape {mask.shape} differs from the volume's {arr.shape}")
    if not mask.any():
        raise InputError("particle: the mask is empty; no grains to segment")
    return arr, mask & ~nan


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
    2. **Boundary map** (a Hessian valley filter): valley strength at ``sigma_um``
       (default :data:`SIGMA_UM`, 0.08 µm, or one voxel if larger) + ``dark_weight`` ×
       darkness.
    3. **Markers**: grain interiors are the particle voxels whose boundary strength is
       below its ``interior_percentile``-th percentile; their distance transform (µm)
       has one peak per grain; h-maxima with ``h_um`` (default :data:`H_UM`, 0.024 µm,
       or 0.3 voxel if larger) keeps peaks that stand out by at least that much.
    4. **Watershed** of the boundary map from the markers inside the particle.

    The defaults reach an adjusted Rand index ≥ 0.85 on the twin's nano-CT (80 nm voxels,
    grains ≈ 0.3–1.2 µm). Both scales are lengths, so the grains found do not depend on the
    voxel size at the nano-CT's voxel and finer (the same particle resampled 1.5× finer:
    977 grains against 965); with an unknown voxel size (``voxel_size_um="px"``) they
    default to 1 and 0.3 voxel.

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Grey levels (bright solid, dark boundaries and cracks).
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the DataArray's; an unknown size raises (``"px"``: µm parameters in
        voxels, the table's lengths named ``*_px``).
    particle : bool array, (z, y, x), optional
        The particle mask.
    sigma_um, dark_weight, interior_percentile, h_um
        See the steps.

    Returns
    -------
    GrainSegmentation

    Examples
    --------
    A corner of the twin's nano-CT (80 nm voxels, grains of 0.3–1.2 µm):

    >>> import batteryzoom as bz
    >>> nano = bz.data.load("twin/particle-nanoct")[40:72, 40:72, 40:72]
    >>> res = bz.segment.segment_grains(nano, particle=nano > -1e9)
    >>> len(res.table) > 20, res.params["voxel_size_um"]
    (True, [0.08, 0.08, 0.08])
    """
    from skimage.measure import label as cc_label
    from skimage.segmentation import watershed

    arr = c.array(volume, "volume").astype(np.float32)
    frame = c.volume_frame(volume, voxel_size_um, "volume")
    voxel = frame.voxel_size_um
    arr, mask = _grain_inputs(arr, frame, particle)
    # lengths in µm, but never below what the voxels resolve (1 and 0.3 voxel): a
    # sub-voxel Hessian scale finds no boundary in a one-voxel-sharp one
    mean_voxel = float(np.mean(voxel))
    sigma_um = max(SIGMA_UM if frame.known else 0.0, mean_voxel) if sigma_um is None else \
        c.length("sigma_um", sigma_um)
    h_um = max(H_UM if frame.known else 0.0, 0.3 * mean_voxel) if h_um is None else c.length("h_um", h_um)
    if not (np.isfinite(dark_weight) and dark_weight >= 0):
        raise InputError(f"dark_weight={dark_weight!r}: give a weight ≥ 0 (0 uses the Hessian term alone)")
    if not 0 < interior_percentile < 100:
        raise InputError(f"interior_percentile={interior_percentile}: give a percentile in (0, 100)")
    boundary = _boundary_map(arr, mask, voxel, sigma_um, dark_weight)
    interior = mask & (boundary < np.percentile(boundary[mask], interior_percentile))
    dist = ndimage.distance_transform_edt(interior, sampling=voxel)
    markers = cc_label(c.h_maxima(dist, h_um) & interior)
    labels = c.like(watershed(boundary, markers, mask=mask).astype(np.int32), volume, frame, "grains",
                    units="label", description="segmented grains")
    table = grain_table(labels, mask, voxel_size_um=c.size_arg(frame))
    params = {"sigma_um": sigma_um, "dark_weight": dark_weight, "interior_percentile": interior_percentile,
              "h_um": h_um, "voxel_size_um": list(voxel) if frame.known else "px", "method": "boundary watershed"}
    table.attrs.update(params)
    return GrainSegmentation(
        labels=labels,
        table=table,
        particle=c.like(mask, volume, frame, "particle", units="mask", description="particle mask"),
        boundary=c.like(boundary, volume, frame, "boundary", units="a.u.", description="grain-boundary map"),
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
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the labels' DataArray; an unknown size raises (``"px"``: columns ``*_px``).

    Returns
    -------
    DataFrame
        One row per grain, columns as above (µm, µm³; ``label`` int32).

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom import segment
    >>> labels = np.zeros((6, 6, 10), np.int32); labels[1:5, 1:5, 1:5] = 1; labels[1:5, 1:5, 5:9] = 2
    >>> segment.grain_table(labels, voxel_size_um=0.1)[["label", "volume_um3", "distance_from_surface_um"]].round(3)
       label  volume_um3  distance_from_surface_um
    0      1       0.064                       0.2
    1      2       0.064                       0.2
    """
    lab = c.array(labels, "labels")
    c.integer_labels(lab, hint="; pass e.g. labels.astype(np.int32)")
    frame = c.volume_frame(labels, voxel_size_um, "labels")
    voxel = frame.voxel_size_um
    if lab.min() < 0:
        raise InputError(f"labels: negative label values (min {int(lab.min())}); labels are 0 (background) "
                         "and positive ids")
    if lab.max() <= 0:
        raise InputError("labels: no labelled grain (all voxels are 0)")
    mask = lab > 0 if particle is None else c.mask(particle, "particle")
    if mask.shape != lab.shape:
        raise InputError(f"particle: shape {mask.shape} differs from the labels' {lab.shape}")
    props = c.region_props(lab, voxel)
    depth = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=voxel)[1:-1, 1:-1, 1:-1]
    idx = np.round(props[["centroid_z_um", "centroid_y_um", "centroid_x_um"]].to_numpy() / np.asarray(voxel))
    for d, o in zip(c.AXES, frame.origin_um):
        props[f"centroid_{d}_um"] += o
    idx = np.clip(idx.astype(int), 0, np.asarray(lab.shape) - 1)
    props["distance_from_surface_um"] = depth[tuple(idx.T)]
    props["label"] = props["label"].astype(np.int32)
    table = props[["label", "volume_um3", "equivalent_diameter_um", "centroid_z_um", "centroid_y_um",
                   "centroid_x_um", "distance_from_surface_um"]].reset_index(drop=True)
    return c.lengths_named(table, frame)


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

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom import segment
    >>> truth = np.repeat([1, 2, 3], 4).reshape(1, 3, 4)
    >>> segment.adjusted_rand_index(truth, 10 * truth)  # the same partition, renamed
    1.0
    """
    from scipy.sparse import coo_matrix

    a = c.array(truth, "truth") if np.ndim(truth) == 3 else np.asarray(truth)
    b = c.array(labels, "labels") if np.ndim(labels) == 3 else np.asarray(labels)
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
