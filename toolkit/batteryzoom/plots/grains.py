"""Figures of primary grains: the particle's grains in 3D, one grain's distribution of edge
energy, its mean spectrum, and the two-grain comparison of the study's Fig. S3.

Builders draw results they are given: per-grain statistics from
:func:`batteryzoom.regions.region_stats` (through :class:`batteryzoom.regions.RegionLookup`)
and label volumes. The only geometry computed here is what a 3D view needs, the grains'
surfaces:

- :func:`grain_surface` — the *visible* surface of a labelled particle (its outer surface,
  plus the faces of an optional cutaway that exposes interior grains), as one triangle mesh
  split into per-grain patches. Vertices are not shared between grains, so every triangle,
  every vertex and therefore every click on the mesh belongs to exactly one grain, and the
  colour of a patch is its grain's own (no blending across a boundary).
- :func:`grain_closed_surface` — one grain's own closed surface, coloured voxel by voxel by a
  map (edge energy), as in Fig. S3.

Coordinates are µm in the label volume's local frame, axes ``(z, y, x)``; plotly's scene axes
show ``x``, ``y``, ``z`` in that physical frame (``aspectmode="data"``: a µm is a µm on
every axis).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..regions import RegionSummary
from ..errors import InputError
from ..frames import frame_of
from . import style

__all__ = [
    "GrainSurface",
    "grain_surface",
    "grain_closed_surface",
    "particle_figure",
    "surface_trace",
    "highlight_trace",
    "highlight_data",
    "histogram_data",
    "comparison_mesh_data",
    "comparison_coloraxis",
    "histogram_traces",
    "histogram_figure",
    "spectrum_figure",
    "comparison_figure",
    "comparison_mesh",
    "comparison_titles",
    "equal_boxes",
    "shared_range",
    "grain_name",
    "SELECTION_COLORS",
    "GRAIN_COLORS",
    "SLOT_NAMES",
]

# Selected grains: grain 1, grain 2 (Okabe–Ito vermillion and reddish purple, readable on Viridis)
SELECTION_COLORS = ("#D55E00", "#CC79A7")
# Other grains an explorer selects, each keeping its colour (Okabe–Ito; yellow left out,
# unreadable on white; vermillion and reddish purple kept for the study's grains 1 and 2)
GRAIN_COLORS = ("#0072B2", "#009E73", "#E69F00", "#56B4E9", "#000000")
# What an explorer's two selection slots are called: not "grain 1" and "grain 2", which
# name the study's designated grains (a clicked grain in the first slot is not grain 1)
SLOT_NAMES = ("selection A", "selection B")


def _labels_array(labels: Any) -> np.ndarray:
    data = np.asarray(labels.values if hasattr(labels, "dims") else labels)
    if data.ndim != 3 or not np.issubdtype(data.dtype, np.integer):
        raise InputError(f"labels must be a 3D integer volume (z, y, x); got {data.dtype} {data.shape}")
    return data


def _voxel_size(labels: Any, voxel_size_um: Sequence[float] | float | None) -> np.ndarray:
    return np.asarray(frame_of(labels, voxel_size_um, ndim=3).voxel_size_um)


@dataclass(frozen=True)
class GrainSurface:
    """The visible surface of a labelled particle, split into per-grain patches.

    Attributes
    ----------
    vertices_um : (n_vertices, 3) float32
        Vertex positions, µm, ``(z, y, x)`` in the label volume's local frame.
    normals : (n_vertices, 3) float32
        Outward unit normals.
    faces : (n_faces, 3) int32
        Triangles (vertex indices); a grain's faces use only that grain's vertices.
    vertex_label : (n_vertices,) int32
        The grain each vertex belongs to.
    labels : (n_patches,) int64
        Grains that show on the surface, ascending; their vertices (and faces) are the
        contiguous ranges ``vertex_start[i]:vertex_stop[i]`` (``face_start[i]:face_stop[i]``).
    """

    vertices_um: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    vertex_label: np.ndarray
    labels: np.ndarray
    vertex_start: np.ndarray
    vertex_stop: np.ndarray
    face_start: np.ndarray
    face_stop: np.ndarray
    edge_um: float = 0.0  # typical triangle edge length (µm)

    @property
    def n_vertices(self) -> int:
        return len(self.vertices_um)

    def patch(self, label: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(vertices_um, faces)`` of one grain's visible patch (faces re-indexed), or None."""
        i = np.searchsorted(self.labels, label)
        if i >= len(self.labels) or self.labels[i] != label:
            return None
        v0, v1 = self.vertex_start[i], self.vertex_stop[i]
        f0, f1 = self.face_start[i], self.face_stop[i]
        return self.vertices_um[v0:v1], self.faces[f0:f1] - v0

    def label_at_vertex(self, index: int) -> int:
        """The grain a clicked vertex belongs to."""
        return int(self.vertex_label[index])


