"""GrainExplorer: click a grain in 3D, see its distribution of edge energy (Fig. S3)."""

from __future__ import annotations

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
from ._clicks import on_click

__all__ = ["GrainExplorer"]


def _value_label(name: str) -> tuple[str, str]:
    """Axis label and unit from a map name: ``edge_energy_ev`` -> ("edge energy (eV)", "eV")."""
    units = {"_ev": "eV", "_um": "µm", "_v": "V", "_s": "s"}
    for suffix, unit in units.items():
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})", unit
    return name.replace("_", " "), ""


class GrainExplorer(widgets.VBox):
    """The particle's grains in 3D, coloured by mean edge energy; click to inspect.

    Clicking a grain (or choosing it in the "selection A" / "selection B" dropdowns) shows,
    beside the 3D view, that grain's distribution of edge energy with its mean and FWHM, its
    mean spectrum (when spectra are given) and its row of the statistics table. A second
    selection adds the side-by-side comparison of the study's Fig. S3: both grains'
    morphologies coloured voxel by voxel, and their two distributions. Clicks fill selection
    A, then B; a further click moves B to A and takes its place.

    Only the study's designated grains (``designated``) are called "grain 1" and "grain 2"
    (``"grain 1 (#343)"``), in whichever slot they are; any other grain is named by its label
    (``"grain #1311"``), so a clicked grain is never taken for the study's grain 1.

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
    width, height : int
        Size in pixels of the whole explorer (3D view half of the width) and of the 3D view.
        The default width fits JupyterLab's output area in a 1500 px window (Notebook 7's is
        wider); a narrower notebook needs a smaller width, or it cuts the figures' right edge.
    designated : dict of name -> label, or two labels, optional
        The study's designated grains: ``{"grain 1": 343, "grain 2": 317}`` (as the twin's
        ``model["designated"]``), or ``[343, 317]`` for grain 1 and grain 2. They are named
        so (``"grain 1 (#343)"``) wherever they show.

    Examples
    --------
    >>> stats = bz.regions.region_stats(edge_ev, grains, name="edge_energy_ev")   # doctest: +SKIP
    >>> bz.widgets.GrainExplorer(grains, stats, values=edge_ev)                    # doctest: +SKIP
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
        width: int = 1040,
        height: int = 520,
        designated: Mapping[str, int] | Sequence[int] | None = None,
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

        # -- figures (built once; a selection only updates their traces)
        self.particle = go.FigureWidget(pg.particle_figure(
            self.surface, self.lookup.labels, self.lookup.mean, cmin=self.cmin, cmax=self.cmax, height=height,
            width=width // 2, slots=pg.SLOT_NAMES,
        ))
        # clicks come through a relay: a FigureWidget's own click can be lost on a busy kernel
        self.clicks = on_click(self.particle, self._on_mesh_click)
        self.histogram = go.FigureWidget(pg.histogram_figure(
            value_label=self.value_label, height=300 if spectra is not None else height, width=width // 2))
        self.spectrum = go.FigureWidget(pg.spectrum_figure(
            self.lookup.spectra_energy_ev, height=height - 300, width=width // 2)) \
            if self.lookup.spectra_energy_ev is not None else None
        self.comparison = go.FigureWidget(pg.comparison_figure(
            (None, None), value_label=self.value_label, unit=self.unit, cmin=self.cmin, cmax=self.cmax,
            width=width, slots=pg.SLOT_NAMES,
        ))

        # -- controls (keyboard- and screen-reader-friendly selection)
        order = np.argsort(self.lookup.labels)
        options = [("—", None)] + [
            (f"{lab} · {mean:.2f} {self.unit}".strip()
             + (f" ({self.designated[int(lab)]})" if int(lab) in self.designated else ""), int(lab))
            for lab, mean in zip(self.lookup.labels[order], self.lookup.mean[order])
        ]
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
        self.table = widgets.HTML()
        right = [self.histogram] + ([self.spectrum] if self.spectrum is not None else [])
        super().__init__(children=[
            widgets.HBox([self.particle, widgets.VBox(right)]),
            widgets.HBox([*self.dropdowns, self.clear_button, self.status],
                         layout=widgets.Layout(align_items="center")),
            self.table,
            self.comparison,
        ])
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
        """How the explorer names a grain: ``"grain 1 (#343)"`` for a designated grain of the
        study, ``"grain #1311"`` for any other."""
        label = int(label)
        return f"{self.designated[label]} (#{label})" if label in self.designated else pg.grain_name(label)

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
        self.lookup.row(label)  # validates, with a clear message
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
            f"<b style='color:{pg.SELECTION_COLORS[k]}'>{self.name(s.label)}</b>: mean {s.mean:.2f} {self.unit}, "
            f"FWHM {s.fwhm:.2f} {self.unit}"
            for k, s in enumerate(summaries)
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
        head = "".join(f"<th style='color:{pg.SELECTION_COLORS[k]}'>{self.name(s.label)}</th>"
                       for k, s in enumerate(summaries))
        rows = "".join(
            f"<tr><th style='text-align:left'>{col}</th>" + "".join(f"<td>{cell(col, s.table_row[col])}</td>" for s in summaries)
            + "</tr>"
            for col in columns
        )
        return (f"<table class='batteryzoom-grain-table' style='border-collapse:collapse'>"
                f"<thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table>")

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
        self._restyle(self.particle, {1 + k: pg.highlight_data(self.surface, labels[k]) for k in range(2)})
        hist = [pg.histogram_data(s, names[k], unit=self.unit) for k, s in enumerate(summaries)]
        xr = pg._x_range(summaries)
        hist_traces = {3 * k + j: dict(hist[k][j], showlegend=labels[k] is not None) for k in range(2) for j in range(3)}
        # the density axes print their ticks alike over the new range (0.0, 0.5, 1.0: not 0, 0.5, 1)
        top = max((float(s.density.max()) * 1.05 for s in current if s.density.size), default=0.0)
        density = {"yaxis.tickformat": style.tick_format(0.0, top)} if top > 0 else {}
        self._restyle(self.histogram, hist_traces, ({"xaxis.range": xr} if xr else {}) | density or None)
        if self.spectrum is not None:
            spectra = {}
            for k, s in enumerate(summaries):
                has = s is not None and s.spectrum is not None
                spectra[k] = dict(x=self.lookup.spectra_energy_ev if has else [], y=s.spectrum if has else [],
                                  name=names[k] or "")
            ticks = {k.replace("_", ".", 1): v for k, v in pg.spectrum_tick_layout(summaries).items()}
            self._restyle(self.spectrum, spectra, ticks or None)
        grains = [(s, *self._closed_surface(s.label)) if s is not None else None for s in summaries]
        cmin, cmax = pg.shared_range(*[g[3] for g in grains if g is not None])
        if cmin is None:
            cmin, cmax = self.cmin, self.cmax
        comp = {k: pg.comparison_mesh_data(grains[k], name=names[k]) for k in range(2)}
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
