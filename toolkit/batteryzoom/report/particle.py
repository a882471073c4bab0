"""The report's particle scale: ``bz.segment.particle_structure`` turned into findings and figures.

Primary grains, and the cracks and pores of one particle (scored against the twin's truth);
the grains are also carried onto the XANES grid for the grain scale.
"""

from __future__ import annotations

from ._levels import level_figure
from .results import Collector
from .sources import Source

__all__ = ["run", "grains_on_xanes_grid"]

# a XANES voxel whose nano-CT sub-voxels are < 75 % one grain mixes two grains' spectra
# (zoom.Hierarchy.regrid_labels); left out of the per-grain statistics
GRAIN_MIN_PURITY = 0.75


def grains_on_xanes_grid(source: Source, labels) -> dict:
    """The particle's grain labels carried onto the XANES grid, for the per-grain chemistry:
    ``grain_labels_xanes`` and ``grain_labels_xanes_pure`` (without the XANES voxels whose
    spectrum mixes two grains); empty when the dataset does not nest the XANES level in
    the particle's."""
    h, name, xname = source.hierarchy(), source.level("particle"), source.level("grain")
    if h is None or name not in h or xname not in h or name not in h.path(xname):
        return {}
    return {"grain_labels_xanes": h.regrid_labels(labels, name, xname),
            "grain_labels_xanes_pure": h.regrid_labels(labels, name, xname, min_purity=GRAIN_MIN_PURITY)}


def run(source: Source, s: Collector, ctx: dict) -> None:
    """Findings, figures and text of the particle scale into ``s``; the grains on the XANES
    grid into ``ctx`` (``grain_labels_xanes``, ``grain_labels_xanes_pure``)."""
    import numpy as np

    from ..plots import particle as pp
    from ..segment import particle_structure

    d = source.load("particle")
    vol = d["volume"]
    res = particle_structure(vol, truth=source.truth("particle") or None)
    c, t = res.census, res.truth
    s.finding("primary grains", c.n_grains, "", None if t is None else t.n_grains)
    s.finding("median grain equivalent diameter", c.median_diameter_um, "µm",
              None if t is None else t.median_diameter_um, fmt=".2f")
    if res.ari is not None:
        s.finding("grain segmentation vs truth (adjusted Rand index)", res.ari, "", fmt=".3f",
                  note="1 = identical partitions; over the truth's solid voxels")
        s.values["ari"] = res.ari
    s.finding("crack and pore volume in the particle", 100 * c.void_fraction, "%",
              None if t is None else 100 * t.void_fraction, fmt=".1f")
    labels = res.grains.labels
    s.figure("particle_grains", pp.grain_slice(vol, labels, title="Particle nano-CT: segmented primary grains"),
             "A slice of the particle's nano-tomogram with the segmented primary grains outlined; cracks and pores "
             "are the dark seams and holes between and inside them.")
    fig = level_figure(source, "particle", vol, "Particle nano-CT slice and the XANES field of view")
    if fig is not None:
        s.figure("particle_zoom", fig, "A slice of the particle's nano-tomogram with the 3D XANES field of view.")
    ctx.update(grains_on_xanes_grid(source, labels))
    s.values.update(n_grains=c.n_grains, void_fraction=c.void_fraction)
    if "centre_px" in vol.attrs:  # reconstructed here: where the axis was found
        s.values["route"] = f"{source.route('particle')[:-1]}; axis at {float(np.mean(vol.attrs['centre_px'])):.2f} px)"
    s.values["summary"] = (
        f"{c.n_grains} primary grains (median {c.median_diameter_um:.2f} µm); cracks and pores "
        f"{100 * c.void_fraction:.1f} % of the particle's volume"
    )
    s.text.append(
        f"One particle at {1000 * float(np.mean(res.grains.params['voxel_size_um'])):.0f} nm: {c.n_grains} primary "
        f"grains (median {c.median_diameter_um:.2f} µm) separated by boundaries along which intergranular "
        f"cracks open; with the internal pores they take {100 * c.void_fraction:.1f} % of the particle's volume.")
