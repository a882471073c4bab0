"""The twin's particle nano-CT as a propagation-based (holo)tomography acquires it.

The twin's particle (:mod:`.particle`: the same seed, grid, grains, cracks and pores as
``twin/particle-nanoct``) imaged with hard X-rays at a distance from the sample, where
phase contrast dominates:

- **complex refractive index** ``n = 1 - δ + iβ``, one material: each voxel's solid
  fraction (``density``, partial volume at every interface, grain boundaries less dense)
  times the values of fully dense NMC532 at ``ENERGY_EV`` (``DELTA``, ``BETA``, stated in
  the truth; δ from the electron density of LiNi0.5Mn0.3Co0.2O2 at 4.7 g/cm³, β from its
  tabulated mass attenuation, δ/β ≈ 31). One δ/β is what Paganin's retrieval assumes, and
  is true here: cracks and pores are empty, boundaries are the same material, less dense;
- **projections** over 180° (``n_angles`` equally spaced, endpoint excluded) of the
  solid fraction by the parallel-beam projector of :mod:`batteryzoom.tomo` (the compiled
  kernel, as :mod:`.xanes_raw` calls it), the rotation axis along the detector's rows
  ``AXIS_OFFSET_PX`` columns right of the detector's centre;
- **exit wave** ``ψ = exp(-k (β + iδ) L)`` (``L`` the projected solid length, µm;
  ``k = 2π/λ``), **Fresnel propagation** over ``distance_m`` (the paraxial propagator
  ``exp(-iπλD|f|²)`` on the detector grid padded to twice its size with free space),
  intensity ``|ψ_D|²``: the fringes at every edge that make the raw projections look
  nothing like an absorption image;
- **counts**: Poisson counting of ``flux`` photons per pixel per projection times a
  per-pixel detector gain (the same in flats and projections: flat-field corrected),
  a dark current with read noise; ``N_FLATS`` flats and ``N_DARKS`` darks.

Pixel size at the sample = the nano-CT's voxel size; detector rows = ``z``. Parts
(``bz.data.load("twin/particle-nanoct-raw", part=...)``):

- ``main``: the acquisition Dataset of :mod:`batteryzoom.io.acquisition`
  (``projections`` ``(angle, row, col)`` uint16 counts, ``flats``, ``darks``;
  ``energy_ev``, ``pixel_size_um`` attrs).
- ``truth``: Dataset on the nano-CT's grid: ``grains`` (int32 labels), ``density``,
  ``cracks``, ``pores``; ``attrs``: every parameter (``delta``, ``beta``,
  ``delta_beta``, ``distance_m``, ``energy_ev``, ``axis_col_px``, ...) and
  ``truth_origin_px`` ``(z, y, x)``: where the truth grid's voxel 0 sits in a
  reconstruction centred on the axis, of the detector's width, rows as ``z`` (what
  ``bz.tomo.reconstruct`` returns); :func:`level` is that reconstruction's grid.
- ``grain_table``: the nano-CT's per-grain truth (:func:`.particle.particle_nanoct`'s).
- ``model``: the generation parameters (JSON).

Deterministic: the same seed gives the same bytes.
"""

from __future__ import annotations

import numpy as np

from ...frames import Level
from . import frames
from .particle import _grain_table, particle_structure
from .xanes_raw import _project

__all__ = ["particle_nanoct_raw", "level", "ENERGY_EV", "DELTA", "BETA", "DISTANCE_M"]

ENERGY_EV = 17_000.0  # photon energy (eV); λ = 72.9 pm
# fully dense NMC532 (4.7 g/cm³) at 17 keV: δ = r_e λ² n_e / 2π with n_e = 1.35e30 /m³;
# β = μλ/4π with μ ≈ 177 /cm (mass attenuation ≈ 38 cm²/g, Ni/Mn/Co above their K-edges)
DELTA = 3.2e-6
BETA = 1.0e-7
DISTANCE_M = 2e-4  # effective propagation distance: fringes of √(λD) ≈ 0.12 µm, 1.5 voxels
AXIS_OFFSET_PX = 0.6  # rotation axis right of the detector's centre column (px)
N_FLATS = 10
N_DARKS = 5
DARK_COUNTS = 100.0
READ_NOISE_COUNTS = 3.0
GAIN_SPREAD = 0.03  # pixel-to-pixel detector gain (relative SD), corrected by the flats
MARGIN_PX = (4, 8)  # detector rows and columns beyond the nano-CT's box, per side
HC_EV_UM = 1.23984198  # h·c (eV·µm)


