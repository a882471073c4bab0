"""One pipeline per scale: what the report and the notebooks compute at the electrode
scale (:func:`electrode_damage`) and at the particle scale (:func:`particle_structure`),
in one place, so a number printed in a notebook and in the report comes from one call.

Each returns a result object holding the segmentations, the tables and the numbers; with
the twin's ground truth (``truth=``, the parts ``bz.data.load("twin/...", part=...)``
gives) the same numbers are computed from the truth the same way, side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from . import _common as c
from .cracks import crack_analysis, damage_depth_profile
from .grains import GrainSegmentation, adjusted_rand_index, segment_grains
from .particles import ParticleSegmentation, segment_particles
from .phases import classify_phases, porosity

__all__ = ["DamageCensus", "ElectrodeDamage", "electrode_damage", "GrainCensus", "ParticleStructure",
           "particle_structure"]

#: damage classes counted as cracked
CRACKED = ("mild", "severe")
# columns a particle table needs for a census (segment_particles' table, the twin's truth)
_CENSUS_COLUMNS = ("volume_um3", "equivalent_diameter_um", "border", "crack_fraction", "damage_class",
                   "depth_from_separator_um")


def _truth(truth: Mapping | None, needed: tuple[str, ...], scale: str) -> Mapping | None:
    """``truth`` when it holds ``needed`` (None when None or empty); else an InputError."""
    if truth is None or len(truth) == 0:
        return None
    if not isinstance(truth, Mapping):
        raise InputError(f"truth: expected a mapping of part names to data (e.g. {{'{needed[0]}': ...}}), "
                         f"got {type(truth).__name__}")
    missing = [k for k in needed if truth.get(k) is None]
    if missing:
        raise InputError(f"truth: no {missing}; the {scale} scale's truth needs {list(needed)} (the twin's parts: "
                         f"bz.data.load(name, part=...)), or pass truth=None")
    return truth


def _no_px(voxel_size_um: Any, pipeline: str) -> None:
    if isinstance(voxel_size_um, str):
        raise InputError(f"voxel_size_um={voxel_size_um!r}: {pipeline} reports lengths in µm; give the voxel size "
                         "in µm, or run its steps (bz.segment.segment_particles, ...) with voxel_size_um='px'")


# --------------------------------------------------------------------------- electrode


@dataclass(frozen=True)
class DamageCensus:
    """Counts, size and damage of a table of electrode particles (measured or true).

    Attributes
    ----------
    n_particles : int
        Particles, including those cut by the volume's faces.
    n_interior : int
        Particles not cut by the faces (the damage numbers count only these).
    median_diameter_um : float
        Median equivalent diameter of all particles (µm).
    cracked_fraction : float
        Share of interior particles that are mildly or severely cracked (0–1).
    profile : DataFrame
        :func:`damage_depth_profile` against the depth from the separator, in
        ``n_bins`` bins (thirds by default); first row nearest the separator.
    cracked_near_separator, cracked_near_collector : float
        Share of cracked particles in the first and the last depth bin (0–1).
    depth_rank_correlation : float
        Spearman rank correlation of crack fraction with depth from the separator over the
        interior particles (negative: more cracking near the separator; NaN when either is
        constant).
    """

    n_particles: int
    n_interior: int
    median_diameter_um: float
    cracked_fraction: float
    profile: pd.DataFrame
    cracked_near_separator: float
    cracked_near_collector: float
    depth_rank_correlation: float

    @classmethod
    def of(cls, table: pd.DataFrame, n_bins: int = 3) -> DamageCensus:
        """The census of a particle table (``segment_particles(...).table`` or the twin's
        ``particle_table``), with the damage profile in ``n_bins`` depth bins."""
        from scipy import stats

        if not isinstance(table, pd.DataFrame):
            raise InputError(f"table: expected a particle table (DataFrame), got {type(table).__name__}")
        missing = [col for col in _CENSUS_COLUMNS if col not in table.columns]
        if missing:
            raise InputError(f"table: no column(s) {missing}; use segment_particles' table (with cracks) measured "
                             "in µm, or the twin's particle_table")
        interior = table[~table["border"]]
        profile = damage_depth_profile(table, depth_column="depth_from_separator_um", n_bins=n_bins)
        cracked = profile["fraction_mild"] + profile["fraction_severe"]
        depth, crack = interior["depth_from_separator_um"], interior["crack_fraction"]
        # undefined for a constant column (no crack anywhere): NaN, without scipy's warning
        varies = len(interior) > 1 and depth.nunique() > 1 and crack.nunique() > 1
        rho = stats.spearmanr(depth, crack).statistic if varies else np.nan
        return cls(n_particles=len(table), n_interior=len(interior),
                   median_diameter_um=float(table["equivalent_diameter_um"].median()),
                   cracked_fraction=float(interior["damage_class"].isin(CRACKED).mean()), profile=profile,
                   cracked_near_separator=float(cracked.iloc[0]), cracked_near_collector=float(cracked.iloc[-1]),
                   depth_rank_correlation=float(rho))


@dataclass(frozen=True)
class ElectrodeDamage:
    """Result of :func:`electrode_damage`.

    Attributes
    ----------
    particles : ParticleSegmentation
        The segmented particles (labels, table with cracks, solid, parameters).
    phases : DataArray or array, uint8, (z, y, x)
        The phase map (:func:`classify_phases`; the input itself when phase-labelled).
    thickness_axis : str
        The through-thickness axis.
    coating_um : (float, float)
        The coating's extent along ``thickness_axis`` (low, high; µm, the volume's
        coordinates), between the collector and the separator faces.
    porosity : float
        Pore fraction of the coating (0–1).
    census : DamageCensus
        Counts, size and damage against depth of the segmented particles.
    truth : DamageCensus or None
        The same of the true particles (the twin's), counting those of at least the
        segmentation's ``min_volume_um3``.
    truth_porosity : float or None
        Pore fraction of the coating in the true phase map.
    """

    particles: ParticleSegmentation
    phases: Any
    thickness_axis: str
    coating_um: tuple[float, float]
    porosity: float
    census: DamageCensus
    truth: DamageCensus | None = None
    truth_porosity: float | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The particle table (:attr:`ParticleSegmentation.table`)."""
        return self.particles.table

    @property
    def interior(self) -> pd.DataFrame:
        """The particles not cut by the volume's faces."""
        return self.table[~self.table["border"]]

    def summary(self) -> pd.DataFrame:
        """The numbers, one row each: ``quantity``, ``value``, ``truth`` (NaN without
        truth), ``unit`` (shares in %)."""
        rows = [("particles (including those cut by the faces)", "n_particles", 1, ""),
                ("particles not cut by the faces", "n_interior", 1, ""),
                ("median equivalent diameter", "median_diameter_um", 1, "µm"),
                ("cracked particles (mild or severe)", "cracked_fraction", 100, "%"),
                ("cracked particles in the third nearest the separator", "cracked_near_separator", 100, "%"),
                ("cracked particles in the third nearest the collector", "cracked_near_collector", 100, "%"),
                ("rank correlation of crack fraction with depth from the separator", "depth_rank_correlation", 1, "")]
        out = [(q, scale * getattr(self.census, key), np.nan if self.truth is None else scale * getattr(self.truth, key),
                unit) for q, key, scale, unit in rows]
        por = (np.nan if self.truth_porosity is None else 100 * self.truth_porosity)
        out.insert(3, ("porosity of the coating", 100 * self.porosity, por, "%"))
        return pd.DataFrame(out, columns=["quantity", "value", "truth", "unit"])


def _slab(shape: tuple, axis: int, keep: np.ndarray) -> np.ndarray:
    """A boolean mask of ``shape`` that is ``keep`` along ``axis`` (a slab), as a view."""
    view = [1, 1, 1]
    view[axis] = len(keep)
    return np.broadcast_to(np.asarray(keep).reshape(view), shape)


def electrode_damage(
    volume: Any,
    *,
    thickness_axis: str = "x",
    collector_side: str = "low",
    voxel_size_um: Any = None,
    truth: Mapping | None = None,
    progress_bar: bool | None = None,
) -> ElectrodeDamage:
    """The electrode scale: particles, porosity of the coating, cracks and damage vs depth.

    1. :func:`segment_particles` (default parameters): particles, their crack fractions
       and damage classes, and the coating's faces (:func:`find_coating` on the solid);
    2. the phase map (:func:`classify_phases`, three phases; a phase-labelled input is
       used as it is) and its porosity between the collector and the separator;
    3. the census of the particle table (:class:`DamageCensus`): counts, median size,
       share of cracked particles, damage by thirds of depth from the separator and its
       rank correlation with depth.

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Electrode CT: grey levels (float) or phase codes (integer, 0 = pore).
    thickness_axis : {"z", "y", "x"}
        Through-thickness axis of the electrode.
    collector_side : {"low", "high"}
        The end of ``thickness_axis`` where the current collector is.
    voxel_size_um : float or (dz, dy, dx), optional
        Default: the DataArray's. Must be known (µm): the pipeline reports µm.
    truth : mapping, optional
        Ground truth by the twin's part names: ``"particle_table"`` (one row per true
        particle, with the columns of segment_particles' table) and ``"phases"`` (the true
        phase map, (z, y, x)), e.g. ``{part: bz.data.load("twin/electrode-ct", part=part)
        for part in ("particle_table", "phases")}``. Other keys are ignored.
    progress_bar : bool, optional
        Show progress of the per-particle measurements.

    Returns
    -------
    ElectrodeDamage

    Examples
    --------
    A corner of the twin's electrode CT (0.5 µm voxels; collector at low x):

    >>> import batteryzoom as bz
    >>> grey = bz.data.load("twin/electrode-ct")[:48, :48, :]
    >>> res = bz.segment.electrode_damage(grey)
    >>> lo, hi = res.coating_um
    >>> print(f"coating {lo:.2f}-{hi:.2f} µm, porosity {res.porosity:.2f}, "
    ...       f"{res.census.n_particles} particles")
    coating 10.75-69.75 µm, porosity 0.32, 41 particles
    """
    _no_px(voxel_size_um, "electrode_damage")
    truth = _truth(truth, ("particle_table", "phases"), "electrode")
    seg = segment_particles(volume, voxel_size_um=voxel_size_um, thickness_axis=thickness_axis,
                            collector_side=collector_side, progress_bar=progress_bar)
    frame = c.volume_frame(volume, voxel_size_um, "volume")
    ax = c.axis_index(thickness_axis)
    phases = volume if np.issubdtype(volume.dtype, np.integer) else classify_phases(volume, voxel_size_um=voxel_size_um)
    lo, hi = sorted((seg.params["collector_um"], seg.params["separator_um"]))
    positions = c.axis_positions(volume, frame, ax)
    region = _slab(tuple(np.shape(volume)), ax, (positions >= lo) & (positions < hi))
    census = DamageCensus.of(seg.table)
    t_census = t_porosity = None
    if truth is not None:
        t_tab = truth["particle_table"]
        if isinstance(t_tab, pd.DataFrame) and "volume_um3" in t_tab.columns:
            # the particles the segmentation could count (it drops those under min_volume_um3)
            t_tab = t_tab[t_tab["volume_um3"] >= seg.params["min_volume_um3"]]
        t_census = DamageCensus.of(t_tab)
        c.same_shape(truth["phases"], "truth['phases']", region, "the volume")
        t_porosity = porosity(truth["phases"], region=region)
    return ElectrodeDamage(particles=seg, phases=phases, thickness_axis=c.AXES[ax], coating_um=(float(lo), float(hi)),
                           porosity=porosity(phases, region=region), census=census, truth=t_census,
                           truth_porosity=t_porosity)


# --------------------------------------------------------------------------- particle


@dataclass(frozen=True)
class GrainCensus:
    """Grains and voids of one particle (measured or true).

    Attributes
    ----------
    n_grains : int
        Primary grains.
    median_diameter_um : float
        Median grain equivalent diameter (µm).
    void_fraction : float
        Cracks and pores over the particle's volume (0–1).
    """

    n_grains: int
    median_diameter_um: float
    void_fraction: float


@dataclass(frozen=True)
class ParticleStructure:
    """Result of :func:`particle_structure`.

    Attributes
    ----------
    grains : GrainSegmentation
        The segmented primary grains (labels, table, particle mask, boundary map).
    phases : DataArray, uint8, (z, y, x)
        Two-phase map (0 void, 1 solid) the voids are measured in.
    voids : DataFrame
        :func:`crack_analysis` of the particle (one row; ``crack_fraction`` is the void
        fraction).
    census : GrainCensus
        Grains and voids measured.
    truth : GrainCensus or None
        The same from the twin's truth.
    ari : float or None
        Adjusted Rand index of the grains against the true grains, over the truth's solid
        voxels (1 = identical partitions).
    """

    grains: GrainSegmentation
    phases: xr.DataArray
    voids: pd.DataFrame
    census: GrainCensus
    truth: GrainCensus | None = None
    ari: float | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The grain table (:attr:`GrainSegmentation.table`)."""
        return self.grains.table

    def summary(self) -> pd.DataFrame:
        """The numbers, one row each: ``quantity``, ``value``, ``truth`` (NaN without
        truth), ``unit`` (shares in %)."""
        t = self.truth
        rows = [("primary grains", self.census.n_grains, np.nan if t is None else t.n_grains, ""),
                ("median grain equivalent diameter", self.census.median_diameter_um,
                 np.nan if t is None else t.median_diameter_um, "µm"),
                ("grain segmentation vs truth (adjusted Rand index)", np.nan if self.ari is None else self.ari,
                 np.nan, ""),
                ("crack and pore volume in the particle", 100 * self.census.void_fraction,
                 np.nan if t is None else 100 * t.void_fraction, "%")]
        return pd.DataFrame(rows, columns=["quantity", "value", "truth", "unit"])


def particle_structure(
    volume: Any,
    *,
    voxel_size_um: Any = None,
    truth: Mapping | None = None,
) -> ParticleStructure:
    """The particle scale: primary grains, and the cracks and pores of one particle.

    1. :func:`segment_grains` (default parameters): the particle mask and its grains;
    2. the voids: the dark voxels of a two-phase :func:`classify_phases` inside the
       particle mask, measured by :func:`crack_analysis` with a 0.25 µm closing;
    3. with truth: the grains scored by :func:`adjusted_rand_index` over the truth's
       solid voxels, and the true grain count, size and void fraction.

    Parameters
    ----------
    volume : DataArray or array, (z, y, x)
        Particle nano-CT, grey levels (bright solid).
    voxel_size_um : float or (dz, dy, dx), optional
        Default: the DataArray's. Must be known (µm): the pipeline reports µm.
    truth : mapping, optional
        Ground truth by the twin's part names: ``"grain_table"`` (one row per true grain,
        ``equivalent_diameter_um``), ``"grains"`` (true grain labels), ``"cracks"`` and
        ``"pores"`` (bool masks), all (z, y, x) of the volume's shape, e.g.
        ``{part: bz.data.load("twin/particle-nanoct", part=part) for part in
        ("grain_table", "grains", "cracks", "pores")}``. Other keys are ignored.

    Returns
    -------
    ParticleStructure

    Examples
    --------
    A block of 3 × 3 × 3 grains (8 voxels of 0.1 µm apart, darker boundaries) with a pore
    of 4³ voxels, in a dark margin:

    >>> import numpy as np
    >>> from batteryzoom import segment
    >>> idx = np.indices((24, 24, 24))
    >>> grey = np.pad(np.where((idx % 8 == 0).any(axis=0), 0.5, 1.0), 4).astype(np.float32)
    >>> grey[14:18, 14:18, 14:18] = 0.0
    >>> res = segment.particle_structure(grey, voxel_size_um=0.1)
    >>> res.census.n_grains, round(100 * res.census.void_fraction, 2)
    (27, 0.47)
    """
    _no_px(voxel_size_um, "particle_structure")
    truth = _truth(truth, ("grain_table", "grains", "cracks", "pores"), "particle")
    res = segment_grains(volume, voxel_size_um=voxel_size_um)
    phases = classify_phases(volume, n_phases=2, voxel_size_um=voxel_size_um)
    particle = res.particle.values
    voids = crack_analysis(particle.astype(np.int32), (phases.values == 1) & particle,
                           voxel_size_um=res.params["voxel_size_um"], close_um=0.25)
    census = GrainCensus(n_grains=len(res.table), median_diameter_um=float(res.table["equivalent_diameter_um"].median()),
                         void_fraction=float(voids["crack_fraction"].iloc[0]))
    t_census = ari = None
    if truth is not None:
        t_lab = np.asarray(getattr(truth["grains"], "values", truth["grains"]))
        cracks = np.asarray(getattr(truth["cracks"], "values", truth["cracks"]), bool)
        pores = np.asarray(getattr(truth["pores"], "values", truth["pores"]), bool)
        for name, part in (("grains", t_lab), ("cracks", cracks), ("pores", pores)):
            c.same_shape(part, f"truth[{name!r}]", particle, "the volume")
        ari = adjusted_rand_index(t_lab, res.labels, mask=(t_lab > 0) & ~cracks & ~pores)
        inside = t_lab > 0
        t_table = truth["grain_table"]
        t_census = GrainCensus(n_grains=len(t_table), median_diameter_um=float(t_table["equivalent_diameter_um"].median()),
                               void_fraction=float(((cracks | pores) & inside).sum() / inside.sum()))
    return ParticleStructure(grains=res, phases=phases, voids=voids, census=census, truth=t_census, ari=ari)
