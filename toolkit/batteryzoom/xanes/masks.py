"""Which voxels to trust: edge-jump threshold, edge jump over noise, failed spectra."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _kernels
from .._blocks import map_ranges
from ..errors import InputError
from .stack import spatial_frame, split_input

__all__ = ["masks", "edge_jump_map", "particle_mask", "otsu_threshold"]

# Ni K-edge: frames below NI_EDGE_EV - 5 eV are pre-edge, above + 10 eV post-edge.
NI_EDGE_EV = 8340.0


def otsu_threshold(values: Any) -> float:
    """Otsu's threshold of the finite values (scikit-image)."""
    v = np.asarray(values, np.float64)
    if _kernels.enabled():  # the same bins and threshold in compiled passes, no copy
        v = np.ascontiguousarray(v).reshape(-1)
        return _otsu_compiled(v, np.ones(v.size, np.uint8))
    v = v[np.isfinite(v)]
    if v.size < 2 or v.min() == v.max():
        return float("inf")
    from skimage.filters import threshold_otsu

    return float(threshold_otsu(v))


def _otsu_compiled(values: np.ndarray, keep: np.ndarray) -> float:
    """:func:`otsu_threshold` of the finite ``values`` where ``keep`` (1-D, contiguous;
    ``keep`` uint8, e.g. a bool array's ``view(np.uint8)``).

    scikit-image bins the values with ``numpy.histogram(v, 256)`` over (min, max); the
    compiled passes (min/max, then the histogram, blocks on every core) give the same
    counts, and Otsu runs on them.
    """
    from .._kernels.xanes import finite_min_max, histogram_edges, kept_histogram

    n = values.size
    parts = map_ranges(n, BLOCK, lambda v0, v1: finite_min_max(values, keep, v0, v1))
    lo = min((p[0] for p in parts), default=np.inf)
    hi = max((p[1] for p in parts), default=-np.inf)
    if sum(p[2] for p in parts) < 2 or lo == hi:
        return float("inf")
    counts = sum(map_ranges(
        n, BLOCK, lambda v0, v1: kept_histogram(values, keep, v0, v1, lo, hi, 256)))
    edges = histogram_edges(lo, hi, 256)
    return _otsu_on_bins(counts, edges)


def _otsu_on_bins(counts: np.ndarray, edges: np.ndarray) -> float:
    """scikit-image's Otsu threshold on a histogram given by its counts and bin edges."""
    from skimage.filters import threshold_otsu

    return float(threshold_otsu(hist=(counts, (edges[:-1] + edges[1:]) / 2.0)))


def masks(maps: Any, *, min_edge_step: float | str = "otsu", min_snr: float = 5.0,
          method: str = "half_step") -> Any:
    """Boolean masks from :func:`~batteryzoom.xanes.edge_maps` output.

    Parameters
    ----------
    maps : xarray.Dataset or dict
        Needs ``edge_step``, ``pre_edge_noise``, ``valid`` and
        ``edge_energy_<method>_ev``.
    min_edge_step : float or "otsu"
        Edge-jump threshold (absorbance units); ``"otsu"`` picks it from the histogram of
        the edge steps (particle vs background).
    min_snr : float
        Minimum edge step / pre-edge noise.
    method : str
        Whose edge energy must be finite for a voxel to count as fitted.

    Returns
    -------
    same kind as ``maps``
        ``edge_jump``, ``snr``, ``failed`` (NaN/inf or constant spectrum, or no edge
        found) and ``mask`` = edge_jump & snr & ~failed, each bool over space.

    Examples
    --------
    A 20 x 20 map whose first five rows hold no edge (background):

    >>> import numpy as np, batteryzoom as bz
    >>> energy = np.arange(8200.0, 8601.0, 2.0)
    >>> rng = np.random.default_rng(0)
    >>> stack = 0.6 + np.arctan((energy[:, None, None] - 8342.0) / 1.5) / np.pi + rng.normal(0, 0.01, (energy.size, 20, 20))
    >>> stack[:, :5] = 0.4 + rng.normal(0, 0.01, (energy.size, 5, 20))
    >>> mask = bz.xanes.masks(bz.xanes.edge_maps(stack, energy))["mask"]
    >>> int(mask.sum()), bool(mask[:5].any())
    (300, False)
    """
    step = np.asarray(maps["edge_step"])
    noise = np.asarray(maps["pre_edge_noise"])
    valid = np.asarray(maps["valid"], bool)
    key = f"edge_energy_{method}_ev"
    if key not in maps:
        raise InputError(f"maps has no {key!r}; compute it with edge_maps(..., methods=({method!r},))")
    energy = np.asarray(maps[key])
    if _kernels.enabled() and step.shape == noise.shape == valid.shape == energy.shape:
        threshold, out = _masks_compiled(step, noise, valid, energy, min_edge_step, float(min_snr))
    else:
        # comparisons in float64, as the kernels make them (a float32 map compared with a
        # Python float would compare in float32)
        step, noise = np.asarray(step, np.float64), np.asarray(noise, np.float64)
        threshold = otsu_threshold(step[valid]) if min_edge_step == "otsu" else float(min_edge_step)
        with np.errstate(invalid="ignore", divide="ignore"):
            edge_jump = valid & (step > threshold)
            snr = valid & (step > min_snr * noise)
        failed = ~valid | ~np.isfinite(energy)
        out = {"edge_jump": edge_jump, "snr": snr, "failed": failed, "mask": edge_jump & snr & ~failed}
    if hasattr(maps, "data_vars"):
        import xarray as xr

        dims = maps["edge_step"].dims
        ds = xr.Dataset({k: (dims, v) for k, v in out.items()}, coords=maps["edge_step"].coords)
        ds.attrs.update(min_edge_step=threshold, min_snr=min_snr)
        return ds
    out["min_edge_step"] = threshold
    return out


