"""bz.data.store: resolution through cache, mirror and download; checksums; temporaries."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, need

import batteryzoom as bz
from batteryzoom.data import store
from batteryzoom.data.manifest import read_manifest
from batteryzoom.errors import ChecksumError, DataUnavailableError

# the offline mirror the conftest found (BATTERYZOOM_MIRROR, default ../shared/data)
SHARED = Path(os.environ.get("BATTERYZOOM_MIRROR") or PROJECT_ROOT.parent / "shared" / "data")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _need_mirror() -> None:
    if not (SHARED / "SHA256SUMS").is_file():
        need(f"the offline mirror {SHARED} (BATTERYZOOM_MIRROR) is not there")


def _real_names():
    return [e.name for e in read_manifest() if not e.synthetic]


@pytest.mark.parametrize("name", _real_names())
def test_every_real_dataset_resolves_through_the_mirror_with_its_hash(name, monkeypatch, tmp_path):
    _need_mirror()
    monkeypatch.setenv("BATTERYZOOM_CACHE", str(tmp_path / "cache"))  # empty cache
    monkeypatch.setenv("BATTERYZOOM_MIRROR", str(SHARED))
    paths = bz.data.fetch(name, download=False)
    entry = bz.data.info(name)
    assert len(paths) == len(entry.files)
    for path, spec in zip(paths, entry.files):
        assert path == SHARED / spec.path
        assert _sha(path) == spec.sha256


# ------------------------------------------------------------------ checksums and the cache


@pytest.fixture
def small_mirror(tmp_path, monkeypatch):
    """A private mirror holding a copy of one small real file, and an empty cache."""
    _need_mirror()
    entry = bz.data.info("real/xanes/ref-nio")
    spec = entry.files[0]
    mirror = tmp_path / "mirror"
    (mirror / spec.path).parent.mkdir(parents=True)
    shutil.copy(SHARED / spec.path, mirror / spec.path)
    monkeypatch.setenv("BATTERYZOOM_MIRROR", str(mirror))
    monkeypatch.setenv("BATTERYZOOM_CACHE", str(tmp_path / "cache"))
    return spec, mirror / spec.path


def test_corrupt_mirror_copy_raises_and_is_left_untouched(small_mirror):
    spec, mirrored = small_mirror
    corrupted = mirrored.read_bytes()[:-5] + b"00000"
    mirrored.write_bytes(corrupted)
    bad_hash = hashlib.sha256(corrupted).hexdigest()
    with pytest.raises(ChecksumError) as info:
        bz.data.fetch("real/xanes/ref-nio", download=False)
    message = str(info.value)
    assert str(mirrored) in message and spec.sha256 in message and bad_hash in message
    assert mirrored.read_bytes() == corrupted  # nothing overwritten
    assert not (store.cache_dir() / "files").exists()  # nothing written to the cache


def test_corrupt_cache_copy_raises_and_refetch_keeps_it_aside(small_mirror, monkeypatch):
    spec, mirrored = small_mirror
    cached = store.cache_dir() / "files" / spec.path
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the file")
    with pytest.raises(ChecksumError, match="refetch=True"):
        bz.data.fetch("real/xanes/ref-nio", download=False)
    assert cached.read_bytes() == b"not the file"

    good = mirrored.read_bytes()
    _fake_http(monkeypatch, [good])
    (path,) = bz.data.fetch("real/xanes/ref-nio", refetch=True)
    assert path == cached and path.read_bytes() == good
    aside = list(cached.parent.glob(cached.name + ".corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"not the file"


class _FakeResponse:
    def __init__(self, chunks, fail_after=None):
        self.chunks = chunks
        self.fail_after = fail_after
        self.headers = {"content-length": str(sum(len(c) for c in chunks))}
        self.status_code = 200

    def raise_for_status(self):
        pass

    def iter_content(self, chunk_size=1024):
        for i, chunk in enumerate(self.chunks):
            if self.fail_after is not None and i >= self.fail_after:
                import requests

                raise requests.exceptions.ConnectionError("connection reset mid-download")
            yield chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass


def _fake_http(monkeypatch, chunks, fail_after=None):
    import requests

    monkeypatch.setattr(requests, "get", lambda *a, **k: _FakeResponse(chunks, fail_after))


def test_download_lands_verified_in_the_cache(small_mirror, monkeypatch):
    spec, mirrored = small_mirror
    mirrored.unlink()  # not in the mirror: must download
    data = (SHARED / spec.path).read_bytes()
    _fake_http(monkeypatch, [data[: len(data) // 2], data[len(data) // 2 :]])
    (path,) = bz.data.fetch("real/xanes/ref-nio")
    assert path == store.cache_dir() / "files" / spec.path
    assert _sha(path) == spec.sha256


def test_interrupted_download_leaves_no_file_under_the_final_name(small_mirror, monkeypatch):
    spec, mirrored = small_mirror
    mirrored.unlink()
    data = (SHARED / spec.path).read_bytes()
    _fake_http(monkeypatch, [data[:1000], data[1000:]], fail_after=1)
    with pytest.raises(DataUnavailableError, match=spec.path):
        bz.data.fetch("real/xanes/ref-nio")
    target = store.cache_dir() / "files" / spec.path
    assert not target.exists()


def test_download_with_the_wrong_bytes_is_rejected(small_mirror, monkeypatch):
    spec, mirrored = small_mirror
    mirrored.unlink()
    _fake_http(monkeypatch, [b"tampered content"])
    with pytest.raises(ChecksumError):
        bz.data.fetch("real/xanes/ref-nio")
    assert not (store.cache_dir() / "files" / spec.path).exists()


def test_missing_file_without_download_names_the_file_and_the_fix(small_mirror):
    spec, mirrored = small_mirror
    mirrored.unlink()
    with pytest.raises(DataUnavailableError, match=r"pyxas_ref_NiO.txt.*BATTERYZOOM_MIRROR"):
        bz.data.fetch("real/xanes/ref-nio", download=False)
