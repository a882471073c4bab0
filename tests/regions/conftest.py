"""Fixtures shared by the tests of bz.regions."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def gaussian_map():
    """20 regions of 20,000 voxels, each Gaussian with its own known mean and sigma (eV)."""
    rng = np.random.default_rng(42)
    n_labels, n = 20, 20_000
    mu = rng.uniform(8340.0, 8345.0, n_labels)
    sigma = rng.uniform(0.2, 1.0, n_labels)
    labels = np.repeat(np.arange(1, n_labels + 1, dtype=np.int32), n)
    values = (mu[labels - 1] + sigma[labels - 1] * rng.standard_normal(labels.size)).astype(np.float32)
    order = rng.permutation(labels.size)  # regions interleaved, as voxels of real grains are
    shape = (50, 80, 100)
    return values[order].reshape(shape), labels[order].reshape(shape), mu, sigma
