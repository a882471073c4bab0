"""bz.regions.widths: peak and FWHM of histograms and samples, the estimator's broadening removed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

import batteryzoom as bz
from batteryzoom.errors import InputError

FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))


def test_histogram_peak_fwhm_removes_the_estimator_broadening_exactly():
    """A noiseless binned Gaussian: the quadrature correction returns 2.3548 sigma."""
    sigma, mu = 0.4, 8342.5
    edges = np.linspace(8338, 8347, 901)
    counts = 1e6 * np.diff(sps.norm.cdf(edges, mu, sigma))
    for bw in (0.0, 0.05, 0.2, 0.4):
        out = bz.regions.peak_and_fwhm(counts, edges, bandwidth=bw)
        assert out["fwhm"] == pytest.approx(FWHM_PER_SIGMA * sigma, rel=2e-3), bw
        assert out["peak"] == pytest.approx(mu, abs=2e-3)
    # several rows at once, Silverman bandwidth from the histogram itself
    rows = np.stack([counts, np.roll(counts, 100)])
    out = bz.regions.peak_and_fwhm(rows, edges)
    np.testing.assert_allclose(out["fwhm"], FWHM_PER_SIGMA * sigma, rtol=2e-3)
    np.testing.assert_allclose(out["peak"], [mu, mu + 1.0], atol=2e-3)
    with pytest.raises(InputError, match="bin_edges"):
        bz.regions.peak_and_fwhm(counts, edges[:-1])


def test_fwhm_of_a_sample():
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 0.5, 50_000)
    peak, width = bz.regions.fwhm(x, return_peak=True)
    assert width == pytest.approx(FWHM_PER_SIGMA * 0.5, rel=0.03)
    assert peak == pytest.approx(3.0, abs=0.05)
    assert bz.regions.fwhm(np.full(100, 2.0)) == 0.0
    with pytest.raises(InputError, match="samples"):
        bz.regions.fwhm([np.nan])


def test_helpers_reject_bad_input_by_name():
    edges = np.arange(11.0)
    with pytest.raises(InputError, match="counts: need a histogram"):
        bz.regions.peak_and_fwhm(np.array([]), np.array([0.0]))
    with pytest.raises(InputError, match="bandwidth: give one value or one per row"):
        bz.regions.peak_and_fwhm(np.ones((3, 10)), edges, bandwidth=np.ones(2))
    with pytest.raises(InputError, match="counts: dtype complex"):
        bz.regions.peak_and_fwhm(np.ones(10) + 1j, edges)
    x = np.random.default_rng(0).normal(0, 1, 500)
    with pytest.raises(InputError, match="bins: need an integer >= 2"):
        bz.regions.fwhm(x, bins=0)
    with pytest.raises(InputError, match="samples: dtype <U1"):
        bz.regions.fwhm(np.array(["a", "b"]))
    with pytest.raises(InputError, match="samples: dtype complex"):
        bz.regions.fwhm(x + 1j)
