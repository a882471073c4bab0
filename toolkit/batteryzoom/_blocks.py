"""Shared array plumbing for numpy and dask alike: what kind of array, and blocks of it.

One home for the helpers every compute package needs (is this dask? the array inside an
xarray object; iterate a big array block by block), so each package does not write its own.

Which block helper to use
-------------------------
- :func:`map_ranges`: index ranges ``[v0, v1)`` of *one* array already in memory, run on one
  thread per core. For compiled kernels (they release the GIL) that read a slice of a flat
  array and write into a preallocated output: the XANES per-voxel pass, row ranges of a
  histogram table.
- :func:`iter_blocks`: aligned blocks of *several* arrays of one shape (a map, its labels,
  a mask), numpy slabs or dask chunks, yielding one result per block in order. For a
  reduction over a big map (per-region sums, value ranges): the caller adds the partial
  results; a dask array is read a few chunks at a time, never whole.
- :func:`map_spatial`: a lazy map over the *spatial* chunks of an energy-first stack
  ``(E, *space)``: energy in one chunk, each block ``(E, ...) -> (n_out, ...)``. For
  per-voxel results that stay arrays (edge maps, normalized spectra); numpy in, numpy out.
- :func:`aligned_dask`: several arrays as dask arrays on the chunks of the first dask one
  (for an elementwise ``dask.array.map_blocks`` over them, as :func:`iter_blocks` reads them).
"""

from __future__ import annotations

import itertools

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ._progress import progress as _progress_bar
from ._progress import progress_enabled
from .errors import InputError

__all__ = ["is_dask", "unwrap", "n_threads", "distributed_client", "map_tasks", "map_ranges", "iter_blocks", "aligned_dask", "map_spatial",
           "NUMPY_BLOCK_VOXELS"]

#: numpy inputs of :func:`iter_blocks` are cut into slabs of about this many voxels
#: (temporaries stay small)
NUMPY_BLOCK_VOXELS = 2**21


def is_dask(array: Any) -> bool:
    """Whether ``array`` is a dask array, without importing dask (an xarray object is not:
    pass its ``.data``)."""
    return type(array).__module__.split(".")[0] == "dask"


def unwrap(x: Any, argname: str) -> Any:
    """The array inside an xarray object, a dask array as is, anything else as numpy (None
    stays None).

    Raises
    ------
    InputError
        Naming ``argname`` when ``x`` cannot be read as an array.
    """
    if x is None:
        return None
    if hasattr(x, "dims") and hasattr(x, "data") and hasattr(x, "attrs"):
        x = x.data
    if is_dask(x):
        return x
    try:
        out = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - the message names the argument
        raise InputError(f"{argname}: cannot be read as an array ({exc})") from exc
    declared = getattr(x, "shape", None)
    if declared is not None and not isinstance(x, np.ndarray) and tuple(declared) != out.shape:
        # napari's MultiScaleData says the finest level's shape and reads as the coarsest:
        # a result on the wrong level would look right
        raise InputError(f"{argname}: a {type(x).__name__} of shape {tuple(declared)} reads as an array of "
                         f"shape {out.shape}; pass the level meant (a multiscale layer's finest: data[0])")
    return out


