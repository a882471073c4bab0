"""bz.data.load: generated (twin) datasets, their cache and its checksums; real loaders."""

from __future__ import annotations

import sys
import textwrap

import pytest
import yaml

import batteryzoom as bz
from batteryzoom.data import store
from batteryzoom.errors import ChecksumError

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
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    body = dict(DESCRIBED, scale="particle", generator="toygen:make", params={"n": 8}, seed=7)
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
