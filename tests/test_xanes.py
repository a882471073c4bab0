"""bz.xanes: Larch agreement (golden values), edge energies, masks, NNLS, alignment, dask, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import batteryzoom as bz
from batteryzoom.errors import InputError

GOLDEN = json.loads((Path(__file__).parent / "reference" / "larch_ni_golden.json").read_text())
DATASETS = {"NiO": "real/xanes/ref-nio", "LiNiO2": "real/xanes/ref-linio2", "Ni_foil": "real/xanes/ni-foil"}


@pytest.fixture(scope="module")
def standards(fetch_real):
    out = {}
    for name, dataset in DATASETS.items():
        fetch_real(dataset)
        out[name] = bz.data.load(dataset)
    return out


# ----------------------------------------------------------------------------- Larch agreement


@pytest.mark.realdata
@pytest.mark.parametrize("name", list(DATASETS))
def test_normalization_matches_xraylarch_golden_values(standards, name):
    gold = GOLDEN["spectra"][name]
    spec = standards[name]
    np.testing.assert_allclose(spec["energy"].values, gold["energy_ev"], rtol=0, atol=1e-9)
    result = bz.xanes.normalize(spec)
    assert abs(float(result["e0_ev"]) - gold["e0_ev"]) <= 0.1
    assert float(bz.xanes.find_e0(spec)) == pytest.approx(gold["find_e0_ev"], abs=0.1)
    assert np.max(np.abs(result["norm"].values - gold["norm"])) < 1e-3
    assert np.max(np.abs(result["flat"].values - gold["flat"])) < 1e-3
    assert float(result["edge_step"]) == pytest.approx(gold["edge_step"], rel=1e-3)
    r = bz.xanes.pre_edge_ranges(spec["energy"].values, float(result["e0_ev"]))
    assert (r.pre1, r.pre2, r.norm1, r.norm2, r.nnorm) == (gold["pre1"], gold["pre2"], gold["norm1"], gold["norm2"],
                                                           gold["nnorm"])


@pytest.mark.realdata
def test_half_step_and_derivative_e0_of_the_standards(standards):
    """STUDY.md: with Larch's default ranges NiO ~ 8340.0 eV and LiNiO2 ~ 8341.5 eV."""
    found = {}
    for name in ("NiO", "LiNiO2"):
        maps = bz.xanes.edge_maps(standards[name], e0=None)
        found[name] = {m: float(maps[f"edge_energy_{m}_ev"]) for m in bz.xanes.EDGE_METHODS}
        assert float(maps["edge_energy_half_step_err_ev"]) < 0.1
    assert found["NiO"]["half_step"] == pytest.approx(8340.0, abs=0.1)
    assert found["LiNiO2"]["half_step"] == pytest.approx(8341.5, abs=0.1)
    # Ni3+ sits above Ni2+ by every method
    for m in bz.xanes.EDGE_METHODS:
        assert found["LiNiO2"][m] > found["NiO"][m]
    # the derivative maximum lies on the rising edge, above the half step
    assert 8340 < found["NiO"]["derivative"] < 8346 < found["LiNiO2"]["derivative"] < 8349


@pytest.mark.realdata
def test_stack_of_spectra_equals_one_by_one(standards):
    energy = standards["NiO"]["energy"].values
    lno = np.interp(energy, standards["LiNiO2"]["energy"].values, standards["LiNiO2"].values)
    stack = np.stack([standards["NiO"].values, lno, 0.5 * standards["NiO"].values + 0.5 * lno], axis=1)
    together = bz.xanes.normalize(stack, energy)
    for i in range(3):
        alone = bz.xanes.normalize(stack[:, i], energy)
        np.testing.assert_allclose(together["norm"][:, i], alone["norm"], atol=1e-12)
        assert together["e0_ev"][i] == alone["e0_ev"]


# ----------------------------------------------------------------------------- synthetic stacks


def _edge_stack(shape=(6, 7), seed=1, noise=0.0):
    """Arctan edges at known energies on a beamline-like grid; (E, *shape)."""
    from batteryzoom.data.twin.xanes import energy_grid

    rng = np.random.default_rng(seed)
    energy = energy_grid()
    e_half = 8341.0 + rng.uniform(-1.0, 1.0, shape)
    jump = rng.uniform(0.3, 0.6, shape)
    mu = 0.5 + np.arctan((energy[:, None, None] - e_half[None]) / 2.0) / np.pi
    stack = 0.4 + jump[None] * mu + 1e-4 * (energy[:, None, None] - 8300)
    stack = stack + rng.normal(0, noise, stack.shape)
    return energy, stack, e_half


