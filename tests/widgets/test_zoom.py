"""bz.widgets.ZoomNavigator at the model level: descend by clicks, ascend by the breadcrumb."""

from __future__ import annotations

import re

import ipywidgets
import numpy as np
import pytest

import batteryzoom as bz

from batteryzoom.errors import InputError


# ------------------------------------------------------------- ZoomNavigator


@pytest.fixture(scope="module")
def twin_hierarchy():
    import batteryzoom as bz

    h = bz.zoom.Hierarchy.from_twin("small")
    rng = np.random.default_rng(5)
    data = {name: rng.normal(0, 1, h[name].shape).astype(np.float32)
            for name in ("twin/electrode-ct", "twin/particle-nanoct")}
    return h, data


def test_navigator_descends_by_clicks_and_ascends_by_the_breadcrumb(twin_hierarchy, send_click):
    from batteryzoom.plots import zoom as pz
    from batteryzoom.widgets import ZoomNavigator

    h, data = twin_hierarchy
    nav = ZoomNavigator(h, data)
    assert nav.level == "twin/cell-ct"  # the root; it has no data: its footprint is drawn
    assert [t.name for t in nav.figure.data] == ["slice", "twin/electrode-ct"]
    lo, hi = h.box_in("twin/electrode-ct", "twin/cell-ct")
    box = nav.figure.data[1]
    assert box.x[:5] == (lo[2], hi[2], hi[2], lo[2], lo[2]) and box.y[:5] == (lo[1], lo[1], hi[1], hi[1], lo[1])
    assert box.line.dash == "solid"  # the plane opens through the child
    # a click inside the electrode's box, on the cell's slice, descends into it
    centre = (lo + hi) / 2
    send_click(nav.figure, trace=0, x=centre[2], y=centre[1])
    assert nav.level == "twin/electrode-ct"
    np.testing.assert_array_equal(pz.decode_png_uri(nav.figure.data[0].source),
                                  np.clip(np.rint((data["twin/electrode-ct"][nav.index] - nav._windows[nav.level][0])
                                                  / np.diff(nav._windows[nav.level])[0] * 255), 0, 255).astype(np.uint8))
    # a click outside every child's box does nothing
    assert nav.click(1.0, 1.0) is None and nav.level == "twin/electrode-ct"
    # a click on the particle box's centre marker (its last point) descends too
    send_click(nav.figure, trace=1, point=6)
    assert nav.level == "twin/particle-nanoct"
    crumbs = [b for b in nav.breadcrumb.children if isinstance(b, ipywidgets.Button)]
    assert [b.tooltip for b in crumbs] == h.path("twin/particle-nanoct")
    assert crumbs[-1].disabled  # the current level
    crumbs[0].click()  # the breadcrumb ascends, here straight to the cell
    assert nav.level == "twin/cell-ct"
    assert nav.history == ["twin/cell-ct", "twin/electrode-ct", "twin/particle-nanoct", "twin/cell-ct"]


def test_navigator_dropdown_zoom_buttons_and_plane(twin_hierarchy):
    from batteryzoom.widgets import ZoomNavigator

    h, data = twin_hierarchy
    nav = ZoomNavigator(h, data, start="twin/electrode-ct")
    assert nav.zoom_out.disabled is False and nav.children_dropdown.value == "twin/particle-nanoct"
    nav.zoom_in.click()
    assert nav.level == "twin/particle-nanoct"
    nav.zoom_in.click()
    assert nav.level == "twin/particle-xanes"  # no data there: the footprint is shown
    assert nav.zoom_in.disabled  # a leaf
    nav.zoom_out.click()
    nav.zoom_out.click()
    assert nav.level == "twin/electrode-ct"
    # moving the plane out of the particle's box turns its outline dotted
    lo, hi = h.box_in("twin/particle-nanoct", "twin/electrode-ct")
    nav.slider.value = 0
    assert nav.position_um() == 0.0 and nav.figure.data[1].line.dash == "dot"
    inside = int(np.ceil(lo[0] / h["twin/electrode-ct"].voxel_size_um[0]))
    nav.set_index(inside)
    assert nav.figure.data[1].line.dash == "solid"
    assert "box in twin/cell-ct" in nav.info.value
    with pytest.raises(InputError, match="not a level"):
        nav.go("twin/nowhere")
    with pytest.raises(InputError, match="outside"):
        nav.set_index(10_000)


def test_navigator_writes_positions_in_um_without_exponents(twin_hierarchy):
    """The electrode's box in the cell sits 14 mm out along x: the info line said
    "(755.5, 9156, 1.415e+04) µm"; it prints every coordinate the same way."""
    from batteryzoom.widgets import ZoomNavigator

    h, data = twin_hierarchy
    exponent = re.compile(r"\de[+-]\d")
    nav = ZoomNavigator(h, data, start="twin/electrode-ct")
    assert not exponent.search(nav.info.value)
    lo, _ = h.box_in("twin/electrode-ct", "twin/cell-ct")
    assert f"at ({lo[0]:.1f}, {lo[1]:.0f}, {lo[2]:.0f}) µm" in nav.info.value
    nav.go("twin/particle-nanoct")
    assert not exponent.search(nav.info.value) and not exponent.search(nav.figure.layout.title.text)


def test_navigator_slider_reads_the_plane_in_um_and_labels_stay_inside(twin_hierarchy):
    """The z slider showed a voxel index under a title in µm, and a child's label at the
    image's right edge was cut to "electrode-c"."""
    from batteryzoom.widgets import ZoomNavigator

    h, data = twin_hierarchy
    nav = ZoomNavigator(h, data, start="twin/electrode-ct")
    step = h["twin/electrode-ct"].voxel_size_um[0]
    assert nav.slider.description == "z (µm)" and nav.slider.step == pytest.approx(step)
    assert nav.slider.value == pytest.approx(nav.position_um())
    assert f"z = {bz.plots.style.um_text(nav.position_um())} µm" in nav.figure.layout.title.text
    nav.slider.value = 3 * step
    assert nav.index == 3 and nav.position_um() == pytest.approx(3 * step)
    nav.set_index(5)
    assert nav.slider.value == pytest.approx(5 * step)
    # a child centred near the right edge is labelled on its left
    fig = bz.plots.zoom.level_figure(np.zeros((10, 10)), voxel_size_um=1.0,
                                     boxes=[("a/electrode-ct", (0, 4, 7.5), (9, 6, 9.4), "#D55E00", True),
                                            ("a/left", (0, 4, 0), (9, 6, 2), "#D55E00", True)])
    assert fig.data[1].textposition == "top left" and fig.data[2].textposition == "top right"
