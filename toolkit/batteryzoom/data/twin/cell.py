"""The twin's whole-cell CT: a 1.6 mm slab of the study's 18650 cell with planted defects.

Geometry (all µm, the cell's local frame of :mod:`.frames`: the axis at the centre of the
field, ``z`` from the slab's first voxel):

- **Can**: nickel-plated steel, 18 mm outer diameter, 250 µm wall, slightly oval (semi-axes
  9008 / 8992 µm); it holds a spiral jelly roll around an empty mandrel hole.
- **Jelly roll**: an Archimedean spiral ``r = a + b·θ`` (``θ`` from 0 to ``2π·N``, counter-
  clockwise from +x towards +y, ``b = pitch / 2π``) of ``N = 22`` windings. Each winding,
  outward from the spiral line, is cathode coating | Al foil | cathode coating | separator |
  anode coating | Cu foil | anode coating | separator (:data:`STACK`, 290 µm per winding).
  Cathode (NMC, Ni/Co/Mn) is bright, the graphite anode dark with a bright Cu foil, the
  separator and electrolyte darkest. The spiral's phase puts the separator after winding
  :data:`INCLUSION_WINDING` exactly on :data:`frames.INCLUSION_WORLD_UM` so the inclusion,
  snapped to that inter-winding gap, sits where the electrode ROI is centred.
- **Defects** (ground truth in the ``defects`` table):
  ``buckling`` — inner windings pushed towards the mandrel hole over an angular sector,
  the displacement decaying outward (compare the real buckled-core slices);
  ``inclusion`` — a metallic (Fe/Ni) sphere between two windings, the classic
  self-discharge cause; ``gap`` — a local delamination: a void opens between a cathode and
  its separator and pushes the outer windings out; ``tear`` — a segment of one cathode
  winding missing; ``dent`` — the can wall pushed in.
- **Imaging**: partial-volume sampling of the thin layers, Gaussian blur (σ 0.6 voxel),
  mild beam hardening (cupping), Gaussian noise; stored as uint16 grey values
  ``offset + scale · attenuation`` (attrs ``grey_offset``, ``grey_per_attenuation``).

The physical geometry is the same for both presets; only the voxel size changes.
Slices are rendered independently (noise from ``default_rng([seed, slice])``), so the
``large`` preset is built chunk by chunk as dask arrays and never held whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from . import frames

__all__ = [
    "cell_ct",
    "DEFECT_TYPES",
    "CellDesign",
    "design",
    "STACK",
    "MATERIALS",
    "ATTENUATION",
]

# material labels of the ``materials`` ground-truth volume
MATERIALS = {
    "air": 0,
    "can": 1,
    "cathode": 2,
    "al_foil": 3,
    "separator": 4,
    "anode": 5,
    "cu_foil": 6,
    "inclusion": 7,
    "void": 8,
}
# linear attenuation (a.u.) at a lab-CT spectrum: steel and Cu strongly attenuating,
# NMC cathode (Ni/Co/Mn) bright, graphite dark, electrolyte-soaked separator darkest
ATTENUATION = {
    "air": 0.0,
    "can": 1.6,
    "cathode": 0.55,
    "al_foil": 0.25,
    "separator": 0.06,
    "anode": 0.12,
    "cu_foil": 1.4,
    "inclusion": 1.6,
    "void": 0.04,
}
# one winding, outward from the spiral line: (material, thickness µm)
STACK = (
    ("cathode", 55.0),
    ("al_foil", 10.0),
    ("cathode", 55.0),
    ("separator", 20.0),
    ("anode", 60.0),
    ("cu_foil", 10.0),
    ("anode", 60.0),
    ("separator", 20.0),
)
PITCH_UM = float(sum(t for _, t in STACK))
CATHODE_CENTRE_UM = 60.0  # the cathode's mid-plane (Al foil centre) from the spiral line
INCLUSION_WINDING = 11  # the inclusion sits in the separator after this winding's cathode
GREY_OFFSET = 2000.0
GREY_PER_ATTENUATION = 20000.0


@dataclass(frozen=True)
class CellDesign:
    """Every number of the twin cell (µm, radians; the cell's local frame)."""

    centre_yx_um: tuple[float, float]
    a_um: float
    pitch_um: float = PITCH_UM
    n_windings: int = 22
    can_semi_axes_um: tuple[float, float] = (9008.0, 8992.0)  # along the orientation, across
    can_orientation_rad: float = 0.5
    can_wall_um: float = 250.0
    blur_voxels: float = 0.6
    noise: float = 0.05  # attenuation units
    cupping: float = 0.05  # fractional darkening at the axis
    defects: dict = field(default_factory=dict)

    @property
    def b_um_per_rad(self) -> float:
        return self.pitch_um / (2 * np.pi)


DEFECT_TYPES = ("buckling", "inclusion", "gap", "tear", "dent")


def design(preset: str = "small", defects: bool | tuple[str, ...] = True) -> CellDesign:
    """The twin cell's design for ``preset`` (the geometry is preset-independent).

    ``defects``: True (all of :data:`DEFECT_TYPES`), False (a healthy cell: the control
    for false alarms), or the names of the defects to plant.
    """
    lv = frames.level("twin/cell-ct", preset)
    inc_local = np.subtract(frames.INCLUSION_WORLD_UM, lv.origin_um)
    centre = (float(-lv.origin_um[1]), float(-lv.origin_um[2]))  # the axis (world y=x=0)
    # phase the spiral so the separator after winding INCLUSION_WINDING crosses +x at the
    # inclusion's nominal radius (the electrode ROI is centred there)
    r_inc = float(np.hypot(*np.subtract(inc_local[1:], centre)))
    sep_mid = 120.0 + 10.0
    a = r_inc - sep_mid - INCLUSION_WINDING * PITCH_UM
    params = {
        "buckling": dict(angle_rad=2.3, sigma_rad=0.28, amplitude_um=175.0, decay_um=6 * PITCH_UM,
                         z_um=700.0, sigma_z_um=350.0),
        "inclusion": dict(angle_rad=float(np.arctan2(inc_local[1] - centre[0], inc_local[2] - centre[1])),
                          radius_um=r_inc, diameter_um=80.0, z_um=float(inc_local[0]),
                          winding=INCLUSION_WINDING),
        "gap": dict(winding=15, angle_rad=5.2, sigma_rad=0.15, opening_um=100.0, z_um=1100.0,
                    sigma_z_um=250.0, decay_um=5 * PITCH_UM),
        "tear": dict(winding=6, angle_rad=0.9, half_width_rad=0.06, z_um=400.0, half_height_um=200.0),
        "dent": dict(angle_rad=3.9, sigma_rad=0.10, depth_um=110.0, z_um=950.0, sigma_z_um=450.0),
    }
    wanted = DEFECT_TYPES if defects is True else (() if defects is False else tuple(defects))
    unknown = set(wanted) - set(DEFECT_TYPES)
    if unknown:
        from ...errors import InputError

        raise InputError(f"defects={defects!r}: unknown {sorted(unknown)}; choose from {DEFECT_TYPES}")
    # an absent defect keeps its place but has no amplitude (the geometry stays the same)
    off = {"buckling": ("amplitude_um",), "inclusion": ("diameter_um",), "gap": ("opening_um",),
           "tear": ("half_width_rad",), "dent": ("depth_um",)}
    for name in DEFECT_TYPES:
        if name not in wanted:
            for key in off[name]:
                params[name][key] = 0.0
            params[name]["planted"] = False
        else:
            params[name]["planted"] = True
    return CellDesign(centre_yx_um=centre, a_um=float(a), defects=params)


# --------------------------------------------------------------------------- rendering


def _stack_profile(voxel_um: float, n: int = 2048, torn: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Attenuation and label along one pitch, the former averaged over one voxel.

    The layers (10-60 µm) are thinner than a voxel; averaging the periodic profile over a
    voxel's width (a circular box filter) gives each voxel its partial-volume value, so a
    lookup at the voxel centre's winding phase renders the roll without supersampling.
    """
    s = (np.arange(n) + 0.5) / n * PITCH_UM
    mu = np.empty(n)
    lab = np.empty(n, np.uint8)
    edge = 0.0
    for material, thick in STACK:
        sel = (s >= edge) & (s < edge + thick)
        name = "separator" if torn and material in ("cathode", "al_foil") else material
        mu[sel] = ATTENUATION[name]
        lab[sel] = MATERIALS[name]
        edge += thick
    width = max(1, int(round(voxel_um / PITCH_UM * n)))
    mu = ndimage.uniform_filter1d(mu, width, mode="wrap")
    return mu, lab


def _gauss(x, sigma):
    return np.exp(-0.5 * (x / sigma) ** 2)


def _wrap(angle):
    return (angle + np.pi) % (2 * np.pi) - np.pi


class _Renderer:
    """Renders slices of the twin; the per-slice work is vectorised over the plane."""

    def __init__(self, d: CellDesign, lv: frames.Level, seed: int):
        self.d, self.lv, self.seed = d, lv, seed
        vz, vy, vx = lv.voxel_size_um
        ny, nx = lv.shape[1:]
        y = np.arange(ny) * vy - d.centre_yx_um[0]
        x = np.arange(nx) * vx - d.centre_yx_um[1]
        self.Y, self.X = np.meshgrid(y, x, indexing="ij")
        self.R = np.hypot(self.Y, self.X)
        self.PHI = np.arctan2(self.Y, self.X) % (2 * np.pi)
        self.mu_table, self.lab_table = _stack_profile(vx)
        self.mu_torn, self.lab_torn = _stack_profile(vx, torn=True)
        D = d.defects
        self.buckle_w = _gauss(_wrap(self.PHI - D["buckling"]["angle_rad"]), D["buckling"]["sigma_rad"])
        self.gap_w = _gauss(_wrap(self.PHI - D["gap"]["angle_rad"]), D["gap"]["sigma_rad"])
        self.dent_w = _gauss(_wrap(self.PHI - D["dent"]["angle_rad"]), D["dent"]["sigma_rad"])
        self.tear_sel = np.abs(_wrap(self.PHI - D["tear"]["angle_rad"])) < D["tear"]["half_width_rad"]
        # the ellipse radius of the can's outer surface at each angle
        A, B = d.can_semi_axes_um
        t = self.PHI - d.can_orientation_rad
        self.can_outer = A * B / np.sqrt((B * np.cos(t)) ** 2 + (A * np.sin(t)) ** 2)
        self.cupping = (1.0 - d.cupping * np.clip(1.0 - (self.R / A) ** 2, 0.0, 1.0)).astype(np.float32)
        # the deformations act on small regions: their voxels, precomputed (flat indices)
        g, b = D["gap"], D["buckling"]
        r_gap = self._gap_radius(self.PHI)
        sel = (self.gap_w > 1e-4) & (self.R >= r_gap - 1.0) & (self.R <= r_gap + g["decay_um"] + g["opening_um"] + 1.0)
        self.gap_idx = np.flatnonzero(sel)
        self.gap_r, self.gap_rg, self.gap_wg = self.R.ravel()[self.gap_idx], r_gap.ravel()[self.gap_idx], self.gap_w.ravel()[self.gap_idx]
        sel = (self.buckle_w > 1e-4) & (self.R <= d.a_um + b["decay_um"] + 1.0)
        self.buck_idx = np.flatnonzero(sel)
        self.buck_w = self.buckle_w.ravel()[self.buck_idx]
        self.phi_turns = self.PHI / (2 * np.pi)
        # the can's annulus (with room for the dent and the partial-volume ramp)
        outer_max = float(self.can_outer.max()) + 2 * vx
        inner_min = float(self.can_outer.min()) - d.can_wall_um - D["dent"]["depth_um"] - 2 * vx
        self.can_idx = np.flatnonzero((self.R >= inner_min) & (self.R <= outer_max))
        self.can_r = self.R.ravel()[self.can_idx]
        self.can_out = self.can_outer.ravel()[self.can_idx]
        self.can_dw = self.dent_w.ravel()[self.can_idx]
        self.inside_can = self.R < self.can_outer - d.can_wall_um

    # ---- geometry: where does each voxel come from in the undeformed roll?
    def _gap_radius(self, phi):
        g = self.d.defects["gap"]
        return self.d.a_um + self.d.b_um_per_rad * (phi + 2 * np.pi * g["winding"]) + 120.0

    def undeformed_radius(self, z_um: float):
        """Pull-back of the deformations: undeformed radius ``r0`` and the void mask."""
        d, D = self.d, self.d.defects
        r0 = self.R.copy()
        void = np.zeros(self.R.shape, bool)
        r0f, voidf = r0.reshape(-1), void.reshape(-1)
        # delamination: material beyond r_gap was pushed out by G, decaying over L
        g = D["gap"]
        g_amp = g["opening_um"] * _gauss(z_um - g["z_um"], g["sigma_z_um"])
        if g_amp > 1e-6 and self.gap_idx.size:
            R, r_gap, L = self.gap_r, self.gap_rg, g["decay_um"]
            G = g_amp * self.gap_wg
            voidf[self.gap_idx] = (R >= r_gap) & (R < r_gap + G)
            # forward map r = r0 + G (1 - (r0 - r_gap)/L) for r_gap <= r0 <= r_gap + L: invert it
            r0_b = (R - G * (1 + r_gap / L)) / (1 - G / L)
            moved = (R >= r_gap + G) & (r0_b <= r_gap + L)
            r0f[self.gap_idx[moved]] = r0_b[moved]
        # buckling: windings near the mandrel pulled inward by up to A (decaying outward)
        b = D["buckling"]
        b_amp = b["amplitude_um"] * _gauss(z_um - b["z_um"], b["sigma_z_um"])
        if b_amp > 1e-6 and self.buck_idx.size:
            A = b_amp * self.buck_w
            base = r0f[self.buck_idx]
            # r0 was pulled in by A*decay(r0); fixed-point steps converge fast because the
            # displacement changes slowly with radius (|d/dr| = A/L < 0.1)
            rb = base.copy()
            for _ in range(4):
                rb = base + A * np.clip(1.0 - (rb - d.a_um) / b["decay_um"], 0.0, 1.0)
            r0f[self.buck_idx] = rb
        return r0, void

    def render(self, iz: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d, D, lv = self.d, self.d.defects, self.lv
        vz, _, vx = lv.voxel_size_um
        z_um = iz * vz
        r0, void = self.undeformed_radius(z_um)
        # winding phase: s = (r0 - a)/pitch - phi/2pi; winding k = floor(s)
        s = (r0 - d.a_um) / d.pitch_um - self.phi_turns
        k = np.floor(s)
        n_tab = len(self.mu_table)
        idx = np.minimum(((s - k) * n_tab).astype(np.int32), n_tab - 1)
        k = k.astype(np.int32)
        in_roll = (k >= 0) & (k < d.n_windings)
        mu = self.mu_table[idx].astype(np.float32)
        lab = self.lab_table[idx]
        t = D["tear"]
        if t["half_width_rad"] > 0 and abs(z_um - t["z_um"]) <= t["half_height_um"]:
            torn = in_roll & (k == t["winding"]) & self.tear_sel
            mu[torn] = self.mu_torn[idx[torn]]
            lab[torn] = self.lab_torn[idx[torn]]
        mu[~in_roll] = 0.0
        lab[~in_roll] = MATERIALS["air"]
        # outside the roll but inside the can: electrolyte-wetted outer wrap
        wrap = (k >= d.n_windings) & self.inside_can
        mu[wrap] = ATTENUATION["separator"]
        lab[wrap] = MATERIALS["separator"]
        vv = void & in_roll
        mu[vv] = ATTENUATION["void"]
        lab[vv] = MATERIALS["void"]
        windings = np.where(in_roll, k + 1, 0).astype(np.uint8)
        # can, with the dent pushing the wall in (only its annulus is computed)
        dn = D["dent"]
        R = self.can_r
        outer = self.can_out - dn["depth_um"] * _gauss(z_um - dn["z_um"], dn["sigma_z_um"]) * self.can_dw
        inner = outer - d.can_wall_um
        # partial volume at the can's surfaces (linear ramp over one voxel)
        frac = (np.clip((outer - R) / vx + 0.5, 0, 1) * np.clip((R - inner) / vx + 0.5, 0, 1)).astype(np.float32)
        mf, lf, wf = mu.reshape(-1), lab.reshape(-1), windings.reshape(-1)
        mf[self.can_idx] = mf[self.can_idx] * (1 - frac) + ATTENUATION["can"] * frac
        is_can = (R <= outer) & (R > inner)
        lf[self.can_idx[is_can]] = MATERIALS["can"]
        wf[self.can_idx[is_can]] = 0
        # metallic inclusion, supersampled 4x4x4 in a small box for its partial volume
        self._add_inclusion(mu, lab, z_um)
        windings[lab == MATERIALS["inclusion"]] = 0
        # imaging: blur, cupping, noise
        mu = ndimage.gaussian_filter(mu, d.blur_voxels, mode="nearest") * self.cupping
        rng = np.random.default_rng([self.seed, iz])
        mu += d.noise * rng.standard_normal(mu.shape, dtype=np.float32)
        grey = np.clip(np.rint(GREY_OFFSET + GREY_PER_ATTENUATION * mu), 0, 65535).astype(np.uint16)
        return grey, lab.astype(np.uint8, copy=False), windings

    def _add_inclusion(self, mu, lab, z_um):
        inc = self.d.defects["inclusion"]
        cz, cy, cx = inclusion_centre_um(self.d)
        rad = inc["diameter_um"] / 2
        vz, vy, vx = self.lv.voxel_size_um
        if rad <= 0 or abs(z_um - cz) > rad + vz:
            return
        ys = np.arange(max(0, int((cy - rad) / vy) - 1), min(mu.shape[0], int((cy + rad) / vy) + 3))
        xs = np.arange(max(0, int((cx - rad) / vx) - 1), min(mu.shape[1], int((cx + rad) / vx) + 3))
        sub = (np.arange(4) + 0.5) / 4 - 0.5
        for iy in ys:
            for ix in xs:
                pz = z_um + sub[:, None, None] * vz
                py = iy * vy + sub[None, :, None] * vy
                px = ix * vx + sub[None, None, :] * vx
                f = float(np.mean((pz - cz) ** 2 + (py - cy) ** 2 + (px - cx) ** 2 <= rad**2))
                if f > 0:
                    mu[iy, ix] = mu[iy, ix] * (1 - f) + ATTENUATION["inclusion"] * f
                    if f >= 0.5:
                        lab[iy, ix] = MATERIALS["inclusion"]


def inclusion_centre_um(d: CellDesign) -> tuple[float, float, float]:
    """The inclusion's centre (z, y, x) in the local frame, snapped to the separator gap."""
    inc = d.defects["inclusion"]
    phi = inc["angle_rad"] % (2 * np.pi)
    # separator centres along this ray: a + b(phi + 2 pi k) + 130; take the one nearest
    # the nominal radius (the snap)
    k = np.round((inc["radius_um"] - d.a_um - 130.0 - d.b_um_per_rad * phi) / d.pitch_um)
    r = d.a_um + d.b_um_per_rad * (phi + 2 * np.pi * k) + 130.0
    return (inc["z_um"], d.centre_yx_um[0] + r * np.sin(phi), d.centre_yx_um[1] + r * np.cos(phi))


# --------------------------------------------------------------------------- ground truth


def _spiral_radius(d: CellDesign, winding: int, phi: float, offset_um: float) -> float:
    return d.a_um + d.b_um_per_rad * (phi % (2 * np.pi) + 2 * np.pi * winding) + offset_um


def _defect_table(d: CellDesign, lv: frames.Level) -> pd.DataFrame:
    D = d.defects
    cy, cx = d.centre_yx_um
    rows = []

    def add(kind, z, r, phi, winding, size, magnitude, description):
        rows.append(dict(
            type=kind, z_um=z, y_um=cy + r * np.sin(phi), x_um=cx + r * np.cos(phi),
            radius_um=r, angle_rad=phi % (2 * np.pi), winding=winding, size_um=size,
            magnitude_um=magnitude, severity=magnitude / d.pitch_um, description=description,
        ))

    b = D["buckling"]
    # the innermost winding's cathode mid-plane at the buckle's centre, pulled in by A
    r_nom = _spiral_radius(d, 0, b["angle_rad"], CATHODE_CENTRE_UM)
    decay = 1.0 - (r_nom - d.a_um) / b["decay_um"]
    A = b["amplitude_um"] * decay
    r_def = r_nom - A
    add("buckling", b["z_um"], r_def, b["angle_rad"], 0, 2.355 * b["sigma_rad"] * r_nom, A,
        "inner windings pushed towards the mandrel hole (Gaussian in angle and z, decaying outward)")
    inc = D["inclusion"]
    z, y, x = inclusion_centre_um(d)
    r = float(np.hypot(y - cy, x - cx))
    add("inclusion", z, r, float(np.arctan2(y - cy, x - cx)), inc["winding"], inc["diameter_um"],
        inc["diameter_um"], "metallic (Fe/Ni) particle in the separator between two windings")
    g = D["gap"]
    r_gap = _spiral_radius(d, g["winding"], g["angle_rad"], 120.0)
    add("gap", g["z_um"], r_gap + g["opening_um"] / 2, g["angle_rad"], g["winding"],
        2.355 * g["sigma_rad"] * r_gap, g["opening_um"],
        "delamination: a void between a cathode and its separator; outer windings pushed out")
    t = D["tear"]
    r_t = _spiral_radius(d, t["winding"], t["angle_rad"], CATHODE_CENTRE_UM)
    add("tear", t["z_um"], r_t, t["angle_rad"], t["winding"], 2 * t["half_width_rad"] * r_t,
        2 * t["half_width_rad"] * r_t, "a segment of the cathode (coating and foil) missing over this arc")
    dn = D["dent"]
    A_, B_ = d.can_semi_axes_um
    tt = dn["angle_rad"] - d.can_orientation_rad
    r_out = A_ * B_ / np.sqrt((B_ * np.cos(tt)) ** 2 + (A_ * np.sin(tt)) ** 2)
    add("dent", dn["z_um"], r_out - dn["depth_um"], dn["angle_rad"], -1, 2.355 * dn["sigma_rad"] * r_out,
        dn["depth_um"], "can wall pushed in (outer surface position at the deepest point)")
    df = pd.DataFrame(rows)
    df = df[[D[t]["planted"] for t in df.type]].reset_index(drop=True)
    for ax, i in (("z", 0), ("y", 1), ("x", 2)):
        df[f"{ax}_world_um"] = df[f"{ax}_um"] + lv.origin_um[i]
    df.insert(0, "defect_id", np.arange(1, len(df) + 1))
    df.attrs["frame"] = "cell local frame (µm): z from the slab's first voxel centre, y/x from voxel (0, 0)"
    return df


def _spiral_dict(d: CellDesign, lv: frames.Level) -> dict:
    return {
        "a_um": d.a_um,
        "b_um_per_rad": d.b_um_per_rad,
        "pitch_um": d.pitch_um,
        "n_windings": d.n_windings,
        "start_angle_rad": 0.0,
        "handedness": "counter-clockwise (r grows with angle from +x towards +y)",
        "reference": "the spiral line is the inner surface of each winding's cathode",
        "cathode_centre_offset_um": CATHODE_CENTRE_UM,
        "stack": [{"material": m, "thickness_um": t} for m, t in STACK],
        "centre_y_um": d.centre_yx_um[0],
        "centre_x_um": d.centre_yx_um[1],
        "can_outer_semi_axes_um": list(d.can_semi_axes_um),
        "can_orientation_rad": d.can_orientation_rad,
        "can_wall_um": d.can_wall_um,
        "can_outer_diameter_um": float(sum(d.can_semi_axes_um)),
        "materials": MATERIALS,
        "attenuation": ATTENUATION,
        "grey_offset": GREY_OFFSET,
        "grey_per_attenuation": GREY_PER_ATTENUATION,
        "noise_attenuation": d.noise,
        "blur_voxels": d.blur_voxels,
        "voxel_size_um": list(lv.voxel_size_um),
        "defect_parameters": d.defects,
    }


def cell_ct(seed: int = 18650, preset: str = "small", defects: bool | tuple[str, ...] = True) -> dict:
    """Generate the twin's cell CT and its ground truth.

    Parameters
    ----------
    seed : int
        Seed of the noise (``numpy.random.default_rng([seed, slice])``); same seed, same
        bytes. The geometry and defects are fixed by :func:`design`.
    preset : {"small", "large"}
        ``small``: 25 µm voxels, ``(64, 736, 736)``, in memory (~0.1 GB); ``large``:
        12.5 µm voxels, ``(128, 1472, 1472)``, dask-backed, rendered chunk by chunk.
    defects : bool or tuple of str
        Plant every defect (default), none (a healthy control cell), or those named
        (:data:`DEFECT_TYPES`).

    Returns
    -------
    dict
        ``"main"``: ``xarray.DataArray`` ``(z, y, x)`` uint16 grey values
        (``offset + scale · attenuation``), coordinates in µm (local frame), frame attrs.
        ``"materials"``: uint8 ``(z, y, x)`` material labels (:data:`MATERIALS`).
        ``"layers"``: uint8 ``(z, y, x)`` the winding each voxel of the roll belongs to
        (1..N, 0 outside the roll, in the can or in the inclusion).
        ``"defects"``: DataFrame, one row per planted defect: ``type`` (buckling,
        inclusion, gap, tear, dent), ``z_um, y_um, x_um`` (local frame) and
        ``*_world_um``, ``radius_um``/``angle_rad`` about the axis, ``winding``,
        ``size_um`` (extent), ``magnitude_um`` (displacement, diameter, opening or depth),
        ``severity`` (magnitude / winding pitch).
        ``"spiral"``: dict of the ideal spiral (``a_um``, ``b_um_per_rad``, ``pitch_um``,
        ``n_windings``, centre), the layer stack, the can and the imaging parameters.
    """
    lv = frames.level("twin/cell-ct", preset)
    d = design(preset, defects)
    renderer = _Renderer(d, lv, seed)
    nz = lv.shape[0]
    coords = lv.coords()
    attrs = {**lv.attrs(), "units": "grey value", "grey_offset": GREY_OFFSET,
             "grey_per_attenuation": GREY_PER_ATTENUATION, "seed": seed,
             "defects": ",".join(t for t in DEFECT_TYPES if d.defects[t]["planted"])}
    if preset == "small":
        main = np.empty(lv.shape, np.uint16)
        mats = np.empty(lv.shape, np.uint8)
        wind = np.empty(lv.shape, np.uint8)
        for iz in range(nz):
            main[iz], mats[iz], wind[iz] = renderer.render(iz)
    else:
        import dask
        import dask.array as da

        step = 4  # slices per chunk: ~35 MB of float intermediates per chunk
        blocks = [dask.delayed(_render_block)(renderer, z0, min(z0 + step, nz)) for z0 in range(0, nz, step)]
        plane = lv.shape[1:]

        def part(i, dtype):
            return da.concatenate([
                da.from_delayed(blk[i], (min(z0 + step, nz) - z0, *plane), dtype=dtype)
                for blk, z0 in zip(blocks, range(0, nz, step))
            ])

        main, mats, wind = part(0, np.uint16), part(1, np.uint8), part(2, np.uint8)

    def wrap(arr, name, units):
        return xr.DataArray(arr, dims=("z", "y", "x"), coords=coords, name=name, attrs={**attrs, "units": units})

    return {
        "main": wrap(main, "ct", "grey value"),
        "materials": wrap(mats, "materials", "label"),
        "layers": wrap(wind, "layers", "winding index"),
        "defects": _defect_table(d, lv),
        "spiral": _spiral_dict(d, lv),
    }


def _render_block(renderer: _Renderer, z0: int, z1: int):
    out = [renderer.render(iz) for iz in range(z0, z1)]
    return tuple(np.stack([o[i] for o in out]) for i in range(3))
