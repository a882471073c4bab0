"""Edge energy per voxel by three methods, with an uncertainty from the pre-edge noise.

- ``"half_step"``: where the normalized spectrum crosses 0.5, linearly interpolated
  between the two grid energies around the crossing; when noise makes several upward
  crossings, the one nearest ``e0`` (Larch's steepest point) counts. Uncertainty:
  ``sigma_norm * |r| / slope``, with ``sigma_norm`` the noise over the edge step (by
  default the stack's pre-edge noise pooled over its voxels: :func:`edge_maps`'s
  ``noise``, and :mod:`.uncertainty` for why), ``slope`` the normalized spectrum's slope
  (1/eV) across the crossing and ``|r|`` the first-order propagation of white noise
  through the two interpolated points, the extrapolated pre-edge line and the edge step
  (:mod:`.uncertainty`; the numpy paths compute the interpolation-only part
  ``sqrt((1 - t)**2 + t**2)``, ``t`` the interpolation fraction, and :func:`edge_maps`
  scales it; the compiled kernel computes ``|r|`` itself).
- ``"derivative"``: the maximum of the derivative of the normalized spectrum smoothed by
  a Gaussian of ``smooth_ev`` (eV, on the non-uniform grid), refined by the vertex of the
  parabola through the maximum and its two neighbours.
- ``"white_line"``: the maximum of the normalized spectrum between ``e0`` and
  ``e0 + white_line_window_ev``, refined by the vertex of a least-squares parabola through
  5 points around it.

All methods search within ``window_ev`` of each voxel's ``e0`` and return NaN when they
find nothing (no crossing, a maximum on the window edge), so failed voxels are masked,
never crash.

Three paths compute the same maps (:func:`edge_maps` chooses): the fused path for one
normalization e0 (:mod:`._fused`: the compiled kernel, or its numpy float32 reference) and
the general float64 path (:mod:`._general`: any e0, one per voxel included).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _kernels
from .._blocks import is_dask, map_ranges, map_spatial
from ..errors import InputError
from ._fused import _FixedPlan
from ._general import DEFAULT_WINDOW_EV, EDGE_METHODS, _edge_block, _rows
from .normalization import LarchDefaults, e0_of_mean_spectrum, pre_edge_ranges
from .stack import maps_dataset, split_input
from .uncertainty import pooled_noise, propagate_half_step_err

__all__ = ["EDGE_METHODS", "edge_energy", "edge_maps"]


def _check_methods(methods) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    bad = [m for m in methods if m not in EDGE_METHODS]
    if bad or not methods:
        raise InputError(f"method(s) {bad or methods} unknown: choose from {EDGE_METHODS}")
    return methods


def _resolve_e0(array, energy, e0):
    if isinstance(e0, str):
        if e0 != "mean":
            raise InputError(f"e0={e0!r}: use None (per voxel), 'mean', or a number in eV")
        return e0_of_mean_spectrum(array, energy)
    return e0


_MAP_FIELDS = ("e0_ev", "edge_step", "pre_edge_noise", "valid")



def edge_maps(
    stack: Any,
    energy: Any = None,
    *,
    methods: str | tuple[str, ...] = EDGE_METHODS,
    e0: Any = "mean",
    window_ev: tuple[float, float] = DEFAULT_WINDOW_EV,
    smooth_ev: float = 1.0,
    block_voxels: int | None = None,
    fast: bool = True,
    noise: str | float = "pooled",
    **ranges: Any,
) -> Any:
    """Normalization, edge energies and masks' inputs per voxel, in one pass over the stack.

    Parameters
    ----------
    stack : array-like or xarray.DataArray
        ``(E, ...)`` absorbance (optical density), energy first; numpy or dask (chunked
        over space: each chunk is processed on its own, so memory stays bounded).
    energy : array-like, optional
        ``(E,)`` eV; default the DataArray's coordinate.
    methods : str or tuple
        Any of :data:`EDGE_METHODS`.
    e0 : "mean", None, float
        ``"mean"`` (default): Larch's find_e0 of the mean spectrum (of at most ~262,000 voxels,
        :func:`~batteryzoom.xanes.normalization.e0_of_mean_spectrum`) sets one normalization
        range for every voxel (fast, robust to voxel noise); None: per-voxel find_e0
        (Larch exactly, slower); a float: that e0.
    window_ev : (float, float)
        Search window of the edge relative to e0 (eV).
    smooth_ev : float
        Gaussian smoothing (eV) of the derivative method.
    block_voxels : int, optional
        Voxels per internal block (bounds temporaries; results do not depend on it).
        Default 65,536 for the compiled kernel (its temporaries are per 4,096-voxel tile;
        with 16,384 the thread pool's hand-offs cost ~10 % of a large stack's time) and
        16,384 for the numpy paths.
    fast : bool
        With one e0 for all voxels, use the fused kernel: one pass over the stack, compiled
        (numba, float64 sums: equal to the general path to float64 rounding) or, with
        ``BATTERYZOOM_NUMBA=0``, numpy (float32: two small matrix products per block, then
        only the energies around the edge; within float32 rounding of the general path,
        ~1e-2 eV at worst, except where rounding moves a noisy spectrum across half its
        step, which can pick another crossing). False forces the general float64 path.
    noise : "pooled", "voxel" or float
        The noise (absorbance per energy) the half-step uncertainty propagates.
        ``"pooled"`` (default): one level for every voxel, from the pre-edge residuals of
        an even sample's voxels with an edge
        (:func:`~batteryzoom.xanes.uncertainty.pooled_noise`; each voxel's own when the
        sample holds fewer than 100): calibrated where the noise is the same everywhere, as
        in a tomographic reconstruction. ``"voxel"``: each voxel's own pre-edge residual,
        for noise that varies from voxel to voxel (2D transmission maps of very uneven
        thickness); it rests on ~5 degrees of freedom, so those error bars scatter by
        ~30 % and their robust spread reads 1.08x. A number > 0: that level, e.g. from
        the detector's counts. ``pre_edge_noise`` is each voxel's own in every case.
    **ranges
        Larch parameters ``pre1, pre2, norm1, norm2, nnorm, nvict, npre``. ``nvict=3``
        (a pre-edge line in ``mu * E**3``) follows the matrix background's ``E**-3``
        curvature that Larch's default straight line misses (a few 0.01 eV on the
        half-step; :mod:`~batteryzoom.xanes.normalization`); the compiled kernel runs it
        (without numba: the general path).

    Returns
    -------
    xarray.Dataset or dict
        Over space (the stack's shape without energy): ``edge_energy_<method>_ev``
        for each method, ``edge_energy_half_step_err_ev`` (1 sigma, eV) when half-step is
        asked, ``e0_ev``, ``edge_step`` (absorbance), ``pre_edge_noise`` (absorbance),
        ``valid`` (bool). NaN where a spectrum failed. The float maps keep the stack's
        precision: float32 for a float32 stack (computed in float64, rounded once at the
        end: 0.0005 eV at the Ni K-edge), float64 for any other dtype (ints included);
        half the memory (and of the page faults of fresh output) for the usual float32
        TXM stack. The Dataset's attributes include ``noise`` (``"pooled"``, ``"voxel"``
        or ``"given"``) and ``noise_od`` (the level propagated, absorbance per energy;
        NaN where each voxel's own was).

    Examples
    --------
    A noise-free edge (an arctan step at 8342 eV on a 2 eV grid) in a 2 x 2 map:

    >>> import numpy as np, batteryzoom as bz
    >>> energy = np.arange(8200.0, 8601.0, 2.0)
    >>> mu = 0.1 + 0.5 + np.arctan((energy - 8342.0) / 1.5) / np.pi
    >>> maps = bz.xanes.edge_maps(np.tile(mu[:, None, None], (1, 2, 2)), energy)
    >>> sorted(maps)
    ['e0_ev', 'edge_energy_derivative_ev', 'edge_energy_half_step_err_ev', 'edge_energy_half_step_ev',
     'edge_energy_white_line_ev', 'edge_step', 'pre_edge_noise', 'valid']
    >>> maps["edge_energy_half_step_ev"].round(2)
    array([[8341.99, 8341.99],
           [8341.99, 8341.99]])
    """
    methods = _check_methods(methods)
    array, energy, template = split_input(stack, energy)
    params = LarchDefaults(**{k: ranges[k] for k in ranges})
    e0 = _resolve_e0(array, energy, e0)
    e0_exact = float(e0) if e0 is not None else None
    if e0_exact is not None:
        pre_edge_ranges(energy, e0_exact, params)
    noise_od = _noise_level(noise, array, energy, e0_exact, params, window_ev, methods)
    run = _EdgeRun(array.dtype, energy, e0_exact, params, methods, window_ev, smooth_ev, noise_od, fast,
                   block_voxels)
    parts = run.maps(array)
    if "half_step" in methods and not run.kernel_writes:
        # the kernels give the interpolation-only sigma; add the pre-edge line's and the edge
        # step's noise (first-order propagation, see .uncertainty: ~1.6x on a beamline grid)
        key = "edge_energy_half_step_err_ev"
        parts[key] = propagate_half_step_err(parts[key], parts["e0_ev"], parts["edge_energy_half_step_ev"],
                                             energy, params)
    parts = {k: v if k == "valid" else v.astype(run.map_dtype, copy=False) for k, v in parts.items()}
    if template is None:
        return parts
    return maps_dataset(template, parts, {"methods": list(methods), "window_ev": list(window_ev),
                                          "smooth_ev": smooth_ev, "e0": "per voxel" if e0_exact is None else e0_exact,
                                          "noise": noise if isinstance(noise, str) else "given",
                                          "noise_od": np.nan if noise_od is None else noise_od})


class _EdgeRun:
    """How :func:`edge_maps` computes its blocks: the path, the dtypes, the block size.

    The compiled kernel runs for native float32/float64 stacks with one e0 (ints, float16
    or big-endian data take the numpy path rather than a compilation per dtype); it writes
    the final maps (its sums are float64) straight into the maps' dtype and propagates the
    half-step uncertainty itself (``kernel_writes``); the numpy paths keep float64 until
    :func:`edge_maps` has propagated it, then round.
    """

    def __init__(self, dtype, energy, e0_exact, params, methods, window_ev, smooth_ev, noise_od, fast,
                 block_voxels):
        self.energy, self.e0_exact, self.params, self.methods = energy, e0_exact, params, methods
        self.window_ev, self.smooth_ev, self.noise_od = window_ev, smooth_ev, noise_od
        names = [f"edge_energy_{m}_ev" for m in methods]
        if "half_step" in methods:
            names.append("edge_energy_half_step_err_ev")
        self.names = names + list(_MAP_FIELDS)
        kernel_dtype = dtype in (np.float32, np.float64) and dtype.isnative
        self.plan = None
        if fast and e0_exact is not None and (not params.nvict or (_kernels.enabled() and kernel_dtype)):
            self.plan = _FixedPlan(energy, e0_exact, params, methods, window_ev, smooth_ev, noise_od)
        self.kernel_writes = self.plan is not None and _kernels.enabled() and kernel_dtype
        four_byte_float = dtype.kind == "f" and dtype.itemsize == 4
        self.map_dtype = np.dtype(np.float32 if four_byte_float else np.float64)
        self.block_dtype = self.map_dtype if self.kernel_writes else np.dtype(np.float64)
        if block_voxels is None:
            block_voxels = 65536 if self.kernel_writes else 16384
        elif (not isinstance(block_voxels, (int, np.integer)) or isinstance(block_voxels, bool)
              or block_voxels < 1):
            raise InputError(f"block_voxels: must be an integer >= 1, got {block_voxels!r}")
        self.block_voxels = block_voxels

    def maps(self, array) -> dict[str, Any]:
        """Every map of ``array`` ``(E, *space)``: dask chunk by chunk (lazy), numpy on every core."""
        names = self.names
        if is_dask(array):  # dask schedules the chunks on its own workers
            res = map_spatial(self.block, array, len(names), self.block_dtype)
            parts = {name: res[i] for i, name in enumerate(names)}
            parts["valid"] = parts["valid"] > 0.5
            return parts
        found = self.block(array, parallel=True, split_valid=True)
        return {name: found[name] for name in names}

    def block(self, b, parallel=False, split_valid=False):
        """``(len(names), *space)`` maps (``block_dtype``) of a block; with ``split_valid`` the
        float maps without "valid" and the valid flags as a bool array (1 byte per voxel)."""
        names, n = self.names, len(self.energy)
        mu = np.asarray(b).reshape(n, -1)
        n_vox = mu.shape[1]
        rows = [x for x in names if x != "valid"] if split_valid else names
        res = np.empty((len(rows), n_vox), self.block_dtype)
        valid = np.empty(n_vox, bool) if split_valid else None

        def one(s, stop):
            if self.kernel_writes:
                self.plan.run_kernel(mu, s, stop, res, rows, valid)
                return
            part = mu[:, s:stop]
            if self.plan is not None:
                full = _rows(self.plan.run(part), names)
            else:
                full = _edge_block(self.energy, part, self.e0_exact, self.params, self.methods, self.window_ev,
                                   self.smooth_ev, names, self.noise_od)
            if split_valid:
                res[:, s:stop] = full[[names.index(x) for x in rows]]
                valid[s:stop] = full[names.index("valid")] > 0.5
            else:
                res[:, s:stop] = full

        if parallel:  # the kernel and numpy's array loops release the GIL: blocks on every core
            map_ranges(n_vox, self.block_voxels, one)
        else:
            for s in range(0, n_vox, self.block_voxels):
                one(s, min(s + self.block_voxels, n_vox))
        res = res.reshape((len(rows),) + b.shape[1:])
        if not split_valid:
            return res
        return dict(zip(rows, res)) | {"valid": valid.reshape(b.shape[1:])}


def _noise_level(noise, array, energy, e0_exact, params, window_ev, methods) -> float | None:
    """:func:`edge_maps`'s ``noise`` checked and turned into the level the half-step
    uncertainty propagates (absorbance per energy; None: each voxel's own)."""
    if isinstance(noise, str):
        if noise not in ("pooled", "voxel"):
            raise InputError(f"noise={noise!r}: not a choice; use noise='pooled' (one level for the stack, the "
                             "default), 'voxel' (each voxel's own) or a noise level > 0 in absorbance units")
        if noise == "voxel" or "half_step" not in methods:
            return None
        return pooled_noise(array, energy, e0_exact, params, window_ev)
    try:
        level = float(noise)
    except (TypeError, ValueError):
        level = np.nan
    if isinstance(noise, bool) or not np.isfinite(level) or level <= 0:
        raise InputError(f"noise={noise!r}: a given noise level must be one finite number > 0 (absorbance per "
                         "energy); or use noise='pooled' or 'voxel'")
    return level


def edge_energy(
    stack: Any,
    energy: Any = None,
    *,
    method: str = "half_step",
    e0: Any = "mean",
    window_ev: tuple[float, float] = DEFAULT_WINDOW_EV,
    smooth_ev: float = 1.0,
    **ranges: Any,
) -> Any:
    """Edge energy per spectrum/voxel by one method (see the module docstring).

    Parameters
    ----------
    stack, energy, e0, window_ev, smooth_ev, **ranges
        As :func:`edge_maps`.
    method : {"half_step", "derivative", "white_line"}

    Returns
    -------
    float, array or xarray.DataArray
        Edge energy (eV, float64) over space; a float for one spectrum. The half-step
        method's uncertainty is in :func:`edge_maps` (``edge_energy_half_step_err_ev``).

    Examples
    --------
    >>> import numpy as np, batteryzoom as bz
    >>> energy = np.arange(8200.0, 8601.0, 2.0)
    >>> mu = 0.6 + np.arctan((energy - 8342.0) / 1.5) / np.pi - 1e-4 * (energy - 8200)
    >>> round(bz.xanes.edge_energy(mu, energy), 2), round(bz.xanes.edge_energy(mu, energy, method="derivative"), 2)
    (8341.99, 8342.0)
    """
    maps = edge_maps(stack, energy, methods=(method,), e0=e0, window_ev=window_ev, smooth_ev=smooth_ev, **ranges)
    value = maps[f"edge_energy_{method}_ev"]
    if np.ndim(value) == 0 and not hasattr(value, "dims"):
        return float(value)
    return value
