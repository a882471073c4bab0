"""Fixtures of the bz.tomo tests: the real raw acquisitions of the data mirror as
acquisition Datasets, and small synthetic scans with known truth.

The real files are read here with h5py / tifffile / scipy.io directly until
``bz.io.read_acquisition`` reads them (then these fixtures call it); each is fetched
through the manifest (``fetch_real``), so a missing file skips locally and fails in CI.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tooth(fetch_real):
    """APS Data Exchange tooth: 181 projections × 2 rows × 640 px, degrees, 10 flats/darks."""
    import h5py

    from batteryzoom.io.acquisition import make_acquisition

    (path,) = fetch_real("real/tomo/aps-tooth-dxchange")
    with h5py.File(path, "r") as f:
        ex = f["exchange"]
        return make_acquisition(ex["data"][()], ex["theta"][()], flats=ex["data_white"][()],
                                darks=ex["data_dark"][()], angle_unit="deg", source_path=str(path),
                                fmt="dxchange")


@pytest.fixture(scope="session")
def i13(fetch_real):
    """Diamond I13 TIFF series: 91 projections (lines 11-101 of angles.txt), one flat, one dark."""
    import tifffile

    from batteryzoom.io.acquisition import make_acquisition

    paths = fetch_real("real/tomo/diamond-i13-tiff-series")
    by_name = {p.name: p for p in paths}
    raws = sorted(p for p in paths if p.name.startswith("raw_"))
    angles = np.loadtxt(by_name["angles.txt"])[10:101]
    return make_acquisition(np.stack([tifffile.imread(p) for p in raws]), angles,
                            flats=tifffile.imread(by_name["flat_00001.tiff"])[None],
                            darks=tifffile.imread(by_name["dark_00001.tiff"])[None], angle_unit="deg",
                            source_path=str(raws[0].parent), fmt="tiff-series")


@pytest.fixture(scope="session")
def dendrite(fetch_real):
    """Diamond I12 dendrite: one normalised sinogram (×1000 -ln(I/I0) in the file), 360 angles in
    unwrapped radians, 1260 px. Returns ``(sinogram (angle, col) float32, angles_deg)``."""
    import scipy.io

    from batteryzoom.io.acquisition import angles_in_degrees

    (path,) = fetch_real("real/tomo/diamond-i12-dendrite-sinogram")
    m = scipy.io.loadmat(path)
    deg, _ = angles_in_degrees(m["anglesRad"].ravel())
    return (m["sinoRD"].T / 1000).astype(np.float32), deg


@pytest.fixture(scope="session")
def particle_slices(twin):
    """Eight slices (z 50-57) of the twin particle's true solid fraction, padded to 113 × 113
    (odd: the axis on a pixel centre), as attenuation 0.05/px: ``(8, 113, 113)`` float32."""
    density = twin("particle-nanoct", "density").values[50:58]
    return (np.pad(density, ((0, 0), (0, 1), (0, 1))) * 0.05).astype(np.float32)


def poisson_od(line_integrals, counts, seed):
    """Optical densities of a scan with ``counts`` photons per pixel without the sample
    (Poisson), floored at half a count as bz.tomo.normalize does."""
    rng = np.random.default_rng(seed)
    detected = rng.poisson(counts * np.exp(-np.asarray(line_integrals, np.float64)))
    return (-np.log(np.maximum(detected, 0.5) / counts)).astype(np.float32)


@pytest.fixture(scope="session")
def noisy():
    """``noisy(line_integrals, counts, seed)``: Poisson optical densities (see poisson_od)."""
    return poisson_od


def synthetic_scan(*, centre=33.4, ncol=64, rows=10, n_angle=90, span=180.0, energies=None, counts=2e4,
                   pixel_size_um=0.5, seed=0, lazy_chunks=None):
    """A raw acquisition of three balls (attenuation 0.02-0.04 /px) whose axis sits at
    ``centre`` (detector columns): 5 flats before and 5 after the projections with a beam
    fading 10 % over the scan, 3 darks of 100 counts, Poisson noise. Returns
    ``(acquisition, truth)``, truth ``(rows, n, n)`` in 1/px on the grid of the detector
    width centred on the axis (``(energy, rows, n, n)`` with ``energies``, attenuation
    scaled by 1 + 0.1·index)."""
    from batteryzoom.io.acquisition import make_acquisition
    from batteryzoom.tomo import project

    n = ncol
    zz, yy, xx = np.mgrid[:rows, :n, :n] - np.array([rows / 2, (n - 1) / 2, (n - 1) / 2])[:, None, None, None]
    truth = (0.02 * (np.sqrt(yy ** 2 + (xx - 4) ** 2 + zz ** 2 / 4) < 14)
             + 0.02 * (np.sqrt((yy + 6) ** 2 + (xx + 5) ** 2 + zz ** 2) < 5)
             + 0.03 * (np.hypot(yy - 7, xx + 2) < 3)).astype(np.float32)
    angles = np.linspace(0, span, n_angle, endpoint=False)
    rng = np.random.default_rng(seed)
    order = {"darks": np.arange(3), "flats": np.r_[np.arange(3, 8), np.arange(8 + n_angle, 13 + n_angle)],
             "projections": np.arange(8, 8 + n_angle)}
    beam = lambda t: counts * (1 - 0.1 * (t - 5) / (n_angle + 5))  # noqa: E731
    scales = [1.0] if energies is None else [1 + 0.1 * i for i in range(len(energies))]
    proj, flats = [], []
    for s in scales:
        line = project(truth * s, angles, centre, ncol)  # (angle, row, col)
        proj.append(rng.poisson(beam(order["projections"])[:, None, None] * np.exp(-line)) + 100)
        flats.append(rng.poisson(np.broadcast_to(beam(order["flats"])[:, None, None], (10, rows, ncol))) + 100)
    darks = np.full((3, rows, ncol), 100.0)
    if energies is None:
        data, fl, dk, tr = proj[0], flats[0], darks, truth
    else:
        data, fl, dk = np.stack(proj), np.stack(flats), np.stack([darks] * len(scales))
        tr = np.stack([truth * s for s in scales])
    data = data.astype(np.uint16)
    if lazy_chunks is not None:
        import dask.array as da

        data = da.from_array(data, chunks=data.shape[:-2] + (lazy_chunks, ncol))
    acq = make_acquisition(data, angles, flats=fl.astype(np.uint16), darks=dk.astype(np.uint16), angle_unit="deg",
                           energy_ev=energies, pixel_size_um=pixel_size_um, order=order,
                           source_path="synthetic-scan", fmt="arrays")
    return acq, tr


@pytest.fixture(scope="session")
def scan():
    """``scan(**kw) -> (acquisition, truth)``: see :func:`synthetic_scan`."""
    return synthetic_scan
