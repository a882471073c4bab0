"""bz.xanes.from_raw: the twin's raw multi-energy tomography (twin/particle-xanes-raw) through
reconstruction, magnification correction, alignment and grain chemistry, scored against
its truth. The numbers are printed (``-s``) and the README quotes them; the bounds below
are what the chain reaches today (README: "3D XANES from raw projections"), most of them
far from the volume twin's. The error bars (per voxel and per grain) come from the odd/even
noise sample (from_raw's module docstring, step 4); the issue's per-grain criteria are
printed with them: on this grid almost no grain has the standard error they ask for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

import batteryzoom as bz
from batteryzoom.xanes import from_raw

NAME = "twin/particle-xanes-raw"
WIDTH_MEDIAN_REL_ERR = 0.25  # the chain's deconvolved FWHM over grains of >= 200 voxels: 16 % today


@pytest.fixture(scope="module")
def run():
    acq = bz.data.load(NAME)
    truth = bz.data.load(NAME, part="truth").load()
    o = truth.attrs["truth_origin_px"]
    nrow, ncol = acq.sizes["row"], acq.sizes["col"]
    labels = np.zeros((nrow, ncol, ncol), np.int32)
    box = tuple(slice(a, a + n) for a, n in zip(o, truth["grain_labels"].shape))
    labels[box] = truth["grain_labels"].values
    res = from_raw.xanes_from_raw(acq, labels, progress=False)
    true_edge = np.full(labels.shape, np.nan)
    true_edge[box] = truth["edge_energy_ev"].values
    return {"acq": acq, "truth": truth, "res": res, "labels": labels, "true_edge": true_edge}


def _robust_sd(v) -> float:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def _grains(run) -> pd.DataFrame:
    """Per grain: measured mean over its trusted voxels, the truth's over the same voxels,
    the chain's standard error (``grain_se``, the noise's correlation included) and the
    naive one, and the chain's own noise-deconvolved FWHM (what a user gets,
    ``chemistry.widths``) against the true one."""
    res, lab, true_edge = run["res"], run["labels"], run["true_edge"]
    edge, err = res.chemistry.edge.values, res.edge_err_ev.values
    widths = res.chemistry.widths["edge_energy_fwhm_deconvolved_ev"]
    rows = []
    for g in np.unique(lab[lab > 0]):
        m = (lab == g) & np.isfinite(edge) & np.isfinite(err)
        n = int(m.sum())
        if n < 10:
            continue
        e, t = edge[m].astype(float), true_edge[m]
        rows.append({"label": int(g), "n": n, "mean_ev": e.mean(), "truth_ev": t.mean(),
                     "naive_se_ev": e.std(ddof=1) / np.sqrt(n), "sd_ev": e.std(ddof=1),
                     "stated_rms_ev": float(np.sqrt(np.mean(err[m].astype(float) ** 2))),
                     "fwhm_deconvolved_ev": float(widths.get(int(g), np.nan)), "fwhm_true_ev": 2.3548 * t.std(ddof=1)})
    df = pd.DataFrame(rows).set_index("label")
    df["error_ev"] = df["mean_ev"] - df["truth_ev"]
    se = res.grain_se
    df["se_ev"] = se["se_ev"].reindex(df.index)
    df["noise_sample_mean_ev"] = se["noise_sample_mean_ev"].reindex(df.index)
    # the deconvolved FWHM's relative standard error, to first order: the measured variance
    # S^2 over n_eff = (stated rms / SE)^2 independent voxels has SE S^2 sqrt(2 / n_eff), and
    # FWHM_d ~ sqrt(S^2 - noise^2) moves by half its relative change times S^2 / sigma_d^2
    n_eff = (df["stated_rms_ev"] / df["se_ev"]) ** 2
    sigma_d2 = (df["fwhm_deconvolved_ev"] / 2.3548) ** 2
    df["fwhm_rel_se"] = df["sd_ev"] ** 2 * np.sqrt(2.0 / n_eff) / (2.0 * sigma_d2)
    return df


def test_magnification_axis_and_jitter_recovered(run):
    res, truth, acq = run["res"], run["truth"], run["acq"]
    true_s = truth["pixel_size_um"].values / truth["pixel_size_um"].values[-1]
    rel = np.abs(res.scales / true_s - 1.0)
    own = np.abs(res.scales_measured / true_s - 1.0)
    centre_err = np.abs(np.asarray(res.centres_px) - truth["axis_col_px"].values)
    jitter = []
    for e, stage in enumerate(res.volumes.attrs["staging"]):
        est = np.asarray(stage["jitter_shifts_px"])
        true = np.stack([truth["jitter_row_px"].values[e], truth["jitter_col_px"].values[e]], axis=1)
        diff = bz.tomo.observable(true, acq.angle.values) - bz.tomo.observable(est, acq.angle.values)
        jitter.append(float(np.sqrt(np.mean(diff**2))))
    # what the alignment still finds, as a trend with the scale (printed): resampling about
    # the detector's centre instead of the axis (2.8 px apart) would add ~0.13 px in x
    shifts = np.asarray(res.chemistry.shifts_px, np.float64)
    drift = np.abs(np.polyfit(true_s, shifts, 1)[0]) * np.ptp(true_s)
    print(f"\nmagnification exponent {res.magnification_exponent:.5f} (truth 1); fitted scale relative error worst "
          f"{rel.max():.2e}, median {np.median(rel):.2e}; per-energy measured rms {np.sqrt(np.mean(own**2)):.2e}, worst "
          f"{own.max():.2e}; alignment shift's trend with the scale over the scan {np.round(drift, 3).tolist()} px "
          f"(z, y, x); axis worst {centre_err.max():.3f} px, median {np.median(centre_err):.3f} px; jitter after "
          f"correction median {np.median(jitter):.3f} px, worst {max(jitter):.3f} px RMS (truth ~0.31 px before)")
    assert rel.max() < 1e-4  # the bound, at every energy (6e-5 today)
    assert abs(res.magnification_exponent - 1.0) < 0.0025
    assert own.max() < 3e-4 and res.fit_energies.all()
    assert centre_err.max() < 0.3
    assert np.median(jitter) < 0.2 and max(jitter) < 0.2


def _scaled_projections(scale, rng, n_angles=12, stripes=True):
    """An ellipsoidal particle's projections (its edge blurred over ~1 px), seen with a pixel
    ``scale`` times the reference's about a point off the detector's centre, every
    projection shifted (jitter), plus a few stripes and noise."""
    from scipy.special import erfc

    r, c = np.mgrid[:56, :64] - np.array([27.5, 33.0])[:, None, None]
    out = []
    for a in np.linspace(0, np.pi, n_angles, endpoint=False):
        dr, dc = rng.normal(0, 0.4, 2)
        rr, cc = (r - dr) * scale, (c - dc) * scale
        half = 16.0 + 4.0 * np.cos(a) ** 2  # the column extent turns with the angle
        out.append(0.8 * erfc((np.hypot(rr / 15.0, cc / half) - 1.0) * 12.0))
    od = np.array(out)
    if stripes:
        od[:, :, [5, 20, 41]] += [0.02, -0.03, 0.015]
    return od + rng.normal(0, 1e-4, od.shape)


def test_projection_moments_recover_a_known_scale():
    """Sizes scale as 1/s², jitter, stripes and an offset scale centre do not enter, and
    the kurtoses are scale-free (unit test of the estimator, no reconstruction)."""
    rng = np.random.default_rng(3)
    ref = from_raw.projection_moments(_scaled_projections(1.0, rng))
    for scale in (0.95, 0.99, 1.03):
        m = from_raw.projection_moments(_scaled_projections(scale, rng))
        assert abs(np.sqrt(ref[0] / m[0]) / scale - 1.0) < 2e-5
        np.testing.assert_allclose(m[1:], ref[1:], rtol=1e-4)
    # the stripes would move the size by ~1e-3 without their column offsets
    clean = from_raw.projection_moments(_scaled_projections(1.0, np.random.default_rng(3), stripes=False))
    assert abs(clean[0] / ref[0] - 1.0) < 4e-5
    with pytest.raises(bz.errors.InputError, match="open beam"):
        from_raw.projection_moments(np.ones((2, 16, 16)))


def test_correct_magnification_resamples_about_the_volume_centre():
    """A ball off the centre, seen with a pixel 4 % larger about the volume's centre (where
    xanes_from_raw's volumes have the rotation axis in y, x and the optical axis in z),
    comes back to where the reference pixel puts it."""
    idx = np.indices((40, 40, 40), dtype=np.float64) - 19.5
    offset = np.array([3.0, -5.0, 6.0])[:, None, None, None]

    def ball(scale):
        r = np.sqrt((((idx * scale) - offset) ** 2).sum(axis=0))
        return np.clip(8.5 - r, 0.0, 1.0).astype(np.float32)

    back = from_raw.correct_magnification(ball(1.04), 1.04)
    ref = ball(1.0)
    centroid = lambda v: np.array([(v * g).sum() / v.sum() for g in idx])  # noqa: E731
    np.testing.assert_allclose(centroid(back), centroid(ref), atol=0.02)
    assert abs(back.sum() / ref.sum() - 1.0) < 0.01


def test_fit_moment_magnification_separates_the_chemistry():
    """Sizes following (E / E_ref)**1.02 times a chemistry term that also moves the
    kurtoses, one glitched energy: the law comes back, the glitch does not pull it, and
    a fit without the shape term would not."""
    rng = np.random.default_rng(0)
    energy = np.linspace(8200.0, 8600.0, 40)
    chem_a = np.exp(-0.5 * ((energy - 8345) / 8) ** 2) + 0.1 * np.sin(energy / 13.0)
    chem_b = 0.05 * np.cos(energy / 7.0)
    k_row, k_col = 2.1 * np.exp(0.01 * chem_a + 0.004 * chem_b), 2.3 * np.exp(0.006 * chem_a - 0.01 * chem_b)
    m2 = 400.0 * (energy / 8600.0) ** (-2 * 1.02) * np.exp(0.005 * chem_a + 0.002 * chem_b + rng.normal(0, 2e-5, 40))
    m2[7] *= 1.01
    k, fitted, own = from_raw.fit_moment_magnification(energy, np.column_stack([m2, k_row, k_col]))
    assert abs(k - 1.02) < 1e-3 and fitted[-1] == 1.0
    np.testing.assert_allclose(fitted, (energy / 8600.0) ** 1.02, rtol=5e-5)
    assert abs(own[7] / fitted[7] - 1) > 4e-3  # the glitch shows in the per-energy scale
    naive = -0.5 * np.polyfit(np.log(energy / 8600.0), np.log(m2), 1)[0]
    assert abs(naive - 1.02) > 1e-2
    with pytest.raises(bz.errors.InputError, match="energies to fit"):
        from_raw.fit_moment_magnification(energy[:4], np.column_stack([m2, k_row, k_col])[:4])


def test_per_grain_standard_errors_follow_the_noise(run):
    """The grains' standard errors against the noise sample's own per-grain means (draws of
    each mean's noise: calibrated by one factor over all grains, so the test is that the
    small and the large grains agree) and against the truth (which adds the reconstruction's
    resolution floor: not noise, so not in a standard error; printed)."""
    df = _grains(run)
    se = run["res"].grain_se
    z = df["noise_sample_mean_ev"] / df["se_ev"]
    small, large = z[df["n"] < 50], z[df["n"] >= 50]
    truth_z, naive_z = df["error_ev"] / df["se_ev"], df["error_ev"] / df["naive_se_ev"]
    # the floor: the SD that, added in quadrature to each SE, calibrates (mean - truth)
    floors = np.linspace(0.0, 0.3, 301)
    cal = [_robust_sd(df["error_ev"] / np.hypot(df["se_ev"], f)) for f in floors]
    floor = floors[int(np.argmin(np.abs(np.array(cal) - 1.0)))]
    print(f"\nper-grain SE: scale {se.attrs['scale']:.2f}, correlation sum {se.attrs['correlation_sum']:.2f}; "
          f"robust sd of noise-sample mean / SE: {len(small)} grains < 50 voxels {_robust_sd(small):.2f}, {len(large)} "
          f">= 50 {_robust_sd(large):.2f} (naive SE {_robust_sd(df['noise_sample_mean_ev'] / df['naive_se_ev']):.2f}); "
          f"of (mean - truth) / SE {_robust_sd(truth_z):.2f} (naive SE "
          f"{_robust_sd(naive_z):.2f}); SE / naive median {np.median(df['se_ev'] / df['naive_se_ev']):.2f}; a floor of "
          f"{floor:.3f} eV in quadrature calibrates it; median SE {df['se_ev'].median():.3f} eV, smallest "
          f"{df['se_ev'].min():.3f} eV")
    assert 0.85 < _robust_sd(small) < 1.15 and 0.85 < _robust_sd(large) < 1.15
    # against the truth the resolution floor dominates (README): better than naive, not 1
    assert _robust_sd(truth_z) < _robust_sd(naive_z)


def test_per_grain_means_designated_grains_and_widths(run):
    df = _grains(run)
    truth = run["truth"]
    g1, g2 = truth.attrs["grain_1_label"], truth.attrs["grain_2_label"]
    big = df[df["n"] >= 200]
    within = (big["error_ev"].abs() < 0.05).mean()
    within_01 = (big["error_ev"].abs() < 0.1).mean()
    rel_fwhm = (df["fwhm_deconvolved_ev"] / df["fwhm_true_ev"] - 1).abs()
    print(f"\n{len(df)} grains measured; |mean error| median {df['error_ev'].abs().median():.3f} eV; of the "
          f"{len(big)} grains with >= 200 trusted voxels: {within:.0%} within 0.05 eV, {within_01:.0%} within 0.1 eV, "
          f"worst {big['error_ev'].abs().max():.3f} eV; deconvolved FWHM within 10 %: "
          f"{(rel_fwhm[big.index] < 0.1).mean():.0%} (median relative error {rel_fwhm[big.index].median():.0%})")
    # the criteria, with the chain's standard errors: few or no grains qualify on this grid
    for limit in (0.02, 0.03, 0.05):
        q = df[df["se_ev"] < limit]
        print(f"grains with SE < {limit} eV: {len(q)}; mean within 0.05 eV: {(q['error_ev'].abs() < 0.05).sum()}"
              + (f" ({(q['error_ev'].abs() < 0.05).mean():.0%}), worst {q['error_ev'].abs().max():.3f} eV" if len(q) else ""))
    for limit in (0.05, 0.10, 0.20):
        q = df[df["fwhm_rel_se"] < limit]
        ok = (rel_fwhm[q.index] < 0.1)
        print(f"grains with FWHM relative SE < {limit:.0%}: {len(q)}; FWHM within 10 %: {int(ok.sum())}"
              + (f" ({ok.mean():.0%})" if len(q) else ""))
    # the grains' interiors (voxels whose 6 neighbours share their label): out of reach of
    # most of the neighbours' partial volumes, with fewer voxels
    lab = run["labels"]
    interior = lab * ndimage.binary_erosion(lab > 0, iterations=1)
    for axis in range(3):
        for step in (1, -1):
            interior = np.where(np.roll(lab, step, axis=axis) == lab, interior, 0)
    res = run["res"]
    se_in = from_raw.grain_standard_errors(res.noise_sample_ev.values, res.edge_err_ev.values, interior)
    edge, true_edge = res.chemistry.edge.values, run["true_edge"]
    used = np.isfinite(edge) & np.isfinite(res.edge_err_ev.values) & (interior > 0)
    ids = se_in.index[se_in["n_voxels"] >= 10]
    err_in = pd.Series(ndimage.mean(np.where(used, edge - true_edge, 0), np.where(used, interior, 0), ids), ids)
    q = se_in.loc[ids]
    print(f"interiors: {len(ids)} grains keep >= 10 voxels; |mean error| median {err_in.abs().median():.3f} eV; "
          f"robust sd of error / SE {_robust_sd(err_in / q['se_ev']):.2f}; SE < 0.02 eV: {(q['se_ev'] < 0.02).sum()}, "
          f"< 0.05 eV: {(q['se_ev'] < 0.05).sum()} ({(err_in[q['se_ev'] < 0.05].abs() < 0.05).mean():.0%} within 0.05 eV)")
    for name, g in (("grain 1", g1), ("grain 2", g2)):
        row = df.loc[g]
        print(f"{name}: {row['n']} voxels, mean {row['mean_ev']:.3f} ± {row['se_ev']:.3f} eV (truth {row['truth_ev']:.3f}, "
              f"error {row['error_ev']:+.3f} = {row['error_ev'] / row['se_ev']:+.1f} SE), FWHM deconvolved "
              f"{row['fwhm_deconvolved_ev']:.2f} eV (truth {row['fwhm_true_ev']:.2f})")
    # Fig. S3's oxidation contrast survives (grain 2 higher by ~1.2 eV); its width contrast
    # barely (grain 2, small, takes its neighbours' edges through the reconstruction's blur)
    assert df.loc[g2, "mean_ev"] > df.loc[g1, "mean_ev"] + 0.7
    assert abs(df.loc[g1, "error_ev"]) < 0.25 and abs(df.loc[g2, "error_ev"]) < 0.25
    # the chain's own deconvolved widths (PCA-denoised maps, chemistry.widths): subtracting
    # the stated per-voxel variances from grain 1's measured one instead (SD 0.73 eV, stated
    # errors 0.58-0.67 eV over 151 voxels) was ill-conditioned and moved 0.69-1.17 eV
    # between equally good alignments whose overall numbers agree to 0.001 eV
    assert abs(df.loc[g1, "fwhm_deconvolved_ev"] / df.loc[g1, "fwhm_true_ev"] - 1) < 0.15
    # the issue asks within 10 % for 80 % of grains with relative SE < 5 %, and 0.05 eV for
    # 90 % of grains with SE < 0.02 eV: no grain qualifies on this grid (printed above)
    assert rel_fwhm[big.index].median() < WIDTH_MEDIAN_REL_ERR
    assert within_01 > 0.6 and df["error_ev"].abs().median() < 0.2


def test_per_voxel_error_bars_at_the_centre_and_the_edge_of_the_field(run):
    res = run["res"]
    edge, err, true_edge = res.chemistry.edge.values, res.edge_err_ev.values, run["true_edge"]
    z = (edge - true_edge) / err
    ny = edge.shape[-1]
    yy, xx = np.mgrid[:ny, :ny] - 0.5 * (ny - 1)
    r = np.broadcast_to(np.hypot(yy, xx), edge.shape)
    ok = np.isfinite(z)
    r_half = np.percentile(r[ok], 50)
    out = {}
    for name, sel in (("centre", ok & (r < r_half)), ("edge", ok & (r >= r_half))):
        out[name] = _robust_sd(z[sel])
    noise = res.noise_od.values
    ratio = np.nanmedian(noise[ok & (r < r_half)]) / np.nanmedian(noise[ok & (r >= r_half)])
    sample = res.noise_sample_ev.values
    print(f"\nrobust sd of (estimate - truth) / stated error: centre {out['centre']:.2f}, edge {out['edge']:.2f} "
          f"(calibrated: 1); of the noise sample / stated {_robust_sd((sample / err)[ok]):.2f}; local noise centre / "
          f"edge {ratio:.2f}; median stated error {np.nanmedian(err):.3f} eV, robust sd of the error "
          f"{_robust_sd((edge - true_edge)[ok]):.3f} eV, of the noise sample {_robust_sd(sample[ok]):.3f} eV")
    assert np.isfinite(noise[ok]).all() and np.nanmin(noise[ok]) > 0
    assert 0.9 < out["centre"] < 1.15 and 0.9 < out["edge"] < 1.15


def test_count_noise_ratio_follows_the_counts():
    """Half the photons at the edge's energies: the projections' variance 1/I + 1/(n_f F)
    goes from 1.5e-4 to 2.5e-4, so the noise ratio is sqrt(5/3) wherever every ray falls
    on the detector (and 1 where none does)."""
    energy = np.array([8300.0, 8340.0, 8341.0, 8342.0])
    angles = np.arange(0, 180, 10.0)
    n = 24
    counts = np.where(energy[:, None, None, None] < 8311, 1e4, 5e3) * np.ones((1, angles.size, 3, n))
    flats = np.full((energy.size, 2, 3, n), 1e4)
    acq = bz.io.acquisition.make_acquisition(counts, angles, flats=flats, darks=np.zeros((energy.size, 1, 3, n)),
                                             angle_unit="deg", energy_ev=energy, pixel_size_um=0.1)
    ratio = from_raw.count_noise_ratio(acq, np.full(4, 0.5 * (n - 1)), np.ones(4), 8341.0)
    assert ratio.shape == (3, n, n)
    yy, xx = np.mgrid[:n, :n] - 0.5 * (n - 1)
    inside = np.hypot(yy, xx) < 0.5 * n - 2
    np.testing.assert_allclose(ratio[:, inside], np.sqrt(2.5 / 1.5), rtol=1e-6)
    with pytest.raises(bz.errors.InputError, match="within 3"):
        from_raw.count_noise_ratio(acq, np.full(4, 11.5), np.ones(4), 8400.0)


def _small_acquisition(flats_counts: float):
    """Two energies of a smooth blob (2 rows, 40 columns, 180 angles: each half still
    samples it finely, so the halves differ by their noise, not by aliasing), Poisson
    counts, 4 flats."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[-20:20, -20:20] + 0.5
    disc = (0.05 * np.exp(-0.5 * (np.hypot(yy, xx - 3) / 6.0) ** 2)).astype(np.float32)  # 1/px
    angles = np.arange(0, 180, 1.0)
    line = bz.tomo.project(np.stack([disc] * 2), angles, 19.5, 40)
    counts = rng.poisson(5e4 * np.exp(-np.stack([line, 1.2 * line])))
    flats = rng.poisson(flats_counts, (2, 4, 2, 40))
    acq = bz.io.acquisition.make_acquisition(counts, angles, flats=flats, darks=np.zeros((2, 1, 2, 40)),
                                             angle_unit="deg", energy_ev=np.array([8300.0, 8400.0]), pixel_size_um=0.5)
    clean = np.stack([bz.tomo.reconstruct_slices(s, angles, 19.5) for s in (line, 1.2 * line)]) / 0.5
    return acq, clean


