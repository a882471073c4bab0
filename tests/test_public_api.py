"""Every public name still imports from where users found it (the layout may change under it).

``reference/public_names.txt`` lists ``module:name`` for every name in a public module's
``__all__`` when the package was reorganised into subpackages by technique (issue "One
house"). A name may gain new homes; it never loses this one. Add new public names to the
file as they are made.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

NAMES = [line.split(":") for line in (Path(__file__).parent / "reference" / "public_names.txt").read_text().split()]


@pytest.mark.parametrize("module", sorted({m for m, _ in NAMES}))
def test_public_names_import_from_where_they_did(module):
    mod = importlib.import_module(module)
    missing = [n for m, n in NAMES if m == module and not hasattr(mod, n)]
    assert not missing, f"{module} lost {missing}"
    listed = set(getattr(mod, "__all__", ()))
    assert {n for m, n in NAMES if m == module} <= listed, f"{module}.__all__ dropped names"
