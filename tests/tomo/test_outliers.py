"""bz.tomo.outliers: zingers found and replaced, edges of the sample left alone."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError
from batteryzoom.tomo import project, remove_outliers


def test_zingers_are_found_and_edges_kept(noisy):
    yy, xx = np.mgrid[:64, :64] - 31.5
    sample = ((np.hypot(yy, xx) < 20) * 0.03 + (np.hypot(yy - 4, xx - 6) < 7) * 0.05
              + (np.abs(np.hypot(yy + 6, xx + 5) - 5) < 1) * 0.08).astype(np.float32)
    angles = np.arange(0, 180, 3.0)
    clean = noisy(np.stack([project(sample, angles, 31.5, 64)] * 12, axis=1), 2e4, 1)  # (angle, row, col)
    rng = np.random.default_rng(2)
    hits = (rng.integers(0, 60, 40), rng.integers(0, 12, 40), rng.integers(0, 64, 40))
    data = clean.copy()
    data[hits] -= rng.uniform(0.5, 2.0, 40).astype(np.float32)  # bright in counts: negative in OD
    out, mask = remove_outliers(data, return_mask=True)
    found = mask[hits].sum()
    print(f"\nzingers: {found} of 40 found, {int(mask.sum()) - found} other pixel(s) replaced of {mask.size}")
    assert found == 40
    assert mask.sum() - found <= 2  # the sample's edges are consistent between angles: kept
    sigma = float(np.std(clean - np.round(clean, 0)))  # any scale of the noise will do
    assert np.abs(out[hits] - clean[hits]).max() < max(0.05, 10 * sigma)


def test_bad_parameters_are_named():
    with pytest.raises(InputError, match="at least 3"):
        remove_outliers(np.zeros((2, 4, 4)))
    with pytest.raises(InputError, match="odd window"):
        remove_outliers(np.zeros((5, 4, 4)), size=4)
    with pytest.raises(InputError, match="positive number of standard deviations"):
        remove_outliers(np.zeros((5, 4, 4)), threshold=0)
