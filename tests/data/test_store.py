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


# ------------------------------------------------------------------ what is verified is what is read


def _corrupt_keeping_size_and_mtime(path: Path) -> bytes:
    """Flip bytes in place; put the old mtime back (what a careless copy tool or a bad
    disk may leave): same size, same mtime, different content."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-5:] = bytes(b ^ 0xFF for b in data[-5:])
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    return bytes(data)


@pytest.mark.parametrize("where", ["mirror", "cache"])
def test_a_corruption_keeping_size_and_mtime_after_a_verified_fetch_is_caught(small_mirror, where):
    spec, mirrored = small_mirror
    if where == "cache":
        cached = store.cache_dir() / "files" / spec.path
        cached.parent.mkdir(parents=True)
        shutil.move(mirrored, cached)
    (path,) = bz.data.fetch("real/xanes/ref-nio", download=False)  # verified once
    bad = _corrupt_keeping_size_and_mtime(path)
    with pytest.raises(ChecksumError) as info:
        bz.data.fetch("real/xanes/ref-nio", download=False)
    assert hashlib.sha256(bad).hexdigest() in str(info.value)
    with pytest.raises(ChecksumError):  # and bz.data.load, which reads the file, refuses it too
        bz.data.load("real/xanes/ref-nio")


def test_a_copy_of_the_wrong_size_is_refused_before_hashing(small_mirror, monkeypatch):
    spec, mirrored = small_mirror
    mirrored.write_bytes(mirrored.read_bytes() + b"\n")

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed a file whose size already differs from the manifest")

    monkeypatch.setattr(store, "sha256_file", no_hashing)
    with pytest.raises(ChecksumError) as info:
        bz.data.fetch("real/xanes/ref-nio", download=False)
    message = str(info.value)
    assert str(mirrored) in message
    assert f"expected {spec.size:,} bytes, got {spec.size + 1:,}" in message
    assert "left untouched" in message  # the mirror is never modified


# ------------------------------------------------------------------ a wrong download says what happened


@pytest.mark.parametrize("body", ["same size", "other size"])
def test_a_download_with_the_wrong_bytes_says_it_was_removed_and_why(small_mirror, monkeypatch, body):
    spec, mirrored = small_mirror
    good = mirrored.read_bytes()
    mirrored.unlink()
    bad = bytes(b ^ 0xFF for b in good) if body == "same size" else b"<html>rate limited</html>"
    _fake_http(monkeypatch, [bad])
    with pytest.raises(ChecksumError) as info:
        bz.data.fetch("real/xanes/ref-nio")
    message = str(info.value)
    assert spec.path in message and spec.url in message
    if body == "same size":
        assert spec.sha256 in message and hashlib.sha256(bad).hexdigest() in message
    else:
        assert f"expected {spec.size:,} bytes, got {len(bad):,}" in message
    assert "removed" in message and "left untouched" not in message and "see message" not in message
    folder = store.cache_dir() / "files" / Path(spec.path).parent
    assert not folder.exists() or list(folder.iterdir()) == []  # nothing kept, under any name


def test_a_corrupt_cache_copy_says_it_was_left_untouched(small_mirror):
    spec, mirrored = small_mirror
    cached = store.cache_dir() / "files" / spec.path
    cached.parent.mkdir(parents=True)
    cached.write_bytes(bytes(b ^ 0xFF for b in mirrored.read_bytes()))
    with pytest.raises(ChecksumError, match=r"left untouched.*refetch=True"):
        bz.data.fetch("real/xanes/ref-nio", download=False)


# ------------------------------------------------------------------ interrupted downloads


class _SlowBody:
    """A server on 127.0.0.1 that sends the first half of ``body``, then holds the
    connection until ``release`` is set (a download caught mid-way)."""

    def __init__(self, body: bytes):
        import http.server
        import threading

        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                outer.release.wait(120)
                try:
                    self.wfile.write(body[len(body) // 2 :])
                except OSError:  # the client was killed
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/file"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _wait_for(predicate, what: str, proc=None, timeout_s: float = 90.0):
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the child exited before {what}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_a_download_killed_mid_way_leaves_nothing_after_the_next_fetch(small_mirror, monkeypatch, sig):
    import signal
    import subprocess
    import sys

    spec, mirrored = small_mirror
    good = mirrored.read_bytes()
    mirrored.unlink()
    folder = store.cache_dir() / "files" / Path(spec.path).parent
    final = store.cache_dir() / "files" / spec.path
    server = _SlowBody(good)
    # the child downloads for real over HTTP, from a local server that stalls half-way
    code = (
        "import requests, batteryzoom as bz\n"
        "get = requests.get\n"
        f"requests.get = lambda url, *a, **k: get({server.url!r}, *a, **k)\n"
        "bz.data.fetch('real/xanes/ref-nio')\n"
    )
    env = dict(os.environ, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    child = subprocess.Popen([sys.executable, "-c", code], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def partial():
            return [p for p in folder.iterdir() if p != final and p.stat().st_size > 0] if folder.is_dir() else []

        _wait_for(lambda: bool(partial()), "a partial download in the cache", child)
        (temporary,) = partial()
        # while its owner is alive, another fetch completes beside it and leaves it alone
        _fake_http(monkeypatch, [good])
        (path,) = bz.data.fetch("real/xanes/ref-nio")
        assert path == final and _sha(path) == spec.sha256
        assert temporary.exists(), "removed a live download's temporary file"

        child.send_signal(getattr(signal, sig))
        child.wait(30)
        assert temporary.exists()  # the killed download left it (nothing can clean up after SIGKILL)
        (path,) = bz.data.fetch("real/xanes/ref-nio")  # the next run cleans up
        assert sorted(folder.iterdir()) == [final], sorted(folder.iterdir())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        server.close()


def test_temporaries_of_unknown_owners_are_removed_by_age(small_mirror):
    import time

    spec, mirrored = small_mirror
    folder = store.cache_dir() / "files" / Path(spec.path).parent
    folder.mkdir(parents=True)
    old = time.time() - 2 * 24 * 3600
    # pooch's temporary names (tempfile) carry no owner; nor does a temporary of another host
    stale = [folder / "tmpa1b2c3d4", folder / f".{Path(spec.path).name}.tmp-0badc0de-123-456-0123abcd"]
    fresh = [folder / "tmpz9y8x7w6", folder / f".{Path(spec.path).name}.tmp-0badc0de-124-457-4567abcd"]
    for p in stale + fresh:
        p.write_bytes(b"partial")
    for p in stale:
        os.utime(p, (old, old))
    unrelated = folder / "notes.txt"  # not a temporary's name: never touched
    unrelated.write_bytes(b"mine")
    os.utime(unrelated, (old, old))
    bz.data.fetch("real/xanes/ref-nio", download=False)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in fresh) and unrelated.exists()


def test_location_says_cached_mirrored_remote_or_not_generated(small_mirror, tmp_path):
    spec, mirrored = small_mirror
    entry = bz.data.info("real/xanes/ref-nio")
    assert store.location(entry) == "mirrored"
    cached = store.cache_dir() / "files" / spec.path
    cached.parent.mkdir(parents=True)
    shutil.copy(mirrored, cached)
    assert store.location(entry) == "cached"  # the cache is asked first, as fetch does
    cached.unlink()
    mirrored.write_bytes(mirrored.read_bytes()[:-1])  # a truncated copy is not counted
    assert store.location(entry) == "remote"
    mirrored.unlink()
    assert store.location(entry) == "remote"
    # a twin dataset in an empty cache, then generated (smallest twin dataset)
    twin = bz.data.info("twin/cycling-one-cycle")
    assert store.location(twin) == "not generated"
    bz.data.load("twin/cycling-one-cycle")
    assert store.location(twin) == "cached"
