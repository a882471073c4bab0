"""The twin's grain-scale 3D XANES at the Ni K-edge, with ground truth.

A stack ``(energy, z, y, x)`` of optical density over the designated secondary particle,
co-registered with the particle nano-CT (same box, same primary grains: the grain
geometry comes from :func:`.grains.particle_geometry` with the nano-CT's seed, read from
the manifest entry ``twin/particle-nanoct``).

Each voxel's spectrum is ``OD(E) = bg(E) + J * mu(E)``:

- ``mu``: the Ni K-edge model of :mod:`.ni_edge_model` (fitted to the real NiO and
  LiNiO2 standards) as a mixture ``(1 - f) NiO + f LiNiO2`` shifted by ``delta`` eV, with
  ``f`` and ``delta`` chosen so the voxel's half-step edge energy is its designed value.
- chemistry: every grain has its own mean edge energy (spread ~0.5 eV between grains)
  and its own within-grain spread (log-normal: some grains far more uniform than others),
  on top of a particle-scale trend (surface more reduced than the core); within a grain
  the variation is a smooth Gaussian random field (correlation ~0.3 µm). Two designated
  grains reproduce the study's Fig. S3: ``grain 2`` more oxidized (mean ~8342.5 eV) and
  ``grain 1`` less uniform (wider distribution); their labels are in the ``model`` part.
- ``J``: edge jump proportional to the local density (the solid fraction of the voxel
  from :func:`.particle.particle_structure`: partial volume at the surface, cracks, pores
  and grain boundaries) seen through the microscope's point-spread function (a Gaussian
  of ``PSF_SIGMA_PX`` voxels); ``bg``: the absorption of the other elements,
  ``∝ density * E**-2.7``, through the same PSF. The PSF acts on the amount of material
  only: each voxel keeps its own chemistry (so its true edge energy stays its own), and
  the blurred halo just outside the particle takes the chemistry of the nearest particle
  voxel. Without a PSF the voxel-sharp surface rings under any sub-pixel shift and the
  re-aligned frames carry per-energy artefacts no band-limited instrument produces
  (on the small twin they crowded out the 4th and 5th chemical components of a PCA).
- measurement: every energy's volume is displaced by a random sub-pixel-to-few-pixel
  shift (a Fourier shift on odd FFT lengths: band-limited and exactly invertible; what
  moves beyond the field of view is cropped away), then Gaussian noise is added.

Ground truth (parts of ``bz.data.load("twin/particle-xanes", part=...)``):

- ``truth``: per voxel ``edge_energy_ev`` (half-step of the Ni edge ``mu`` alone, the
  material's property: noise-free, aligned, without the matrix background, normalized
  with Larch's default ranges for the stack's e0, crossing found on the continuous
  model; the background's ``E**-2.7`` curvature moves what a straight pre-edge line
  measures by -0.007 eV, see :mod:`batteryzoom.xanes.normalization`),
  ``edge_energy_derivative_ev`` and ``edge_energy_white_line_ev``
  (maxima of the continuous normalized curve and of its derivative), ``grain_labels``,
  ``density`` (the solid fraction, before the PSF), ``edge_jump`` (``J`` as measured:
  through the PSF), ``fraction_ni3``.
- ``grains``: one row per grain: mean, std and FWHM (``2.3548 * std``) of the per-voxel
  edge energy, voxel count, centroid, designation.
- ``shifts``: the applied displacement of each energy's volume (pixels, z y x); the last
  energy (the default alignment reference) is not displaced.
- ``model``: the normalization e0, designated labels and generation parameters.

The ``large`` preset ``(60, 256, 256, 256)`` float32 is returned as a dask array built
block by block, so writing it to zarr streams chunk by chunk (the whole stack is never
in memory).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from . import _larch, frames, grains
from .ni_edge_model import load_params, mixture, ni_edge

__all__ = ["particle_xanes", "energy_grid", "truth_table", "NOMINAL_EDGE_EV"]

NOMINAL_EDGE_EV = 8341.2  # particle-mean half-step edge energy (eV, the standards' scale)
GRAIN_SPREAD_EV = 0.5  # std of grain mean edge energies
WITHIN_MEDIAN_EV = 0.18  # median within-grain std; log-normal spread below
WITHIN_LOG_SIGMA = 0.6
TREND_EV = 0.8  # core minus surface (surface reduced)
CORRELATION_UM = 0.3  # within-grain random field
GRAIN1 = {"mean_ev": 8341.3, "std_ev": 0.55}
GRAIN2 = {"mean_ev": 8342.5, "std_ev": 0.12}
JUMP_PER_DENSITY = 0.5  # edge jump (OD per voxel) of fully dense material
BACKGROUND_PER_DENSITY = 0.7  # non-Ni absorption at the edge (OD per voxel)
PSF_SIGMA_PX = 1.0  # microscope point-spread function (Gaussian sigma, voxels of the stack)
MAX_SHIFT_PX = 2.5
SHIFT_STD_PX = 0.9
CHUNK = {"small": 56, "large": 64}


def energy_grid() -> np.ndarray:
    """The beamline-like energy grid (eV, 60 points): 10 eV steps 8200-8320, 8325, 8328,
    1 eV steps 8330-8360, then coarse steps to 8600."""
    post = [8365, 8370, 8380, 8390, 8400, 8415, 8430, 8450, 8470, 8490, 8515, 8540, 8570, 8600]
    grid = np.concatenate([np.arange(8200, 8321, 10), [8325, 8328], np.arange(8330, 8361, 1), post])
    return grid.astype(np.float64)


def _features_from_parts(energy_grid_ev, grid_parts, dense_ev, dense_parts, fractions, e0_ev, smooth_ev):
    """Half-step, smoothed-derivative-max and white-line energies of continuous normalized
    mixture curves ``(1 - f) part0 + f part1`` (each part ``(points, K)``), per ``f``.

    Normalization follows Larch's rules for ``e0_ev`` on ``energy_grid_ev`` (the grid the
    stack is measured on; :mod:`._larch`, written apart from ``bz.xanes``, the code the
    truth checks); the features are then found on the continuous (dense) curves.
    """
    step_e = dense_ev[1] - dense_ev[0]
    inside = (dense_ev >= e0_ev - 15) & (dense_ev <= e0_ev + 15)
    wl_win = (dense_ev >= e0_ev) & (dense_ev <= e0_ev + 25)
    out = {"half_step": [], "derivative": [], "white_line": []}
    for f in fractions:
        grid = (1 - f) * grid_parts[0] + f * grid_parts[1]
        dense = (1 - f) * dense_parts[0] + f * dense_parts[1]
        pre, step = _larch.fit_pre_edge(energy_grid_ev, grid, e0_ev)
        curve = (dense - (pre[0][None] + (dense_ev[:, None] - e0_ev) * pre[1][None])) / step[None]
        cross = (curve[:-1] < 0.5) & (curve[1:] >= 0.5)
        dist = np.where(cross, np.abs(dense_ev[:-1, None] - e0_ev), np.inf)
        k = dist.argmin(axis=0)
        cols = np.arange(curve.shape[1])
        y0, y1 = curve[k, cols], curve[k + 1, cols]
        out["half_step"].append(dense_ev[k] + (0.5 - y0) / (y1 - y0) * step_e)
        # smoothed derivative on a 0.05 eV sub-grid (the Gaussian is 1 eV wide), max refined
        # by the vertex of the parabola through the top three points
        sub_e, sub_c = dense_ev[::5], curve[::5]
        deriv = ndimage.gaussian_filter1d(np.gradient(sub_c, sub_e, axis=0), smooth_ev / (sub_e[1] - sub_e[0]), axis=0)
        j = np.clip(np.where(inside[::5, None], deriv, -np.inf).argmax(axis=0), 1, len(sub_e) - 2)
        d0, d1, d2 = deriv[j - 1, cols], deriv[j, cols], deriv[j + 1, cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(d0 - 2 * d1 + d2 < 0, 0.5 * (d0 - d2) / (d0 - 2 * d1 + d2), 0.0)
        out["derivative"].append(sub_e[j] + np.clip(frac, -1, 1) * (sub_e[1] - sub_e[0]))
        out["white_line"].append(dense_ev[np.where(wl_win[:, None], curve, -np.inf).argmax(axis=0)])
    return {k: np.asarray(v) for k, v in out.items()}


def truth_table(e0_ev: float, fractions=None, shifts_ev=None, smooth_ev: float = 1.0) -> dict:
    """Edge energies of the mixture model on a grid of ``(f, delta)`` (see module docstring).

    ``derivative`` is the maximum of the derivative smoothed by a Gaussian of
    ``smooth_ev`` (the default of :func:`batteryzoom.xanes.edge_maps`): the quantity that
    method estimates.
    """
    f = np.linspace(0.0, 1.0, 21) if fractions is None else np.asarray(fractions)
    dl = np.linspace(-3.5, 3.5, 71) if shifts_ev is None else np.asarray(shifts_ev)
    grid = energy_grid()
    dense = np.arange(e0_ev - 25.0, e0_ev + 35.0, 0.01)
    std = load_params()["standards"]
    grid_parts = [ni_edge(grid[:, None] - dl[None], std[m]["params"]) for m in ("NiO", "LiNiO2")]
    dense_parts = [ni_edge(dense[:, None] - dl[None], std[m]["params"]) for m in ("NiO", "LiNiO2")]
    feats = _features_from_parts(grid, grid_parts, dense, dense_parts, f, e0_ev, smooth_ev)
    return {"fraction": f, "shift_ev": dl, **feats}


def _interp2(table, key, f, delta):
    from scipy.interpolate import RegularGridInterpolator

    interp = RegularGridInterpolator((table["fraction"], table["shift_ev"]), table[key])
    pts = np.column_stack([np.clip(f, 0, 1), np.clip(delta, table["shift_ev"][0], table["shift_ev"][-1])])
    return interp(pts)


def _designated(geometry: grains.ParticleGeometry) -> tuple[int, int]:
    """Labels of Fig. S3's grains 1 and 2: the two largest-weight interior grains."""
    r = np.linalg.norm(geometry.seeds_um, axis=1)
    interior = np.nonzero(r < 0.5 * geometry.radius_um)[0]
    order = interior[np.argsort(-geometry.weights_um2[interior], kind="stable")]
    return int(order[0]) + 1, int(order[1]) + 1


