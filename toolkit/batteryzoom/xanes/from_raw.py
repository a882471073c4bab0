"""3D XANES from a raw multi-energy tomography: projections to per-grain chemistry in one call.

:func:`xanes_from_raw` runs what a transmission X-ray microscope's 3D XANES needs, on an
acquisition Dataset ``(energy, angle, row, col)`` (:mod:`batteryzoom.io.acquisition`):

1. **reconstruction**, energy by energy, streamed by :func:`batteryzoom.tomo.reconstruct`
   (flat/dark correction, zingers, stripes, the rotation centre found per energy, jitter
   estimated and corrected against re-projections, FBP; to a zarr store with ``out=``);
2. **magnification across energies**: a TXM's zone-plate focal length grows with the
   energy, so the pixel size at the sample changes across the scan (~5 % over 400 eV).
   The law ``s = p(E) / p(E_ref) = (E / E_ref)**k`` (``k = 1``: pixel size proportional
   to E) is fitted where the scale is born, in the projections
   (:func:`acquisition_moments`): each projection's central second moments (about its own
   centroid, so neither the jitter nor the axis enters; windowed to the particle, columns
   and projections offset by the open beam around it, so stripes do not enter), averaged
   over angles, scale as ``1/s²``. Two things limit them. The flats: each energy's few
   flats are one noise pattern shared by all its projections (on the twin 1.5·10⁻⁴ of
   scatter per energy), so the flats are smoothed across energies (a straight line in
   energy per pixel, after each energy's level: the open beam's pattern must change
   slowly with energy). The chemistry: the attenuation's weighting across the particle
   changes with energy (a radial trend of the edge energy moves the moments by 5·10⁻³
   near the edge, 5·10⁻⁴ in the EXAFS and 10⁻⁴ in the pre-edge's tail: a fit of the
   energies "away from the edge" still lands ``k`` 0.005 off), but it changes the
   particle's *shape* too, which a pure scale does not: the fit
   (:func:`fit_moment_magnification`) regresses ``ln m2`` on ``ln E`` and the row and
   column kurtoses (scale-free) over all energies, with an intercept (the reference's own
   error). On the twin that leaves 0.4·10⁻⁴ of scatter per energy and ``k`` within 10⁻⁴
   (:func:`gyration_scales`, the radii of gyration of the reconstructed volumes,
   ``magnification="gyration"``, left 3.7·10⁻⁴). Each volume is resampled to the
   reference's pixel (cubic spline) about the rotation axis (``y``, ``x``: the
   reconstruction centres its slices on it) and the detector's central row (``z``: the
   optical axis is assumed there; an error in it is a shift, which step 3 removes);
3. :func:`batteryzoom.xanes.grain_chemistry`: 3D alignment across energies, normalization,
   edge maps, masks and per-grain statistics, unchanged;
4. **error bars where the noise is** (``error_bars="odd-even"``, the default): a
   reconstruction's noise is not the same everywhere (more at the centre of the field
   than near its edge), is correlated between neighbouring voxels, and is larger at the
   edge's energies than below (fewer photons pass). The odd and the even projections are
   reconstructed apart (:func:`odd_even_reconstructions`; FBP is linear, so the full
   volume is their mean) and each normalized by half the flat frames (the flats' noise is
   common to all projections: it would cancel otherwise); both halves go through the full
   stack's magnification, alignment shifts and normalization, and half the difference of
   their edge maps is one realization of the full map's noise
   (:func:`odd_even_edge_noise`: a central difference, the estimator's even-order
   nonlinearity cancels). Its square, over each voxel's sensitivity (the half-step
   uncertainty per unit of noise, from the voxel's own edge step and slope), is averaged
   over a Gaussian neighbourhood of ``noise_sigma_um`` and multiplied by the sensitivity
   again (:func:`local_edge_error`): ``edge_err_ev``. Per grain, the noise sample's
   correlation gives each mean's standard error (:func:`grain_standard_errors`):
   ``grain_se``. On the twin: robust SD of (estimate − truth) / stated error 1.02 at the
   centre of the field, 0.98 at its edge (the pre-edge route below: 1.28 and 1.15).

   ``error_bars="pre-edge"`` keeps the earlier route: each voxel's pre-edge residual
   (independent between energies, ~5 degrees of freedom) averaged the same way, the
   half-step uncertainty of :func:`~batteryzoom.xanes.edge_maps` rescaled by the local
   level over the pooled one, times ``sqrt(BP[v_edge] / BP[v_pre])``
   (:func:`count_noise_ratio`: ``v`` each projection pixel's optical-density variance
   from its counts, ``1/I + 1/(n_flats F)``, averaged over the energies within 3 eV of
   the median half-step energy or more than 30 eV below it, ``BP`` the unfiltered
   back-projection; ``toolkit/scripts/xanes_raw_error_budget.py``). It misses the noise's
   spatial correlation and part of its level, and gives no per-grain errors.

The reference energy is the last (the alignment's default): its pixel is the output's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from .._progress import progress as _progress
from ..errors import InputError
from .chemistry import GrainChemistry, grain_chemistry
from .normalization import find_e0

__all__ = ["RawXanes", "xanes_from_raw", "gyration_scales", "fit_magnification", "correct_magnification",
           "local_edge_error", "axis_centres", "count_noise_ratio", "projection_moments", "acquisition_moments",
           "fit_moment_magnification", "odd_even_reconstructions", "odd_even_edge_noise", "grain_standard_errors"]


#: stripe removal by sorting (algotom's): its "all" method refuses some rows of the twin's
#: energies as "noise-free" (its stripe detector divides column means that cross zero in
#: the open beam beside the particle), so it is not the default here
RINGS = {"method": "sorting"}
#: jitter rounds and rows (bz.tomo.reconstruct's jitter=): on the twin 3 rounds on 24 rows
#: leave 0.04-0.13 px RMS, as 10 rounds on 48 do, in a third of the time
JITTER = {"iterations": 3, "rows": 24}
#: grains (of >= 10 voxels) needed to scale the per-grain standard errors on the noise
#: sample's draws (grain_standard_errors): the robust SD of n draws is known to ~1/sqrt(n)
MIN_SCALE_GRAINS = 100


@dataclass
class RawXanes:
    """The result of :func:`xanes_from_raw`.

    Attributes
    ----------
    volumes : xarray.DataArray
        ``(energy, z, y, x)`` float32 reconstructions (1/µm), each on its own energy's
        pixel (the acquisition's nominal pixel size in ``attrs``), as
        :func:`batteryzoom.tomo.reconstruct` returns them.
    stack : xarray.DataArray
        The same on the reference energy's pixel (magnification corrected): what
        :func:`~batteryzoom.xanes.grain_chemistry` was given.
    scales_measured : numpy.ndarray, (energy,)
        Each energy's pixel size over the reference's, measured (projection moments, the
        fitted shape term removed; radii of gyration with ``magnification="gyration"``).
    scales : numpy.ndarray, (energy,)
        The fitted power law at each energy (what was applied).
    magnification_exponent : float
        ``k`` of ``s = (E / E_ref)**k`` (1: pixel size proportional to the energy).
    fit_energies : numpy.ndarray of bool, (energy,)
        The energies the fit used (all by default; away from the edge with ``fit_away_ev``).
    centres_px : list of float
        The rotation centre found at each energy (detector columns).
    jitter_rms_px : list of float
        RMS of the jitter found at each energy (px), or empty without jitter correction.
    chemistry : GrainChemistry
        Alignment, maps, masks, per-grain statistics.
    edge_err_ev : xarray.DataArray
        Per-voxel 1-sigma uncertainty of the half-step edge energy (eV) with the local
        noise level (module docstring, step 4); NaN outside the trusted voxels.
    noise_od : xarray.DataArray
        The local noise level (attenuation per energy, the stack's unit).
    noise_sample_ev : xarray.DataArray or None
        One realization of the edge map's noise, ``(e_odd - e_even) / 2`` (eV;
        :func:`odd_even_edge_noise`), NaN outside the trusted voxels; None with
        ``error_bars="pre-edge"``.
    grain_se : pandas.DataFrame or None
        Per grain (label index): ``n_voxels``, ``se_ev`` (standard error of the mean edge
        energy over the trusted voxels, the noise's correlation included) and
        ``noise_sample_mean_ev`` (:func:`grain_standard_errors`); None without labels or
        with ``error_bars="pre-edge"``.
    """

    volumes: Any
    stack: Any
    scales_measured: np.ndarray
    scales: np.ndarray
    magnification_exponent: float
    fit_energies: np.ndarray
    centres_px: list
    jitter_rms_px: list
    chemistry: GrainChemistry
    edge_err_ev: Any = field(repr=False)
    noise_od: Any = field(repr=False)
    noise_sample_ev: Any = field(default=None, repr=False)
    grain_se: Any = field(default=None, repr=False)


def _centre_index(n: int) -> float:
    return 0.5 * (n - 1)


def gyration_scales(volumes: Any, *, reference: int = -1, dilate_px: int = 4) -> np.ndarray:
    """Each energy's pixel size over the reference's, from the particle's radius of gyration.

    Parameters
    ----------
    volumes : array-like, (energy, z, y, x)
        Reconstructions (any attenuation unit), the particle well inside the field.
    reference : int
        The reference energy's index.
    dilate_px : int
        The reference's particle mask (Otsu) is dilated by this many voxels, so that a
        particle up to that much larger still lies inside it.

    Returns
    -------
    numpy.ndarray, float64, (energy,)
        ``R_g(reference) / R_g(energy)`` (1 at the reference).

    Examples
    --------
    A ball (its surface partial-volume, as a band-limited instrument sees it) with a pixel
    5 % smaller, then at the reference pixel:

    >>> import numpy as np
    >>> r = np.sqrt(((np.indices((32, 32, 32)) - 15.5) ** 2).sum(axis=0))
    >>> gyration_scales(np.stack([np.clip(10.5 - r, 0, 1), np.clip(10.0 - r, 0, 1)])).round(3).tolist()
    [0.95, 1.0]
    """
    from skimage.filters import threshold_otsu

    vols = volumes
    n_e = vols.shape[0]
    ref = np.asarray(vols[reference], np.float64)
    inside = ref > threshold_otsu(ref)
    inside = ndimage.binary_opening(inside, iterations=1)
    labels, n = ndimage.label(inside)
    if n == 0:
        raise InputError("volumes: no particle found in the reference energy's volume (Otsu threshold)")
    biggest = 1 + int(np.argmax(ndimage.sum(inside, labels, range(1, n + 1))))
    mask = ndimage.binary_dilation(labels == biggest, iterations=int(dilate_px))
    idx = [g.astype(np.float64) for g in np.nonzero(mask)]
    radii = np.empty(n_e)
    for e in range(n_e):
        w = np.asarray(vols[e], np.float64)[mask]
        total = w.sum()
        if not total > 0:
            raise InputError(f"volumes: energy {e} has no positive attenuation in the particle mask")
        var = sum(np.sum(w * (x - np.sum(w * x) / total) ** 2) / total for x in idx)
        radii[e] = np.sqrt(var)
    return radii[reference] / radii


def fit_magnification(energy: Any, scales: Any, use: Any, *, reference: int = -1) -> tuple[float, np.ndarray]:
    """Least-squares ``k`` of ``log s = k log(E / E_ref)`` over the energies ``use``.

    Returns
    -------
    (float, numpy.ndarray)
        ``k`` and the fitted scales at every energy.

    Examples
    --------
    >>> import numpy as np
    >>> energy = np.array([8200.0, 8340.0, 8600.0])
    >>> k, fitted = fit_magnification(energy, [8200 / 8600, 0.9, 1.0], [True, False, False])
    >>> round(k, 6), fitted.round(4).tolist()  # the edge energy (0.9) left out of the fit
    (1.0, [0.9535, 0.9698, 1.0])
    """
    e = np.asarray(energy, np.float64)
    x = np.log(e / e[reference])
    y = np.log(np.asarray(scales, np.float64))
    use = np.asarray(use, bool) & np.isfinite(y) & (x != 0)
    if use.sum() < 1:
        raise InputError("magnification: no energy away from the edge (and from the reference) to fit the "
                         "scale on; widen fit_away_ev or pass magnification= the scales")
    k = float(np.sum(x[use] * y[use]) / np.sum(x[use] ** 2))
    return k, np.exp(k * x)


def _smooth_flat_log_ratio(acquisition: xr.Dataset, degree: int | None = 1) -> np.ndarray | None:
    """``(energy, row, col)``: ``ln F_e - ln F̂_e``, each energy's mean flat (dark subtracted)
    against a per-pixel polynomial of ``degree`` in energy fitted to all of them (after each
    energy's median level): what to subtract from an optical density to trade that energy's
    flat noise for the pooled one's. None without flats or with ``degree`` None."""
    if "flats" not in acquisition or degree is None:
        return None
    n_e = acquisition.sizes["energy"]
    logs = []
    for e in range(n_e):  # one energy at a time: the flats of a large detector are large too
        a = acquisition.isel(energy=e)
        dark = a.darks.values.astype(np.float64).mean(axis=0) if "darks" in a else 0.0
        lf = np.log(np.maximum(a.flats.values.astype(np.float64).mean(axis=0) - dark, 1.0))
        logs.append(lf - np.median(lf))
    logs = np.stack(logs)
    t = np.linspace(-1.0, 1.0, n_e)
    design = np.column_stack([t**d for d in range(int(degree) + 1)])
    coef, *_ = np.linalg.lstsq(design, logs.reshape(n_e, -1), rcond=None)
    return logs - (design @ coef).reshape(logs.shape)


def projection_moments(od: Any, *, threshold: float = 0.1, dilate_px: int = 4) -> np.ndarray:
    """The particle's size and shape in one energy's projections, free of jitter and axis.

    Each projection is windowed to its particle (the pixels within ``dilate_px`` of where a
    3×3 mean exceeds ``threshold`` times the projection's 99.5th percentile); the pixels
    outside give each column's offset (stripes: a detector column's gain changed since the
    flats) and then each projection's; its central moments (about its own centroid: a
    shift, i.e. the jitter or the axis, leaves them unchanged) are averaged over angles.

    Parameters
    ----------
    od : array-like, (angle, row, col)
        Optical densities of one energy, the particle inside the field at every angle.
    threshold, dilate_px
        The window (above).

    Returns
    -------
    numpy.ndarray, float64, (3,)
        The mean of ``var_row + var_col`` (px²; a pixel ``s`` times larger divides it by
        ``s²``), and the row and column kurtoses ``m4 / m2²`` (scale-free: a pure change
        of scale leaves them, the chemistry's reweighting of the particle does not).

    Examples
    --------
    An elliptical particle (its edge blurred over ~1 px, as an instrument sees it) with a
    pixel 2 % larger, every projection shifted differently:

    >>> import numpy as np
    >>> from scipy.special import erfc
    >>> r, c = np.mgrid[:64, :64] - 31.5
    >>> blob = lambda s, dr, dc: erfc((np.hypot((r - dr) * s, (c - dc) * s / 1.3) - 14.0) / 1.2)
    >>> ref = projection_moments([blob(1.0, 0, 0), blob(1.0, 0.3, -0.7)])
    >>> big = projection_moments([blob(1.02, 0.6, 0.2), blob(1.02, -0.4, 1.1)])
    >>> round(float(np.sqrt(ref[0] / big[0])), 6), np.allclose(ref[1:], big[1:], atol=1e-6)
    (1.02, True)
    """
    od = np.asarray(od, np.float64)
    smooth = ndimage.uniform_filter(od, (1, 3, 3))
    top = np.percentile(smooth, 99.5, axis=(1, 2))
    window = ndimage.binary_dilation(smooth > threshold * top[:, None, None],
                                     np.ones((1, 2 * dilate_px + 1, 2 * dilate_px + 1), bool))
    free = ~window
    if not free.any(axis=(1, 2)).all():
        raise InputError("projections: the particle's window fills a whole projection; the moments need open "
                         "beam around the particle (lower dilate_px or raise threshold)")
    od = od - np.where(free, od, 0.0).sum(axis=(0, 1)) / np.maximum(free.sum(axis=(0, 1)), 1)
    od = od - (np.where(free, od, 0.0).sum(axis=(1, 2)) / free.sum(axis=(1, 2)))[:, None, None]
    od = np.where(window, od, 0.0)
    mass = od.sum(axis=(1, 2))
    if not np.all(mass > 0):
        raise InputError("projections: a projection without attenuation inside its window")
    rows = np.arange(od.shape[1], dtype=np.float64)[:, None]
    cols = np.arange(od.shape[2], dtype=np.float64)[None, :]
    dr = rows - ((od * rows).sum(axis=(1, 2)) / mass)[:, None, None]
    dc = cols - ((od * cols).sum(axis=(1, 2)) / mass)[:, None, None]
    mom = lambda p: (od * p).sum(axis=(1, 2)) / mass  # noqa: E731
    var_r, var_c = mom(dr**2), mom(dc**2)
    return np.array([np.mean(var_r + var_c), np.mean(mom(dr**4) / var_r**2), np.mean(mom(dc**4) / var_c**2)])


def acquisition_moments(acquisition: xr.Dataset, *, flat_degree: int | None = 1, progress: bool | None = None,
                        **window: Any) -> np.ndarray:
    """:func:`projection_moments` of every energy ``(energy, 3)``, on optical densities
    whose flats are smoothed across energies (module docstring, step 2).

    ``flat_degree``: each pixel's log flat (after the energy's level) follows a polynomial
    of this degree in energy (0: one pattern for the scan, the least noise; 1, the default:
    a pattern that drifts; None: each energy's own flats). On the twin (one pattern) the
    fitted law's worst error is 1·10⁻⁵ with 0, 6·10⁻⁵ with 1 and 1.7·10⁻⁴ with None."""
    from ..tomo import normalize

    flat_noise = _smooth_flat_log_ratio(acquisition, flat_degree)
    out = []
    for e in _progress(range(acquisition.sizes["energy"]), "magnification", total=acquisition.sizes["energy"],
                       enabled=progress, unit="energy"):
        od = np.asarray(normalize(acquisition.isel(energy=e)), np.float64)
        if flat_noise is not None:  # OD = ln F - ln I: with the smoothed flat, ln F̂ - ln I
            od = od - flat_noise[e]
        out.append(projection_moments(od, **window))
    return np.array(out)


def fit_moment_magnification(energy: Any, moments: Any, use: Any = None, *, reference: int = -1,
                             iterations: int = 5) -> tuple[float, np.ndarray, np.ndarray]:
    """``k`` of ``s = (E / E_ref)**k`` from each energy's projection moments, the chemistry's
    share separated by the shape: ``ln m2 = -2 k ln(E / E_ref) + c + a ln K_row + b ln K_col``,
    robust least squares (Huber, 1.5 robust SDs, ``iterations`` reweightings).

    Parameters
    ----------
    energy : array-like, (energy,)
        eV.
    moments : array-like, (energy, 3)
        :func:`projection_moments` of every energy.
    use : array-like of bool, optional
        The energies the fit uses (default all).
    reference : int
        The reference energy (scale 1).

    Returns
    -------
    (float, numpy.ndarray, numpy.ndarray)
        ``k``; the fitted scales at every energy; each energy's own scale, its shape
        term removed (what the fit saw, for a plot).

    Examples
    --------
    Sizes following ``k = 1`` plus a chemistry-like term that moves the kurtosis with them:

    >>> import numpy as np
    >>> energy = np.linspace(8200.0, 8600.0, 12)
    >>> k_row, k_col = 2.0 + 0.1 * np.sin(energy / 17.0), 2.2 + 0.05 * np.cos(energy / 5.0)
    >>> m2 = 300.0 * (energy / 8600.0) ** -2 * k_row**0.4 / k_col**0.7
    >>> k, fitted, own = fit_moment_magnification(energy, np.column_stack([m2, k_row, k_col]))
    >>> round(k, 6), bool(np.allclose(own, fitted))
    (1.0, True)
    """
    e = np.asarray(energy, np.float64)
    m = np.asarray(moments, np.float64)
    x = np.log(e / e[reference])
    use = np.ones(e.size, bool) if use is None else np.asarray(use, bool)
    use = use & np.all(np.isfinite(m) & (m > 0), axis=1)
    design = np.column_stack([x, np.ones_like(x), np.log(np.clip(m[:, 1:], 1e-300, None))])
    if use.sum() < design.shape[1] + 2 or np.ptp(x[use]) == 0:
        raise InputError(f"magnification: {int(use.sum())} energies to fit the scale law on; it needs at least "
                         f"{design.shape[1] + 2} at different energies, or pass magnification= the scales")
    y = np.log(np.clip(m[:, 0], 1e-300, None))
    weight = np.ones(e.size)
    for _ in range(int(iterations) + 1):
        w = np.sqrt(weight[use])
        coef, *_ = np.linalg.lstsq(design[use] * w[:, None], y[use] * w, rcond=None)
        resid = y - design @ coef
        scale = 1.4826 * np.median(np.abs(resid[use])) or 1e-12
        weight = np.minimum(1.0, 1.5 * scale / np.maximum(np.abs(resid), 1e-300))
    k = -0.5 * float(coef[0])
    own = np.exp(-0.5 * (y - coef[1] - design[:, 2:] @ coef[2:]))
    return k, np.exp(k * x), own


def correct_magnification(volume: Any, scale: float) -> np.ndarray:
    """``(z, y, x)`` resampled from a pixel ``scale`` times the reference's to the
    reference's, about the volume's centre on every axis (cubic spline, zero outside)."""
    v = np.asarray(volume, np.float32)
    if scale == 1.0:
        return v.copy()
    centre = np.array([_centre_index(n) for n in v.shape])
    inv = 1.0 / float(scale)
    return ndimage.affine_transform(v, np.full(3, inv), offset=centre - inv * centre, order=3, mode="constant",
                                    cval=0.0).astype(np.float32)


def local_edge_error(maps: Any, trusted: Any, voxel_size_um: float, sigma_um: float = 0.5,
                     noise_sample_ev: Any = None) -> tuple[Any, Any]:
    """The half-step uncertainty with the noise measured where it is (module docstring, step 4).

    Without ``noise_sample_ev``: the pre-edge residuals' square averaged locally. With it
    (one realization of the edge map's noise, eV, e.g. half the odd/even difference): each
    voxel's sample over its sensitivity ``f = edge_energy_half_step_err_ev / noise_od``
    (eV per unit of attenuation noise, from the voxel's own edge step and slope) is a
    noise level at the energies the estimate uses; its square is averaged over a Gaussian
    neighbourhood of ``sigma_um`` (trusted voxels only) and multiplied by ``f`` again.

    Returns
    -------
    (xarray.DataArray, xarray.DataArray)
        ``edge_err_ev`` (NaN outside ``trusted``) and the local noise level.
    """
    pooled = float(maps.attrs.get("noise_od", np.nan))
    if not np.isfinite(pooled) or pooled <= 0:
        raise InputError("maps: no pooled noise level in maps.attrs['noise_od'] (edge_maps(noise='pooled'))")
    err = np.asarray(maps["edge_energy_half_step_err_ev"].values, np.float64)
    if noise_sample_ev is None:
        noise2 = np.asarray(maps["pre_edge_noise"].values, np.float64) ** 2
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            noise2 = (np.asarray(noise_sample_ev, np.float64) * pooled / err) ** 2
    use = np.asarray(trusted, bool) & np.isfinite(noise2)
    sig = max(float(sigma_um) / float(voxel_size_um), 0.5)
    num = ndimage.gaussian_filter(np.where(use, noise2, 0.0), sig, mode="constant")
    den = ndimage.gaussian_filter(use.astype(np.float64), sig, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        local = np.sqrt(num / den)
    scaled = np.where(use, err * local / pooled, np.nan)
    like = maps["edge_energy_half_step_err_ev"]
    return (like.copy(data=scaled.astype(np.float32)).rename("edge_err_ev"),
            like.copy(data=np.where(use, local, np.nan).astype(np.float32)).rename("noise_od"))


def odd_even_edge_noise(acquisition: xr.Dataset, volumes: Any, scales: Any, chemistry: GrainChemistry, *,
                        rings: bool | dict = RINGS, progress: bool | None = None) -> np.ndarray:
    """One realization of the edge map's noise: ``(e_odd - e_even) / 2`` (eV, ``(z, y, x)``).

    Each half (:func:`odd_even_reconstructions`) goes through the full stack's
    magnification correction (``scales``), alignment shifts and normalization (its e0,
    pooled noise level): all linear, so the halves average to the full stack. With
    ``y = (y_odd + y_even) / 2``, ``(e(y_odd) - e(y_even)) / 2`` is the central difference
    of the edge estimator across the half-difference ``(y_odd - y_even) / 2``, which has
    the full stack's noise (variance, correlation between voxels, level at each energy):
    the even orders of the estimator's nonlinearity cancel.
    """
    from .alignment import apply_shifts
    from .edges import edge_maps

    maps = chemistry.maps
    out = []
    for half in odd_even_reconstructions(acquisition, volumes, rings=rings, progress=progress):
        corrected = np.stack([correct_magnification(half[e], float(s)) for e, s in enumerate(scales)])
        # the chemistry's stack is on the reference pixel with the volumes' coordinates
        aligned = apply_shifts(chemistry.aligned.copy(data=corrected), chemistry.shifts_px)
        m = edge_maps(aligned, e0=float(maps.attrs["e0"]), noise=float(maps.attrs["noise_od"]))
        out.append(np.asarray(m["edge_energy_half_step_ev"].values, np.float64))
    return 0.5 * (out[0] - out[1])


def grain_standard_errors(noise_sample_ev: Any, edge_err_ev: Any, labels: Any, *, max_lag_px: int = 6,
                          min_voxels: int = 10) -> Any:
    """Standard errors of the grains' mean edge energies, the noise's correlation included.

    The correlation of the noise sample (in units of the stated errors,
    :func:`batteryzoom.xanes.uncertainty.noise_autocorrelation`) gives each grain's
    ``SE² = Σ s_v s_w ρ(v − w) / n²`` (:func:`~batteryzoom.xanes.uncertainty.region_standard_errors`);
    each grain's mean of the noise sample is one draw of its mean's noise, so the SEs are
    then scaled by one factor, the robust SD of those draws over their SEs (grains of at
    least ``min_voxels``; with fewer than :data:`MIN_SCALE_GRAINS` of them the factor is 1):
    on the twin 0.80 (the model alone overstates by 1.25×; with the factor the grains under
    50 voxels give 1.05 and the larger ones 0.95). These are standard errors of the noise
    only: against the truth the grains' means also carry the reconstruction's resolution
    (partial volumes of neighbouring grains), which on the twin needs ~0.16 eV in quadrature
    (README). The naive ``sd / √n`` was 2.7× too small.

    Returns
    -------
    pandas.DataFrame
        Indexed by label: ``n_voxels``, ``se_ev``, ``noise_sample_mean_ev``; ``attrs``:
        ``scale`` (the factor) and ``correlation_sum`` (``Σ ρ``).
    """
    import pandas as pd

    from .uncertainty import noise_autocorrelation, region_standard_errors

    sample = np.asarray(noise_sample_ev, np.float64)
    stated = np.asarray(getattr(edge_err_ev, "values", edge_err_ev), np.float64)
    lab = np.asarray(getattr(labels, "values", labels))
    use = np.isfinite(sample) & np.isfinite(stated) & (stated > 0)
    rho = noise_autocorrelation(sample, stated, use, max_lag_px)
    se = region_standard_errors(stated, lab, use, rho)
    ids = np.array(sorted(se), dtype=np.int64)
    lab_used = np.where(use, lab, 0)
    n = ndimage.sum(use, lab_used, ids) if ids.size else np.zeros(0)
    dm = ndimage.mean(np.where(use, sample, 0.0), lab_used, ids) if ids.size else np.zeros(0)
    df = pd.DataFrame({"n_voxels": np.asarray(n, int), "se_ev": [se[g] for g in ids],
                       "noise_sample_mean_ev": dm}, index=pd.Index(ids, name="label"))
    ok = (df["n_voxels"] >= min_voxels) & np.isfinite(df["se_ev"])
    # fewer draws than this fix the scale worse than ~10 %: the model's SEs are kept
    fitted = int(ok.sum()) >= MIN_SCALE_GRAINS
    scale = float(1.4826 * np.median(np.abs((df["noise_sample_mean_ev"] / df["se_ev"])[ok]))) if fitted else 1.0
    df["se_ev"] *= scale
    df.attrs.update(scale=scale, scale_fitted=fitted, correlation_sum=float(rho.sum()))
    return df


def _variance_back_projection(var: np.ndarray, angles_deg: np.ndarray, centre: float, n: int) -> np.ndarray:
    """``(row, n, n)``: ``Σ_θ var(θ, row, u(x, y))`` over slices of ``n`` px centred on the axis
    (bz.tomo's geometry: ``u = centre + x cos θ − y sin θ``, x, y from the slice's centre),
    linear interpolation, zero off the detector."""
    ic = 0.5 * (n - 1)
    yc, xc = np.mgrid[:n, :n] - ic
    out = np.zeros((var.shape[1], n, n))
    cols = np.arange(var.shape[2], dtype=np.float64)
    for a, th in enumerate(np.radians(angles_deg)):
        u = centre + xc * np.cos(th) - yc * np.sin(th)
        for r in range(var.shape[1]):
            out[r] += np.interp(u, cols, var[a, r], left=0.0, right=0.0)
    return out


def count_noise_ratio(acquisition: xr.Dataset, centres: Any, scales: Any, e0_ev: float, *,
                      edge_ev: float = 3.0, below_ev: float = 30.0) -> np.ndarray:
    """How much noisier each voxel is at the edge (``e0_ev``) than below it, from the photon counts.

    The variance of a projection pixel's optical density is ``1/I + 1/(n_flats F)`` (Poisson
    counts ``I`` above the dark, flats ``F``); an FBP voxel's noise variance is, where that
    varies slowly, proportional to its unfiltered back-projection. The ratio of those
    back-projections, variance averaged over the energies within ``edge_ev`` of ``e0_ev``
    and over those more than ``below_ev`` below it, each group on its mean centre and
    magnification-corrected (``scales``) to the reference pixel, is the ratio of the noise
    variances; its square root is returned.

    Returns
    -------
    numpy.ndarray, float64, (row, col, col)
        On the grid of :func:`xanes_from_raw`'s ``stack``; 1 where no ray passes.
    """
    energy = np.asarray(acquisition.energy.values, np.float64)
    angles = np.asarray(acquisition.angle.values, np.float64)
    centres, scales = np.asarray(centres, np.float64), np.asarray(scales, np.float64)
    n = acquisition.sizes["col"]
    bps = []
    for group in (np.abs(energy - e0_ev) <= edge_ev, energy < e0_ev - below_ev):
        idx = np.flatnonzero(group)
        if idx.size == 0:
            raise InputError(f"acquisition: no energy within {edge_ev} eV of the edge ({e0_ev:.1f} eV) or more than "
                             f"{below_ev} eV below it; the noise ratio needs both")
        var = 0.0
        for e in idx:
            a = acquisition.isel(energy=int(e))
            dark = a.darks.values.mean(axis=0) if "darks" in a else 0.0
            flat = np.maximum(a.flats.values.mean(axis=0) - dark, 1.0)
            counts = np.maximum(a.projections.values.astype(np.float64) - dark, 1.0)
            var = var + 1.0 / counts + 1.0 / (a.sizes["flat"] * flat)
        bp = _variance_back_projection(var / idx.size, angles, float(centres[idx].mean()), n)
        bps.append(correct_magnification(bp, float(scales[idx].mean())))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.sqrt(bps[0] / bps[1])
    return np.where(np.isfinite(ratio) & (bps[1] > 0), ratio, 1.0)


def _flat_half(acquisition: xr.Dataset, h: int) -> xr.Dataset:
    """Every other flat frame (from the ``h``-th), renumbered so that each run of
    consecutive frames stays one run about its mean time (normalization averages a run and
    interpolates between runs: frames 2 and 4 of the run 2-5 would be two runs of one)."""
    half = acquisition.isel(flat=slice(h, None, 2))
    if "flat_order" not in acquisition.coords:
        return half
    order = np.asarray(acquisition.flat_order.values, np.int64)
    run = np.concatenate([[0], np.cumsum(np.diff(np.sort(order)) > 1)])[np.argsort(np.argsort(order))]
    keep, kept_run = order[h::2], run[h::2]
    new = keep.copy()
    for r in np.unique(kept_run):
        idx = np.flatnonzero(kept_run == r)
        start = int(round(keep[idx].mean() - 0.5 * (idx.size - 1)))
        new[idx[np.argsort(keep[idx])]] = start + np.arange(idx.size)
    return half.assign_coords(flat_order=("flat", new))


def odd_even_reconstructions(acquisition: xr.Dataset, volumes: Any, *, rings: bool | dict = RINGS,
                             outliers: bool | float = True, split_flats: bool = True,
                             progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The reconstructions of the odd and of the even projections, energy by energy, with
    :func:`batteryzoom.tomo.reconstruct`'s corrections of ``volumes`` (its centres and jitter shifts).

    Each energy's projections are normalized (flats interpolated in time), cleaned of
    zingers (blocks of 16 angles, as ``reconstruct`` stages them), shifted back by the
    jitter ``reconstruct`` found (``volumes.attrs["staging"]``) and cleaned of stripes, all
    on the whole sinogram; only then are they split. FBP is linear and weights each angle
    by its share of 180° (π/n on a uniform scan, π/(n/2) on each half), so without
    ``split_flats`` the full reconstruction is the mean of the two halves (on the twin to
    0.3 % of the noise's rms: the zinger filter's blocks, the jitter shifts' rounding).

    The flats' noise is common to every projection of an energy, so it cancels in
    ``odd - even`` (on the twin that left the noise sample 14 % low); with ``split_flats``
    the first half is normalized by every other flat frame and the second by the others,
    so ``(first - second) / 2`` has the full reconstruction's noise, the flats' included
    (each half's flat noise has twice the variance; its back-projection over half the
    angles is the same), with its level and its correlation between voxels where it is.
    Each half must still sample the object finely (twin: 45 angles for 72 columns):
    angular aliasing differs between the halves and would count as noise.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Projections 0, 2, 4, ... and 1, 3, 5, ...: ``(energy, z, y, x)`` float32 in
        ``volumes``' unit, on ``volumes``' grid (each energy's own pixel, before the
        magnification correction).
    """
    from ..tomo import normalize, reconstruct_slices, remove_outliers, remove_stripes, shift_projections

    angles = np.asarray(acquisition.angle.values, np.float64)
    if angles.size < 4:
        raise InputError(f"acquisition: {angles.size} angles; the odd/even split needs at least 4")
    attrs = volumes.attrs
    n_e = acquisition.sizes["energy"]
    centres = np.broadcast_to(np.asarray(attrs.get("centre_px"), np.float64), (n_e,))
    staging = attrs.get("staging") or [{}] * n_e
    px = float(acquisition.attrs.get("pixel_size_um") or 1.0)
    size = int(volumes.shape[-1])
    ring_kw = None if rings is False else ({} if rings is True else dict(rings))
    threshold = None if outliers is False else (6.0 if outliers is True else float(outliers))
    halves = np.empty((2,) + tuple(volumes.shape), np.float32)
    n_flat = acquisition.sizes.get("flat", 0)
    for e in _progress(range(n_e), "odd/even reconstructions", total=n_e, enabled=progress, unit="energy"):
        shifts = staging[e].get("jitter_shifts_px") if isinstance(staging, list) else None
        for h in (0, 1):
            one = acquisition.isel(energy=e)
            if split_flats and n_flat >= 2:
                one = _flat_half(one, h)
            od = np.asarray(normalize(one).values, np.float32)
            if threshold is not None:
                for a0 in range(0, od.shape[0], 16):
                    if od[a0:a0 + 16].shape[0] >= 3:
                        od[a0:a0 + 16] = remove_outliers(od[a0:a0 + 16], threshold=threshold)
            if shifts is not None:
                od = shift_projections(od, -np.asarray(shifts, np.float64))
            if ring_kw is not None:
                od = remove_stripes(od, **ring_kw)
            halves[h, e] = reconstruct_slices(od[h::2], angles[h::2], float(centres[e]), size=size) / np.float32(px)
    return halves[0], halves[1]


def axis_centres(acquisition: xr.Dataset, *, progress: bool | None = None) -> list[float]:
    """The rotation centre (detector columns, px) of every energy, from the projections'
    centroids: in a parallel beam the centroid of each projection along the detector
    follows ``centre + b cos θ + c sin θ`` (the object's centroid turning about the axis),
    so a least-squares fit of that sinusoid over every angle gives the centre.

    Each projection's jitter moves its centroid, but the fit averages it over all of them
    (~σ/√n); a registration of views 180° apart (:func:`batteryzoom.tomo.find_centre`)
    rests on one pair's jitter: on the twin it missed by up to 1 px, this by < 0.1 px.
    Needs the particle inside the field of view at every angle.
    """
    from ..tomo import normalize

    angles = np.radians(np.asarray(acquisition.angle.values, np.float64))
    design = np.column_stack([np.ones_like(angles), np.cos(angles), np.sin(angles)])
    out = []
    for e in _progress(range(acquisition.sizes["energy"]), "centres", total=acquisition.sizes["energy"],
                       enabled=progress, unit="energy"):
        od = np.asarray(normalize(acquisition.isel(energy=e)), np.float64)
        profile = od.sum(axis=1)  # (angle, col): the mass seen by each column
        cols = np.arange(profile.shape[1], dtype=np.float64)
        mass = profile.sum(axis=1)
        if not np.all(mass > 0):
            raise InputError(f"acquisition: energy {e} has projections without attenuation; pass centre=")
        centroid = profile @ cols / mass
        coef, *_ = np.linalg.lstsq(design, centroid, rcond=None)
        out.append(float(coef[0]))
    return out


def _fit_energies(volumes: np.ndarray, energy: np.ndarray, away_ev: tuple[float, float]) -> np.ndarray:
    """Energies at least ``-away_ev[0]`` below and ``away_ev[1]`` above the particle-mean
    spectrum's e0 (Larch's find_e0)."""
    spectrum = np.array([float(np.mean(np.clip(v, 0, None))) for v in volumes])
    e0 = float(find_e0(spectrum, energy))
    return (energy <= e0 + away_ev[0]) | (energy >= e0 + away_ev[1])


def xanes_from_raw(
    acquisition: xr.Dataset,
    grain_labels: Any = None,
    *,
    magnification: str | Any = "fit",
    fit_away_ev: tuple[float, float] | None = None,
    jitter: bool | dict = JITTER,
    rings: bool | dict = RINGS,
    method: str = "fbp",
    centre: Any = None,
    noise_sigma_um: float = 0.5,
    error_bars: str = "odd-even",
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    **chemistry: Any,
) -> RawXanes:
    """Per-grain chemistry from a raw multi-energy tomography (the module's recipe).

    Parameters
    ----------
    acquisition : xarray.Dataset
        ``projections`` ``(energy, angle, row, col)`` with flats (and darks): a
        :mod:`batteryzoom.io.acquisition` Dataset, e.g. ``bz.data.load("twin/particle-xanes-raw")``.
    grain_labels : array-like of int, optional
        Grain labels on the reconstruction's grid ``(z, y, x)`` (the detector rows as z,
        the slices centred on the axis, the reference energy's pixel).
    magnification : "fit", "gyration", None or array-like
        ``"fit"``: measure (projection moments) and fit the scale across energies (module
        docstring); ``"gyration"``: the same from the reconstructed volumes' radii of
        gyration (:func:`gyration_scales`, less accurate); None: none (a microscope that
        keeps the magnification); an array ``(energy,)``: each energy's pixel size over
        the reference's, as known.
    fit_away_ev : (float, float), optional
        Energies used by the fit: below ``e0 + fit_away_ev[0]`` or above ``e0 + fit_away_ev[1]``
        (e0 of the particle's mean spectrum). Default: every energy with ``"fit"``,
        ``(-20, 30)`` with ``"gyration"`` (whose fit has no shape term).
    jitter, rings, method, centre
        :func:`batteryzoom.tomo.reconstruct`'s (jitter correction on by default,
        :data:`JITTER`; stripes removed by sorting, :data:`RINGS`). ``centre`` None: found
        per energy from the projections' centroids (:func:`axis_centres`: robust to
        jitter, where reconstruct's own search registers single pairs of views).
    noise_sigma_um : float
        The neighbourhood (Gaussian sigma, µm) the local noise is averaged over.
    error_bars : {"odd-even", "pre-edge"}
        Where the per-voxel noise is measured (module docstring, step 4): from the odd and
        even projections' reconstructions (default; ~40 % more time: the halves are
        reconstructed and mapped again), or from the pre-edge residuals scaled by the
        counts (:func:`count_noise_ratio`; no per-grain standard errors).
    out : path, optional
        Stream the reconstructions to this zarr store (:func:`batteryzoom.tomo.reconstruct`).
    overwrite : bool
        Replace a store an earlier call wrote.
    progress : bool, optional
        Progress bars (default ``BATTERYZOOM_PROGRESS``).
    **chemistry
        Passed to :func:`batteryzoom.xanes.grain_chemistry` (``mask``, ``clip_sigma``,
        ``designated``).

    Returns
    -------
    RawXanes

    Raises
    ------
    InputError
        A single-energy acquisition, magnification scales of the wrong length, and what
        :func:`batteryzoom.tomo.reconstruct` and :func:`~batteryzoom.xanes.grain_chemistry`
        refuse.

    Examples
    --------
    .. code-block:: python

        import batteryzoom as bz
        acq = bz.data.load("twin/particle-xanes-raw")
        raw = bz.xanes.from_raw.xanes_from_raw(acq)
        raw.magnification_exponent, raw.chemistry.voxel_uncertainty_ev
    """
    from ..tomo import reconstruct

    if error_bars not in ("odd-even", "pre-edge"):
        raise InputError(f"error_bars={error_bars!r}: choose 'odd-even' (the noise measured from the odd and even "
                         "projections) or 'pre-edge' (from the pre-edge residuals and the counts)")
    if error_bars == "odd-even" and acquisition.sizes.get("angle", 0) < 4:
        raise InputError(f"acquisition: {acquisition.sizes.get('angle', 0)} angles; error_bars='odd-even' needs "
                         "at least 4 (pass error_bars='pre-edge')")
    if "energy" not in acquisition.get("projections", xr.DataArray()).dims:
        raise InputError("acquisition: projections have no energy axis; xanes_from_raw needs a multi-energy "
                         "scan (energy, angle, row, col); reconstruct a single energy with bz.tomo.reconstruct")
    energy = np.asarray(acquisition.energy.values, np.float64)
    if centre is None:
        centre = axis_centres(acquisition, progress=progress)
    volumes = reconstruct(acquisition, centre=centre, method=method, rings=rings, jitter=jitter, out=out,
                          overwrite=overwrite, progress=progress)
    raw = np.asarray(volumes.values, np.float32)
    if isinstance(magnification, str) and magnification == "fit":
        use = np.ones(len(energy), bool) if fit_away_ev is None else _fit_energies(raw, energy, fit_away_ev)
        k, scales, measured = fit_moment_magnification(energy, acquisition_moments(acquisition, progress=progress),
                                                       use)
    elif isinstance(magnification, str) and magnification == "gyration":
        measured = gyration_scales(raw)
        use = _fit_energies(raw, energy, (-20.0, 30.0) if fit_away_ev is None else fit_away_ev)
        k, scales = fit_magnification(energy, measured, use)
    elif magnification is None:
        measured, use, k, scales = np.ones(len(energy)), np.zeros(len(energy), bool), 0.0, np.ones(len(energy))
    else:
        scales = np.asarray(magnification, np.float64)
        if scales.shape != energy.shape or not np.all(np.isfinite(scales) & (scales > 0)):
            raise InputError(f"magnification: give one positive scale per energy ({energy.size}), got shape "
                             f"{scales.shape}")
        measured, use, k = scales.copy(), np.zeros(len(energy), bool), float("nan")
    corrected = np.empty_like(raw)
    for e in _progress(range(len(energy)), "magnification", total=len(energy), enabled=progress, unit="energy"):
        corrected[e] = correct_magnification(raw[e], scales[e])
    stack = volumes.copy(data=corrected)
    stack.attrs = {**volumes.attrs, "magnification_scales": scales.tolist(), "magnification_exponent": k}
    chem = grain_chemistry(stack, grain_labels, progress=progress, **chemistry)
    voxel = float(np.atleast_1d(volumes.attrs.get("voxel_size_um", 1.0))[0])
    trusted = chem.masks["mask"].values
    sample, grain_se = None, None
    if error_bars == "odd-even":  # module docstring, step 4
        sample = odd_even_edge_noise(acquisition, volumes, scales, chem, rings=rings, progress=progress)
        err, noise = local_edge_error(chem.maps, trusted, voxel, noise_sigma_um, noise_sample_ev=sample)
        sample = chem.edge.copy(data=np.where(trusted, sample, np.nan).astype(np.float32)).rename("noise_sample_ev")
        if grain_labels is not None:
            lab = chem.labels.values if chem.mask is None else np.where(chem.mask, chem.labels.values, 0)
            grain_se = grain_standard_errors(sample.values, err.values, lab)
    else:
        err, noise = local_edge_error(chem.maps, trusted, voxel, noise_sigma_um)
        if "flats" in acquisition:  # counts: the noise at the edge's energies, not below it (module docstring)
            e0 = float(np.nanmedian(chem.edge.values))  # where the half-step crossings are
            centre_px = np.broadcast_to(np.asarray(volumes.attrs.get("centre_px", centre), np.float64), energy.shape)
            err = err * count_noise_ratio(acquisition, centre_px, scales, e0).astype(np.float32)
    centres = volumes.attrs.get("centre_px")
    staging = volumes.attrs.get("staging") or []
    jit = [float(s.get("jitter_rms_px", np.nan)) for s in staging] if isinstance(staging, list) else []
    return RawXanes(volumes=volumes, stack=stack, scales_measured=np.asarray(measured), scales=np.asarray(scales),
                    magnification_exponent=k, fit_energies=np.asarray(use), centres_px=list(np.atleast_1d(centres)),
                    jitter_rms_px=jit, chemistry=chem, edge_err_ev=err, noise_od=noise, noise_sample_ev=sample,
                    grain_se=grain_se)
