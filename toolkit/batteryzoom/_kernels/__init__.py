"""Compiled (numba) kernels behind the hot paths: per-region statistics and per-voxel XANES.

Nothing here is imported by ``import batteryzoom``: :mod:`batteryzoom.regions` and
:mod:`batteryzoom.xanes.edges` import the kernel modules on their first call, so numba
(~0.5 s to import) and the compilation stay out of the package import. Kernels are
``@njit(cache=True, nogil=True)``: compiled once per argument-type combination and kept
in numba's on-disk cache (``__pycache__`` beside this package, or ``NUMBA_CACHE_DIR``),
so a later process loads them instead of compiling; they release the GIL, so the callers
run blocks on a thread pool (one thread per core: :func:`batteryzoom._blocks.map_ranges`)
without numba's own threading layer (which is not safe to enter from several dask threads
at once).

Set ``BATTERYZOOM_NUMBA=0`` to use the numpy implementations instead (the reference the
kernels are tested against).
"""

from __future__ import annotations

import os

__all__ = ["enabled"]


def enabled() -> bool:
    """Whether the compiled kernels are used (``BATTERYZOOM_NUMBA`` not "0"/"false"/"no")."""
    if os.environ.get("BATTERYZOOM_NUMBA", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency; stay usable without it
        return False
    return True
