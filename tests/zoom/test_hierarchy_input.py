"""bz.zoom.Hierarchy on bad input: NaN points, negative leading_dims, incomplete add()."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError
from batteryzoom.zoom import Hierarchy, Level


@pytest.fixture
def h():
    return Hierarchy([Level("a", (10, 10, 10), (1.0, 1.0, 1.0))])


def test_to_index_refuses_nan_points_instead_of_a_huge_negative_index(h):
    with pytest.raises(InputError, match="NaN or infinite"):
        h.to_index("a", [np.nan, 0, 0])
    assert np.isnan(h.to_index("a", [np.nan, 0, 0], round=False)[0])
    assert h.to_index("a", [2.4, 0, 9.6]).tolist() == [2, 0, 10]


def test_napari_transform_refuses_negative_leading_dims(h):
    with pytest.raises(InputError, match="leading_dims"):
        h.napari_transform("a", leading_dims=-1)
    assert h.napari_transform("a", leading_dims=1)["scale"] == (1.0, 1.0, 1.0, 1.0)


def test_add_with_missing_fields_names_them(h):
    with pytest.raises(InputError, match="add: cannot build a Level.*shape="):
        h.add(name="q")
