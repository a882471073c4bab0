"""Grains from a chemical map: supervoxels of similar edge energy merged while their means
are statistically indistinguishable (chemical domains)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import ndimage

from ..errors import InputError
from . import _common as c
from .grains import GrainSegmentation, grain_table

__all__ = ["segment_grains_chemical"]


def _smoothed(energy: np.ndarray, mask: np.ndarray, voxel: tuple, smooth_um: float) -> np.ndarray:
    """The map inside ``mask`` (0 outside), smoothed by a normalized Gaussian of
    ``smooth_um`` when it is positive (outside voxels neither spread nor pull)."""
    filled = np.where(mask, energy, 0.0)
    if smooth_um <= 0:
        return filled
    sigma = [smooth_um / v for v in voxel]
    weight = ndimage.gaussian_filter(mask.astype(np.float64), sigma)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask, ndimage.gaussian_filter(filled, sigma) / weight, 0.0)


def _noise_sigma(energy: np.ndarray, mask: np.ndarray) -> float:
    """The voxel noise, from differences between neighbouring voxels of the particle (robust:
    median absolute difference / 0.6745 / sqrt 2); grain boundaries barely move a median."""
    diffs = []
    for axis in range(3):
        e = np.moveaxis(np.where(mask, energy, np.nan), axis, 0)
        d = (e[1:] - e[:-1]).ravel()
        diffs.append(d[np.isfinite(d)])
    d = np.concatenate(diffs)
    return float(np.median(np.abs(d)) / 0.6745 / np.sqrt(2)) if d.size else 0.0


def _merge_supervoxels(sv: np.ndarray, total: np.ndarray, count: np.ndarray, sigma_ev: float,
                       merge_z: float) -> np.ndarray:
    """Neighbouring supervoxels merged, most similar first, while ``|m_a - m_b|`` over its
    standard error ``σ sqrt(1/n_a + 1/n_b)`` is below ``merge_z`` (scikit-image's
    ``merge_hierarchical`` on the region adjacency graph, statistics updated after every
    merge)."""
    from skimage.graph import RAG, merge_hierarchical

    def z_score(a: dict, b: dict) -> float:
        se = sigma_ev * np.sqrt(1 / a["count"] + 1 / b["count"])
        return abs(a["mean"] - b["mean"]) / se if se > 0 else np.inf

    rag = RAG()
    for l in range(1, len(count)):
        if count[l] > 0:
            rag.add_node(l, labels=[l], total=total[l], count=count[l], mean=total[l] / count[l])
    for axis in range(3):
        a = np.moveaxis(sv, axis, 0)
        lo, hi = a[:-1].ravel(), a[1:].ravel()
        keep = (lo != hi) & (lo > 0) & (hi > 0)
        pairs = np.unique(np.column_stack([np.minimum(lo[keep], hi[keep]), np.maximum(lo[keep], hi[keep])]), axis=0)
        for u, v in pairs:
            rag.add_edge(int(u), int(v), weight=z_score(rag.nodes[u], rag.nodes[v]))

    def weight_func(graph, src, dst, nbr):
        return {"weight": z_score(graph.nodes[dst], graph.nodes[nbr])}

    def merge_func(graph, src, dst):
        node, other = graph.nodes[dst], graph.nodes[src]
        for key in ("total", "count"):
            node[key] += other[key]
        node["mean"] = node["total"] / node["count"]

    return merge_hierarchical(sv, rag, thresh=merge_z, rag_copy=False, in_place_merge=True,
                              merge_func=merge_func, weight_func=weight_func)


def segment_grains_chemical(
    edge_energy_ev: Any,
    particle: Any = None,
    *,
    voxel_size_um: Any = None,
    supervoxel_um: float = 0.6,
    compactness: float = 0.2,
    merge_z: float = 3.0,
    smooth_um: float = 0.0,
) -> GrainSegmentation:
    """Segment grains from a chemical map (e.g. per-voxel Ni K-edge energy).

    Grains differ in oxidation state, so a map of edge energy shows them as patches of
    similar value. 1) optionally, the map is smoothed inside the particle (normalized
    Gaussian convolution, ``smooth_um``; off by default: SLIC averages within supervoxels
    already); 2) SLIC supervoxels (scikit-image,
    on the energy values, with the real spacing) of about ``supervoxel_um`` across;
    3) neighbouring supervoxels are merged hierarchically, most similar first, while their
    mean edge energies are statistically indistinguishable: the difference of the means
    (of the raw values) over its standard error, ``|m_a - m_b| / (σ sqrt(1/n_a + 1/n_b))``,
    is below ``merge_z``; σ is the voxel noise, estimated robustly from differences
    between neighbouring voxels.
    scikit-image's ``merge_hierarchical`` on the region adjacency graph does the merging,
    statistics updated after every merge. A plain threshold on the difference of means
    would chain neighbouring grains of similar chemistry across the whole particle; the
    standard error shrinks as regions grow, so merging stops at real chemical contrasts.

    Parameters
    ----------
    edge_energy_ev : DataArray or array, (z, y, x)
        The chemical map (eV); NaN outside the particle or where no edge was found.
    particle : bool array, optional
        Default: the finite voxels of the map.
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Default: the map's; an unknown size raises (``"px"``: µm parameters in voxels).
    supervoxel_um, compactness, merge_z, smooth_um
        See above. ``compactness`` weighs space against energy (eV per µm of SLIC's
        normalised distance): small values follow the chemistry.

    Returns
    -------
    GrainSegmentation
        ``boundary`` is None; ``params["n_supervoxels"]`` records the SLIC count.

    Notes
    -----
    This finds *chemical domains*: neighbouring grains whose edge energies agree within the
    noise become one domain. On the twin's XANES truth map (0.16 µm voxels, grains ≈ 4
    voxels across, grain means spread by ~0.5 eV) the domains match the crystallographic
    grains with an adjusted Rand index of only ≈ 0.33; where grains differ clearly (≥ 0.5 eV
    between neighbours, several voxels across) it recovers them (ARI > 0.9, see the
    tests). Use :func:`segment_grains` on a nano-tomogram for the grains themselves.
    """
    from skimage.segmentation import slic

    energy = c.array(edge_energy_ev, "edge_energy_ev").astype(np.float64)
    frame = c.volume_frame(edge_energy_ev, voxel_size_um, "edge_energy_ev")
    voxel = frame.voxel_size_um
    supervoxel_um = c.length("supervoxel_um", supervoxel_um)
    smooth_um = c.length("smooth_um", smooth_um, zero_ok=True)
    if not (np.isfinite(compactness) and compactness > 0):
        raise InputError(f"compactness={compactness!r}: give a positive weight (eV per µm), e.g. 0.2")
    if not (np.isfinite(merge_z) and merge_z >= 0):
        raise InputError(f"merge_z={merge_z!r}: give a z-score ≥ 0 (0 merges nothing), e.g. 3")
    finite = np.isfinite(energy)
    if particle is None:
        mask = finite
    else:
        mask = c.mask(particle, "particle")
        if mask.shape != energy.shape:
            raise InputError(f"particle: shape {mask.shape} differs from the map's {energy.shape}")
        mask = mask & finite
    if not mask.any():
        raise InputError("edge_energy_ev: no finite value inside the particle; nothing to segment")
    n_segments = max(1, int(mask.sum() * np.prod(voxel) / supervoxel_um**3))
    with warnings.catch_warnings():
        # SLIC's internal per-segment means divide by zero for centres that lost their voxels
        warnings.filterwarnings("ignore", "invalid value encountered in divide", RuntimeWarning)
        sv = slic(_smoothed(energy, mask, voxel, smooth_um), n_segments=n_segments, compactness=compactness,
                  spacing=voxel, mask=mask, channel_axis=None, start_label=1, enforce_connectivity=True).astype(np.int64)
    n = int(sv.max()) + 1
    # region statistics from the raw (unsmoothed) values: independent noise, honest errors
    raw = np.where(mask, energy, 0.0).ravel()
    total = np.bincount(sv.ravel(), weights=raw, minlength=n)
    count = np.bincount(sv.ravel(), minlength=n).astype(float)
    sigma_ev = _noise_sigma(energy, mask)
    merged = np.where(mask, _merge_supervoxels(sv, total, count, sigma_ev, merge_z) + 1, 0)
    # relabel 1..n
    _, inverse = np.unique(merged, return_inverse=True)
    labels = inverse.reshape(merged.shape).astype(np.int32)
    if not (merged == 0).any():  # 0 (outside) sorts first when present
        labels += 1
    labels = c.like(labels, edge_energy_ev, frame, "grains", units="label",
                    description="grains segmented from the chemical map")
    table = grain_table(labels, mask, voxel_size_um=c.size_arg(frame))
    params = {"supervoxel_um": supervoxel_um, "compactness": compactness, "merge_z": merge_z,
              "n_supervoxels": int((count[1:] > 0).sum()), "noise_sigma_ev": sigma_ev,
              "voxel_size_um": list(voxel) if frame.known else "px",
              "method": "SLIC supervoxels merged by edge-energy similarity"}
    table.attrs.update(params)
    return GrainSegmentation(
        labels=labels,
        table=table,
        particle=c.like(mask, edge_energy_ev, frame, "particle", units="mask", description="particle mask"),
        boundary=None,
        params=params,
    )