def level(preset: str = "small") -> Level:
    """The grid of the acquisition's reconstruction (``bz.tomo.reconstruct``'s output with
    the default width: the detector's rows × columns × columns, centred on the axis), in
    the nano-CT's frame: its voxel 0 is ``MARGIN_PX`` voxels before the nano-CT's, and the
    grid overhangs the nano-CT's box by that margin of air on purpose (``overhang_um``).

    Examples
    --------
    >>> from batteryzoom.data.twin import particle_raw
    >>> lv = particle_raw.level("small")
    >>> lv.shape, lv.voxel_size_um, lv.origin_um, lv.parent, lv.overhang_um
    ((120, 128, 128), (0.08, 0.08, 0.08), (-0.32, -0.64, -0.64), 'twin/particle-nanoct', (0.32, 0.64, 0.64))
    """
    nano = frames.level("twin/particle-nanoct", preset)
    v = nano.voxel_size_um[0]
    mr, mc = MARGIN_PX
    shape = (nano.shape[0] + 2 * mr, nano.shape[1] + 2 * mc, nano.shape[2] + 2 * mc)
    origin = tuple(round(-m * v, 6) for m in (mr, mc, mc))
    return Level("twin/particle-nanoct-raw", shape, (v,) * 3, origin, parent=nano.name, scale="particle",
                 preset=preset, overhang_um=tuple(-o for o in origin))


def _propagate(lines_um: np.ndarray, wavelength_um: float, distance_um: float, pixel_um: float) -> np.ndarray:
    """``|ψ_D|²`` of ``(angle, row, col)`` projected solid lengths (µm): the exit wave of
    one material (``DELTA``, ``BETA``) propagated by the Fresnel propagator, the detector
    padded with free space (ψ = 1) to twice its size so the periodic FFT does not wrap."""
    from scipy import fft as sfft

    n_a, nrow, ncol = lines_um.shape
    pr, pc = sfft.next_fast_len(2 * nrow), sfft.next_fast_len(2 * ncol)
    fy, fx = sfft.fftfreq(pr, d=pixel_um), sfft.fftfreq(pc, d=pixel_um)
    kernel = np.exp(-1j * np.pi * wavelength_um * distance_um * (fy[:, None] ** 2 + fx[None, :] ** 2))
    k = 2 * np.pi / wavelength_um
    out = np.empty(lines_um.shape, np.float64)
    for a0 in range(0, n_a, 32):  # blocks of angles bound the complex buffers (~30 MB)
        wave = np.ones((min(32, n_a - a0), pr, pc), np.complex128)
        wave[:, :nrow, :ncol] = np.exp(-k * (BETA + 1j * DELTA) * lines_um[a0:a0 + 32])
        wave = sfft.ifft2(sfft.fft2(wave, axes=(-2, -1), workers=1) * kernel, axes=(-2, -1), workers=1)
        out[a0:a0 + 32] = np.abs(wave[:, :nrow, :ncol]) ** 2
    return out


