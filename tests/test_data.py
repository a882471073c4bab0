"""bz.data: manifest schema, resolution through the mirror, checksums, atomic caches."""

from __future__ import annotations

import copy
import hashlib
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import batteryzoom as bz
from batteryzoom.data import store
from batteryzoom.data.manifest import parse_manifest, read_manifest
from batteryzoom.errors import ChecksumError, DataUnavailableError, ManifestError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ the real manifest


def test_manifest_is_valid_and_covers_every_shared_file():
    manifest = read_manifest()
    listed = {spec.path: spec for entry in manifest for spec in entry.files}
    sums = {}
    if not (SHARED / "SHA256SUMS").is_file():
        pytest.skip("../shared/data is not beside the project")
    for line in (SHARED / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(None, 1)
        sums[path.strip().removeprefix("./")] = digest
    assert set(listed) == set(sums), "manifest and ../shared/data/SHA256SUMS list different files"
    for path, spec in listed.items():
        assert spec.sha256 == sums[path], path
        assert spec.url.startswith("https://github.com/") and "/raw/" in spec.url
        assert spec.size == (SHARED / path).stat().st_size, path


def test_every_entry_has_the_descriptive_fields():
    for entry in read_manifest():
        assert entry.scale in ("cycler", "cell", "electrode", "particle", "grain")
        assert len(entry.description) > 20 and entry.licence and entry.citation
        if not entry.synthetic:
            assert entry.loader is not None, f"{entry.name} has no loader"


def test_parents_and_boxes_are_consistent():
    manifest = read_manifest()
    for entry in manifest:
        if entry.parent:
            assert entry.parent in manifest.entries


def _real_names():
    return [e.name for e in read_manifest() if not e.synthetic]


@pytest.mark.parametrize("name", _real_names())
def test_every_real_dataset_resolves_through_the_mirror_with_its_hash(name, monkeypatch, tmp_path):
    if not (SHARED / "SHA256SUMS").is_file():
        pytest.skip("../shared/data is not beside the project")
    monkeypatch.setenv("BATTERYZOOM_CACHE", str(tmp_path / "cache"))  # empty cache
    monkeypatch.setenv("BATTERYZOOM_MIRROR", str(SHARED))
    paths = bz.data.fetch(name, download=False)
    entry = bz.data.info(name)
    assert len(paths) == len(entry.files)
    for path, spec in zip(paths, entry.files):
        assert path == SHARED / spec.path
        assert _sha(path) == spec.sha256


# ------------------------------------------------------------------ schema validation

GOOD_FILE = {
    "path": "cycler/x.csv",
    "url": "https://github.com/o/r/raw/abc/x.csv",
    "sha256": "0" * 64,
    "size": 10,
}
GOOD_ENTRY = {
    "scale": "cycler",
    "modality": "cycler-record",
    "description": "a test record with enough words in it",
    "licence": "MIT",
    "citation": "nobody",
    "units": {"voltage": "V"},
    "files": [GOOD_FILE],
}


def _manifest_with(**changes):
    entry = copy.deepcopy(GOOD_ENTRY)
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return {"datasets": {"real/test": entry}}


def test_good_manifest_parses():
    manifest = parse_manifest(_manifest_with())
    assert manifest["real/test"].files[0].size == 10


@pytest.mark.parametrize("field", ["scale", "modality", "description", "licence", "citation", "units"])
def test_missing_field_names_entry_and_field(field):
    with pytest.raises(ManifestError, match=rf"'real/test'.*'{field}'.*missing"):
        parse_manifest(_manifest_with(**{field: None}))


def test_unknown_scale_is_rejected():
    with pytest.raises(ManifestError, match=r"'real/test'.*'scale'.*'galaxy'"):
        parse_manifest(_manifest_with(scale="galaxy"))


@pytest.mark.parametrize(
    "path, problem",
    [
        ("/etc/passwd", "absolute"),
        ("C:/data/x.csv", "absolute"),
        ("../outside.csv", "climbs"),
        ("cycler/../../outside.csv", "climbs"),
        ("cycler//x.csv", "climbs"),
        ("cycler\\x.csv", "backslash"),
        ("", "non-empty"),
    ],
)
def test_unsafe_file_paths_are_rejected(path, problem):
    bad = dict(GOOD_FILE, path=path)
    with pytest.raises(ManifestError, match=rf"'real/test'.*files\[0\]\.path.*{problem}"):
        parse_manifest(_manifest_with(files=[bad]))


@pytest.mark.parametrize("url", ["http://github.com/x", "ftp://x/y", "github.com/x", 3])
def test_non_https_urls_are_rejected(url):
    with pytest.raises(ManifestError, match=r"files\[0\]\.url.*https"):
        parse_manifest(_manifest_with(files=[dict(GOOD_FILE, url=url)]))


def test_bad_hash_size_and_both_files_and_generator_are_rejected():
    with pytest.raises(ManifestError, match="sha256"):
        parse_manifest(_manifest_with(files=[dict(GOOD_FILE, sha256="abc")]))
    with pytest.raises(ManifestError, match="size"):
        parse_manifest(_manifest_with(files=[dict(GOOD_FILE, size=-1)]))
    with pytest.raises(ManifestError, match="exactly one"):
        parse_manifest(_manifest_with(generator="a.b:c", seed=1))
    with pytest.raises(ManifestError, match="seed"):
        parse_manifest(_manifest_with(files=None, generator="a.b:c"))
    with pytest.raises(ManifestError, match="parent"):
        parse_manifest(_manifest_with(parent="real/nowhere"))
    with pytest.raises(ManifestError, match="box_um"):
        parse_manifest(_manifest_with(parent="real/test", box_um={"min": [0, 0, 0], "max": [1, 0, 1]}))


def test_duplicate_names_in_yaml_are_rejected(tmp_path):
    text = yaml.safe_dump(_manifest_with())
    body = text.split("\n", 1)[1]  # the entry under datasets:
    path = tmp_path / "m.yaml"
    path.write_text("datasets:\n" + body + body)
    with pytest.raises(ManifestError, match="defined twice"):
        read_manifest(path)


# ------------------------------------------------------------------ checksums and the cache


@pytest.fixture
def small_mirror(tmp_path, monkeypatch):
    """A private mirror holding a copy of one small real file, and an empty cache."""
    if not (SHARED / "SHA256SUMS").is_file():
        pytest.skip("../shared/data is not beside the project")
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


# ------------------------------------------------------------------ generated datasets


@pytest.fixture
def toy_manifest(tmp_path, monkeypatch):
    """A manifest with one generator entry whose module lives in tmp_path."""
    pkg = tmp_path / "toygen"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            """
            import numpy as np, pandas as pd, xarray as xr
            CALLS = []
            def make(seed, n=8):
                CALLS.append(seed)
                rng = np.random.default_rng(seed)
                vol = xr.DataArray(rng.random((n, n, n), dtype=np.float32), dims=("z", "y", "x"), name="grey")
                table = pd.DataFrame({"label": np.arange(3), "volume_um3": rng.random(3)})
                table.attrs["source"] = "toy"
                return {"main": vol, "truth": table, "meta": {"n": n}, "export.csv": "a,b;1,2"}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    body = dict(GOOD_ENTRY, files=None)
    body.pop("files")
    body.update(scale="particle", generator="toygen:make", params={"n": 8}, seed=7)
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump({"datasets": {"twin/toy": body}}))
    monkeypatch.setenv("BATTERYZOOM_MANIFEST", str(path))
    monkeypatch.setenv("BATTERYZOOM_CACHE", str(tmp_path / "cache"))
    yield sys.modules.get("toygen")
    sys.modules.pop("toygen", None)


def test_generated_dataset_is_cached_and_verified(toy_manifest):
    import toygen

    vol = bz.data.load("twin/toy")
    assert vol.shape == (8, 8, 8) and vol.dims == ("z", "y", "x")
    truth = bz.data.load("twin/toy", part="truth")
    assert list(truth.columns) == ["label", "volume_um3"] and truth.attrs["source"] == "toy"
    assert bz.data.load("twin/toy", part="meta") == {"n": 8}
    assert sorted(bz.data.parts("twin/toy")) == ["export.csv", "main", "meta", "truth"]
    assert bz.data.load("twin/toy", part="export.csv").read_text() == "a,b;1,2"
    assert toygen.CALLS == [7]  # generated once, then read from the cache
    again = bz.data.load("twin/toy")
    assert (again.values == vol.values).all()
    assert toygen.CALLS == [7]

    bigger = bz.data.load("twin/toy", n=4)  # a parameter override is a different cache key
    assert bigger.shape == (4, 4, 4) and toygen.CALLS == [7, 7]

    with pytest.raises(Exception, match="no part 'nope'"):
        bz.data.load("twin/toy", part="nope")


def test_damaged_generated_cache_raises_checksum_error(toy_manifest):
    bz.data.load("twin/toy")
    folder = next((store.cache_dir() / "generated" / "twin/toy").iterdir())
    parquet = folder / "truth.parquet"
    parquet.write_bytes(parquet.read_bytes() + b"x")
    with pytest.raises(ChecksumError, match="truth.parquet"):
        bz.data.load("twin/toy")


def test_failed_generation_leaves_no_cache(toy_manifest, monkeypatch):
    import toygen

    def boom(seed, n=8):
        raise RuntimeError("generator crashed")

    monkeypatch.setattr(toygen, "make", boom)
    with pytest.raises(RuntimeError):
        bz.data.load("twin/toy")
    root = store.cache_dir() / "generated" / "twin/toy"
    assert not root.exists() or not any(root.iterdir())
