"""bz.data.load: generated (twin) datasets, their cache and its checksums; real loaders."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

import batteryzoom as bz
from batteryzoom.data import store
from batteryzoom.errors import BatteryZoomError, ChecksumError, ManifestError

# the descriptive fields every manifest entry needs
DESCRIBED = {
    "modality": "cycler-record",
    "description": "a test record with enough words in it",
    "licence": "MIT",
    "citation": "nobody",
    "units": {"voltage": "V"},
}


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

            # a volume whose one chunk, written last, waits (touching $TOYGEN_MARKER first)
            # when TOYGEN_MARKER is set: a generation to interrupt mid-write
            def slow(seed, n=8):
                import os, time, dask, dask.array as da

                def chunk():
                    if os.environ.get("TOYGEN_MARKER"):
                        open(os.environ["TOYGEN_MARKER"], "w").close()
                        time.sleep(120)
                    return np.zeros((n, n, n), np.float32)

                data = da.from_delayed(dask.delayed(chunk)(), (n, n, n), np.float32)
                return xr.DataArray(data, dims=("z", "y", "x"), name="grey")
            """
        )
    )
    # a generator outside batteryzoom is a plugin: it registers in the entry point group
    # batteryzoom.loaders (here through a dist-info folder, as `pip install` would write)
    dist = tmp_path / "toygen-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toygen\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[batteryzoom.loaders]\nmake = toygen:make\nslow = toygen:slow\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    body = dict(DESCRIBED, scale="particle", generator="toygen:make", params={"n": 8}, seed=7)
    slow = dict(DESCRIBED, scale="particle", generator="toygen:slow", params={"n": 8}, seed=7)
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump({"datasets": {"twin/toy": body, "twin/slow": slow}}))
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


def _the_folder(name: str = "twin/toy"):
    (folder,) = (store.cache_dir() / "generated" / name).iterdir()
    return folder


# ------------------------------------------------------------------ what is verified is what is read


