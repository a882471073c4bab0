"""Figures of the grain-scale chemistry: edge-energy and edge-jump maps, spectra, checks.

Builders draw what they are given (results of :mod:`batteryzoom.xanes`); they compute no
science beyond picking a slice. Every figure uses the house template (:mod:`.style`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import style

__all__ = ["edge_energy_map", "edge_energy_maps", "edge_jump_map", "spectra", "normalization_check", "alignment_shifts"]


def _slice_text(values: Any, axis: str, index: int | None) -> str:
    """Where a slice of a 3D map lies, for a title: ``"z = 4.38 µm"`` (or the index without
    coordinates); ``""`` for a 2D map."""
    if index is None or np.ndim(values) != 3:
        return ""
    if hasattr(values, "dims") and axis in getattr(values, "coords", {}):
        return f"{axis} = {style.um_text(values[axis].values[index])} µm"  # as the zoom figures print it
    return f"{axis} index {index}"


def _plane(values: Any, axis: str, index: int | None):
    """A 2D plane of a 2D/3D map (DataArray or array) and its axis coordinates (µm or px)."""
    if hasattr(values, "dims"):
        da = values
        if da.ndim == 3:
            index = da.sizes[axis] // 2 if index is None else index
            da = da.isel({axis: index})
        (ydim, xdim) = da.dims
        y = da[ydim].values if ydim in da.coords else np.arange(da.sizes[ydim])
        x = da[xdim].values if xdim in da.coords else np.arange(da.sizes[xdim])
        unit = "µm" if xdim in da.coords else "px"
        return np.asarray(da.values, np.float64), y, x, (ydim, xdim), unit, index
    arr = np.asarray(values, np.float64)
    if arr.ndim == 3:
        ax = "zyx".index(axis)
        index = arr.shape[ax] // 2 if index is None else index
        arr = np.take(arr, index, axis=ax)
    dims = tuple(d for d in "zyx" if d != axis)[-2:]
    return arr, np.arange(arr.shape[0]), np.arange(arr.shape[1]), dims, "px", index


def edge_energy_map(
    edge_energy_ev: Any,
    mask: Any = None,
    *,
    axis: str = "z",
    index: int | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    title: str | None = None,
) -> go.Figure:
    """Heatmap of the edge energy (eV) on a 2D map or one slice of a 3D map.

    Parameters
    ----------
    edge_energy_ev : array or DataArray
        ``(y, x)`` or ``(z, y, x)`` edge energies (eV); NaN shows as blank.
    mask : array or DataArray, optional
        Same shape, bool: voxels outside are blanked.
    axis, index : str, int
        For 3D input: the slicing axis and index (default the middle).
    zmin, zmax : float, optional
        Colour range (default the 2nd-98th percentiles of the shown voxels).
    title : str, optional
        For 3D input the slice's position is appended (``"(z = 4.38 µm)"``).

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.plots.xanes import edge_energy_map
    >>> edge_ev = np.full((4, 16, 16), 8342.0)
    >>> edge_ev[:, :, 8:] = 8343.0
    >>> fig = edge_energy_map(edge_ev, index=2)
    >>> fig.data[0].type, float(np.nanmin(fig.data[0].z)), float(np.nanmax(fig.data[0].z))
    ('heatmap', 8342.0, 8343.0)
    """
    values, y, x, dims, unit, index = _plane(edge_energy_ev, axis, index)
    if mask is not None:
        m, *_ = _plane(mask, axis, index)
        values = np.where(m > 0, values, np.nan)
    finite = values[np.isfinite(values)]
    if finite.size:
        zmin = np.percentile(finite, 2) if zmin is None else zmin
        zmax = np.percentile(finite, 98) if zmax is None else zmax
    where = _slice_text(edge_energy_ev, axis, index)
    fig = style.figure((title or "Ni K-edge energy") + (f" ({where})" if where else ""))
    fig.add_heatmap(z=values, x=x, y=y, zmin=zmin, zmax=zmax, colorscale=style.EDGE_ENERGY_COLORSCALE,
                    colorbar=dict(title="edge energy (eV)", **style.colorbar_ticks(zmin, zmax)),
                    hovertemplate=f"{dims[1]} %{{x}} {unit}<br>{dims[0]} %{{y}} {unit}<br>%{{z:.2f}} eV<extra></extra>")
    fig.update_xaxes(title_text=f"{dims[1]} ({unit})", constrain="domain")
    fig.update_yaxes(title_text=f"{dims[0]} ({unit})", scaleanchor="x", autorange="reversed")
    return fig


def edge_jump_map(edge_jump: Any, mask: Any = None, *, title: str | None = None, max_pixels: int = 512) -> go.Figure:
    """Edge-jump map (optical density) with the particle mask outlined.

    Large frames are shown decimated to at most ``max_pixels`` per side (display only).
    """
    values, y, x, dims, unit, _ = _plane(edge_jump, "z", None)
    step = max(1, int(np.ceil(max(values.shape) / max_pixels)))
    values, y, x = values[::step, ::step], y[::step], x[::step]
    fig = style.figure(title or "Edge jump (post-edge minus pre-edge optical density)")
    finite = values[np.isfinite(values)]
    hi = np.percentile(finite, 99.5) if finite.size else None
    fig.add_heatmap(z=values, x=x, y=y, zmin=0, zmax=hi, colorscale="Magma", colorbar=dict(title="edge jump (OD)"))
    if mask is not None:
        m, *_ = _plane(mask, "z", None)
        fig.add_contour(z=m[::step, ::step].astype(float), x=x, y=y, contours=dict(start=0.5, end=0.5, coloring="none"),
                        line=dict(color="#56B4E9", width=1.5), showscale=False, name="particle mask",
                        hoverinfo="skip")
    fig.update_xaxes(title_text=f"{dims[1]} ({unit})", constrain="domain")
    fig.update_yaxes(title_text=f"{dims[0]} ({unit})", scaleanchor="x", autorange="reversed")
    return fig


def spectra(curves: dict[str, Any], *, energy: Any = None, title: str | None = None,
            ylabel: str = "normalized absorption", markers: dict[str, float] | None = None) -> go.Figure:
    """Overlay of spectra: ``{name: 1-D DataArray with energy, or array with energy=}``.

    ``markers`` draws vertical lines at named energies (eV), e.g. edge energies.
    """
    fig = style.figure(title or "Ni K-edge spectra")
    for name, curve in curves.items():
        e = curve["energy"].values if hasattr(curve, "dims") else np.asarray(energy)
        fig.add_scatter(x=e, y=np.asarray(curve, np.float64), mode="lines", name=name)
    for name, value in (markers or {}).items():
        fig.add_vline(x=value, line=dict(dash="dot", width=1), annotation_text=name, annotation_position="top left")
    fig.update_xaxes(title_text="energy (eV)")
    fig.update_yaxes(title_text=ylabel)
    return fig


def normalization_check(spectrum: Any, result: Any, *, edge_energy_ev: float | None = None,
                        title: str | None = None) -> go.Figure:
    """Raw spectrum with Larch's pre-edge line and post-edge curve (left), normalized (right).

    Parameters
    ----------
    spectrum : 1-D DataArray
        The absorbance with its ``energy`` coordinate (eV).
    result : Dataset or dict
        :func:`batteryzoom.xanes.normalize` output for that spectrum.
    edge_energy_ev : float, optional
        Marks an edge energy (e.g. the half step) on the normalized panel.
    """
    e = spectrum["energy"].values
    fig = make_subplots(rows=1, cols=2, subplot_titles=("raw with pre-/post-edge fits", "normalized"))
    style.apply(fig, title or "Normalization check (Larch's default ranges)")
    colors = style.COLORWAY
    fig.add_scatter(x=e, y=spectrum.values, name="absorbance", line=dict(color=colors[0]), row=1, col=1)
    fig.add_scatter(x=e, y=np.asarray(result["pre_edge"]), name="pre-edge line", line=dict(color=colors[1], dash="dash"),
                    row=1, col=1)
    fig.add_scatter(x=e, y=np.asarray(result["post_edge"]), name="post-edge curve",
                    line=dict(color=colors[2], dash="dash"), row=1, col=1)
    fig.add_scatter(x=e, y=np.asarray(result["norm"]), name="norm", line=dict(color=colors[0]), row=1, col=2)
    fig.add_scatter(x=e, y=np.asarray(result["flat"]), name="flat", line=dict(color=colors[3], width=1), row=1, col=2)
    e0 = float(np.asarray(result["e0_ev"]))
    fig.add_vline(x=e0, line=dict(dash="dot", width=1), annotation_text=f"e0 {e0:.1f}", row=1, col=1)
    if edge_energy_ev is not None:
        fig.add_vline(x=edge_energy_ev, line=dict(dash="dot", width=1, color=colors[1]),
                      annotation_text=f"half step {edge_energy_ev:.2f}", row=1, col=2)
        fig.add_hline(y=0.5, line=dict(dash="dot", width=1, color="#999"), row=1, col=2)
    fig.update_xaxes(title_text="energy (eV)")
    fig.update_yaxes(title_text="absorbance", row=1, col=1)
    fig.update_yaxes(title_text="normalized", row=1, col=2)
    return fig


def alignment_shifts(energy: Any, shifts: Any, applied: Any = None, *, title: str | None = None) -> go.Figure:
    """Recovered displacement per energy (pixels), with the applied ones when known."""
    e = np.asarray(energy)
    s = np.asarray(shifts)
    names = "zyx"[-s.shape[1]:]
    fig = style.figure(title or "Frame displacements across energies")
    for i, axis in enumerate(names):
        color = style.COLORWAY[i]
        fig.add_scatter(x=e, y=s[:, i], mode="markers", name=f"{axis} recovered", marker=dict(color=color, size=7))
        if applied is not None:
            fig.add_scatter(x=e, y=np.asarray(applied)[:, i], mode="lines", name=f"{axis} applied",
                            line=dict(color=color, width=1))
    fig.update_xaxes(title_text="energy (eV)")
    fig.update_yaxes(title_text="displacement (pixels)")
    return fig


def edge_energy_maps(panels: dict[str, Any], *, axis: str = "z", index: int | None = None,
                     title: str | None = None, height: int = 520) -> go.Figure:
    """Edge-energy maps side by side on one colour scale (e.g. measured and true).

    Parameters
    ----------
    panels : dict of title -> array or DataArray
        ``(y, x)`` or ``(z, y, x)`` edge energies (eV) on one grid; NaN shows blank.
    axis, index : str, int
        For 3D maps: the slicing axis and index (default the middle), the same for all.
    title : str, optional
        For 3D maps the slice's position is appended.
    height : int
        Figure height (px).

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap per panel, all on one colour axis (its range the 2nd-98th percentiles
        of every panel's shown voxels together).

    Examples
    --------
    >>> import numpy as np
    >>> from batteryzoom.plots.xanes import edge_energy_maps
    >>> true = np.full((16, 16), 8342.0); true[:, 8:] = 8343.0
    >>> fig = edge_energy_maps({"measured": true + 0.1, "true": true})
    >>> len(fig.data), fig.data[0].coloraxis == fig.data[1].coloraxis == "coloraxis"
    (2, True)
    """
    planes = {name: _plane(m, axis, index) for name, m in panels.items()}
    finite = np.concatenate([p[0][np.isfinite(p[0])] for p in planes.values()] or [np.array([])])
    zmin, zmax = (np.percentile(finite, 2), np.percentile(finite, 98)) if finite.size else (None, None)
    first = next(iter(panels.values()))
    where = _slice_text(first, axis, index)
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels), horizontal_spacing=0.08)
    style.apply(fig, (title or "Ni K-edge energy") + (f" ({where})" if where else ""))
    for k, (values, y, x, dims, unit, _) in enumerate(planes.values()):
        fig.add_heatmap(z=values, x=x, y=y, coloraxis="coloraxis", row=1, col=k + 1,
                        hovertemplate=f"{dims[1]} %{{x}} {unit}<br>{dims[0]} %{{y}} {unit}<br>"
                                      "%{z:.2f} eV<extra></extra>")
        ax = "" if k == 0 else str(k + 1)
        fig.update_xaxes(title_text=f"{dims[1]} ({unit})", constrain="domain", row=1, col=k + 1)
        fig.update_yaxes(title_text=f"{dims[0]} ({unit})" if k == 0 else None, scaleanchor=f"x{ax}",
                         autorange="reversed", row=1, col=k + 1)
    fig.update_layout(height=height, coloraxis=dict(
        colorscale=style.EDGE_ENERGY_COLORSCALE, cmin=zmin, cmax=zmax,
        colorbar=dict(title="edge energy (eV)", **style.colorbar_ticks(zmin, zmax))))
    return fig
