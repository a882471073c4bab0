"""bz.plots.xanes: edge-energy maps say which slice they show and print their scale alike."""

from __future__ import annotations

import numpy as np
import xarray as xr

import batteryzoom as bz
from batteryzoom.plots import xanes as px


def _edge_map() -> xr.DataArray:
    rng = np.random.default_rng(1)
    values = 8341.2 + rng.normal(0.0, 0.6, (7, 12, 14))
    coords = {"z": 0.125 + np.arange(7) * 0.25, "y": np.arange(12) * 0.25, "x": np.arange(14) * 0.25}
    return xr.DataArray(values, dims=("z", "y", "x"), coords=coords, attrs={"units": "eV"})


def test_edge_energy_map_titles_give_the_slice_in_um():
    edge = _edge_map()
    # the default and a title of one's own both say where the slice lies, in µm
    assert px.edge_energy_map(edge).layout.title.text == "Ni K-edge energy (z = 0.875 µm)"
    fig = px.edge_energy_map(edge, index=2, title="Ni K-edge energy (half-step), middle slice")
    assert fig.layout.title.text == "Ni K-edge energy (half-step), middle slice (z = 0.625 µm)"
    assert "(" not in px.edge_energy_map(edge.isel(z=0)).layout.title.text  # a 2D map: no slice to name


def test_edge_energy_colour_bar_prints_every_tick_alike(assert_uniform_ticks):
    fig = px.edge_energy_map(_edge_map())
    heat = fig.data[0]
    # "8341.5" beside "8342.0" (the house template drops the thousands separator)
    assert_uniform_ticks(heat.colorbar.tickformat, heat.zmin, heat.zmax, heat.colorbar.nticks)
    assert fig.layout.template.layout.separators == "."


def test_plot_builders_draw_what_they_are_given(xanes_edge_stack):
    import plotly.graph_objects as go

    from batteryzoom.plots import style
    from batteryzoom.plots import xanes as px

    energy, stack, _ = xanes_edge_stack((8, 9), noise=0.002)
    cube = xr.DataArray(np.repeat(stack[:, None], 4, axis=1), dims=("energy", "z", "y", "x"),
                        coords={"energy": energy, "x": np.arange(9) * 0.16})
    maps = bz.xanes.edge_maps(cube)
    fig = px.edge_energy_map(maps["edge_energy_half_step_ev"], maps["valid"], index=1)
    assert isinstance(fig, go.Figure) and fig.layout.template.layout.colorway == tuple(style.COLORWAY)
    heat = fig.data[0]
    np.testing.assert_allclose(heat.z, maps["edge_energy_half_step_ev"].values[1])
    assert heat.colorscale is not None and "µm" in fig.layout.xaxis.title.text
    jump = bz.xanes.edge_jump_map(cube)
    assert len(px.edge_jump_map(jump.isel(z=0), jump.isel(z=0) > 0.2).data) == 2
    spec = xr.DataArray(stack[:, 0, 0], dims=("energy",), coords={"energy": energy})
    norm = bz.xanes.normalize(spec)
    check = px.normalization_check(spec, norm, edge_energy_ev=8341.0)
    assert {t.name for t in check.data} >= {"absorbance", "pre-edge line", "post-edge curve", "norm", "flat"}
    assert len(px.spectra({"a": spec, "b": spec * 2}, markers={"e0": 8341.0}).data) == 2
    shifts = np.zeros((len(energy), 3))
    assert len(px.alignment_shifts(energy, shifts, shifts).data) == 6


def test_measured_and_true_maps_share_one_colour_scale():
    from batteryzoom.plots.xanes import edge_energy_maps

    true = np.full((3, 20, 30), 8341.0)
    true[:, :, 15:] = 8343.0
    measured = true + np.random.default_rng(0).normal(0, 0.3, true.shape)
    fig = edge_energy_maps({"measured": measured, "true": true}, index=1)
    assert [t.coloraxis for t in fig.data] == ["coloraxis", "coloraxis"]
    axis = fig.layout.coloraxis
    # one range over both panels: the true map's two levels inside it, the noise widening it
    assert axis.cmin < 8341.0 and axis.cmax > 8343.0
    assert [a.text for a in fig.layout.annotations][:2] == ["measured", "true"]
    assert fig.layout.height >= 500
    np.testing.assert_array_equal(fig.data[1].z, true[1])