def n_threads() -> int:
    """Threads for block-parallel work: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def distributed_client() -> Any:
    """The active ``dask.distributed`` client, or None (never imports distributed itself)."""
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import get_client

        return get_client()
    except (ValueError, ImportError):
        return None


def map_tasks(func: Callable[[Any], Any], items: list, *, desc: str = "tasks", progress: bool | None = None,
              unit: str = "task") -> list:
    """``[func(item), ...]`` in order, each item one task: on the active ``dask.distributed``
    client's workers when there is one (``func`` and the items are pickled), else on one
    thread per core; a progress bar ``desc`` ticks as tasks finish.

    An exception in a task is raised here; the tasks not yet started are cancelled.
    """
    client = distributed_client()
    if client is not None:
        from distributed import as_completed

        futures = [client.submit(func, item, pure=False) for item in items]
        try:
            for _ in _progress_bar(as_completed(futures), desc, total=len(items), enabled=progress, unit=unit):
                pass
            return [f.result() for f in futures]
        finally:
            client.cancel([f for f in futures if not f.done()])
    from concurrent.futures import ThreadPoolExecutor, as_completed as done_in_order

    with ThreadPoolExecutor(max_workers=min(n_threads(), max(1, len(items)))) as pool:
        futures = [pool.submit(func, item) for item in items]
        try:
            for _ in _progress_bar(done_in_order(futures), desc, total=len(items), enabled=progress, unit=unit):
                pass
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.cancel()


def map_ranges(n: int, size: int, func: Callable[[int, int], Any]) -> list:
    """``[func(v0, v1), ...]`` over ``range(n)`` in ranges of ``size``, in order, on one
    thread per core (the kernels release the GIL); on the caller's thread when one range
    or one core."""
    size = max(1, int(size))
    starts = range(0, n, size)
    threads = min(n_threads(), len(starts))
    if threads <= 1:
        return [func(s, min(s + size, n)) for s in starts]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda s: func(s, min(s + size, n)), starts))


def aligned_dask(arrays: Sequence[Any]) -> list:
    """``arrays`` as dask arrays on the chunks of the first dask one (None entries stay
    None): the other dask arrays are rechunked, numpy ones split, to match."""
    import dask.array as da

    chunks = next(a for a in arrays if a is not None and is_dask(a)).chunks
    return [None if a is None else (a.rechunk(chunks) if is_dask(a) else da.from_array(a, chunks=chunks))
            for a in arrays]


def block_grid(shape: tuple[int, ...], size: int, overlap: int = 0) -> list[tuple[tuple[slice, ...], tuple[slice, ...]]]:
    """The ``(core, extended)`` slices of every block of a volume of ``shape``, in C order:
    cores tile the volume with edges of ``size`` (the last one per axis shorter), the
    extended slice adds ``overlap`` on each side, clipped to the volume."""
    out = []
    for corner in itertools.product(*(range(0, n, size) for n in shape)):
        core = tuple(slice(s, min(s + size, n)) for s, n in zip(corner, shape))
        ext = tuple(slice(max(0, c.start - overlap), min(n, c.stop + overlap)) for c, n in zip(core, shape))
        out.append((core, ext))
    return out


def iter_blocks(
    func: Callable[..., Any],
    arrays: Sequence[Any],
    *,
    desc: str,
    show: bool | None,
    block_voxels: int = NUMPY_BLOCK_VOXELS,
    threaded: bool = False,
) -> Iterator[Any]:
    """Yield ``func(*blocks)`` for aligned blocks of ``arrays`` (None entries stay None).

    numpy: slabs along axis 0 of about ``block_voxels`` voxels (views, no copy); with
    ``threaded`` (``func`` releases the GIL) on a pool of one thread per core.
    dask (any of ``arrays``): the chunks of the first dask array (the others are
    rechunked, or split, to match), in batches of 16+ chunks: the threaded scheduler holds
    a chunk only while its task runs, so memory stays bounded by a few chunks and the
    partial results. Results come in block order either way. ``desc`` and ``show`` drive
    the progress bar (shown by default for dask input over 2**24 voxels or numpy over 2**27).
    """
    first = arrays[0]
    if any(is_dask(a) for a in arrays if a is not None):
        import dask

        # one Delayed per chunk, made once (slicing ``a.blocks[idx]`` per task built a new
        # array graph each time: half the time of a map in 64 small chunks)
        chunk_tasks = [None if a is None else a.to_delayed().ravel() for a in aligned_dask(arrays)]
        n_chunks = next(c for c in chunk_tasks if c is not None).size
        # the scheduler holds a chunk only while its task runs, so a batch's size bounds
        # the partial results, not the voxels in memory; batches keep the progress moving
        batch = max(16, 4 * (os.cpu_count() or 2))
        call = dask.delayed(func, pure=False, traverse=False)
        total_voxels = int(np.prod(first.shape))
        enabled = progress_enabled(show) and (show is True or total_voxels > 2**24)
        for i in _progress_bar(range(0, n_chunks, batch), desc, enabled=enabled, unit="batch"):
            tasks = [
                call(*(None if c is None else c[j] for c in chunk_tasks))
                for j in range(i, min(i + batch, n_chunks))
            ]
            yield from dask.compute(*tasks)
        return
    n0 = first.shape[0]
    plane = int(np.prod(first.shape[1:])) if first.ndim > 1 else 1
    step = max(1, block_voxels // max(plane, 1))
    starts = range(0, n0, step)
    enabled = progress_enabled(show) and (show is True or first.size > 2**27)
    threads = min(n_threads(), len(starts)) if threaded else 1
    if threads <= 1:
        for s in _progress_bar(starts, desc, enabled=enabled, unit="slab"):
            yield func(*(None if a is None else a[s : s + step] for a in arrays))
        return
    # compiled kernels release the GIL: slabs run on every core, results come in order
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        jobs = pool.map(lambda s: func(*(None if a is None else a[s : s + step] for a in arrays)), starts)
        yield from _progress_bar(jobs, desc, enabled=enabled, unit="slab", total=len(starts))


def map_spatial(
    func: Callable[[np.ndarray], np.ndarray],
    array: Any,
    n_out: int,
    dtype=np.float32,
    keep_energy: bool = False,
) -> Any:
    """Apply ``func(block (E, *space)) -> (n_out, *space)`` over spatial chunks.

    numpy in, numpy out (``func`` on the whole array); dask in, dask out (energy rechunked
    to one chunk, spatial chunks kept), so a stack larger than memory is processed chunk
    by chunk. ``keep_energy`` is accepted for compatibility and has no effect.
    """
    if not is_dask(array):
        return func(np.asarray(array))
    import dask.array as da

    if len(array.chunks[0]) > 1:
        array = array.rechunk({0: -1})
    chunks = ((n_out,),) + array.chunks[1:]
    return da.map_blocks(func, array, dtype=dtype, chunks=chunks, meta=np.empty((0,) * array.ndim, dtype))