def test_a_corruption_keeping_size_and_mtime_after_a_verified_load_is_caught(toy_manifest):
    bz.data.load("twin/toy", part="truth")  # verified once
    parquet = _the_folder() / "truth.parquet"
    st = parquet.stat()
    data = bytearray(parquet.read_bytes())
    data[100:105] = bytes(b ^ 0xFF for b in data[100:105])
    parquet.write_bytes(bytes(data))
    os.utime(parquet, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (parquet.stat().st_size, parquet.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    with pytest.raises(ChecksumError, match="truth.parquet"):
        bz.data.load("twin/toy", part="truth")


def test_the_hash_memo_of_a_generated_cache_is_keyed_on_ctime(toy_manifest, monkeypatch):
    # the memo spares re-reading an unchanged tree; any write changes the file's ctime,
    # which no tool can set back, so a rewrite is hashed again
    monkeypatch.setattr(store, "_RACY_S", 0.0)  # remember files however recent
    bz.data.load("twin/toy")
    bz.data.load("twin/toy")  # remembered now
    hashed = []
    real = store.sha256_file
    monkeypatch.setattr(store, "sha256_file", lambda p, *a, **k: hashed.append(Path(p).name) or real(p, *a, **k))
    bz.data.load("twin/toy")
    assert hashed == []  # nothing re-read
    time.sleep(0.05)  # past the file system's clock tick, so the ctime moves
    parquet = _the_folder() / "truth.parquet"
    st = parquet.stat()
    parquet.write_bytes(parquet.read_bytes())  # same bytes, same mtime: only the ctime moves
    os.utime(parquet, ns=(st.st_atime_ns, st.st_mtime_ns))
    bz.data.load("twin/toy")
    assert hashed == ["truth.parquet"]


# ------------------------------------------------------------------ a damaged checksums.json


@pytest.mark.parametrize("damage", ["missing", "truncated", "not a record"])
def test_a_damaged_checksums_record_is_regenerated_once_and_replaced(toy_manifest, damage):
    import toygen

    vol = bz.data.load("twin/toy")
    folder = _the_folder()
    record = folder / "checksums.json"
    if damage == "missing":
        record.unlink()
    elif damage == "truncated":
        record.write_bytes(record.read_bytes()[: record.stat().st_size // 2])
    else:
        record.write_text('{"parts": []}')
    with pytest.warns(UserWarning, match=rf"twin/toy.*{re.escape(str(record))}.*regenerat"):
        again = bz.data.load("twin/toy", part="truth")
    assert list(again.columns) == ["label", "volume_um3"]
    assert toygen.CALLS == [7, 7]  # regenerated once
    assert _the_folder() == folder  # in place of the damaged copy
    assert (bz.data.load("twin/toy").values == vol.values).all()
    assert sorted(bz.data.parts("twin/toy")) == ["export.csv", "main", "meta", "truth"]
    assert toygen.CALLS == [7, 7]  # and then read from the cache again
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no debris beside it


# ------------------------------------------------------------------ interrupted generations


def test_a_generation_killed_mid_write_leaves_nothing_after_the_next_load(toy_manifest, tmp_path):
    marker = tmp_path / "writing"
    env = dict(os.environ, TOYGEN_MARKER=str(marker),
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, "-c", "import batteryzoom as bz; bz.data.load('twin/slow')"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    root = store.cache_dir() / "generated" / "twin/slow"
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never started writing"
            time.sleep(0.05)
        (temporary,) = root.iterdir()  # the child's half-written folder
        assert ".tmp-" in temporary.name and (temporary / "main.zarr").is_dir()
        # while its owner is alive, another process's load completes beside it and leaves it alone
        vol = bz.data.load("twin/slow")
        assert vol.shape == (8, 8, 8)
        assert temporary.is_dir(), "removed a live generation's temporary folder"

        child.kill()
        child.wait(30)
        assert temporary.is_dir()  # SIGKILL: nothing could clean up
        bz.data.load("twin/slow")  # the next run does
        assert [p.name for p in root.iterdir()] == [_the_folder("twin/slow").name]
        assert ".tmp-" not in _the_folder("twin/slow").name
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# ------------------------------------------------------------------ what a manifest may call


@pytest.fixture
def victim(tmp_path, monkeypatch):
    """A mirror with one file, and a manifest entry over it whose loader we choose."""
    data = b"precious measurement\n"
    mirror = tmp_path / "mirror"
    (mirror / "x").mkdir(parents=True)
    (mirror / "x" / "victim.txt").write_bytes(data)
    monkeypatch.setenv("BATTERYZOOM_MIRROR", str(mirror))
    monkeypatch.setenv("BATTERYZOOM_CACHE", str(tmp_path / "cache"))

    def with_loader(function: str):
        spec = {"path": "x/victim.txt", "url": "https://github.com/o/r/raw/abc/victim.txt",
                "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        body = dict(DESCRIBED, scale="cycler", files=[spec], loader={"function": function})
        path = tmp_path / "manifest.yaml"
        path.write_text(yaml.safe_dump({"datasets": {"real/victim": body}}))
        monkeypatch.setenv("BATTERYZOOM_MANIFEST", str(path))
        return mirror / "x" / "victim.txt"

    return with_loader


def test_a_loader_outside_batteryzoom_is_refused_and_touches_nothing(victim):
    path = victim("os:remove")
    with pytest.raises(ManifestError, match=r"'real/victim'.*'loader.function'.*os:remove.*batteryzoom\.loaders"):
        bz.data.load("real/victim")
    assert path.read_bytes() == b"precious measurement\n"


@pytest.mark.parametrize("function", ["batteryzoom.data.store:os", "batteryzoom.data.store:shutil",
                                      "batteryzoom.data:Path"])
def test_a_loader_must_be_a_function_of_batteryzoom_itself(victim, function):
    # inside the package's namespace, but a module or a class it merely imported
    path = victim(function)
    with pytest.raises(BatteryZoomError, match=rf"real/victim.*{re.escape(function)}.*not a function of batteryzoom"):
        bz.data.load("real/victim")
    assert path.read_bytes() == b"precious measurement\n"


def test_a_missing_generator_is_a_clear_error(toy_manifest):
    import toygen

    del toygen.make
    with pytest.raises(BatteryZoomError, match=r"twin/toy.*toygen:make.*not available"):
        bz.data.load("twin/toy")
