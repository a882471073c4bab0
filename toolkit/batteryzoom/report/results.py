"""What a run of the zoom gives: the report object, its scales, figures and files."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["ZoomReport", "ScaleResult", "ReportFigure", "ReportFiles", "SCALE_TITLES", "STUDY_FIGURES"]

SCALE_TITLES = {
    "cycler": "Cycler: that something is wrong",
    "cell": "Cell CT: where",
    "electrode": "Electrode CT: how widely",
    "particle": "Particle nano-CT: how",
    "grain": "Grains, 3D XANES at the Ni K-edge: why",
}
# figures of the study's supplementary information, in the report's first section
STUDY_FIGURES = ("S1_charge_discharge", "S2_self_discharge", "S3_two_grains")

# ------------------------------------------------------------------------ results


@dataclass
class ReportFigure:
    """One figure of the report: a plotly figure and how to show and export it."""

    name: str
    scale: str
    caption: str
    figure: Any  # plotly.graph_objects.Figure
    width: int = 900
    height: int = 560


@dataclass
class ScaleResult:
    """What one scale of the zoom gave.

    ``status``: ``"done"``; ``"absent"`` (the dataset holds nothing for this scale); or
    ``"failed"`` (the input was rejected: ``text`` says why).
    """

    scale: str
    status: str
    text: str = ""
    figures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return SCALE_TITLES[self.scale]


@dataclass
class ZoomReport:
    """The result of :func:`run_zoom`.

    Attributes
    ----------
    dataset, description : str
        Which data, in words.
    is_twin : bool
        True for the synthetic twin (the findings' ``truth`` column is filled).
    scales : dict of str -> ScaleResult
        In the order of the zoom (cycler, cell, electrode, particle, grain).
    figures : dict of str -> ReportFigure
        Every figure, by file name (``S1_charge_discharge``, ...).
    findings : pandas.DataFrame
        One row per finding: ``scale``, ``finding``, ``value`` (float, NaN for text),
        ``text`` (the value as shown), ``unit``, ``truth`` (the twin's, NaN otherwise) and
        ``truth_text`` (as shown, with the value's precision), ``note``.
    seconds : float
        Wall time of the run (twin generation or file reading included).
    inputs : tuple of Path
        The folders the dataset was read from (the report is never written among them).
    """

    dataset: str
    description: str
    is_twin: bool
    scales: dict[str, ScaleResult]
    figures: dict[str, ReportFigure]
    findings: pd.DataFrame
    seconds: float = 0.0
    inputs: tuple = ()

    @property
    def routes(self) -> dict[str, str]:
        """How each scale's volume reached its analysis, in words, by scale: ``"finished
        volume (twin/particle-nanoct)"`` or ``"reconstructed from raw projections (...)"``
        (scales without a volume, the cycler, have none)."""
        return {s: r.values["route"] for s, r in self.scales.items() if r.values.get("route")}

    def value(self, scale: str, key: str, default: Any = None) -> Any:
        """A key number of a scale (``report.value("cycler", "k_value_mv_per_day")``)."""
        return self.scales[scale].values.get(key, default) if scale in self.scales else default

    def figure(self, name: str) -> Any:
        """The plotly figure ``name`` (e.g. ``"S2_self_discharge"``), to show in a notebook."""
        if name not in self.figures:
            raise InputError(f"no figure {name!r} in this report; it has {list(self.figures)}")
        return self.figures[name].figure

    def table(self, scale: str | None = None) -> pd.DataFrame:
        """The findings (of one scale), as shown: value with unit, the twin's truth with the
        value's precision (blank where the twin has none), note. Numbers as numbers are in
        :attr:`findings` (``value``, ``truth``)."""
        f = self.findings if scale is None else self.findings[self.findings["scale"] == scale]
        cols = ["scale", "finding", "text", "unit"] + (["truth_text"] if self.is_twin else []) + ["note"]
        return f[cols].rename(columns={"text": "value", "truth_text": "truth"}).reset_index(drop=True)

    def summary_lines(self) -> list[str]:
        """One line per scale: the short text summary that ``batteryzoom report`` prints,
        each followed by the route its volume took (``from: finished volume (...)``)."""
        lines = []
        for scale, res in self.scales.items():
            text = res.values.get("summary") if res.status == "done" else f"{res.status}: {res.text}"
            lines.append(f"{scale:9s}  {text}")
            if res.values.get("route"):
                lines.append(f"{'':9s}  from: {res.values['route']}")
        return lines

    def summary_text(self) -> str:
        """The summary lines as one string."""
        return "\n".join(self.summary_lines())


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote."""

    index: Path
    figures_dir: Path
    static: dict[str, list[Path]]  # figure name -> its files, one per format (empty without chromium)
    static_message: str  # how the static export went, in words


class Collector:
    """Collects one scale's findings, figures and key numbers."""

    def __init__(self, scale: str, is_twin: bool):
        self.scale = scale
        self.is_twin = is_twin
        self.rows: list[dict] = []
        self.figures: list[ReportFigure] = []
        self.values: dict[str, Any] = {}
        self.text: list[str] = []

    def finding(self, finding: str, value: Any, unit: str = "", truth: Any = None, note: str = "",
                fmt: str = ".4g") -> None:
        numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        shown = format(float(value), fmt) if numeric and math.isfinite(float(value)) else str(value)
        truth_value = float(truth) if isinstance(truth, (int, float, np.integer, np.floating)) else np.nan
        if truth is not None and not np.isfinite(truth_value):
            note = f"truth: {truth}" + (f"; {note}" if note else "")
        truth_shown = format(truth_value, fmt) if np.isfinite(truth_value) else ""
        self.rows.append({
            "scale": self.scale, "finding": finding, "value": float(value) if numeric else np.nan,
            "text": shown, "unit": unit, "truth": truth_value, "truth_text": truth_shown, "note": note,
        })

    def figure(self, name: str, fig: Any, caption: str, width: int = 900, height: int = 560) -> None:
        if fig.layout.height is None:
            fig.update_layout(height=height)
        self.figures.append(ReportFigure(name, self.scale, caption, fig, width, height))

