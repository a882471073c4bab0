"""Labelling a big volume in overlapping chunks, labels merged across chunk borders.

A whole-volume labelling (distance transform + watershed, a grain watershed) holds several
float and integer copies of the volume at once: ~70 bytes per voxel, 70 GB at 1000³. Here
the volume is cut into cubic *cores* of ``chunk_voxels`` voxels; each core is processed
with ``overlap_voxels`` of context on every side (its *halo*), and only the core's result
is kept (:func:`map_in_chunks`, dask's ``map_overlap`` with the cores assembled in
numpy). :func:`label_in_chunks` also stitches labels: the two voxel layers straddling a
face shared by two blocks were labelled by *both* blocks (one as core, one as halo), so
the ids each gives there say which of its labels are which of its neighbour's; the pairs
to merge go to a union-find (connected components of the merge graph). ``stitch="any"``
merges labels sharing any voxel there (right for connected components: the approach of
``dask_image.ndmeasure.label``); ``"majority"`` only labels that share most of their
voxels there, for labels that touch by construction (a watershed's), which "any" would
chain together through one block's error.

:func:`batteryzoom.segment.segment_particles` in blocks uses both: its h-maxima markers
are connected components stitched with "any", and its watershed floods from those global
ids, so no watershed label has to be matched at all (an adjusted Rand index of 0.9999
against the whole-volume labels on the twin electrode, with a 10 µm halo).

Memory: the output labels (int32, 4 bytes a voxel, as numpy) and any extra block outputs
are held whole; the work holds ``workers × (chunk_voxels + 2 overlap_voxels)³ × B`` bytes,
with B the labelling's bytes per voxel (~60 for :func:`segment_particles`), plus the six
halo faces of every block (``24 (chunk_voxels)²`` bytes a block).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._blocks import block_grid, distributed_client, is_dask, map_tasks, n_threads
from .._progress import progress
from ..errors import InputError

__all__ = ["label_in_chunks", "map_in_chunks", "chunk_grid"]


def chunk_grid(shape: tuple[int, ...], chunk_voxels: int, overlap_voxels: int) -> list[tuple[tuple[slice, ...], tuple[slice, ...]]]:
    """The ``(core, extended)`` slices of every block of a volume of ``shape``, in C order.

    Cores tile the volume with edges of ``chunk_voxels`` (the last one per axis shorter);
    the extended slice adds ``overlap_voxels`` on each side, clipped to the volume.

    Examples
    --------
    >>> from batteryzoom.segment.chunked import chunk_grid
    >>> core, ext = chunk_grid((10, 4, 4), 6, 2)[1]
    >>> core[0], ext[0]
    (slice(6, 10, None), slice(4, 10, None))
    """
    return block_grid(shape, chunk_voxels, overlap_voxels)


def _checked(chunk_voxels: Any, overlap_voxels: Any) -> tuple[int, int]:
    for name, value, low in (("chunk_voxels", chunk_voxels, 8), ("overlap_voxels", overlap_voxels, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f"{name}={value!r}: give a whole number of voxels ≥ {low}")
    return int(chunk_voxels), int(overlap_voxels)


def _iter_blocks(arrays: list, task: Callable[[tuple], Any], func: Callable, chunk_voxels: int,
                 overlap_voxels: int, progress_bar: bool | None, desc: str):
    """Yield ``(core, task((func, blocks, core_in_ext)))`` for every block, in grid order:
    blocks read (copied) in batches of a few per worker, run by :func:`map_tasks` (one
    thread per core, or the active ``dask.distributed`` client's workers)."""
    shape = tuple(int(n) for n in arrays[0].shape)
    grid = chunk_grid(shape, chunk_voxels, overlap_voxels)
    client = distributed_client()
    # a batch of blocks in memory at once: a few per worker, so they all stay busy
    workers = len(client.scheduler_info().get("workers", {})) if client is not None else n_threads()
    batch = max(1, 2 * workers)
    starts = range(0, len(grid), batch)
    for b0 in progress(starts, desc, total=len(starts), enabled=progress_bar, unit="batch"):
        items = []
        for core, ext in grid[b0:b0 + batch]:
            # copies: a block is pickled to a worker, or sliced alone
            blocks = tuple(a[ext].compute() if is_dask(a) else np.array(a[ext]) for a in arrays)
            items.append((func, blocks, tuple(slice(c.start - e.start, c.stop - e.start) for c, e in zip(core, ext))))
        results = map_tasks(task, items, desc=desc, progress=False, unit="block")
        yield from zip((core for core, _ in grid[b0:b0 + batch]), results)


def _outputs(out: Any, shape: tuple) -> tuple:
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        if np.shape(o) != shape:
            raise InputError(f"block function: returned an array of shape {np.shape(o)} for a block of shape "
                             f"{shape}; return arrays of the block's shape")
    return tuple(np.asarray(o) for o in outs)


def _map_task(item: tuple) -> tuple:
    """``func`` on one extended block (several aligned arrays): every output's core."""
    func, blocks, core_in_ext = item
    return tuple(o[core_in_ext] for o in _outputs(func(*blocks), blocks[0].shape))


def _label_task(item: tuple) -> dict:
    """``label_block`` on one extended block: its core labels renumbered 1..k over the
    whole block (halo-only objects too, so that the halo faces speak the core's ids), the
    six layers just outside the core (the halo faces, for the stitching), the extras' cores."""
    func, blocks, core_in_ext = item
    labels, *extras = _outputs(func(*blocks), blocks[0].shape)
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"label_block: returned {labels.dtype} labels; return integer labels (0 = background)")
    ids = np.unique(labels)
    ids = ids[ids > 0]
    lut = np.zeros(int(labels.max(initial=0)) + 1, np.int32)
    lut[ids] = np.arange(1, ids.size + 1, dtype=np.int32)
    faces = {}
    for axis in range(3):
        for side, layer in (("lo", core_in_ext[axis].start - 1), ("hi", core_in_ext[axis].stop)):
            if 0 <= layer < labels.shape[axis]:
                sl = list(core_in_ext)
                sl[axis] = layer
                faces[axis, side] = lut[labels[tuple(sl)]]
    return {"core": lut[labels[core_in_ext]], "n": int(ids.size), "faces": faces,
            "extras": [e[core_in_ext] for e in extras]}


