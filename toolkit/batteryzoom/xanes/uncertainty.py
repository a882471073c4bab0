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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .normalization import LarchDefaults, _lstsq_operator, pre_edge_ranges

__all__ = ["half_step_err_quadratic", "half_step_error_factor", "half_step_rows", "normalization_operators",
           "propagate_half_step_err"]


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
    if type(err_ev).__module__.split(".")[0] == "dask":
        import dask.array as da

        return da.map_blocks(lambda a, b, c: propagate_half_step_err(a, b, c, energy, params), err_ev, e0_ev,
                             edge_ev, dtype=np.float64)
    e0 = np.asarray(e0_ev, np.float64)
    if e0.ndim and np.unique(e0[np.isfinite(e0)]).size > 256:
        e0 = np.round(e0, 2)
    return np.asarray(err_ev, np.float64) * half_step_error_factor(energy, e0, edge_ev, params)