def particle_nanoct_raw(seed: int, preset: str = "small", n_angles: int = 180, flux: float = 2e4,
                        distance_m: float = DISTANCE_M) -> dict:
    """Generate the raw propagation-based tomography of the twin's particle, and its truth.

    Parameters
    ----------
    seed : int
        Seed of the acquisition's randomness (gain, counting and read noise); the particle
        is the nano-CT twin's (its manifest seed).
    preset : {"small"}
        The nano-CT twin's grid (``small``: 112³ voxels of 80 nm).
    n_angles : int
        Projections over 180°.
    flux : float
        Open-beam photons per pixel per projection.
    distance_m : float
        Effective sample–detector propagation distance (m).

    Returns
    -------
    dict
        ``main`` (acquisition Dataset), ``truth`` (Dataset), ``grain_table`` (DataFrame),
        ``model`` (dict): the module docstring.
    """
    import xarray as xr

    from .. import info
    from ...io.acquisition import make_acquisition

    if preset != "small":
        raise ValueError(f"preset={preset!r}: only 'small' is generated raw")
    if int(n_angles) < 8 or not (np.isfinite(flux) and flux > 0) or not (np.isfinite(distance_m) and distance_m > 0):
        raise ValueError(f"n_angles={n_angles!r}, flux={flux!r}, distance_m={distance_m!r}: give at least 8 "
                         "angles, a positive flux and a positive distance")
    nano_seed = int(info("twin/particle-nanoct").seed)
    nano = frames.level("twin/particle-nanoct", preset)
    structure = particle_structure(nano_seed, nano)
    density = structure["density"]
    voxel_um = float(nano.voxel_size_um[0])
    nz, ny, nx = density.shape
    mr, mc = MARGIN_PX
    nrow, ncol = nz + 2 * mr, nx + 2 * mc
    axis_col = 0.5 * (ncol - 1) + AXIS_OFFSET_PX
    angles = np.arange(int(n_angles)) * (180.0 / int(n_angles))
    lines = np.zeros((angles.size, nrow, ncol), np.float32)
    lines[:, mr:mr + nz] = _project(density, angles, axis_col, ncol)
    wavelength_um = HC_EV_UM / ENERGY_EV
    intensity = _propagate(lines * voxel_um, wavelength_um, distance_m * 1e6, voxel_um)

    rng = np.random.default_rng(seed)
    gain = 1.0 + rng.normal(0.0, GAIN_SPREAD, (nrow, ncol))
    beam = flux * gain

    def frame_counts(expected: np.ndarray) -> np.ndarray:
        counts = rng.poisson(expected) + rng.normal(DARK_COUNTS, READ_NOISE_COUNTS, expected.shape)
        return np.clip(np.rint(counts), 0, 65535).astype(np.uint16)

    projections = frame_counts(beam * intensity)
    flats = frame_counts(np.broadcast_to(beam, (N_FLATS, nrow, ncol)))
    darks = frame_counts(np.zeros((N_DARKS, nrow, ncol)))
    model = {
        "particle_twin": "twin/particle-nanoct", "particle_twin_seed": nano_seed, "preset": preset,
        "n_angles": int(n_angles), "scan_range_deg": 180.0, "flux_photons_per_px": float(flux),
        "energy_ev": ENERGY_EV, "wavelength_um": wavelength_um, "distance_m": float(distance_m),
        "delta": DELTA, "beta": BETA, "delta_beta": DELTA / BETA,
        "material": "NMC532, 4.7 g/cm3 (fully dense; each voxel scaled by its solid fraction)",
        "propagation": "paraxial Fresnel propagator exp(-i pi lambda D |f|^2), detector padded with free space",
        "pixel_size_um": voxel_um, "axis_col_px": axis_col, "axis_offset_px": AXIS_OFFSET_PX,
        "n_flats": N_FLATS, "n_darks": N_DARKS, "dark_counts": DARK_COUNTS,
        "read_noise_counts": READ_NOISE_COUNTS, "gain_spread": GAIN_SPREAD,
        "detector_shape": [nrow, ncol], "truth_origin_px": [mr, mc, mc],
    }
    acq = make_acquisition(projections, angles, flats=flats, darks=darks, angle_unit="deg", energy_ev=ENERGY_EV,
                           pixel_size_um=voxel_um, fmt="twin", source_path="twin/particle-nanoct-raw",
                           attrs={"instrument": "synthetic nano-holotomography (batteryzoom twin)",
                                  "distance_m": float(distance_m), "exposure_s": 1.0})
    coords = nano.coords()
    dims = ("z", "y", "x")
    truth = xr.Dataset(
        {
            "grains": (dims, structure["grains"], {"units": "label", "description": "true primary-grain labels"}),
            "density": (dims, density, {"units": "solid fraction"}),
            "cracks": (dims, structure["cracks"], {"units": "mask"}),
            "pores": (dims, structure["pores"], {"units": "mask"}),
        },
        coords=coords,
        attrs={**nano.attrs(), **model},
    )
    return {"main": acq, "truth": truth, "grain_table": _grain_table(structure["grains"], structure, nano),
            "model": model}
