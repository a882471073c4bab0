"""GrainExplorer: click a grain in 3D, see its distribution of edge energy (Fig. S3)."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..regions import RegionLookup, RegionSummary
from ..errors import InputError
from ..plots import grains as pg
from ..plots import style
from ..plots.style import value_label as _value_label
from ._clicks import on_click

__all__ = ["GrainExplorer"]


class GrainExplorer(widgets.VBox):
    """The particle's grains in 3D, coloured by mean edge energy; click to inspect.

    Clicking a grain (or choosing it in the "selection A" / "selection B" dropdowns) shows,
    beside the 3D view, that grain's distribution of edge energy with its mean and FWHM, its
    mean spectrum (when spectra are given) and its row of the statistics table. A second
    selection adds the side-by-side comparison of the study's Fig. S3: both grains'
    morphologies coloured voxel by voxel, and their two distributions. Clicks fill selection
    A, then B; a further click moves B to A and takes its place.

    Only the study's designated grains (``designated``) are called "grain 1" and "grain 2"
    (``"grain 1 (#391)"``), in whichever slot they are; any other grain is named by its label
    (``"grain #1311"``), so a clicked grain is never taken for the study's grain 1. A grain
    keeps its colour whatever slot it lands in (grains 1 and 2 of the study their own).

    Grains without a value (every voxel masked, e.g. none with a trusted edge: a NaN mean)
    are left out of the lists, which say how many and why; a click on one says so.

    All per-grain numbers come from the statistics given (``bz.regions.region_stats``):
    a selection only looks them up, so it costs the same for 20 grains or 2,000.

    Parameters
    ----------
    labels : array-like (z, y, x) of int
        Grain labels (0 = background); an xarray volume provides ``attrs["voxel_size_um"]``.
    stats : RegionStats
        ``bz.regions.region_stats(values, labels, name=...)`` of the map over these labels.
    values : array-like (z, y, x), optional
        The per-voxel map (e.g. edge energy, eV) on the same grid: colours each grain's
        morphology voxel by voxel in the comparison.
    spectra : xarray.DataArray (label, energy) or DataFrame, optional
        Mean spectrum of each grain.
    voxel_size_um : float or (3,) floats, optional
        When ``labels`` carries no ``attrs["voxel_size_um"]``.
    name : str, optional
        The map's column prefix in ``stats.table`` (inferred when unambiguous).
    cut : {"octant", "half", None}
        Cut away part of the particle in the 3D view so interior grains can be clicked.
    surface : GrainSurface, optional
        A precomputed :func:`batteryzoom.plots.grains.grain_surface` of ``labels``.
    width : int or None
        Width in pixels of the whole explorer (3D view and distributions half of it each,
        side by side; stacked where the output area is narrower than the two). The default
        fits JupyterLab's output area in a 1,400 px window with the file browser open
        (~1,017 px). None: the figures size themselves to the container (plotly's autosize;
        in JupyterLab 4 they were drawn 700 px wide whatever the container, so not default).
    height : int
        Height in pixels of the 3D view.
    e0_ev : float, optional
        Where the mean-spectrum panel centres its default window (eV); default: the edge
        energy (``bz.xanes.find_e0``) of the grains' average spectrum.
    spectrum_window_ev : float
        Half-width of that window (eV): the edge region, where a shift of a fraction of an eV
        between grains shows; the control under the panel widens it to the whole scan.
    designated : dict of name -> label, or two labels, optional
        The study's designated grains: ``{"grain 1": 391, "grain 2": 336}`` (as the twin's
        ``model["designated"]``), or ``[391, 336]`` for grain 1 and grain 2. They are named
        so (``"grain 1 (#391)"``) wherever they show.

    Examples
    --------
    Two grains in a small volume, with an edge-energy map (eV) that differs between them
    (on the twin: ``truth = bz.data.load("twin/particle-xanes", part="truth")``, then
    ``truth["grain_labels"]`` and ``truth["edge_energy_ev"]``):

    >>> import numpy as np
    >>> import batteryzoom as bz
    >>> grains = np.zeros((12, 12, 12), np.int32)
    >>> grains[2:10, 2:10, 2:6], grains[2:10, 2:10, 6:10] = 1, 2
    >>> edge_ev = np.where(grains == 1, 8341.0, 8342.5) + np.random.default_rng(0).normal(0, 0.2, grains.shape)
    >>> stats = bz.regions.region_stats(edge_ev, grains, name="edge_energy_ev")
    >>> explorer = bz.widgets.GrainExplorer(grains, stats, values=edge_ev, voxel_size_um=0.1)
    >>> explorer.select(2)   # what a click on grain 2 does
    >>> explorer.selected, round(explorer.summaries[0].mean, 1)
    ([2], 8342.5)
    """

    def __init__(
        self,
        labels: Any,
        stats: Any,
        *,
        values: Any = None,
        spectra: Any = None,
        voxel_size_um: Sequence[float] | float | None = None,
        name: str | None = None,
        cut: str | None = "octant",
        surface: pg.GrainSurface | None = None,
        width: int | None = 960,
        height: int = 520,
        designated: Mapping[str, int] | Sequence[int] | None = None,
        e0_ev: float | None = None,
        spectrum_window_ev: float = 30.0,
    ):
        self.lookup = RegionLookup(stats, name=name, spectra=spectra)
        self.designated = self._designated_names(designated)
        self._labels = pg._labels_array(labels)
        self._voxel_size_um = pg._voxel_size(labels, voxel_size_um)
        self._values = None
        if values is not None:
            self._values = np.asarray(values.values if hasattr(values, "dims") else values)
            if self._values.shape != self._labels.shape:
                raise InputError(
                    f"values have shape {self._values.shape}, labels {self._labels.shape}: "
                    "pass the map on the labels' grid"
                )
        self.value_label, self.unit = _value_label(self.lookup.name)
        self.surface = surface if surface is not None else pg.grain_surface(
            self._labels, self._voxel_size_um, cut=cut
        )
        self.cmin, self.cmax = pg.shared_range(self.lookup.mean)
        from scipy import ndimage

        # each grain's bounding box, once: a selection then works on that box only
        self._boxes = {i + 1: box for i, box in enumerate(ndimage.find_objects(self._labels)) if box is not None}
        self.selected: list[int] = []
        self._closed_cache: OrderedDict[int, tuple] = OrderedDict()
        self._syncing = False
        self.last_error: Exception | None = None
        # the table shows these columns (all of them stay in self.lookup.table)
        n = self.lookup.name
        self.table_columns = ["count", "n_nan", f"{n}_mean", f"{n}_std", f"{n}_median", f"{n}_peak",
                              f"{n}_fwhm", "volume_um3", "volume_px3"]

        # -- colours: a grain keeps its own (the study's grains 1 and 2 theirs), not its slot's
        self._colours: dict[int, str] = {lab: pg.SELECTION_COLORS[k % 2]
                                         for k, lab in enumerate(self.designated)}
        self._next_colour = 0

        # -- figures (built once; a selection only updates their traces). Without a width they
        # size to their container (autosize), the 3D view and the distributions side by side
        # when the output area holds both, stacked when it does not
        half = None if width is None else width // 2
        self.particle = go.FigureWidget(pg.particle_figure(
            self.surface, self.lookup.labels, self.lookup.mean, cmin=self.cmin, cmax=self.cmax, height=height,
            width=half, slots=pg.SLOT_NAMES,
        ))
        # clicks come through a relay: a FigureWidget's own click can be lost on a busy kernel
        self.clicks = on_click(self.particle, self._on_mesh_click)
        self.histogram = go.FigureWidget(pg.histogram_figure(
            value_label=self.value_label, height=300 if spectra is not None else height, width=half))
        self.spectrum = self.spectrum_range = None
        if self.lookup.spectra_energy_ev is not None:
            self.spectrum = go.FigureWidget(pg.spectrum_figure(
                self.lookup.spectra_energy_ev, height=max(height - 340, 220), width=half))
            self._edge_window = self._spectrum_window(e0_ev, spectrum_window_ev)
            self.spectrum_range = widgets.ToggleButtons(
                options=[(f"edge (± {spectrum_window_ev:g} eV)", "edge"), ("whole scan", "all")],
                value="edge" if self._edge_window is not None else "all",
                tooltips=["the edge region, where grains' shifts show", "every energy of the scan"],
                style={"button_width": "auto"})
            self.spectrum_range.observe(lambda change: self._show_spectrum_range(change["new"]), names="value")
            self._show_spectrum_range(self.spectrum_range.value)
        self.comparison = go.FigureWidget(pg.comparison_figure(
            (None, None), value_label=self.value_label, unit=self.unit, cmin=self.cmin, cmax=self.cmax,
            width=width, slots=pg.SLOT_NAMES,
        ))
        for fig in (self.particle, self.histogram, self.spectrum, self.comparison):
            if fig is not None and width is None:
                fig.layout.autosize = True

        # -- controls (keyboard- and screen-reader-friendly selection); grains without a
        # value (a NaN mean: every voxel masked) are not offered
        order = np.argsort(self.lookup.labels)
        shown = np.isfinite(self.lookup.mean[order])
        options = [("—", None)] + [
            (f"{lab} · {mean:.2f} {self.unit}".strip()
             + (f" ({self.designated[int(lab)]})" if int(lab) in self.designated else ""), int(lab))
            for lab, mean in zip(self.lookup.labels[order][shown], self.lookup.mean[order][shown])
        ]
        self.unlisted = [int(g) for g in self.lookup.labels[order][~shown]]
        self.dropdowns = [
            widgets.Dropdown(options=options, value=None, description=pg.SLOT_NAMES[k],
                             style={"description_width": "initial"},
                             # room for "1398 · 8341.35 eV (grain 1)" beside its description
                             layout=widgets.Layout(width="290px", min_width="290px"))
            for k in range(2)
        ]
        for k, dd in enumerate(self.dropdowns):
            dd.observe(lambda change, k=k: self._on_dropdown(k, change["new"]), names="value")
        self.clear_button = widgets.Button(description="clear", icon="times", tooltip="clear the selection",
                                           layout=widgets.Layout(width="90px", min_width="90px"))
        self.clear_button.on_click(lambda _: self.clear())
        self.status = widgets.HTML(self._status_text())
        what = self.value_label.replace(f" ({self.unit})", "") if self.unit else self.value_label
        self.unlisted_note = widgets.HTML(
            f"<small><i>{len(self.unlisted)} grain(s) not listed: none of their voxels has a {what} "
            "(all masked, e.g. no voxel with a trusted edge).</i></small>" if self.unlisted else "")
        self.table = widgets.HTML()
        right = [self.histogram] + ([self.spectrum, self.spectrum_range] if self.spectrum is not None else [])
        # each panel its figures' width (~460 px autosized): side by side where both fit, else stacked
        basis = 460 if half is None else half
        panel = widgets.Layout(flex=f"1 1 {basis}px", min_width="0" if half is None else f"{half}px")
        super().__init__(children=[
            widgets.Box([widgets.Box([self.particle], layout=panel), widgets.VBox(right, layout=panel)],
                        layout=widgets.Layout(display="flex", flex_flow="row wrap", width="100%")),
            widgets.Box([*self.dropdowns, self.clear_button, self.status],
                        layout=widgets.Layout(display="flex", flex_flow="row wrap", align_items="center",
                                              width="100%")),
            self.unlisted_note,
            self.table,
            self.comparison,
        ], layout=widgets.Layout(width="100%" if width is None else f"{width}px", max_width="100%"))
        self.add_class("batteryzoom-grain-explorer")

    def _designated_names(self, designated: Mapping[str, int] | Sequence[int] | None) -> dict[int, str]:
        """``{label: "grain 1"}``: the study's names of its designated grains."""
        if designated is None:
            return {}
        if isinstance(designated, Mapping):
            pairs = [(str(k), v) for k, v in designated.items()]
        elif isinstance(designated, (str, bytes)) or not isinstance(designated, Sequence):
            raise InputError(f"designated={designated!r}: give {{'grain 1': label, 'grain 2': label}} or two labels")
        else:
            pairs = [(f"grain {k + 1}", v) for k, v in enumerate(designated)]
        names = {}
        for study_name, label in pairs:
            try:
                label = int(label)
                self.lookup.row(label)
            except (TypeError, ValueError, InputError) as exc:
                raise InputError(f"designated[{study_name!r}] = {label!r}: not a grain of the statistics "
                                 "table; give labels of grains the explorer shows") from exc
            names[label] = study_name
        return names

    def name(self, label: int) -> str:
        """How the explorer names a grain: ``"grain 1 (#391)"`` for a designated grain of the
        study, ``"grain #1311"`` for any other."""
        label = int(label)
        return f"{self.designated[label]} (#{label})" if label in self.designated else pg.grain_name(label)

    def colour(self, label: int) -> str:
        """The colour ``label`` is drawn in: the study's grain 1 and 2 theirs
        (:data:`~batteryzoom.plots.grains.SELECTION_COLORS`), any other grain one of
        :data:`~batteryzoom.plots.grains.GRAIN_COLORS`, given at its first selection and kept
        (changed only if the other selected grain has it)."""
        label = int(label)
        others = {self._colours.get(g) for g in self.selected if g != label}
        if label not in self._colours or (label not in self.designated and self._colours[label] in others):
            palette = pg.GRAIN_COLORS
            for _ in range(len(palette)):
                c = palette[self._next_colour % len(palette)]
                self._next_colour += 1
                if c not in others:
                    break
            self._colours[label] = c
        return self._colours[label]

    def _spectrum_window(self, e0_ev: float | None, half_ev: float) -> list[float] | None:
        """The edge region of the mean spectra, ``[e0 - half, e0 + half]`` (eV), or None when
        the scan has no edge to find (then the whole scan shows)."""
        energy = self.lookup.spectra_energy_ev
        if e0_ev is None:
            from ..xanes import find_e0

            # the average of up to ~200 grains' mean spectra (looked up, not recomputed)
            sample = self.lookup.labels[:: max(1, len(self.lookup.labels) // 200)]
            spectra = [self.lookup.summary(g).spectrum for g in sample]
            spectra = [np.asarray(x, float) for x in spectra if x is not None]
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN energies of masked grains
                    average = np.nanmean(spectra, axis=0) if spectra else None
                e0_ev = float(find_e0(average, energy)) if average is not None else float("nan")
            except Exception:  # noqa: BLE001 - a scan find_e0 refuses: show it whole
                e0_ev = float("nan")
        if not np.isfinite(e0_ev):
            return None
        lo, hi = max(e0_ev - half_ev, float(energy.min())), min(e0_ev + half_ev, float(energy.max()))
        return [lo, hi] if hi > lo else None

    def _show_spectrum_range(self, which: str) -> None:
        if self.spectrum is None:
            return
        if which == "edge" and self._edge_window is not None:
            self.spectrum.plotly_relayout({"xaxis.range": list(self._edge_window), "xaxis.autorange": False})
        else:
            self.spectrum.plotly_relayout({"xaxis.autorange": True})

    # ------------------------------------------------------------------ API
    @property
    def summaries(self) -> list[RegionSummary]:
        """What is shown for each selected grain (statistics looked up, not recomputed)."""
        return [self.lookup.summary(lab) for lab in self.selected]

    def select(self, label: int, slot: int | None = None) -> None:
        """Select ``label`` as selection A or B (``slot`` 0 or 1), or as the next click would.

        Raises
        ------
        InputError
            When ``label`` is not in the statistics table.
        """
        label = int(label)
        summary = self.lookup.summary(label)  # validates, with a clear message
        if not np.isfinite(summary.mean):
            # nothing to show (an empty histogram and "mean nan" read as a bug): say why
            what = self.value_label.replace(f" ({self.unit})", "") if self.unit else self.value_label
            n = int(summary.table_row.get("n_nan", 0))
            self.status.value = (f"<i>{self.name(label)}: none of its {n} voxels has a {what} (all masked, e.g. "
                                 "no trusted edge): nothing to show; choose another grain.</i>")
            return
        if slot is None:
            if label in self.selected:
                return
            sel = (self.selected + [label])[-2:]
        else:
            if slot not in (0, 1):
                raise InputError(f"slot={slot!r}: 0 (selection A) or 1 (selection B)")
            cur: list[int | None] = list(self.selected) + [None] * (2 - len(self.selected))
            if cur[1 - slot] == label:
                cur[1 - slot] = None
            cur[slot] = label
            sel = [c for c in cur if c is not None]
        self.selected = sel[:2]
        self._render()

    def clear(self) -> None:
        """Forget the selection."""
        self.selected = []
        self._render()

    # ------------------------------------------------------------- handlers
    def _report(self, exc: Exception) -> None:
        # an exception in a front-end callback is otherwise invisible in JupyterLab
        self.last_error = exc
        self.status.value = f"<span style='color:#b00020'>{type(exc).__name__}: {exc}</span>"

    def _on_mesh_click(self, trace, points, state) -> None:
        if not points.point_inds:
            return
        try:
            self.select(self.surface.label_at_vertex(points.point_inds[0]))
        except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed
            self._report(exc)

    def _on_dropdown(self, slot: int, label: int | None) -> None:
        if self._syncing:
            return
        try:
            self._dropdown_select(slot, label)
        except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed
            self._report(exc)

    def _dropdown_select(self, slot: int, label: int | None) -> None:
        if label is None:
            if slot < len(self.selected):
                self.selected = [s for k, s in enumerate(self.selected) if k != slot]
                self._render()
            return
        self.select(label, slot=slot)

    # ------------------------------------------------------------ rendering
    def _closed_surface(self, label: int) -> tuple:
        if label not in self._closed_cache:
            self._closed_cache[label] = pg.grain_closed_surface(
                self._labels, label, self._voxel_size_um, values=self._values, box=self._boxes.get(label)
            )
            if len(self._closed_cache) > 16:
                self._closed_cache.popitem(last=False)
        return self._closed_cache[label]

    def _status_text(self, summaries: list[RegionSummary] = ()) -> str:
        if not summaries:
            return "<i>Click a grain in the 3D view (or choose one) to see its distribution.</i>"
        parts = [
            f"<b style='color:{self.colour(s.label)}'>{self.name(s.label)}</b>: mean {s.mean:.2f} {self.unit}, "
            f"FWHM {s.fwhm:.2f} {self.unit} as measured"
            for s in summaries
        ]
        if len(summaries) == 2:
            a, b = summaries
            parts.append(f"Δmean {b.mean - a.mean:+.2f} {self.unit}")
        return " &nbsp;·&nbsp; ".join(parts)

    def _table_html(self, summaries: list[RegionSummary]) -> str:
        # a plain HTML table of the selected rows (pandas' to_html costs more than the rest of
        # a selection)
        if not summaries:
            return ""

        integer = {c for c in self.lookup.table.columns if self.lookup.table[c].dtype.kind in "iu"}

        def cell(col, v) -> str:
            if col in integer:
                return f"{int(v):d}"
            if isinstance(v, (float, np.floating)):
                return f"{v:.3f}"
            return str(v)

        columns = [c for c in self.lookup.table.columns if c in self.table_columns]
        # padded cells: a column name ran into its value
        pad = "padding:2px 14px 2px 0"
        head = "".join(f"<th style='color:{self.colour(s.label)};text-align:right;{pad}'>{self.name(s.label)}</th>"
                       for s in summaries)
        rows = "".join(
            f"<tr><th style='text-align:left;font-weight:normal;{pad}'>{self._column_title(col)}</th>"
            + "".join(f"<td style='text-align:right;{pad}'>{cell(col, s.table_row[col])}</td>" for s in summaries)
            + "</tr>"
            for col in columns
        )
        return (f"<table class='batteryzoom-grain-table' style='border-collapse:collapse'>"
                f"<thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table>")

    def _column_title(self, col: str) -> str:
        """A table column as a reader names it (``edge_energy_ev_fwhm`` -> ``FWHM as measured
        (eV)``)."""
        n = self.lookup.name
        unit = f" ({self.unit})" if self.unit else ""
        titles = {"count": "voxels", "n_nan": "voxels masked", f"{n}_mean": f"mean{unit}",
                  f"{n}_std": f"std{unit}", f"{n}_median": f"median{unit}", f"{n}_peak": f"peak{unit}",
                  f"{n}_fwhm": f"FWHM as measured{unit}", "volume_um3": "volume (µm³)",
                  "volume_px3": "volume (voxels)"}
        return titles.get(col, col)

    @staticmethod
    def _restyle(fig: go.FigureWidget, traces: dict[int, dict], relayout: dict | None = None) -> None:
        """Send new trace data (and layout) to ``fig`` in as few plotly updates as possible.

        ``plotly_update`` writes the values as given (the styles, validated once at build,
        do not change), so a selection avoids plotly's per-property validation.
        """
        groups: dict[tuple, list[int]] = {}
        for index, props in traces.items():
            groups.setdefault(tuple(sorted(props)), []).append(index)
        first = True
        for keys, indexes in groups.items():
            fig.plotly_update(
                restyle_data={key: [traces[i][key] for i in indexes] for key in keys},
                relayout_data=relayout if first else None,
                trace_indexes=indexes,
            )
            first = False
        if first and relayout:
            fig.plotly_relayout(relayout)

    def _render(self) -> None:
        # Only data change with a selection (styles were set once at build): a few restyle
        # messages, so a selection stays cheap whatever the number of grains.
        current = [self.lookup.summary(lab) for lab in self.selected]
        summaries: list[RegionSummary | None] = current + [None] * (2 - len(current))
        labels = [s.label if s is not None else None for s in summaries]
        names = [self.name(lab) if lab is not None else None for lab in labels]
        colours = [self.colour(lab) if lab is not None else pg.GRAIN_COLORS[0] for lab in labels]
        self._restyle(self.particle, {1 + k: dict(pg.highlight_data(self.surface, labels[k]), color=colours[k])
                                      for k in range(2)})
        hist = [pg.histogram_data(s, names[k], unit=self.unit) for k, s in enumerate(summaries)]
        xr = pg._x_range(summaries)
        hist_traces = {3 * k + j: dict(hist[k][j], showlegend=labels[k] is not None, **{"line.color": colours[k]},
                                       **({"marker.color": colours[k]} if j == 2 else {}))
                       for k in range(2) for j in range(3)}
        # the density axes print their ticks alike over the new range (0.0, 0.5, 1.0: not 0, 0.5, 1)
        top = max((float(s.density.max()) * 1.05 for s in current if s.density.size), default=0.0)
        density = {"yaxis.tickformat": style.tick_format(0.0, top)} if top > 0 else {}
        self._restyle(self.histogram, hist_traces, ({"xaxis.range": xr} if xr else {}) | density or None)
        if self.spectrum is not None:
            spectra = {}
            for k, s in enumerate(summaries):
                has = s is not None and s.spectrum is not None
                spectra[k] = dict(x=self.lookup.spectra_energy_ev if has else [], y=s.spectrum if has else [],
                                  name=names[k] or "", **{"line.color": colours[k]})
            ticks = {k.replace("_", ".", 1): v for k, v in pg.spectrum_tick_layout(summaries).items()}
            self._restyle(self.spectrum, spectra, ticks or None)
        grains = [(s, *self._closed_surface(s.label)) if s is not None else None for s in summaries]
        cmin, cmax = pg.shared_range(*[g[3] for g in grains if g is not None])
        if cmin is None:
            cmin, cmax = self.cmin, self.cmax
        comp = {k: dict(pg.comparison_mesh_data(grains[k], name=names[k]), color=colours[k]) for k in range(2)}
        comp.update({2 + j: v for j, v in hist_traces.items()})
        relayout = {f"annotations[{k}].text": text
                    for k, text in enumerate(pg.comparison_titles(summaries, self.unit, names=names,
                                                                  slots=pg.SLOT_NAMES)[:2])}
        if xr:
            relayout["xaxis.range"] = xr
        relayout.update(density)
        relayout.update({"coloraxis.cmin": cmin, "coloraxis.cmax": cmax})
        # the colour bar's ticks keep one number of decimals over the new range
        relayout.update({f"coloraxis.colorbar.{key}": v for key, v in style.colorbar_ticks(cmin, cmax).items()})
        self._restyle(self.comparison, comp, relayout)
        self.status.value = self._status_text(current)
        self.table.value = self._table_html(current)
        self._syncing = True
        try:
            for k, dd in enumerate(self.dropdowns):
                dd.value = self.selected[k] if k < len(self.selected) else None
        finally:
            self._syncing = False