def test_half_step_recovers_known_edges_and_its_error_estimate_is_honest():
    energy, clean, truth = _edge_stack((20, 30))
    maps = bz.xanes.edge_maps(clean, energy, methods=("half_step", "derivative"))
    # an arctan edge's 0.5 crossing sits at its centre; the post-edge tail biases the
    # Larch edge step slightly, so allow a few hundredths of an eV
    err = maps["edge_energy_half_step_ev"] - truth
    assert np.abs(err - err.mean()).max() < 0.02 and abs(err.mean()) < 0.1
    assert np.abs(maps["edge_energy_derivative_ev"] - truth).max() < 0.15
    # noisy copies of one voxel: predicted 1-sigma vs the empirical scatter
    energy, noisy, truth = _edge_stack((40, 50), seed=3, noise=0.01)
    one = np.repeat(noisy[:, :1, :1], 40, axis=1).repeat(50, axis=2)
    one = one + np.random.default_rng(9).normal(0, 0.01, one.shape)
    m = bz.xanes.edge_maps(one, energy, methods=("half_step",))
    scatter = np.nanstd(m["edge_energy_half_step_ev"])
    predicted = np.nanmedian(m["edge_energy_half_step_err_ev"])
    assert 0.6 < predicted / scatter < 1.6, (predicted, scatter)


def test_numpy_dask_and_xarray_inputs_agree():
    import dask.array as da

    energy, stack, _ = _edge_stack((16, 16), noise=0.003)
    ref = bz.xanes.edge_maps(stack, energy)
    lazy = bz.xanes.edge_maps(da.from_array(stack, chunks=(20, 5, 8)), energy)
    assert hasattr(lazy["edge_energy_half_step_ev"], "dask")
    for key, value in ref.items():
        np.testing.assert_allclose(np.asarray(lazy[key].compute() if hasattr(lazy[key], "compute") else lazy[key]),
                                   value, equal_nan=True)
    arr = xr.DataArray(stack, dims=("energy", "y", "x"), coords={"energy": energy, "y": np.arange(16) * 0.03})
    ds = bz.xanes.edge_maps(arr)
    assert ds["edge_energy_half_step_ev"].dims == ("y", "x") and "y" in ds.coords
    np.testing.assert_allclose(ds["edge_energy_half_step_ev"].values, ref["edge_energy_half_step_ev"])
    norm = bz.xanes.normalize(da.from_array(stack, chunks=(60, 8, 8)), energy, e0=8341.0)
    np.testing.assert_allclose(norm["norm"].compute(), bz.xanes.normalize(stack, energy, e0=8341.0)["norm"])


def test_per_voxel_e0_follows_larch_per_spectrum():
    energy, stack, _ = _edge_stack((4, 5), noise=0.002)
    per_voxel = bz.xanes.normalize(stack, energy)  # e0=None: find_e0 for every spectrum
    for i in range(4):
        for j in range(5):
            alone = bz.xanes.normalize(stack[:, i, j], energy)
            assert per_voxel["e0_ev"][i, j] == alone["e0_ev"]
            np.testing.assert_allclose(per_voxel["norm"][:, i, j], alone["norm"])


def test_failed_spectra_are_masked_not_crashing():
    energy, stack, _ = _edge_stack((5, 5))
    stack[:, 0, 0] = np.nan
    stack[3, 0, 1] = np.inf
    stack[:, 0, 2] = 0.0  # all-zero: a known crash of per-spectrum tools
    stack[:, 0, 3] = 1.0  # constant
    maps = bz.xanes.edge_maps(stack, energy)
    assert not maps["valid"][0, :4].any() and maps["valid"][1:].all()
    assert np.isnan(maps["edge_energy_half_step_ev"][0, :4]).all()
    mk = bz.xanes.masks(maps, min_edge_step=0.1)
    assert mk["failed"][0, :4].all() and not mk["mask"][0, :4].any() and mk["mask"][1:].all()
    norm = bz.xanes.normalize(stack, energy)  # per-voxel Larch path too
    assert np.isnan(norm["e0_ev"][0, :4]).all() and np.isfinite(norm["e0_ev"][1:]).all()


