"""The interface of the main job's inputs: what a dataset hands :func:`batteryzoom.report.run_zoom`.

:class:`Source` is implemented by the twin (:mod:`.twin`) and by a folder of the user's own
data (:mod:`.sources`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["SCALES", "Source", "FINISHED", "FROM_RAW"]

SCALES = ("cycler", "cell", "electrode", "particle", "grain")
# how a scale's volume reached its analysis (Source.route), in words
FINISHED = "finished volume"
FROM_RAW = "reconstructed from raw projections"


class Source:
    """Inputs of each scale (see the module docstring); subclasses fill them in."""

    name: str = ""
    description: str = ""
    is_twin: bool = False

    def has(self, scale: str) -> bool:
        """Whether the dataset holds anything for ``scale``."""
        raise NotImplementedError

    def load(self, scale: str) -> dict[str, Any]:
        """The inputs of ``scale`` (tables, xarray volumes, options)."""
        raise NotImplementedError

    def truth(self, scale: str) -> dict[str, Any]:
        """Ground truth of ``scale`` (the twin's; empty for real data)."""
        return {}

    def hierarchy(self):
        """A :class:`batteryzoom.zoom.Hierarchy` of the volumes present, or None."""
        return None

    def level(self, scale: str) -> str | None:
        """The hierarchy's level name of ``scale``'s volume."""
        return None

    def inputs(self) -> list[Path]:
        """The folders the inputs are read from (a report is never written among them)."""
        return []

    def route(self, scale: str) -> str | None:
        """How ``scale``'s volume reaches its analysis, in words: ``"finished volume (...)"``
        or ``"reconstructed from raw projections (...)"``; None for a scale without a volume
        (the cycler) or not in the dataset. The scale's run may make it more precise
        (the centre found, the magnification fitted)."""
        return None
