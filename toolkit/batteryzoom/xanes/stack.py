"""Stack plumbing shared by the XANES functions: checks, numpy/dask/xarray dispatch.

Conventions: the energy axis is axis 0; every other axis is "space". A function's core
works on a numpy block ``(E, n_voxels)`` (or ``(E, ...)``) and is lifted to dask by
:func:`map_spatial` (:mod:`batteryzoom._blocks`, re-exported here), which keeps energy in
one chunk and maps every spatial chunk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._blocks import is_dask, map_ranges, map_spatial
from .._kernels import enabled
from .._transmission import optical_density
from ..errors import InputError

__all__ = ["optical_density", "check_energy", "split_input", "map_spatial", "is_dask", "mean_spectrum", "even_sample"]


def check_energy(energy: Any, n_frames: int | None = None, name: str = "energy") -> np.ndarray:
    """Validate an energy axis (eV): 1-D, finite, strictly increasing, one per frame.

    Raises
    ------
    InputError
        Naming the first repeated or decreasing point, or the count mismatch.
    """
    energy = np.asarray(energy, dtype=np.float64)
    if energy.ndim != 1:
        raise InputError(f"{name} must be 1-D (one energy per frame); got shape {energy.shape}")
    if not np.all(np.isfinite(energy)):
        bad = int(np.nonzero(~np.isfinite(energy))[0][0])
        raise InputError(f"{name}[{bad}] is {energy[bad]}: every energy must be a finite number (eV)")
    step = np.diff(energy)
    if np.any(step <= 0):
        i = int(np.nonzero(step <= 0)[0][0])
        what = "repeated" if step[i] == 0 else "decreasing"
        raise InputError(
            f"{name} must be strictly increasing; {name}[{i}] = {energy[i]:.3f} eV and "
            f"{name}[{i + 1}] = {energy[i + 1]:.3f} eV are {what}. Sort the frames by energy "
            "and merge (average) frames taken at the same energy."
        )
    if n_frames is not None and energy.size != n_frames:
        raise InputError(
            f"the stack has {n_frames} frames along its energy axis (axis 0) but {name} has "
            f"{energy.size} values: pass one energy per frame"
        )
    return energy


def split_input(stack: Any, energy: Any = None) -> tuple[Any, np.ndarray, Any]:
    """``(array, energy, template)``: the raw array (numpy or dask) with energy first.

    ``template`` is the input DataArray (for rebuilding coordinates) or None.
    """
    template = None
    if hasattr(stack, "dims") and hasattr(stack, "coords"):  # xarray.DataArray
        if "energy" not in stack.dims:
            raise InputError(f"the DataArray has dims {stack.dims}; it needs an 'energy' dimension")
        stack = stack.transpose("energy", ...)
        if energy is None:
            energy = stack["energy"].values
        template = stack
        array = stack.data
    else:
        array = stack if is_dask(stack) else np.asarray(stack)
    if energy is None:
        raise InputError("energy is required for a plain array stack: pass energy=<eV values, one per frame>")
    if array.ndim < 1:
        raise InputError("the stack must have an energy axis (axis 0)")
    energy = check_energy(energy, array.shape[0])
    return array, energy, template


def spatial_frame(template: Any) -> tuple[tuple, dict]:
    """The dims and coords of a stack's space: ``template`` without its energy axis."""
    return template.dims[1:], {k: v for k, v in template.coords.items() if "energy" not in v.dims}


def maps_dataset(template: Any, maps: dict[str, Any], attrs: dict[str, Any]) -> Any:
    """Per-voxel maps (arrays over space) as an xarray Dataset on ``template``'s space.

    Variables whose name ends in ``_ev`` get ``units="eV"``; ``attrs`` go on the Dataset.
    """
    import xarray as xr

    dims, coords = spatial_frame(template)
    ds = xr.Dataset({k: (dims, v) for k, v in maps.items()}, coords=coords)
    for k in ds.data_vars:
        if k.endswith("_ev"):
            ds[k].attrs["units"] = "eV"
    ds.attrs.update(attrs)
    return ds


# e0 for the normalization ranges comes from the mean spectrum of at most this many
# voxels (an even strided sample): the mean of a quarter of a million spectra has the
# same derivative peak as that of all of them (its noise is 1/512 of one voxel's), at
# ~0.08x of a pass over a large stack (a million voxels: 0.18x, the same e0)
E0_SAMPLE_VOXELS = 1 << 18