def _standardize_by_label(field, labels, index):
    with np.errstate(invalid="ignore"):  # scipy also divides for absent labels; unused
        mean = np.asarray(ndimage.mean(field, labels, index))
        std = np.sqrt(np.asarray(ndimage.variance(field, labels, index)))
    lut_m = np.zeros(labels.max() + 1)
    lut_s = np.ones(labels.max() + 1)
    lut_m[index], lut_s[index] = mean, np.where(std > 0, std, 1.0)
    return (field - lut_m[labels]) / lut_s[labels]


def _target_edges(rng, level, geometry, labels, present, r_um) -> tuple[np.ndarray, int, int]:
    """Every voxel's designed half-step edge energy (eV, NaN outside the particle): each
    grain's own mean and within-grain spread, a particle-scale trend, a smooth random
    field; and the labels of Fig. S3's grains 1 and 2 (module docstring)."""
    inside = labels > 0
    voxel = level.voxel_size_um[0]
    n_all = geometry.n_grains
    grain_offset = rng.normal(0.0, GRAIN_SPREAD_EV, n_all + 1)
    within = np.clip(WITHIN_MEDIAN_EV * np.exp(rng.normal(0.0, WITHIN_LOG_SIGMA, n_all + 1)), 0.04, 0.45)
    g1, g2 = _designated(geometry)
    within[g1], within[g2] = GRAIN1["std_ev"], GRAIN2["std_ev"]
    trend = TREND_EV * ((1.0 - (r_um / geometry.radius_um) ** 2) - 0.4)
    white = rng.standard_normal(level.shape)
    field = ndimage.gaussian_filter(white, CORRELATION_UM / voxel, mode="wrap")
    field = np.where(inside, _standardize_by_label(field, labels, present), 0.0)
    trend_mean = np.zeros(n_all + 1)
    trend_mean[present] = ndimage.mean(trend, labels, present)
    mean_ev = NOMINAL_EDGE_EV + grain_offset
    for g, spec in ((g1, GRAIN1), (g2, GRAIN2)):
        mean_ev[g] = spec["mean_ev"] - trend_mean[g]  # so the grain's voxel mean is the target
    target = np.where(inside, mean_ev[labels] + trend + within[labels] * field, np.nan)
    return target, g1, g2