def _checked_arrays(arrays: list) -> tuple[int, ...]:
    shape = tuple(getattr(arrays[0], "shape", ()))
    for a in arrays:
        if getattr(a, "ndim", None) != 3 or tuple(a.shape) != shape:
            raise InputError(f"volume: expected 3D arrays (z, y, x) of one shape, got shape "
                             f"{getattr(a, 'shape', None)} (first: {shape})")
    return tuple(int(n) for n in shape)


def map_in_chunks(
    arrays: list,
    func: Callable[..., Any],
    *,
    chunk_voxels: int = 128,
    overlap_voxels: int = 16,
    progress_bar: bool | None = None,
    desc: str = "chunks",
) -> list[np.ndarray]:
    """``func`` over overlapping blocks of aligned volumes; the cores of its outputs
    assembled into whole numpy volumes.

    Parameters
    ----------
    arrays : list of numpy or dask arrays, (z, y, x), one shape
        A dask array (e.g. from a zarr store) is read one extended block at a time.
    func : callable
        ``func(*blocks) -> array or tuple of arrays`` of the block's shape. On a
        ``dask.distributed`` client it runs on the workers (so it must pickle: a
        module-level function or a ``functools.partial`` of one).
    chunk_voxels, overlap_voxels, progress_bar, desc
        As in :func:`label_in_chunks`.

    Returns
    -------
    list of numpy.ndarray
        One whole volume per output of ``func``.

    Examples
    --------
    A 3-voxel mean filter in blocks equals the whole-volume one:

    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from batteryzoom.segment.chunked import map_in_chunks
    >>> vol = np.random.default_rng(0).random((20, 12, 30))
    >>> [out] = map_in_chunks([vol], lambda b: ndimage.uniform_filter(b, 3), chunk_voxels=8, overlap_voxels=1)
    >>> bool(np.allclose(out, ndimage.uniform_filter(vol, 3)))
    True
    """
    chunk_voxels, overlap_voxels = _checked(chunk_voxels, overlap_voxels)
    shape = _checked_arrays(list(arrays))
    outputs: list[np.ndarray] = []
    for core, cores in _iter_blocks(list(arrays), _map_task, func, chunk_voxels, overlap_voxels, progress_bar, desc):
        if not outputs:
            outputs = [np.zeros(shape, o.dtype) for o in cores]
        for out, o in zip(outputs, cores):
            out[core] = o
    return outputs