def test_odd_even_reconstructions_halve_the_full_and_sample_its_noise():
    """FBP weights each angle by its share of 180°: without the flats' split the halves
    average to bz.tomo.reconstruct's volume; with it, half their difference has the
    full volume's noise (against the noise-free reconstruction), flats' noise included."""
    acq, clean = _small_acquisition(5e4)
    full = bz.tomo.reconstruct(acq, centre=19.5, rings=from_raw.RINGS, progress=False)
    a, b = from_raw.odd_even_reconstructions(acq, full, split_flats=False)
    np.testing.assert_allclose(0.5 * (a + b), full.values, atol=1e-5 * float(np.abs(full.values).max()))
    # the stripe filter distorts the blob itself (not noise): compare without it
    full = bz.tomo.reconstruct(acq, centre=19.5, rings=False, progress=False)
    a, b = from_raw.odd_even_reconstructions(acq, full, rings=False)
    inside = np.hypot(*(np.mgrid[:40, :40] - 19.5)) < 17
    noise = np.std((full.values - clean)[:, :, inside])
    sample = np.std(0.5 * (a - b)[:, :, inside])
    assert 0.85 < sample / noise < 1.15, (sample, noise)
    with pytest.raises(bz.errors.InputError, match="error_bars"):
        from_raw.xanes_from_raw(acq, error_bars="odd")
