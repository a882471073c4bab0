"""The report's electrode scale: ``bz.segment.electrode_damage`` turned into findings, prose and figures.

Particles, porosity of the coating, cracks and how damage varies with depth from the
separator: the pipeline computes them (and the same from the twin's truth); here they are
shown.
"""

from __future__ import annotations

from ._levels import level_figure
from .results import Collector
from .sources import Source

__all__ = ["run"]


def run(source: Source, s: Collector, ctx: dict) -> None:
    """Findings, figures and text of the electrode scale into ``s``."""
    from ..plots import electrode as pe
    from ..segment import electrode_damage

    d = source.load("electrode")
    vol = d["volume"]
    truth = source.truth("electrode") or None
    res = electrode_damage(vol, thickness_axis=d.get("thickness_axis", "x"),
                           collector_side=d.get("collector_side", "low"), truth=truth)
    c, t = res.census, res.truth
    s.finding("particles (including those cut by the faces)", c.n_particles, "", None if t is None else t.n_particles,
              note=f"{c.n_interior} not cut by the faces")
    s.finding("median equivalent diameter", c.median_diameter_um, "µm", None if t is None else t.median_diameter_um,
              fmt=".2f")
    lo, hi = res.coating_um
    s.finding("porosity of the coating", 100 * res.porosity, "%",
              None if res.truth_porosity is None else 100 * res.truth_porosity, fmt=".1f",
              note=f"coating {lo:.1f}–{hi:.1f} µm along {res.thickness_axis}")
    s.finding("cracked particles (mild or severe)", 100 * c.cracked_fraction, "%",
              None if t is None else 100 * t.cracked_fraction, fmt=".0f")
    near, far = c.cracked_near_separator, c.cracked_near_collector
    s.finding("cracked particles in the third nearest the separator", 100 * near, "%",
              None if t is None else 100 * t.cracked_near_separator, fmt=".0f")
    s.finding("cracked particles in the third nearest the collector", 100 * far, "%",
              None if t is None else 100 * t.cracked_near_collector, fmt=".0f")
    rho = c.depth_rank_correlation
    s.finding("rank correlation of crack fraction with depth from the separator", rho, "",
              None if t is None else t.depth_rank_correlation, fmt=".2f",
              note="Spearman; negative: more cracking near the separator")
    tab = res.table
    s.figure("electrode_damage_vs_depth",
             pe.damage_vs_depth(tab, c.profile, depth_column="depth_from_separator_um",
                                title="Particle cracking against depth from the separator"),
             "Crack fraction of every interior particle against its depth below the separator, coloured by damage "
             "class (least < 2 %, mild 2–10 %, severe ≥ 10 %), with the mean per third of the coating.")
    s.figure("electrode_particles", pe.labelled_slice(vol, res.particles.labels, title="Electrode CT: segmented particles"),
             "A slice of the electrode CT with the segmented particles outlined.")
    fig = level_figure(source, "electrode", vol, "Electrode CT slice and the particle")
    if fig is not None:
        s.figure("electrode_zoom", fig, "A slice of the electrode CT through the particle the zoom goes into.")
    por = res.porosity
    s.values.update(n_particles=c.n_particles, porosity=por, cracked_near_separator=near, cracked_near_collector=far,
                    depth_rank_correlation=rho)
    trend = "grows toward" if near > far else "does not grow toward"
    s.values["summary"] = (
        f"{c.n_particles} particles, porosity {100 * por:.0f} %; cracked: {100 * near:.0f} % of particles in the third "
        f"nearest the separator vs {100 * far:.0f} % nearest the collector (damage {trend} the separator)"
    )
    s.text.append(
        f"The electrode region at the defect holds {c.n_particles} NMC particles (median {c.median_diameter_um:.1f}"
        f" µm) in a coating of {100 * por:.0f} % porosity. {100 * c.cracked_fraction:.0f} % of the interior particles "
        f"are cracked, and damage {trend} the separator: {100 * near:.0f} % cracked within {(hi - lo) / 3:.0f} µm of "
        f"it against {100 * far:.0f} % next to the current collector.")