BLOCK = 1 << 20  # voxels per range of the compiled mask passes


def _masks_compiled(step, noise, valid, energy, min_edge_step, min_snr):
    """:func:`masks` without temporaries: Otsu's histogram and the four masks in compiled
    passes over the maps (the same comparisons and counts as the numpy path)."""
    from .._kernels.xanes import mask_fields

    shape = step.shape
    # float32 maps (those of a float32 stack) are read as they are: the kernels compare
    # and bin in float64, as after a conversion, without a converted copy
    step, noise, energy = (
        np.ascontiguousarray(a, None if a.dtype in (np.float32, np.float64) else np.float64).reshape(-1)
        for a in (step, noise, energy)
    )
    valid = np.ascontiguousarray(valid, bool).reshape(-1)
    n = step.size
    valid8 = valid.view(np.uint8)  # 0/1 bytes: the kernels compute with them branch-free
    threshold = _otsu_compiled(step, valid8) if min_edge_step == "otsu" else float(min_edge_step)
    out = {k: np.empty(n, bool) for k in ("edge_jump", "snr", "failed", "mask")}
    o8 = {k: v.view(np.uint8) for k, v in out.items()}
    map_ranges(n, BLOCK, lambda v0, v1: mask_fields(
        step, noise, valid8, energy, threshold, min_snr, v0, v1, o8["edge_jump"], o8["snr"], o8["failed"], o8["mask"]))
    return threshold, {k: v.reshape(shape) for k, v in out.items()}


def edge_jump_map(stack: Any, energy: Any = None, *, edge_ev: float = NI_EDGE_EV,
                  below_ev: float = 5.0, above_ev: float = 10.0) -> Any:
    """Edge jump per pixel: mean post-edge minus mean pre-edge absorbance.

    Works with as few as two energies (one below, one above the edge), as in quick
    two-energy TXM maps.

    Parameters
    ----------
    stack : array-like or xarray.DataArray
        ``(E, ...)`` optical density, energy first.
    energy : array-like, optional
        ``(E,)`` eV.
    edge_ev : float
        Nominal edge energy; frames below ``edge_ev - below_ev`` are pre-edge, above
        ``edge_ev + above_ev`` post-edge.

    Returns
    -------
    array or xarray.DataArray
        float32 over space (absorbance units); NaN where a frame is NaN.
    """
    array, energy, template = split_input(stack, energy)
    pre = energy < edge_ev - below_ev
    post = energy > edge_ev + above_ev
    if not pre.any() or not post.any():
        raise InputError(
            f"edge_jump_map needs frames below {edge_ev - below_ev:.1f} eV and above {edge_ev + above_ev:.1f} eV; "
            f"the energies are {np.round(energy, 1).tolist()[:12]}... Set edge_ev for another edge."
        )
    jump = array[post].mean(axis=0) - array[pre].mean(axis=0)
    jump = jump.astype(np.float32)
    if template is None:
        return jump
    import xarray as xr

    dims, coords = spatial_frame(template)
    return xr.DataArray(jump, dims=dims, coords=coords, name="edge_jump",
                        attrs={**{k: v for k, v in template.attrs.items() if k == "voxel_size_um"},
                               "units": "optical density", "pre_edge_ev": energy[pre].tolist(),
                               "post_edge_ev": energy[post].tolist()})


def particle_mask(edge_jump: Any, *, threshold: float | str = "otsu", smooth_px: float = 2.0,
                  min_size_px: int = 200) -> Any:
    """Where the material is: threshold a (smoothed) edge-jump map, drop specks, fill holes.

    Parameters
    ----------
    edge_jump : array-like or xarray.DataArray
        2D or 3D edge-jump map (absorbance units).
    threshold : float or "otsu"
    smooth_px : float
        Gaussian smoothing (pixels) before thresholding: a single-pixel edge jump is noisy.
    min_size_px : int
        Connected regions smaller than this are dropped.

    Returns
    -------
    numpy.ndarray or xarray.DataArray
        bool, same shape.
    """
    from scipy import ndimage
    from skimage.morphology import remove_small_objects

    values = np.asarray(edge_jump, np.float64)
    finite = np.isfinite(values)
    filled = np.where(finite, values, np.nanmedian(values) if finite.any() else 0.0)
    smooth = ndimage.gaussian_filter(filled, smooth_px) if smooth_px > 0 else filled
    t = otsu_threshold(smooth) if threshold == "otsu" else float(threshold)
    mask = (smooth > t) & finite
    mask = remove_small_objects(mask, max_size=min_size_px) if min_size_px > 0 else mask
    mask = ndimage.binary_fill_holes(mask)
    if hasattr(edge_jump, "dims"):
        import xarray as xr

        return xr.DataArray(mask, dims=edge_jump.dims, coords=edge_jump.coords, name="particle_mask",
                            attrs={"threshold": t})
    return mask
