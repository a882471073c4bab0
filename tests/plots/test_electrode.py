"""bz.plots.electrode and bz.plots.particle: figures in µm that show what they are given."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from batteryzoom.errors import InputError
from batteryzoom.plots import electrode as pe
from batteryzoom.plots import particle as pp
from batteryzoom.plots import zoom


@pytest.fixture()
def volume():
    rng = np.random.default_rng(0)
    grey = rng.random((6, 20, 30)).astype(np.float32)
    coords = {"z": np.arange(6) * 0.5, "y": np.arange(20) * 0.5, "x": np.arange(30) * 0.5}
    labels = np.zeros((6, 20, 30), np.int32)
    labels[:, 5:15, 5:12] = 1
    labels[:, 5:15, 15:25] = 2
    return xr.DataArray(grey, dims=("z", "y", "x"), coords=coords), labels


def test_labelled_slice_places_the_image_in_um(volume):
    grey, labels = volume
    cracks = np.zeros(labels.shape, bool)
    cracks[:, 8, 6:10] = True
    fig = pe.labelled_slice(grey, labels, masks={"cracks": cracks}, axis="z", index=3)
    images = [t for t in fig.data if t.type == "image"]
    assert [t.name for t in images] == ["grey", "labels", "cracks"]
    assert images[0].dx == pytest.approx(0.5) and images[0].x0 == 0
    outline = zoom.decode_png_uri(images[1].source)
    assert outline.shape[:2] == (20, 30)
    assert outline[10, 8, 3] == 0 and outline[5, 8, 3] == 255  # inside transparent, outline opaque
    assert zoom.decode_png_uri(images[2].source)[8, 7, 3] > 0
    # a slice normal to x shows y across and z down
    side = pe.labelled_slice(grey, labels, axis="x")
    assert side.layout.xaxis.title.text == "y (µm)" and side.layout.yaxis.title.text == "z (µm)"
    with pytest.raises(InputError, match="index"):
        pe.labelled_slice(grey, axis="z", index=6)


def test_slice_titles_say_where_the_slice_is(volume):
    grey, labels = volume
    # a title of one's own keeps the slice's position (which slice of the volume is it?)
    fig = pe.labelled_slice(grey, labels, axis="z", index=3, title="Electrode CT: segmented particles")
    assert fig.layout.title.text == "Electrode CT: segmented particles (z = 1.5 µm)"
    grains = pp.grain_slice(grey, labels, title="Particle nano-CT: segmented primary grains")
    assert grains.layout.title.text.endswith("(z = 1.5 µm)")


def test_mask_colours_are_named_in_words(volume):
    """The overlays' colours are named for a reader ("cracks in orange"), not as the
    "cracks in rgb(213, 94, 0)" notebook 04's title printed."""
    grey, labels = volume
    cracks = np.zeros(labels.shape, bool)
    fig = pp.grain_slice(grey, labels, cracks=cracks, pores=cracks)
    title = fig.layout.title.text
    assert "cracks in <span" in title and ">orange</span>" in title and ">sky blue</span>" in title
    shown = re.sub(r"<[^>]+>", "", title)  # what the reader sees
    assert "rgb" not in shown and shown.endswith("cracks in orange, pores in sky blue")


def test_outlines_and_masks_take_colours_told_apart_and_named(volume):
    """Notebook 04 drew the true grains' outlines in a palette holding orange and sky blue,
    under a title saying 'cracks in orange, pores in sky blue'."""
    grey, labels = volume
    cracks = np.zeros(labels.shape, bool)
    cracks[:, 9, 16:22] = True
    pores = np.zeros(labels.shape, bool)
    pores[:, 10:12, 7:9] = True
    fig = pp.grain_slice(grey, labels, cracks=cracks, pores=pores)
    images = {t.name: zoom.decode_png_uri(t.source) for t in fig.data if t.type == "image"}

    def colours(image):
        return {tuple(int(c) for c in px[:3]) for px in image[image[..., 3] > 0]}

    drawn = {name: colours(images[name]) for name in ("labels", "cracks", "pores")}
    assert drawn["labels"] and drawn["cracks"] and drawn["pores"]
    for mask in ("cracks", "pores"):
        gap = min(np.linalg.norm(np.subtract(a, b, dtype=float)) for a in drawn["labels"] for b in drawn[mask])
        assert gap > 100, f"grain outlines and {mask} drawn in colours alike ({gap:.0f} apart in RGB)"
    # the title names every colour, each word in the colour of what it names
    title = fig.layout.title.text
    named = {what.strip(): (int(r), int(g), int(b), word) for what, r, g, b, word in re.findall(
        r"([\w ]+) in <span style='color:rgb\((\d+), (\d+), (\d+)\)'>([\w ]+)</span>", title)}
    assert set(named) == {"grain outlines", "cracks", "pores"}, title
    assert {named["grain outlines"][:3]} == drawn["labels"]
    assert {named["cracks"][:3]} == drawn["cracks"] and {named["pores"][:3]} == drawn["pores"]
    assert len({w[3] for w in named.values()}) == 3
    # without masks each grain keeps its own colour (neighbours told apart)
    alone = zoom.decode_png_uri(pp.grain_slice(grey, labels).data[1].source)
    assert len(colours(alone)) == 2


