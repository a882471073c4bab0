"""The report's grain scale: ``bz.xanes.grain_chemistry`` turned into findings, prose and figures.

The 3D XANES stack aligned, the Ni K-edge energy of every voxel, its per-grain mean and
FWHM (as measured and without the noise), the split of its variance between and within
grains and the two grains of Fig. S3: the pipeline computes them; here they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .results import Collector
from .sources import Source

__all__ = ["run", "grain_scale", "GrainScale", "S3_SIZE_PX"]

# Fig. S3's size (px, at scale 1): the two 3D panels ~430 px square each, the distributions beside
S3_SIZE_PX = (1400, 620)


def _match_label(truth_labels: np.ndarray, labels: np.ndarray, label: int) -> int | None:
    """The label of ``labels`` that overlaps grain ``label`` of ``truth_labels`` most."""
    inside = labels[truth_labels == label]
    inside = inside[inside > 0]
    if inside.size == 0:
        return None
    return int(np.bincount(inside).argmax())


def _labels(d: dict, ctx: dict, truth: dict) -> tuple[Any, str, bool]:
    """The grain labels on the XANES grid, where they come from, and whether segmented."""
    labels = d.get("labels")
    if labels is not None:
        return labels, "given with the data", False
    if ctx.get("grain_labels_xanes") is not None:
        return ctx["grain_labels_xanes"], ("the particle scale's grain segmentation, on the XANES grid (voxels mixing "
                                           "two grains left out, 3-sigma clipped per grain)"), True
    if truth:
        return truth["truth"]["grain_labels"], "the twin's ground truth (no grain segmentation in this version)", False
    return None, "", False


def _designated(d: dict, truth: dict, labels: Any, label_source: str) -> tuple[Any, str, dict]:
    """Fig. S3's grains as asked for (the data's, else the twin's matched by overlap), a note
    on where they come from, and the twin's true rows of the two."""
    designated = d.get("designated")
    if designated is not None or not truth:
        return designated, "designated with the data", {}
    model = truth["model"]["designated"]
    t_lab = np.asarray(truth["truth"]["grain_labels"].values)
    lab = np.asarray(getattr(labels, "values", labels))
    same = label_source.startswith("the twin's ground truth")
    designated = [int(model["grain 1"]), int(model["grain 2"])] if same else [
        _match_label(t_lab, lab, int(model[k])) for k in ("grain 1", "grain 2")]
    gt = truth["grains"].set_index("label")
    true_rows = {k: gt.loc[int(model[f"grain {k + 1}"])] for k in range(2)}
    return designated, "the twin's designated grains" + ("" if same else " (matched by overlap)"), true_rows


@dataclass
class GrainScale:
    """The grain scale as the report computes it: what notebooks 00 and 05, the
    GrainExplorer and napari show of it come from this one object.

    Attributes
    ----------
    chemistry : GrainChemistry
        :func:`batteryzoom.xanes.grain_chemistry` of the stack over the grain labels.
    label_source : str
        Where the grain labels come from, in words.
    segmented : bool
        Whether they are a segmentation (mixed voxels left out, 3-sigma clipped).
    design_note : str
        How Fig. S3's two grains were designated.
    true_labels : list of int, optional
        On the twin: the true labels of grains 1 and 2 (the labels of
        ``bz.data.load("twin/particle-xanes", part="truth")["grain_labels"]``), which
        differ from the segmented ones; None off the twin.
    true_rows : dict
        The twin's true rows (``part="grains"``) of grains 1 and 2, by index 0 and 1.
    raw : RawXanes, optional
        When the stack was reconstructed from raw projections here
        (:func:`batteryzoom.xanes.xanes_from_raw`): the reconstructions, the magnification
        fitted, the centres and the per-voxel error bars with the noise where it is.
    """

    chemistry: Any
    label_source: str
    segmented: bool = False
    design_note: str = ""
    true_labels: list[int] | None = None
    true_rows: dict = field(default_factory=dict)
    raw: Any = None

    @property
    def designated(self) -> dict[str, int]:
        """``{"grain 1": label, "grain 2": label}`` in the labels of :attr:`chemistry`
        (what ``bz.widgets.GrainExplorer(designated=...)`` takes); empty without two grains."""
        pair = self.chemistry.designated or []
        return {f"grain {k + 1}": int(g) for k, g in enumerate(pair)}

    def name(self, k: int) -> str:
        """Grain ``k + 1``'s name with its label, and the twin's true label when the label
        spaces differ: ``"grain 1 (segmented #391 ↔ true #1398)"``, else ``"grain 1 (#391)"``."""
        label = self.chemistry.designated[k]
        true = None if self.true_labels is None else self.true_labels[k]
        if true is None or true == label:
            return f"grain {k + 1} (#{label})"
        return f"grain {k + 1} (segmented #{label} ↔ true #{true})"

    def table(self) -> pd.DataFrame:
        """Grains 1 and 2 as :meth:`GrainChemistry.designated_table` (``edge_energy_fwhm_ev``
        as measured, ``edge_energy_fwhm_deconvolved_ev`` noise-deconvolved), with ``name``
        and, on the twin, ``true_label``."""
        tab = self.chemistry.designated_table()
        tab.insert(0, "name", [self.name(k) for k in range(2)])
        if self.true_labels is not None:
            tab.insert(2, "true_label", self.true_labels)
        return tab


