"""Notebooks are committed without outputs (nbval executes them in `make test`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert not cell.get("outputs"), f"{path.name} cell {i} has outputs: clear them before committing"
        assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_cells_stay_thin(path):
    """The work is in the package: a code cell is a few calls and a figure."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines = [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
            assert len(lines) <= 12, f"{path.name} cell {i} has {len(lines)} lines: move the work into the package"
            assert "def " not in source and "class " not in source, f"{path.name} cell {i} defines code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_cells_have_unique_ids(path):
    """nbformat 4.5 gives every cell an id (a missing one is a validation warning today,
    an error in future nbformat; JupyterLab's collaboration and links rely on them)."""
    nb = json.loads(path.read_text())
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5), f"{path.name}: nbformat < 4.5 has no cell ids"
    ids = [cell.get("id") for cell in nb["cells"]]
    missing = [i for i, cid in enumerate(ids) if not cid]
    assert not missing, f"{path.name}: cells {missing} have no id; run nbformat.validator.normalize on it"
    assert len(set(ids)) == len(ids), f"{path.name}: repeated cell ids"


SERIES = ["00_zoom", "01_electrochemistry", "02_cell_ct", "03_electrode", "04_particle", "05_grains", "06_from_raw"]


def test_the_walk_is_seven_notebooks_run_by_make_test():
    """notebooks/ holds the series 00–06, each opening with its title, and `make test` runs them."""
    assert [p.stem for p in NOTEBOOKS] == SERIES
    for path in NOTEBOOKS:
        first = json.loads(path.read_text())["cells"][0]
        assert first["cell_type"] == "markdown"
        assert "".join(first["source"]).startswith(f"# {path.stem[:2]} — "), path.name
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    test_rule = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "--nbval-lax" in test_rule and "notebooks/*.ipynb" in test_rule
