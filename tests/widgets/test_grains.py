"""bz.widgets.GrainExplorer (and the bz.plots.grains surfaces it shows) at the model level (no browser): what a selection shows.

A click is injected the way the browser sends it (plotly's points-callback message to the
FigureWidget), so the path from a clicked vertex to the histogram on screen is exercised
without a frontend; the browser test (test_browser.py) runs the same path in chromium.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from batteryzoom.errors import InputError
from batteryzoom.plots import grains as pg


def test_surface_patches_belong_to_their_grains(particle, surface):
    level, labels = particle
    spacing = np.asarray(level.voxel_size_um)
    assert surface.vertices_um.dtype == np.float32 and surface.faces.dtype == np.int32
    # every face uses vertices of one grain only; ranges are contiguous and sorted
    assert np.all(surface.vertex_label[surface.faces] == surface.vertex_label[surface.faces[:, :1]])
    assert np.all(np.diff(surface.labels) > 0)
    np.testing.assert_array_equal(np.repeat(surface.labels, surface.vertex_stop - surface.vertex_start),
                                  surface.vertex_label)
    # each sampled patch sits on its own grain: vertices within ~1.5 voxels of that grain
    rng = np.random.default_rng(1)
    for g in rng.choice(surface.labels, 25, replace=False):
        verts, _ = surface.patch(int(g))
        dist = ndimage.distance_transform_edt(labels != g, sampling=spacing)
        idx = np.clip(np.rint(verts / spacing).astype(int), 0, np.asarray(labels.shape) - 1)
        assert np.median(dist[tuple(idx.T)]) <= 1.5 * spacing.max(), g
    # the cutaway exposes interior grains: more grains show than on the bare outer surface
    outer = pg.grain_surface(labels, level.voxel_size_um, cut=None)
    interior_only = set(surface.labels) - set(outer.labels)
    assert len(interior_only) > 30


def test_closed_surface_encloses_the_grain_and_takes_its_values(particle):
    level, labels = particle
    spacing = np.asarray(level.voxel_size_um)
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    g = int(ids[np.argmax(counts)])
    values = labels.astype(float) * 10.0
    verts, faces, vv = pg.grain_closed_surface(labels, g, spacing, values=values)
    # volume by the divergence theorem vs the grain's voxel volume
    tri = verts[faces].astype(float)
    volume = abs(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6
    voxel_volume = counts.max() * spacing.prod()
    assert volume == pytest.approx(voxel_volume, rel=0.2)
    np.testing.assert_array_equal(vv, np.float32(g * 10.0))  # values from the grain's own voxels
    with pytest.raises(InputError, match="label 999999 is not in the label volume"):
        pg.grain_closed_surface(labels, 999999, spacing)


def test_selecting_a_grain_shows_its_own_statistics(explorer, constructed_stats):
    stats = explorer.lookup
    g = int(stats.labels[123])
    explorer.select(g)
    counts, edges = constructed_stats(explorer._labels).histogram(g)
    density = counts / counts.sum() / np.diff(edges)
    dist, mean, fwhm = explorer.histogram.data[0:3]
    # the distribution trace is the grain's histogram (a step outline over the bin edges)
    np.testing.assert_allclose(np.asarray(dist.y)[::2], density)
    np.testing.assert_allclose(np.asarray(dist.x)[::2], edges[:-1])
    row = stats.table.loc[g]
    assert mean.x == (row["edge_energy_ev_mean"],) * 2
    assert fwhm.x[1] - fwhm.x[0] == pytest.approx(row["edge_energy_ev_fwhm"])
    assert np.mean(fwhm.x) == pytest.approx(row["edge_energy_ev_peak"])  # centred on the peak
    assert fwhm.y[0] == pytest.approx(density.max() / 2)
    # its table row and the status line
    assert f"grain #{g}" in explorer.table.value and f"{row['edge_energy_ev_fwhm']:.3f}" in explorer.table.value
    assert f"mean {row['edge_energy_ev_mean']:.2f} eV" in explorer.status.value
    assert explorer.dropdowns[0].value == g and explorer.dropdowns[1].value is None


def test_click_on_the_mesh_selects_the_grain_under_the_vertex(explorer, surface, send_click):
    i = 200
    g = int(surface.labels[i])
    send_click(explorer.particle, point=surface.vertex_start[i] + 1)
    assert explorer.selected == [g]
    # the highlight overlay draws exactly that grain's patch
    assert len(explorer.particle.data[1].x) == surface.vertex_stop[i] - surface.vertex_start[i]
    assert len(explorer.particle.data[2].x) == 0


def test_second_selection_gives_the_fig_s3_comparison(explorer, surface):
    a, b, c = (int(surface.labels[i]) for i in (10, 300, 500))
    for g in (a, b):
        explorer.select(g)
    assert explorer.selected == [a, b]
    comp = explorer.comparison
    # named by their labels: no grain here is the study's grain 1 or 2 (none designated)
    assert comp.data[0].name == f"grain #{a}" and comp.data[1].name == f"grain #{b}"
    # each morphology is coloured by that grain's own voxels
    np.testing.assert_allclose(comp.data[0].intensity, np.float32(8340.0 + a * 0.001))
    np.testing.assert_allclose(comp.data[1].intensity, np.float32(8340.0 + b * 0.001))
    titles = [ann.text for ann in comp.layout.annotations]
    assert titles[0].startswith(f"grain #{a}<br>mean") and titles[1].startswith(f"grain #{b}<br>mean")
    assert [t.name for t in explorer.histogram.data[0:6:3]] == [f"grain #{a}", f"grain #{b}"]
    assert "Δmean" in explorer.status.value
    # both distributions are drawn, each in its grain's colour, two different ones
    colour_a, colour_b = explorer.colour(a), explorer.colour(b)
    assert colour_a != colour_b
    assert [explorer.histogram.data[i].line.color for i in (0, 3)] == [colour_a, colour_b]
    assert len(explorer.histogram.data[3].y) > 0
    # a third click: selection B becomes selection A and the new grain takes slot B; each
    # grain keeps its colour (grain b turned from the second slot's colour to the first's)
    explorer.select(c)
    assert explorer.selected == [b, c]
    assert explorer.histogram.data[0].line.color == colour_b and explorer.particle.data[1].color == colour_b
    assert explorer.comparison.data[2].line.color == colour_b
    assert explorer.histogram.data[3].line.color not in (colour_b,)
    assert f"color:{colour_b}'>grain #{b}" in explorer.status.value
    explorer.clear()
    assert explorer.selected == [] and len(explorer.histogram.data[0].y) == 0
    assert len(explorer.comparison.data[0].x) == 0


def test_only_the_studys_designated_grains_are_called_grain_1_and_2(particle, surface, constructed_stats):
    """After a click the explorer named whichever grain landed in the first slot 'grain 1
    (#1311)', which a reader took for the study's grain 1 (#343)."""
    import re

    from batteryzoom.widgets import GrainExplorer

    level, labels = particle
    stats = constructed_stats(labels)
    a, b, c = (int(surface.labels[i]) for i in (10, 300, 500))

    def shown(ex) -> str:
        """Every name the explorer shows: status, table, dropdowns, titles, trace names."""
        figs = (ex.particle, ex.histogram, ex.comparison)
        texts = [ex.status.value, ex.table.value] + [d.description for d in ex.dropdowns]
        texts += [str(t.name) for f in figs for t in f.data] + [str(x.text) for f in figs for x in f.layout.annotations]
        return " | ".join(texts)

    # none designated: a selection is named by its label, a slot by a letter
    ex = GrainExplorer(labels, stats, voxel_size_um=level.voxel_size_um, surface=surface)
    assert not re.search(r"grain \d", shown(ex))
    ex.select(c)
    assert ex.histogram.data[0].name == f"grain #{c}" and f"grain #{c}</b>" in ex.status.value
    assert ex.comparison.layout.annotations[1].text == "selection B: —"
    ex.select(a)
    assert not re.search(r"grain \d", shown(ex)), shown(ex)
    assert [d.description for d in ex.dropdowns] == ["selection A", "selection B"]
    assert [t.name for t in ex.particle.data[1:3]] == ["selection A", "selection B"]

    # the study's grains keep their names in whichever slot they land; the others do not take them
    ex = GrainExplorer(labels, stats, voxel_size_um=level.voxel_size_um, surface=surface,
                       designated={"grain 1": a, "grain 2": b})
    ex.select(c)
    ex.select(a)  # grain 1 of the study lands in slot B
    assert ex.selected == [c, a]
    comp = ex.comparison
    assert [t.name for t in comp.data[:2]] == [f"grain #{c}", f"grain 1 (#{a})"]
    titles = [x.text for x in comp.layout.annotations]
    assert titles[0].startswith(f"grain #{c}<br>") and titles[1].startswith(f"grain 1 (#{a})<br>")
    assert [t.name for t in ex.histogram.data[0:6:3]] == [f"grain #{c}", f"grain 1 (#{a})"]
    assert f"grain 1 (#{a})</b>" in ex.status.value and f"grain #{c}</b>" in ex.status.value
    assert f"grain 1 (#{c})" not in shown(ex) and f"grain 2 (#{a})" not in shown(ex)
    ex.select(b)
    assert [t.name for t in ex.comparison.data[:2]] == [f"grain 1 (#{a})", f"grain 2 (#{b})"]
    # the lists say which entries are the study's grains
    options = dict((v, k) for k, v in ex.dropdowns[0].options)
    assert options[a].endswith("(grain 1)") and options[b].endswith("(grain 2)") and "(grain" not in options[c]
    # as a list of two labels, too; a label not in the statistics says so
    ex = GrainExplorer(labels, stats, voxel_size_um=level.voxel_size_um, surface=surface, designated=[b, a])
    ex.select(a)
    assert ex.histogram.data[0].name == f"grain 2 (#{a})"
    with pytest.raises(InputError, match="designated"):
        GrainExplorer(labels, stats, voxel_size_um=level.voxel_size_um, surface=surface, designated=[a, 10**9])


def _legend_fits(fig, paper_px: float) -> None:
    """The legend sits inside the figure's paper, its right edge at most at the paper's, and
    its longest entry (DejaVu Sans: ~0.62 em a character, plus ~45 px of symbol and padding)
    fits between the distributions' axis and that edge."""
    legend = fig.layout.legend
    assert legend.xanchor == "right" and legend.x <= 1.0, (
        f"legend at x = {legend.x} ({legend.xanchor}): beyond the paper only a margin plotly widens on its own "
        "holds it, and a notebook narrower than the figure cuts it off")
    names = [t.name for t in fig.data if t.type == "scatter" and t.showlegend is not False and t.name]
    assert names
    needed = max(len(line) for n in names for line in n.split("<br>")) * 0.62 * legend.font.size + 45
    room = (legend.x - fig.layout.xaxis.domain[1]) * paper_px
    assert needed <= room, f"legend ~{needed:.0f} px wide, {room:.0f} px beside the distributions"


def test_comparison_legend_fits_inside_the_explorers_figure(explorer, surface):
    """The Fig. S3 comparison's legend hung beyond the figure's paper (x = 1.02), held only by
    plotly widening the right margin: the explorer's figure clipped it."""
    for i in (10, 300):
        explorer.select(int(surface.labels[i]))
    comp = explorer.comparison
    margin = comp.layout.margin
    # autosized: at JupyterLab's default output width (1,400 px window, file browser open)
    _legend_fits(comp, 1017 - margin.l - margin.r)
    # by default the explorer fits JupyterLab's output area at 1,017 px (1,400 px window,
    # file browser open): its figures side by side, the comparison under them as wide
    assert comp.layout.width == explorer.particle.layout.width + explorer.histogram.layout.width <= 1017 - 40
    assert explorer.layout.max_width == "100%"
    top = explorer.children[0]
    # side by side where the output area holds both panels, stacked where it does not
    assert top.layout.flex_flow == "row wrap"
    half = explorer.particle.layout.width
    assert all(child.layout.flex == f"1 1 {half}px" and child.layout.min_width == f"{half}px" for child in top.children)


def test_without_a_width_the_figures_size_to_their_container(particle, surface, constructed_stats):
    from batteryzoom.widgets import GrainExplorer

    level, labels = particle
    ex = GrainExplorer(labels, constructed_stats(labels), voxel_size_um=level.voxel_size_um, surface=surface,
                       width=None)
    figs = (ex.comparison, ex.particle, ex.histogram)
    assert all(f.layout.width is None and f.layout.autosize for f in figs)
    assert ex.layout.width == "100%"


def test_a_fixed_width_still_splits_the_explorer_in_two(particle, surface, constructed_stats):
    from batteryzoom.widgets import GrainExplorer

    level, labels = particle
    ex = GrainExplorer(labels, constructed_stats(labels), voxel_size_um=level.voxel_size_um, surface=surface,
                       width=900)
    for i in (10, 300):
        ex.select(int(surface.labels[i]))
    assert ex.comparison.layout.width == ex.particle.layout.width + ex.histogram.layout.width == 900
    _legend_fits(ex.comparison, 900 - ex.comparison.layout.margin.l - ex.comparison.layout.margin.r)


def test_grains_without_a_value_are_not_listed_and_say_why(particle, surface, constructed_stats):
    """29 list entries read '· nan eV'; choosing one showed 'mean nan eV' over an empty
    histogram with no reason."""
    from batteryzoom.widgets import GrainExplorer

    level, labels = particle
    stats = constructed_stats(labels)
    masked = [int(g) for g in stats.table.index[:3]]
    stats.table.loc[masked, [c for c in stats.table.columns if c.startswith("edge_energy_ev_")]] = np.nan
    stats.table.loc[masked, "n_nan"] = stats.table.loc[masked, "count"]
    ex = GrainExplorer(labels, stats, voxel_size_um=level.voxel_size_um, surface=surface)
    listed = [v for _, v in ex.dropdowns[0].options if v is not None]
    assert not set(masked) & set(listed) and len(listed) == len(stats.table) - 3
    assert not any("nan" in text for text, _ in ex.dropdowns[0].options)
    assert ex.unlisted == sorted(masked)
    assert "3 grain(s) not listed" in ex.unlisted_note.value and "all masked" in ex.unlisted_note.value
    # a click on one (it shows in 3D) says why nothing is shown, and keeps the selection
    ex.select(int(listed[0]))
    ex.select(masked[0])
    assert ex.selected == [int(listed[0])]
    assert f"grain #{masked[0]}: none of its" in ex.status.value and "nan" not in ex.status.value


def test_table_columns_are_named_for_a_reader_and_padded(explorer):
    g = int(explorer.lookup.labels[3])
    explorer.select(g)
    html = explorer.table.value
    assert "FWHM as measured (eV)" in html and "edge_energy_ev_fwhm" not in html
    assert html.count("padding:") >= html.count("<td")


def test_histogram_legend_sits_under_its_axis_title(explorer, surface, assert_uniform_ticks):
    """The explorer's histogram put its legend at y = -0.3 of a 300 px figure's plot: its rows
    ran into the 'edge energy (eV)' axis title; its density ticks read 0, 0.5, 1."""
    for i in (10, 300):
        explorer.select(int(surface.labels[i]))
    hist = explorer.histogram
    legend, margin = hist.layout.legend, hist.layout.margin
    # anchored to the figure's bottom, below the plot whatever its height
    assert (legend.yref, legend.y, legend.yanchor, legend.orientation) == ("container", 0.0, "bottom", "h")
    # a row per grain (distribution, mean, FWHM side by side), under the ticks and the title
    shown = [t for t in hist.data if t.showlegend is not False and t.name]
    per_row = round(1 / legend.entrywidth) if legend.entrywidthmode == "fraction" else None
    assert per_row == 3 and len(shown) == 6
    rows = -(-len(shown) // per_row)
    assert margin.b - rows * (legend.font.size + 8) >= 44, "no room left for the x ticks and the axis title"
    top = max(float(np.max(t.y)) for t in hist.data if t.y is not None and len(t.y))
    assert_uniform_ticks(hist.layout.yaxis.tickformat, 0.0, top)
    assert_uniform_ticks(explorer.comparison.layout.yaxis.tickformat, 0.0, top)


def test_dropdowns_select_and_stay_in_sync(explorer):
    labels = explorer.lookup.labels
    a, b = int(labels[5]), int(labels[50])
    explorer.dropdowns[1].value = b  # selection B chosen first: it becomes selection A
    assert explorer.selected == [b]
    explorer.dropdowns[1].value = a
    assert explorer.selected == [b, a]
    explorer.select(labels[7], slot=0)
    assert explorer.selected == [int(labels[7]), a]
    assert [d.value for d in explorer.dropdowns] == explorer.selected
    explorer.dropdowns[0].value = None
    assert explorer.selected == [a]


def test_bad_selection_and_inputs_say_what_is_wrong(explorer, particle, constructed_stats):
    from batteryzoom.widgets import GrainExplorer

    with pytest.raises(InputError, match="label 999999 is not in the statistics table"):
        explorer.select(999999)
    with pytest.raises(InputError, match="slot"):
        explorer.select(int(explorer.lookup.labels[0]), slot=2)
    level, labels = particle
    with pytest.raises(InputError, match="voxel_size_um"):
        GrainExplorer(labels, constructed_stats(labels))
    with pytest.raises(InputError, match="values have shape"):
        GrainExplorer(labels, constructed_stats(labels), values=np.zeros((3, 3, 3)),
                      voxel_size_um=level.voxel_size_um)
    with pytest.raises(InputError, match="stats has no attribute 'table'"):
        GrainExplorer(labels, object(), voxel_size_um=level.voxel_size_um)


@pytest.fixture(scope="module")
def twin_grains():
    import batteryzoom as bz

    truth = bz.data.load("twin/particle-xanes", part="truth")
    model = bz.data.load("twin/particle-xanes", part="model")
    edge, labels = truth["edge_energy_ev"], truth["grain_labels"]
    stats = bz.regions.region_stats(edge, labels, name="edge_energy_ev")
    return edge, labels, stats, model["designated"]


def test_explorer_shows_bz_regions_result_for_the_selected_grain(twin_grains):
    from batteryzoom.widgets import GrainExplorer

    edge, labels, stats, designated = twin_grains
    explorer = GrainExplorer(labels, stats, values=edge)  # voxel size from the xarray's attrs
    g1, g2 = designated["grain 1"], designated["grain 2"]
    explorer.select(g1)
    counts, edges = stats.histogram(g1)
    dist, mean, fwhm = explorer.histogram.data[0:3]
    np.testing.assert_allclose(np.asarray(dist.y)[::2], counts / counts.sum() / np.diff(edges))
    np.testing.assert_allclose(np.asarray(dist.x)[1::2], edges[1:])
    row = stats.table.loc[g1]
    assert mean.x[0] == row["edge_energy_ev_mean"]
    assert fwhm.x[1] - fwhm.x[0] == pytest.approx(row["edge_energy_ev_fwhm"])
    # the second selection is Fig. S3: grain 2 more oxidized, grain 1 less uniform
    explorer.select(g2)
    s1, s2 = explorer.summaries
    assert (s1.label, s2.label) == (g1, g2)
    assert s2.mean > s1.mean + 0.8 and s1.fwhm > s2.fwhm
    # grain 2's morphology is coloured by its own voxels' edge energies
    own = edge.values[labels.values == g2]
    shown = np.asarray(explorer.comparison.data[1].intensity)
    assert own.min() - 1e-3 <= shown.min() and shown.max() <= own.max() + 1e-3


def test_every_message_a_selection_sends_can_go_over_the_wire(explorer, surface):
    """What a selection sends to the browser serializes: JSON plus contiguous binary buffers
    (jupyter_client refuses strided buffers; the model-level tests have no comm to refuse)."""
    import json

    from ipywidgets.widgets.widget import _remove_buffers
    from plotly.serializers import custom_serializers

    sent = []

    def capture(fig):
        original = fig._send_update_msg

        def send(restyle_data, relayout_data, trace_indexes=None, source_view_id=None):
            msg = {"style_data": restyle_data, "layout_data": relayout_data, "style_traces": trace_indexes}
            state, _, buffers = _remove_buffers({"_py2js_update": custom_serializers["to_json"](msg, None)})
            json.dumps(state)
            sent.append([memoryview(b).contiguous for b in buffers])
            original(restyle_data, relayout_data, trace_indexes, source_view_id)

        fig._send_update_msg = send

    for fig in (explorer.particle, explorer.histogram, explorer.comparison):
        capture(fig)
    for i in (3, 40, 200):
        explorer.select(int(surface.labels[i]))
    assert sent and any(sent), "the selection sent its data as binary buffers"
    assert all(all(flags) for flags in sent), "every buffer must be contiguous"


def test_spectrum_ticks_print_alike_before_and_after_a_selection(particle, surface, assert_uniform_ticks, constructed_stats):
    """The mean-spectrum panel read 0, 0.5, 1, 1.5 (plotly drops trailing zeros): its axis
    takes one number of decimals over the shown spectra, at build and after each selection."""
    from batteryzoom.widgets import GrainExplorer

    level, labels = particle
    stats = constructed_stats(labels)
    ids = stats.table.index.to_numpy()
    energy = np.linspace(8320.0, 8370.0, 26)
    step = 1 / (1 + np.exp(-(energy - 8342.0) / 2.0))
    # each grain's spectrum a step to 1.0 with a white line of its own height (up to ~1.6)
    base = step * (1.0 + 0.6 * np.exp(-((energy - 8350.0) / 3.0) ** 2))
    spectra = pd.DataFrame(np.outer(np.linspace(1.0, 1.02, len(ids)), base), index=ids, columns=energy)
    explorer = GrainExplorer(labels, stats, spectra=spectra, voxel_size_um=level.voxel_size_um, surface=surface)
    # the panel opens on the edge region (e0 of the grains' average spectrum ± 30 eV), where
    # a shift of a fraction of an eV shows; the control widens it to the whole scan
    lo, hi = explorer.spectrum.layout.xaxis.range
    assert explorer.spectrum_range.value == "edge" and lo == energy[0] and 8340 <= hi <= 8370
    explorer.spectrum_range.value = "all"
    assert explorer.spectrum.layout.xaxis.autorange is True
    explorer.spectrum_range.value = "edge"
    assert list(explorer.spectrum.layout.xaxis.range) == [lo, hi]
    explorer.select(int(ids[0]))
    explorer.select(int(ids[-1]))
    y = np.concatenate([np.asarray(t.y, float) for t in explorer.spectrum.data if t.y is not None and len(t.y)])
    assert y.size and y.max() > 1.5
    assert_uniform_ticks(explorer.spectrum.layout.yaxis.tickformat, y.min(), y.max())
    # the figure builder alone does the same
    fig = pg.spectrum_figure(energy, explorer.summaries)
    assert_uniform_ticks(fig.layout.yaxis.tickformat, y.min(), y.max())
