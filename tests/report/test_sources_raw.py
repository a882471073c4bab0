"""bz.report.sources: raw acquisitions in batteryzoom.yaml (electrode, particle, grain), read
by bz.io.read_acquisition and reconstructed by bz.tomo.reconstruct (in memory or into a
``cache:`` zarr reused while the request is unchanged), with the centre used recorded."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom import report as rp
from batteryzoom.errors import BatteryZoomError, FileFormatError, InputError

CENTRE = 23.7  # the rotation axis of the synthetic scans (detector columns)


def _write_dxchange(path, *, scale=1.0, energy_ev=None, seed=0, rows=6, ncol=48, n_angle=90):
    """A Data Exchange file of two balls (attenuation 0.03 and 0.05 /px × scale) whose axis
    sits at CENTRE: 4 flats, 2 darks, Poisson noise, no pixel size recorded. Returns the
    true slice-0 image on the reconstruction grid (ncol × ncol centred on the axis)."""
    import h5py

    n = ncol
    zz, yy, xx = np.mgrid[:rows, :n, :n] - np.array([0, (n - 1) / 2, (n - 1) / 2])[:, None, None, None]
    truth = scale * (0.03 * (np.hypot(yy, xx - 3) < 12) + 0.02 * (np.hypot(yy + 5, xx + 6) < 4)).astype(np.float32)
    angles = np.linspace(0, 180, n_angle, endpoint=False)
    rng = np.random.default_rng(seed)
    line = bz.tomo.project(truth, angles, CENTRE, ncol)
    counts = 2e4
    with h5py.File(path, "w") as fh:
        fh["exchange/data"] = (rng.poisson(counts * np.exp(-line)) + 100).astype(np.uint16)
        fh["exchange/data_white"] = (rng.poisson(counts, (4, rows, ncol)) + 100).astype(np.uint16)
        fh["exchange/data_dark"] = np.full((2, rows, ncol), 100, np.uint16)
        fh["exchange/theta"] = angles
        fh["exchange/theta"].attrs["units"] = "degrees"
        if energy_ev is not None:
            fh["measurement/instrument/monochromator/energy"] = energy_ev
            fh["measurement/instrument/monochromator/energy"].attrs["units"] = "eV"
    return truth[0]


def _yaml(folder, text):
    (folder / "batteryzoom.yaml").write_text(text)


def test_a_raw_particle_is_reconstructed_with_its_centre_recorded_and_cached(tmp_path, monkeypatch):
    data = tmp_path / "data"  # the user's folder; the cache goes beside it (the report never writes into it)
    data.mkdir()
    truth = _write_dxchange(data / "scan.h5")
    _yaml(data, "particle:\n  raw: scan.h5\n  voxel_size_um: 0.5\n  cache: ../recon/particle.zarr\n")
    d = rp.FolderSource(data).load("particle")
    vol = d["volume"]
    assert vol.dims == ("z", "y", "x") and vol.shape == (6, 48, 48)
    assert bz.frames.frame_of(vol).voxel_size_um == (0.5, 0.5, 0.5)
    assert abs(vol.attrs["centre_px"] - CENTRE) <= 0.25  # found automatically
    err = np.sqrt(np.mean((vol.values[0] * 0.5 - truth) ** 2))  # 1/µm × µm/px = 1/px
    assert err < 0.1 * truth.max(), err
    side = json.loads((tmp_path / "recon" / "particle.json").read_text())
    assert side["centre_px"] == pytest.approx(vol.attrs["centre_px"])
    assert side["request"]["raw"] == [str(data / "scan.h5")]
    assert side["request"]["raw_read"] == {"pixel_size_um": 0.5}
    # the same request reopens the cache (reconstruct is not called) ...
    calls = []
    real = bz.tomo.reconstruct

    @functools.wraps(real)
    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(bz.tomo, "reconstruct", spy)
    again = rp.FolderSource(data).load("particle")["volume"]
    assert calls == [] and again.attrs["centre_px"] == pytest.approx(vol.attrs["centre_px"])
    np.testing.assert_array_equal(again.values, vol.values)
    # ... another one (a centre given) reconstructs again, and says so beside the store
    _yaml(data, "particle:\n  raw: scan.h5\n  voxel_size_um: 0.5\n  cache: ../recon/particle.zarr\n"
                    "  reconstruct: {centre: 25.0, rings: false}\n")
    given = rp.FolderSource(data).load("particle")["volume"]
    assert len(calls) == 1 and given.attrs["centre_px"] == 25.0
    assert json.loads((tmp_path / "recon" / "particle.json").read_text())["request"]["reconstruct"] == \
        {"centre": 25.0, "rings": False}


def test_raw_in_memory_for_the_electrode_and_a_multi_energy_grain(tmp_path):
    _write_dxchange(tmp_path / "electrode.h5")
    (tmp_path / "xanes").mkdir()
    energies = (8330.0, 8345.0, 8360.0)
    for i, e in enumerate(energies):
        _write_dxchange(tmp_path / "xanes" / f"e{i}.h5", scale=1 + 0.2 * i, energy_ev=e, seed=i)
    import tifffile

    labels = (np.arange(6 * 48 * 48).reshape(6, 48, 48) % 5).astype(np.int32)
    tifffile.imwrite(tmp_path / "grains.tif", labels)
    _yaml(tmp_path, "electrode:\n  raw: electrode.h5\n  raw_read: {pixel_size_um: 0.5}\n  thickness_axis: y\n"
                    "grain:\n  raw: xanes/e*.h5\n  voxel_size_um: 0.5\n  reconstruct: {centre: 23.7}\n"
                    "  labels: grains.tif\n  designated: [1, 3]\n")
    src = rp.FolderSource(tmp_path)
    e = src.load("electrode")
    assert e["thickness_axis"] == "y" and e["volume"].shape == (6, 48, 48)
    assert abs(e["volume"].attrs["centre_px"] - CENTRE) <= 0.25
    assert not list(tmp_path.glob("*.zarr"))  # in memory: nothing written
    grain = src.load("grain")
    np.testing.assert_array_equal(grain["labels"].values, labels)  # labels on the reconstructed grid
    assert grain["designated"] == [1, 3]
    # the grain's raw scan takes the twin's raw route: xanes_from_raw runs in the grain scale
    acq = grain["acquisition"]
    assert grain["stack"] is None and grain["options"] == {"centre": 23.7}
    assert acq.projections.dims == ("energy", "angle", "row", "col") and acq.sizes["energy"] == 3
    np.testing.assert_allclose(acq["energy"].values, energies)
    assert src.hierarchy().path("grain") == ["grain"] and src.hierarchy()["grain"].shape == (6, 48, 48)
    assert src.route("grain").startswith("reconstructed from raw projections (xanes/e*.h5: bz.xanes.xanes_from_raw")
    assert src.route("electrode") == "reconstructed from raw projections (electrode.h5: bz.tomo.reconstruct)"
    assert (tmp_path / "xanes").resolve() in src.inputs()  # a report is never written among the raw files


def test_a_grain_raw_route_refuses_what_xanes_from_raw_does_not_take(tmp_path):
    (tmp_path / "xanes").mkdir()
    for i, e in enumerate((8330.0, 8345.0)):
        _write_dxchange(tmp_path / "xanes" / f"e{i}.h5", energy_ev=e, seed=i)
    _write_dxchange(tmp_path / "one.h5", energy_ev=8330.0)
    _yaml(tmp_path, "grain:\n  raw: xanes/e*.h5\n  voxel_size_um: 0.5\n  reconstruct: {rows: [0, 3]}\n")
    with pytest.raises(FileFormatError, match=r"grain.reconstruct has keyword\(s\) \['rows'\].*xanes_from_raw"):
        rp.FolderSource(tmp_path).load("grain")
    _yaml(tmp_path, "grain:\n  raw: xanes/e*.h5\n  voxel_size_um: 0.5\n  magnification: none\n")
    assert rp.FolderSource(tmp_path).load("grain")["options"] == {"magnification": None}
    _yaml(tmp_path, "grain:\n  raw: xanes/e*.h5\n  magnification: [1.0, 0]\n")
    with pytest.raises(FileFormatError, match="grain.magnification: must be fit .* one pixel-size ratio > 0 per energy"):
        rp.FolderSource(tmp_path)
    _yaml(tmp_path, "grain:\n  stack: one.h5\n  magnification: fit\n")
    with pytest.raises(FileFormatError, match="grain.magnification corrects a raw scan's pixel size"):
        rp.FolderSource(tmp_path)
    _yaml(tmp_path, "grain:\n  raw: one.h5\n  voxel_size_um: 0.5\n")
    with pytest.raises(FileFormatError, match="one.h5.*is one energy; the grain scale needs a multi-energy scan"):
        rp.FolderSource(tmp_path).load("grain")


@pytest.mark.parametrize("text, problem", [
    ("particle:\n  raw: scan.h5\n  volume: scan.h5\n", "gives both volume and raw"),
    ("particle:\n  raw: scan.h5\n  reconstruct: {out: x.zarr}\n", "keyword(s) ['out']"),
    ("particle:\n  raw: scan.h5\n  reconstruct: {centr: 3}\n", "keyword(s) ['centr']"),
    ("particle:\n  raw: scan.h5\n  reconstruct: 3\n", "must be a mapping of keywords"),
    ("particle:\n  volume: scan.h5\n  cache: c.zarr\n", "gives no raw"),
    ("particle:\n  raw: scan.h5\n  cache: recon/p.zarr\n", "inside the dataset folder"),
    ("cell:\n  raw: scan.h5\n", "unknown key(s) ['raw']"),
    ("particle:\n  raw: missing.h5\n", "does not exist"),
])
def test_raw_sections_are_checked_when_the_folder_opens(tmp_path, text, problem):
    (tmp_path / "scan.h5").write_bytes(b"")
    _yaml(tmp_path, text)
    with pytest.raises(FileFormatError) as info:
        rp.FolderSource(tmp_path)
    assert problem in str(info.value) and str(tmp_path) in str(info.value)


def test_raw_files_that_are_not_acquisitions_and_foreign_caches_are_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "volume.npy", np.zeros((4, 8, 8), np.float32))
    _yaml(data, "particle:\n  raw: volume.npy\n")
    with pytest.raises(FileFormatError, match=r"volume\.npy.*unknown acquisition format"):
        rp.FolderSource(data).load("particle")
    _write_dxchange(data / "scan.h5")
    (tmp_path / "mine.zarr").mkdir()
    (tmp_path / "mine.zarr" / "notes.txt").write_text("keep")
    _yaml(data, "particle:\n  raw: scan.h5\n  raw_read: {pixel_size_um: 0.5}\n  cache: ../mine.zarr\n")
    with pytest.raises(InputError, match="not written by batteryzoom"):
        rp.FolderSource(data).load("particle")
    assert (tmp_path / "mine.zarr" / "notes.txt").read_text() == "keep"
    (tmp_path / "other.json").write_text("{}")
    _yaml(data, "particle:\n  raw: scan.h5\n  raw_read: {pixel_size_um: 0.5}\n  cache: ../other.zarr\n")
    with pytest.raises(BatteryZoomError, match=r"other\.json.*not written by batteryzoom"):
        rp.FolderSource(data).load("particle")
