"""Linear combination of reference spectra per voxel: exact NNLS, vectorized.

With ``k`` references (a handful in practice), the non-negative least-squares solution is
the best of the unconstrained least-squares solutions over the ``2**k - 1`` subsets of
references whose coefficients all come out non-negative (the active set at the optimum
is one of them). Each subset's solution is one small matrix product applied to every
voxel at once, so no per-voxel loop or per-voxel optimizer is needed. With
``sum_to_one=True`` each subset is solved with the equality constraint through its KKT
system.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from .._blocks import map_spatial
from ..errors import InputError
from .stack import spatial_frame, split_input

__all__ = ["linear_combination", "MAX_REFERENCES"]

MAX_REFERENCES = 8


def _subset_operators(a: np.ndarray, sum_to_one: bool) -> list[tuple[tuple[int, ...], np.ndarray, np.ndarray]]:
    """For every subset S: (S, P, q) with coefficients x_S = P @ y + q."""
    k = a.shape[1]
    ops = []
    for size in range(1, k + 1):
        for subset in combinations(range(k), size):
            sub = a[:, subset]
            if sum_to_one:
                # minimise |A_S x - y|^2 s.t. 1.x = 1: [[2A'A, 1],[1', 0]] [x; l] = [2A'y; 1]
                m = len(subset)
                kkt = np.zeros((m + 1, m + 1))
                kkt[:m, :m] = 2 * sub.T @ sub
                kkt[:m, m] = kkt[m, :m] = 1.0
                inv = np.linalg.pinv(kkt)
                p = inv[:m, :m] @ (2 * sub.T)
                q = inv[:m, m]
            else:
                p = np.linalg.pinv(sub)
                q = np.zeros(len(subset))
            ops.append((subset, p, q))
    return ops


def _lcf_block(y: np.ndarray, a: np.ndarray, ops, sum_to_one: bool) -> np.ndarray:
    """(k + 1, V): coefficients then rms residual, for spectra ``y`` (n, V)."""
    k = a.shape[1]
    nvox = y.shape[1]
    finite = np.isfinite(y).all(axis=0)
    y = np.where(finite[None], y, 0.0)
    best = np.full(nvox, np.inf)
    coef = np.full((k, nvox), np.nan)
    for subset, p, q in ops:
        x = p @ y + q[:, None]
        feasible = np.all(x >= -1e-12, axis=0)
        full = np.zeros((k, nvox))
        full[list(subset)] = np.clip(x, 0, None)
        resid = ((a @ full - y) ** 2).sum(axis=0)
        better = feasible & (resid < best - 1e-15)
        best = np.where(better, resid, best)
        coef[:, better] = full[:, better]
    rms = np.sqrt(best / y.shape[0])
    out = np.vstack([coef, rms[None]])
    out[:, ~finite] = np.nan
    if not sum_to_one:
        out[:, ~np.isfinite(best)] = np.nan
    return out


def linear_combination(
    stack: Any,
    references: Any,
    energy: Any = None,
    *,
    reference_energy: Any = None,
    names: list[str] | None = None,
    sum_to_one: bool = False,
    energy_range_ev: tuple[float, float] | None = None,
) -> Any:
    """Fit every spectrum as a non-negative combination of reference spectra.

    Parameters
    ----------
    stack : array-like or xarray.DataArray
        ``(E, ...)`` normalized spectra (e.g. ``normalize(...)["norm"]``), energy first.
    references : array-like ``(k, E_ref)``, dict of name -> 1-D DataArray, or list of DataArrays
        Normalized reference spectra. DataArrays (or ``reference_energy``) are
        interpolated onto the stack's energies; plain arrays must already share them.
    energy : array-like, optional
        ``(E,)`` eV of the stack.
    reference_energy : array-like, optional
        ``(E_ref,)`` eV of plain-array references.
    names : list of str, optional
        Reference names (default from the dict keys / DataArray names / ``ref0...``).
    sum_to_one : bool
        Constrain the fractions to sum to one (e.g. a state-of-charge map between a
        reduced and an oxidized reference).
    energy_range_ev : (float, float), optional
        Fit only energies in this range (eV), e.g. the XANES region.

    Returns
    -------
    xarray.Dataset or dict
        ``fraction`` ``(reference, ...)`` float64 >= 0 and ``residual_rms`` over space;
        NaN where a spectrum has NaN/inf.

    Examples
    --------
    A spectrum made of 30 % of one reference and 70 % of another:

    >>> import numpy as np, batteryzoom as bz
    >>> energy = np.arange(8300.0, 8400.0, 1.0)
    >>> ni2 = 0.5 + np.arctan((energy - 8340.0) / 1.5) / np.pi
    >>> ni3 = 0.5 + np.arctan((energy - 8341.5) / 1.5) / np.pi
    >>> fit = bz.xanes.linear_combination(0.3 * ni2 + 0.7 * ni3, np.stack([ni2, ni3]), energy, sum_to_one=True)
    >>> fit["fraction"].round(3)
    array([0.3, 0.7])
    """
    array, energy, template = split_input(stack, energy)
    refs, ref_names = _reference_matrix(references, energy, reference_energy, names)
    k = refs.shape[0]
    if k > MAX_REFERENCES:
        raise InputError(f"{k} references: the exact subset search handles at most {MAX_REFERENCES}")
    sel = np.ones(len(energy), bool)
    if energy_range_ev is not None:
        sel = (energy >= energy_range_ev[0]) & (energy <= energy_range_ev[1])
        if sel.sum() < k + 1:
            raise InputError(f"energy_range_ev={energy_range_ev} keeps {int(sel.sum())} energies; need > {k}")
    if not np.all(np.isfinite(refs[:, sel])):
        raise InputError("a reference spectrum is NaN inside the fitted energy range: "
                         "its energies do not cover the stack's; narrow energy_range_ev")
    a = refs[:, sel].T  # (n, k)
    ops = _subset_operators(a, sum_to_one)
    n = len(energy)

    def block(b):
        y = np.asarray(b, np.float64).reshape(n, -1)[sel]
        return _lcf_block(y, a, ops, sum_to_one).reshape((k + 1,) + b.shape[1:])

    res = map_spatial(block, array, k + 1, np.float64)
    fraction, resid = res[:k], res[k]
    if template is None:
        return {"fraction": fraction, "residual_rms": resid, "reference": ref_names}
    import xarray as xr

    dims, coords = spatial_frame(template)
    return xr.Dataset(
        {"fraction": (("reference",) + dims, fraction), "residual_rms": (dims, resid)},
        coords={**coords, "reference": ref_names},
        attrs={"sum_to_one": sum_to_one, "energy_range_ev": list(energy_range_ev or (energy[0], energy[-1]))},
    )


def _reference_matrix(references, energy, reference_energy, names) -> tuple[np.ndarray, list[str]]:
    items: list[tuple[str, Any]]
    if isinstance(references, dict):
        items = list(references.items())
    elif isinstance(references, (list, tuple)) and references and hasattr(references[0], "dims"):
        items = [(str(r.name or f"ref{i}"), r) for i, r in enumerate(references)]
    else:
        arr = np.atleast_2d(np.asarray(references, np.float64))
        if reference_energy is not None:
            ref_e = np.asarray(reference_energy, np.float64)
            arr = np.stack([np.interp(energy, ref_e, r, left=np.nan, right=np.nan) for r in arr])
        elif arr.shape[1] != len(energy):
            raise InputError(
                f"references have {arr.shape[1]} points but the stack has {len(energy)} energies: pass "
                "reference_energy= (eV) or DataArrays with an energy coordinate"
            )
        return arr, list(names or [f"ref{i}" for i in range(arr.shape[0])])
    rows = []
    for _, r in items:
        e = np.asarray(r["energy"].values if hasattr(r, "dims") else reference_energy, np.float64)
        rows.append(np.interp(energy, e, np.asarray(r, np.float64), left=np.nan, right=np.nan))
    return np.stack(rows), list(names or [str(n) for n, _ in items])
