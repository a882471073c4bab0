"""The twin's electrode CT: an NMC532 cathode coating with depth-dependent particle cracking.

The field of view is the electrode ROI of :mod:`.frames` (64 × 64 µm laterally, 80 µm along
``x``, the through-thickness axis): the Al current collector at small ``x``
(``x < COLLECTOR_END_UM`` from the box corner), a ~60 µm coating, and the separator at
large ``x`` (``x ≥ SEPARATOR_START_UM``).

How it is built (all from ``numpy.random.default_rng(seed)``):

1. **Particles**: NMC secondary particles with log-normal diameters (median 10 µm,
   σ_ln 0.3, clipped to 4–18 µm) are packed in the coating by collective rearrangement:
   spheres start at 60 % of their size at random positions and grow while overlapping
   pairs are pushed apart (KD-tree pair search), until no pair overlaps by more than 4 %
   of the sum of radii (calendering flattens contacts). The packing domain is 10 µm wider
   than the field of view on each lateral side, so particles cut by the lateral faces are
   packed like the others. The **designated particle** of the zoom is placed first at
   :data:`.frames.PARTICLE_CENTRE_IN_ELECTRODE_UM` (diameter
   :data:`.frames.PARTICLE_DIAMETER_UM`) and never moves; it is drawn from
   :func:`.particle.particle_structure`, so the electrode shows the same particle as the
   nano-CT (its nano-cracks are sub-voxel here: partial-volume darkening only).
2. **Damage**: each particle draws a damage level from its depth ``t`` (0 at the
   collector, 1 at the separator): ``P(severe) = 0.05 + 0.45 t²``,
   ``P(mild) = 0.15 + 0.30 t``, ``P(least)`` the rest. The level sets the number, reach
   and opening of planar cracks through the core so that the crack volume fraction aims
   at a range: least 0–1.2 %, mild 3.5–7.5 %, severe 13–22 %. The truth's
   ``damage_class`` is then read from the particle's actual crack fraction on the grid
   with the documented boundaries :data:`DAMAGE_THRESHOLDS` (2 % and 10 %, the same as
   ``bz.segment.damage_class``); the drawn level is kept as ``damage_drawn``.
3. **Carbon-binder** fills the pore space where particles are close (the necks and
   crevices where the slurry's binder collects on drying): the pore voxels with the highest
   blurred solid fraction (Gaussian, 1.5 µm) until the coating's porosity is
   ``porosity`` (default 30 %).
4. **Image**: attenuation per phase (NMC 1.0 with partial volume, carbon-binder 0.25,
   pore 0.03, Al 0.35, separator 0.12), blurred (Gaussian PSF, σ 0.3 µm) with Gaussian
   noise (σ 0.05).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage
from scipy.spatial import cKDTree

from ...errors import InputError
from . import frames, particle

__all__ = [
    "electrode_ct",
    "pack_particles",
    "PHASES",
    "DAMAGE_CLASSES",
    "DAMAGE_THRESHOLDS",
    "COLLECTOR_END_UM",
    "SEPARATOR_START_UM",
]

# Along x, measured from the electrode box's min corner (µm).
COLLECTOR_END_UM = 10.0
SEPARATOR_START_UM = 70.0
# Phase codes of the "phases" part.
PHASES = {"pore": 0, "nmc": 1, "carbon_binder": 2, "current_collector": 3, "separator": 4}
DAMAGE_CLASSES = ("least", "mild", "severe")
DAMAGE_THRESHOLDS = (0.02, 0.10)  # crack-fraction boundaries least | mild | severe
# Target crack volume fraction per class (the generator aims inside these ranges).
_CRACK_FRACTION_RANGE = {"least": (0.0, 0.012), "mild": (0.035, 0.075), "severe": (0.13, 0.22)}
# X-ray attenuation relative to NMC (~4.7 g/cm³ with Ni, Co, Mn): aluminium (2.7 g/cm³, light
# element) and the carbon-binder domain (porous carbon + PVDF) absorb far less.
_GREY = {"pore": 0.03, "nmc": 1.0, "carbon_binder": 0.25, "current_collector": 0.35, "separator": 0.12}
_MIN_CRACK_WIDTH_UM = 0.5  # one voxel of the small preset: thinner cracks would be invisible
_MAX_CRACK_WIDTH_UM = 1.0
_OVERLAP = 0.04


def pack_particles(
    rng: np.random.Generator,
    solid_fraction: float = 0.60,
    median_diameter_um: float = 10.0,
    sigma_ln: float = 0.3,
    margin_um: float = 10.0,
    max_iter: int = 1500,
) -> tuple[np.ndarray, np.ndarray]:
    """Pack polydisperse spheres in the coating around the designated particle.

    Parameters
    ----------
    rng : numpy.random.Generator
    solid_fraction : float
        Sum of sphere volumes over the packing domain's volume (the coating, widened by
        ``margin_um`` laterally). Overlaps and walls make the imaged fraction a little lower.
    median_diameter_um, sigma_ln : float
        Log-normal diameter distribution (D50 and σ of ln D), clipped to 4–18 µm.
    margin_um : float
        Lateral widening of the packing domain beyond the field of view.
    max_iter : int
        Relaxation iterations at most.

    Returns
    -------
    centres_um : ndarray, (n, 3) float64
        Sphere centres (z, y, x) from the electrode box's min corner; row 0 is the
        designated particle.
    diameters_um : ndarray, (n,) float64
    """
    size = np.asarray(frames.ELECTRODE_SIZE_UM)
    lo = np.array([-margin_um, -margin_um, COLLECTOR_END_UM])
    hi = np.array([size[0] + margin_um, size[1] + margin_um, SEPARATOR_START_UM])
    fixed = np.asarray(frames.PARTICLE_CENTRE_IN_ELECTRODE_UM, float)
    diameters = [frames.PARTICLE_DIAMETER_UM]
    total = np.pi / 6 * diameters[0] ** 3
    while total < solid_fraction * np.prod(hi - lo):
        d = float(np.clip(rng.lognormal(np.log(median_diameter_um), sigma_ln), 4.0, 18.0))
        diameters.append(d)
        total += np.pi / 6 * d**3
    d = np.asarray(diameters)
    r = d / 2
    pos = rng.uniform(lo, hi, size=(len(d), 3))
    pos[:, 2] = rng.uniform(lo[2] + r, hi[2] - r)
    pos[0] = fixed
    grow_iters = max_iter // 5
    for it in range(max_iter):
        rr = r * min(1.0, 0.6 + 0.4 * it / grow_iters)
        pairs = cKDTree(pos).query_pairs(2 * rr.max(), output_type="ndarray")
        i, j = pairs[:, 0], pairs[:, 1]
        v = pos[i] - pos[j]
        dist = np.linalg.norm(v, axis=1)
        overlap = (rr[i] + rr[j]) * (1 - _OVERLAP) - dist
        hit = overlap > 0
        if it > grow_iters and (not hit.any() or overlap[hit].max() < 0.01 * rr.min()):
            break
        i, j, v, dist, overlap = i[hit], j[hit], v[hit], dist[hit], overlap[hit]
        u = v / np.maximum(dist, 1e-9)[:, None]
        # the smaller sphere moves more (inverse-volume weights)
        share_i = rr[j] ** 3 / (rr[i] ** 3 + rr[j] ** 3)
        disp = np.zeros_like(pos)
        np.add.at(disp, i, u * (overlap * share_i)[:, None])
        np.add.at(disp, j, -u * (overlap * (1 - share_i))[:, None])
        pos += 0.6 * disp
        pos[:, 2] = np.clip(pos[:, 2], lo[2] + rr * (1 - _OVERLAP), hi[2] - rr * (1 - _OVERLAP))
        pos[:, :2] = np.clip(pos[:, :2], lo[:2], hi[:2])
        pos[0] = fixed
    return pos, d


def _damage_classes(rng: np.random.Generator, depth_fraction: np.ndarray) -> np.ndarray:
    t = np.clip(depth_fraction, 0, 1)
    p_severe = 0.05 + 0.45 * t**2
    p_mild = 0.15 + 0.30 * t
    u = rng.uniform(size=len(t))
    return np.where(u < p_severe, 2, np.where(u < p_severe + p_mild, 1, 0))


def _crack_planes(rng: np.random.Generator, radius_um: float, damage: int) -> np.ndarray:
    """Planar cracks through a particle's core: rows (nz, ny, nx, offset, half_width, reach).

    ``offset`` is the plane's distance from the centre (µm), ``reach`` the crack's extent as
    a fraction of the radius. Widths are solved from a target crack fraction ``f`` of the
    class: a disc of radius ``reach·R`` and width ``w`` holds ``π (reach R)² w`` of the
    ``4/3 π R³``, so ``w = 4 R f / (3 n reach²)``.
    """
    cls = DAMAGE_CLASSES[damage]
    if cls == "least":
        if rng.uniform() < 0.6:
            return np.zeros((0, 6))
        n, reach = 1, rng.uniform(0.2, 0.35)
        width = _MIN_CRACK_WIDTH_UM
    else:
        f = rng.uniform(*_CRACK_FRACTION_RANGE[cls])
        if cls == "mild":
            n, reach = int(rng.integers(1, 3)), rng.uniform(0.55, 0.8)
        else:
            n, reach = int(rng.integers(2, 6)), rng.uniform(0.8, 1.0)
        width = 4 * radius_um * f / (3 * n * reach**2)
        if width > _MAX_CRACK_WIDTH_UM:
            n = int(np.ceil(4 * radius_um * f / (3 * _MAX_CRACK_WIDTH_UM * reach**2)))
            width = 4 * radius_um * f / (3 * n * reach**2)
        if width < _MIN_CRACK_WIDTH_UM:
            width = _MIN_CRACK_WIDTH_UM
            reach = min(1.0, np.sqrt(4 * radius_um * f / (3 * n * width)))
    normals = rng.normal(size=(n, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    offsets = rng.uniform(-0.12, 0.12, size=n) * radius_um
    return np.column_stack([normals, offsets, np.full(n, width / 2), np.full(n, reach)])


def electrode_ct(seed: int, preset: str = "small", porosity: float = 0.30, particle_seed: int | None = None) -> dict:
    """Generate the twin's electrode CT with its ground truth (the manifest's generator).

    Parameters
    ----------
    seed : int
        Seed of the packing, damage and noise (manifest: 532). Same seed, same bytes.
    preset : {"small", "large"}
        ``small``: 128 × 128 × 160 voxels of 0.5 µm; ``large``: 0.25 µm voxels.
    porosity : float
        Target pore volume fraction of the coating (cracks count as pores), in (0, 0.5).
    particle_seed : int, optional
        Seed of the designated particle; default: the manifest's ``twin/particle-nanoct``.

    Returns
    -------
    dict
        - ``"main"``: DataArray (z, y, x) float32, attenuation (a.u.); x is through-thickness.
        - ``"phases"``: DataArray uint8, codes of :data:`PHASES`.
        - ``"particles"``: DataArray int32, particle labels (the whole particle, cracks
          included), 0 elsewhere; label 1 is the designated particle.
        - ``"cracks"``: DataArray bool, crack voxels inside particles.
        - ``"particle_table"``: DataFrame, one row per particle in the field of view:
          ``label``, ``centre_{z,y,x}_um`` (local frame), ``diameter_um`` (the sphere),
          ``volume_um3`` and ``equivalent_diameter_um`` (voxels in the field of view),
          ``crack_fraction`` (crack voxels / particle voxels), ``damage_class`` (from
          ``crack_fraction`` and :data:`DAMAGE_THRESHOLDS`), ``damage_drawn`` (the level
          the generator drew),
          ``n_cracks``, ``depth_from_collector_um``, ``depth_from_separator_um``,
          ``border`` (touches a lateral face of the volume), ``designated``.
        - ``"info"``: dict of the layer positions and achieved fractions.
    """
    # long on purpose: the generator is one recipe read top to bottom (coating, particles, cracks,
    # phases, CT blur and noise); each step uses the previous one's arrays and the truth it records
    if not 0.0 < porosity < 0.5:
        raise InputError(f"porosity={porosity}: give the coating's pore fraction in (0, 0.5), e.g. 0.30")
    level = frames.level("twin/electrode-ct", preset)
    if particle_seed is None:
        from .. import info

        particle_seed = info("twin/particle-nanoct").seed
    rng = np.random.default_rng(seed)
    voxel = np.asarray(level.voxel_size_um)
    shape = level.shape
    centres, diameters = pack_particles(rng)
    radii = diameters / 2
    coat = SEPARATOR_START_UM - COLLECTOR_END_UM
    depth_fraction = (centres[:, 2] - COLLECTOR_END_UM) / coat
    damage = _damage_classes(rng, depth_fraction)
    planes = [_crack_planes(rng, R, dmg) for R, dmg in zip(radii, damage)]

    labels = np.zeros(shape, np.int32)
    cracks = np.zeros(shape, bool)
    nmc = np.zeros(shape, np.float32)  # solid NMC fraction per voxel (partial volume)
    best = np.full(shape, np.inf, np.float32)  # normalized distance of the owning particle
    vmean = float(voxel.mean())
    designated = None
    for k, (c, R) in enumerate(zip(centres, radii)):
        lo = np.maximum(np.floor((c - R) / voxel - 0.5).astype(int), 0)
        hi = np.minimum(np.ceil((c + R) / voxel + 0.5).astype(int) + 1, shape)
        if np.any(hi <= lo):
            continue
        sub = tuple(slice(a, b) for a, b in zip(lo, hi))
        if k == 0:
            # the designated particle, sampled from the nano-CT twin's analytic structure on
            # this sub-box of the electrode grid (a child level, so frames place it)
            box = frames.Level(
                "twin/electrode-ct#designated", tuple((hi - lo).tolist()), level.voxel_size_um,
                tuple((lo * voxel).tolist()), parent=level.name, preset=level.preset,
            )
            designated = particle.particle_structure(particle_seed, box)
        # voxel centres from the box corner: (i + 1/2) v
        g = [((np.arange(a, b) + 0.5) * v - cc) for a, b, v, cc in zip(lo, hi, voxel, c)]
        rel = np.stack(np.meshgrid(*g, indexing="ij"), axis=-1)
        dist = np.linalg.norm(rel, axis=-1)
        q = (dist / R).astype(np.float32)
        own = (q <= 1) & (q < best[sub])
        if k == 0:
            solid = designated["density"]
            crack_here = designated["cracks"]
        else:
            crack_sd = np.full(dist.shape, -np.inf)
            for nz, ny, nx, off, hw, reach in planes[k]:
                along = rel @ np.array([nz, ny, nx]) - off
                sd = np.where(q < reach, hw - np.abs(along), -np.inf)
                crack_sd = np.maximum(crack_sd, sd)
            solid = particle._partial(R - dist, vmean) * (1 - particle._partial(crack_sd, vmean))
            crack_here = crack_sd >= 0
        best[sub][own] = q[own]
        labels[sub][own] = k + 1
        cracks[sub][own] = crack_here[own]
        np.maximum(nmc[sub], solid.astype(np.float32), out=nmc[sub])
    # layers along x (voxel centres from the box corner); calendering presses particles a
    # little into the foil: the collector and the separator win over the spheres' rims
    x_corner = (np.arange(shape[2]) + 0.5) * voxel[2]
    collector = x_corner < COLLECTOR_END_UM
    separator = x_corner >= SEPARATOR_START_UM
    coating = ~collector & ~separator
    labels[:, :, ~coating] = 0
    nmc[:, :, ~coating] = 0
    cracks &= labels > 0
    # the designated particle's cracks are its nano-scale ones (particle_structure)
    planes[0] = np.zeros((len(designated["defects"].crack_pairs) if designated else 0, 6))

    phases = np.zeros(shape, np.uint8)
    am = (labels > 0) & ~cracks
    phases[am] = PHASES["nmc"]
    # carbon-binder: the pore voxels (outside particles) with the highest blurred solid fraction
    blurred = ndimage.gaussian_filter(am.astype(np.float32), 1.5 / voxel)
    candidate = (labels == 0) & coating[None, None, :]
    n_coat = int(coating.sum()) * shape[0] * shape[1]
    n_cbd = int(round(n_coat * (1 - porosity))) - int(am[:, :, coating].sum())
    if n_cbd > 0:
        values = blurred[candidate]
        n_cbd = min(n_cbd, values.size)
        threshold = np.partition(values, values.size - n_cbd)[values.size - n_cbd]
        phases[candidate & (blurred >= threshold)] = PHASES["carbon_binder"]
    phases[:, :, collector] = PHASES["current_collector"]
    phases[:, :, separator] = PHASES["separator"]

    grey = _image(rng, phases, nmc, labels, voxel)
    table = _particle_table(labels, cracks, centres, diameters, damage, planes, level)
    info = {
        "collector_end_um": COLLECTOR_END_UM - voxel[2] / 2,  # in the local frame
        "separator_start_um": SEPARATOR_START_UM - voxel[2] / 2,
        "thickness_axis": "x",
        "porosity": float((phases[:, :, coating] == PHASES["pore"]).mean()),
        "carbon_binder_fraction": float((phases[:, :, coating] == PHASES["carbon_binder"]).mean()),
        "nmc_fraction": float((phases[:, :, coating] == PHASES["nmc"]).mean()),
        "phases": PHASES,
        "particle_seed": int(particle_seed),
        "n_packed": int(len(diameters)),
    }
    coords = level.coords()

    def da(values, name, units, description):
        attrs = {**level.attrs(), "units": units, "description": description}
        return xr.DataArray(values, dims=("z", "y", "x"), coords=coords, name=name, attrs=attrs)

    return {
        "main": da(grey, "electrode_ct", "attenuation (a.u.)", "twin cathode electrode CT; x through-thickness"),
        "phases": da(phases, "phases", "phase code", "true phases: " + ", ".join(f"{v} {k}" for k, v in PHASES.items())),
        "particles": da(labels, "particles", "label", "true particle labels (cracks included)"),
        "cracks": da(cracks, "cracks", "mask", "true crack voxels inside particles"),
        "particle_table": table,
        "info": info,
    }


def _image(
    rng: np.random.Generator,
    phases: np.ndarray,
    nmc: np.ndarray,
    labels: np.ndarray,
    voxel: np.ndarray,
) -> np.ndarray:
    """Attenuation image: per-phase grey levels, NMC by partial volume, PSF blur, noise."""
    base = np.zeros(len(PHASES), np.float32)
    for name, code in PHASES.items():
        base[code] = _GREY[name]
    background = base[np.where(phases == PHASES["nmc"], PHASES["pore"], phases)]
    # inside a particle, what is not NMC is crack (void); outside, the voxel's own phase
    background = np.where(labels > 0, _GREY["pore"], background).astype(np.float32)
    grey = nmc * _GREY["nmc"] + (1 - nmc) * background
    # the separator is a porous polymer: give it its fibrous texture
    sep = phases == PHASES["separator"]
    texture = ndimage.gaussian_filter(rng.normal(0, 1, size=phases.shape).astype(np.float32), 1.0 / voxel)
    grey = np.where(sep, grey + 0.08 * texture / max(float(texture.std()), 1e-12), grey)
    grey = ndimage.gaussian_filter(grey, 0.3 / voxel)
    grey += rng.normal(0.0, 0.05, size=grey.shape).astype(np.float32)
    return grey.astype(np.float32)


def _particle_table(
    labels: np.ndarray,
    cracks: np.ndarray,
    centres: np.ndarray,
    diameters: np.ndarray,
    damage: np.ndarray,
    planes: list[np.ndarray],
    level: frames.Level,
) -> pd.DataFrame:
    voxel = np.asarray(level.voxel_size_um)
    n = len(diameters) + 1
    count = np.bincount(labels.ravel(), minlength=n)
    n_crack = np.bincount(labels.ravel(), weights=cracks.ravel(), minlength=n)
    present = np.nonzero(count[1:])[0]
    lab = present + 1
    border = np.zeros(n, bool)
    for axis in (0, 1):  # lateral faces; x is bounded by the collector and the separator
        for face in (0, -1):
            border[np.unique(np.take(labels, face, axis=axis))] = True
    local = centres[present] - voxel / 2  # box corner -> local frame
    depth = centres[present, 2]
    volume = count[lab] * float(np.prod(voxel))
    return pd.DataFrame(
        {
            "label": lab.astype(np.int32),
            "centre_z_um": local[:, 0],
            "centre_y_um": local[:, 1],
            "centre_x_um": local[:, 2],
            "diameter_um": diameters[present],
            "volume_um3": volume,
            "equivalent_diameter_um": (6 * volume / np.pi) ** (1 / 3),
            "crack_fraction": n_crack[lab] / count[lab],
            "damage_class": pd.Categorical(
                np.asarray(DAMAGE_CLASSES)[np.digitize(n_crack[lab] / count[lab], DAMAGE_THRESHOLDS)],
                categories=DAMAGE_CLASSES, ordered=True),
            "damage_drawn": pd.Categorical(np.asarray(DAMAGE_CLASSES)[damage[present]], categories=DAMAGE_CLASSES,
                                           ordered=True),
            "n_cracks": np.array([len(planes[k]) for k in present], np.int32),
            "depth_from_collector_um": depth - COLLECTOR_END_UM,
            "depth_from_separator_um": SEPARATOR_START_UM - depth,
            "border": border[lab],
            "designated": lab == 1,
        }
    )
