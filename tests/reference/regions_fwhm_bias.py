"""Measure the bias and scatter of bz.regions' FWHM estimator (the table in
``batteryzoom.regions.peak_and_fwhm``'s docstring).

    PYTHONPATH=toolkit python tests/reference/regions_fwhm_bias.py

Regions of n values each, Gaussian (sigma 0.5, true FWHM 2.3548 sigma) or uniform (width
1, FWHM 1), about 400,000 values per row of the table; prints FWHM / truth - 1 as mean
and standard deviation over the regions.
"""

from __future__ import annotations

import numpy as np

import batteryzoom as bz


def main() -> None:
    rng = np.random.default_rng(2)
    print(f"{'distribution':12s} {'n':>7s} {'regions':>8s} {'bias':>8s} {'scatter':>8s}")
    for dist in ("gaussian", "uniform"):
        for n in (50, 200, 1000, 2000, 5000, 20000):
            n_regions = max(20, 400_000 // n)
            labels = np.repeat(np.arange(1, n_regions + 1), n)
            centre = rng.uniform(8340, 8345, n_regions)[labels - 1]
            if dist == "gaussian":
                values, truth = centre + 0.5 * rng.standard_normal(labels.size), bz.regions.FWHM_PER_SIGMA * 0.5
            else:
                values, truth = centre + rng.uniform(-0.5, 0.5, labels.size), 1.0
            ratio = bz.regions.region_stats(values, labels, name="e").table["e_fwhm"] / truth
            print(f"{dist:12s} {n:7d} {n_regions:8d} {ratio.mean() - 1:+8.2%} {ratio.std():8.2%}")


if __name__ == "__main__":
    main()
