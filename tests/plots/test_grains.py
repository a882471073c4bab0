"""bz.plots.grains: the grain figures (Fig. S3, the particle's grains in 3D) as a reader sees them.

Titles, legends and colour bars are checked on the figure objects; whether the 3D scenes'
axis titles and tick labels fit inside their viewports is checked on the static export
(kaleido through the system chromium), the way the report writes them.
"""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom import regions
from batteryzoom.regions import RegionLookup
from batteryzoom.data.twin import frames, grains
from batteryzoom.plots import grains as pg
from batteryzoom.plots import style


@pytest.fixture(scope="module")
def particle():
    level = frames.level("twin/particle-xanes", "small")
    labels = grains.grain_labels(grains.particle_geometry(7), level)
    rng = np.random.default_rng(3)
    # an edge-energy-like map: a per-grain level plus voxel noise (eV)
    values = 8340.5 + (labels % 7) * 0.35 + rng.normal(0.0, 0.4, labels.shape)
    values[labels == 0] = np.nan
    stats = regions.region_stats(values, labels, name="edge_energy_ev", bins=48)
    return level, labels, values, RegionLookup(stats)


@pytest.fixture(scope="module")
def two_grains(particle):
    level, labels, values, lookup = particle
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    chosen = [int(g) for g in ids[np.argsort(counts)[::-1][:2]]]
    return [(lookup.summary(g), *pg.grain_closed_surface(labels, g, level.voxel_size_um, values=values))
            for g in chosen]


def _labels_of(fig) -> list[str]:
    return [str(a.text) for a in fig.layout.annotations]


# ------------------------------------------------------------------ Fig. S3 as objects


def test_comparison_titles_and_legend_name_each_grain_by_slot_and_label(two_grains):
    fig = pg.comparison_figure(two_grains)
    (s1, *_), (s2, *_) = two_grains
    titles = _labels_of(fig)
    # the study and the report call them grain 1 and grain 2; the label is the grain's id
    assert titles[0].startswith(f"grain 1 (#{s1.label})<br>mean {s1.mean:.2f} eV")
    assert titles[1].startswith(f"grain 2 (#{s2.label})<br>mean {s2.mean:.2f} eV")
    names = [t.name for t in fig.data if t.showlegend is not False and t.type == "scatter"]
    assert f"grain 1 (#{s1.label})" in names and f"grain 2 (#{s2.label})" in names
    # legend entries carry their unit, and a FWHM says which it is
    assert f"mean {s1.mean:.2f} eV" in names and f"FWHM {s2.fwhm:.2f} eV<br>as measured" in names
    assert titles[1].endswith(f"FWHM {s2.fwhm:.2f} eV as measured")
    # the 3D morphologies are named the same way (hover, legend)
    assert fig.data[0].name == f"grain 1 (#{s1.label})" and fig.data[1].name == f"grain 2 (#{s2.label})"


def test_noise_deconvolved_fwhm_heads_the_titles_and_says_so(two_grains):
    (s1, *_), (s2, *_) = two_grains
    fig = pg.comparison_figure(two_grains, fwhm_deconvolved=[0.51, float("nan")])
    titles = _labels_of(fig)
    assert titles[0].endswith(f"FWHM 0.51 eV noise-deconvolved<br>({s1.fwhm:.2f} eV as measured)")
    # a grain without a deconvolved width keeps the measured one, named so
    assert titles[1].endswith(f"FWHM {s2.fwhm:.2f} eV as measured")


def test_both_grains_are_drawn_in_boxes_of_one_size(two_grains):
    fig = pg.comparison_figure(two_grains)
    sides = []
    for key, (_, verts, _, _) in zip(("scene", "scene2"), two_grains):
        scene = fig.layout[key]
        ranges = [scene.xaxis.range, scene.yaxis.range, scene.zaxis.range]
        sides.append([hi - lo for lo, hi in ranges])
        # each grain inside its own box
        for (lo, hi), axis in zip(ranges, (2, 1, 0)):
            assert lo <= verts[:, axis].min() and verts[:, axis].max() <= hi
        assert scene.aspectmode == "cube"
    assert np.allclose(sides, sides[0][0])


