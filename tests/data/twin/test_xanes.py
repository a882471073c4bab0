"""bz.data.twin.xanes, the twin's 3D XANES: determinism, ground truth consistency (computed
with the twin's own Larch rules), chemistry ranges, and bz.xanes scored against the truth
(alignment, per-voxel RMSE per method, per-grain means)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

import batteryzoom as bz
from batteryzoom.data.twin import frames
from batteryzoom.data.twin import xanes as twin_xanes
from batteryzoom.data.twin.ni_edge_model import PARAMS_PATH, load_params, ni_edge

NAME = "twin/particle-xanes"


@pytest.fixture(scope="module")
def twin():
    parts = {p: bz.data.load(NAME, part=p) for p in ("main", "truth", "grains", "shifts", "model")}
    parts["main"] = parts["main"].load()
    parts["truth"] = parts["truth"].load()
    return parts


@pytest.fixture(scope="module")
def clean_other_seed():
    """Another seed, no noise, no misalignment: the methods' own error, and seed dependence."""
    return twin_xanes.particle_xanes(seed=1, noise=0.0, shift_std_px=0.0)


@pytest.fixture(scope="module")
def analysed(twin):
    aligned, shifts = bz.xanes.align(twin["main"])
    maps = bz.xanes.edge_maps(aligned)
    return {"aligned": aligned, "shifts": shifts, "maps": maps, "masks": bz.xanes.masks(maps)}


def test_same_seed_same_bytes_different_seed_different_twin(twin, clean_other_seed):
    again = twin_xanes.particle_xanes(seed=bz.data.info(NAME).seed)
    assert np.array_equal(again["main"].values, twin["main"].values)
    assert np.array_equal(again["truth"]["edge_energy_ev"].values, twin["truth"]["edge_energy_ev"].values,
                          equal_nan=True)
    other = clean_other_seed
    assert not np.allclose(other["truth"]["edge_energy_ev"].values, twin["truth"]["edge_energy_ev"].values,
                           equal_nan=True)
    # the grains are the nano-CT's (seed from the manifest), whatever the XANES seed
    np.testing.assert_array_equal(other["truth"]["grain_labels"].values, twin["truth"]["grain_labels"].values)


def test_frame_grid_and_co_registration(twin):
    stack = twin["main"]
    level = frames.level(NAME)
    assert stack.dims == ("energy", "z", "y", "x") and stack.dtype == np.float32
    assert stack.shape == (60,) + level.shape
    np.testing.assert_allclose(stack["x"].values, level.coords()["x"])
    assert stack.attrs["voxel_size_um"] == list(level.voxel_size_um)
    assert stack.attrs["parent"] == "twin/particle-nanoct"
    e = stack["energy"].values
    assert e[0] <= 8200 and e[-1] >= 8600 and np.all(np.diff(e) > 0)
    edge = (e >= 8330) & (e <= 8360)
    assert edge.sum() >= 31 and np.diff(e[edge]).max() <= 1.0
    # co-registered with the nano-CT: same grains, sampled on the XANES grid
    from batteryzoom.data.twin.particle import particle_structure

    seed = bz.data.info("twin/particle-nanoct").seed
    labels = particle_structure(seed, level)["grains"]
    np.testing.assert_array_equal(twin["truth"]["grain_labels"].values, labels)


def test_ground_truth_is_consistent(twin):
    truth, table = twin["truth"], twin["grains"]
    labels = truth["grain_labels"].values
    edge = truth["edge_energy_ev"].values
    inside = labels > 0
    assert np.isfinite(edge[inside]).all() and np.isnan(edge[~inside]).all()
    # the edge jump is the density seen through the microscope's PSF (its far tails cut)
    seen = ndimage.gaussian_filter(truth["density"].values, twin_xanes.PSF_SIGMA_PX)
    np.testing.assert_allclose(truth["edge_jump"].values, 0.5 * np.where(seen < 1e-4, 0.0, seen), rtol=1e-5,
                               atol=1e-7)
    assert (truth["edge_jump"].values[~inside] > 0.01).any()  # the blurred halo outside the particle
    frame = pd.DataFrame({"label": labels[inside], "e": edge[inside]}).groupby("label")["e"]
    merged = table.set_index("label")
    np.testing.assert_allclose(frame.mean().reindex(merged.index), merged["edge_energy_mean_ev"], atol=1e-4)
    np.testing.assert_allclose(frame.count().reindex(merged.index), merged["n_voxels"])
    np.testing.assert_allclose(merged["edge_energy_fwhm_ev"], 2.3548 * merged["edge_energy_std_ev"], rtol=1e-4)
    # the noise-free measured spectrum of a dense voxel is bg + J * mixture(f, delta)
    shifts = twin["shifts"]
    assert (shifts.iloc[-1][["shift_z_px", "shift_y_px", "shift_x_px"]] == 0).all()
    assert 0.3 < np.abs(shifts[["shift_z_px", "shift_y_px", "shift_x_px"]].values).max() <= 2.5


