"""bz.regions.heterogeneity: the law of total variance, between and within regions."""

from __future__ import annotations

import numpy as np
import pytest

import batteryzoom as bz
from batteryzoom.errors import InputError


def test_heterogeneity_is_the_law_of_total_variance():
    rng = np.random.default_rng(12)
    labels = rng.integers(0, 10, (30, 30, 30))
    offsets = rng.normal(0, 2.0, 10)
    values = offsets[labels] + rng.normal(0, 0.5, labels.shape)
    h = bz.regions.heterogeneity(values, labels)
    inside = labels > 0
    v = values[inside]
    assert h.total_var == pytest.approx(v.var(), rel=1e-12)
    assert h.n_voxels == inside.sum() and h.n_regions == 9
    means = np.array([values[labels == i].mean() for i in range(1, 10)])
    sizes = np.array([(labels == i).sum() for i in range(1, 10)])
    assert h.between_var == pytest.approx(np.sum(sizes * (means - v.mean()) ** 2) / sizes.sum(), rel=1e-10)
    assert h.between_fraction + h.within_fraction == pytest.approx(1.0)
    assert h.between_fraction > 0.9  # offsets of sd 2 against noise of sd 0.5
    stats = bz.regions.region_stats(values, labels)
    h2 = bz.regions.heterogeneity(stats)
    assert h2.total_var == pytest.approx(h.total_var, rel=1e-12)
    assert set(h.as_series().index) >= {"total_var", "between_var", "within_var", "between_fraction"}
    # regions that are constant: all the variance is between regions
    hc = bz.regions.heterogeneity(offsets[labels], labels)
    assert hc.within_var == 0 and hc.between_fraction == 1.0
    with pytest.raises(InputError, match="labels"):
        bz.regions.heterogeneity(values)
