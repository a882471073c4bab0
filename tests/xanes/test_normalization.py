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