@pytest.mark.parametrize("call", ["normalize_mean_e0", "normalize_per_voxel", "find_e0", "edge_maps"])
def test_nan_outside_the_common_field_of_view_raises_no_warning(call):
    """An aligned stack is NaN outside the frames' common field of view (``align``'s
    default): normalizing it is routine and must not warn "All-NaN slice encountered"
    (notebook 05's mean spectra per grain printed it)."""
    import warnings

    energy, stack, _ = _edge_stack((6, 7), noise=0.002)
    stack[:, :2, :] = np.nan  # a band no frame fully covered
    stack[:, :, -1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if call == "normalize_mean_e0":
            out = bz.xanes.normalize(stack, energy, e0="mean")["norm"]
        elif call == "normalize_per_voxel":
            out = bz.xanes.normalize(stack, energy)["norm"]
        elif call == "find_e0":
            out = bz.xanes.find_e0(stack, energy)[None]
        else:
            out = bz.xanes.edge_maps(stack, energy)["edge_energy_half_step_ev"][None]
    assert np.isnan(out[:, :2]).all() and np.isnan(out[:, :, -1]).all()
    assert np.isfinite(out[:, 2:, :-1]).all()


def test_bad_input_raises_clear_errors():
    energy, stack, _ = _edge_stack((3, 3))
    with pytest.raises(InputError, match="strictly increasing.*repeated"):
        bz.xanes.edge_maps(stack, np.r_[energy[:5], energy[4], energy[6:]])
    with pytest.raises(InputError, match="60 frames .* 59 values"):
        bz.xanes.normalize(stack, energy[:-1])
    with pytest.raises(InputError, match=r"pre-edge range .* holds 1 energy point"):
        bz.xanes.normalize(stack, energy, e0=8341.0, pre1=-125, pre2=-118)
    with pytest.raises(InputError, match=r"post-edge range .* holds 0 energy point"):
        bz.xanes.normalize(stack, energy, e0=8341.0, norm1=30, norm2=32)
    with pytest.raises(InputError, match="energy is required"):
        bz.xanes.normalize(stack)
    with pytest.raises(InputError, match="unknown"):
        bz.xanes.edge_maps(stack, energy, methods=("inflection",))


def test_optical_density_and_masks():
    sample = np.array([[50.0, 0.0], [100.0, 10.0]])
    flat = np.array([[100.0, 100.0], [100.0, 0.0]])
    od = bz.xanes.optical_density(sample, flat)
    assert od[0, 0] == pytest.approx(np.log(2)) and od[1, 0] == pytest.approx(0.0)
    assert np.isnan(od[0, 1]) and np.isnan(od[1, 1])  # no log of a non-positive number
    od_dark = bz.xanes.optical_density(sample + 10, flat + 10, dark=np.full((2, 2), 10.0))
    assert od_dark[0, 0] == pytest.approx(np.log(2), rel=1e-6)
    energy, stack, _ = _edge_stack((10, 10))
    stack[:, :5] = 0.4 + 0.001 * np.random.default_rng(0).normal(size=stack[:, :5].shape)  # no edge there
    maps = bz.xanes.edge_maps(stack, energy, e0=8341.0)
    mk = bz.xanes.masks(maps)
    assert not mk["mask"][:5].any() and mk["mask"][5:].all()


# ----------------------------------------------------------------------------- linear combination


def test_nnls_matches_scipy_and_sum_to_one_recovers_fractions():
    from scipy.optimize import nnls

    rng = np.random.default_rng(4)
    refs = rng.uniform(0, 1, (3, 25))
    energy = np.arange(25.0) + 8300
    y = rng.normal(0.3, 0.5, (25, 40))
    out = bz.xanes.linear_combination(y, refs, energy)
    for v in range(40):
        x, rnorm = nnls(refs.T, y[:, v])
        np.testing.assert_allclose(out["fraction"][:, v], x, atol=1e-8)
        assert out["residual_rms"][v] == pytest.approx(rnorm / 5.0, rel=1e-6)
    frac = rng.uniform(0, 1, (2, 6, 6))
    frac /= frac.sum(axis=0)
    two = refs[:2]
    stack = np.einsum("ke,kyx->eyx", two, frac)
    res = bz.xanes.linear_combination(stack, two, energy, sum_to_one=True)
    np.testing.assert_allclose(res["fraction"], frac, atol=1e-10)


@pytest.mark.realdata
def test_state_of_charge_map_between_nio_and_linio2(standards):
    energy = np.arange(8320.0, 8400.0, 1.0)
    refs = {n: bz.xanes.normalize(standards[n])["norm"] for n in ("NiO", "LiNiO2")}
    nio = np.interp(energy, refs["NiO"]["energy"], refs["NiO"])
    lno = np.interp(energy, refs["LiNiO2"]["energy"], refs["LiNiO2"])
    soc = np.linspace(0, 1, 12).reshape(3, 4)
    stack = xr.DataArray((1 - soc)[None] * nio[:, None, None] + soc[None] * lno[:, None, None],
                         dims=("energy", "y", "x"), coords={"energy": energy})
    res = bz.xanes.linear_combination(stack, refs, sum_to_one=True)
    np.testing.assert_allclose(res["fraction"].sel(reference="LiNiO2").values, soc, atol=1e-6)


# ----------------------------------------------------------------------------- alignment


def test_alignment_recovers_subpixel_shifts_2d():
    from scipy import ndimage
    from skimage.data import camera

    base = ndimage.zoom(camera().astype(float), 0.25)[20:100, 20:110]
    rng = np.random.default_rng(2)
    shifts = rng.uniform(-3, 3, (6, 2))
    shifts[-1] = 0
    frames = np.stack([ndimage.fourier_shift(np.fft.fftn(base), s) for s in shifts])
    frames = np.fft.ifftn(frames, axes=(1, 2)).real
    aligned, found = bz.xanes.align(frames, np.arange(6.0) + 8330, upsample_factor=50)
    np.testing.assert_allclose(found, shifts, atol=0.05)
    # frames made by a periodic shift differ from the edge-padded unshift near the borders
    inner = (slice(None), slice(12, -12), slice(12, -12))
    assert np.abs(aligned[inner] - base[None, 12:-12, 12:-12]).mean() < 0.01 * np.ptp(base)
    with pytest.raises(InputError, match="not one of the stack's energies"):
        bz.xanes.align(frames, np.arange(6.0) + 8330, reference=8400.0)


def test_common_field_of_view_is_nan_where_a_frame_had_no_content():
    from scipy import ndimage

    from batteryzoom.xanes.alignment import common_fov_slices

    rng = np.random.default_rng(3)
    base = ndimage.gaussian_filter(rng.normal(size=(40, 50)), 2)
    shifts = np.array([[2.3, -1.2], [-0.4, 3.0], [0.0, 0.0]])
    # frame i holds at x what the reference holds at x - s: content enters at the low side
    frames = np.stack([ndimage.shift(base, s, order=1, mode="constant", cval=0.0) for s in shifts])
    assert common_fov_slices((40, 50), shifts) == (slice(2, 36), slice(3, 46))  # ceil(s) + 1 per side
    aligned = bz.xanes.apply_shifts(frames, shifts, method="spline", order=1)
    keep = common_fov_slices((40, 50), shifts)
    inside = np.zeros((40, 50), bool)
    inside[keep] = True
    assert np.isnan(aligned[:, ~inside]).all() and np.isfinite(aligned[:, inside]).all()
    # inside, every frame holds measured content: the reference's values back
    np.testing.assert_allclose(aligned[:, inside], np.broadcast_to(base[inside], (3, inside.sum())), atol=0.05)
    full = bz.xanes.apply_shifts(frames, shifts, method="spline", order=1, fov="full")
    assert np.isfinite(full).all()
    assert np.abs(full[0, -2:, :] - base[-2:, :]).max() > 0.1  # the band the common FOV cuts is made up
    assert np.isfinite(frames).all()  # the input is not touched (the reference frame is copied)
    assert common_fov_slices((40, 50), np.zeros((3, 2))) == (slice(0, 40), slice(0, 50))
    with pytest.raises(InputError, match="fov='all'"):
        bz.xanes.apply_shifts(frames, shifts, fov="all")


def _blob_frames(n: int, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sharp-edged object with texture in an empty field, moved by the twin's Fourier shift."""
    from scipy import ndimage

    from batteryzoom.data.twin.xanes import _fourier_shift

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    base = np.where(np.hypot(yy, xx) < n / 3, 1.0 + ndimage.gaussian_filter(rng.normal(0, 1, (n, n)), 1.5), 0.0)
    return base, np.stack([_fourier_shift(base, s) for s in shifts]).astype(np.float64)


def test_alignment_progress_counts_energies(capsys):
    """The alignment's bar says what it counts ("energy/s", not tqdm's "it/s")."""
    rng = np.random.default_rng(4)
    frames = np.repeat(rng.normal(size=(1, 24, 24)), 4, axis=0)
    bz.xanes.align(frames, np.arange(4.0) + 8330, show_progress=True)
    err = capsys.readouterr().err
    assert "aligning energies" in err and "energy/s" in err and "it/s" not in err


def test_alignment_refines_off_the_upsampling_grid():
    rng = np.random.default_rng(3)
    shifts = rng.uniform(-2.5, 2.5, (8, 2))
    shifts[-1] = 0
    _, frames = _blob_frames(64, shifts)
    energy = np.arange(8.0) + 8330
    grid = bz.xanes.alignment.estimate_shifts(frames, energy, upsample_factor=20, refine=False)
    refined = bz.xanes.alignment.estimate_shifts(frames, energy, upsample_factor=20)
    err_grid, err_refined = np.abs(grid - shifts).max(), np.abs(refined - shifts).max()
    print(f"\nworst shift error: upsampled grid {err_grid:.4f} px, refined {err_refined:.4f} px")
    assert err_refined < 0.005 and err_refined < 0.3 * err_grid


# ----------------------------------------------------------------------------- figures


def test_plot_builders_draw_what_they_are_given():
    import plotly.graph_objects as go

    from batteryzoom.plots import style
    from batteryzoom.plots import xanes as px

    energy, stack, _ = _edge_stack((8, 9), noise=0.002)
    cube = xr.DataArray(np.repeat(stack[:, None], 4, axis=1), dims=("energy", "z", "y", "x"),
                        coords={"energy": energy, "x": np.arange(9) * 0.16})
    maps = bz.xanes.edge_maps(cube)
    fig = px.edge_energy_map(maps["edge_energy_half_step_ev"], maps["valid"], index=1)
    assert isinstance(fig, go.Figure) and fig.layout.template.layout.colorway == tuple(style.COLORWAY)
    heat = fig.data[0]
    np.testing.assert_allclose(heat.z, maps["edge_energy_half_step_ev"].values[1])
    assert heat.colorscale is not None and "µm" in fig.layout.xaxis.title.text
    jump = bz.xanes.edge_jump_map(cube)
    assert len(px.edge_jump_map(jump.isel(z=0), jump.isel(z=0) > 0.2).data) == 2
    spec = xr.DataArray(stack[:, 0, 0], dims=("energy",), coords={"energy": energy})
    norm = bz.xanes.normalize(spec)
    check = px.normalization_check(spec, norm, edge_energy_ev=8341.0)
    assert {t.name for t in check.data} >= {"absorbance", "pre-edge line", "post-edge curve", "norm", "flat"}
    assert len(px.spectra({"a": spec, "b": spec * 2}, markers={"e0": 8341.0}).data) == 2
    shifts = np.zeros((len(energy), 3))
    assert len(px.alignment_shifts(energy, shifts, shifts).data) == 6


def test_fused_fixed_e0_kernel_equals_the_general_path():
    energy, stack, _ = _edge_stack((30, 40), seed=5, noise=0.004)
    stack[:, 0, 0] = np.nan
    stack[0, 0, 1] = np.inf  # outside every fit range: still flags the spectrum
    for methods in (("half_step",), bz.xanes.EDGE_METHODS):
        fast = bz.xanes.edge_maps(stack, energy, methods=methods, e0=8341.0, block_voxels=256)
        slow = bz.xanes.edge_maps(stack, energy, methods=methods, e0=8341.0, fast=False)
        np.testing.assert_array_equal(fast["valid"], slow["valid"])
        assert not fast["valid"][0, :2].any()
        for key in fast:
            if key.startswith("edge_energy") and not key.endswith("err_ev"):
                np.testing.assert_allclose(fast[key], slow[key], atol=2e-3, equal_nan=True)
        np.testing.assert_allclose(fast["edge_step"], slow["edge_step"], rtol=1e-5, equal_nan=True)
    # the block size changes no result (default: 65,536 voxels for the kernel); a bad one is named
    default = bz.xanes.edge_maps(stack, energy, e0=8341.0)
    small = bz.xanes.edge_maps(stack, energy, e0=8341.0, block_voxels=7)
    for key in default:
        np.testing.assert_array_equal(small[key], default[key], err_msg=key)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(bz.errors.InputError, match="block_voxels"):
            bz.xanes.edge_maps(stack, energy, e0=8341.0, block_voxels=bad)
