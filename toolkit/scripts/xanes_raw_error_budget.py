"""Where the 3D-XANES-from-raw error comes from: the twin's particle, step by step (#25).

    PYTHONPATH=toolkit python toolkit/scripts/xanes_raw_error_budget.py

The per-grain mean edge energies and per-voxel errors against the truth of
twin/particle-xanes-raw's volume twin, for the same attenuation stack seen through ever more
of the acquisition (each on the truth's own grid, so nothing but the named step differs):

1. the true stack itself (the edge-map method's floor);
2. FBP (ramp) of its exact line integrals, 90 angles over 180° (the reconstruction's
   resolution: the projector's and back-projector's interpolation);
3. the same with Poisson counts at the raw twin's flux (5·10⁴ photons/px, 4 flats), and
   the noise's level at the half-step energies over the pre-edge's, measured (the
   difference from step 2) and predicted from the counts (the back-projected variance of
   :func:`batteryzoom.xanes.from_raw.count_noise_ratio`), with the per-voxel calibration
   (robust sd of the noise-only error over the stated one) before and after that ratio;
4. the odd/even noise sample of :func:`batteryzoom.xanes.from_raw.odd_even_edge_noise`
   checked against the noise itself (the noisy map minus the noise-free one): each half's
   projections with every other flat frame, half the difference of the halves' edge maps
   (the full map's e0 and pooled noise), its level against the noise's, the stated error
   from it (:func:`~batteryzoom.xanes.from_raw.local_edge_error`) calibrated on the noise,
   and the grains' standard errors (:func:`~batteryzoom.xanes.from_raw.grain_standard_errors`)
   against the grains' mean noise.

The whole chain (jitter, magnification, rings, alignment) is tests/xanes/test_from_raw.py
(``-s`` prints it). Runs in ~2-3 min on two cores. The README quotes the numbers.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage

import batteryzoom as bz
from batteryzoom.data.twin.xanes_raw import ATTENUATION_SCALE
from batteryzoom.data.twin.xanes import particle_xanes
from batteryzoom.io.acquisition import make_acquisition
from batteryzoom.tomo import project, reconstruct_slices
from batteryzoom.xanes.edges import edge_maps
from batteryzoom.xanes.from_raw import count_noise_ratio, grain_standard_errors, local_edge_error
from batteryzoom.xanes.masks import masks as voxel_masks

FLUX, N_FLATS, N_ANGLES = 5e4, 4, 90


def _robust_sd(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def _maps(stack: np.ndarray, energy: np.ndarray):
    da = xr.DataArray(stack, dims=("energy", "z", "y", "x"), coords={"energy": energy},
                      attrs={"voxel_size_um": [0.16] * 3})
    maps = edge_maps(da)
    trusted = voxel_masks(maps)["mask"].values
    return maps, trusted, np.where(trusted, maps["edge_energy_half_step_ev"].values, np.nan)


def _score(edge: np.ndarray, labels: np.ndarray, true_edge: np.ndarray, name: str) -> None:
    ok = np.isfinite(edge) & (labels > 0)
    err = edge - true_edge
    per = []
    for g in np.unique(labels[ok]):
        k = ok & (labels == g)
        if k.sum() >= 10:
            per.append((err[k].mean(), k.sum()))
    per = np.array(per)
    big = per[per[:, 1] >= 200]
    print(f"{name}: per-grain |mean error| median {np.median(np.abs(per[:, 0])):.3f} eV over {len(per)} grains; "
          f"{np.mean(np.abs(big[:, 0]) < 0.05):.0%} of the {len(big)} grains of >= 200 voxels within 0.05 eV; "
          f"per voxel robust sd {_robust_sd(err[ok]):.3f} eV")


def main() -> None:
    truth = bz.data.load("twin/particle-xanes-raw", part="truth")
    labels, true_edge = truth["grain_labels"].values, truth["edge_energy_ev"].values
    vol = particle_xanes(int(bz.data.info("twin/particle-xanes").seed), "small", noise=0.0, shift_std_px=0.0)
    stack = np.asarray(vol["main"].values, np.float32) * ATTENUATION_SCALE
    energy = np.asarray(vol["main"]["energy"].values, np.float64)
    nx = stack.shape[-1]
    angles = np.arange(N_ANGLES) * 180.0 / N_ANGLES
    pad = int(np.ceil(0.5 * (np.sqrt(2.0) - 1.0) * nx)) + 3
    ncol, centre = nx + 2 * pad, pad + 0.5 * (nx - 1)

    _score(_maps(stack, energy)[2], labels, true_edge, "1. true stack")
    lines = [project(s, angles, centre, ncol) for s in stack]
    clean = np.stack([reconstruct_slices(s, angles, centre, size=nx) for s in lines])
    _, _, edge_clean = _maps(clean, energy)
    _score(edge_clean, labels, true_edge, "2. noise-free FBP")

    rng = np.random.default_rng(0)
    noisy = np.empty_like(clean)
    counts = np.empty((len(lines),) + lines[0].shape, np.uint16)
    flats = np.empty((len(lines), N_FLATS) + lines[0].shape[1:], np.uint16)
    for e, s in enumerate(lines):
        counts[e] = rng.poisson(FLUX * np.exp(-np.clip(s, 0, None)))
        flats[e] = rng.poisson(FLUX, (N_FLATS,) + s.shape[1:])
        od = -np.log(np.maximum(counts[e], 1) / flats[e].mean(axis=0))
        noisy[e] = reconstruct_slices(od, angles, centre, size=nx)
    maps, trusted, edge = _maps(noisy, energy)
    _score(edge, labels, true_edge, "3. FBP of Poisson counts")

    half_step = float(np.nanmedian(edge))
    pre, near = energy < half_step - 30.0, np.abs(energy - half_step) <= 3.0
    diff, inside = noisy - clean, labels > 0
    measured = np.sqrt((diff[near][:, inside] ** 2).mean() / (diff[pre][:, inside] ** 2).mean())

    acq = make_acquisition(counts, angles, flats=flats, darks=np.zeros((len(lines), 1) + lines[0].shape[1:]),
                           angle_unit="deg", energy_ev=energy, pixel_size_um=0.16)
    ratio = count_noise_ratio(acq, np.full(energy.size, centre), np.ones(energy.size), half_step)
    ratio = ratio[:, pad:pad + nx, pad:pad + nx]
    stated, _ = local_edge_error(maps, trusted, 0.16, 0.5)
    stated = stated.values
    print(f"   noise at the half-step energies ({half_step:.1f} ± 3 eV) over the pre-edge's: measured "
          f"{measured:.3f}, predicted from the counts {np.median(ratio[inside]):.3f} (median over the particle)")
    print(f"   per-voxel calibration, robust sd of (estimate - noise-free) / stated: "
          f"{_robust_sd((edge - edge_clean) / stated):.2f} pre-edge noise only, "
          f"{_robust_sd((edge - edge_clean) / (stated * ratio)):.2f} with the counts' ratio; against the truth "
          f"{_robust_sd((edge - true_edge) / (stated * ratio)):.2f}")

    halves = []
    for h in (0, 1):
        rec = np.stack([reconstruct_slices(-np.log(np.maximum(counts[e, h::2], 1) / flats[e, h::2].mean(axis=0)),
                                           angles[h::2], centre, size=nx) for e in range(len(lines))])
        m = edge_maps(xr.DataArray(rec, dims=("energy", "z", "y", "x"), coords={"energy": energy}),
                      e0=float(maps.attrs["e0"]), noise=float(maps.attrs["noise_od"]))
        halves.append(np.asarray(m["edge_energy_half_step_ev"].values, np.float64))
    sample = np.where(trusted, 0.5 * (halves[0] - halves[1]), np.nan)
    noise = edge - edge_clean
    ok = np.isfinite(sample) & np.isfinite(noise)
    stated_oe, _ = local_edge_error(maps, trusted, 0.16, 0.5, noise_sample_ev=sample)
    stated_oe = stated_oe.values
    print(f"4. odd/even noise sample: robust sd {_robust_sd(sample[ok]):.3f} eV, rms "
          f"{np.sqrt(np.mean(sample[ok] ** 2)):.3f} eV; the noise (noisy - noise-free map): robust sd "
          f"{_robust_sd(noise[ok]):.3f} eV, rms {np.sqrt(np.mean(noise[ok] ** 2)):.3f} eV")
    print(f"   per-voxel calibration with the error from it: robust sd of noise / stated "
          f"{_robust_sd((noise / stated_oe)[ok]):.2f}, of the sample / stated {_robust_sd((sample / stated_oe)[ok]):.2f}; "
          f"against the truth {_robust_sd((edge - true_edge) / stated_oe):.2f}")
    se = grain_standard_errors(sample, stated_oe, labels)
    use = np.isfinite(noise) & np.isfinite(stated_oe) & np.isfinite(sample) & (labels > 0)
    ids = se.index[se["n_voxels"] >= 10]
    lab = np.where(use, labels, 0)
    noise_mean = ndimage.mean(np.where(use, noise, 0.0), lab, ids)
    err_mean = ndimage.mean(np.where(use, edge - true_edge, 0.0), lab, ids)
    z = noise_mean / se.loc[ids, "se_ev"].values
    naive = ndimage.standard_deviation(np.where(use, edge, 0.0), lab, ids) / np.sqrt(se.loc[ids, "n_voxels"].values)
    print(f"   per grain ({len(ids)} of >= 10 voxels; SE scale {se.attrs['scale']:.2f}): robust sd of the noise's mean / "
          f"SE {_robust_sd(z):.2f} (naive SE {_robust_sd(noise_mean / naive):.2f}); of (mean - truth) / SE "
          f"{_robust_sd(err_mean / se.loc[ids, 'se_ev'].values):.2f}")


if __name__ == "__main__":
    main()
