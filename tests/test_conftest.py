"""tests/conftest.py's guard: every real file a test reads, by any route, is hashed after it."""

from __future__ import annotations

from pathlib import Path

import batteryzoom as bz


def _loaded_conftest(request):
    """The conftest module pytest runs (with --import-mode=importlib, ``import conftest``
    gives another instance of it, with its own state)."""
    here = Path(__file__).parent / "conftest.py"
    return next(p for p in request.config.pluginmanager.get_plugins()
                if getattr(p, "__file__", None) and Path(p.__file__) == here)


def test_a_real_file_read_through_load_is_hashed_after_the_test(request, fetch_real):
    guard = _loaded_conftest(request)
    fetch_real("real/cycler/pec-cellpy-pec-test25205")  # skip (fail under CI) without the file
    guard._TEST_FILES.clear()
    bz.data.load("real/cycler/pec-cellpy-pec-test25205")  # not through fetch_real
    handed = set(guard._TEST_FILES)
    assert len(handed) == 1 and handed <= guard._MODULE_FILES, handed
    (file,) = handed
    assert file.endswith("cellpy_pec_Test25205.csv")
    assert guard._REAL_DIGESTS[file] == guard._digests([file])[file]