def even_sample(array: Any, max_voxels: int | None) -> Any:
    """A strided view of ``array`` ``(E, *space)`` with at most ~``max_voxels`` voxels.

    Every spatial axis but the last (contiguous) one is taken with the same stride,
    starting half a stride in, so the sample spreads evenly over the volume and reads
    whole rows; a 1-D space is strided itself. ``array`` itself when it is small enough
    (or ``max_voxels`` is None).
    """
    space = array.shape[1:]
    n_vox = int(np.prod(space)) if space else 1
    if max_voxels is None or not space or n_vox <= max_voxels:
        return array
    lead = len(space) - 1 if len(space) > 1 else 1
    stride = int(np.ceil((n_vox / max(int(max_voxels), 1)) ** (1.0 / lead)))
    picks = tuple(slice(stride // 2, None, stride) for _ in range(lead))
    return array[(slice(None),) + picks]


def mean_spectrum(array: Any, max_voxels: int | None = None) -> np.ndarray:
    """Mean spectrum ``(E,)`` float64 over the voxels whose spectrum is finite everywhere.

    Parameters
    ----------
    array : numpy or dask array
        ``(E, *space)``, energy first.
    max_voxels : int, optional
        Average an even strided sample of about this many voxels (:func:`even_sample`)
        instead of all of them; when the sample has no finite spectrum, all voxels are
        used. None (default): every voxel.

    Raises
    ------
    InputError
        When no voxel has a finite spectrum.
    """
    sample = even_sample(array, max_voxels)
    if sample is not array:
        try:
            return mean_spectrum(sample)
        except InputError:  # the sample missed every finite spectrum: use them all
            pass
    if is_dask(array):
        import dask.array as da

        # no reshape: merging spatial axes of a chunked array would force a rechunk
        space = tuple(range(1, array.ndim))
        good = da.isfinite(array).all(axis=0)
        total = da.where(good[None], array, 0).sum(axis=space, dtype=np.float64)
        total, count = da.compute(total, good.sum())
    else:
        n_e = array.shape[0]
        step = 1 << 16  # voxels per block: no stack-sized temporaries
        compiled = array.dtype in (np.float32, np.float64) and array.dtype.isnative and enabled()
        if compiled:
            from .._kernels.xanes import row_sums_block
        if array.ndim >= 2 and not array.flags.c_contiguous:
            # a strided view (a sample): blocks of whole planes along the first spatial
            # axis, each copied contiguous (small), so nothing stack-sized is copied
            per_plane = int(np.prod(array.shape[2:]))
            planes = max(1, step // max(per_plane, 1))
            n_units, unit = array.shape[1], planes

            def columns(s: int, stop: int) -> tuple[np.ndarray, int, int]:
                part = np.ascontiguousarray(array[:, s:stop]).reshape(n_e, -1)
                return part, 0, part.shape[1]
        else:
            flat = array.reshape(n_e, -1)
            n_units, unit = flat.shape[1], step

            def columns(s: int, stop: int) -> tuple[np.ndarray, int, int]:
                return flat, s, stop

        def block(s: int, stop: int) -> tuple[np.ndarray, int]:
            rows, c0, c1 = columns(s, stop)  # voxels c0:c1 of rows (E, n)
            part = rows[:, c0:c1]
            if compiled:  # one vectorized pass (numpy's float64 sum of float32 casts in buffers)
                block_sum = np.empty(n_e)
                row_sums_block(rows, c0, c1, block_sum)
            else:
                block_sum = part.sum(axis=1, dtype=np.float64)
            if np.isfinite(block_sum).all():  # the usual case: one pass, no mask
                return block_sum, part.shape[1]
            good = np.isfinite(part).all(axis=0)
            return part[:, good].sum(axis=1, dtype=np.float64), int(good.sum())

        parts = map_ranges(n_units, unit, block)  # the sums release the GIL: every core
        total, count = np.zeros(n_e), 0
        for block_sum, n in parts:  # in block order: the same sum as one thread
            total += block_sum
            count += n
    if count == 0:
        raise InputError("no voxel has a finite spectrum (every one holds NaN or inf): nothing to analyse")
    return np.asarray(total, np.float64) / count