def _voxel_chemistry(energy, target, inside) -> tuple[np.ndarray, np.ndarray, dict, float]:
    """``(f_vox, delta, truth, e0_norm)``: each voxel's mixture fraction and shift (eV) that
    reproduce its target half-step, the exact truth of that (f, delta) by each method, and
    the stack's normalization e0 (Larch's find_e0 of the noise-free mean spectrum)."""
    params = load_params()["standards"]
    h0 = params["NiO"]["model"]["half_step_ev"]
    h1 = params["LiNiO2"]["model"]["half_step_ev"]
    f_vox = np.where(inside, np.clip((target - h0) / (h1 - h0), 0.0, 1.0), 0.0)
    sub = inside[::2, ::2, ::2] if inside.sum() > 50_000 else inside
    f_mean = float(np.nanmean(f_vox[::2, ::2, ::2][sub] if sub is not inside else f_vox[inside]))
    # the stack's normalization e0: Larch's find_e0 on the noise-free particle-mean spectrum
    mean_spec = mixture(energy, f_mean, float(np.nanmean(target[inside])) - (h0 + f_mean * (h1 - h0)))
    e0_norm = _larch.find_e0(energy, mean_spec)
    table = truth_table(e0_norm)
    # shift that puts the half-step on target, then the exact truth of that (f, delta)
    base_half = _interp2(table, "half_step", f_vox[inside], np.zeros(int(inside.sum())))
    delta = np.zeros(target.shape)
    delta[inside] = target[inside] - base_half
    truth = {}
    for key in ("half_step", "derivative", "white_line"):
        vol = np.full(target.shape, np.nan, np.float32)
        vol[inside] = _interp2(table, key, f_vox[inside], delta[inside])
        truth[key] = vol
    return f_vox, delta, truth, e0_norm