def test_chemistry_statistics_and_fig_s3_grains(twin):
    table, model, truth = twin["grains"], twin["model"], twin["truth"]
    big = table[table["n_voxels"] >= 50]
    spread = big["edge_energy_mean_ev"].std()
    assert 0.3 < spread < 0.8, spread  # ~0.5 eV between grains
    within = big["edge_energy_std_ev"]
    assert within.quantile(0.9) / within.quantile(0.1) > 2.0  # some grains far more uniform
    g1 = table[table["designation"] == "grain 1"].iloc[0]
    g2 = table[table["designation"] == "grain 2"].iloc[0]
    assert model["designated"] == {"grain 1": int(g1["label"]), "grain 2": int(g2["label"])}
    assert g2["edge_energy_mean_ev"] == pytest.approx(8342.5, abs=0.1)
    assert g2["edge_energy_mean_ev"] > g1["edge_energy_mean_ev"] + 0.5  # grain 2 more oxidized
    assert g1["edge_energy_fwhm_ev"] > 2 * g2["edge_energy_fwhm_ev"]  # grain 1 less uniform
    assert g1["n_voxels"] > 80 and g2["n_voxels"] > 80
    # surface-to-core trend: the surface is more reduced
    r = np.sqrt(sum(((truth[d].values - truth[d].values.mean()) ** 2)[sl] for d, sl in
                    zip("zyx", [np.s_[:, None, None], np.s_[None, :, None], np.s_[None, None, :]])))
    inside = truth["grain_labels"].values > 0
    outer = inside & (r > 3.2)
    core = inside & (r < 2.0)
    edge = truth["edge_energy_ev"].values
    assert edge[core].mean() - edge[outer].mean() > 0.3


@pytest.mark.realdata
def test_fitted_model_reproduces_the_real_standards(fetch_real):
    """Issue 3: half-step within 0.2 eV and white line within 0.5 eV of NiO and LiNiO2."""
    fitted = load_params()["standards"]
    for name, dataset in (("NiO", "real/xanes/ref-nio"), ("LiNiO2", "real/xanes/ref-linio2")):
        fetch_real(dataset)
        spec = bz.data.load(dataset)
        energy = spec["energy"].values
        measured = bz.xanes.edge_maps(spec, e0=None)
        model = bz.xanes.edge_maps(ni_edge(energy, fitted[name]["params"]), energy, e0=None)
        for method, tol in (("half_step", 0.2), ("white_line", 0.5)):
            diff = float(model[f"edge_energy_{method}_ev"]) - float(measured[f"edge_energy_{method}_ev"])
            assert abs(diff) < tol, (name, method, diff)
        # the committed diagnostics are what the fit script measured
        assert fitted[name]["standard"]["half_step_ev"] == pytest.approx(float(measured["edge_energy_half_step_ev"]),
                                                                          abs=1e-6)
    assert "energy_ev" not in PARAMS_PATH.read_text()  # parameters only, never the reference data
    assert len(json.loads(PARAMS_PATH.read_text())["standards"]["NiO"]["params"]) == 15


def test_alignment_recovers_the_applied_shifts(twin, analysed):
    applied = twin["shifts"][["shift_z_px", "shift_y_px", "shift_x_px"]].values
    err = np.abs(analysed["shifts"] - applied)
    print(f"\nshift recovery: max error {err.max():.3f} px, rms {np.sqrt((err ** 2).mean()):.3f} px")
    # the issue asks 0.2; the off-grid refinement gives 0.011 (0.004 before the twin's PSF
    # blurred the particle's voxel-sharp surface, whose fine detail pins the correlation)
    assert err.max() < 0.02


