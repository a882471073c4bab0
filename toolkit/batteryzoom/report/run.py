"""The main job: run the whole zoom on a dataset and write one report.

.. code-block:: python

    import batteryzoom as bz
    report = bz.report.run_zoom("twin")      # ~30 s on two cores
    print(report.summary_text())
    bz.report.write_report(report, "report")

or, from a shell, ``batteryzoom report --dataset twin --out report`` (``make demo``).

:func:`run_zoom` walks the study's hierarchy, each scale through the package's own
analyses, and collects a findings table and the figures (built by ``bz.plots``):

1. **cycler** (``bz.cycling``): the one-cycle test (Fig. S1, capacity and efficiency), the
   self-discharge test of the cell under test (Fig. S2: K-value with its confidence
   interval, leakage current, capacity lost) and its QC verdict against an absolute
   threshold and against its production lot (robust z-score).
2. **cell** (``bz.cell``): the cell CT slice by slice: windings, buckling, gaps, tears,
   dents, and where the inclusion is, in µm in the cell frame.
3. **electrode** (``bz.segment``): particles, porosity, cracks and the damage class of
   every particle, and how damage varies with depth from the separator.
4. **particle** (``bz.segment``): primary grains, cracks and pores of one particle.
5. **grain** (``bz.xanes`` + ``bz.regions``): the 3D XANES stack aligned, normalized, the
   Ni K-edge energy of every voxel, its per-grain mean and FWHM, the split of its variance
   between and within grains, and the two grains of Fig. S3.

Each scale runs when the dataset holds data for it (the twin holds all five; a folder of
your own data holds what its ``batteryzoom.yaml`` lists: see :class:`FolderSource`); a
scale whose input is rejected (e.g. a volume in which no can is found) is reported as
failed, with the reason, and the others still run.
On the twin, every finding is printed beside its ground truth.

:func:`write_report` writes ``out/index.html`` (one self-contained page: plotly.js inlined
once, every figure interactive, the findings table, a short text per scale) and
``out/figures/<name>.png`` and ``.svg`` (static export through kaleido and the system
chromium, all figures in one browser session). Without chromium the HTML is still written
and the command says how to get the static figures. The folder is written whole or not at
all, never among your data nor over a file the report did not write (:mod:`.write`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import BatteryZoomError, InputError
from . import cell, cycler, electrode, grain, particle
from ._interrupt import checkpoint
from .results import STUDY_FIGURES, Collector, ReportFigure, ScaleResult, ZoomReport
from .sources import FROM_RAW, SCALES, Source, TwinSource, open_source
from .export import check_options
from .write import check_output, write_report

__all__ = ["run_zoom", "main"]

# each scale's module turns its technique's pipeline into findings, prose and figures
_RUNNERS: dict[str, Callable[[Source, Collector, dict], None]] = {
    "cycler": cycler.run,
    "cell": cell.run,
    "electrode": electrode.run,
    "particle": particle.run,
    "grain": grain.run,
}


def run_zoom(
    dataset: str | os.PathLike | Source = "twin",
    *,
    scales: tuple[str, ...] | list[str] | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    from_raw: bool = False,
) -> ZoomReport:
    """Run the zoom on a dataset: every scale it holds, each with its figures and findings.

    Parameters
    ----------
    dataset : "twin", path, or Source
        ``"twin"`` (the synthetic twin, generated and cached on first use), a folder
        holding ``batteryzoom.yaml`` (your own files per scale: see
        :class:`FolderSource`), or a :class:`Source`.
    scales : sequence of str, optional
        Only these scales (default: all of ``SCALES`` the dataset holds).
    progress : bool, optional
        Show a progress bar over the scales (default: follows ``BATTERYZOOM_PROGRESS``).
    log : callable, optional
        Called with one line of text as each scale finishes (``print`` in the command).
    from_raw : bool
        On the twin: the particle and grain scales from its raw acquisitions (Paganin +
        FBP; :func:`batteryzoom.xanes.xanes_from_raw`), see :class:`TwinSource`. ~1.5 min
        more than the finished volumes (the default) on two cores. A folder of your own data
        takes the route its ``batteryzoom.yaml`` gives (``raw:`` or ``volume:``/``stack:``).
        Each scale's route is in :attr:`ZoomReport.routes`, the summary and the page; a
        scale taken from raw projections also has an ``input`` row in the findings.

    Returns
    -------
    ZoomReport

    Raises
    ------
    InputError, FileFormatError
        An unknown dataset or scale, or a malformed ``batteryzoom.yaml``.
    """
    from .._progress import progress as bar

    source = _source(dataset, from_raw)
    wanted = list(SCALES) if scales is None else list(scales)
    unknown = [x for x in wanted if x not in SCALES]
    if unknown:
        raise InputError(f"scales: {unknown} are not scales of the zoom; choose from {list(SCALES)}")
    t0 = time.perf_counter()
    ctx: dict[str, Any] = {}
    results: dict[str, ScaleResult] = {}
    figures: dict[str, ReportFigure] = {}
    rows: list[dict] = []
    for scale in bar(wanted, "batteryzoom report", enabled=progress, unit="scale"):
        checkpoint()
        if not source.has(scale):
            results[scale] = ScaleResult(scale, "absent", f"the dataset holds no {scale} data")
        else:
            t = time.perf_counter()
            collected = Collector(scale, source.is_twin)
            try:
                _RUNNERS[scale](source, collected, ctx)
                status, text = "done", " ".join(collected.text)
            except BatteryZoomError as exc:
                if source.is_twin:
                    raise  # the twin must always run: a failure there is a bug
                status, text = "failed", str(exc)
            route = collected.values.setdefault("route", source.route(scale))
            res = ScaleResult(scale, status, text, [f.name for f in collected.figures], time.perf_counter() - t,
                              collected.values)
            results[scale] = res
            if route is not None and route.startswith(FROM_RAW):
                # the numbers below were earned through the reconstruction: say so in the table
                rows.append({"scale": scale, "finding": "input", "value": float("nan"), "text": FROM_RAW,
                             "unit": "", "truth": float("nan"), "truth_text": "", "note": route})
            rows.extend(collected.rows)
            for f in collected.figures:
                figures[f.name] = f
        if log is not None:
            r = results[scale]
            detail = r.values.get("summary") if r.status == "done" else f"{r.status}: {r.text}"
            log(f"  [{scale}] {r.seconds:5.1f} s  {detail}")
    columns = ["scale", "finding", "value", "text", "unit", "truth", "truth_text", "note"]
    findings = pd.DataFrame(rows, columns=columns)
    findings.attrs["routes"] = {sc: r.values["route"] for sc, r in results.items() if r.values.get("route")}
    # the study's figures first, then the scales' own in the order of the zoom
    order = [n for n in STUDY_FIGURES if n in figures] + [n for n in figures if n not in STUDY_FIGURES]
    return ZoomReport(
        dataset=source.name, description=source.description, is_twin=source.is_twin, scales=results,
        figures={n: figures[n] for n in order}, findings=findings, seconds=time.perf_counter() - t0,
        inputs=tuple(source.inputs()),
    )



def _source(dataset: Any, from_raw: bool) -> Source:
    """The dataset's source; ``from_raw`` only where it means something (the twin)."""
    source = open_source(dataset, from_raw=from_raw)
    if from_raw and not (isinstance(source, TwinSource) and source.from_raw):
        raise InputError(f"--from-raw / from_raw=True: applies to the twin only; {source.name!r} takes the route "
                         "its batteryzoom.yaml gives: raw: (projections, flats, darks, angles) "
                         "for a scale reconstructed here, volume: / stack: for a finished one")
    return source


