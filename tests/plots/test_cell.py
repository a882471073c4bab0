"""bz.plots.cell: figures draw what bz.cell measured (and bz.cell imports no plotting)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom import cell
from batteryzoom.plots import cell as pcell


@pytest.fixture(scope="module")
def twin_slice():
    main = bz.data.load("twin/cell-ct")
    truth = bz.data.load("twin/cell-ct", part="defects")
    sl = main.isel(z=28)  # z = 700 µm: the buckle's peak, the dent
    return sl, cell.analyze_slice(sl, z_um=700.0), truth


def test_slice_figure_overlays_can_windings_and_defects(twin_slice):
    sl, res, truth = twin_slice
    near = truth[(truth.z_um - 700).abs() < 300]
    fig = pcell.slice_figure(sl, res, truth=near, max_pixels=368)
    names = [t.name for t in fig.data]
    heat = fig.data[0]
    assert heat.type == "heatmap" and np.asarray(heat.z).shape == (368, 368)  # binned 2x for display
    assert heat.x[0] == pytest.approx(12.5) and heat.x[-1] == pytest.approx(735 * 25 - 12.5)  # µm, bin centres
    assert "can (fitted ellipse)" in names
    # both colours of the tracked windings are in the legend (yellow lines were unexplained)
    windings = [t for t in fig.data if (t.name or "").startswith("windings")]
    assert len(windings) == 2 and all(t.showlegend is not False for t in windings)
    assert len({t.line.color for t in windings}) == 2
    for kind in res.defects.type.unique():
        assert kind in names
        tr = fig.data[names.index(kind)]
        assert len(tr.x) == int((res.defects.type == kind).sum())
    assert {f"true {k}" for k in near.type} <= set(names)
    assert fig.layout.yaxis.scaleanchor == "x"
    # y down, and the frame ends where the image ends: no blank bands inside the axes
    (y_top, y_bottom), (x_left, x_right) = fig.layout.yaxis.range, fig.layout.xaxis.range
    assert y_top > y_bottom
    half = (heat.x[1] - heat.x[0]) / 2
    assert (x_left, x_right) == pytest.approx((heat.x[0] - half, heat.x[-1] + half))
    assert (y_bottom, y_top) == pytest.approx((heat.y[0] - half, heat.y[-1] + half))
    assert fig.layout.xaxis.constrain == "domain" and fig.layout.yaxis.constrain == "domain"


def test_defect_markers_show_whole_at_the_ends_of_the_angle_axis(twin_slice):
    _, res, _ = twin_slice
    dfig = pcell.deformation_figure(res.layers, defects=res.defects)
    markers = [t for t in dfig.data if t.type == "scatter"]
    assert markers, "the slice has defects to mark"
    # an inclusion at 359° sat half outside the plot, clipped at 360°
    assert all(t.cliponaxis is False for t in markers)
    # the colour bar names its quantity and sign, not only the unit
    title = dfig.data[0].colorbar.title.text
    assert "µm" in title and "displacement" in title and "outward" in title


def test_unrolled_and_deformation_figures(twin_slice):
    _, res, _ = twin_slice
    fig = pcell.unrolled_figure(res.unrolled, res.layers)
    assert fig.data[0].type == "heatmap" and len(fig.data) == 1 + res.layers.n_turns
    dfig = pcell.deformation_figure(res.layers, defects=res.defects)
    z = np.asarray(dfig.data[0].z, float)
    assert z.shape == res.layers.residual_um.shape
    assert dfig.data[0].zmid == 0 and dfig.data[0].zmin == -dfig.data[0].zmax
    buck = [t for t in dfig.data if t.name == "buckling"]
    assert buck and buck[0].y[0] == res.defects.set_index("type").loc["buckling", "turn"]


def test_volume_deformation_summary_and_can_figures(twin_slice):
    sl, res, _ = twin_slice
    vol = bz.data.load("twin/cell-ct").isel(z=slice(26, 31))
    out = cell.analyze_volume(vol, progress=False, link=False)
    fig = pcell.deformation_figure(out.residual)
    z = np.asarray(fig.data[0].z, float)
    assert z.shape == (5, out.residual.sizes["angle"])
    # the largest displacement over the turns: the buckle pulls the inner turn in by ~150 µm
    assert np.nanmin(z) < -100
    one = pcell.deformation_figure(out.residual, turn=10)
    assert np.nanmax(np.abs(np.asarray(one.data[0].z, float))) < 25
    sfig = pcell.summary_figure(out.summary)
    assert {"windings", "can diameter (µm)", "buckling", "dent"} <= {t.name for t in sfig.data}
    cfig = pcell.can_figure(res.can)
    assert len(cfig.layout.shapes) == len(res.can.dents) == 1


def test_summary_figure_says_what_each_row_shows_in_words_with_units():
    """Notebook 02's slice-by-slice figure titled its rows 'n_windings', 'can_diameter_um',
    'residual_robust_um': the table's column names, not what they measure."""
    import pandas as pd

    z = np.arange(0.0, 100.0, 25.0)
    columns = ["n_windings", "can_diameter_um", "residual_robust_um", "pitch_um", "can_eccentricity"]
    summary = pd.DataFrame({"z_um": z, **{c: np.linspace(1, 2, z.size) for c in columns},
                            "n_buckling": [0, 1, 1, 0], "n_dent": [0, 0, 1, 0]})
    for length, unit in (("um", "µm"), ("pixel", "px")):
        summary.attrs["length_unit"] = length
        fig = pcell.summary_figure(summary, columns=columns)
        titles = [fig.layout[f"yaxis{i if i > 1 else ''}"].title.text for i in range(1, len(columns) + 2)]
        names = [t.name for t in fig.data]
        for text in titles + names:
            assert "_" not in text, f"a column name shown as is: {text!r}"
        # lengths carry their unit, counts and ratios none
        for i, c in enumerate(columns):
            assert (f"({unit})" in titles[i].replace("<br>", " ")) == c.endswith("_um"), titles[i]
            assert (f"({unit})" in names[i]) == c.endswith("_um"), names[i]
        assert titles[0] == "windings" and names[1] == f"can diameter ({unit})"
        assert titles[-1] == "defects found" and {"buckling", "dent"} <= set(names)