def _report(maps, truth, mask, label):
    rows = []
    for method, key in (("half_step", "edge_energy_ev"), ("derivative", "edge_energy_derivative_ev"),
                        ("white_line", "edge_energy_white_line_ev")):
        d = (np.asarray(maps[f"edge_energy_{method}_ev"]) - truth[key].values)[mask]
        rows.append((method, float(np.sqrt(np.nanmean(d**2))), float(np.nanmean(d))))
    print("\n" + "\n".join(f"{label} {m:10s} per-voxel RMSE {r:.3f} eV, bias {b:+.3f} eV" for m, r, b in rows))
    return {m: r for m, r, _ in rows}


def test_per_voxel_rmse_and_per_grain_means_against_truth(twin, analysed):
    truth, table = twin["truth"], twin["grains"]
    maps, mk = analysed["maps"], analysed["masks"]
    labels = truth["grain_labels"].values
    use = (labels > 0) & mk["mask"].values
    assert use.sum() > 0.9 * (labels > 0).sum()  # the mask keeps the particle...
    assert mk["mask"].values[labels == 0].mean() < 0.01  # ...and drops the empty background
    rmse = _report(maps, truth, use, f"noise {twin['model']['noise_fraction_of_jump']:.2f}")
    assert rmse["half_step"] < 0.45 and rmse["white_line"] < 0.5 and rmse["derivative"] < 1.2
    est = pd.DataFrame({"label": labels[use], "e": maps["edge_energy_half_step_ev"].values[use]})
    per_grain = est.groupby("label")["e"].mean()
    merged = table.set_index("label").join(per_grain.rename("measured"), how="inner")
    err = merged["measured"] - merged["edge_energy_mean_ev"]
    big = merged["n_voxels"] >= 50
    print(f"per-grain mean error (grains >= 50 voxels, n={big.sum()}): median |err| {err[big].abs().median():.3f} eV,"
          f" 90th pct {err[big].abs().quantile(0.9):.3f} eV, bias {err[big].mean():+.3f} eV")
    assert err[big].abs().median() < 0.05
    assert abs(err[big].mean()) < 0.03
    # Fig. S3's grains: within 0.05 eV, or 3 standard errors where the grain's own spread
    # allows no better (grain 1: FWHM 1.3 eV over ~130 voxels, standard error ~0.05 eV)
    se = est.groupby("label")["e"].std() / np.sqrt(est.groupby("label").size())
    for name in ("grain 1", "grain 2"):
        label = merged.index[merged["designation"] == name][0]
        print(f"{name}: error {err[label]:+.3f} eV, standard error {se[label]:.3f} eV")
        assert abs(err[label]) < max(0.05, 3 * se[label]), name
    # the measured FWHM ordering of Fig. S3 survives the noise
    fwhm = est.groupby("label")["e"].std() * 2.3548
    g = twin["model"]["designated"]
    assert fwhm[g["grain 1"]] > fwhm[g["grain 2"]]


def test_method_error_without_noise_or_misalignment(clean_other_seed):
    clean = clean_other_seed
    maps = bz.xanes.edge_maps(clean["main"])
    inside = clean["truth"]["grain_labels"].values > 0
    rmse = _report(maps, clean["truth"], inside, "noise 0.00, aligned")
    assert rmse["half_step"] < 0.03  # the 1 eV grid's interpolation error only
    assert rmse["white_line"] < 0.35 and rmse["derivative"] < 0.5


def test_alignment_round_trip_costs_little_edge_accuracy(clean_other_seed):
    # the same twin misaligned (noise-free): estimated shifts undone by the odd-length
    # Fourier shift, the band no frame fully covered cut (common field of view)
    moved = twin_xanes.particle_xanes(seed=1, noise=0.0)
    aligned, shifts = bz.xanes.align(moved["main"], show_progress=False)
    applied = moved["shifts"][["shift_z_px", "shift_y_px", "shift_x_px"]].values
    maps = bz.xanes.edge_maps(aligned)
    use = (clean_other_seed["truth"]["grain_labels"].values > 0) & bz.xanes.masks(maps)["mask"].values
    rmse = _report(maps, clean_other_seed["truth"], use, "noise 0.00, re-aligned, masked")
    print(f"shifts: max error {np.abs(shifts - applied).max():.4f} px")
    assert np.abs(shifts - applied).max() < 0.01
    # 0.021 eV (the 1 eV grid's own 0.012 and the shifts' residuals); 0.056 before the twin's
    # PSF (the voxel-sharp surface rang under every sub-pixel shift), 0.10 with even FFT lengths
    assert rmse["half_step"] < 0.04


