"""bz.io.acquisition: the raw tomography acquisition model and its angle rules."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError
from batteryzoom.io.acquisition import angles_in_degrees, check_acquisition, make_acquisition


def test_degrees_radians_and_unwrapped_radians_are_told_apart():
    deg, how = angles_in_degrees(np.linspace(0, 179, 181))
    assert deg[-1] == 179 and "degrees" in how
    deg, how = angles_in_degrees(np.linspace(0, np.pi, 181, endpoint=False))
    assert abs(deg[-1] - 179.0055) < 1e-3 and "radians" in how
    unwrapped = 292.2 + np.arange(360) * np.radians(0.5)  # ToMoBAR's dendrite: 292.2-295.3 rad
    deg, how = angles_in_degrees(unwrapped)
    np.testing.assert_allclose(np.diff(deg), 0.5)
    deg, _ = angles_in_degrees(np.linspace(0, 2 * np.pi, 721))  # a 360° scan in radians
    assert abs(deg[-1] - 360) < 1e-9


def test_ambiguous_or_bad_angles_are_refused_with_the_fix():
    with pytest.raises(InputError, match="angle_unit='deg' or angle_unit='rad'"):
        angles_in_degrees([0.0, 1.0, 2.0, 3.0])  # 4 angles over 3 units: degrees or radians?
    with pytest.raises(InputError, match="not finite"):
        angles_in_degrees([0.0, np.nan, 2.0])
    with pytest.raises(InputError, match="not 'deg' or 'rad'"):
        angles_in_degrees([0, 1], "grad")


def test_make_acquisition_checks_shapes_and_needs_flats():
    proj = np.ones((5, 4, 6), np.float32)
    with pytest.raises(InputError, match="4 angles for 5 projections"):
        make_acquisition(proj, [0, 45, 90, 135], flats=proj[:1], angle_unit="deg")
    with pytest.raises(InputError, match="same detector ROI"):
        make_acquisition(proj, np.arange(5) * 45.0, flats=np.ones((1, 4, 5)), angle_unit="deg")
    with pytest.raises(InputError, match="need flat fields"):
        make_acquisition(proj, np.arange(5) * 45.0, angle_unit="deg")
    acq = make_acquisition(proj, np.arange(5) * 45.0, normalized=True, angle_unit="deg")
    assert acq.attrs["normalized"] and "flats" not in acq
    assert acq.row.attrs["units"] == "px"


def test_multi_energy_layout_and_acquisition_order():
    proj = np.ones((3, 4, 2, 2), np.uint16)
    flats = np.ones((3, 2, 2, 2), np.uint16)
    acq = make_acquisition(proj, [0, 60, 120, 180], flats=flats, darks=np.zeros((3, 1, 2, 2)),
                           energy_ev=[8330.0, 8340.0, 8350.0], angle_unit="deg", pixel_size_um=0.03)
    assert acq.projections.dims == ("energy", "angle", "row", "col")
    assert acq.energy.values.tolist() == [8330.0, 8340.0, 8350.0]
    assert acq.dark_order.values.tolist() == [0]
    assert acq.flat_order.values.tolist() == [1, 2]
    assert acq.projection_order.values.tolist() == [3, 4, 5, 6]
    np.testing.assert_allclose(acq.col.values, [0.0, 0.03])
    with pytest.raises(InputError, match="3 energies of projections but energy_ev has 2"):
        make_acquisition(proj, [0, 60, 120, 180], flats=flats, energy_ev=[1.0, 2.0], angle_unit="deg")


def test_check_acquisition_refuses_other_objects():
    with pytest.raises(InputError, match="expected an acquisition Dataset"):
        check_acquisition(np.zeros((3, 3, 3)))


def test_flats_knowingly_absent_are_marked_and_pass_the_check():
    proj = np.full((3, 2, 2), 900, np.uint16)
    acq = make_acquisition(proj, [0, 60, 120], angle_unit="deg", allow_no_flats=True)
    assert acq.attrs["flats_absent"] is True and not acq.attrs["normalized"] and "flats" not in acq
    assert check_acquisition(acq) is acq
    stripped = acq.copy()
    del stripped.attrs["flats_absent"]
    with pytest.raises(InputError, match="raw projections without flats"):
        check_acquisition(stripped)
    with_flats = make_acquisition(proj, [0, 60, 120], flats=proj[:1], angle_unit="deg", allow_no_flats=True)
    assert "flats_absent" not in with_flats.attrs
