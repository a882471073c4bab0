"""Shared array plumbing for numpy and dask alike: what kind of array, and blocks of it.

One home for the helpers every compute package needs (is this dask? iterate a big array
block by block), so each package does not write its own.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_dask"]


def is_dask(array: Any) -> bool:
    """Whether ``array`` is a dask array, without importing dask (an xarray object is not:
    pass its ``.data``)."""
    return type(array).__module__.split(".")[0] == "dask"