def test_large_preset_is_lazy_and_streams_by_chunk():
    level = frames.level(NAME, "large")
    assert level.shape == (256, 256, 256)
    # the block builder alone, on a small synthetic field: dask, per-chunk, deterministic
    energy = twin_xanes.energy_grid()
    shape = (20, 20, 20)
    small = frames.Level(NAME, "large", "twin/particle-nanoct", shape, (0.035,) * 3, (0.0, 0.0, 0.0))
    density = np.zeros(shape, np.float32)
    density[5:15, 5:15, 5:15] = 1
    shifts = np.zeros((60, 3))
    shifts[0] = (0.5, -1.25, 2.0)
    args = (small, energy, density, 0.5 * density, np.full(shape, 0.3, np.float32), np.zeros(shape, np.float32),
            shifts, 0.01, 5)
    lazy = twin_xanes._build_stack(*args, chunk=8, lazy=True)
    eager = twin_xanes._build_stack(*args, chunk=8, lazy=False)
    assert hasattr(lazy, "dask") and lazy.chunks[1] == (8, 8, 4) and lazy.dtype == np.float32
    np.testing.assert_array_equal(lazy.compute(), eager)
    whole = twin_xanes._build_stack(*args, chunk=32, lazy=False)
    # chunking changes the noise draw, not the signal: the Fourier shift inside a zero halo
    assert np.abs(whole - eager).mean() < 0.02


def test_the_truths_own_larch_rules_agree_with_bz_xanes():
    """The truth normalizes with the twin's own Larch rules (data/twin/_larch.py), not with
    the code it checks; two implementations written apart agree: the same e0 (a grid
    energy) and ranges on synthetic edges, and the same line and step to rounding."""
    from batteryzoom.data.twin import _larch

    energy = twin_xanes.energy_grid()
    rng = np.random.default_rng(0)
    for _ in range(100):
        centre, width = 8330 + rng.uniform(0, 25), rng.uniform(0.5, 4.0)
        mu = 0.3 - 1e-4 * (energy - 8200) + 0.5 * (0.5 + np.arctan((energy - centre) / width) / np.pi)
        mu = mu + rng.normal(0, rng.choice([0.0, 0.002, 0.02]), energy.size)
        e0 = _larch.find_e0(energy, mu)
        assert e0 == float(bz.xanes.find_e0(mu, energy))
        ours, theirs = _larch.pre_edge_ranges(energy, e0), bz.xanes.pre_edge_ranges(energy, e0)
        assert (ours.pre.start, ours.pre.stop, ours.post.start, ours.post.stop, ours.nnorm, ours.npre) == (
            *theirs.pre_slice, *theirs.norm_slice, theirs.nnorm, theirs.npre)
        line, step = _larch.fit_pre_edge(energy, mu[:, None], e0)
        norm = bz.xanes.normalize(mu, energy, e0=e0)
        assert step[0] == pytest.approx(norm["edge_step"], rel=1e-10)
        np.testing.assert_allclose(line[0] + (energy - e0) * line[1], norm["pre_edge"], rtol=1e-12)


@pytest.mark.realdata
def test_the_truths_find_e0_is_larchs_on_the_real_standards(fetch_real):
    """Over 400-800 points the smoothing step is the grid's (not NaN, as on the twin's 60):
    the twin's find_e0 still finds what bz.xanes and Larch find."""
    from batteryzoom.data.twin import _larch

    for dataset in ("real/xanes/ref-nio", "real/xanes/ref-linio2", "real/xanes/ni-foil"):
        fetch_real(dataset)
        spec = bz.data.load(dataset)
        assert _larch.find_e0(spec["energy"].values, spec.values) == float(bz.xanes.find_e0(spec))
