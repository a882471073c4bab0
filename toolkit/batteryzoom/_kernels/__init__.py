"""Compiled (numba) kernels behind the hot paths: per-region statistics and per-voxel XANES.

Nothing here is imported by ``import batteryzoom``: :mod:`batteryzoom.regions` and
:mod:`batteryzoom.xanes.edges` import the kernel modules on their first call, so numba
(~0.5 s to import) and the compilation stay out of the package import. Kernels are
``@njit(cache=True, nogil=True)``: compiled once per argument-type combination and kept
in numba's on-disk cache, so a later process loads them instead of compiling. The cache is
``$BATTERYZOOM_CACHE/numba`` (default: the user cache dir, e.g. ``~/.cache/batteryzoom/numba``),
never the installed package (read-only, or shared by several users): importing this package
sets ``NUMBA_CACHE_DIR`` there unless it is already set, before numba is imported. They
release the GIL, so the callers run blocks on a thread pool (one thread per core:
:func:`batteryzoom._blocks.map_ranges`) without numba's own threading layer (which is not
safe to enter from several dask threads at once).

Set ``BATTERYZOOM_NUMBA=0`` to use the numpy implementations instead (the reference the
kernels are tested against).
"""

from __future__ import annotations

import os
import sys

__all__ = ["enabled"]


def _use_the_user_cache_dir() -> None:
    """Point numba's cache at ``$BATTERYZOOM_CACHE/numba`` unless ``NUMBA_CACHE_DIR`` is set."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    # the same root as bz.data.cache_dir (a layer above this one, so not imported)
    root = os.environ.get("BATTERYZOOM_CACHE")
    if root:
        root = os.path.expanduser(root)
    else:
        import pooch

        root = str(pooch.os_cache("batteryzoom"))
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(root, "numba")
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba came first: it read its environment already
        config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]


_use_the_user_cache_dir()


def enabled() -> bool:
    """Whether the compiled kernels are used (``BATTERYZOOM_NUMBA`` not "0"/"false"/"no")."""
    if os.environ.get("BATTERYZOOM_NUMBA", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency; stay usable without it
        return False
    return True