def test_results_in_pixels_draw_with_px_axes(twin_slice):
    """bz.cell names its lengths ..._px in a voxel frame: the figures read them and say px."""
    sl, _, _ = twin_slice
    res = cell.analyze_slice(sl.values, "px")
    fig = pcell.slice_figure(sl.values, res, max_pixels=368)
    assert fig.layout.xaxis.title.text == "x (px)" and "buckling" in {t.name for t in fig.data}
    assert [t.name for t in pcell.can_figure(res.can).data] == ["outer surface - ellipse", "wall thickness"]
    dfig = pcell.deformation_figure(res.layers, defects=res.defects)
    assert "px" in dfig.data[0].colorbar.title.text and "buckling" in {t.name for t in dfig.data}
    out = cell.analyze_volume(sl.values[None], "px", progress=False, link=False)
    sfig = pcell.summary_figure(out.summary, columns=("n_windings", "can_diameter_px"))
    assert "can diameter (px)" in {t.name for t in sfig.data}
    assert pcell.summary_figure(out.summary).data[1].name == "can diameter (px)"  # the µm-named defaults


def test_bad_input_is_refused():
    with pytest.raises(bz.errors.InputError):
        pcell.slice_figure(np.zeros((3, 4, 5)))
    with pytest.raises(bz.errors.InputError):
        pcell.deformation_figure(np.zeros((4, 4)))


def test_compute_module_imports_no_plotting():
    code = "import sys, batteryzoom.cell; print(any(m.startswith(('plotly', 'napari')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(__import__("pathlib").Path(bz.__file__).parents[1])})
    assert out.stdout.strip() == "False"