def _cut_mask(shape: tuple[int, int, int], cut: str | None) -> np.ndarray | None:
    """Voxels removed by the cutaway (True = removed), or None."""
    if cut is None:
        return None
    zc, yc, xc = (n // 2 for n in shape)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    if cut == "octant":
        # the octant facing plotly's default camera (high x, high y, high z)
        return (z >= zc) & (y >= yc) & (x >= xc)
    if cut == "half":
        return np.broadcast_to(x >= xc, shape)
    raise InputError(f"cut={cut!r}: choose None, 'octant' or 'half'")


def grain_surface(
    labels: Any,
    voxel_size_um: Sequence[float] | float | None = None,
    *,
    cut: str | None = "octant",
    smooth_sigma_voxels: float = 0.8,
    step_size: int | None = None,
) -> GrainSurface:
    """The visible surface of a labelled particle as per-grain patches (one mesh).

    One marching-cubes pass over the particle's (optionally cut-away) solid gives the surface
    a viewer sees; each triangle goes to the grain of the nearest solid voxel, and vertices
    are duplicated along grain boundaries so that patches share none.

    Parameters
    ----------
    labels : array-like (z, y, x) of int
        Grain labels, 0 = background (xarray keeps its ``attrs["voxel_size_um"]``).
    voxel_size_um : float or (3,) floats, optional
        Voxel size in µm (default: ``labels.attrs["voxel_size_um"]``).
    cut : {"octant", "half", None}
        Remove one octant (or the high-x half) so that interior grains show and can be
        clicked; None shows the outer surface only.
    smooth_sigma_voxels : float
        Gaussian smoothing of the solid before marching cubes (voxels): rounder surfaces
        instead of voxel stairs; 0 disables it.
    step_size : int, optional
        Marching-cubes step (voxels); default keeps the mesh light for a browser
        (1 up to 128 voxels a side, 2 up to 256, ...).

    Returns
    -------
    GrainSurface
    """
    from scipy import ndimage
    from skimage.measure import marching_cubes

    lab = _labels_array(labels)
    spacing = _voxel_size(labels, voxel_size_um)
    solid = lab > 0
    removed = _cut_mask(lab.shape, cut)
    if removed is not None:
        solid = solid & ~removed
    if not solid.any():
        raise InputError("labels have no grain (every voxel is 0, or the cutaway removed them all)")
    if step_size is None:
        step_size = max(1, int(np.ceil(max(lab.shape) / 128)))
    field = np.pad(solid.astype(np.float32), 2)
    if smooth_sigma_voxels > 0:
        field = ndimage.gaussian_filter(field, smooth_sigma_voxels)
    verts, faces, normals, _ = marching_cubes(field, 0.5, step_size=step_size, allow_degenerate=False)
    verts -= 2.0  # undo the padding: vertices in voxel-index units of `lab`

    # each triangle belongs to the grain just beneath it: step from its centroid along its
    # normal (either way: which side is solid depends on the cut) until a solid voxel is met
    tri = verts[faces]
    centroid = tri.mean(axis=1)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    solid_labels = np.where(solid, lab, 0)
    face_label = np.zeros(len(faces), dtype=lab.dtype)
    upper = np.asarray(lab.shape) - 1
    for depth in (0.6, 1.0, 1.5, 2.5):
        for sign in (-1.0, 1.0):
            todo = face_label == 0
            if not todo.any():
                break
            probe = np.clip(np.rint(centroid[todo] + sign * depth * normal[todo]).astype(np.int64), 0, upper)
            face_label[todo] = solid_labels[tuple(probe.T)]
    keep = face_label > 0  # a sliver no probe could attribute is dropped (none in practice)
    faces, face_label = faces[keep], face_label[keep]

    # duplicate vertices per grain: unique (grain, vertex) pairs, sorted by grain
    order = np.argsort(face_label, kind="stable")
    faces, face_label = faces[order], face_label[order]
    corner_label = np.repeat(face_label, 3).astype(np.int64)
    key = corner_label * len(verts) + faces.ravel()
    uniq, inverse = np.unique(key, return_inverse=True)
    vert_src = (uniq % len(verts)).astype(np.int64)
    vertex_label = (uniq // len(verts)).astype(np.int32)
    new_faces = inverse.reshape(-1, 3).astype(np.int32)

    patch_labels, v_start = np.unique(vertex_label, return_index=True)
    v_stop = np.append(v_start[1:], len(vertex_label))
    f_start = np.searchsorted(face_label, patch_labels, side="left")
    f_stop = np.searchsorted(face_label, patch_labels, side="right")
    return GrainSurface(
        vertices_um=(verts[vert_src] * spacing).astype(np.float32),
        normals=normals[vert_src].astype(np.float32),
        faces=new_faces,
        vertex_label=vertex_label,
        labels=patch_labels.astype(np.int64),
        vertex_start=v_start,
        vertex_stop=v_stop,
        face_start=f_start,
        face_stop=f_stop,
        edge_um=float(step_size * spacing.min()),
    )


def grain_closed_surface(
    labels: Any,
    label: int,
    voxel_size_um: Sequence[float] | float | None = None,
    *,
    values: Any = None,
    smooth_sigma_voxels: float = 0.6,
    box: tuple[slice, slice, slice] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One grain's closed surface, optionally coloured voxel by voxel by a map.

    Parameters
    ----------
    labels : array-like (z, y, x) of int
    label : int
        The grain.
    voxel_size_um : optional
        As in :func:`grain_surface`.
    values : array-like (z, y, x), optional
        A per-voxel map on the same grid (e.g. edge energy, eV); each vertex takes the value
        of the grain's voxel nearest to it.

    Returns
    -------
    vertices_um : (n, 3) float32, µm (z, y, x), local frame of ``labels``
    faces : (m, 3) int32
    vertex_values : (n,) float32 or None
    """
    from scipy import ndimage
    from skimage.measure import marching_cubes

    lab = _labels_array(labels)
    spacing = _voxel_size(labels, voxel_size_um)
    if box is None:
        found = ndimage.find_objects((lab == label).astype(np.uint8))
        if not found:
            raise InputError(f"label {label} is not in the label volume")
        box = found[0]
    lo = np.array([max(s.start - 2, 0) for s in box])
    hi = np.array([min(s.stop + 2, n) for s, n in zip(box, lab.shape)])
    sub = tuple(slice(a, b) for a, b in zip(lo, hi))
    m_crop = lab[sub] == label
    if not m_crop.any():
        raise InputError(f"label {label} is not in the label volume (or not inside the given box)")
    m = np.pad(m_crop, 2)
    field = m.astype(np.float32)
    if smooth_sigma_voxels > 0:
        field = ndimage.gaussian_filter(field, smooth_sigma_voxels)
    level = 0.5 if field.max() > 0.5 else float(field.max()) / 2  # tiny grains survive smoothing
    verts, faces, _, _ = marching_cubes(field, level, allow_degenerate=False)
    verts = verts - 2.0 + lo
    vertex_values = None
    if values is not None:
        vals = np.asarray(values.values if hasattr(values, "dims") else values)
        if vals.shape != lab.shape:
            raise InputError(f"values have shape {vals.shape}; labels have {lab.shape}: give maps on the same grid")
        # value of the grain voxel nearest each vertex
        _, nearest = ndimage.distance_transform_edt(~m, return_indices=True)
        local = np.clip(np.rint(verts - lo + 2).astype(np.int64), 0, np.asarray(m.shape) - 1)
        idx = nearest[(slice(None), *local.T)].T - 2 + lo
        vertex_values = vals[tuple(idx.T)].astype(np.float32)
    return (verts * spacing).astype(np.float32), faces.astype(np.int32), vertex_values


def _columns(vertices_um: np.ndarray, faces: np.ndarray) -> dict:
    """Mesh3d x/y/z (µm: x, y, z = array axes 2, 1, 0) and i/j/k as contiguous 1D arrays.

    Contiguous float32/int32 arrays travel to the browser as binary buffers (a FigureWidget
    refuses strided views when its values are written without plotly's validation).
    """
    v = np.asarray(vertices_um, np.float32)
    f = np.asarray(faces, np.int32)
    return dict(x=np.ascontiguousarray(v[:, 2]), y=np.ascontiguousarray(v[:, 1]), z=np.ascontiguousarray(v[:, 0]),
                i=np.ascontiguousarray(f[:, 0]), j=np.ascontiguousarray(f[:, 1]), k=np.ascontiguousarray(f[:, 2]))


def _scene(title_unit: str = "µm", *, distance: float = 1.0, font_size: int | None = None,
           nticks: int | None = None, lift: float = 0.0, shift: float = 0.0) -> dict:
    """A 3D scene in µm (a µm is a µm on every axis).

    ``distance`` scales the camera's distance from the default view: a small scene (the
    comparison's) needs the camera further out so that its tick labels and axis titles,
    drawn outside the box, stay inside the viewport; ``font_size`` and ``nticks`` thin the
    tick labels of such a scene; ``lift`` and ``shift`` move the box up and right in the
    viewport (in box units), as the tick labels and axis titles hang below and left of it.
    """
    axis = dict(showbackground=False, showgrid=True, gridcolor="#ddd", zeroline=False)
    if font_size is not None:
        axis.update(tickfont=dict(size=font_size))
    if nticks is not None:
        axis.update(nticks=nticks)
    titles = {a: dict(text=f"{a} ({title_unit})", **({"font": dict(size=font_size + 1)} if font_size else {}))
              for a in "xyz"}
    return dict(
        aspectmode="data",
        xaxis=dict(title=titles["x"], **axis),
        yaxis=dict(title=titles["y"], **axis),
        zaxis=dict(title=titles["z"], **axis),
        # the view looks along -(1.5, 1.5, 1.1); the screen's right is (-1, 1, 0) / √2
        camera=dict(eye=dict(x=1.5 * distance + shift, y=1.5 * distance - shift, z=1.1 * distance - lift),
                    center=dict(x=shift, y=-shift, z=-lift)),
    )


def surface_trace(
    surface: GrainSurface,
    value_by_label: dict[int, float] | None = None,
    *,
    labels: np.ndarray | None = None,
    values: np.ndarray | None = None,
    colorscale: str = style.EDGE_ENERGY_COLORSCALE,
    cmin: float | None = None,
    cmax: float | None = None,
    colorbar_title: str = "mean edge energy (eV)",
) -> go.Mesh3d:
    """The particle's grains as one Mesh3d, each patch coloured by its grain's value.

    Give the per-grain values either as a dict ``{label: value}`` or as two aligned arrays
    ``labels`` and ``values`` (e.g. the statistics table's index and its mean column).
    """
    if value_by_label is not None:
        labels = np.fromiter(value_by_label.keys(), dtype=np.int64)
        values = np.fromiter(value_by_label.values(), dtype=float)
    if labels is None or values is None:
        raise InputError("give value_by_label, or labels= and values=")
    order = np.argsort(labels)
    labels, values = np.asarray(labels)[order], np.asarray(values, float)[order]
    pos = np.clip(np.searchsorted(labels, surface.labels), 0, len(labels) - 1)
    known = labels[pos] == surface.labels
    patch_value = np.where(known, values[pos], np.nan)
    counts = surface.vertex_stop - surface.vertex_start
    intensity = np.repeat(patch_value, counts).astype(np.float32)
    v = surface.vertices_um
    return go.Mesh3d(
        x=np.ascontiguousarray(v[:, 2]),
        y=np.ascontiguousarray(v[:, 1]),
        z=np.ascontiguousarray(v[:, 0]),
        i=np.ascontiguousarray(surface.faces[:, 0]),
        j=np.ascontiguousarray(surface.faces[:, 1]),
        k=np.ascontiguousarray(surface.faces[:, 2]),
        intensity=intensity,
        intensitymode="vertex",
        colorscale=colorscale,
        cmin=cmin,
        cmax=cmax,
        colorbar=dict(title=dict(text=colorbar_title, side="right"), len=0.75, thickness=15,
                      **style.colorbar_ticks(cmin, cmax)),
        flatshading=False,
        lighting=dict(ambient=0.7, diffuse=0.5, specular=0.05, roughness=0.9),
        hoverinfo="none",
        name="grains",
        showscale=True,
    )


def highlight_data(surface: GrainSurface | None = None, label: int | None = None,
                   *, lift_um: float | None = None) -> dict:
    """Geometry (x, y, z, i, j, k) of one grain's patch for an overlay Mesh3d; empty for None.

    The patch is lifted along its normals (default: a quarter of the surface's triangle edge,
    a fraction of a voxel) so it shows above the grains' mesh without z-fighting. A grain that
    does not show on the surface (interior, not cut) gives an empty overlay.
    """
    empty = dict(x=[], y=[], z=[], i=[], j=[], k=[])
    if surface is None or label is None:
        return empty
    i = np.searchsorted(surface.labels, label)
    if i >= len(surface.labels) or surface.labels[i] != label:
        return empty
    v0, v1 = surface.vertex_start[i], surface.vertex_stop[i]
    f0, f1 = surface.face_start[i], surface.face_stop[i]
    if lift_um is None:
        lift_um = 0.25 * surface.edge_um
    v = surface.vertices_um[v0:v1] + lift_um * surface.normals[v0:v1]
    f = surface.faces[f0:f1] - v0
    return _columns(v, f)


def highlight_trace(
    surface: GrainSurface | None = None,
    label: int | None = None,
    *,
    color: str = SELECTION_COLORS[0],
    name: str = "selected",
    lift_um: float | None = None,
) -> dict:
    """Properties of an overlay Mesh3d drawing one grain's patch in a flat colour
    (``go.Mesh3d(**props)``); see :func:`highlight_data`."""
    return dict(highlight_data(surface, label, lift_um=lift_um), color=color, name=name, opacity=1.0,
                hoverinfo="none", flatshading=True, showscale=False)


def particle_figure(
    surface: GrainSurface,
    labels: np.ndarray,
    values: np.ndarray,
    *,
    cmin: float | None = None,
    cmax: float | None = None,
    title: str | None = "Grains by mean edge energy",
    n_highlights: int = 2,
    height: int = 520,
    width: int | None = None,
    slots: Sequence[str] = SLOT_NAMES,
) -> go.Figure:
    """3D view of a particle's grains (trace 0) plus ``n_highlights`` empty overlay slots,
    named after ``slots``.

    Examples
    --------
    Two grains in a small volume, coloured by their mean edge energy (eV):

    >>> import numpy as np
    >>> from batteryzoom.plots import grains as pg
    >>> labels = np.zeros((12, 12, 12), np.int32)
    >>> labels[2:10, 2:10, 2:6], labels[2:10, 2:10, 6:10] = 1, 2
    >>> surface = pg.grain_surface(labels, 0.1, cut=None)
    >>> sorted(np.unique(surface.labels).tolist())
    [1, 2]
    >>> fig = pg.particle_figure(surface, np.array([1, 2]), np.array([8341.0, 8342.5]))
    >>> fig.data[0].type, sorted(set(np.round(fig.data[0].intensity, 1).tolist()))
    ('mesh3d', [8341.0, 8342.5])
    """
    fig = style.figure(title=title, height=height, width=width)
    fig.add_trace(surface_trace(surface, labels=labels, values=values, cmin=cmin, cmax=cmax))
    for k in range(n_highlights):
        fig.add_trace(go.Mesh3d(**highlight_trace(color=SELECTION_COLORS[k % 2],
                                                  name=slots[k] if k < len(slots) else f"selection {k + 1}")))
    # the camera a little further out than plotly's default: the z axis title, drawn above
    # the box's top corner, was cut at the figure's top edge
    fig.update_layout(scene=_scene(distance=1.3, lift=0.05, shift=0.1), margin=dict(l=10, r=0, t=40, b=10),
                      showlegend=False)
    return fig


def grain_name(label: int, slot: int | None = None) -> str:
    """How figures name a grain: ``"grain 1 (#391)"`` for the study's grain ``slot + 1`` (grain
    1 or 2 of Fig. S3), ``"grain #1311"`` for any other (its label, never a bare number that
    reads as the study's grain 1 or 2)."""
    return f"grain #{label}" if slot is None else f"grain {slot + 1} (#{label})"


def histogram_data(summary: RegionSummary | None, name: str | None = None, *, slot: int | None = None,
                   unit: str = "eV") -> list[dict]:
    """Data (x, y, name) of the three traces of :func:`histogram_traces` for ``summary``.

    The distribution is named ``name``, else after the grain (:func:`grain_name`, with its
    ``slot`` when given); the mean and FWHM traces carry their value and ``unit``.
    """
    if summary is None:
        return [dict(x=[], y=[], name="") for _ in range(3)]
    name = name or grain_name(summary.label, slot)
    unit = f" {unit}" if unit else ""
    density = summary.density
    edges = summary.bin_edges
    # a step outline: each bin drawn flat from its left to its right edge
    x = np.repeat(edges, 2)[1:-1]
    y = np.repeat(density, 2)
    peak_height = float(density.max()) if density.size else 0.0
    row = summary.table_row
    centre = next((float(row[c]) for c in row.index if str(c).endswith("_peak") and np.isfinite(row[c])), summary.mean)
    half = summary.fwhm / 2
    return [
        dict(x=x, y=y, name=name),
        dict(x=[summary.mean, summary.mean], y=[0.0, peak_height * 1.05], name=f"mean {summary.mean:.2f}{unit}"),
        dict(x=[centre - half, centre + half], y=[peak_height / 2] * 2,
             name=f"FWHM {summary.fwhm:.2f}{unit}<br>as measured"),  # two lines: legends are narrow
    ]


def histogram_traces(
    summary: RegionSummary | None,
    *,
    color: str = SELECTION_COLORS[0],
    name: str | None = None,
    value_label: str = "edge energy (eV)",
    slot: int | None = None,
    unit: str = "eV",
) -> list[dict]:
    """Three scatter-trace property dicts for one region's distribution (Fig. S3, right):

    0. the relative probability per bin (a step outline over the bin edges, filled),
    1. the mean (vertical line),
    2. the FWHM (horizontal segment at half the peak height, centred on the peak when the
       table gives one, else on the mean).

    With ``summary=None``, three empty traces (a free slot, styled for its colour).
    """
    data = histogram_data(summary, name, slot=slot, unit=unit)
    group = data[0]["name"]
    styles = [
        dict(mode="lines", line=dict(color=color, width=2), fill="tozeroy",
             hovertemplate=f"{value_label}: %{{x:.2f}}<br>p: %{{y:.3f}}<extra></extra>"),
        dict(mode="lines", line=dict(color=color, width=2, dash="solid"), hoverinfo="name"),
        dict(mode="lines+markers", line=dict(color=color, width=2, dash="dot"),
             marker=dict(symbol="line-ns-open", size=10, color=color), hoverinfo="name"),
    ]
    return [dict(type="scatter", legendgroup=group, showlegend=summary is not None, **d, **st)
            for d, st in zip(data, styles)]


def _unit_of(value_label: str) -> str:
    """The unit in a label such as ``"edge energy (eV)"`` (``""`` when none is given)."""
    return value_label[value_label.rfind("(") + 1:-1] if value_label.endswith(")") and "(" in value_label else ""


def _x_range(summaries: Sequence[RegionSummary | None]) -> list[float] | None:
    spans = []
    for s in summaries:
        if s is None or s.counts.sum() == 0:
            continue
        nz = np.nonzero(s.counts)[0]
        spans.append((s.bin_edges[nz[0]], s.bin_edges[nz[-1] + 1]))
    if not spans:
        return None
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    pad = 0.08 * (hi - lo) or 0.5
    return [float(lo - pad), float(hi + pad)]


# the explorer's histogram: x ticks and title under the plot, then a legend row per grain (px)
_HISTOGRAM_AXIS_PX = 48
_HISTOGRAM_LEGEND_ROW_PX = 20
_HISTOGRAM_LEGEND_FONT = 11


def histogram_figure(
    summaries: Sequence[RegionSummary | None] = (None, None),
    *,
    value_label: str = "edge energy (eV)",
    title: str | None = "Edge-energy distribution",
    height: int = 300,
    width: int | None = None,
    names: Sequence[str | None] | None = None,
) -> go.Figure:
    """Distributions of up to two grains, with their means and FWHMs (three traces each);
    ``names`` as in :func:`comparison_figure`."""
    fig = style.figure(title=title, height=height, width=width)
    names = list(names) if names is not None else [None] * len(summaries)
    for k, s in enumerate(summaries):
        for props in histogram_traces(s, color=SELECTION_COLORS[k % 2], value_label=value_label, slot=k,
                                      unit=_unit_of(value_label), name=names[k]):
            fig.add_trace(go.Scatter(**{key: v for key, v in props.items() if key != "type"}))
    # the legend under the axis title, anchored to the figure's bottom: one row per grain
    # (distribution, mean, FWHM), the bottom margin holding the ticks, the title and the rows
    # (at y = -0.3 of the plot it ran into the axis title)
    rows = max(len(summaries), 1)
    fig.update_layout(
        xaxis_title=value_label, yaxis_title="probability (1/eV)" if "eV" in value_label else "probability",
        legend=dict(orientation="h", x=0.0, xanchor="left", yref="container", y=0.0, yanchor="bottom",
                    entrywidth=1 / 3, entrywidthmode="fraction", tracegroupgap=0,
                    font=dict(size=_HISTOGRAM_LEGEND_FONT)),
        margin=dict(l=60, r=20, t=45, b=_HISTOGRAM_AXIS_PX + rows * _HISTOGRAM_LEGEND_ROW_PX),
    )
    xr = _x_range(summaries)
    if xr:
        fig.update_xaxes(range=xr)
    return fig


def spectrum_figure(
    energy_ev: np.ndarray | None,
    summaries: Sequence[RegionSummary | None] = (None, None),
    *,
    title: str | None = "Mean spectrum",
    height: int = 300,
    width: int | None = None,
    names: Sequence[str | None] | None = None,
) -> go.Figure:
    """Mean spectra of up to two grains (one trace per slot); ``names`` as in
    :func:`comparison_figure`."""
    fig = style.figure(title=title, height=height, width=width)
    names = list(names) if names is not None else [None] * len(summaries)
    for k, s in enumerate(summaries):
        has = s is not None and s.spectrum is not None and energy_ev is not None
        fig.add_trace(go.Scatter(
            x=energy_ev if has else [], y=s.spectrum if has else [], mode="lines",
            line=dict(color=SELECTION_COLORS[k % 2], width=2),
            name=(names[k] or grain_name(s.label, k)) if s is not None else "",
        ))
    fig.update_layout(xaxis_title="energy (eV)", yaxis_title="norm. absorption",
                      legend=dict(x=0.98, xanchor="right", y=0.05, yanchor="bottom"),
                      margin=dict(l=60, r=20, t=50, b=40), **spectrum_tick_layout(summaries))
    return fig


def spectrum_tick_layout(summaries: Sequence[RegionSummary | None]) -> dict:
    """The spectrum axis' tick format over the given grains' spectra (``0.0, 0.5, 1.0, 1.5``,
    not ``0, 0.5, 1, 1.5``), as a layout update; empty without spectra."""
    ys = [np.asarray(s.spectrum, float) for s in summaries if s is not None and s.spectrum is not None]
    ys = [y[np.isfinite(y)] for y in ys]
    ys = [y for y in ys if y.size]
    if not ys:
        return {}
    fmt = style.tick_format(min(float(y.min()) for y in ys), max(float(y.max()) for y in ys))
    return {"yaxis_tickformat": fmt} if fmt else {}


def comparison_mesh_data(
    grain: tuple[RegionSummary, np.ndarray, np.ndarray, np.ndarray | None] | None,
    slot: int | None = None,
    name: str | None = None,
) -> dict:
    """Geometry and per-vertex values of one grain for the comparison (empty when None),
    named ``name``, else after the grain and its ``slot`` (:func:`grain_name`)."""
    if grain is None:
        return dict(x=[], y=[], z=[], i=[], j=[], k=[], intensity=None, name="")
    summary, verts, faces, vv = grain
    return dict(_columns(verts, faces), intensity=vv, name=name or grain_name(summary.label, slot))


def comparison_mesh(
    grain: tuple[RegionSummary, np.ndarray, np.ndarray, np.ndarray | None] | None,
    *,
    slot: int = 0,
    name: str | None = None,
) -> dict:
    """Mesh3d properties of one grain's closed surface for the comparison (empty when None):
    coloured voxel by voxel on the figure's shared colour axis when its vertex values are
    given, else in its slot's colour."""
    return dict(comparison_mesh_data(grain, slot, name), hoverinfo="none", flatshading=False,
                lighting=dict(ambient=0.6, diffuse=0.6, specular=0.1), color=SELECTION_COLORS[slot % 2],
                coloraxis="coloraxis", intensitymode="vertex")


# where the comparison puts its panels (paper fractions): two scenes, then the distributions;
# the legend has the last column to itself, inside the figure: a legend beyond the paper
# relies on plotly widening the right margin, and an explorer narrower than its figure
# (a notebook's output area) cut it off
_COMPARISON_COLUMNS = ((0.0, 0.26), (0.28, 0.54), (0.61, 0.83))
_COMPARISON_LEGEND_X = 1.0  # the legend's right edge (paper)
_COMPARISON_LEGEND_FONT = 11
_COMPARISON_SCENE_BOTTOM = 0.13  # the scenes end above the colour bar


def comparison_coloraxis(cmin: float | None, cmax: float | None, value_label: str = "edge energy (eV)") -> dict:
    """The comparison's shared colour axis: one scale (and colour bar) for both grains.

    The colour bar lies horizontally under the two morphologies it colours (beside the
    distributions it would read as theirs); its ticks share one number of decimals.
    """
    (left, _), (_, right), _ = _COMPARISON_COLUMNS
    return dict(colorscale=style.EDGE_ENERGY_COLORSCALE, cmin=cmin, cmax=cmax,
                colorbar=dict(title=dict(text=value_label, side="top"), orientation="h",
                              x=(left + right) / 2, xanchor="center", len=0.8 * (right - left), lenmode="fraction",
                              y=_COMPARISON_SCENE_BOTTOM - 0.02, yanchor="top", yref="paper", thickness=10,
                              tickfont=dict(size=11), **style.colorbar_ticks(cmin, cmax)))


def shared_range(*arrays: np.ndarray | None, percentiles: tuple[float, float] = (2, 98)) -> tuple[float | None, float | None]:
    """A colour range covering the given values (their 2–98 % range, NaNs ignored)."""
    vals = [np.asarray(a, float).ravel() for a in arrays if a is not None and np.size(a)]
    if not vals:
        return None, None
    allv = np.concatenate(vals)
    allv = allv[np.isfinite(allv)]
    if not allv.size:
        return None, None
    lo, hi = np.percentile(allv, percentiles)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def comparison_titles(summaries: Sequence[RegionSummary | None], unit: str = "eV", *,
                      names: Sequence[str | None] | None = None,
                      slots: Sequence[str] = ("grain 1", "grain 2"),
                      fwhm_deconvolved: Sequence[float] | None = None) -> list[str]:
    """Subplot titles of the comparison: each grain's name with its mean and FWHM.

    ``names`` name the grains of the two slots; by default they are the study's grain 1 and
    grain 2 with their labels (:func:`grain_name`). An empty slot reads ``"<slot>: —"``
    after ``slots``. The FWHM says which it is: ``"as measured"`` (the statistics'), or,
    given ``fwhm_deconvolved`` (one per slot), that one ``"noise-deconvolved"`` with the
    measured one beside it.
    """
    names = list(names) if names is not None else [None, None]
    titles = []
    for k, s in enumerate(summaries):
        if s is None:
            titles.append(f"{slots[k]}: —")
            continue
        name = names[k] if k < len(names) and names[k] else grain_name(s.label, k)
        dec = None if fwhm_deconvolved is None else float(fwhm_deconvolved[k])
        # one short line each: a title wider than its panel runs into the next one
        if dec is not None and np.isfinite(dec):
            width = f"FWHM {dec:.2f} {unit} noise-deconvolved<br>({s.fwhm:.2f} {unit} as measured)"
        else:
            width = f"FWHM {s.fwhm:.2f} {unit} as measured"
        titles.append(f"{name}<br>mean {s.mean:.2f} {unit}<br>{width}")
    return titles + ["distributions (as measured)"]


def equal_boxes(*vertices_um: np.ndarray | None, pad: float = 0.05) -> list[dict | None]:
    """Scene axis ranges (µm) of one size for several meshes: each box centred on its mesh,
    every side the largest extent of any of them (+ ``pad``), so two grains compare at one
    scale. ``vertices_um`` as :func:`grain_closed_surface` returns them ``(z, y, x)``; None
    stays None.

    >>> import numpy as np
    >>> a = np.array([[0, 0, 0], [1, 2, 1]], float); b = np.array([[5, 5, 5], [5.5, 5.5, 6]], float)
    >>> [box["xaxis"]["range"] for box in equal_boxes(a, b, pad=0)]
    [[-0.5, 1.5], [4.5, 6.5]]
    """
    spans = [np.ptp(np.asarray(v, float), axis=0) for v in vertices_um if v is not None and len(v)]
    if not spans:
        return [None] * len(vertices_um)
    half = float(np.max(spans)) * (1 + pad) / 2
    boxes: list[dict | None] = []
    for v in vertices_um:
        if v is None or not len(v):
            boxes.append(None)
            continue
        v = np.asarray(v, float)
        centre = (v.min(axis=0) + v.max(axis=0)) / 2
        # plotly's x, y, z are the array axes 2, 1, 0
        boxes.append({f"{a}axis": dict(range=[float(centre[i] - half), float(centre[i] + half)], autorange=False)
                      for a, i in (("x", 2), ("y", 1), ("z", 0))})
    return boxes


def comparison_figure(
    grains: Sequence[tuple[RegionSummary, np.ndarray, np.ndarray, np.ndarray | None] | None] = (None, None),
    *,
    cmin: float | None = None,
    cmax: float | None = None,
    value_label: str = "edge energy (eV)",
    unit: str = "eV",
    title: str | None = "Two grains (as in Fig. S3)",
    height: int = 420,
    width: int | None = None,
    names: Sequence[str | None] | None = None,
    slots: Sequence[str] = ("grain 1", "grain 2"),
    fwhm_deconvolved: Sequence[float] | None = None,
) -> go.Figure:
    """Side-by-side comparison of two grains, as in the study's Fig. S3.

    Parameters
    ----------
    grains : two items, each ``(summary, vertices_um, faces, vertex_values)`` or None
        Each grain's statistics (:class:`RegionSummary`) and its closed surface from
        :func:`grain_closed_surface` (coloured voxel by voxel when ``vertex_values`` is
        given, else in its selection colour). None leaves the slot empty.
    cmin, cmax : float, optional
        Shared colour range of the two morphologies (default: both grains' 2–98 % range).
    names : two str or None, optional
        The grains' names in titles, legend and hover; by default the study's grain 1 and
        grain 2 with their labels (``"grain 1 (#391)"``): give others for grains that are
        not the study's designated ones (``"grain #1311"``).
    slots : two str
        What an empty slot's title calls it.
    fwhm_deconvolved : two floats, optional
        The grains' noise-deconvolved FWHM (``GrainChemistry.fwhm_deconvolved_ev``): the
        titles give it, marked so, with the measured one beside it (the distributions, of
        the measured voxels, mark the measured one).

    The two 3D panels show boxes of one size (:func:`equal_boxes`): a grain twice as large
    looks twice as large.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 and 1: the two grains in 3D (scenes 1 and 2); traces 2–7: the two
        distributions with their means and FWHMs (see :func:`histogram_traces`).
    """
    if len(grains) != 2:
        raise InputError(f"comparison_figure takes two grains (or None); got {len(grains)}")
    if cmin is None or cmax is None:
        lo, hi = shared_range(*[g[3] for g in grains if g is not None])
        cmin = lo if cmin is None else cmin
        cmax = hi if cmax is None else cmax
    summaries = [g[0] if g is not None else None for g in grains]
    names = list(names) if names is not None else [None, None]
    fig = make_subplots(
        rows=1, cols=3, specs=[[{"type": "scene"}, {"type": "scene"}, {"type": "xy"}]],
        subplot_titles=comparison_titles(summaries, unit, names=names, slots=slots,
                                         fwhm_deconvolved=fwhm_deconvolved),
    )
    style.apply(fig, title)
    for k, g in enumerate(grains):
        fig.add_trace(go.Mesh3d(**comparison_mesh(g, slot=k, name=names[k])), row=1, col=k + 1)
    # a long name ("grain 1 (segmented #391 ↔ true #1398)") on two lines in the narrow legend
    legend_names = [n.replace(" (", "<br>(", 1) if n and len(n) > 24 else n for n in names]
    for k, s in enumerate(summaries):
        for props in histogram_traces(s, color=SELECTION_COLORS[k % 2], value_label=value_label, slot=k, unit=unit,
                                      name=legend_names[k]):
            fig.add_trace(go.Scatter(**{key: v for key, v in props.items() if key != "type"}), row=1, col=3)
    # small scenes: the camera further out and fewer, smaller tick labels, so the axis
    # titles and ticks (drawn outside the box) stay inside each scene's viewport
    small = dict(distance=1.35, nticks=3, lift=0.15, shift=0.1)
    (a0, a1), (b0, b1), (h0, h1) = _COMPARISON_COLUMNS
    fig.update_layout(
        scene=dict(_scene(**small), domain=dict(x=[a0, a1], y=[_COMPARISON_SCENE_BOTTOM, 1.0])),
        scene2=dict(_scene(**small), domain=dict(x=[b0, b1], y=[_COMPARISON_SCENE_BOTTOM, 1.0])),
        coloraxis=comparison_coloraxis(cmin, cmax, value_label),
    )
    # one box size for both grains (a cube: a µm is a µm on every axis and in both panels)
    for key, box in zip(("scene", "scene2"), equal_boxes(*[g[1] if g is not None else None for g in grains])):
        if box is not None:
            fig.update_layout({key: dict(box, aspectmode="cube")})
    fig.update_xaxes(domain=[h0, h1], row=1, col=3)
    # subplot titles over the panels they name
    for annotation, (c0, c1) in zip(fig.layout.annotations, _COMPARISON_COLUMNS):
        annotation.x = (c0 + c1) / 2
        annotation.font.size = 13
    xr = _x_range(summaries)
    fig.update_xaxes(title_text=value_label, row=1, col=3, **({"range": xr} if xr else {}))
    densities = [s.density for s in summaries if s is not None and s.density.size]
    top = max((float(d.max()) for d in densities), default=0.0) * 1.05
    fig.update_yaxes(title_text="probability (1/eV)" if unit == "eV" else "probability", row=1, col=3,
                     tickformat=style.tick_format(0.0, top) if top > 0 else None)
    fig.update_layout(height=height, width=width,
                      legend=dict(x=_COMPARISON_LEGEND_X, xanchor="right", y=1.0, yanchor="top", tracegroupgap=12,
                                  font=dict(size=_COMPARISON_LEGEND_FONT)),
                      # room above the panels for their titles (3 or 4 lines) and the figure's
                      margin=dict(l=10, r=10, t=(150 if fwhm_deconvolved is not None else 130) - (0 if title else 40),
                                  b=50))
    return fig