def main(dataset: str = "twin", out: str | Path = "report", *, width_mm: float | None = None,
         dpi: float | None = None, formats: tuple[str, ...] = ("png", "svg"), titles: bool = True,
         from_raw: bool = False) -> int:
    """Entry point of ``batteryzoom report``: run the zoom, write the report, print a summary.

    The dataset's description, the output folder and the export options are checked
    before any scale runs. ``width_mm``, ``dpi``, ``formats``, ``titles``: the static
    figures' (see :func:`write_report`); ``from_raw``: :func:`run_zoom`'s.

    Returns the process exit code (0 on success; errors propagate to the command, which
    prints them and exits with 2).
    """
    src = _source(dataset, from_raw)  # batteryzoom.yaml read and validated: before any work
    check_output(out, src.inputs())  # and the output folder: before any scale runs
    formats = check_options(formats, width_mm, dpi)
    print(f"batteryzoom report: {src.name} — {src.description}", flush=True)
    from tqdm.auto import tqdm

    report = run_zoom(src, log=tqdm.write)  # lines above the progress bars, not through them
    t = time.perf_counter()
    files = write_report(report, out, width_mm=width_mm, dpi=dpi, formats=formats, titles=titles)
    print(f"  [report] {time.perf_counter() - t:5.1f} s  {len(report.figures)} figures; {files.static_message}")
    print()
    print(f"Report: {files.index.resolve()}")
    if files.static:
        print(f"Figures ({', '.join(f.upper() for f in formats)}): {files.figures_dir.resolve()}")
    print()
    print("Summary")
    for line in report.summary_lines():
        print("  " + line)
    print(f"\nThe zoom took {report.seconds:.0f} s. Open the report in a browser: file://{files.index.resolve()}")
    return 0
