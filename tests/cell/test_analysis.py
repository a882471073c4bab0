"""bz.cell.analysis: one slice whole — off-centre and cropped cells, real slices and masks,
current-collector skeletons; bad arguments named."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import spiral_image
from scipy import ndimage

import batteryzoom as bz
from batteryzoom import cell
from batteryzoom.errors import InputError

VOXEL = 25.0  # the small twin's voxel (µm)


def test_off_centre_and_cropped_cells(twin):
    sl = twin("cell-ct").isel(z=5).values
    centre_x = twin("cell-ct", part="spiral")["centre_x_um"]
    shifted = np.full((800, 800), np.median(sl[:40, :40]), sl.dtype)
    shifted[20:756, 60:796] = sl  # the cell 60 px right, 20 px down of where it was
    res = cell.analyze_slice(shifted, VOXEL)
    assert res.can.centre_x_um == pytest.approx(centre_x + 60 * VOXEL, abs=0.2 * VOXEL)
    assert res.layers.n_layers == 22
    cropped = sl[:, 40:]  # the left edge of the can cut off
    with pytest.warns(UserWarning, match="runs outside the image"):
        res = cell.analyze_slice(cropped, VOXEL, name="cropped slice")
    assert res.can.cropped
    assert res.can.centre_x_um == pytest.approx(centre_x - 40 * VOXEL, abs=0.5 * VOXEL)


def test_the_summary_holds_the_can_the_spiral_and_the_defect_counts(twin):
    res = cell.analyze_slice(twin("cell-ct").sel(z=700.0), z_um=700.0)
    s = res.summary
    assert s["z_um"] == 700.0 and (res.defects.z_um == 700.0).all()
    assert s["can_diameter_um"] == pytest.approx(res.can.diameter_um) and s["pitch_um"] == res.layers.pitch_um
    assert (s["n_buckling"], s["n_dent"], s["n_gap"]) == (1, 1, 0) == tuple(
        int((res.defects.type == k).sum()) for k in ("buckling", "dent", "gap"))


@pytest.mark.parametrize("kwargs, words", [
    (dict(handedness=2), "handedness"),
    (dict(pitch_um=-1.0), "pitch_um"),
    (dict(n_angles=3), "n_angles"),
])
def test_bad_arguments_raise_input_errors_that_name_them(kwargs, words):
    with pytest.raises(InputError, match=words):
        cell.analyze_slice(spiral_image((120, 120)), 1.0, can=False, **kwargs)


# --------------------------------------------------------------------------- real slices


@pytest.fixture(scope="module")
def im1(fetch_real):
    fetch_real("real/ct/cell-slice-im1")
    fetch_real("real/ct/cell-slice-im1-mask")
    # no voxel size upstream: measured in pixels, on purpose
    image = cell.analyze_slice(bz.data.load("real/ct/cell-slice-im1"), "px")
    mask = bz.data.load("real/ct/cell-slice-im1-mask")
    own = cell.analyze_slice(mask, "px", can=False)
    return image, mask, own


def _ray_crossings(binary: np.ndarray, centre, n_rays: int = 72) -> np.ndarray:
    """How many separate bands a ray from the centre crosses, for each of n_rays rays."""
    out = []
    for phi in np.arange(n_rays) * 2 * np.pi / n_rays:
        r = np.arange(0, max(binary.shape), 0.5)
        y, x = centre[0] + r * np.sin(phi), centre[1] + r * np.cos(phi)
        inside = (y >= 0) & (y < binary.shape[0] - 1) & (x >= 0) & (x < binary.shape[1] - 1)
        v = ndimage.map_coordinates(binary.astype(np.float32), [y[inside], x[inside]], order=1) > 0.5
        v = ndimage.binary_closing(v, np.ones(3))  # one-sample breaks in a traced line
        out.append(int(np.count_nonzero(np.diff(v.astype(int)) == 1)))
    return np.array(out)


@pytest.mark.realdata
def test_real_im1_windings_match_its_mask(im1):
    image, mask, own = im1
    L = image.layers
    # the can of the real cell: round, one wall all round, no dent
    assert image.can.eccentricity < 0.1 and image.can.dents.empty and not image.can.cropped
    # the image's windings and the mask's spiral agree (independently analysed)
    assert L.n_windings == pytest.approx(own.layers.n_windings, abs=0.15)
    assert L.n_layers == own.layers.n_layers == 19
    # ...and a third count with no spiral model: bands crossed by rays through the mask
    crossings = _ray_crossings(np.asarray(mask.values) > 0, (L.centre_y_um, L.centre_x_um))
    assert np.median(crossings) in (np.floor(L.n_windings), np.ceil(L.n_windings))
    # the fitted spiral: small residuals (pixels; the pitch is ~10 px)
    assert L.pitch_um == pytest.approx(own.layers.pitch_um, rel=0.01)
    assert L.residual_robust_um < 0.1 * L.pitch_um and L.residual_rms_um < 0.15 * L.pitch_um
    assert own.layers.residual_robust_um < 0.15 * L.pitch_um
    assert np.hypot(L.centre_y_um - own.layers.centre_y_um, L.centre_x_um - own.layers.centre_x_um) < 1.5
    # issue 26: pixels never sit under µm names (notebook 02 printed pitch_um 10.28)
    assert image.summary["pitch_px"] == L.pitch_um and "pitch_um" not in image.summary
    assert "can_diameter_px" in image.summary and "can_diameter_um" not in image.summary


@pytest.mark.realdata
def test_real_jellybamm_skeletons_give_turns_per_electrode(fetch_real):
    fetch_real("real/ct/jellybamm-cc-skeleton")
    cc = bz.data.load("real/ct/jellybamm-cc-skeleton")
    turns = {}
    for label in (1, 2):
        lines = cell.line_image(cc == label, sigma_px=1.0, bin=3)  # 583² at 31.2 µm
        assert lines.attrs["voxel_size_um"] == pytest.approx([31.2, 31.2])
        res = cell.analyze_slice(lines, can=False)
        L = res.layers
        turns[label] = L.n_windings
        # independent count: how many skeleton lines a ray from the centre crosses; the
        # traced lines are dashed, so some rays miss a turn: the upper decile is the count
        crossings = _ray_crossings(cc.values == label, (L.centre_y_um / 10.4, L.centre_x_um / 10.4))
        assert np.floor(L.n_windings) <= np.percentile(crossings, 90) <= np.ceil(L.n_windings)
        assert L.pitch_um == pytest.approx(365, rel=0.05)  # ~35 px at 10.4 µm
        assert L.residual_robust_um < 0.15 * L.pitch_um
    assert 18 <= turns[1] <= 20 and 18 <= turns[2] <= 20
    assert abs(turns[1] - turns[2]) < 1.0  # the two electrodes are wound together