def particle_xanes(seed: int, preset: str = "small", noise: float = 0.02, shift_std_px: float = SHIFT_STD_PX) -> dict:
    """Generate the twin's 3D XANES stack and its ground truth.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng`` (chemistry, shifts, noise); the grain
        geometry uses the nano-CT's seed from the manifest, so both share grains.
    preset : {"small", "large"}
        ``small``: 56³ voxels of 0.16 µm; ``large``: 256³ of 0.035 µm (dask, streamed).
    noise : float
        Noise std per voxel and energy, as a fraction of the edge jump of dense material
        (``JUMP_PER_DENSITY`` OD).

    Returns
    -------
    dict
        ``main`` (DataArray ``(energy, z, y, x)`` float32 optical density, coords eV and
        µm, frame attrs), ``truth`` (Dataset), ``grains`` and ``shifts`` (DataFrames),
        ``model`` (dict). See the module docstring.
    """
    from .. import info

    from .particle import particle_structure

    level = frames.level("twin/particle-xanes", preset)
    nanoct_seed = int(info("twin/particle-nanoct").seed)
    # the nano-CT's particle sampled on the XANES grid: same grains, cracks, pores
    structure = particle_structure(nanoct_seed, level)
    geometry = structure["geometry"]
    labels = structure["grains"]
    rng = np.random.default_rng(seed)
    energy = energy_grid()

    # distance to the particle centre; solid fraction per voxel (partial volume at the
    # surface, cracks, pores, grain boundaries) from the shared particle structure
    centre = grains.particle_centre_um(level)
    axes = [np.arange(n) * v - c for n, v, c in zip(level.shape, level.voxel_size_um, centre)]
    r_um = np.sqrt(axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2)
    inside = labels > 0
    density = np.where(inside, structure["density"], 0.0).astype(np.float32)
    present = np.unique(labels[inside])

    target, g1, g2 = _target_edges(rng, level, geometry, labels, present, r_um)
    f_vox, delta, truth, e0_norm = _voxel_chemistry(energy, target, inside)

    # the amount of material as the microscope sees it (PSF); each voxel keeps its own
    # chemistry, the halo just outside the particle that of the nearest particle voxel
    seen = ndimage.gaussian_filter(density, PSF_SIGMA_PX).astype(np.float32)
    seen[seen < 1e-4] = 0.0  # the Gaussian's far tails: no material worth a spectrum
    nearest = ndimage.distance_transform_edt(~inside, return_distances=False, return_indices=True)
    f_vox = np.where(inside, f_vox, f_vox[tuple(nearest)])
    delta = np.where(inside, delta, delta[tuple(nearest)])
    del nearest
    jump = (JUMP_PER_DENSITY * seen).astype(np.float32)

    shifts = np.clip(rng.normal(0.0, 1.0, (len(energy), 3)) * shift_std_px, -MAX_SHIFT_PX, MAX_SHIFT_PX)
    shifts[-1] = 0.0
    sigma_od = noise * JUMP_PER_DENSITY
    standards = load_params()["standards"]
    stack = _build_stack(level, energy, seen, jump, f_vox.astype(np.float32), delta.astype(np.float32),
                         shifts, sigma_od, seed, CHUNK[preset], lazy=(preset == "large"))

    coords = {k: (k, v, {"units": "um"}) for k, v in level.coords().items()}
    attrs = {**level.attrs(), "units": "optical density -ln(I/I0)", "noise_od": sigma_od,
             "normalization_e0_ev": e0_norm, "grain_1_label": g1, "grain_2_label": g2}
    main = xr.DataArray(stack, dims=("energy", "z", "y", "x"),
                        coords={"energy": ("energy", energy, {"units": "eV"}), **coords},
                        name="optical_density", attrs=attrs)
    truth_ds = xr.Dataset(
        {
            "edge_energy_ev": (("z", "y", "x"), truth["half_step"], {"units": "eV", "method": "half step"}),
            "edge_energy_derivative_ev": (("z", "y", "x"), truth["derivative"], {"units": "eV"}),
            "edge_energy_white_line_ev": (("z", "y", "x"), truth["white_line"], {"units": "eV"}),
            "grain_labels": (("z", "y", "x"), labels.astype(np.int32)),
            "density": (("z", "y", "x"), density),
            "edge_jump": (("z", "y", "x"), jump, {"units": "optical density"}),
            "fraction_ni3": (("z", "y", "x"), np.where(inside, f_vox, 0.0).astype(np.float32)),
        },
        coords=coords,
        attrs=level.attrs(),
    )
    grain_table = _grain_table(truth["half_step"], labels, present, level, centre, g1, g2)
    shift_table = pd.DataFrame({"energy_ev": energy, "shift_z_px": shifts[:, 0], "shift_y_px": shifts[:, 1],
                                "shift_x_px": shifts[:, 2]})
    model = {
        "normalization_e0_ev": e0_norm,
        "designated": {"grain 1": g1, "grain 2": g2},
        "nanoct_seed": nanoct_seed,
        "noise_fraction_of_jump": noise,
        "noise_od": sigma_od,
        "jump_per_density_od": JUMP_PER_DENSITY,
        "background_per_density_od": BACKGROUND_PER_DENSITY,
        "psf_sigma_px": PSF_SIGMA_PX,
        "nominal_edge_ev": NOMINAL_EDGE_EV,
        "grain_spread_ev": GRAIN_SPREAD_EV,
        "trend_core_minus_surface_ev": TREND_EV,
        "standards_half_step_ev": {m: standards[m]["model"]["half_step_ev"] for m in ("NiO", "LiNiO2")},
        "truth_definition": "half step of the noise-free aligned Ni edge without the matrix background, Larch "
                            "default ranges for normalization_e0_ev on the stack's grid, crossing on the continuous model",
    }
    return {"main": main, "truth": truth_ds, "grains": grain_table, "shifts": shift_table, "model": model}