def test_size_distribution_and_damage_figures():
    table = pd.DataFrame({
        "label": [1, 2, 3, 4], "equivalent_diameter_um": [8.0, 10.0, 12.0, 3.0],
        "border": [False, False, False, True], "depth_from_collector_um": [5.0, 20.0, 40.0, 50.0],
        "crack_fraction": [0.0, 0.05, 0.2, 0.0],
        "damage_class": pd.Categorical(["least", "mild", "severe", "least"], categories=["least", "mild", "severe"]),
    })
    fig = pe.size_distribution({"twin": table})
    assert fig.data[0].name == "twin (n = 3)"  # the border particle is left out
    assert "D50 10.00 µm" in fig.layout.annotations[0].text
    dmg = pe.damage_vs_depth(table)
    counts = {t.name: len(t.x) for t in dmg.data}
    assert counts == {"least (n = 1)": 1, "mild (n = 1)": 1, "severe (n = 1)": 1}
    assert list(dmg.data[2].y) == [20.0]  # percent
    with pytest.raises(InputError, match="crack_fraction"):
        pe.damage_vs_depth(table.drop(columns="crack_fraction"))


def test_d50_labels_of_close_medians_do_not_overlap(assert_uniform_ticks):
    """Notebooks 03 and 04 printed 'D50 9.52 µm' and 'D50 9.80 µm' (segmented vs truth) on top
    of each other: both labels sat at the top of their lines, on one row."""
    rng = np.random.default_rng(1)
    tables = {name: pd.DataFrame({"equivalent_diameter_um": rng.normal(centre, 2.5, 150), "border": False})
              for name, centre in (("segmented", 9.5), ("truth", 9.8), ("other", 9.9))}
    for shown in (dict(list(tables.items())[:2]), tables):
        fig = pe.size_distribution(shown)
        labels = [a for a in fig.layout.annotations if "D50" in a.text]
        assert len(labels) == len(shown)
        # each on a row of its own: shifted from one anchor by at least a line of text
        rows = sorted(a.yshift or 0.0 for a in labels)
        size = fig.layout.template.layout.font.size
        assert all(b - a >= size for a, b in zip(rows, rows[1:])), f"labels on one row: {rows}"
        assert {(a.yref, a.y, a.yanchor) for a in labels} == {("paper", 1.0, "top")}
        # each says whose it is, in its histogram's colour, at its dashed line
        bars = {t.name.split(" (n =")[0]: t for t in fig.data if t.type == "histogram"}
        lines = {s.line.color: s.x0 for s in fig.layout.shapes}
        for a in labels:
            name = a.text.split(":")[0]
            median = float(np.median(shown[name]["equivalent_diameter_um"]))
            assert a.font.color == bars[name].marker.color and lines[a.font.color] == pytest.approx(median)
            assert a.x == pytest.approx(median) and f"D50 {median:.2f} µm" in a.text
        # shared bins, the bars below the label rows
        assert len({(t.xbins.start, t.xbins.size) for t in bars.values()}) == 1
        b = next(iter(bars.values())).xbins
        edges = np.arange(b.start, b.end + b.size / 2, b.size)
        top = max(np.histogram(t.x, edges, density=True)[0].max() for t in bars.values())
        y0, y1 = fig.layout.yaxis.range
        assert top <= y1 * (1 - 20 * len(labels) / 300), "a bar reaches into the rows of labels"
        assert_uniform_ticks(fig.layout.yaxis.tickformat, y0, y1)


def test_profiles_and_phase_bars():
    profile = pd.DataFrame({"position_um": [0, 1, 2], "pore_fraction": [1.0, 0.3, 0.2],
                            "nmc_fraction": [0.0, 0.7, 0.8]})
    fig = pe.depth_profile(profile, collector_um=0.5)
    assert [t.name for t in fig.data] == ["pore", "nmc"]
    phases = pd.DataFrame({"phase": ["pore", "nmc"], "code": [0, 1], "voxels": [3, 7], "fraction": [0.3, 0.7]})
    bars = pe.phase_fractions({"a": phases, "b": phases})
    assert [t.name for t in bars.data] == ["pore", "nmc"] and list(bars.data[1].y) == [0.7, 0.7]


def test_particle_figures(volume):
    grey, labels = volume
    fig = pp.grain_slice(grey, labels, cracks=labels == 1, pores=None)
    assert [t.name for t in fig.data if t.type == "image"] == ["grey", "labels", "cracks"]
    radial = pd.DataFrame({"distance_um": [0.25, 0.75], "grey_mean": [0.9, 0.7],
                           "grey_p25": [0.85, 0.6], "grey_p75": [0.95, 0.8]})
    prof = pp.radial_profile({"severe": radial}, y_title="grey")
    assert [t.name for t in prof.data] == ["severe IQR", "severe mean"]
    grains = pd.DataFrame({"label": [1, 2, 3], "equivalent_diameter_um": [0.5, 0.7, 0.9],
                           "distance_from_surface_um": [0.2, 1.0, 2.5]})
    scatter = pp.grains_vs_depth(grains, highlight=[2])
    assert list(scatter.data[1].text) == ["#2"]
    assert pp.grain_size_distribution({"truth": grains}).data[0].name == "truth (n = 3)"