def grain_scale(dataset: Any = "twin", *, progress: bool | None = None, from_raw: bool = False) -> GrainScale:
    """The report's grain scale on ``dataset``, alone: the particle's grains carried onto the
    XANES grid (as :func:`run_zoom`'s particle scale does), then the chemistry.

    Parameters
    ----------
    dataset : "twin", path, or Source
        As :func:`batteryzoom.report.run_zoom`'s.
    progress : bool, optional
        Show progress bars (default: ``BATTERYZOOM_PROGRESS``).
    from_raw : bool
        On the twin: from its raw acquisitions (:class:`~batteryzoom.report.TwinSource`).

    Returns
    -------
    GrainScale
        The same numbers as the report's grain scale (``run_zoom(dataset).value("grain",
        "grain_scale")``).

    Examples
    --------
    .. code-block:: python

        grains = bz.report.grain_scale("twin")       # ~1 min on two cores
        grains.table()[["name", "edge_energy_fwhm_ev", "edge_energy_fwhm_deconvolved_ev"]]
    """
    from ..segment import particle_structure
    from .particle import grains_on_xanes_grid
    from .sources import open_source

    source = dataset if isinstance(dataset, Source) else open_source(dataset, from_raw=from_raw)
    ctx: dict = {}
    if source.has("particle"):
        structure = particle_structure(source.load("particle")["volume"])
        ctx.update(grains_on_xanes_grid(source, structure.grains.labels))
    return _grain_scale(source, source.load("grain"), ctx, progress)


def _grain_scale(source: Source, d: dict, ctx: dict, progress: bool | None = None) -> GrainScale:
    """The chemistry of ``d`` (the grain scale's data) over the best labels at hand."""
    from ..xanes import grain_chemistry

    truth = source.truth("grain")
    labels, label_source, segmented = _labels(d, ctx, truth)
    designated, design_note, true_rows = (None, "", {}) if labels is None else \
        _designated(d, truth, labels, label_source)
    # segmented labels hand each grain some of its neighbours' voxels: the statistics leave
    # out the voxels that mix two grains and clip the strays left, per grain
    pure = np.asarray(ctx["grain_labels_xanes_pure"].values) > 0 if segmented else None
    options = dict(mask=pure, clip_sigma=3.0 if segmented else None, progress=progress,
                   designated=[g if g is not None else -1 for g in designated] if designated else None)
    raw = None
    if d.get("acquisition") is not None:  # raw projections: reconstructed, magnification-corrected, then the same
        from ..xanes import xanes_from_raw

        raw = xanes_from_raw(d["acquisition"], labels, **d.get("options", {}), **options)
        chem = raw.chemistry
    else:
        chem = grain_chemistry(d["stack"], labels, **options)
    true_labels = None
    if truth and chem.designated is not None and not chem.designated_auto:
        model = truth["model"]["designated"]
        true_labels = [int(model["grain 1"]), int(model["grain 2"])]
    if chem.designated_auto:
        design_note = "chosen: grain 2 the most oxidized, grain 1 the least uniform of the well-sampled grains"
        true_rows = {}
    return GrainScale(chem, label_source, segmented, design_note, true_labels, true_rows, raw)