def _grain_table(edge, labels, present, level, centre, g1, g2) -> pd.DataFrame:
    with np.errstate(invalid="ignore"):  # scipy also divides for absent labels; unused
        mean = np.asarray(ndimage.mean(edge, labels, present))
        std = np.sqrt(np.asarray(ndimage.variance(edge, labels, present)))
    count = np.asarray(ndimage.sum(np.ones_like(edge), labels, present)).astype(int)
    com = np.asarray(ndimage.center_of_mass(np.ones(labels.shape), labels, present)).reshape(-1, 3)
    com_um = com * np.asarray(level.voxel_size_um)
    radius = np.linalg.norm(com_um - centre, axis=1)
    designation = np.where(present == g1, "grain 1", np.where(present == g2, "grain 2", ""))
    return pd.DataFrame({
        "label": present.astype(np.int32),
        "n_voxels": count,
        "edge_energy_mean_ev": mean,
        "edge_energy_std_ev": std,
        "edge_energy_fwhm_ev": 2.0 * math.sqrt(2.0 * math.log(2.0)) * std,
        "centroid_z_um": com_um[:, 0], "centroid_y_um": com_um[:, 1], "centroid_x_um": com_um[:, 2],
        "centroid_radius_um": radius,
        "designation": designation,
    })


def _fourier_shift(volume: np.ndarray, shift) -> np.ndarray:
    # an odd length per axis (one more zero where even): no Nyquist bin, so the shift is
    # unitary and exactly invertible; with an even length the real transform keeps only
    # cos(pi s) of the Nyquist component and the information is gone
    padded = np.pad(volume, [(0, 1 - n % 2) for n in volume.shape])
    spectrum = ndimage.fourier_shift(np.fft.rfftn(padded), shift, n=padded.shape[-1])
    out = np.fft.irfftn(spectrum, s=padded.shape, axes=tuple(range(volume.ndim)))
    return out[tuple(slice(0, n) for n in volume.shape)].astype(np.float32)


