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