def run(source: Source, s: Collector, ctx: dict) -> None:
    """Findings, figures and text of the grain scale into ``s``."""
    from ..plots import xanes as px

    d = source.load("grain")
    truth = source.truth("grain")
    gs = _grain_scale(source, d, ctx)
    s.values["grain_scale"] = gs
    chem = gs.chemistry
    edge = chem.edge
    s.finding("voxels with a trusted edge (mask)", 100 * chem.trusted_fraction, "%", fmt=".1f",
              note="edge jump clearly above the pre-edge noise, spectrum normalized")
    shifts = truth.get("shifts") if truth else None
    s.finding("largest alignment shift", chem.max_shift_px, "px", fmt=".2f",
              truth=None if shifts is None else float(np.abs(shifts[["shift_z_px", "shift_y_px", "shift_x_px"]]
                                                              .to_numpy()).max()),
              note="" if gs.raw is None else "after reconstruction on each energy's own axis, jitter and "
                                              "magnification corrected")
    err_ev = chem.voxel_uncertainty_ev
    if gs.raw is None:
        s.finding("per-voxel uncertainty (median, from the pre-edge noise)", err_ev, "eV", fmt=".3f")
    else:  # the reconstruction's noise varies across the field: measured where it is
        err_ev = float(np.nanmedian(gs.raw.edge_err_ev.values))
        s.finding("per-voxel uncertainty (median, from the pre-edge noise)", err_ev, "eV", fmt=".3f",
                  note="local noise level and the counts' noise at the edge (bz.xanes.xanes_from_raw)")
        r = gs.raw
        s.values["route"] = (f"{source.route('grain')[:-1]}; magnification exponent {r.magnification_exponent:.3f}, "
                             f"axis {min(r.centres_px):.2f}–{max(r.centres_px):.2f} px)")
    s.values["voxel_uncertainty_ev"] = err_ev
    if truth:
        valid = np.isfinite(edge.values)
        err = edge.values - truth["truth"]["edge_energy_ev"].values
        rmse = float(np.sqrt(np.nanmean(err[valid] ** 2)))
        s.finding("per-voxel edge-energy error vs truth (RMSE)", rmse, "eV", fmt=".3f", note="half-step method")
        s.values["voxel_rmse_ev"] = rmse
    s.figure("grain_edge_energy_map", px.edge_energy_map(edge, title="Ni K-edge energy (half-step), middle slice"),
             "The Ni K-edge energy of every trusted voxel on the particle's middle slice: higher is more oxidized.")
    if chem.labels is None:
        n = int(np.isfinite(edge.values).sum())
        s.values["summary"] = f"edge energy mapped in {n} voxels; no grain labels: no per-grain statistics"
        return
    _per_grain(s, gs)