def label_in_chunks(
    volume: Any,
    label_block: Callable[[np.ndarray], Any],
    *,
    chunk_voxels: int = 128,
    overlap_voxels: int = 16,
    stitch: str = "any",
    progress_bar: bool | None = None,
    desc: str = "chunks",
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Label ``volume`` block by block with halos, and stitch the labels across block faces.

    Parameters
    ----------
    volume : numpy or dask array, (z, y, x)
        The volume. A dask array (e.g. from a zarr store) is read one extended block at a
        time, never whole.
    label_block : callable
        ``label_block(block) -> labels`` or ``-> (labels, *extras)``: integer labels (0 =
        background) of one extended block, and optional arrays of the block's shape (masks)
        whose cores are assembled as well. On a ``dask.distributed`` client it runs on the
        workers (so it must pickle: a module-level function or a ``functools.partial``).
    chunk_voxels : int
        Edge of a block's core, voxels.
    overlap_voxels : int
        Halo on each side, voxels: wider than the objects' radius, so that each block sees
        an object crossing its face whole (≥ their diameter for equality with the
        whole-volume labelling).
    stitch : {"any", "majority"}
        When a label of one block and a label of its neighbour are one object, judged on
        the two voxel layers straddling their shared face, which both blocks labelled:
        ``"any"`` voxel labelled by both (connected components of a mask: each block sees
        the connection; dask-image's rule), or a ``"majority"``: more than half of each
        label's voxels there (labels that touch by construction, a watershed's: one
        partner per label and face, so one block's error cannot chain two objects).
    progress_bar : bool, optional
        Show progress over the batches of blocks.
    desc : str
        The progress bar's label.

    Returns
    -------
    labels : numpy.ndarray, int32, (z, y, x)
        Objects 1..n (ids in order of the blocks, then of each block's labelling).
    extras : list of numpy.ndarray
        The assembled cores of the extra outputs of ``label_block``.

    Notes
    -----
    Peak memory: the int32 output and the extras, whole, plus ``w × (chunk_voxels + 2 ×
    overlap_voxels)³ × B`` bytes for ``w`` blocks at work (one per core, or per
    ``dask.distributed`` worker) and ``B`` the labelling's bytes per voxel, plus the six
    halo faces of every block (``24 chunk_voxels²`` bytes a block).

    Examples
    --------
    Connected components of a bar that spans four blocks, stitched back into one object:

    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from batteryzoom.segment.chunked import label_in_chunks
    >>> bar = np.zeros((8, 8, 40), bool); bar[2:5, 2:5, :] = True; bar[6, 6, 3] = True
    >>> labels, _ = label_in_chunks(bar, lambda b: ndimage.label(b)[0], chunk_voxels=10, overlap_voxels=2)
    >>> np.unique(labels).tolist(), int((labels == labels[3, 3, 0]).sum())
    ([0, 1, 2], 360)
    """
    chunk_voxels, overlap_voxels = _checked(chunk_voxels, overlap_voxels)
    if stitch not in ("any", "majority"):
        raise InputError(f"stitch={stitch!r}: choose 'any' (connected components) or 'majority' (touching labels)")
    shape = _checked_arrays([volume])
    grid = chunk_grid(shape, chunk_voxels, overlap_voxels)
    labels = np.zeros(shape, np.int32)
    extras: list[np.ndarray] = []
    faces: list[dict] = []
    total = 0
    for core, res in _iter_blocks([volume], _label_task, label_block, chunk_voxels, overlap_voxels, progress_bar,
                                  desc):
        if total + res["n"] >= np.iinfo(np.int32).max:
            raise InputError(f"volume: more than 2**31 labels over {len(grid)} blocks; use larger objects "
                             "or a smaller volume")
        labels[core] = np.where(res["core"] > 0, res["core"] + total, 0)
        faces.append({k: np.where(v > 0, v + total, 0) for k, v in res["faces"].items()})
        total += res["n"]
        for i, e in enumerate(res["extras"]):
            if len(extras) <= i:
                extras.append(np.zeros(shape, e.dtype))
            extras[i][core] = e
    return _merge(labels, grid, faces, total, stitch), extras


def _stitch_pairs(a_ids: np.ndarray, b_ids: np.ndarray, stitch: str) -> np.ndarray:
    """``(k, 2)`` pairs ``(a, b)`` of block A's and block B's ids to merge, from the voxels
    both blocks labelled (the two layers straddling their shared face): ``"any"`` voxel in
    common, or a ``"majority"``: more than half of a's and of b's voxels there."""
    both = (a_ids > 0) & (b_ids > 0)
    if not both.any():
        return np.zeros((0, 2), np.int64)
    a, b = a_ids[both].astype(np.int64), b_ids[both].astype(np.int64)
    base = int(b.max()) + 1
    uniq, shared = np.unique(a * base + b, return_counts=True)
    pa, pb = uniq // base, uniq % base
    if stitch == "majority":
        n_a = np.bincount(a_ids.ravel())
        n_b = np.bincount(b_ids.ravel())
        keep = (2 * shared > n_a[pa]) & (2 * shared > n_b[pb])
        pa, pb = pa[keep], pb[keep]
    return np.stack([pa, pb], axis=1)


def _merge(labels: np.ndarray, grid: list, faces: list[dict], total: int, stitch: str) -> np.ndarray:
    """Stitch the blocks' labels across every shared face (union-find) and number the
    objects 1..n, in place."""
    index = {tuple(c.start for c in core): i for i, (core, _) in enumerate(grid)}
    merges = [np.zeros((0, 2), np.int64)]
    for i, (core, _) in enumerate(grid):
        for axis in range(3):
            corner = [c.start for c in core]
            corner[axis] = core[axis].stop
            j = index.get(tuple(corner))
            if j is None:
                continue
            p = core[axis].stop  # first layer of the high block j
            low_side, high_side = list(core), list(core)
            low_side[axis], high_side[axis] = p - 1, p
            # block i's ids on both layers (its core, then its halo), block j's likewise
            a_ids = np.stack([labels[tuple(low_side)], faces[i][axis, "hi"]])
            b_ids = np.stack([faces[j][axis, "lo"], labels[tuple(high_side)]])
            merges.append(_stitch_pairs(a_ids, b_ids, stitch))
    # union-find over the merges: connected components of the graph of merged labels
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.concatenate(merges)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(total + 1, total + 1))
    _, roots = connected_components(graph, directed=False)
    present = np.zeros(int(roots.max()) + 1, bool)
    for z0 in range(0, labels.shape[0], 32):  # slabs: no int64 copy of the volume
        present[roots[np.unique(labels[z0:z0 + 32])]] = True
    present[roots[0]] = False  # the background
    lut_root = np.zeros(present.size, np.int32)
    lut_root[np.flatnonzero(present)] = np.arange(1, int(present.sum()) + 1, dtype=np.int32)
    lut = lut_root[roots]
    for z0 in range(0, labels.shape[0], 32):
        labels[z0:z0 + 32] = lut[labels[z0:z0 + 32]]
    return labels
