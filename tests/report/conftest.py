"""Fixtures of the report tests: the twin's report (run once per session), its written
folder, chromium hidden, a user's dataset folder, and the guard every report test runs
under: each dataset folder a test opens is hashed when it is opened and after the test,
and must be unchanged (the report only reads a user's data)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from batteryzoom import report as rp


@pytest.fixture(scope="session")
def twin_report():
    return rp.run_zoom("twin", progress=False)


@pytest.fixture(scope="session")
def written(twin_report, tmp_path_factory, chromium_path):
    out = tmp_path_factory.mktemp("report") / "out"
    return rp.write_report(twin_report, out, chromium=chromium_path), out


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    """Hide chromium: an empty PATH and no BROWSER_PATH."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    assert rp.find_chromium() is None


@pytest.fixture
def dataset(tmp_path):
    """``dataset(text) -> Path``: a user's folder (``tmp_path / "data"``) holding
    ``batteryzoom.yaml`` with ``text``; reports go beside it, never inside."""
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)

    def make(text: str) -> Path:
        (folder / rp.DATASET_FILE).write_text(text)
        return folder

    return make


def tree_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path, mode and bytes, and every folder's name."""
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        digest.update(str(p.relative_to(folder)).encode() + oct(p.lstat().st_mode).encode())
        if p.is_file() and not p.is_symlink():
            digest.update(p.read_bytes())
    return digest.hexdigest()


@pytest.fixture(autouse=True)
def sources_unchanged(monkeypatch):
    """Every dataset folder a report test opens (``FolderSource``), hashed as it is opened
    (its last opening, when a test rewrites its YAML between runs) and again after the
    test: the report never modifies its inputs."""
    seen: dict[Path, str] = {}
    init = rp.FolderSource.__init__

    def opening(self, folder, *args, **kwargs):
        path = Path(folder).expanduser()
        root = path if path.is_dir() else path.parent
        if root.is_dir():  # re-opened: the test may have rewritten its YAML meanwhile
            seen[root.resolve()] = tree_hash(root)
        init(self, folder, *args, **kwargs)

    monkeypatch.setattr(rp.FolderSource, "__init__", opening)
    yield seen
    for root, before in seen.items():
        assert tree_hash(root) == before, f"the report changed its input folder {root}"
