"""bz.cell.volume: slice by slice through a volume, its frame (unknown, pixels, anisotropic),
per-slice maps and defects linked into 3D."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import spiral_image

import batteryzoom as bz
from batteryzoom import cell
from batteryzoom.errors import InputError

VOXEL = 25.0  # the small twin's voxel (µm)


@pytest.fixture(scope="module")
def stack():
    img = spiral_image((120, 120), (60.3, 59.6), a=8.0, pitch=6.0, turns=7.0, width=1.2, start=0.0)
    return np.stack([img, img])


def _det():
    return pd.DataFrame({"slice": [1, 2], "z_um": [1.0, 2.0], "type": ["gap"] * 2, "y_um": [5.0, 5.0],
                         "x_um": [5.0, 5.0], "radius_um": 1.0, "angle_rad": 0.0, "turn": 1, "size_um": 2.0,
                         "magnitude_um": 1.0, "severity": 0.1, "detail": "", "weight": 1.0})


def test_per_slice_detections_and_deformation_map(twin, cell_twin_findings):
    volume = cell_twin_findings.volume
    det = volume.detections
    assert {"slice", "z_um", "type", "y_um", "x_um", "severity"} <= set(det.columns)
    # the buckle shows in the deformation map: inner turns pulled towards the axis
    b = twin("cell-ct", part="defects").set_index("type").loc["buckling"]
    res = volume.residual.sel(z=b.z_um, method="nearest")
    j = int(np.argmin(np.abs(res.angle.values - b.angle_rad)))
    assert float(res.isel(turn=0, angle=j)) == pytest.approx(-b.magnitude_um, rel=0.15)
    assert abs(float(res.isel(turn=10, angle=j))) < 0.2 * VOXEL  # the middle of the roll is undisturbed
    assert volume.residual.dims == ("z", "turn", "angle")


def test_link_defects_joins_slices_and_drops_single_slice_noise():
    det = pd.DataFrame({
        "slice": [3, 4, 5, 6, 20], "z_um": [30.0, 40, 50, 60, 200], "type": ["gap"] * 5,
        "y_um": [100.0, 101, 102, 101, 400], "x_um": [50.0, 50, 51, 50, 80], "radius_um": 1.0,
        "angle_rad": 0.0, "turn": 3, "size_um": 20.0, "magnitude_um": [2.0, 4.0, 4.0, 2.0, 9.0],
        "severity": 0.1, "detail": "", "weight": [2.0, 4.0, 4.0, 2.0, 9.0],
    })
    linked = cell.link_defects(det, (10.0, 1.0, 1.0), pitch_um=10.0)
    assert len(linked) == 1  # the lone slice-20 deformation is not a defect
    row = linked.iloc[0]
    assert row.n_slices == 4 and row.z_um == pytest.approx(45.0, abs=1.0) and row.magnitude_um == 4.0
    # a bright inclusion seen in a single slice is kept (brightness alone is unambiguous)
    one = det.iloc[[4]].assign(type="inclusion")
    kept = cell.link_defects(pd.concat([det, one], ignore_index=True), (10.0, 1.0, 1.0), pitch_um=10.0)
    assert sorted(kept.type) == ["gap", "inclusion"] and kept.set_index("type").loc["inclusion", "z_um"] == 200.0
    # the same detections in pixels link the same way and keep their unit
    in_px = cell.link_defects(det.rename(columns=lambda c: c.replace("_um", "_px")), "px", pitch_um=10.0)
    assert in_px.attrs["length_unit"] == "px" and in_px.z_px.iloc[0] == row.z_um and "z_um" not in in_px


def test_empty_volume_and_slices_without_a_cell(twin):
    with pytest.raises(InputError, match="empty"):
        cell.analyze_volume(np.zeros((0, 50, 50), np.float32), 1.0)
    with pytest.raises(InputError, match="empty or tiny"):
        cell.analyze_slice(np.zeros((0, 0)), 1.0)
    vol = twin("cell-ct").isel(z=slice(0, 3)).copy()
    data = vol.values.copy()
    data[1] = np.median(data[0, :40, :40])  # slice 1: beyond the cell, no can
    vol = vol.copy(data=data)
    with pytest.warns(UserWarning, match="slice 1 .*skipped.*no can"):
        res = cell.analyze_volume(vol, progress=False, link=False)
    assert list(res.summary.status.str[:7]) == ["ok", "skipped", "ok"]
    with pytest.raises(InputError, match="no slice could be analysed"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cell.analyze_volume(vol.isel(z=[1]), progress=False)


def test_volume_progress_is_shown(twin, capsys):
    cell.analyze_volume(twin("cell-ct").isel(z=slice(0, 2)), progress=True, link=False)
    assert "analysing slices" in capsys.readouterr().err


def test_a_bad_volume_voxel_size_is_refused_once_not_per_slice(stack):
    vol = np.concatenate([stack, stack])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with pytest.raises(InputError, match=r"voxel_size_um=-25\.0.*positive"):
            cell.analyze_volume(vol, -25.0, progress=False)
    assert rec == []


def test_an_unknown_voxel_size_is_refused_once_with_the_fix(stack):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with pytest.raises(InputError, match=r'volume: the voxel size is unknown.*\(dz, dy, dx\).*voxel_size_um="px"'):
            cell.analyze_volume(stack, can=False, progress=False, link=False)
    assert rec == []


def test_a_volume_in_pixels_names_its_unit_everywhere(stack):
    res = cell.analyze_volume(stack, "px", can=False, progress=False)
    assert list(res.summary.z_px) == [0.0, 1.0] and "pitch_px" in res.summary and "pitch_um" not in res.summary
    assert res.summary.attrs["length_unit"] == res.detections.attrs["length_unit"] == "px"
    assert res.defects.attrs["length_unit"] == "px" and "z_px" in res.defects.columns
    assert res.residual.name == "residual_px" and res.residual.attrs["units"] == "px"


def test_anisotropic_voxels_are_honoured_between_slices(twin):
    vol = twin("cell-ct").isel(z=slice(26, 29))
    iso = cell.analyze_volume(vol, progress=False, link=False)
    tall = cell.analyze_volume(vol, (50.0, 25.0, 25.0), progress=False, link=False)  # dz given, dy = dx as recorded
    np.testing.assert_allclose(tall.summary.z_um, 650.0 + 50.0 * np.arange(3))  # the first slice's z, then dz
    cols = ["pitch_um", "can_diameter_um", "n_windings", "spiral_centre_y_um"]
    pd.testing.assert_frame_equal(tall.summary[cols], iso.summary[cols])  # the slices themselves unchanged
    np.testing.assert_allclose(tall.residual.z, tall.summary.z_um)
    with pytest.raises(InputError, match=r"pixels must be square in the slice plane \(dy = dx\)"):
        cell.analyze_volume(vol, (25.0, 25.0, 30.0), progress=False)


@pytest.mark.parametrize("call, words", [
    (lambda vol: cell.analyze_volume(vol, 1.0, slices=[10], progress=False), "slices"),
    (lambda vol: cell.analyze_volume(vol, (1.0, 1.0), progress=False), "one number or 3"),
    (lambda vol: cell.analyze_volume(vol, 1.0, min_slices=0, progress=False), "min_slices"),
    (lambda vol: cell.link_defects(pd.DataFrame({"a": [1]}), 25.0), "missing column"),
    (lambda vol: cell.link_defects(np.ones((3, 3)), 25.0), "DataFrame"),
    (lambda vol: cell.link_defects(_det(), -25.0), "voxel_size_um"),
    (lambda vol: cell.link_defects(_det(), 25.0, max_skip=-1), "max_skip"),
])
def test_bad_arguments_raise_input_errors_that_name_them(stack, call, words):
    with pytest.raises(InputError, match=words):
        call(stack)


@pytest.mark.realdata
def test_real_header_region_sequence_can_and_roll_per_slice(fetch_real):
    fetch_real("real/ct/cell-header-volume")
    vol = bz.data.load("real/ct/cell-header-volume")  # the TIFF sequence, one volume, no voxel size
    res = cell.analyze_volume(vol, "px", slices=[20, 40, 85, 95], progress=False)
    s = res.summary.set_index("z_px")
    # the cap/tab slices hold the can but no wound roll; lower down the roll appears
    assert s.loc[20.0, "status"].startswith("can only") and s.loc[40.0, "status"].startswith("can only")
    assert (s.loc[[85.0, 95.0], "status"] == "ok").all()
    assert s.loc[[85.0, 95.0], "n_windings"].between(20, 25).all()
    # one can all the way down: same centre and diameter within a few pixels
    assert s.can_diameter_px.max() - s.can_diameter_px.min() < 20
    assert s.can_centre_x_px.max() - s.can_centre_x_px.min() < 3


def _same_result(a, b, voxel_um=VOXEL):
    """Every status, count and type equal; lengths within 0.1 voxel (each run's can fit
    starts from the first slice's can instead of its neighbour's: the fits settle a few
    hundredths of a voxel apart)."""
    assert a.summary.status.tolist() == b.summary.status.tolist()
    for col in a.summary.columns:
        x, y = a.summary[col], b.summary[col]
        if col.startswith("n_") or x.dtype.kind not in "f":
            assert x.equals(y), col
        else:
            np.testing.assert_allclose(y, x, atol=0.1 * voxel_um, rtol=0, err_msg=col)
    assert a.defects.type.tolist() == b.defects.type.tolist()
    assert a.defects.n_slices.tolist() == b.defects.n_slices.tolist()
    for col in ("y_um", "x_um", "magnitude_um"):
        np.testing.assert_allclose(b.defects[col], a.defects[col], atol=0.1 * voxel_um, rtol=0, err_msg=col)
    # a defect's height is a parabola's vertex through its per-slice magnitudes: where the
    # profile is cut by the volume's end, magnitudes 1 µm apart move it by up to 0.22 slice
    np.testing.assert_allclose(b.defects.z_um, a.defects.z_um, atol=0.25 * voxel_um, rtol=0)
    np.testing.assert_allclose(b.residual.values, a.residual.values, atol=0.05 * voxel_um, rtol=0)


def test_slices_in_parallel_give_the_sequential_result(twin):
    """Runs of slices on threads (no cluster): each run starts from the first slice's can and
    axis instead of its neighbour's; a skipped slice in the middle still warns once, from
    the parent."""
    vol = twin("cell-ct").isel(z=slice(26, 40)).copy()
    data = vol.values.copy()
    data[9] = np.median(data[0, :40, :40])  # a slice beyond the cell, inside a run
    vol = vol.copy(data=data)
    with pytest.warns(UserWarning, match="slice 9 .*skipped"):
        seq = cell.analyze_volume(vol, progress=False, parallel=False)
    with pytest.warns(UserWarning, match="slice 9 .*skipped") as rec:
        par = cell.analyze_volume(vol, progress=False, parallel=True)
    assert sum("slice 9" in str(w.message) for w in rec) == 1
    _same_result(seq, par)
    assert (seq.defects.type == "inclusion").any()  # the comparison covers a real defect


def test_a_two_process_cluster_analyses_a_zarr_volume_slice_parallel(twin, tmp_path):
    """On a dask.distributed client the slices go to the workers by default, read there
    from the zarr store (never gathered): the result equals the sequential one."""
    import xarray as xr
    from distributed import Client, LocalCluster, get_task_stream

    vol = twin("cell-ct").isel(z=slice(26, 38))
    one = vol.chunk({"z": 1}).to_dataset(name="ct")
    one["ct"].encoding.pop("chunks", None)  # the twin's own store chunks 16 slices together
    one.to_zarr(tmp_path / "ct1.zarr", consolidated=False)
    lazy = xr.open_zarr(tmp_path / "ct1.zarr", consolidated=False)["ct"]  # one slice per chunk
    seq = cell.analyze_volume(lazy, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        with get_task_stream(client) as stream:
            par = cell.analyze_volume(lazy, progress=False)
    busy = {task["worker"] for task in stream.data}
    assert len(busy) == 2  # both worker processes analysed slices
    _same_result(seq, par)
