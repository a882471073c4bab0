"""Per-region (per-grain) edge energy: mean, noise-deconvolved FWHM, and when to trust them.

A grain's edge-energy distribution measured voxel by voxel is the true distribution
broadened by each voxel's measurement error. With independent errors of variance
``sigma_i^2`` (``edge_energy_half_step_err_ev``, calibrated: see :mod:`.uncertainty` and
:mod:`.denoise`), the measured variance is ``var_true + mean(sigma_i^2)``, so

``std_deconvolved = sqrt(max(var_measured - mean(sigma_i^2), 0))`` and
``FWHM = 2.3548 * std`` (the Gaussian-equivalent width, as the twin defines FWHM).

When to trust them (rules computed from the measurement alone, never from a reference):

- the mean: its standard error ``sqrt(max(var_measured, mean(sigma_i^2)) / n)`` is below
  ``max_mean_se_ev`` (default 0.02 eV, so a 0.05 eV tolerance is 2.5 standard errors);
- the FWHM: its relative standard error, ``0.5 * sqrt(2 / n) * var_measured /
  var_deconvolved`` (the sampling error of a Gaussian variance, carried through the
  subtraction and the square root), is below ``max_fwhm_rel_se`` (default 0.05, half of a
  10 % tolerance);
- both need at least ``MIN_VOXELS`` (10) voxels.

These rules cover the statistical error only; systematic errors (alignment residuals,
components a PCA truncated, partial volume) come on top -- see
``toolkit/scripts/xanes_accuracy.py`` for their size on the twin. For widths, denoise with
``pca_edge_maps(..., n_components="detectable")``: the default rule's truncation moves a
grain's voxels toward or away from its mean (an error correlated with the true value,
which no noise subtraction removes; up to -40 % of a FWHM on the twin), while the extra
noise the detectable components bring is subtracted here (every reliable grain within
10 % on the twin).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["region_edge_stats"]

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
MIN_VOXELS = 10  # below this a spread (and so a standard error) is not estimated, only guessed


def region_edge_stats(maps: Any, labels: Any, *, mask: Any = None, method: str = "half_step",
                      max_mean_se_ev: float = 0.02, max_fwhm_rel_se: float = 0.05) -> pd.DataFrame:
    """Per-label mean edge energy and noise-deconvolved FWHM, with reliability flags.

    Parameters
    ----------
    maps : xarray.Dataset or dict
        From :func:`~batteryzoom.xanes.edge_maps` or :func:`~batteryzoom.xanes.pca_edge_maps`:
        ``edge_energy_<method>_ev`` and ``edge_energy_half_step_err_ev`` (eV) over space.
    labels : array-like of int
        Region labels, same spatial shape (0 = background).
    mask : array-like of bool, optional
        Voxels to use (e.g. ``bz.xanes.masks(maps)["mask"]``); NaN voxels are always left out.
    method : str
        Whose edge energy to summarize (the uncertainty is the half-step one's).
    max_mean_se_ev, max_fwhm_rel_se : float
        Reliability thresholds (module docstring).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``label``: ``n_voxels``, ``edge_energy_mean_ev``,
        ``edge_energy_mean_se_ev``, ``edge_energy_std_ev`` (measured), ``noise_std_ev``
        (rms per-voxel error), ``edge_energy_std_deconvolved_ev``, ``edge_energy_fwhm_ev``
        (``2.3548 *`` measured std), ``edge_energy_fwhm_deconvolved_ev``,
        ``fwhm_rel_se``, ``mean_reliable``, ``fwhm_reliable`` (bool).

    Notes
    -----
    The per-label sums go through :func:`batteryzoom.regions.region_stats` (one pass over
    the voxels per map, no loop over labels).
    """
    from ..regions import region_stats

    key = f"edge_energy_{method}_ev"
    for need in (key, "edge_energy_half_step_err_ev"):
        if need not in maps:
            raise InputError(f"maps has no {need!r}: compute it with bz.xanes.edge_maps or bz.xanes.pca_edge_maps")
    value = np.asarray(maps[key], np.float64)
    err = np.asarray(maps["edge_energy_half_step_err_ev"], np.float64)
    lab = np.asarray(labels)
    if lab.shape != value.shape:
        raise InputError(f"labels has shape {lab.shape}; the maps' shape is {value.shape}")
    use = np.isfinite(value) & np.isfinite(err)
    if mask is not None:
        use &= np.asarray(mask, bool)
    value = np.where(use, value, np.nan)
    var_err = np.where(use, err**2, np.nan)
    stats = region_stats(value, lab, name="e", bins=8, percentiles=()).table
    noise = region_stats(var_err, lab, name="v", bins=8, percentiles=()).table
    n = stats["count"].astype(float)
    var = stats["e_std"] ** 2
    noise_var = noise["v_mean"].reindex(stats.index)
    var_dec = (var - noise_var).clip(lower=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a grain's spread can be no less than its voxels' noise (a 1-voxel grain has none)
        se = np.sqrt(np.maximum(var, noise_var) / n)
        rel = 0.5 * np.sqrt(2.0 / n) * var / var_dec
    out = pd.DataFrame({
        "n_voxels": stats["count"].astype(int),
        "edge_energy_mean_ev": stats["e_mean"],
        "edge_energy_mean_se_ev": se,
        "edge_energy_std_ev": stats["e_std"],
        "noise_std_ev": np.sqrt(noise_var),
        "edge_energy_std_deconvolved_ev": np.sqrt(var_dec),
        "edge_energy_fwhm_ev": FWHM_PER_SIGMA * stats["e_std"],
        "edge_energy_fwhm_deconvolved_ev": FWHM_PER_SIGMA * np.sqrt(var_dec),
        "fwhm_rel_se": rel.replace([np.inf], np.nan),
    }, index=stats.index)
    enough = out["n_voxels"] >= MIN_VOXELS
    out["mean_reliable"] = enough & (out["edge_energy_mean_se_ev"] < max_mean_se_ev).fillna(False)
    out["fwhm_reliable"] = enough & (out["fwhm_rel_se"] < max_fwhm_rel_se).fillna(False)
    out.index.name = "label"
    return out
