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
your own data holds what its ``batteryzoom.yaml`` lists: see :class:`FolderSource`); a scale whose input is rejected (e.g. a volume in
which no can is found) is reported as failed, with the reason, and the others still run.
On the twin, every finding is printed beside its ground truth.

:func:`write_report` writes ``out/index.html`` (one self-contained page: plotly.js inlined
once, every figure interactive, the findings table, a short text per scale) and
``out/figures/<name>.png`` and ``.svg`` (static export through kaleido and the system
chromium, all figures in one browser session). Without chromium the HTML is still written
and the command says how to get the static figures. Every file is written atomically.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .sources import DATASET_FILE, SCALES, FolderSource, Source, TwinSource, open_source
from ..errors import BatteryZoomError, InputError

__all__ = [
    "run_zoom",
    "write_report",
    "main",
    "ZoomReport",
    "ScaleResult",
    "ReportFigure",
    "ReportFiles",
    "find_chromium",
    "export_figures",
    "SCALES",
    "DATASET_FILE",
    "Source",
    "TwinSource",
    "FolderSource",
]

SCALE_TITLES = {
    "cycler": "Cycler: that something is wrong",
    "cell": "Cell CT: where",
    "electrode": "Electrode CT: how widely",
    "particle": "Particle nano-CT: how",
    "grain": "Grains, 3D XANES at the Ni K-edge: why",
}
# figures of the study's supplementary information, in the report's first section
STUDY_FIGURES = ("S1_charge_discharge", "S2_self_discharge", "S3_two_grains")
# damage classes counted as cracked
_CRACKED = ("mild", "severe")


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
    """

    dataset: str
    description: str
    is_twin: bool
    scales: dict[str, ScaleResult]
    figures: dict[str, ReportFigure]
    findings: pd.DataFrame
    seconds: float = 0.0

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
        """One line per scale: the short text summary that ``batteryzoom report`` prints."""
        lines = []
        for scale, res in self.scales.items():
            text = res.values.get("summary") if res.status == "done" else f"{res.status}: {res.text}"
            lines.append(f"{scale:9s}  {text}")
        return lines

    def summary_text(self) -> str:
        """The summary lines as one string."""
        return "\n".join(self.summary_lines())


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote."""

    index: Path
    figures_dir: Path
    static: dict[str, list[Path]]  # figure name -> [png, svg] (empty without chromium)
    static_message: str  # how the static export went, in words


class _Scale:
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


# ------------------------------------------------------------------------ helpers


# what a child's box on its parent's slice is called (not the dataset's file name)
_BOX_LABELS = {"electrode": "electrode CT", "particle": "particle nano-CT", "grain": "3D XANES field of view"}


def _level_figure(source: Source, scale: str, volume: Any, title: str) -> Any | None:
    """A slice of ``scale``'s volume in µm, with its child's box (where the zoom goes next)."""
    from ..plots import style
    from ..plots import zoom as pz

    h = source.hierarchy()
    name = source.level(scale)
    if h is None or name is None or name not in h:
        return None
    lv = h[name]
    kids = [k for k in h.children(name) if h[k].shape is not None]
    boxes = []
    index = lv.shape[0] // 2
    for k, kid in enumerate(kids):
        lo, hi = h.box_in(kid, name)
        if k == 0:  # the plane through the first child's centre, so its box shows cut
            index = int(np.clip(np.rint((lo[0] + hi[0]) / 2 / lv.voxel_size_um[0]), 0, lv.shape[0] - 1))
        scale_of_kid = h[kid].scale or ""
        boxes.append((kid, lo, hi, style.SCALE_COLORS.get(scale_of_kid, style.COLORWAY[0]), True,
                      _BOX_LABELS.get(scale_of_kid, kid.split("/")[-1])))
    data = volume.data if hasattr(volume, "data") else volume
    plane = np.asarray(data[index], dtype=np.float32)
    z_um = index * lv.voxel_size_um[0]
    return pz.level_figure(plane, axis="z", voxel_size_um=lv.voxel_size_um, boxes=boxes,
                           title=f"{title} (z = {style.um_text(z_um)} µm)", height=560)


def _match_label(truth_labels: np.ndarray, labels: np.ndarray, label: int) -> int | None:
    """The label of ``labels`` that overlaps grain ``label`` of ``truth_labels`` most."""
    inside = labels[truth_labels == label]
    inside = inside[inside > 0]
    if inside.size == 0:
        return None
    return int(np.bincount(inside).argmax())


# ------------------------------------------------------------------------- scales


