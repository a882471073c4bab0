"""bz.xanes.normalization: Larch agreement (golden values), one e0 per voxel, NaN fields of
view, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError

GOLDEN = json.loads((Path(__file__).parents[1] / "reference" / "larch_ni_golden.json").read_text())
DATASETS = {"NiO": "real/xanes/ref-nio", "LiNiO2": "real/xanes/ref-linio2", "Ni_foil": "real/xanes/ni-foil"}


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
def test_stack_of_spectra_equals_one_by_one(standards):
    energy = standards["NiO"]["energy"].values
    lno = np.interp(energy, standards["LiNiO2"]["energy"].values, standards["LiNiO2"].values)
    stack = np.stack([standards["NiO"].values, lno, 0.5 * standards["NiO"].values + 0.5 * lno], axis=1)
    together = bz.xanes.normalize(stack, energy)
    for i in range(3):
        alone = bz.xanes.normalize(stack[:, i], energy)
        np.testing.assert_allclose(together["norm"][:, i], alone["norm"], atol=1e-12)
        assert together["e0_ev"][i] == alone["e0_ev"]


def test_per_voxel_e0_follows_larch_per_spectrum(xanes_edge_stack):
    energy, stack, _ = xanes_edge_stack((4, 5), noise=0.002)
    per_voxel = bz.xanes.normalize(stack, energy)  # e0=None: find_e0 for every spectrum
    for i in range(4):
        for j in range(5):
            alone = bz.xanes.normalize(stack[:, i, j], energy)
            assert per_voxel["e0_ev"][i, j] == alone["e0_ev"]
            np.testing.assert_allclose(per_voxel["norm"][:, i, j], alone["norm"])


@pytest.mark.parametrize("call", ["normalize_mean_e0", "normalize_per_voxel", "find_e0", "edge_maps"])
def test_nan_outside_the_common_field_of_view_raises_no_warning(xanes_edge_stack, call):
    """An aligned stack is NaN outside the frames' common field of view (``align``'s
    default): normalizing it is routine and must not warn "All-NaN slice encountered"
    (notebook 05's mean spectra per grain printed it)."""
    import warnings

    energy, stack, _ = xanes_edge_stack((6, 7), noise=0.002)
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


def test_bad_input_raises_clear_errors(xanes_edge_stack):
    energy, stack, _ = xanes_edge_stack((3, 3))
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


@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_all_zero_or_constant_stack_is_a_clear_error_not_a_nan_crash(xanes_edge_stack, fill):
    # before: ValueError "cannot convert float NaN to integer" from the mean spectrum's e0
    energy, stack, _ = xanes_edge_stack((3, 3))
    flat = np.full_like(stack, fill)
    for call in (lambda: bz.xanes.edge_maps(flat, energy), lambda: bz.xanes.normalize(flat, energy, e0="mean")):
        with pytest.raises(InputError, match=r"mean spectrum is constant .* 60 energies.*no edge"):
            call()
    # per-voxel e0: every spectrum flagged, never a number
    out = bz.xanes.normalize(flat, energy)
    assert not out["valid"].any() and np.isnan(out["e0_ev"]).all() and np.isnan(out["norm"]).all()


def test_nan_spectra_are_flagged_and_an_all_nan_stack_refused(xanes_edge_stack):
    energy, stack, e_half = xanes_edge_stack((3, 3))
    stack[10, 0, 0] = np.nan
    stack[:, 1, 1] = np.nan
    maps = bz.xanes.edge_maps(stack, energy)
    bad = np.zeros((3, 3), bool)
    bad[0, 0] = bad[1, 1] = True
    assert (maps["valid"] == ~bad).all() and np.isnan(maps["edge_energy_half_step_ev"][bad]).all()
    assert np.abs(maps["edge_energy_half_step_ev"][~bad] - e_half[~bad]).max() < 0.1
    with pytest.raises(InputError, match="no voxel has a finite spectrum"):
        bz.xanes.edge_maps(np.full_like(stack, np.nan), energy)


@pytest.mark.parametrize("n", [2, 3, 6, 12, 13])
def test_coarse_scans_are_refused_saying_how_many_energies_and_what_range(arctan_edge, n):
    # before: IndexError (2 energies) or "zero-size array to reduction" (3-13) in find_e0
    energy = np.linspace(8320.0, 8380.0, n)
    stack = np.broadcast_to(arctan_edge(energy, 8342.0)[:, None, None], (n, 4, 4)).copy()
    calls = {
        "edge_maps": lambda: bz.xanes.edge_maps(stack, energy),
        "edge_maps e0=None": lambda: bz.xanes.edge_maps(stack, energy, e0=None),
        "normalize": lambda: bz.xanes.normalize(stack, energy),
        "normalize mean": lambda: bz.xanes.normalize(stack, energy, e0="mean"),
        "find_e0": lambda: bz.xanes.find_e0(stack, energy),
    }
    for name, call in calls.items():
        with pytest.raises(InputError) as err:
            call()
        msg = str(err.value)
        assert f"at least {bz.xanes.normalization.MIN_EDGE_ENERGIES} energies" in msg, name
        assert f"has {n} energies (8320.0-8380.0 eV)" in msg, name
        assert "pre-edge" in msg and "post-edge" in msg and "edge_jump_map" in msg, name


def test_the_fewest_energies_find_e0_takes_give_an_edge(arctan_edge):
    n = bz.xanes.normalization.MIN_EDGE_ENERGIES
    energy = np.linspace(8300.0, 8420.0, n)  # ~9 eV steps
    stack = np.broadcast_to(arctan_edge(energy, 8342.0)[:, None], (n, 3)).copy()
    maps = bz.xanes.edge_maps(stack, energy)
    assert maps["valid"].all()
    assert np.abs(maps["edge_energy_half_step_ev"] - 8342.0).max() < 5.0  # one grid step


def test_two_energies_with_a_given_e0_are_refused_toward_the_edge_jump_map(arctan_edge):
    energy = np.array([8324.0, 8354.0])
    stack = arctan_edge(energy, 8342.0)[:, None] * np.ones((1, 5))
    with pytest.raises(InputError, match=r"e0=8342.0 eV on 2 energies.*edge_jump_map"):
        bz.xanes.edge_maps(stack, energy, e0=8342.0)


def test_normalize_runs_block_wise_in_the_stacks_precision(arctan_edge):
    import tracemalloc

    import dask.array as da

    energy = np.linspace(8250.0, 8450.0, 60)
    rng = np.random.default_rng(0)

    def run(nx):
        centre = rng.uniform(8340, 8344, (32, 32, nx))
        stack = arctan_edge(energy[:, None, None, None], centre[None]) + rng.normal(0, 0.002, (60, 32, 32, nx))
        stack = stack.astype(np.float32)
        tracemalloc.start()
        try:
            out = bz.xanes.normalize(stack, energy, e0=8342.0)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return stack, out, peak - stack.nbytes - 4 * out["norm"].nbytes  # beyond input and the 4 curves

    small, _, extra_small = run(16)
    stack, out, extra = run(64)
    # temporaries are those of a few blocks of voxels, whatever the volume (before: float64
    # curves and intermediates of the whole stack, ~27x the input)
    assert extra < 1.5 * extra_small
    assert out["norm"].dtype == np.float32 and out["edge_step"].dtype == np.float32
    ref = bz.xanes.normalize(stack.astype(np.float64), energy, e0=8342.0)
    assert ref["norm"].dtype == np.float64
    np.testing.assert_allclose(out["norm"], ref["norm"], atol=2e-5)
    np.testing.assert_allclose(out["edge_step"], ref["edge_step"], rtol=1e-5)
    lazy = bz.xanes.normalize(da.from_array(stack, chunks=(60, 16, 16, 32)), energy, e0=8342.0)
    np.testing.assert_array_equal(lazy["norm"].compute(), out["norm"])