def _per_grain(s: Collector, gs: GrainScale) -> None:
    from ..plots import grains as pg

    chem, label_source, segmented, true_rows = gs.chemistry, gs.label_source, gs.segmented, gs.true_rows
    het, n_grains, err_ev = chem.heterogeneity, chem.n_grains, chem.voxel_uncertainty_ev
    s.finding("grains with a measured edge energy", n_grains, "", note=f"grain labels: {label_source}")
    s.finding("particle-mean edge energy", het.grand_mean, "eV", fmt=".2f")
    s.finding("variance between grains (share of total)", 100 * het.between_fraction, "%", fmt=".1f",
              note=f"total {het.total_var:.3f} eV²; the rest is within grains")
    summaries, fwhm_dec = chem.summaries, chem.fwhm_deconvolved_ev
    if len(summaries) < 2:
        s.values["summary"] = f"{n_grains} grain(s) with a measured edge energy: too few for Fig. S3's two"
        return
    clip_text = ", mixed boundary voxels left out and 3-sigma clipped (segmented labels)" if segmented else ""
    width_note = f"PCA-denoised ({chem.pca_components} components), noise variance subtracted{clip_text}"
    names = [gs.name(k) for k in range(2)]
    for k, sm in enumerate(summaries):
        tr = true_rows.get(k)
        s.finding(f"{names[k]}: mean edge energy", sm.mean, "eV",
                  None if tr is None else tr["edge_energy_mean_ev"], fmt=".3f", note=gs.design_note if k == 0 else "")
        s.finding(f"{names[k]}: FWHM as measured", sm.fwhm, "eV",
                  None if tr is None else tr["edge_energy_fwhm_ev"], fmt=".3f",
                  note="widened by the per-voxel uncertainty")
        s.finding(f"{names[k]}: FWHM noise-deconvolved", fwhm_dec[k], "eV",
                  None if tr is None else tr["edge_energy_fwhm_ev"], fmt=".3f", note=width_note)
    labels, edge = chem.labels, chem.edge
    closed = [pg.grain_closed_surface(labels, sm.label, values=edge) for sm in summaries]
    # the colour bar lies under the two morphologies (bz.plots.grains.comparison_coloraxis);
    # the headline FWHM is the noise-deconvolved one, the spread of energy within the grain the
    # study means (the histograms, of the measured voxels, carry the measured one)
    s3 = pg.comparison_figure([(sm, *c) for sm, c in zip(summaries, closed)], title="Two grains (Fig. S3)",
                              height=S3_SIZE_PX[1], names=names, fwhm_deconvolved=fwhm_dec)
    s.figure("S3_two_grains", s3,
             "Fig. S3 — the two grains' 3D morphology coloured voxel by voxel by Ni K-edge energy (both on one "
             "scale and in equal boxes), and their distributions of edge energy as measured with mean (solid) and "
             "FWHM as measured (dotted). The FWHM in each title is noise-deconvolved (the per-voxel uncertainty "
             "subtracted): the spread of energy within the grain that the study compares.",
             width=S3_SIZE_PX[0], height=S3_SIZE_PX[1])
    lookup = chem.lookup
    cmin, cmax = pg.shared_range(lookup.mean)
    s.figure("grain_particle_3d", pg.particle_figure(pg.grain_surface(labels), lookup.labels, lookup.mean, cmin=cmin,
                                                     cmax=cmax, title="The particle's grains by mean edge energy"),
             "Every primary grain of the particle coloured by its mean Ni K-edge energy (one octant cut away).")
    g1, g2 = summaries
    s.values.update(
        grain_labels=chem.designated, grain_names=names, grain1_mean_ev=g1.mean, grain1_fwhm_ev=g1.fwhm,
        grain2_mean_ev=g2.mean, grain2_fwhm_ev=g2.fwhm, grain1_fwhm_deconvolved_ev=fwhm_dec[0],
        grain2_fwhm_deconvolved_ev=fwhm_dec[1], between_fraction=het.between_fraction, n_grains=n_grains,
        label_source=label_source,
    )
    s.values["summary"] = (
        f"{names[1]} mean {g2.mean:.2f} eV, FWHM {fwhm_dec[1]:.2f} eV noise-deconvolved ({g2.fwhm:.2f} as "
        f"measured); {names[0]} mean {g1.mean:.2f} eV, FWHM {fwhm_dec[0]:.2f} eV noise-deconvolved "
        f"({g1.fwhm:.2f} as measured); {100 * het.between_fraction:.0f} % of the edge-energy variance lies "
        f"between the {n_grains} grains"
    )
    more = "more" if g2.mean > g1.mean else "less"
    wider = "less" if fwhm_dec[0] > fwhm_dec[1] else "more"
    s.text.append(
        f"The Ni K-edge energy differs from grain to grain ({100 * het.between_fraction:.0f} % of its variance lies "
        f"between grains) and within them. Grain 2 is {more} oxidized than grain 1 (mean {g2.mean:.2f} vs "
        f"{g1.mean:.2f} eV) and grain 1 is the {wider} uniform (FWHM noise-deconvolved {fwhm_dec[0]:.2f} vs "
        f"{fwhm_dec[1]:.2f} eV): the chemistry is heterogeneous at the scale of single primary grains, as in the "
        f"study's Fig. S3. A FWHM as measured includes the per-voxel uncertainty (median {err_ev:.2f} eV), which "
        f"widens the narrowest grains most: as measured grain 1's is {g1.fwhm:.2f} eV and grain 2's {g2.fwhm:.2f} "
        f"eV; the noise-deconvolved ones come from the PCA-denoised map, noise variance subtracted{clip_text}."
        + (f" The grains are named in the segmentation's labels; the twin's true labels are given beside them "
           f"({names[0]}, {names[1]})." if gs.true_labels is not None and gs.true_labels != chem.designated else ""))