def _cycler(source: Source, s: _Scale, ctx: dict) -> None:
    from .. import cycling
    from ..plots import cycling as pc

    d = source.load("cycler")
    truth = source.truth("cycler")
    thr = float(d.get("threshold_mv_per_day", 2.0))
    one = d.get("one_cycle")
    if one is not None:
        summary = cycling.cycle_summary(one)
        first = summary.iloc[0]
        t1 = truth.get("one_cycle", {})
        s.finding("charge capacity (cycle 1)", first["charge_capacity_ah"], "Ah", t1.get("charge_capacity_ah"))
        s.finding("discharge capacity (cycle 1)", first["discharge_capacity_ah"], "Ah", t1.get("discharge_capacity_ah"))
        s.finding("coulombic efficiency (cycle 1)", 100 * first["coulombic_efficiency"], "%", fmt=".2f")
        s.values.update(discharge_capacity_ah=float(first["discharge_capacity_ah"]))
        s.figure("S1_charge_discharge", pc.voltage_capacity(one),
                 "Fig. S1 — voltage against capacity of the one-cycle test (charge solid, discharge dashed).")
        s.text.append(f"One cycle gives {first['discharge_capacity_ah']:.3f} Ah at a coulombic efficiency of "
                      f"{100 * first['coulombic_efficiency']:.1f} %: on capacity alone the cell looks normal.")

    table = results = None
    pop = d.get("population")
    if pop is not None:
        table, results = cycling.screen_population(pop, threshold_mv_per_day=thr)
    sd = d.get("self_discharge")
    cell_id = d.get("cell_id")
    result = None
    if sd is not None:
        result = cycling.self_discharge(sd, cell_id=cell_id, threshold_mv_per_day=thr)
    elif results:
        flagged = table.index[table["verdict"] == "fail"].tolist()
        cell_id = flagged[0] if flagged else table["k_value_mv_per_day"].idxmax()
        result = results[cell_id]
    if result is None:
        return
    tsd = truth.get("self_discharge", {})
    complete = result.relaxation_complete
    rest_h = result.rest_duration_day * 24
    if complete:
        s.finding("K-value (voltage drop after relaxation)", result.k_value_mv_per_day, "mV/day",
                  tsd.get("k_value_mv_per_day"), note=f"{result.confidence:.0%} CI [{result.k_ci_low_mv_per_day:.2f}, "
                  f"{result.k_ci_high_mv_per_day:.2f}]; window from day {result.window_start_day:.2f}", fmt=".3f")
        s.finding("leakage current", result.leakage_current_a * 1e3, "mA",
                  None if "leakage_current_a" not in tsd else tsd["leakage_current_a"] * 1e3, fmt=".3f")
        s.finding("capacity lost over the rest", result.capacity_lost_ah * 1e3, "mAh",
                  None if "capacity_lost_ah" not in tsd else tsd["capacity_lost_ah"] * 1e3, fmt=".1f")
        s.finding("relaxation over after", result.relaxation_end_day * 24, "h", fmt=".1f")
    else:
        # the leakage has not separated from the relaxation: its numbers are the fit's
        # extrapolation, not a K-value to screen by
        s.finding("K-value (voltage drop after relaxation)", "not determined", "",
                  note=f"the fit's leakage term alone: {result.k_value_mv_per_day:.3g} mV/day, "
                  f"{result.leakage_current_a * 1e3:.3g} mA")
        s.finding("relaxation over after", "not within the rest", "",
                  note=f"a {rest_h:.3g} h rest; a K-value needs days")
    verdict = result.verdict
    z = n_lot = None
    if table is not None:
        if cell_id in table.index:
            z = float(table.loc[cell_id, "robust_z"])
            verdict = str(table.loc[cell_id, "verdict"])
            n_lot = len(table)
        elif complete:
            ks = np.r_[table["k_value_mv_per_day"].to_numpy(float), result.k_value_mv_per_day]
            z = float(cycling.robust_zscore(ks)[-1])
            z_thr = float(table.attrs.get("z_threshold", 3.5))
            if result.verdict == "pass" and z > z_thr:
                verdict = "fail"
            n_lot = len(table) + 1
        if z is not None:
            s.finding("robust z-score of the K-value in its lot", z, "", note=f"{n_lot} cells; outlier above "
                      f"{table.attrs.get('z_threshold', 3.5)}", fmt=".1f")
        lot_fails = table.index[table["verdict"] == "fail"].tolist()
        t_pop = truth.get("population")
        true_def = t_pop.loc[t_pop["defective"], "cell_id"].tolist() if t_pop is not None else None
        s.finding("cells of the lot flagged", ", ".join(map(str, lot_fails)) or "none", "",
                  ", ".join(true_def) if true_def is not None else None)
        s.figure("cycler_population", pc.population(table),
                 f"The self-discharge screen of the lot: K-value per cell (log scale), the {thr:g} mV/day "
                 "threshold and the population verdict (orange: fail).")
    true_verdict = None
    if "defective" in tsd:
        true_verdict = "fail" if tsd["defective"] else "pass"
    s.finding("QC verdict", verdict, "", true_verdict)
    s.figure("S2_self_discharge", pc.self_discharge(result, title=f"Self-discharge of {cell_id} (Fig. S2)"),
             "Fig. S2 — the voltage over the rest after the charge, with the relaxation + leakage fit and the "
             + ("K-value line over the relaxed part." if result.relaxation_complete else
                "fit's leakage term (dashed): the relaxation is not over, so its slope is no K-value."))
    s.values.update(
        cell_id=cell_id, k_value_mv_per_day=result.k_value_mv_per_day, leakage_current_a=result.leakage_current_a,
        verdict=verdict, robust_z=z, threshold_mv_per_day=thr,
    )
    lot = f"; robust z {z:.1f} among {n_lot} cells of its lot" if z is not None else ""
    if not complete:
        s.values["summary"] = (
            f"{cell_id}: no K-value: the {rest_h:.3g} h rest ends before the relaxation does — QC verdict "
            f"{verdict.upper()} (a K-value needs days of rest)"
        )
        s.text.append(
            f"The rest after the charge lasts {rest_h:.3g} h and ends before the voltage has relaxed: the leakage "
            "cannot yet be told from the relaxation, so there is no K-value to screen by and no verdict "
            f"(<b>{verdict}</b>). A production screen rests the cell for days.")
        return
    s.values["summary"] = (
        f"{cell_id}: K = {result.k_value_mv_per_day:.2f} mV/day [{result.k_ci_low_mv_per_day:.2f}, "
        f"{result.k_ci_high_mv_per_day:.2f}], leakage {result.leakage_current_a * 1e3:.2f} mA — QC verdict "
        f"{verdict.upper()} (threshold {thr:g} mV/day{lot})"
    )
    s.text.append(
        f"At rest after a full charge the cell loses {result.k_value_mv_per_day:.2f} mV/day once the relaxation is "
        f"over (after {result.relaxation_end_day * 24:.1f} h): a leakage of {result.leakage_current_a * 1e3:.2f} mA"
        + (f", a robust z-score of {z:.1f} against its lot" if z is not None else "")
        + f". Verdict: <b>{verdict}</b>."
        + (" Something inside the can is draining it; the next scales look for what." if verdict == "fail" else ""))


