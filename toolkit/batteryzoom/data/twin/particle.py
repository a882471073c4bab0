"""The twin's particle nano-CT: one NMC532 secondary particle with grains, cracks and pores.

The particle is the one the study zooms into (:data:`.frames.PARTICLE_CENTRE_IN_ELECTRODE_UM`,
diameter :data:`.frames.PARTICLE_DIAMETER_UM`). Everything about it is *analytic* or drawn
from the seed, so the same particle can be sampled on any grid:

- **primary grains**: the Laguerre tessellation of :mod:`.grains`
  (``particle_geometry(seed)``);
- **intergranular cracks**: a seed-drawn subset of the grain faces (faces between adjacent
  grains), each opened to a width. The subset favours faces near the core and faces that
  run radially (their normal is perpendicular to the radius), the pattern of cracks in
  cycled polycrystalline NMC; the opening tapers toward the surface;
- **internal pores**: seed-drawn spheres;
- **grain-boundary contrast**: each boundary is a thin disordered layer of lower density.

:func:`particle_structure` samples that particle on any :class:`~.frames.Level` (the nano-CT,
the XANES field of view, the electrode): grain labels, crack and pore masks and a solid
density in [0, 1] with partial-volume at every interface, so a coarse grid sees a thin crack
as a darker voxel rather than missing it. :func:`particle_nanoct` is the manifest's
generator: the density imaged like a nano-holotomogram (blur, phase-contrast fringes,
noise), plus the ground truth.

Coordinates inside this module are particle-centred µm ``(z, y, x)`` unless a name says
otherwise (``*_local_um``: the level's local frame, see :mod:`.frames`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage
from scipy.spatial import cKDTree

from ...errors import InputError
from . import frames, grains

__all__ = [
    "ParticleDefects",
    "particle_defects",
    "particle_structure",
    "particle_nanoct",
    "GRAIN_BOUNDARY_THICKNESS_UM",
    "GRAIN_BOUNDARY_DENSITY",
]

# A grain boundary of a cycled particle is modelled as a decohered, disordered layer ~30 nm
# thick at 40 % of the bulk density; a voxel that holds a boundary loses up to
# (1 - 0.4) * 0.03 µm / voxel of its density (partial volume), so the contrast is physical:
# stronger on finer grids (22 % on the 80 nm nano-CT, 11 % on the 160 nm XANES grid).
GRAIN_BOUNDARY_THICKNESS_UM = 0.03
GRAIN_BOUNDARY_DENSITY = 0.4
# Neighbours examined per voxel: a voxel's nearest grain faces are among the faces to its
# few nearest Laguerre seeds.
_K_NEIGHBOURS = 6


@dataclass(frozen=True)
class ParticleDefects:
    """The seed-drawn defects of one particle (particle-centred µm).

    Attributes
    ----------
    crack_pairs : ndarray, (n_cracks, 2) int64
        Grain indices ``(i, j)``, ``i < j`` (label = index + 1), whose shared face is cracked.
    crack_half_width_um : ndarray, (n_cracks,) float64
        Half the opening of each cracked face at the particle centre; the opening tapers
        toward the surface (see :func:`_crack_taper`).
    face_centre_um : ndarray, (n_cracks, 3) float64
        Centre of each cracked face (mean of the face points the sampling found).
    pore_centres_um : ndarray, (n_pores, 3) float64
    pore_radii_um : ndarray, (n_pores,) float64
    """

    crack_pairs: np.ndarray
    crack_half_width_um: np.ndarray
    face_centre_um: np.ndarray
    pore_centres_um: np.ndarray
    pore_radii_um: np.ndarray

    def crack_keys(self, n_grains: int) -> np.ndarray:
        """Sorted integer keys ``i * n_grains + j`` of the cracked pairs (for lookups)."""
        return self.crack_pairs[:, 0] * n_grains + self.crack_pairs[:, 1]


def _lifted_tree(geometry: grains.ParticleGeometry) -> cKDTree:
    # The same lift as grains.grain_labels: the nearest lifted seed is the Laguerre cell.
    lift = np.sqrt(geometry.weights_um2.max() - geometry.weights_um2 + 1e-12)
    return cKDTree(np.column_stack([geometry.seeds_um, lift]))


def _crack_taper(r_over_radius: np.ndarray) -> np.ndarray:
    """Opening of a crack relative to its core value at relative radius ``r / R``.

    Cracks in cycled NMC secondaries open in the core (where the anisotropic strain of the
    grains accumulates) and thin toward the surface.
    """
    return np.clip(1.25 - r_over_radius, 0.35, 1.0)


def particle_defects(
    geometry: grains.ParticleGeometry,
    seed: int,
    crack_probability: float = 0.55,
    crack_half_width_um: tuple[float, float] = (0.04, 0.09),
    n_pores: int = 80,
    pore_radius_um: tuple[float, float] = (0.06, 0.3),
    n_face_samples: int = 400_000,
) -> ParticleDefects:
    """Draw the cracks and pores of a particle from ``seed`` (independent of any grid).

    Grain faces inside the particle are found by sampling ``n_face_samples`` seed-drawn
    points in the sphere: a point within 0.05 µm of the bisecting plane of its two nearest
    Laguerre cells lies on that face. A face at relative radius ``r`` whose normal makes an
    angle with the radius (``cos = |n·r̂|``) cracks with probability
    ``crack_probability * (1 - cos²) * exp(-(r / 0.6)²) + 0.02``; faces in the inner third
    open twice as wide (the main core cracks).

    Parameters
    ----------
    geometry : ParticleGeometry
        From :func:`.grains.particle_geometry`.
    seed : int
        Seed of the defects (the generator combines it with a stream id, so the grain
        geometry and the defects of one seed are independent draws).
    crack_probability : float
        Peak probability that a core, radial face cracks.
    crack_half_width_um : (float, float)
        Range of the half-opening of an ordinary crack at the core (µm).
    n_pores : int
        Number of internal pores.
    pore_radius_um : (float, float)
        Range of pore radii (log-uniform, µm).
    n_face_samples : int
        Points used to find the faces.
    """
    rng = np.random.default_rng([seed, 0x9A27])  # "particle defects" stream
    radius = geometry.radius_um
    n = geometry.n_grains
    tree = _lifted_tree(geometry)
    # uniform points in the sphere
    pts = rng.normal(size=(n_face_samples, 3))
    pts *= (radius * rng.uniform(size=n_face_samples) ** (1 / 3) / np.linalg.norm(pts, axis=1))[:, None]
    dist, idx = tree.query(np.column_stack([pts, np.zeros(len(pts))]), k=2)
    gap = np.linalg.norm(geometry.seeds_um[idx[:, 0]] - geometry.seeds_um[idx[:, 1]], axis=1)
    plane_dist = (dist[:, 1] ** 2 - dist[:, 0] ** 2) / (2 * gap)
    on_face = plane_dist < 0.05
    i = np.minimum(idx[on_face, 0], idx[on_face, 1])
    j = np.maximum(idx[on_face, 0], idx[on_face, 1])
    keys, inverse, counts = np.unique(i * n + j, return_inverse=True, return_counts=True)
    # faces with a handful of hits only are slivers where three cells nearly meet
    centres = np.column_stack(
        [np.bincount(inverse, weights=pts[on_face, a]) / counts for a in range(3)]
    )
    keep = counts >= 8
    keys, centres = keys[keep], centres[keep]
    pi, pj = keys // n, keys % n
    normal = geometry.seeds_um[pj] - geometry.seeds_um[pi]
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    r = np.linalg.norm(centres, axis=1)
    cos = np.abs(np.einsum("ij,ij->i", normal, centres / np.maximum(r, 1e-9)[:, None]))
    rel = r / radius
    prob = crack_probability * (1 - cos**2) * np.exp(-((rel / 0.6) ** 2)) + 0.02
    cracked = rng.uniform(size=len(keys)) < prob
    half_width = rng.uniform(*crack_half_width_um, size=len(keys))
    half_width = np.where(rel < 1 / 3, 2 * half_width, half_width)
    # pores: log-uniform radii, centres uniform in the inner 90 % of the radius
    pr = np.exp(rng.uniform(*np.log(pore_radius_um), size=n_pores))
    pc = rng.normal(size=(n_pores, 3))
    pc *= (0.9 * radius * rng.uniform(size=n_pores) ** (1 / 3) / np.linalg.norm(pc, axis=1))[:, None]
    return ParticleDefects(
        crack_pairs=np.column_stack([pi[cracked], pj[cracked]]).astype(np.int64),
        crack_half_width_um=half_width[cracked],
        face_centre_um=centres[cracked],
        pore_centres_um=pc,
        pore_radii_um=pr,
    )


def _partial(signed_distance_um: np.ndarray, voxel_um: float) -> np.ndarray:
    """Fraction of a voxel inside a region, from the signed distance of its centre.

    A linear ramp over one voxel: the 1D partial-volume estimate (exact for a plane
    normal to an axis).
    """
    return np.clip(0.5 + signed_distance_um / voxel_um, 0.0, 1.0)


def _check_level(level: frames.Level) -> None:
    if not isinstance(level, frames.Level):
        raise InputError(
            f"level={level!r}: expected a frames.Level, e.g. "
            'frames.level("twin/particle-xanes", "small")'
        )


def particle_structure(
    seed: int,
    level: frames.Level | str,
    preset: str = "small",
    chunk_voxels: int = 1_000_000,
) -> dict[str, np.ndarray]:
    """Sample the twin's particle on the grid of ``level``.

    The same ``seed`` gives the same particle on every grid: the nano-CT
    (``"twin/particle-nanoct"``, 80 nm), the XANES field of view (``"twin/particle-xanes"``,
    160 nm) or the electrode (0.5 µm), co-registered through :mod:`.frames`.

    Parameters
    ----------
    seed : int
        The particle's seed (the manifest's ``twin/particle-nanoct`` uses 7).
    level : frames.Level or str
        The grid: a Level, or a manifest name resolved with ``preset``.
    preset : {"small", "large"}
        Used only when ``level`` is a name.
    chunk_voxels : int
        Voxels per block (memory bound: ~200 bytes per voxel of a block).

    Returns
    -------
    dict
        Arrays of ``level.shape``:

        - ``"grains"``: int32, grain label (index in the geometry + 1), 0 outside the
          particle; identical to :func:`.grains.grain_labels`. Crack and pore voxels keep
          the label of the grain they cut through.
        - ``"cracks"``: bool, voxel centre inside an opened grain face.
        - ``"pores"``: bool, voxel centre inside a pore.
        - ``"density"``: float32 in [0, 1], the solid fraction of each voxel (partial
          volume at the particle surface, cracks and pores; grain boundaries slightly less
          dense).
        - ``"boundary_distance_um"``: float32, distance of the voxel centre from the
          nearest grain face (µm); ``inf`` outside the particle.

        and ``"geometry"`` (:class:`.grains.ParticleGeometry`) and ``"defects"``
        (:class:`ParticleDefects`).
    """
    if isinstance(level, str):
        level = frames.level(level, preset)
    _check_level(level)
    geometry = grains.particle_geometry(seed)
    defects = particle_defects(geometry, seed)
    return _sample(geometry, defects, level, chunk_voxels)


def _sample(
    geometry: grains.ParticleGeometry,
    defects: ParticleDefects,
    level: frames.Level,
    chunk_voxels: int,
) -> dict:
    radius = geometry.radius_um
    n = geometry.n_grains
    voxel = float(np.mean(level.voxel_size_um))
    tree = _lifted_tree(geometry)
    crack_keys = defects.crack_keys(n)
    order = np.argsort(crack_keys)
    crack_keys, crack_hw = crack_keys[order], defects.crack_half_width_um[order]
    pore_tree = cKDTree(defects.pore_centres_um) if len(defects.pore_radii_um) else None
    k_pores = min(4, len(defects.pore_radii_um))

    shape = level.shape
    out = {
        "grains": np.zeros(shape, np.int32),
        "cracks": np.zeros(shape, bool),
        "pores": np.zeros(shape, bool),
        "density": np.zeros(shape, np.float32),
        "boundary_distance_um": np.full(shape, np.inf, np.float32),
    }
    centre = grains.particle_centre_um(level)
    z, y, x = (np.arange(m) * v - c for m, v, c in zip(shape, level.voxel_size_um, centre))
    yy, xx = np.meshgrid(y, x, indexing="ij")
    plane = shape[1] * shape[2]
    step = max(1, chunk_voxels // plane)
    # voxels up to one voxel outside the sphere still hold part of the surface
    reach2 = (radius + voxel) ** 2
    for z0 in range(0, shape[0], step):
        zz = z[z0 : z0 + step][:, None, None]
        r2 = zz**2 + yy[None] ** 2 + xx[None] ** 2
        near = r2 <= reach2
        if not near.any():
            continue
        sel = np.nonzero(near)
        p = np.column_stack([zz[sel[0], 0, 0], yy[sel[1], sel[2]], xx[sel[1], sel[2]]])
        r = np.sqrt(r2[sel])
        dist, idx = tree.query(np.column_stack([p, np.zeros(len(p))]), k=_K_NEIGHBOURS, workers=-1)
        own = idx[:, :1]
        gap = np.linalg.norm(geometry.seeds_um[idx[:, 1:]] - geometry.seeds_um[own], axis=2)
        # distance to the bisecting plane of (own, neighbour): the power-distance difference
        # is linear in p with gradient 2 |s_j - s_i|
        plane_dist = (dist[:, 1:] ** 2 - dist[:, :1] ** 2) / (2 * gap)
        boundary = plane_dist.min(axis=1)
        lo, hi = np.minimum(own, idx[:, 1:]), np.maximum(own, idx[:, 1:])
        keys = lo * n + hi
        pos = np.clip(np.searchsorted(crack_keys, keys), 0, max(len(crack_keys) - 1, 0))
        if len(crack_keys):
            is_crack = crack_keys[pos] == keys
            hw = np.where(is_crack, crack_hw[pos], -np.inf)
        else:
            hw = np.full(keys.shape, -np.inf)
        taper = _crack_taper(r / radius)[:, None]
        crack_sd = (hw * taper - plane_dist).max(axis=1)
        if pore_tree is not None:
            pd_, pi_ = pore_tree.query(p, k=k_pores)
            pd_, pi_ = pd_.reshape(len(p), -1), pi_.reshape(len(p), -1)
            pore_sd = (defects.pore_radii_um[pi_] - pd_).max(axis=1)
        else:
            pore_sd = np.full(len(p), -np.inf)
        inside = r <= radius
        gb_loss = (
            (1 - GRAIN_BOUNDARY_DENSITY)
            * min(1.0, GRAIN_BOUNDARY_THICKNESS_UM / voxel)
            * np.clip(1 - boundary / voxel, 0, 1)
        )
        density = (
            _partial(radius - r, voxel)
            * (1 - _partial(crack_sd, voxel))
            * (1 - _partial(pore_sd, voxel))
            * (1 - gb_loss)
        )
        block = (slice(z0, z0 + step),)
        out["grains"][block][sel] = np.where(inside, idx[:, 0] + 1, 0)
        out["cracks"][block][sel] = inside & (crack_sd >= 0)
        out["pores"][block][sel] = inside & (pore_sd >= 0)
        out["density"][block][sel] = density
        out["boundary_distance_um"][block][sel] = np.where(inside, boundary, np.inf)
    out["geometry"] = geometry
    out["defects"] = defects
    return out


def _image(density: np.ndarray, grain_labels: np.ndarray, seed: int, voxel_um: float) -> np.ndarray:
    """Image a density map like a nano-holotomogram (float32, arbitrary phase units).

    - a grey level proportional to density (phase shift ∝ electron density), with a small
      per-grain offset (±1.5 %: composition and Li-content differences between grains);
    - the instrument's blur: a Gaussian PSF of 40 nm sigma;
    - phase-contrast fringes: a fraction of the Laplacian of the blurred image subtracted,
      which overshoots at every edge the way near-field propagation does;
    - noise: white Gaussian (4 % of the solid level) plus correlated noise (2 %, 120 nm).
    """
    rng = np.random.default_rng([seed, 0x1A6E])  # "image" stream
    grain_offset = 1.0 + rng.normal(0.0, 0.015, size=int(grain_labels.max()) + 1)
    grey = density * grain_offset[grain_labels].astype(np.float32)
    sigma_vox = 0.04 / voxel_um
    grey = ndimage.gaussian_filter(grey, sigma_vox)
    grey = grey - 0.25 * ndimage.gaussian_laplace(grey, max(1.0, sigma_vox))
    white = rng.normal(0.0, 0.04, size=grey.shape).astype(np.float32)
    coloured = ndimage.gaussian_filter(rng.normal(0.0, 1.0, size=grey.shape).astype(np.float32), 0.12 / voxel_um)
    coloured *= 0.02 / max(float(coloured.std()), 1e-12)
    return (grey + white + coloured).astype(np.float32)


def _grain_table(
    labels: np.ndarray,
    structure: dict,
    level: frames.Level,
) -> pd.DataFrame:
    """Per-grain ground truth on the level's grid (one row per grain present)."""
    from skimage.measure import regionprops_table

    geometry: grains.ParticleGeometry = structure["geometry"]
    defects: ParticleDefects = structure["defects"]
    spacing = level.voxel_size_um
    props = pd.DataFrame(
        regionprops_table(labels, properties=("label", "area", "centroid"), spacing=spacing)
    )
    props = props.rename(
        columns={"area": "volume_um3", "centroid-0": "centroid_z_um", "centroid-1": "centroid_y_um",
                 "centroid-2": "centroid_x_um"}
    )
    props["equivalent_diameter_um"] = (6 * props["volume_um3"] / np.pi) ** (1 / 3)
    centre = grains.particle_centre_um(level)
    cen = props[["centroid_z_um", "centroid_y_um", "centroid_x_um"]].to_numpy() - centre
    props["distance_from_surface_um"] = geometry.radius_um - np.linalg.norm(cen, axis=1)
    index = props["label"].to_numpy() - 1
    seeds = geometry.seeds_um[index] + centre
    for a, axis in enumerate("zyx"):
        props[f"seed_{axis}_um"] = seeds[:, a]
    props["weight_um2"] = geometry.weights_um2[index]
    n_crack_faces = np.bincount(defects.crack_pairs.ravel(), minlength=geometry.n_grains)
    props["n_cracked_faces"] = n_crack_faces[index]
    lab = labels.ravel()
    n_lab = int(labels.max()) + 1
    count = np.bincount(lab, minlength=n_lab)
    for name in ("cracks", "pores"):
        hits = np.bincount(lab, weights=structure[name].ravel(), minlength=n_lab)
        props[f"{name[:-1]}_fraction"] = (hits / np.maximum(count, 1))[props["label"]]
    props["mean_density"] = (
        np.bincount(lab, weights=structure["density"].ravel(), minlength=n_lab) / np.maximum(count, 1)
    )[props["label"]]
    props = props.astype({"label": np.int32})
    return props.reset_index(drop=True)


