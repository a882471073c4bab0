"""Progress reporting shared by long-running functions.

Long work shows progress (tqdm in a terminal, a widget bar in Jupyter). Set the environment
variable ``BATTERYZOOM_PROGRESS=0`` or pass ``progress=False`` to silence it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to show progress: the explicit argument wins, then the environment."""
    if progress is not None:
        return bool(progress)
    return os.environ.get("BATTERYZOOM_PROGRESS", "1") not in ("0", "false", "no", "")


def progress(
    iterable: Iterable[T],
    desc: str,
    total: int | None = None,
    enabled: bool | None = None,
    unit: str = "it",
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when progress is enabled.

    Parameters
    ----------
    iterable : iterable
        What to iterate over.
    desc : str
        Label of the bar, e.g. ``"unrolling slices"``.
    total : int, optional
        Number of items, when ``len(iterable)`` is not available.
    enabled : bool, optional
        Force progress on or off; default follows ``BATTERYZOOM_PROGRESS``.
    unit : str
        Unit shown after the count.
    """
    if not progress_enabled(enabled):
        return iter(iterable)
    from tqdm.auto import tqdm

    return iter(tqdm(iterable, desc=desc, total=total, unit=unit, leave=False))
