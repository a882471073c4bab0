"""Fixtures shared by the tests of bz.xanes."""

from __future__ import annotations

import numpy as np
import pytest

DATASETS = {"NiO": "real/xanes/ref-nio", "LiNiO2": "real/xanes/ref-linio2", "Ni_foil": "real/xanes/ni-foil"}


@pytest.fixture(scope="session")
def standards(fetch_real):
    """The real Ni references (NiO, LiNiO2, Ni foil) as spectra (DataArray over ``energy``)."""
    import batteryzoom as bz

    out = {}
    for name, dataset in DATASETS.items():
        fetch_real(dataset)
        out[name] = bz.data.load(dataset)
    return out


@pytest.fixture(scope="session")
def arctan_edge():
    """``arctan_edge(energy, centre, width=1.5)``: an arctan edge with a sloping pre-edge
    background (absorbance), broadcasting over ``energy`` and ``centre``."""

    def edge(energy, centre, width=1.5):
        return 0.3 - 1e-4 * (energy - 8200) + 0.5 * (0.5 + np.arctan((energy - centre) / width) / np.pi)

    return edge


@pytest.fixture(scope="session")
def robust_sd():
    """``robust_sd(x)``: 1.4826 times the median absolute deviation (the sd of a Gaussian)."""

    def sd(x):
        x = np.asarray(x)
        return 1.4826 * np.median(np.abs(x - np.median(x)))

    return sd
