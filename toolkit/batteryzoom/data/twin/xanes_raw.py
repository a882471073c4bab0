"""The twin's 3D XANES as a transmission X-ray microscope acquires it: raw projections.

The twin's grain-scale XANES (:mod:`.xanes`: same grid, grains and per-voxel chemistry,
generated here without its noise or shifts) seen through a TXM's tomography, energy by
energy, with what each step of a real scan adds:

- **attenuation**: the volume twin's optical density per voxel times
  ``ATTENUATION_SCALE`` is the attenuation per voxel here (a ~9 µm NMC particle at the Ni
  K-edge transmits ~20 % through its middle above the edge: the scale puts the thickest
  line at ~1.5 OD above the edge, ~1 OD below);
- **projections** over 180° (``n_angles`` equally spaced, endpoint excluded) by the
  adjoint-exact parallel-beam projector of :mod:`batteryzoom.tomo`
  (:func:`batteryzoom.tomo.project`'s compiled kernel), the axis through the particle's centre;
- **magnification**: the zone plate's focal length is proportional to the energy, so at a
  fixed detector the pixel size at the sample is ``pixel_size_um(E) = p_ref * E / E_ref``
  (``E_ref`` the last, highest energy, where ``p_ref`` is the volume twin's voxel size):
  the particle looks ~5 % larger at 8200 eV than at 8600 eV. Magnification acts about the
  optical axis (the detector's central row and column);
- **rotation axis** off the detector's centre, drifting with energy: the axis sits
  ``AXIS_OFFSET_UM + AXIS_DRIFT_UM * t`` from the optical axis (``t`` from 0 at the first
  energy to 1 at the last), seen through each energy's magnification (``axis_col_px``);
- **jitter**: each projection displaced by a stage wobble (Gaussian, ``JITTER_UM`` per
  axis, µm at the sample; pixels through the energy's magnification), the detector
  position sampled by cubic convolution (Keys) of the projected image;
- **counts**: Poisson counting of ``flux`` photons per pixel per projection in the open
  beam (times a slow throughput change across the scan, ``flux_ev``), a per-column gain,
  a dark current with read noise; ``N_FLATS`` flats and ``N_DARKS`` darks per energy;
- **rings**: ``N_DEFECT_COLUMNS`` detector columns whose gain changed between the flats
  and the projections by a few % (``defect_gain``): flat-field correction leaves a
  constant offset ``ln(1 + d)`` in those columns, a stripe in every sinogram and a ring
  in every slice.

Parts (``bz.data.load("twin/particle-xanes-raw", part=...)``):

- ``main``: the acquisition Dataset of :mod:`batteryzoom.io.acquisition` (``projections``
  ``(energy, angle, row, col)`` uint16 counts, ``flats``, ``darks``; ``angle`` in degrees,
  ``energy`` in eV, ``pixel_size_um`` the nominal one, ``p_ref``: what a TXM file records).
- ``truth``: the volume twin's per-voxel truth on its own grid (``edge_energy_ev``,
  ``grain_labels``, ``density``, ``edge_jump``, ...) plus the acquisition's:
  ``pixel_size_um`` and ``axis_col_px`` per energy, ``jitter_row_px`` and
  ``jitter_col_px`` per energy and angle (the displacement of the projection on the
  detector, px), ``defect_gain`` per column (0 where no defect); ``attrs``: every
  parameter, and ``truth_origin_px`` (z, y, x): where the truth grid's first voxel sits in
  a reconstruction of the last energy centred on its axis with the detector's rows as
  ``z`` (what :func:`batteryzoom.xanes.from_raw.xanes_from_raw` returns).
- ``grains``: the volume twin's per-grain table (mean, std, FWHM of the edge energy).
- ``model``: the generation parameters (JSON).

Deterministic: the same seed gives the same bytes (the noise of each energy comes from its
own generator, ``default_rng([seed, 1, energy index])``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import frames
from .xanes import particle_xanes

__all__ = ["particle_xanes_raw", "level", "ATTENUATION_SCALE"]

ATTENUATION_SCALE = 0.03  # attenuation per voxel = the volume twin's OD per voxel times this
AXIS_OFFSET_UM = 0.45  # rotation axis from the optical axis at the first energy (µm)
AXIS_DRIFT_UM = 0.06  # its drift over the scan (µm)
JITTER_UM = 0.05  # stage wobble per projection and axis (µm, Gaussian sigma)
N_FLATS = 4
N_DARKS = 2
DARK_COUNTS = 100.0
READ_NOISE_COUNTS = 3.0
N_DEFECT_COLUMNS = 5
DEFECT_GAIN = (0.01, 0.03)  # |gain change| of a defect column between flats and projections
GAIN_SPREAD = 0.02  # column-to-column gain (the same in flats and projections: corrected)
MARGIN_PX = {"small": (4, 8), "large": (8, 16)}  # detector rows, columns beyond the volume, per side


def level(preset: str = "small") -> "Level":
    """The grid of the acquisition's reconstruction at the reference (last) energy's pixel
    (what :func:`batteryzoom.xanes.xanes_from_raw` returns: the detector's rows × columns ×
    columns, centred on the axis), in the volume twin's frame: its voxel 0 is
    ``MARGIN_PX`` voxels before the volume twin's (``truth_origin_px``), and the grid
    overhangs the volume twin's box by that margin of air on purpose (``overhang_um``).

    Examples
    --------
    >>> from batteryzoom.data.twin import xanes_raw
    >>> lv = xanes_raw.level("small")
    >>> lv.shape, lv.voxel_size_um, lv.origin_um, lv.parent, lv.overhang_um
    ((64, 72, 72), (0.16, 0.16, 0.16), (-0.64, -1.28, -1.28), 'twin/particle-xanes', (0.64, 1.28, 1.28))
    """
    from ...frames import Level

    vol = frames.level("twin/particle-xanes", preset)
    v = vol.voxel_size_um[0]
    mr, mc = MARGIN_PX[preset]
    shape = (vol.shape[0] + 2 * mr, vol.shape[1] + 2 * mc, vol.shape[2] + 2 * mc)
    origin = tuple(round(-m * v, 6) for m in (mr, mc, mc))
    return Level("twin/particle-xanes-raw", shape, (v,) * 3, origin, parent=vol.name, scale="grain", preset=preset,
                 overhang_um=tuple(-o for o in origin))


def _project(volume: np.ndarray, angles_deg: np.ndarray, centre: float, ncol: int) -> np.ndarray:
    """``(angle, nz, ncol)`` float32 line integrals (per-voxel units) of ``(nz, n, n)``
    slices: bz.tomo's projector (its compiled kernel itself, so the bytes do not depend on
    ``BATTERYZOOM_NUMBA``; ranges of angles on the thread pool write disjoint memory, so
    nor on the thread count; data sits below bz.tomo and cannot import it)."""
    from ... import _blocks
    from ..._kernels.tomo import project_angles

    th = np.radians(np.asarray(angles_deg, np.float64))
    cos_a, msin_a = np.cos(th).astype(np.float32), (-np.sin(th)).astype(np.float32)
    vol = np.ascontiguousarray(volume, np.float32)
    out = np.zeros((th.size, volume.shape[0], ncol + 2), np.float32)
    _blocks.map_ranges(th.size, max(1, th.size // 8), lambda a0, a1: project_angles(
        vol, cos_a, msin_a, np.float32(centre), a0, a1, out[a0:a1]))
    return out[..., 1:-1]


def _cubic_weights(pos: np.ndarray, n: int) -> np.ndarray:
    """``(..., m, n)``: Keys' cubic convolution (a = -0.5) sampling ``n`` points at
    ``pos`` ``(..., m)`` (source index units; zero beyond the source)."""
    d = np.abs(pos[..., None] - np.arange(n))
    near = 1.5 * d**3 - 2.5 * d**2 + 1.0
    far = -0.5 * d**3 + 2.5 * d**2 - 4.0 * d + 2.0
    return np.where(d <= 1.0, near, np.where(d < 2.0, far, 0.0))


def _magnified(lines: np.ndarray, nrow: int, ncol: int, scale: float, row_centre: float, col_centre: float,
               shifts: np.ndarray, obj_row_centre: float, obj_col_centre: float) -> np.ndarray:
    """Projections ``(angle, z, u)`` sampled at the detector's pixels: at angle ``a``,
    pixel ``(r, c)`` sees ``((r - row_centre - dr_a) * scale + obj_row_centre, (c -
    col_centre - dc_a) * scale + obj_col_centre)`` (``scale`` the detector pixel over the
    voxel size, ``shifts`` ``(angle, 2)`` the jitter ``(dr, dc)``) by cubic convolution,
    separable: two small matrix products per angle."""
    zr = (np.arange(nrow)[None, :] - row_centre - shifts[:, :1]) * scale + obj_row_centre
    uc = (np.arange(ncol)[None, :] - col_centre - shifts[:, 1:]) * scale + obj_col_centre
    w_row = _cubic_weights(zr, lines.shape[1])  # (angle, nrow, nz)
    w_col = _cubic_weights(uc, lines.shape[2])  # (angle, ncol, nu)
    return np.matmul(np.matmul(w_row, lines.astype(np.float64)), w_col.transpose(0, 2, 1))


def particle_xanes_raw(seed: int, preset: str = "small", n_angles: int = 90, flux: float = 5e4,
                       flux_drop: float = 0.1) -> dict:
    """Generate the raw multi-energy tomography of the twin's particle, and its truth.

    Parameters
    ----------
    seed : int
        Seed of the acquisition's randomness (jitter, defects, counting noise); the
        chemistry is the volume twin's (its manifest seed).
    preset : {"small"}
        The volume twin's grid (``small``: 56³ voxels of 0.16 µm).
    n_angles : int
        Projections per energy over 180°.
    flux : float
        Open-beam photons per pixel per projection at the first energy.
    flux_drop : float
        Relative drop of the open-beam flux from the first energy to the last.

    Returns
    -------
    dict
        ``main`` (acquisition Dataset), ``truth`` (Dataset), ``grains`` (DataFrame),
        ``model`` (dict): the module docstring.
    """
    from .. import info

    if preset != "small":
        raise ValueError(f"preset={preset!r}: only 'small' is generated raw (the large one takes hours)")
    if int(n_angles) < 8 or not np.isfinite(flux) or flux <= 0:
        raise ValueError(f"n_angles={n_angles!r}, flux={flux!r}: give at least 8 angles and a positive flux")
    xanes_seed = int(info("twin/particle-xanes").seed)
    vol = particle_xanes(xanes_seed, preset, noise=0.0, shift_std_px=0.0)
    stack = np.asarray(vol["main"].values, np.float32) * ATTENUATION_SCALE  # attenuation per voxel
    level = frames.level("twin/particle-xanes", preset)
    voxel_um = float(level.voxel_size_um[0])
    energy = np.asarray(vol["main"]["energy"].values, np.float64)
    n_e, nz, ny, nx = stack.shape
    margin_r, margin_c = MARGIN_PX[preset]
    nrow, ncol = nz + 2 * margin_r, nx + 2 * margin_c
    rng = np.random.default_rng(seed)

    angles = np.arange(int(n_angles)) * (180.0 / int(n_angles))
    e_ref = float(energy[-1])
    pixel_um = voxel_um * energy / e_ref
    t = (energy - energy[0]) / (energy[-1] - energy[0])
    axis_um = AXIS_OFFSET_UM + AXIS_DRIFT_UM * t
    row_centre, col_centre = 0.5 * (nrow - 1), 0.5 * (ncol - 1)
    axis_col = col_centre + axis_um / pixel_um
    jitter_um = rng.normal(0.0, JITTER_UM, (n_e, int(n_angles), 2))
    jitter_px = jitter_um / pixel_um[:, None, None]
    gain = 1.0 + rng.normal(0.0, GAIN_SPREAD, ncol)
    defect = np.zeros(ncol)
    cols_bad = rng.choice(np.arange(margin_c + 4, ncol - margin_c - 4), N_DEFECT_COLUMNS, replace=False)
    defect[cols_bad] = rng.uniform(*DEFECT_GAIN, N_DEFECT_COLUMNS) * rng.choice([-1.0, 1.0], N_DEFECT_COLUMNS)
    flux_e = flux * (1.0 - flux_drop * t)

    # the projector's own detector: wide enough for the volume's diagonal, axis at the centre
    pad = int(np.ceil(0.5 * (np.sqrt(2.0) - 1.0) * nx)) + 3
    ncol_v = nx + 2 * pad
    obj_col_centre, obj_row_centre = pad + 0.5 * (nx - 1), 0.5 * (nz - 1)
    projections = np.empty((n_e, int(n_angles), nrow, ncol), np.uint16)
    flats = np.empty((n_e, N_FLATS, nrow, ncol), np.uint16)
    darks = np.empty((n_e, N_DARKS, nrow, ncol), np.uint16)
    for e in range(n_e):
        lines = _project(stack[e], angles, obj_col_centre, ncol_v)  # (angle, z, u) OD
        scale = pixel_um[e] / voxel_um
        od = _magnified(lines, nrow, ncol, scale, row_centre, axis_col[e], jitter_px[e], obj_row_centre,
                        obj_col_centre)
        noise = np.random.default_rng([seed, 1, e])
        beam = flux_e[e] * gain[None, None, :]
        counts = noise.poisson(beam * np.exp(-np.clip(od, 0.0, None)))
        dark = lambda shape: noise.normal(DARK_COUNTS, READ_NOISE_COUNTS, shape)  # noqa: E731
        projections[e] = np.clip(np.rint(counts + dark(counts.shape)), 0, 65535)
        flat = noise.poisson(np.broadcast_to(flux_e[e] * gain * (1.0 + defect), (N_FLATS, nrow, ncol)))
        flats[e] = np.clip(np.rint(flat + dark(flat.shape)), 0, 65535)
        darks[e] = np.clip(np.rint(dark((N_DARKS, nrow, ncol))), 0, 65535)

    from ...io.acquisition import make_acquisition

    model = {
        "volume_twin": "twin/particle-xanes", "volume_twin_seed": xanes_seed, "preset": preset,
        "n_angles": int(n_angles), "scan_range_deg": 180.0, "flux_photons_per_px": float(flux),
        "flux_drop": float(flux_drop), "attenuation_scale": ATTENUATION_SCALE,
        "magnification": "pixel_size_um = p_ref * E / E_ref (zone-plate focal length proportional to E)",
        "pixel_size_ref_um": voxel_um, "energy_ref_ev": e_ref,
        "axis_offset_um": AXIS_OFFSET_UM, "axis_drift_um": AXIS_DRIFT_UM, "jitter_um": JITTER_UM,
        "n_flats": N_FLATS, "n_darks": N_DARKS, "dark_counts": DARK_COUNTS, "read_noise_counts": READ_NOISE_COUNTS,
        "gain_spread": GAIN_SPREAD, "defect_columns": sorted(int(c) for c in cols_bad),
        "detector_shape": [nrow, ncol], "truth_origin_px": [margin_r, margin_c, margin_c],
    }
    acq = make_acquisition(projections, angles, flats=flats, darks=darks, angle_unit="deg", energy_ev=energy,
                           pixel_size_um=voxel_um, fmt="twin", source_path="twin/particle-xanes-raw",
                           attrs={"instrument": "synthetic TXM (batteryzoom twin)", "exposure_s": 1.0})
    truth = vol["truth"].copy()
    truth["pixel_size_um"] = (("energy",), pixel_um, {"units": "um"})
    truth["axis_col_px"] = (("energy",), axis_col, {"units": "px"})
    truth["jitter_row_px"] = (("energy", "angle"), jitter_px[..., 0], {"units": "px"})
    truth["jitter_col_px"] = (("energy", "angle"), jitter_px[..., 1], {"units": "px"})
    truth["defect_gain"] = (("col",), defect)
    truth = truth.assign_coords(energy=("energy", energy, {"units": "eV"}), angle=("angle", angles))
    truth.attrs.update({k: v for k, v in model.items() if not isinstance(v, dict)})
    truth.attrs["normalization_e0_ev"] = float(vol["model"]["normalization_e0_ev"])
    truth.attrs["grain_1_label"], truth.attrs["grain_2_label"] = (int(v) for v in vol["model"]["designated"].values())
    model["designated"] = vol["model"]["designated"]
    model["normalization_e0_ev"] = float(vol["model"]["normalization_e0_ev"])
    return {"main": acq, "truth": truth, "grains": vol["grains"], "model": model}


