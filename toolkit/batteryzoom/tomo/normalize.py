"""Flat/dark normalisation: projections to optical density ``-ln((I - D) / (I0 - D))``.

The conversion is :func:`batteryzoom._transmission.optical_density` (the package's one
Beer-Lambert conversion); this module chooses which flat each projection gets and checks
the flats first:

- flats taken in runs (consecutive acquisition frame numbers, e.g. before and after the
  scan) are averaged per run, and each projection gets the runs before and after it
  weighted linearly by its frame number (``*_order`` coordinates of the acquisition):
  a beam that drifts during the scan is followed (:func:`batteryzoom._transmission.
  reference_weights`); darks are averaged;
- a flat frame with no signal above the dark (more than half its pixels ``≤ D``) or a
  saturated one is refused with its frame number and the fix. Saturated: more than 1 %
  of its pixels at ``saturation_counts`` or above when given; otherwise, for integer
  frames, more than 1 % at a full-scale value of an 8- to 16-bit converter (2ᵏ − 1, the
  frame's maximum); float frames (already averaged) are checked only against
  ``saturation_counts``;
- projection pixels with ``I - D`` below half a count are floored there (a finite, large
  optical density: less than one photon arrived); pixels dead in the flats (``I0 - D ≤ 0``)
  are filled along the detector row from their nearest good neighbours, and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .._blocks import is_dask
from .._transmission import optical_density, reference_weights
from ..errors import InputError
from ..io.acquisition import check_acquisition

__all__ = ["normalize", "References", "references", "check_flats", "normalize_block"]

_SATURATED_FRACTION = 0.01
_FLOOR_COUNTS = 0.5
_BLOCK_ANGLES = 32


@dataclass(frozen=True)
class References:
    """The flat and dark frames one energy's projections are normalised with.

    Attributes
    ----------
    flats : numpy.ndarray, float32, (n_run, row, col)
        Mean flat of each run of consecutive flat frames (time order).
    dark : numpy.ndarray, float32, (row, col) or None
        Mean dark.
    weights : numpy.ndarray, float64, (n_angle, n_run)
        Each projection's share of every run (rows sum to 1).
    dead : numpy.ndarray of bool, (row, col)
        Pixels where some run's ``I0 - D ≤ 0`` (filled along the row).
    description : str
        What was done, in words (recorded in the volume's attributes).
    """

    flats: np.ndarray | None
    dark: np.ndarray | None
    weights: np.ndarray | None
    dead: np.ndarray | None
    description: str

    @property
    def normalized(self) -> bool:
        """Whether the projections already hold optical densities (nothing to do)."""
        return self.flats is None


def _name(acq: xr.Dataset) -> str:
    return str(acq.attrs.get("source_path") or "acquisition")


def _energy_view(acq: xr.Dataset, energy: int | None) -> xr.Dataset:
    if "energy" in acq.projections.dims:
        if energy is None:
            raise InputError(f"{_name(acq)}: a multi-energy acquisition; pass energy= (an index)")
        return acq.isel(energy=int(energy))
    return acq


def check_flats(acq: xr.Dataset, *, saturation_counts: float | None = None, energy: int | None = None) -> None:
    """Refuse flats without signal or saturated (module docstring), naming the frame.

    Parameters
    ----------
    acq : xarray.Dataset
        An acquisition (:mod:`batteryzoom.io.acquisition`).
    saturation_counts : float, optional
        The detector's saturation level (counts); default: full scale of integer frames
        (module docstring).
    energy : int, optional
        Check one energy of a multi-energy acquisition (default: all).

    Raises
    ------
    InputError
    """
    acq = check_acquisition(acq, _name(acq))
    if "flats" not in acq:
        return
    where = _name(acq)
    flats = acq.flats
    if "energy" in flats.dims and energy is not None:
        flats = flats.isel(energy=int(energy))
    dark = acq.darks.mean("dark") if "darks" in acq else None
    if dark is not None and "energy" in dark.dims and energy is not None:
        dark = dark.isel(energy=int(energy))
    f = flats.data.astype(np.float32)
    d = 0 if dark is None else dark.data.astype(np.float32)
    if "energy" in flats.dims and dark is not None:
        d = d[:, None]
    above = f - d
    frame_axes = (-2, -1)
    xp = np
    if is_dask(f):
        import dask.array as xp  # type: ignore[no-redef]
    fmax = f.max(axis=frame_axes, keepdims=True)
    if saturation_counts is not None:
        level = np.float32(saturation_counts)
    elif np.dtype(flats.dtype).kind in "iu":
        level = fmax  # counts as saturated below only when the maximum is full scale
    else:
        level = np.float32(np.inf)
    stats = (
        (above <= 0).mean(axis=frame_axes),
        (f >= level).mean(axis=frame_axes),
        xp.squeeze(fmax, axis=frame_axes),
    )
    if is_dask(f):
        import dask

        stats = dask.compute(*stats)
    dead_frac, sat_frac, peak = (np.atleast_2d(np.asarray(s)) for s in stats)
    order = np.asarray(acq.flat_order.values)
    for e, k in zip(*np.nonzero(dead_frac > 0.5)):
        raise InputError(f"{where}: flat frame {k} (acquisition frame {order[k]}"
                         f"{f', energy index {e}' if dead_frac.shape[0] > 1 else ''}) holds no signal above "
                         f"the dark ({dead_frac[e, k]:.0%} of its pixels ≤ dark): the beam was off or the frame is "
                         "empty. Drop it (acq.drop_isel(flat=[...])) or take new flats")
    full_scale = np.isin(peak, [2.0 ** b - 1 for b in range(8, 17)])
    hit = sat_frac > _SATURATED_FRACTION
    if saturation_counts is None:
        hit &= full_scale
    for e, k in zip(*np.nonzero(hit)):
        level = f"{saturation_counts:g} counts" if saturation_counts is not None else f"its maximum {peak[e, k]:g}"
        raise InputError(f"{where}: flat frame {k} (acquisition frame {order[k]}"
                         f"{f', energy index {e}' if sat_frac.shape[0] > 1 else ''}) is saturated: "
                         f"{sat_frac[e, k]:.1%} of its pixels sit at {level}. Transmission cannot be measured "
                         "against a clipped flat: take flats with a shorter exposure, or drop this one "
                         "(acq.drop_isel(flat=[...]))")


def references(acq: xr.Dataset, energy: int | None = None, *, interpolate: bool = True) -> References:
    """The flats (per run), dark and per-projection weights of one energy.

    Parameters
    ----------
    acq : xarray.Dataset
        An acquisition.
    energy : int, optional
        Index of the energy (multi-energy acquisitions).
    interpolate : bool
        Interpolate flat runs in time (default); False averages every flat.

    Returns
    -------
    References
    """
    acq = check_acquisition(acq, _name(acq))
    view = _energy_view(acq, energy)
    if "flats" not in view:
        return References(None, None, None, None, "projections already hold -ln(I/I0) (attrs['normalized'])")
    flats = np.asarray(view.flats.values, dtype=np.float32)
    dark = np.asarray(view.darks.values, dtype=np.float32).mean(axis=0) if "darks" in view else None
    n_angle = view.sizes["angle"]
    if interpolate:
        weights, runs = reference_weights(view.flat_order.values, view.projection_order.values)
    else:
        weights, runs = np.ones((n_angle, 1)), [np.arange(flats.shape[0])]
    means = np.stack([flats[r].mean(axis=0) for r in runs]).astype(np.float32)
    dead = np.any(means - (0 if dark is None else dark) <= 0, axis=0)
    orders = view.flat_order.values
    spans = ", ".join(f"{int(orders[r].min())}–{int(orders[r].max())}" for r in runs)
    how = (f"flats interpolated in acquisition order between {len(runs)} runs (frames {spans})"
           if len(runs) > 1 else f"mean of {flats.shape[0]} flat frame(s)")
    how += f", dark: {'mean of %d frame(s)' % view.sizes['dark'] if dark is not None else 'none'}"
    how += f"; I - D floored at {_FLOOR_COUNTS} count; {int(dead.sum())} dead flat pixel(s) filled along rows"
    return References(means, dark, weights, dead, how)


def _fill_dead(od: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """Replace dead detector pixels (same in every frame) by the mean of the nearest good
    pixels left and right in their row (or the one that exists)."""
    if not dead.any():
        return od
    for r in np.flatnonzero(dead.any(axis=-1)):
        good = np.flatnonzero(~dead[r])
        if good.size == 0:
            od[..., r, :] = 0.0
            continue
        bad = np.flatnonzero(dead[r])
        pos = np.searchsorted(good, bad)
        left = good[np.clip(pos - 1, 0, good.size - 1)]
        right = good[np.clip(pos, 0, good.size - 1)]
        od[..., r, bad] = 0.5 * (od[..., r, left] + od[..., r, right])
    return od


def normalize_block(projections: Any, refs: References, *, angles: Any = slice(None),
                    rows: Any = slice(None)) -> np.ndarray:
    """Optical densities of a block of projections ``(angle, row, col)`` (numpy).

    Parameters
    ----------
    projections : array-like
        The block (already sliced).
    refs : References
        Of the block's energy.
    angles, rows : slice or index array
        Which projections and detector rows the block holds (to pick weights and flats).

    Returns
    -------
    numpy.ndarray, float32, same shape
    """
    p = np.asarray(projections)
    if refs.normalized:
        od = p.astype(np.float32, copy=True)
        return od
    w = refs.weights[angles]  # (n_block, n_run)
    flats = refs.flats[:, rows, :]
    flat = np.tensordot(w.astype(np.float32), flats, axes=(1, 0))  # (n_block, rows, col)
    dark = None if refs.dark is None else refs.dark[rows, :]
    od = np.asarray(optical_density(p, flat, dark, floor=_FLOOR_COUNTS))
    return _fill_dead(od, refs.dead[rows, :])


def _normalize_energy(proj: Any, refs: References) -> Any:
    if is_dask(proj):
        import dask.array as da

        p = proj.rechunk({1: -1, 2: -1})

        def block(x, block_info=None):
            (a0, a1), _, _ = block_info[0]["array-location"]
            return normalize_block(x, refs, angles=slice(a0, a1))

        return da.map_blocks(block, p, dtype=np.float32)
    out = np.empty(proj.shape, np.float32)
    for a0 in range(0, proj.shape[0], _BLOCK_ANGLES):
        a1 = min(a0 + _BLOCK_ANGLES, proj.shape[0])
        out[a0:a1] = normalize_block(proj[a0:a1], refs, angles=slice(a0, a1))
    return out


def normalize(acquisition: xr.Dataset, *, interpolate: bool = True, check: bool = True,
              saturation_counts: float | None = None) -> xr.DataArray:
    """Optical densities of every projection (module docstring: flats, checks, floors).

    Parameters
    ----------
    acquisition : xarray.Dataset
        Raw acquisition (:func:`batteryzoom.io.acquisition.make_acquisition`), numpy or
        dask backed; an already normalised one (``attrs["normalized"]``) passes through.
    interpolate : bool
        Interpolate flat runs in time by acquisition order (default), else average all.
    check : bool
        Refuse flats without signal or saturated first (:func:`check_flats`).
    saturation_counts : float, optional
        The detector's saturation level, for the check.

    Returns
    -------
    xarray.DataArray, float32, dims of ``projections``
        ``-ln((I - D)/(I0 - D))``, dimensionless, lazy (dask) when the projections are;
        attrs: the acquisition's, plus ``normalization`` (what was done).

    Raises
    ------
    InputError
        Not an acquisition, raw projections without flats, a flat without signal or
        saturated.

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.io.acquisition import make_acquisition
    >>> from batteryzoom.tomo import normalize
    >>> flat = np.full((1, 2, 3), 1000.0)
    >>> acq = make_acquisition(np.repeat(flat, 4, 0) * np.exp(-0.5), [0, 45, 90, 135], flats=flat,
    ...                        angle_unit="deg")
    >>> od = normalize(acq)
    >>> od.dims, round(float(od.mean()), 4)
    (('angle', 'row', 'col'), 0.5)
    """
    acq = check_acquisition(acquisition, "acquisition")
    if check:
        check_flats(acq, saturation_counts=saturation_counts)
    proj = acq.projections
    if "energy" in proj.dims:
        parts, how = [], ""
        for e in range(proj.sizes["energy"]):
            refs = references(acq, e, interpolate=interpolate)
            parts.append(_normalize_energy(proj.data[e], refs))
            how = refs.description
        if is_dask(parts[0]):
            import dask.array as da

            data = da.stack(parts)
        else:
            data = np.stack(parts)
    else:
        refs = references(acq, interpolate=interpolate)
        data, how = _normalize_energy(proj.data, refs), refs.description
    attrs = {**acq.attrs, "normalization": how, "normalized": True,
             "quantity": "optical density -ln((I - D)/(I0 - D))"}
    return xr.DataArray(data, dims=proj.dims, coords=proj.coords, name="optical_density", attrs=attrs)
