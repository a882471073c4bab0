"""bz.data.manifest: the real manifest's coverage and the schema's validation."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT, need

from batteryzoom.data.manifest import parse_manifest, read_manifest
from batteryzoom.errors import ManifestError

# the offline mirror the conftest found (BATTERYZOOM_MIRROR, default ../shared/data)
SHARED = Path(os.environ.get("BATTERYZOOM_MIRROR") or PROJECT_ROOT.parent / "shared" / "data")


# ------------------------------------------------------------------ the real manifest


def test_manifest_is_valid_and_covers_every_shared_file():
    manifest = read_manifest()
    listed = {spec.path: spec for entry in manifest for spec in entry.files}
    sums = {}
    if not (SHARED / "SHA256SUMS").is_file():
        need(f"the offline mirror {SHARED} (BATTERYZOOM_MIRROR) is not there")
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


# ------------------------------------------------------------------ what a manifest may name


@pytest.mark.parametrize(
    "field, changes",
    [
        ("loader.function", {"loader": {"function": "os:remove"}}),
        ("loader.function", {"loader": {"function": "shutil:rmtree"}}),
        ("loader.function", {"loader": {"function": "batteryzoomer.io:read"}}),  # a look-alike name
        ("generator", {"files": None, "generator": "os:system", "seed": 1}),
        ("generator", {"files": None, "generator": "subprocess:run", "seed": 1}),
    ],
)
def test_callables_outside_batteryzoom_are_refused(field, changes):
    with pytest.raises(ManifestError, match=rf"'real/test'.*'{field}'.*batteryzoom.*batteryzoom\.loaders"):
        parse_manifest(_manifest_with(**changes))


def test_callables_inside_batteryzoom_are_accepted():
    entry = parse_manifest(_manifest_with(loader={"function": "batteryzoom.io:read_cycler"}))["real/test"]
    assert entry.loader["function"] == "batteryzoom.io:read_cycler"
    entry = parse_manifest(_manifest_with(files=None, generator="batteryzoom.data.twin.cell:cell_ct", seed=1))
    assert entry["real/test"].generator == "batteryzoom.data.twin.cell:cell_ct"


@pytest.mark.parametrize(
    "url, problem",
    [
        ("https://evil.example.com/o/r/raw/abc/x.csv", "host 'evil.example.com' is not one of"),
        ("https://github.com.evil.example.com/x.csv", "host 'github.com.evil.example.com' is not one of"),
        ("https://user:secret@github.com/o/r/raw/abc/x.csv", "credentials"),
        ("https://token@github.com/o/r/raw/abc/x.csv", "credentials"),
        ("https://raw.githubusercontent.com/o/r/abc/x.csv?token=GHSAT0AAA", "credentials"),
        ("https://zenodo.org/records/1/files/x.csv?access_token=abc&download=1", "credentials"),
        ("https://github.com:8443/o/r/raw/abc/x.csv", "port"),
    ],
)
def test_urls_off_the_host_allowlist_or_with_credentials_are_refused(url, problem):
    with pytest.raises(ManifestError, match=rf"'real/test'.*files\[0\]\.url.*{problem}"):
        parse_manifest(_manifest_with(files=[dict(GOOD_FILE, url=url)]))


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/o/r/raw/abc/x.csv",
        "https://raw.githubusercontent.com/o/r/abc/x.csv",
        "https://zenodo.org/records/1/files/x.csv?download=1",
        "https://GitHub.com/o/r/raw/abc/x.csv",  # host names are case-insensitive
    ],
)
def test_urls_on_the_default_hosts_are_accepted(url):
    assert parse_manifest(_manifest_with(files=[dict(GOOD_FILE, url=url)]))["real/test"].files[0].url == url


def test_the_manifest_extends_the_host_allowlist_in_one_place():
    raw = _manifest_with(files=[dict(GOOD_FILE, url="https://data.example.org/x.csv")])
    with pytest.raises(ManifestError, match="data.example.org"):
        parse_manifest(raw)
    manifest = parse_manifest({"download_hosts": ["data.example.org"], **raw})
    assert manifest["real/test"].files[0].url == "https://data.example.org/x.csv"
    assert "data.example.org" in manifest.download_hosts and "github.com" in manifest.download_hosts
    for bad in (["https://data.example.org"], ["data.example.org/path"], "data.example.org", [""]):
        with pytest.raises(ManifestError, match="download_hosts"):
            parse_manifest({"download_hosts": bad, **raw})