def test_empty_slots_still_say_which_grain_goes_there():
    titles = pg.comparison_titles([None, None])
    assert titles[:2] == ["grain 1: —", "grain 2: —"]
    assert pg.comparison_titles([None, None], slots=pg.SLOT_NAMES)[:2] == ["selection A: —", "selection B: —"]


def test_grains_that_are_not_the_studys_are_named_by_their_label(two_grains):
    """'grain 1' and 'grain 2' are the study's designated grains; another grain in a slot of
    the comparison is 'grain #1311', never 'grain 1 (#1311)' nor a bare 'grain 1311'."""
    (s1, *_), (s2, *_) = two_grains
    assert pg.grain_name(s1.label) == f"grain #{s1.label}" and pg.grain_name(s1.label, 0) == f"grain 1 (#{s1.label})"
    fig = pg.comparison_figure(two_grains, names=[pg.grain_name(s1.label), None])
    titles = _labels_of(fig)
    assert titles[0].startswith(f"grain #{s1.label}<br>") and titles[1].startswith(f"grain 2 (#{s2.label})<br>")
    assert fig.data[0].name == f"grain #{s1.label}"
    names = [t.name for t in fig.data if t.showlegend is not False and t.type == "scatter"]
    assert f"grain #{s1.label}" in names and f"grain 1 (#{s1.label})" not in names


@pytest.mark.parametrize("width", [1200, 900])  # the report's export, a notebook's output area
def test_comparison_legend_sits_inside_the_figure(two_grains, width):
    """The legend hung beyond the paper (x = 1.02), where only a right margin plotly widens on
    its own held it; in the explorer, cut off. It has a column of its own inside the figure."""
    fig = pg.comparison_figure(two_grains, width=width)
    legend = fig.layout.legend
    assert legend.xanchor == "right" and legend.x <= 1.0
    paper = width - fig.layout.margin.l - fig.layout.margin.r
    names = [t.name for t in fig.data if t.type == "scatter" and t.showlegend is not False]
    needed = max(len(line) for n in names for line in n.split("<br>")) * 0.62 * legend.font.size + 45  # DejaVu Sans ~0.62 em a character
    assert needed <= (legend.x - fig.layout.xaxis.domain[1]) * paper


def test_comparison_colour_bar_sits_under_the_morphologies_it_colours(two_grains):
    fig = pg.comparison_figure(two_grains)
    bar = fig.layout.coloraxis.colorbar
    scenes = [fig.layout.scene.domain.x, fig.layout.scene2.domain.x]
    hist = fig.layout.xaxis.domain
    # horizontal, centred under the two scenes, not beside the distributions
    assert bar.orientation == "h"
    centre = bar.x if bar.xanchor == "center" else None
    assert centre is not None and scenes[0][0] <= centre <= scenes[1][1]
    assert bar.len * 1.0 <= scenes[1][1] - scenes[0][0] + 1e-9 and centre + bar.len / 2 < hist[0]
    # below the scenes: the scenes' domains end above it
    assert bar.y < fig.layout.scene.domain.y[0] and bar.y < fig.layout.scene2.domain.y[0]
    # every mesh uses this shared colour axis (a trace's own colorbar would be ignored)
    assert all(t.coloraxis == "coloraxis" for t in fig.data if t.type == "mesh3d")


