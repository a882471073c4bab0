"""Propagated uncertainty of the half-step edge energy.

For one normalization ``e0`` the normalized spectrum is linear in the measured one:
``norm(E) = (y(E) - L(E)) / S`` where the pre-edge line ``L`` and the edge step ``S`` are
fixed linear functionals of ``y`` (least-squares operators over Larch's pre- and
post-edge ranges). The half-step energy ``E_c`` solves
``(1 - t) norm_k + t norm_{k+1} = 0.5`` between grid energies ``k`` and ``k + 1``, so to
first order a perturbation ``dy`` of the spectrum moves it by
``dE = -(r . dy) / (S * slope)`` with the row vector

``r = (1 - t) e_k + t e_{k+1} - l(E_c) - 0.5 s``

(``e_j`` the unit vectors, ``l(E_c)`` the row evaluating the pre-edge line at ``E_c``,
``s`` the edge-step row, ``slope`` the normalized spectrum's slope across the crossing).
For white noise of standard deviation ``sigma`` per energy,
``std(E_c) = sigma * |r| / (S * slope)``.

The interpolation-only estimate ``sigma * sqrt((1 - t)**2 + t**2) / (S * slope)`` misses
the pre-edge line's noise, which dominates: the line is fitted on a few points 70-140 eV
below the edge and *extrapolated* to it (on the twin's grid its standard deviation at the
edge is ~1.7 sigma, versus ~0.7 sigma for the two interpolated points), so that estimate
was ~2x too small. :func:`half_step_error_factor` gives the ratio
``|r| / sqrt((1 - t)**2 + t**2)`` per voxel (it depends only on the energies, ``e0`` and
``E_c``); :func:`~batteryzoom.xanes.edge_maps` multiplies by it.

``sigma`` and ``slope`` are each voxel's own estimates, and they make the error bars too
small (``toolkit/scripts/xanes_accuracy.py`` on the twin: robust sd of (estimate - truth)
/ predicted 1.12 at noise 0.02 of the edge jump, 1.41 at 0.05):

- ``sigma``: each voxel's rms pre-edge residual rests on ~5 degrees of freedom (7
  points, a line), so it scatters by ~30 % and error / predicted is a Student-t, robust
  sd 1.08. Where the noise is the same in every voxel -- a tomographic reconstruction's,
  to first order, and the twin's -- :func:`pooled_noise` pools it over an even sample's
  voxels with an edge (``edge_maps(noise="pooled")``, the default; ``noise="voxel"``
  keeps each voxel's own, for noise that varies, e.g. 2D transmission maps of very uneven
  thickness; a number gives the level). Twin: robust sd 1.02 at noise 0.02, 1.28 at 0.05.
- ``slope``: the two points across the crossing, as the interpolation uses them. Their
  noise makes it biased steep (the crossing is found where the noise made the edge jump)
  and noisy: what remains of the miscalibration at noise 0.05. A least-squares slope
  over the four energies around the crossing is less noisy but biased flat where the
  edge is curved there (12-17 % for an arctan edge of width 1.5 eV on a 1 eV grid),
  which makes the error bars too large on such an edge; it is not used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._blocks import is_dask
from ._general import _edge_block
from .normalization import LarchDefaults, _lstsq_operator, pre_edge_ranges

__all__ = ["half_step_err_quadratic", "half_step_error_factor", "half_step_rows", "normalization_operators",
           "pooled_noise", "propagate_half_step_err", "noise_autocorrelation", "region_standard_errors"]

# voxels of the even sample the pooled noise is estimated from (:func:`pooled_noise`): with
# ~5 degrees of freedom each, a few thousand particle voxels fix it to ~1 %
NOISE_SAMPLE_VOXELS = 1 << 13
# fewer particle voxels than this in the sample: no pooling (each voxel's own estimate)
MIN_POOLED_VOXELS = 100


def normalization_operators(energy: Any, e0: float, params: LarchDefaults | None = None) -> dict[str, np.ndarray]:
    """Linear operators of Larch-style normalization for one ``e0``.

    The pre-edge line is fitted to ``mu * E**nvict`` and divided by ``E**nvict`` again:
    with fixed energies that is still linear in the spectrum, so ``nvict != 0`` only
    folds ``E**nvict`` into the line's operator and scales the line by ``E**-nvict``.

    Parameters
    ----------
    energy : array-like
        ``(E,)`` eV, increasing.
    e0 : float
        Normalization edge energy (eV).
    params : LarchDefaults, optional
        Ranges (default Larch's rules).

    Returns
    -------
    dict
        ``line`` ``(2, E)``: rows giving the intercept and slope (per eV) of the line
        fitted to ``mu * E**nvict``; ``scale`` ``(E,)``: ``E**-nvict`` (ones for Larch's
        default), so that the pre-edge at ``E_j`` is
        ``scale[j] * (line[0] @ mu + E_j * line[1] @ mu)``; ``step`` ``(E,)``: the row
        giving the signed edge step.
    """
    energy = np.asarray(energy, np.float64)
    r = pre_edge_ranges(energy, e0, params)
    n = len(energy)
    a, b = r.pre_slice
    c, d = r.norm_slice
    line = np.zeros((2, n))
    if r.npre == 0:  # a constant pre-edge (too few points for a line)
        line[0, a:b] = 1.0 / (b - a)
    else:
        line[:, a:b] = _lstsq_operator(energy[a:b], 1)
    scale = np.ones(n)
    if r.nvict:
        line[:, a:b] *= energy[a:b] ** r.nvict
        scale = energy ** -float(r.nvict)
    post = np.zeros((d - c, n))
    post[np.arange(d - c), np.arange(c, d)] = 1.0
    post -= scale[c:d, None] * (np.stack([np.ones(d - c), energy[c:d]], axis=1) @ line)
    step = (energy[r.ie0] ** np.arange(r.nnorm + 1)) @ _lstsq_operator(energy[c:d], r.nnorm) @ post
    return {"line": line, "scale": scale, "step": step}


def half_step_err_quadratic(energy: Any, e0: float, params: LarchDefaults | None = None) -> np.ndarray:
    """Per-interval coefficients of ``|r|^2`` (module docstring) for one ``e0``.

    Parameters
    ----------
    energy : array-like
        ``(E,)`` eV, increasing.
    e0 : float
        Normalization e0 (eV).
    params : LarchDefaults, optional
        The normalization ranges used.

    Returns
    -------
    numpy.ndarray
        ``(3, E - 1)`` float64: for the crossing in interval ``(k, k + 1)`` at fraction
        ``t``, ``|r|^2 = q[0, k] + 2 t q[1, k] + t**2 q[2, k]``.
    """
    u, w, _ = half_step_rows(energy, e0, params)
    return np.stack([(u * u).sum(1), (u * w).sum(1), (w * w).sum(1)])


def half_step_rows(energy: Any, e0: float, params: LarchDefaults | None = None
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(u, w, ops)``: the row ``r = u[k] + t w[k]`` (module docstring) of every interval.

    Row ``j`` of the identity less the pre-edge line at ``E_j`` less half the edge step
    is ``e_j - l(E_j) - 0.5 s``; on interval ``(k, k + 1)`` ``r`` is linear in ``t``, so
    ``u = rows[:-1]`` and ``w = rows[1:] - rows[:-1]``, each ``(E - 1, E)``; ``ops`` is
    :func:`normalization_operators`' output.
    """
    energy = np.asarray(energy, np.float64)
    ops = normalization_operators(energy, float(e0), params)
    pre = ops["line"][0][None, :] + energy[:, None] * ops["line"][1][None, :]
    rows = np.eye(len(energy)) - ops["scale"][:, None] * pre
    rows -= 0.5 * ops["step"][None, :]
    return rows[:-1], rows[1:] - rows[:-1], ops


def half_step_error_factor(energy: Any, e0: Any, edge_ev: Any, params: LarchDefaults | None = None) -> np.ndarray:
    """Ratio of the propagated half-step uncertainty to the interpolation-only one.

    Parameters
    ----------
    energy : array-like
        ``(E,)`` eV, increasing.
    e0 : float or array-like
        Normalization e0 (eV): one number, or one per voxel (same shape as ``edge_ev``;
        voxels are grouped by their e0 value, one operator per distinct value).
    edge_ev : array-like
        Half-step edge energies (eV), any shape; NaN stays NaN.
    params : LarchDefaults, optional
        The normalization ranges used.

    Returns
    -------
    numpy.ndarray
        ``|r| / sqrt((1 - t)**2 + t**2)`` (see the module docstring), float64, shape of
        ``edge_ev``; NaN where ``edge_ev`` or ``e0`` is NaN.
    """
    energy = np.asarray(energy, np.float64)
    edge = np.asarray(edge_ev, np.float64)
    e0_arr = np.broadcast_to(np.asarray(e0, np.float64), edge.shape)
    out = np.full(edge.shape, np.nan)
    ok = np.isfinite(edge) & np.isfinite(e0_arr)
    n = len(energy)
    for e0_value in np.unique(e0_arr[ok]):
        sel = ok & (e0_arr == e0_value)
        uu, uw, ww = half_step_err_quadratic(energy, float(e0_value), params)
        ec = edge[sel]
        k = np.clip(np.searchsorted(energy, ec, side="right") - 1, 0, n - 2)
        t = (ec - energy[k]) / (energy[k + 1] - energy[k])
        norm_r = np.sqrt(np.maximum(uu[k] + 2.0 * t * uw[k] + t**2 * ww[k], 0.0))
        out[sel] = norm_r / np.sqrt((1.0 - t) ** 2 + t**2)
    return out


def propagate_half_step_err(err_ev: Any, e0_ev: Any, edge_ev: Any, energy: Any,
                            params: LarchDefaults | None = None) -> Any:
    """Scale an interpolation-only half-step uncertainty map to the propagated one.

    ``err_ev * half_step_error_factor(energy, e0_ev, edge_ev)`` on numpy arrays, or block by
    block on dask arrays (same chunks). Per-voxel ``e0`` maps with more than 256 distinct
    values are grouped on a 0.01 eV grid (the operators change only where Larch's ranges
    gain or lose a grid point).
    """
    if is_dask(err_ev):
        import dask.array as da

        return da.map_blocks(lambda a, b, c: propagate_half_step_err(a, b, c, energy, params), err_ev, e0_ev,
                             edge_ev, dtype=np.float64)
    e0 = np.asarray(e0_ev, np.float64)
    if e0.ndim and np.unique(e0[np.isfinite(e0)]).size > 256:
        e0 = np.round(e0, 2)
    return np.asarray(err_ev, np.float64) * half_step_error_factor(energy, e0, edge_ev, params)


def pooled_noise(array: Any, energy: Any, e0: float | None, params: LarchDefaults | None = None,
                 window_ev: tuple[float, float] = (-15.0, 15.0), max_voxels: int | None = None) -> float | None:
    """The stack's noise per energy, pooled over an even sample of its voxels with an edge.

    Each voxel's own estimate, the rms residual of its pre-edge line, rests on a few
    degrees of freedom (Larch's default range holds ~7 points: 5 dof), so it is itself
    uncertain by ~30 %, and an error that divides by it is a Student-t variable whose
    robust spread is 1.08x the stated one at 5 dof. Where the noise is the same in every
    voxel -- a tomographic reconstruction's is, to first order, and so is the twin's --
    pooling removes that: ``sigma**2 = median(noise_i**2) / (median of chi2_dof / dof)``
    over the sample's voxels with a half-step crossing and an edge step above Otsu's
    threshold of the sample's steps (the particle; all of them if fewer than
    :data:`MIN_POOLED_VOXELS` pass it).

    Everything is computed by the general float64 path on the sample's float32 values,
    so every path of :func:`~batteryzoom.xanes.edge_maps` (compiled, numpy, dask) and a
    float32 or float64 copy of a stack get the same level.

    Parameters
    ----------
    array : numpy or dask array
        ``(E, ...)`` absorbance.
    energy : array-like
        ``(E,)`` eV.
    e0 : float or None
        Normalization e0 (eV; None: per voxel, Larch's find_e0).
    params : LarchDefaults, optional
    window_ev : (float, float)
        The half-step search window (eV from e0).
    max_voxels : int, optional
        Sample size (default :data:`NOISE_SAMPLE_VOXELS`).

    Returns
    -------
    float or None
        The noise (absorbance per energy); None with fewer than :data:`MIN_POOLED_VOXELS`
        voxels with an edge in the sample (then each voxel's own estimate is used).
    """
    from scipy import stats

    from .masks import otsu_threshold
    from .stack import even_sample

    params = params or LarchDefaults()
    energy = np.asarray(energy, np.float64)
    n = len(energy)
    sample = even_sample(array, NOISE_SAMPLE_VOXELS if max_voxels is None else max_voxels)
    if is_dask(sample):
        sample = sample.compute()
    mu = np.asarray(sample, np.float32).reshape(n, -1).astype(np.float64)
    names = ["edge_energy_half_step_ev", "edge_energy_half_step_err_ev", "e0_ev", "edge_step", "pre_edge_noise",
             "valid"]
    with np.errstate(all="ignore"):
        found = _edge_block(energy, mu, e0, params, ("half_step",), window_ev, 1.0, names)
        edge, e0v, step, noise, valid = found[0], found[2], found[3], found[4], found[5] > 0.5
        ok = valid & np.isfinite(edge) & (step > 0) & (noise > 0)
    if ok.sum() < MIN_POOLED_VOXELS:
        return None
    threshold = otsu_threshold(step[ok])
    use = ok & (step > threshold) if np.isfinite(threshold) else ok
    if use.sum() < MIN_POOLED_VOXELS:
        use = ok
    r = pre_edge_ranges(energy, float(e0) if e0 is not None else float(np.median(e0v[use])), params)
    dof = max((r.pre_slice[1] - r.pre_slice[0]) - (1 if r.npre == 0 else 2), 1)
    return float(np.sqrt(np.median(noise[use] ** 2) / (stats.chi2.ppf(0.5, dof) / dof)))


def noise_autocorrelation(sample: Any, stated: Any, use: Any, max_lag_px: int = 8) -> np.ndarray:
    """Autocorrelation of a noise sample in units of its stated error, over the voxels ``use``.

    Parameters
    ----------
    sample : array-like, (z, y, x)
        One realization of the estimate's noise (e.g. half the difference of the odd- and
        even-projection estimates, :func:`batteryzoom.xanes.from_raw.odd_even_reconstructions`).
    stated : array-like, (z, y, x)
        Each voxel's stated 1-sigma error (same unit).
    use : array-like of bool, (z, y, x)
        The voxels with a sample and an error.
    max_lag_px : int
        Largest lag kept along each axis.

    Returns
    -------
    numpy.ndarray, float64, (2L+1, 2L+1, 2L+1)
        ``rho[L + dz, L + dy, L + dx]``: the correlation at that lag (1 at the centre),
        averaged over the pairs of used voxels (FFT, zero padded: no wrap-around).

    Examples
    --------
    White noise is uncorrelated; a 3-voxel box average correlates neighbours by 2/3:

    >>> import numpy as np
    >>> from scipy import ndimage
    >>> w = np.random.default_rng(0).normal(size=(24, 24, 24))
    >>> rho = noise_autocorrelation(ndimage.uniform_filter1d(w, 3, axis=2), np.ones(w.shape), np.ones(w.shape, bool), 2)
    >>> round(float(rho[2, 2, 3]), 1), round(float(rho[2, 3, 2]), 1)
    (0.7, 0.0)
    """
    use = np.asarray(use, bool)
    stated = np.asarray(stated, np.float64)
    w = np.where(use, np.asarray(sample, np.float64) / np.where(use, stated, 1.0), 0.0)
    u = use.astype(np.float64)
    lag = int(max_lag_px)
    shape = [n + lag for n in w.shape]
    axes = tuple(range(w.ndim))
    fw, fu = np.fft.rfftn(w, shape, axes), np.fft.rfftn(u, shape, axes)
    cw = np.fft.irfftn(fw * np.conj(fw), shape, axes)
    cu = np.fft.irfftn(fu * np.conj(fu), shape, axes)
    idx = np.ix_(*[np.r_[n - lag:n, 0:lag + 1] for n in shape])  # lags -L..L on each axis
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cw[idx] / cu[idx]
    rho = np.where(cu[idx] > 0.5, rho, 0.0)  # lags without a pair of used voxels
    return rho / rho[lag, lag, lag]


def region_standard_errors(stated: Any, labels: Any, use: Any, rho: np.ndarray) -> dict[int, float]:
    """Standard error of each region's mean with correlated per-voxel noise.

    ``SE² = Σ_v Σ_w s_v s_w ρ(v − w) / n²`` over the region's used voxels (``s`` the
    stated errors, ``ρ`` :func:`noise_autocorrelation`, zero beyond its lags): the naive
    ``sd / √n`` assumes ``ρ = 0`` off the diagonal. A ramp-filtered reconstruction's noise
    is correlated positively between neighbours and negatively further out, so a region's
    error depends on its shape as well as its size.

    Parameters
    ----------
    stated : array-like, (z, y, x)
        Per-voxel 1-sigma errors.
    labels : array-like of int, (z, y, x)
        Regions (0: none).
    use : array-like of bool
        The voxels averaged (e.g. the trusted ones).
    rho : numpy.ndarray, (2L+1,)*3
        The noise's correlation by lag.

    Returns
    -------
    dict
        ``{label: standard error}`` (the stated errors' unit) for every region with a used voxel.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((1, 1, 8), int); labels[0, 0, :4] = 1
    >>> rho = np.zeros((3, 3, 3)); rho[1, 1, 1] = 1.0
    >>> region_standard_errors(np.ones(labels.shape), labels, labels > 0, rho)  # white: 1 / sqrt(4)
    {1: 0.5}
    >>> rho[1, 1, 0] = rho[1, 1, 2] = 0.5
    >>> round(region_standard_errors(np.ones(labels.shape), labels, labels > 0, rho)[1], 4)  # (4 + 2*3*0.5) / 16
    0.6614
    """
    from scipy import ndimage, signal

    lab = np.where(np.asarray(use, bool), np.asarray(labels), 0).astype(np.int64)
    s = np.where(lab > 0, np.asarray(stated, np.float64), 0.0)
    lag = rho.shape[0] // 2
    out: dict[int, float] = {}
    for g, box in enumerate(ndimage.find_objects(lab), start=1):
        if box is None:
            continue
        m = np.where(lab[box] == g, s[box], 0.0)
        n = int(np.count_nonzero(lab[box] == g))
        auto = signal.correlate(m, m, mode="full", method="direct" if m.size < 64 else "fft")
        # both centred on lag 0: crop each to the lags they share
        half = [min(lag, k - 1) for k in m.shape]
        a = auto[tuple(slice(k - 1 - h, k + h) for k, h in zip(m.shape, half))]
        r = rho[tuple(slice(lag - h, lag + h + 1) for h in half)]
        q = float(np.sum(a * r))
        out[g] = float(np.sqrt(q) / n) if q > 0 else float("nan")
    return out