def _build_stack(level, energy, density, jump, f_vox, delta, shifts, sigma_od, seed, chunk, lazy):
    """The measured stack, computed block by block (Fourier shifts inside a zero halo)."""
    # Fourier (band-limited) shifts: invertible (odd FFT lengths, see _fourier_shift), so
    # alignment can undo them without blurring neighbouring grains together; what the crop
    # to the field of view cuts off is lost (alignment's common field of view excludes
    # it). The halo of zeros around each block keeps the periodic wrap-around away from
    # the block (exact for a single block, as in `small`; within a tiny ringing error at
    # block seams for the streamed `large` preset).
    halo = int(math.ceil(np.abs(shifts).max())) + 8
    pad = [(halo, halo)] * 3
    fields = {k: np.pad(v, pad) for k, v in
              (("density", density), ("jump", jump), ("f", f_vox), ("delta", delta))}
    shape = level.shape
    nblocks = [math.ceil(n / chunk) for n in shape]
    background = BACKGROUND_PER_DENSITY * (energy / 8333.0) ** -2.7
    std = load_params()["standards"]

    def block(z0, y0, x0, nz, ny, nx, block_id):
        sl = tuple(slice(o, o + n + 2 * halo) for o, n in zip((z0, y0, x0), (nz, ny, nx)))
        dens, jmp = fields["density"][sl], fields["jump"][sl]
        occupied = dens > 0
        fv, dv, jv = fields["f"][sl][occupied], fields["delta"][sl][occupied], jmp[occupied]
        out = np.empty((len(energy), nz, ny, nx), np.float32)
        ext = np.zeros(dens.shape, np.float32)
        for i, e in enumerate(energy):
            ext[...] = background[i] * dens
            if fv.size:
                shifted_e = e - dv
                mu = (1.0 - fv) * ni_edge(shifted_e, std["NiO"]["params"]) + fv * ni_edge(shifted_e, std["LiNiO2"]["params"])
                ext[occupied] += (jv * mu).astype(np.float32)
            moved = _fourier_shift(ext, shifts[i]) if np.any(shifts[i]) else ext
            out[i] = moved[halo : halo + nz, halo : halo + ny, halo : halo + nx]
        if sigma_od > 0:
            noise_rng = np.random.default_rng([seed, 7, *block_id])
            out += noise_rng.normal(0.0, sigma_od, out.shape).astype(np.float32)
        return out

    def chunk_sizes(n):
        return tuple(min(chunk, n - s) for s in range(0, n, chunk))

    if not lazy:
        out = np.empty((len(energy),) + shape, np.float32)
        for bz_ in range(nblocks[0]):
            for by in range(nblocks[1]):
                for bx in range(nblocks[2]):
                    z0, y0, x0 = bz_ * chunk, by * chunk, bx * chunk
                    nz, ny, nx = min(chunk, shape[0] - z0), min(chunk, shape[1] - y0), min(chunk, shape[2] - x0)
                    out[:, z0 : z0 + nz, y0 : y0 + ny, x0 : x0 + nx] = block(z0, y0, x0, nz, ny, nx, (bz_, by, bx))
        return out
    import dask.array as da

    chunks = ((len(energy),),) + tuple(chunk_sizes(n) for n in shape)

    def make(block_info=None):
        loc = block_info[None]["chunk-location"][1:]
        rng_ = block_info[None]["array-location"][1:]
        (z0, z1), (y0, y1), (x0, x1) = rng_
        return block(z0, y0, x0, z1 - z0, y1 - y0, x1 - x0, tuple(loc))

    return da.map_blocks(make, chunks=chunks, dtype=np.float32, meta=np.empty((0, 0, 0, 0), np.float32))