def test_edge_energy_colour_bars_print_every_tick_alike(particle, two_grains, assert_uniform_ticks):
    level, labels, values, lookup = particle
    # no thousands separator anywhere: "8341.5" beside "8342", not "8,341.5"
    assert style.figure().layout.template.layout.separators == "."
    fig = pg.comparison_figure(two_grains)
    cb = fig.layout.coloraxis
    assert_uniform_ticks(cb.colorbar.tickformat, cb.cmin, cb.cmax, cb.colorbar.nticks)
    surface = pg.grain_surface(labels, level.voxel_size_um)
    cmin, cmax = pg.shared_range(lookup.mean)
    pfig = pg.particle_figure(surface, lookup.labels, lookup.mean, cmin=cmin, cmax=cmax)
    assert_uniform_ticks(pfig.data[0].colorbar.tickformat, cmin, cmax, pfig.data[0].colorbar.nticks)
    # the distributions' density axis, too (0.0, 0.5, 1.0 — not 0, 0.5, 1)
    ys = np.concatenate([np.asarray(t.y, float) for t in fig.data if t.type == "scatter" and t.y is not None])
    assert_uniform_ticks(fig.layout.yaxis.tickformat, 0.0, float(np.nanmax(ys)))


# ------------------------------------------------------------------ as exported


_BG = (255, 250, 240)  # a scene background no trace, tick or title uses


def _viewports(png: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (row0, row1, col0, col1) of the regions painted in the scene background."""
    from scipy import ndimage

    bg = np.all(png[..., :3] == _BG, axis=-1)
    lab, n = ndimage.label(ndimage.binary_closing(bg, iterations=2))
    boxes = []
    for sl in ndimage.find_objects(lab):
        if (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start) > 2000:
            boxes.append((sl[0].start, sl[0].stop - 1, sl[1].start, sl[1].stop - 1))
    return sorted(boxes, key=lambda b: b[2])


def _render(fig, width: int, height: int, chromium_path: str, tmp_path, monkeypatch) -> np.ndarray:
    import plotly.io as pio
    from PIL import Image

    monkeypatch.setenv("BROWSER_PATH", chromium_path)
    probe = type(fig)(fig)  # a copy, its scenes painted in the probe background
    probe.update_scenes(bgcolor="rgb(%d,%d,%d)" % _BG)
    path = tmp_path / "figure.png"
    pio.write_image(probe, path, width=width, height=height, scale=1)
    return np.asarray(Image.open(path).convert("RGB"))


def _cut_at_the_edge(png: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, int]:
    """Pixels of ink on each edge of a scene's viewport: something drawn there is cut off."""
    r0, r1, c0, c1 = box
    edges = {"left": png[r0:r1 + 1, c0], "right": png[r0:r1 + 1, c1], "bottom": png[r1, c0:c1 + 1],
             "top": png[r0, c0:c1 + 1]}
    return {side: int(np.any(px[..., :3] != _BG, axis=-1).sum()) for side, px in edges.items()}


@pytest.mark.parametrize("width, height", [(1200, 480), (1040, 420)])  # the report's and the explorer's sizes
def test_comparison_scenes_hold_their_axis_titles_and_ticks(two_grains, width, height, chromium_path, tmp_path,
                                                            monkeypatch):
    png = _render(pg.comparison_figure(two_grains), width, height, chromium_path, tmp_path, monkeypatch)
    boxes = _viewports(png)
    assert len(boxes) == 2, f"expected the two scenes' viewports, found {boxes}"
    for k, box in enumerate(boxes):
        cut = _cut_at_the_edge(png, box)
        assert not any(cut.values()), f"scene {k + 1}: text or axes cut at the viewport's edges {cut}"


def test_particle_scene_holds_its_axis_titles_and_ticks(particle, chromium_path, tmp_path, monkeypatch):
    level, labels, values, lookup = particle
    surface = pg.grain_surface(labels, level.voxel_size_um)
    cmin, cmax = pg.shared_range(lookup.mean)
    fig = pg.particle_figure(surface, lookup.labels, lookup.mean, cmin=cmin, cmax=cmax)
    png = _render(fig, 900, 560, chromium_path, tmp_path, monkeypatch)  # the report's size
    boxes = _viewports(png)
    assert len(boxes) == 1, boxes
    cut = _cut_at_the_edge(png, boxes[0])
    assert not any(cut.values()), f"text or axes cut at the viewport's edges {cut}"
