"""bz.viewer.readout: the words and numbers the viewer prints (no window needed)."""

from __future__ import annotations

import numpy as np

import batteryzoom as bz
from batteryzoom.viewer import readout


def test_status_bar_position_is_in_um_with_axis_names():
    napari_status = {"layer_name": "grains", "coordinates": "[32800.213, -2.930, 5015.690]: 998",
                     "coords": "[32800.213, -2.930, 5015.690]", "value": "998"}
    status = readout.status_in_um(napari_status, (32800.213, -2.93, 5015.69))
    assert status["coordinates"] == "z 32800.21, y -2.93, x 5015.69 µm: 998"
    assert status["layer_name"] == "grains"
    # over the background (no value) and when napari has no layer status (a plain string)
    empty = readout.status_in_um({**napari_status, "value": ""}, (1, 2, 3))
    assert empty["coordinates"] == "z 1.00, y 2.00, x 3.00 µm"
    assert readout.status_in_um("Ready", (1, 2, 3)) == "Ready"
    # applying it twice changes nothing (the viewer re-applies it on its own status event)
    assert readout.status_in_um(status, (32800.213, -2.93, 5015.69)) == status


def _summary(values, label=3):
    # a second grain with values beside it: region_stats needs one finite value somewhere
    values = np.concatenate([np.asarray(values, float), [8340.0, 8343.0]])
    labels = np.concatenate([np.full(len(values) - 2, label), [label + 1, label + 1]])
    stats = bz.regions.region_stats(values, labels, name="edge_energy_ev", bins=40)
    return bz.regions.RegionLookup(stats).summary(label)


def test_dock_title_names_the_quantity_its_unit_and_which_fwhm():
    s = _summary([8341.0, 8341.5, 8341.5, 8342.0])
    title = readout.summary_title(s, "edge_energy_ev")
    assert title.startswith("grain 3: mean edge energy 8341.50 eV, FWHM ")
    assert title.endswith(" eV as measured (4 voxels)")
    assert readout.axis_title("edge_energy_ev") == "edge energy (eV)"
    assert readout.axis_title("grey_level") == "grey level"
    assert readout.summary_title(None, "edge_energy_ev") == "no grain selected"


def test_a_grain_without_values_says_so_instead_of_nan():
    s = _summary([np.nan, np.nan])
    title = readout.summary_title(s, "edge_energy_ev")
    assert title == "grain 3: no edge energy (none of its voxels has a finite value)"


def test_the_dock_draws_the_grains_own_bins_with_round_ticks():
    counts = np.zeros(64, int)
    counts[30:34] = [1, 4, 6, 2]
    assert readout.shown_bins(counts) == (28, 36)
    assert readout.shown_bins(np.zeros(5, int)) == (0, 5)
    for lo, hi in [(8340.8, 8342.0), (8336.0, 8348.0), (0.013, 0.019), (-3.0, 41.0)]:
        values, decimals = readout.ticks(lo, hi)
        assert 2 <= len(values) <= 4 and lo <= values[0] and values[-1] <= hi
        step = np.diff(values)
        np.testing.assert_allclose(step, step[0])
        texts = [f"{v:.{decimals}f}" for v in values]
        assert len(set(texts)) == len(texts)  # printed alike, and distinct
