"""Where numba keeps the compiled kernels: the user's cache, never the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "toolkit" / "batteryzoom"
RUN_A_KERNEL = (
    "import numpy as np; from batteryzoom._kernels.regions import range_block as k; "
    "k(np.arange(10.0), np.ones(10, np.int32), np.ones(1, bool), False, True)"
)


def _files(root: Path) -> dict[str, tuple[int, int]]:
    # Python's own bytecode is left out: another test worker may import a module first
    # while this runs (the child itself writes none: PYTHONDONTWRITEBYTECODE)
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")
            if p.is_file() and p.suffix != ".pyc"}


def _run(env_extra: dict[str, str]) -> None:
    env = {"PATH": "/usr/bin:/bin", "BATTERYZOOM_PROGRESS": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(PACKAGE.parent), **env_extra}
    subprocess.run([sys.executable, "-c", RUN_A_KERNEL], env=env, capture_output=True, text=True, check=True)


def _numba_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.suffix in (".nbi", ".nbc")]


def test_running_a_kernel_writes_its_cache_under_batteryzoom_cache_not_the_package(tmp_path):
    before = _files(PACKAGE)
    _run({"BATTERYZOOM_CACHE": str(tmp_path / "bz")})
    assert _files(PACKAGE) == before, "running a kernel wrote into the installed package"
    cached = _numba_files(tmp_path / "bz" / "numba")
    assert any(p.name.startswith("regions.range_block") and p.suffix == ".nbi" for p in cached), cached


def test_a_numba_cache_dir_the_user_set_is_kept(tmp_path):
    _run({"BATTERYZOOM_CACHE": str(tmp_path / "bz"), "NUMBA_CACHE_DIR": str(tmp_path / "theirs")})
    assert _numba_files(tmp_path / "theirs")
    assert not (tmp_path / "bz" / "numba").exists()


@pytest.mark.parametrize("numba_first", [False, True])
def test_the_kernels_cache_dir_is_set_even_when_numba_was_imported_first(tmp_path, numba_first):
    code = ("import numba\n" if numba_first else "") + (
        "import os, numba.core.config as c, batteryzoom._kernels\n"
        "print(os.environ['NUMBA_CACHE_DIR']); print(c.CACHE_DIR)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PACKAGE.parent), "BATTERYZOOM_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(tmp_path / "numba")] * 2
