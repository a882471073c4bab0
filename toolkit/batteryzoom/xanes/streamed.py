"""Alignment, normalization and edge maps of a 3D XANES stack in one streamed pass (#29).

The aligned stack is never built. Shifts are estimated once on a box
(:func:`~batteryzoom.xanes.alignment.estimate_shifts`, a cost independent of the volume);
then, spatial block by spatial block, every energy's block is read displaced by its
whole-pixel shift with a halo of :data:`SPLINE_HALO_PX`, moved by its sub-pixel residual
(a separable cubic B-spline, :mod:`._blockshift`) and handed to the fused
normalize + edge kernel (:class:`~batteryzoom.xanes._fused._FixedPlan`); only the maps
leave the block. The same block function runs on numpy (a loop with progress) and on dask
(one task per block, which a ``dask.distributed`` client runs unchanged; a zarr store or
a zarr-backed dask array is read chunk by chunk inside the task).

Why a spline and not the Fourier shift of :func:`~batteryzoom.xanes.align`'s default: a
Fourier shift is a sinc interpolation whose weights decay as ``1/distance``, so a block's
result depends on the whole volume (a 16-pixel halo still leaves ~2 % of the contrast).
The cubic B-spline's prefilter decays as ``0.268**distance``: at the halo's 16 pixels
``7e-10``, so blocks of any size give the whole volume's values to float32 rounding, and
:func:`~batteryzoom.xanes.apply_shifts` with ``method="spline"`` (order 3, mode
``"nearest"``) runs the same function on the whole volume: the in-memory reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._blocks import block_grid, is_dask, n_threads
from .._progress import progress
from ..errors import InputError
from ._blockshift import SPLINE_HALO_PX, aligned_block

__all__ = ["SPLINE_HALO_PX", "aligned_edge_maps"]


class _Source:
    """A stack read inside a task: holds a zarr/numpy/dask array; dask does not look inside
    (a dask array given to a task as is would be computed whole as its input)."""

    def __init__(self, array: Any):
        self.array = array
        self.shape = array.shape

    def __getitem__(self, key):
        return self.array[key]


def _block_maps(source, shifts, starts, stops, keep, run, propagate, parallel=False) -> np.ndarray:
    """``(len(run.names), *block)`` maps of one block (float32; valid as 0/1)."""
    from .uncertainty import propagate_half_step_err

    block = aligned_block(source, shifts, starts, stops, keep, threads=n_threads() if parallel else 1)
    res = run.block(block, parallel=parallel)
    if propagate:  # the numpy paths' interpolation-only sigma, propagated as edge_maps does
        i = run.names.index("edge_energy_half_step_err_ev")
        res[i] = propagate_half_step_err(res[i], res[run.names.index("e0_ev")],
                                         res[run.names.index("edge_energy_half_step_ev")], run.energy, run.params)
    return res.astype(np.float32, copy=False)


def _check(stack: Any, block_px: Any) -> tuple[Any, Any]:
    """(array for the estimate, block source) of ``stack``; errors name the argument."""
    if isinstance(block_px, bool) or not isinstance(block_px, (int, np.integer)) or block_px < 8:
        raise InputError(f"block_px={block_px!r}: an integer >= 8 (pixels per axis of a block)")
    if is_dask(stack):
        return stack, _Source(stack)
    if isinstance(stack, np.ndarray):
        return stack, stack
    if hasattr(stack, "shape") and hasattr(stack, "dtype") and hasattr(stack, "__getitem__"):
        import dask.array as da  # zarr / h5py: the estimate reads its boxes through dask

        return da.from_array(stack, chunks=getattr(stack, "chunks", "auto")), _Source(stack)
    try:
        array = np.asarray(stack)
    except Exception as exc:  # noqa: BLE001 - the message names the argument
        raise InputError(f"stack: cannot be read as an array ({exc})") from exc
    return array, array


def aligned_edge_maps(
    stack: Any,
    energy: Any = None,
    *,
    block_px: int = 128,
    reference: Any = None,
    shifts: Any = None,
    fov: str = "common",
    methods: str | tuple[str, ...] = ("half_step",),
    e0: Any = "mean",
    noise: str | float = "pooled",
    show_progress: bool | None = None,
    **ranges: Any,
) -> tuple[dict[str, Any], np.ndarray]:
    """Align, normalize and compute edge maps of a 3D XANES stack block by block.

    The streamed equivalent of ``edge_maps(apply_shifts(stack, shifts, method="spline"))``
    (module docstring): the aligned stack is never built, so a stack larger than memory
    (a zarr store) runs in bounded memory, on numpy, dask or a ``dask.distributed`` client.

    Parameters
    ----------
    stack : numpy array, dask array, zarr array or xarray.DataArray
        ``(E, z, y, x)`` optical density, energy first, any float or int dtype (read as
        float32). A zarr array (or a dask array from ``dask.array.from_zarr``) is read
        chunk by chunk inside each block's task.
    energy : array-like, optional
        ``(E,)`` eV, increasing (default: the DataArray's coordinate).
    block_px : int
        Edge (pixels) of the cubic spatial blocks. Peak memory of a block is about
        ``E * block_px**3 * 4`` bytes (its aligned spectra, float32) plus a few
        ``(block_px + 32)**3 * 4`` (one energy's read with its halo and the spline's
        temporaries): 0.5 GB for 60 energies at 128 (the default), 1.0 GB at 160.
        The results do not depend on it (to float32 rounding).
    reference : int or float, optional
        Reference frame (index or eV) of the shift estimate (default the last, post-edge).
    shifts : array-like, optional
        ``(E, 3)`` displacements (pixels) to use instead of estimating them.
    fov : {"common", "full"}
        As :func:`~batteryzoom.xanes.apply_shifts`: NaN (invalid) outside the field of view
        every energy covered, or keep every voxel.
    methods, noise, **ranges
        As :func:`~batteryzoom.xanes.edge_maps` (default the half-step edge only).
    e0 : "mean" or float
        ``"mean"``: Larch's find_e0 of the mean aligned spectrum of the box where shifts
        are estimated (at most 64³ voxels, the whole volume when smaller; there the same
        as :func:`~batteryzoom.xanes.edge_maps`); the pooled noise level comes from the
        same box. A float: that e0 (eV).
    show_progress : bool, optional
        Progress of the shift estimate and (numpy) of the blocks; on dask, use dask's own
        diagnostics (``dask.diagnostics.ProgressBar``, the distributed dashboard).

    Returns
    -------
    (maps, shifts)
        ``maps``: dict of ``(z, y, x)`` maps as :func:`~batteryzoom.xanes.edge_maps`
        returns them (``edge_energy_<method>_ev`` in eV, ``edge_step``,
        ``pre_edge_noise``, float32; ``valid`` bool; ``e0_ev``), numpy for a numpy stack,
        lazy dask arrays otherwise (one chunk per block: compute them, or write them with
        ``to_zarr``); an xarray.Dataset on the DataArray's space for a DataArray.
        ``shifts``: ``(E, 3)`` float64 pixels.

    Raises
    ------
    InputError
        A stack that is not ``(E, z, y, x)``, an unknown ``fov``, a bad ``block_px`` or
        ``shifts`` of the wrong shape, or a scan too coarse for an edge.

    Examples
    --------
    The middle 32³ of the twin's 60-energy particle in 16³ blocks, against the
    whole-volume (in-memory) path with the same shifts (given here, to keep the example
    short; by default they are estimated, as :func:`~batteryzoom.xanes.align` does):

    >>> import numpy as np, batteryzoom as bz
    >>> stack = bz.data.load("twin/particle-xanes")
    >>> od, energy = stack.values[:, 12:44, 12:44, 12:44], stack["energy"].values
    >>> given = np.outer(np.linspace(-1.5, 1.5, 60), [1.0, -0.5, 0.25])  # pixels (z, y, x)
    >>> maps, shifts = bz.xanes.aligned_edge_maps(od, energy, block_px=16, shifts=given, show_progress=False)
    >>> whole = bz.xanes.edge_maps(bz.xanes.apply_shifts(od, shifts, method="spline"), energy,
    ...                            methods=("half_step",))
    >>> edge = maps["edge_energy_half_step_ev"]
    >>> edge.shape, edge.dtype, shifts.shape
    ((32, 32, 32), dtype('float32'), (60, 3))
    >>> bool(np.nanmax(np.abs(edge - whole["edge_energy_half_step_ev"])) < 1e-3)
    True
    """
    from .alignment import _information_box, _reference_index, common_fov_slices, estimate_shifts
    from .edges import _check_methods, _EdgeRun, _noise_level, _resolve_e0
    from .normalization import LarchDefaults, pre_edge_ranges
    from .stack import check_energy, maps_dataset, split_input

    template = None
    if hasattr(stack, "dims") and hasattr(stack, "coords"):  # a DataArray: its energy and space
        stack, energy, template = split_input(stack, energy)
    elif energy is None:
        raise InputError("energy is required for a plain array stack: pass energy=<eV values, one per frame>")
    estimate_input, source = _check(stack, block_px)
    if estimate_input.ndim != 4:
        raise InputError(f"stack: shape {estimate_input.shape}; aligned_edge_maps needs (E, z, y, x) volumes")
    if fov not in ("common", "full"):
        raise InputError(f"fov={fov!r}: use 'common' (NaN outside the field of view every energy covered) or 'full'")
    if not (e0 == "mean" if isinstance(e0, str) else isinstance(e0, (int, float, np.number))
            and not isinstance(e0, bool) and np.isfinite(e0)):
        raise InputError(f"e0={e0!r}: use 'mean' or a number in eV (one e0 for every voxel: the fused kernel)")
    methods = _check_methods(methods)
    energy = check_energy(energy, estimate_input.shape[0])
    space = tuple(estimate_input.shape[1:])
    if shifts is None:
        shifts = estimate_shifts(estimate_input, energy, reference=reference, show_progress=show_progress)
    shifts = np.asarray(shifts, np.float64)
    if shifts.shape != (len(energy), 3):
        raise InputError(f"shifts: shape {shifts.shape}; expected {(len(energy), 3)} (pixels per energy and axis)")
    keep = common_fov_slices(space, shifts) if fov == "common" else None
    params = LarchDefaults(**ranges)
    box = None
    if isinstance(e0, str) or noise == "pooled":  # from the aligned box where shifts are estimated
        crop = tuple(min(64, n) for n in space)
        box_at = _information_box(estimate_input[_reference_index(energy, reference)], crop)
        box = aligned_block(source, shifts, box_at, tuple(a + k for a, k in zip(box_at, crop)), keep)
    e0_ev = float(_resolve_e0(box, energy, e0))
    pre_edge_ranges(energy, e0_ev, params)
    noise_od = _noise_level(noise, box, energy, e0_ev, params, (-15.0, 15.0), methods)
    del box
    run = _EdgeRun(np.dtype(np.float32), energy, e0_ev, params, methods, (-15.0, 15.0), 1.0, noise_od, True, None)
    propagate = "half_step" in methods and not run.kernel_writes
    blocks = [(tuple(c.start for c in core), tuple(c.stop for c in core)) for core, _ in block_grid(space, int(block_px))]
    names = run.names
    if isinstance(source, np.ndarray):
        out = np.empty((len(names),) + space, np.float32)
        for a, b in progress(blocks, "aligned edge maps", enabled=show_progress, unit="block"):
            out[(slice(None),) + tuple(slice(x, y) for x, y in zip(a, b))] = _block_maps(
                source, shifts, a, b, keep, run, propagate, parallel=True)
        parts = {name: out[i] for i, name in enumerate(names)}
    else:
        parts = _lazy_maps(source, shifts, blocks, space, keep, run, propagate, int(block_px))
    parts["valid"] = parts["valid"] > 0.5
    if template is not None:
        parts = maps_dataset(template, parts, {"methods": list(methods), "e0": e0_ev, "block_px": int(block_px),
                                               "interpolation": "cubic spline"})
    return parts, shifts


def _lazy_maps(source, shifts, blocks, space, keep, run, propagate, block_px) -> dict[str, Any]:
    """The maps as dask arrays, one task per block (the source and plan shipped once)."""
    import dask
    import dask.array as da

    src, plan = dask.delayed(source, traverse=False), dask.delayed(run, traverse=False)
    task = dask.delayed(_block_maps, pure=True)
    n_per_axis = [len(range(0, n, block_px)) for n in space]
    grid = np.empty(n_per_axis, object)
    for a, b in blocks:
        shape = (len(run.names),) + tuple(y - x for x, y in zip(a, b))
        grid[tuple(x // block_px for x in a)] = da.from_delayed(
            task(src, shifts, a, b, keep, plan, propagate), shape, dtype=np.float32)
    res = da.block(grid.tolist())
    return {name: res[i] for i, name in enumerate(run.names)}
