"""Packaging: environment.yml equals pyproject.toml; `import batteryzoom` stays light."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ.
CONDA_NAME = {"kaleido": "python-kaleido", "tables": "pytables"}


def _split(requirement: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    return m.group(1).lower().replace("_", "-"), m.group(3).replace(" ", "")


def test_environment_yml_lists_the_same_packages_and_bounds_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"])
    for extra in ("napari", "test"):
        wanted.update(_split(r) for r in project["optional-dependencies"][extra])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    have: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for pip_dep in dep["pip"]:
                if not pip_dep.startswith("-e"):
                    have.update([_split(pip_dep)])
        else:
            have.update([_split(dep)])
    have.pop("python"), have.pop("pip")
    # dask[array,distributed] is two conda packages
    assert have.pop("distributed") == wanted["dask"]
    expected = {CONDA_NAME.get(name, name): bound for name, bound in wanted.items()}
    assert have == expected


def test_python_requirement():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.10"
    assert "galvani" not in " ".join(project["dependencies"])  # GPL reader stays optional


def test_import_does_not_pull_napari_qt_or_kaleido():
    code = (
        "import sys, batteryzoom as bz; bz.data; bz.errors; "
        "heavy = [m for m in ('napari', 'PyQt5', 'PyQt6', 'PySide6', 'qtpy', 'kaleido', 'vispy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
