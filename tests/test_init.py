"""``import batteryzoom`` is cheap: subpackages load on first use (lazy_loader stubs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TOOLKIT = Path(__file__).resolve().parents[1] / "toolkit"
HEAVY = ("numpy", "plotly", "skimage", "dask", "xarray", "pandas", "scipy", "ipywidgets", "napari", "zarr")


def _loaded_after(statement: str) -> tuple[set[str], set[str]]:
    """Third-party top-level packages and batteryzoom modules in a fresh interpreter's
    ``sys.modules`` after ``statement``."""
    code = (f"import sys; sys.path.insert(0, {str(TOOLKIT)!r}); {statement}\n"
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return {m.split(".")[0] for m in out} & set(HEAVY), {m for m in out if m.startswith("batteryzoom")}


@pytest.mark.parametrize("package", ["batteryzoom", "batteryzoom.plots", "batteryzoom.widgets", "batteryzoom.zoom"])
def test_importing_a_package_loads_no_heavy_dependency(package):
    heavy, ours = _loaded_after(f"import {package}")
    assert heavy == set(), f"import {package} loaded {sorted(heavy)}"
    assert ours == {"batteryzoom", package}, f"import {package} loaded {sorted(ours)}"


def test_the_twin_package_loads_no_generator_until_asked():
    heavy, ours = _loaded_after("import batteryzoom.data.twin")
    assert not heavy & {"numpy", "scipy", "xarray", "pandas", "dask"}
    assert not any(m.startswith("batteryzoom.data.twin.") for m in ours)


def test_a_lazy_name_loads_its_module_on_first_use():
    heavy, ours = _loaded_after("import batteryzoom as bz; bz.zoom.Hierarchy; bz.widgets.__all__")
    assert "batteryzoom.zoom.hierarchy" in ours and "numpy" in heavy
    assert not any(m.startswith("batteryzoom.widgets.") for m in ours)  # __all__ comes from the stub