def _dataarray(values: np.ndarray, level: frames.Level, name: str, units: str, description: str) -> xr.DataArray:
    attrs = {**level.attrs(), "units": units, "description": description}
    return xr.DataArray(values, dims=("z", "y", "x"), coords=level.coords(), name=name, attrs=attrs)


def particle_nanoct(seed: int, preset: str = "small") -> dict:
    """Generate the twin's particle nano-CT with its ground truth (the manifest's generator).

    Parameters
    ----------
    seed : int
        The particle's seed (manifest: 7). Same seed, same bytes.
    preset : {"small", "large"}
        ``small``: 112³ voxels of 80 nm; ``large``: 256³ of 35 nm (the same 8.96 µm box).

    Returns
    -------
    dict
        - ``"main"``: DataArray (z, y, x) float32, the grey nano-CT (phase, a.u.), coords µm.
        - ``"grains"``: DataArray int32, true grain labels (0 outside the particle).
        - ``"cracks"``, ``"pores"``: DataArray bool, true defect masks.
        - ``"density"``: DataArray float32 in [0, 1], the solid fraction imaged.
        - ``"grain_table"``: DataFrame, one row per grain: ``label``, ``volume_um3``,
          ``equivalent_diameter_um``, ``centroid_{z,y,x}_um`` (local frame),
          ``distance_from_surface_um``, ``seed_{z,y,x}_um``, ``weight_um2``,
          ``n_cracked_faces``, ``crack_fraction``, ``pore_fraction``, ``mean_density``.
        - ``"crack_table"``: DataFrame, one row per cracked face: ``grain_a``, ``grain_b``
          (labels), ``half_width_um``, ``face_{z,y,x}_um`` (local frame).
        - ``"pore_table"``: DataFrame, one row per pore: ``centre_{z,y,x}_um``, ``radius_um``.
    """
    level = frames.level("twin/particle-nanoct", preset)
    structure = particle_structure(seed, level)
    voxel = float(np.mean(level.voxel_size_um))
    grey = _image(structure["density"], structure["grains"], seed, voxel)
    defects: ParticleDefects = structure["defects"]
    centre = grains.particle_centre_um(level)
    face = defects.face_centre_um + centre
    pores = defects.pore_centres_um + centre
    crack_table = pd.DataFrame(
        {
            "grain_a": defects.crack_pairs[:, 0] + 1,
            "grain_b": defects.crack_pairs[:, 1] + 1,
            "half_width_um": defects.crack_half_width_um,
            **{f"face_{a}_um": face[:, i] for i, a in enumerate("zyx")},
        }
    )
    pore_table = pd.DataFrame(
        {**{f"centre_{a}_um": pores[:, i] for i, a in enumerate("zyx")}, "radius_um": defects.pore_radii_um}
    )
    return {
        "main": _dataarray(grey, level, "nanoct", "phase (a.u.)", "twin particle nano-holotomogram"),
        "grains": _dataarray(structure["grains"], level, "grains", "label", "true primary-grain labels"),
        "cracks": _dataarray(structure["cracks"], level, "cracks", "mask", "true intergranular crack mask"),
        "pores": _dataarray(structure["pores"], level, "pores", "mask", "true internal pore mask"),
        "density": _dataarray(structure["density"], level, "density", "solid fraction", "true solid density"),
        "grain_table": _grain_table(structure["grains"], structure, level),
        "crack_table": crack_table,
        "pore_table": pore_table,
    }