def _cell(source: Source, s: _Scale, ctx: dict) -> None:
    from .. import cell
    from ..plots import cell as pcell

    d = source.load("cell")
    vol = d["volume"]
    truth = source.truth("cell")
    zoom_fig = _level_figure(source, "cell", vol, "Cell CT slice and the electrode region")
    res = cell.analyze_volume(vol)
    ok = res.summary[res.summary["status"] == "ok"]
    if ok.empty:
        raise InputError(f"cell volume {vol.attrs.get('source', '')}: no slice could be analysed "
                         f"({res.summary['status'].iloc[0]})")
    spiral = truth.get("spiral", {})
    unit = "µm" if res.defects.attrs.get("length_unit", "um") == "um" else "px"
    s.finding("windings (median over slices)", float(ok["n_windings"].median()), "", spiral.get("n_windings"),
              fmt=".1f", note=f"{len(ok)} of {len(res.summary)} slices analysed")
    s.finding("winding pitch", float(ok["pitch_um"].median()), unit, spiral.get("pitch_um"), fmt=".1f")
    s.finding("can diameter", float(ok["can_diameter_um"].median()), unit,
              spiral.get("can_outer_diameter_um"), fmt=".0f")
    defects = res.defects
    t_def = truth.get("defects")
    kinds = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in defects["type"].value_counts().sort_index().items())
    s.finding("defects found (3D, linked across slices)", len(defects), "", None if t_def is None else len(t_def),
              note=kinds or "none")
    if t_def is not None:
        voxel = float(np.atleast_1d(vol.attrs.get("voxel_size_um"))[0])
        score = cell.score_defects(defects, t_def, tolerance_um=2 * voxel)
        found = int((score["status"] == "found").sum())
        false = int((score["status"] == "false alarm").sum())
        s.finding("planted defects found within 2 voxels", found, "", len(t_def), note=f"{false} false alarm(s)")
        s.values["defects_found"] = found
    inclusions = defects[defects["type"] == "inclusion"].sort_values("severity", ascending=False)
    where = "no inclusion found"
    focus_z = float(vol["z"].values[vol.sizes["z"] // 2]) if "z" in vol.coords else None
    if len(inclusions):
        inc = inclusions.iloc[0]
        t_inc = t_def[t_def["type"] == "inclusion"].iloc[0] if t_def is not None and (t_def["type"] == "inclusion").any() else None
        for axis in ("z", "y", "x"):
            s.finding(f"inclusion position {axis} (cell frame)", float(inc[f"{axis}_um"]), unit,
                      None if t_inc is None else float(t_inc[f"{axis}_um"]), fmt=".0f")
        s.finding("inclusion size", float(inc["size_um"]), unit, None if t_inc is None else float(t_inc["size_um"]),
                  fmt=".0f")
        pos = np.array([inc["z_um"], inc["y_um"], inc["x_um"]], float)
        s.values.update(inclusion_um=pos.tolist(), inclusion_radius_um=float(inc["radius_um"]),
                        inclusion_angle_deg=float(np.degrees(inc["angle_rad"])))
        where = (f"inclusion at (z, y, x) = ({pos[0]:.0f}, {pos[1]:.0f}, {pos[2]:.0f}) {unit} in the cell frame, "
                 f"{inc['radius_um'] / 1000:.2f} mm from the axis at {round(float(np.degrees(inc['angle_rad']))) % 360}°")
        h, name = source.hierarchy(), source.level("cell")
        if h is not None and name in h:
            world = h.to_world(name, pos)
            s.values["inclusion_world_um"] = world.tolist()
        focus_z = float(pos[0])
    # the slice through the inclusion (or the middle), analysed on its own for its overlay
    iz = int(np.argmin(np.abs(np.asarray(vol["z"].values, float) - focus_z))) if focus_z is not None else vol.sizes["z"] // 2
    plane = vol.isel(z=iz)
    one = cell.analyze_slice(plane, z_um=float(vol["z"].values[iz]) if "z" in vol.coords else None)
    near = None
    if t_def is not None:
        near = t_def[(t_def["z_um"] - float(vol["z"].values[iz])).abs() <= 150]
    s.figure("cell_defects", pcell.slice_figure(plane, one, truth=near,
                                                title=f"Cell CT at z = {float(vol['z'].values[iz]):.0f} µm: windings "
                                                      "and defects"),
             "The cell CT slice through the inclusion with the fitted can, the tracked windings and the defects found "
             "(filled markers)" + ("; the twin's planted defects near this height as open markers." if near is not None
                                   else "."), height=650)
    deformation = pcell.deformation_figure(res.residual, defects=defects)
    deformation.update_layout(legend=dict(orientation="h", y=-0.18, x=0))  # clear of the colour bar
    s.figure("cell_deformation", deformation,
             "Deformation of the jelly roll: each winding's distance from the fitted Archimedean spiral, slice by "
             "slice (blue inward, red outward): buckling and gaps stand out.")
    if zoom_fig is not None:
        s.figure("cell_zoom", zoom_fig, "The same cell in µm with the box of the electrode region the zoom enters "
                 "next, at the inclusion.")
    s.values.update(n_defects=len(defects), n_windings=float(ok["n_windings"].median()))
    s.values["summary"] = where + (f"; {len(defects)} defects in all ({kinds})" if len(defects) else "")
    s.text.append(
        f"The CT shows a {float(ok['can_diameter_um'].median()) / 1000:.1f} mm can and a jelly roll of "
        f"{float(ok['n_windings'].median()):.0f} windings (pitch {float(ok['pitch_um'].median()):.0f} {unit}). "
        f"Unrolled and tracked winding by winding it reveals {len(defects)} defects ({kinds or 'none'}). "
        + (f"The metallic inclusion, the likely path of the leakage, sits {where[len('inclusion at '):]}; the zoom "
           "goes into the electrode there." if len(inclusions) else "No inclusion was found."))


def _electrode(source: Source, s: _Scale, ctx: dict) -> None:
    from scipy import stats

    from .. import segment
    from ..plots import electrode as pe

    d = source.load("electrode")
    vol = d["volume"]
    truth = source.truth("electrode")
    axis = d.get("thickness_axis", "x")
    seg = segment.segment_particles(vol, thickness_axis=axis, collector_side=d.get("collector_side", "low"))
    tab = seg.table
    interior = tab[~tab["border"]]
    p = seg.params
    t_tab = truth.get("particle_table")
    if t_tab is not None:
        t_tab = t_tab[t_tab["volume_um3"] >= p["min_volume_um3"]]
    s.finding("particles (including those cut by the faces)", len(tab), "",
              None if t_tab is None else len(t_tab), note=f"{len(interior)} not cut by the faces")
    s.finding("median equivalent diameter", tab["equivalent_diameter_um"].median(), "µm",
              None if t_tab is None else t_tab["equivalent_diameter_um"].median(), fmt=".2f")
    # porosity inside the coating (between collector and separator), from the phase map
    integer = np.issubdtype(vol.dtype, np.integer)
    phases = vol if integer else segment.classify_phases(vol)
    coords = np.asarray(vol[axis].values) if axis in vol.coords else np.arange(vol.sizes[axis]) * seg.params[
        "voxel_size_um"]["zyx".index(axis)]
    lo, hi = sorted((p["collector_um"], p["separator_um"]))
    region = _slab_mask(vol, axis, (coords >= lo) & (coords < hi))
    por = segment.porosity(phases, region=region)
    t_por = None if "phases" not in truth else segment.porosity(truth["phases"], region=region)
    s.finding("porosity of the coating", 100 * por, "%", None if t_por is None else 100 * t_por, fmt=".1f",
              note=f"coating {lo:.1f}–{hi:.1f} µm along {axis}")
    cracked = interior["damage_class"].isin(_CRACKED)
    s.finding("cracked particles (mild or severe)", 100 * cracked.mean(), "%",
              None if t_tab is None else 100 * t_tab[~t_tab["border"]]["damage_class"].isin(_CRACKED).mean(), fmt=".0f")
    profile = segment.damage_depth_profile(tab, depth_column="depth_from_separator_um", n_bins=3)
    near = float(profile["fraction_mild"].iloc[0] + profile["fraction_severe"].iloc[0])
    far = float(profile["fraction_mild"].iloc[-1] + profile["fraction_severe"].iloc[-1])
    t_near = t_far = None
    if t_tab is not None:
        t_prof = segment.damage_depth_profile(t_tab, depth_column="depth_from_separator_um", n_bins=3)
        t_near = 100 * float(t_prof["fraction_mild"].iloc[0] + t_prof["fraction_severe"].iloc[0])
        t_far = 100 * float(t_prof["fraction_mild"].iloc[-1] + t_prof["fraction_severe"].iloc[-1])
    third = (hi - lo) / 3
    s.finding("cracked particles in the third nearest the separator", 100 * near, "%", t_near, fmt=".0f")
    s.finding("cracked particles in the third nearest the collector", 100 * far, "%", t_far, fmt=".0f")
    rho = float(stats.spearmanr(interior["depth_from_separator_um"], interior["crack_fraction"]).statistic)
    t_rho = None
    if t_tab is not None:
        ti = t_tab[~t_tab["border"]]
        t_rho = float(stats.spearmanr(ti["depth_from_separator_um"], ti["crack_fraction"]).statistic)
    s.finding("rank correlation of crack fraction with depth from the separator", rho, "", t_rho, fmt=".2f",
              note="Spearman; negative: more cracking near the separator")
    s.figure("electrode_damage_vs_depth",
             pe.damage_vs_depth(tab, profile, depth_column="depth_from_separator_um",
                                title="Particle cracking against depth from the separator"),
             "Crack fraction of every interior particle against its depth below the separator, coloured by damage "
             "class (least < 2 %, mild 2–10 %, severe ≥ 10 %), with the mean per third of the coating.")
    s.figure("electrode_particles", pe.labelled_slice(vol, seg.labels, title="Electrode CT: segmented particles"),
             "A slice of the electrode CT with the segmented particles outlined.")
    fig = _level_figure(source, "electrode", vol, "Electrode CT slice and the particle")
    if fig is not None:
        s.figure("electrode_zoom", fig, "A slice of the electrode CT through the particle the zoom goes into.")
    s.values.update(n_particles=len(tab), porosity=por, cracked_near_separator=near, cracked_near_collector=far,
                    depth_rank_correlation=rho)
    trend = "grows toward" if near > far else "does not grow toward"
    s.values["summary"] = (
        f"{len(tab)} particles, porosity {100 * por:.0f} %; cracked: {100 * near:.0f} % of particles in the third "
        f"nearest the separator vs {100 * far:.0f} % nearest the collector (damage {trend} the separator)"
    )
    s.text.append(
        f"The electrode region at the defect holds {len(tab)} NMC particles (median {tab['equivalent_diameter_um'].median():.1f}"
        f" µm) in a coating of {100 * por:.0f} % porosity. {100 * cracked.mean():.0f} % of the interior particles are "
        f"cracked, and damage {trend} the separator: {100 * near:.0f} % cracked within {third:.0f} µm of it against "
        f"{100 * far:.0f} % next to the current collector.")


def _slab_mask(volume: Any, axis: str, keep: np.ndarray) -> np.ndarray:
    """A boolean mask of ``volume``'s shape that is ``keep`` along ``axis`` (a slab)."""
    dims = list(volume.dims)
    shape = [1] * len(dims)
    shape[dims.index(axis)] = len(keep)
    return np.broadcast_to(np.asarray(keep).reshape(shape), volume.shape)


# a XANES voxel whose nano-CT sub-voxels are < 75 % one grain mixes two grains' spectra
# (zoom.Hierarchy.regrid_labels); left out of the per-grain statistics
_GRAIN_MIN_PURITY = 0.75


def _particle(source: Source, s: _Scale, ctx: dict) -> None:
    from .. import segment
    from ..plots import particle as pp

    d = source.load("particle")
    vol = d["volume"]
    truth = source.truth("particle")
    res = segment.segment_grains(vol)
    tab = res.table
    t_tab = truth.get("grain_table")
    s.finding("primary grains", len(tab), "", None if t_tab is None else len(t_tab))
    s.finding("median grain equivalent diameter", tab["equivalent_diameter_um"].median(), "µm",
              None if t_tab is None else t_tab["equivalent_diameter_um"].median(), fmt=".2f")
    if "grains" in truth:
        t_lab = truth["grains"].values
        solid = (t_lab > 0) & ~truth["cracks"].values & ~truth["pores"].values
        ari = segment.adjusted_rand_index(t_lab, res.labels, mask=solid)
        s.finding("grain segmentation vs truth (adjusted Rand index)", ari, "", fmt=".3f",
                  note="1 = identical partitions; over the truth's solid voxels")
        s.values["ari"] = ari
    # cracks and pores: the dark voxels inside the closed particle (two-phase threshold)
    phases = segment.classify_phases(vol, n_phases=2)
    particle = res.particle.values
    voids = segment.crack_analysis(particle.astype(np.int32), (phases.values == 1) & particle,
                                   voxel_size_um=res.params["voxel_size_um"], close_um=0.25)
    void_fraction = float(voids["crack_fraction"].iloc[0])
    t_void = None
    if "cracks" in truth:
        inside = truth["grains"].values > 0
        t_void = float(((truth["cracks"].values | truth["pores"].values) & inside).sum() / inside.sum())
    s.finding("crack and pore volume in the particle", 100 * void_fraction, "%",
              None if t_void is None else 100 * t_void, fmt=".1f")
    s.figure("particle_grains", pp.grain_slice(vol, res.labels, title="Particle nano-CT: segmented primary grains"),
             "A slice of the particle's nano-tomogram with the segmented primary grains outlined; cracks and pores "
             "are the dark seams and holes between and inside them.")
    fig = _level_figure(source, "particle", vol, "Particle nano-CT slice and the XANES field of view")
    if fig is not None:
        s.figure("particle_zoom", fig, "A slice of the particle's nano-tomogram with the 3D XANES field of view.")
    # the grains onto the XANES grid, for the per-grain chemistry
    h, name, xname = source.hierarchy(), source.level("particle"), source.level("grain")
    if h is not None and name in h and xname in h and h[xname].parent == name:
        ctx["grain_labels_xanes"] = h.regrid_labels(res.labels, name, xname)
        # for the statistics: without the XANES voxels whose spectrum mixes two grains
        ctx["grain_labels_xanes_pure"] = h.regrid_labels(res.labels, name, xname, min_purity=_GRAIN_MIN_PURITY)
    s.values.update(n_grains=len(tab), void_fraction=void_fraction)
    s.values["summary"] = (
        f"{len(tab)} primary grains (median {tab['equivalent_diameter_um'].median():.2f} µm); cracks and pores "
        f"{100 * void_fraction:.1f} % of the particle's volume"
    )
    s.text.append(
        f"One particle at {1000 * float(np.mean(res.params['voxel_size_um'])):.0f} nm: {len(tab)} primary grains "
        f"(median {tab['equivalent_diameter_um'].median():.2f} µm) separated by boundaries along which intergranular "
        f"cracks open; with the internal pores they take {100 * void_fraction:.1f} % of the particle's volume.")


def _designated_auto(lookup: Any, min_voxels: int) -> tuple[int, int]:
    """Fig. S3's two grains when none are designated: among grains with at least
    ``min_voxels`` valid voxels, grain 2 is the most oxidized (highest mean edge energy),
    grain 1 the least uniform (widest FWHM) of the others."""
    counts = lookup.table["count"].to_numpy()
    ok = np.flatnonzero((counts >= min_voxels) & np.isfinite(lookup.mean) & np.isfinite(lookup.fwhm))
    if len(ok) < 2:
        ok = np.argsort(counts)[::-1][:2]
    g2 = ok[np.argmax(lookup.mean[ok])]
    rest = ok[ok != g2]
    g1 = rest[np.argmax(lookup.fwhm[rest])]
    return int(lookup.labels[g1]), int(lookup.labels[g2])


def _grain(source: Source, s: _Scale, ctx: dict) -> None:
    from .. import regions, xanes
    from .._selection import RegionLookup
    from ..plots import grains as pg
    from ..plots import xanes as px

    d = source.load("grain")
    truth = source.truth("grain")
    stack = d["stack"]
    voxel = stack.attrs.get("voxel_size_um")
    aligned, shifts = xanes.align(stack)
    maps = xanes.edge_maps(aligned)
    masks = xanes.masks(maps)
    edge = maps["edge_energy_half_step_ev"].where(masks["mask"]).rename("edge_energy_ev")
    edge.attrs.update(units="eV", voxel_size_um=voxel)
    valid = np.isfinite(edge.values)
    s.finding("voxels with a trusted edge (mask)", 100 * float(valid.mean()), "%", fmt=".1f",
              note="edge jump clearly above the pre-edge noise, spectrum normalized")
    s.finding("largest alignment shift", float(np.abs(shifts).max()), "px", fmt=".2f",
              truth=float(np.abs(truth["shifts"][["shift_z_px", "shift_y_px", "shift_x_px"]].to_numpy()).max())
              if truth else None)
    err_ev = float(np.nanmedian(maps["edge_energy_half_step_err_ev"].where(masks["mask"]).values))
    s.finding("per-voxel uncertainty (median, from the pre-edge noise)", err_ev, "eV", fmt=".3f")
    s.values["voxel_uncertainty_ev"] = err_ev
    if truth:
        true_edge = truth["truth"]["edge_energy_ev"].values
        err = edge.values - true_edge
        rmse = float(np.sqrt(np.nanmean(err[valid] ** 2)))
        s.finding("per-voxel edge-energy error vs truth (RMSE)", rmse, "eV", fmt=".3f", note="half-step method")
        s.values["voxel_rmse_ev"] = rmse

    labels = d.get("labels")
    label_source = "given with the data"
    segmented = labels is None and ctx.get("grain_labels_xanes") is not None
    if segmented:
        labels = ctx["grain_labels_xanes"]
        label_source = ("the particle scale's grain segmentation, on the XANES grid (voxels mixing two grains "
                        "left out, 3-sigma clipped per grain)")
    if labels is None and truth:
        labels = truth["truth"]["grain_labels"]
        label_source = "the twin's ground truth (no grain segmentation in this version)"
    s.figure("grain_edge_energy_map", px.edge_energy_map(edge, title="Ni K-edge energy (half-step), middle slice"),
             "The Ni K-edge energy of every trusted voxel on the particle's middle slice: higher is more oxidized.")
    if labels is None:
        s.values["summary"] = f"edge energy mapped in {valid.sum()} voxels; no grain labels: no per-grain statistics"
        return
    labels = labels.copy()
    labels.attrs["voxel_size_um"] = voxel
    lab = np.asarray(labels.values)
    finite = edge.values[valid & (lab > 0)]
    lo, hi = np.percentile(finite, [0.1, 99.9])
    # segmented labels hand each grain some of its neighbours' voxels: the statistics leave
    # out the voxels that mix two grains and clip the strays left, per grain
    pure = np.asarray(ctx["grain_labels_xanes_pure"].values) > 0 if segmented else None
    stats = regions.region_stats(edge, labels, name="edge_energy_ev", bins=48, value_range=(float(lo), float(hi)),
                                 mask=pure, clip_sigma=3.0 if segmented else None)
    het = regions.heterogeneity(stats)
    lookup = RegionLookup(stats)
    n_grains = int((stats.table["count"] > 0).sum())
    s.finding("grains with a measured edge energy", n_grains, "", note=f"grain labels: {label_source}")
    s.finding("particle-mean edge energy", het.grand_mean, "eV", fmt=".2f")
    s.finding("variance between grains (share of total)", 100 * het.between_fraction, "%", fmt=".1f",
              note=f"total {het.total_var:.3f} eV²; the rest is within grains")

    designated = d.get("designated")
    design_note = "designated with the data"
    true_rows = {}
    if designated is None and truth:
        model = truth["model"]["designated"]
        t_lab = np.asarray(truth["truth"]["grain_labels"].values)
        same = label_source.startswith("the twin's ground truth")
        designated = [int(model["grain 1"]), int(model["grain 2"])] if same else [
            _match_label(t_lab, lab, int(model[k])) for k in ("grain 1", "grain 2")]
        design_note = "the twin's designated grains" + ("" if same else " (matched by overlap)")
        gt = truth["grains"].set_index("label")
        true_rows = {k: gt.loc[int(model[f"grain {k + 1}"])] for k in range(2)}
    if designated is None or any(g is None or g not in lookup for g in designated):
        designated = list(_designated_auto(lookup, max(20, int(np.median(stats.table["count"])))))
        design_note = "chosen: grain 2 the most oxidized, grain 1 the least uniform of the well-sampled grains"
    summaries = [lookup.summary(g) for g in designated]
    # the width without the per-voxel noise: PCA-denoised map keeping every detectable
    # smooth component (a truncated one biases spreads), noise variance subtracted
    # (bz.xanes.regional); the mean stays the raw map's
    pca = xanes.pca_edge_maps(aligned, mask=masks["mask"].values, n_components="detectable")
    # clipped like the statistics above when the labels are segmented (bz.xanes.regional)
    widths = xanes.region_edge_stats(pca, lab, mask=masks["mask"].values & (lab > 0) & (True if pure is None else pure),
                                     clip_sigma=3.0 if segmented else None)
    fwhm_dec = [float(widths["edge_energy_fwhm_deconvolved_ev"].get(sm.label, np.nan)) for sm in summaries]
    clip_text = ", mixed boundary voxels left out and 3-sigma clipped (segmented labels)" if segmented else ""
    width_note = f"PCA-denoised ({pca.attrs['pca_components']} components), noise variance subtracted{clip_text}"
    for k, sm in enumerate(summaries):
        tr = true_rows.get(k)
        s.finding(f"grain {k + 1} (label {sm.label}): mean edge energy", sm.mean, "eV",
                  None if tr is None else tr["edge_energy_mean_ev"], fmt=".3f", note=design_note if k == 0 else "")
        s.finding(f"grain {k + 1} (label {sm.label}): FWHM as measured", sm.fwhm, "eV",
                  None if tr is None else tr["edge_energy_fwhm_ev"], fmt=".3f",
                  note="widened by the per-voxel uncertainty")
        s.finding(f"grain {k + 1} (label {sm.label}): FWHM without the noise", fwhm_dec[k], "eV",
                  None if tr is None else tr["edge_energy_fwhm_ev"], fmt=".3f",
                  note=width_note)
    closed = [pg.grain_closed_surface(labels, sm.label, values=edge) for sm in summaries]
    # the colour bar lies under the two morphologies (bz.plots.grains.comparison_coloraxis)
    s3 = pg.comparison_figure([(sm, *c) for sm, c in zip(summaries, closed)], title="Two grains (Fig. S3)", height=480)
    s.figure("S3_two_grains", s3,
             "Fig. S3 — the two grains' 3D morphology coloured voxel by voxel by Ni K-edge energy, and their "
             "distributions of edge energy with mean (solid) and FWHM (dotted).", width=1200, height=480)
    surface = pg.grain_surface(labels)
    cmin, cmax = pg.shared_range(lookup.mean)
    s.figure("grain_particle_3d", pg.particle_figure(surface, lookup.labels, lookup.mean, cmin=cmin, cmax=cmax,
                                                     title="The particle's grains by mean edge energy"),
             "Every primary grain of the particle coloured by its mean Ni K-edge energy (one octant cut away).")
    g1, g2 = summaries
    s.values.update(
        grain_labels=designated, grain1_mean_ev=g1.mean, grain1_fwhm_ev=g1.fwhm, grain2_mean_ev=g2.mean,
        grain2_fwhm_ev=g2.fwhm, grain1_fwhm_deconvolved_ev=fwhm_dec[0], grain2_fwhm_deconvolved_ev=fwhm_dec[1],
        between_fraction=het.between_fraction, n_grains=n_grains, label_source=label_source,
    )
    s.values["summary"] = (
        f"grain 2 (#{g2.label}) mean {g2.mean:.2f} eV, FWHM {g2.fwhm:.2f} eV ({fwhm_dec[1]:.2f} without the noise); "
        f"grain 1 (#{g1.label}) mean {g1.mean:.2f} eV, FWHM {g1.fwhm:.2f} eV ({fwhm_dec[0]:.2f} without the noise); {100 * het.between_fraction:.0f} % of the edge-energy variance "
        f"lies between the {n_grains} grains"
    )
    more = "more" if g2.mean > g1.mean else "less"
    wider = "less" if g1.fwhm > g2.fwhm else "more"
    s.text.append(
        f"The Ni K-edge energy differs from grain to grain ({100 * het.between_fraction:.0f} % of its variance lies "
        f"between grains) and within them. Grain 2 is {more} oxidized than grain 1 (mean {g2.mean:.2f} vs "
        f"{g1.mean:.2f} eV) and grain 1 is the {wider} uniform (FWHM {g1.fwhm:.2f} vs {g2.fwhm:.2f} eV): the "
        "chemistry is heterogeneous at the scale of single primary grains, as in the study's Fig. S3. A measured "
        f"FWHM includes the per-voxel uncertainty (median {err_ev:.2f} eV), which widens the narrowest grains most; "
        f"without it (PCA-denoised map, noise variance subtracted{clip_text}) grain 1's FWHM is {fwhm_dec[0]:.2f} eV and grain "
        f"2's {fwhm_dec[1]:.2f} eV.")


_RUNNERS: dict[str, Callable[[Source, _Scale, dict], None]] = {
    "cycler": _cycler,
    "cell": _cell,
    "electrode": _electrode,
    "particle": _particle,
    "grain": _grain,
}


# --------------------------------------------------------------------------- run


def run_zoom(
    dataset: str | os.PathLike | Source = "twin",
    *,
    scales: tuple[str, ...] | list[str] | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
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

    Returns
    -------
    ZoomReport

    Raises
    ------
    InputError, FileFormatError
        An unknown dataset or scale, or a malformed ``batteryzoom.yaml``.
    """
    from .._progress import progress as bar

    source = open_source(dataset)
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
        if not source.has(scale):
            results[scale] = ScaleResult(scale, "absent", f"the dataset holds no {scale} data")
        else:
            t = time.perf_counter()
            collected = _Scale(scale, source.is_twin)
            try:
                _RUNNERS[scale](source, collected, ctx)
                status, text = "done", " ".join(collected.text)
            except BatteryZoomError as exc:
                if source.is_twin:
                    raise  # the twin must always run: a failure there is a bug
                status, text = "failed", str(exc)
            res = ScaleResult(scale, status, text, [f.name for f in collected.figures], time.perf_counter() - t,
                              collected.values)
            results[scale] = res
            rows.extend(collected.rows)
            for f in collected.figures:
                figures[f.name] = f
        if log is not None:
            r = results[scale]
            detail = r.values.get("summary") if r.status == "done" else f"{r.status}: {r.text}"
            log(f"  [{scale}] {r.seconds:5.1f} s  {detail}")
    columns = ["scale", "finding", "value", "text", "unit", "truth", "truth_text", "note"]
    findings = pd.DataFrame(rows, columns=columns)
    # the study's figures first, then the scales' own in the order of the zoom
    order = [n for n in STUDY_FIGURES if n in figures] + [n for n in figures if n not in STUDY_FIGURES]
    return ZoomReport(
        dataset=source.name, description=source.description, is_twin=source.is_twin, scales=results,
        figures={n: figures[n] for n in order}, findings=findings, seconds=time.perf_counter() - t0,
    )


# ------------------------------------------------------------------------ writing


def find_chromium() -> str | None:
    """Path of the system chromium (``BROWSER_PATH`` if set, else ``chromium`` or
    ``chromium-browser`` on ``PATH``), or None. Never downloads a browser."""
    env = os.environ.get("BROWSER_PATH")
    if env and os.access(env, os.X_OK):
        return env
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


_NO_CHROMIUM = ("static figures (PNG/SVG) not written: chromium was not found. Install it with "
                "`sudo apt-get install chromium` (or run `make setup`), then run the report again; "
                "index.html holds every figure")


def export_figures(
    figures: dict[str, ReportFigure],
    folder: str | os.PathLike,
    *,
    formats: tuple[str, ...] = ("png", "svg"),
    chromium: str | None = None,
) -> tuple[dict[str, list[Path]], str]:
    """Write every figure as ``folder/<name>.<format>`` through kaleido and the system chromium.

    All figures go through one browser session (``plotly.io.write_images``). Files are
    written to a temporary folder beside ``folder`` and moved into place one by one
    (atomic renames), so an interrupted export leaves no partial image.

    Returns
    -------
    written : dict of str -> list of Path
        Per figure, its files (empty when chromium is missing).
    message : str
        What happened, in words.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        return {}, _NO_CHROMIUM
    import plotly.io as pio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".figures-", dir=folder.parent))
    old = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = chromium  # kaleido (choreographer) drives exactly this browser
    try:
        figs, files, widths, heights = [], [], [], []
        for f in figures.values():
            for fmt in formats:
                figs.append(f.figure)
                files.append(tmp / f"{f.name}.{fmt}")
                widths.append(f.width)
                heights.append(f.height)
        t = time.perf_counter()
        pio.write_images(figs, files, width=widths, height=heights, scale=1, validate=False)
        seconds = time.perf_counter() - t
        written: dict[str, list[Path]] = {}
        for f in figures.values():
            for fmt in formats:
                target = folder / f"{f.name}.{fmt}"
                os.replace(tmp / f"{f.name}.{fmt}", target)
                _readable(target)
                written.setdefault(f.name, []).append(target)
    finally:
        if old is None:
            os.environ.pop("BROWSER_PATH", None)
        else:
            os.environ["BROWSER_PATH"] = old
        shutil.rmtree(tmp, ignore_errors=True)
    return written, f"{len(files)} static figures written with {chromium} in {seconds:.1f} s"


def _readable(path: Path) -> None:
    """Give a file written through a private temporary file the usual ``0666 & ~umask`` mode."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def write_report(report: ZoomReport, out: str | os.PathLike = "report", *, static: bool = True,
                 chromium: str | None = None) -> ReportFiles:
    """Write ``out/index.html`` and ``out/figures/<name>.png`` / ``.svg``.

    Parameters
    ----------
    report : ZoomReport
        From :func:`run_zoom`.
    out : path-like
        Output folder (created; files already there are replaced one by one, atomically).
    static : bool
        Export PNG and SVG too (needs chromium; without it the HTML is still written and
        :attr:`ReportFiles.static_message` says how to get them).
    chromium : str, optional
        The browser to export with (default :func:`find_chromium`).
    """
    from .html import render_html
    from ..data.store import atomic_write_bytes

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"out={str(out)!r} is a file; give a folder for the report")
    out.mkdir(parents=True, exist_ok=True)
    figures_dir = out / "figures"
    written: dict[str, list[Path]] = {}
    message = "static figures not requested"
    if static:
        try:
            written, message = export_figures(report.figures, figures_dir, chromium=chromium)
        except Exception as exc:  # kaleido/chromium failures must not cost the HTML report
            written, message = {}, f"static export failed ({type(exc).__name__}: {exc}); index.html holds every figure"
    html = render_html(report, {n: [p.relative_to(out) for p in ps] for n, ps in written.items()}, message)
    index = atomic_write_bytes(out / "index.html", html.encode("utf-8"))
    _readable(index)
    return ReportFiles(index=index, figures_dir=figures_dir, static=written, static_message=message)


def main(dataset: str = "twin", out: str | Path = "report") -> int:
    """Entry point of ``batteryzoom report``: run the zoom, write the report, print a summary.

    Returns the process exit code (0 on success; errors propagate to the command, which
    prints them and exits with 2).
    """
    src = open_source(dataset)
    print(f"batteryzoom report: {src.name} — {src.description}", flush=True)
    from tqdm.auto import tqdm

    report = run_zoom(src, log=tqdm.write)  # lines above the progress bars, not through them
    t = time.perf_counter()
    files = write_report(report, out)
    print(f"  [report] {time.perf_counter() - t:5.1f} s  {len(report.figures)} figures; {files.static_message}")
    print()
    print(f"Report: {files.index.resolve()}")
    if files.static:
        print(f"Figures (PNG, SVG): {files.figures_dir.resolve()}")
    print()
    print("Summary")
    for line in report.summary_lines():
        print("  " + line)
    print(f"\nThe zoom took {report.seconds:.0f} s. Open the report in a browser: file://{files.index.resolve()}")
    return 0
