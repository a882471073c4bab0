"""Where dataset files come from, and how they are kept safe.

Real files resolve in this order, each verified by SHA-256 on the way in:

1. the cache: ``$BATTERYZOOM_CACHE`` (default: the platform's user cache dir,
   e.g. ``~/.cache/batteryzoom``), under ``files/<manifest path>``;
2. the offline mirror: ``$BATTERYZOOM_MIRROR`` (``make test`` points it at
   ``../shared/data``), under ``<manifest path>``; used in place, never modified;
3. a download with pooch from the entry's URL into the cache (temporary file, then an
   atomic rename: an interrupted download leaves nothing under the final name).

A file whose hash differs raises :class:`~batteryzoom.errors.ChecksumError` and is never
replaced or deleted; ``refetch=True`` moves a corrupt *cache* copy aside (renamed
``<name>.corrupt-<hash>``) and downloads the good one in its place. The mirror is never
written to.

Synthetic datasets are generated on first use and stored under
``generated/<name>/<key>/``, where ``key`` hashes the generator, its parameters, its seed
and the twin's source code; a ``checksums.json`` beside the parts records every file's
SHA-256 and is verified on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ChecksumError, DataUnavailableError
from .manifest import Entry, FileSpec

__all__ = [
    "cache_dir",
    "mirror_dir",
    "sha256_file",
    "resolve_file",
    "atomic_write_bytes",
    "atomic_directory",
]

_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def cache_dir() -> Path:
    """The cache root: ``$BATTERYZOOM_CACHE`` or the platform's user cache directory."""
    env = os.environ.get("BATTERYZOOM_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("batteryzoom"))


def mirror_dir() -> Path | None:
    """The offline mirror root from ``$BATTERYZOOM_MIRROR``, or None when unset."""
    env = os.environ.get("BATTERYZOOM_MIRROR")
    return Path(env).expanduser() if env else None


def sha256_file(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file, hex, streamed in 1 MiB chunks.

    Memoised within the process on (path, size, mtime) so a file verified once is not
    re-read on every ``fetch``; any change to the file changes the key.
    """
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _HASH_MEMO:
        return _HASH_MEMO[key]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    _HASH_MEMO[key] = digest.hexdigest()
    return _HASH_MEMO[key]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class atomic_directory:
    """Build a directory under a temporary name and rename it into place on success.

    ``with atomic_directory(final) as tmp: ...write into tmp...``. If the block raises,
    the temporary directory is removed and ``final`` is untouched. If another process
    created ``final`` meanwhile, ours is discarded and theirs kept (same inputs, same bytes).
    """

    def __init__(self, final: str | os.PathLike):
        self.final = Path(final)
        self.tmp = self.final.parent / f".{self.final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Path:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir()
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        try:
            os.rename(self.tmp, self.final)
        except OSError:
            if self.final.exists():  # lost a race to an identical writer
                shutil.rmtree(self.tmp, ignore_errors=True)
            else:
                raise
        return False


def _verify(path: Path, spec: FileSpec, fix: str) -> Path:
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise ChecksumError(path, spec.sha256, actual, fix)
    return path


def _download(spec: FileSpec, target: Path, progress: bool) -> Path:
    import pooch

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # pooch downloads to a temporary file, checks the hash, then renames into place.
        local = pooch.retrieve(
            url=spec.url,
            known_hash=f"sha256:{spec.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=progress,
        )
    except ValueError as exc:  # pooch's hash mismatch
        raise ChecksumError(spec.url, spec.sha256, "see message", f"Download did not match: {exc}") from exc
    except Exception as exc:  # network: connection refused, DNS, HTTP errors
        raise DataUnavailableError(
            f"{spec.path}: not in the cache ({target.parent}) nor the mirror "
            f"({mirror_dir() or 'BATTERYZOOM_MIRROR unset'}), and downloading {spec.url} failed "
            f"({type(exc).__name__}: {exc}). Set BATTERYZOOM_MIRROR to a folder holding the file "
            "(e.g. ../shared/data) or connect to the internet."
        ) from exc
    return Path(local)


def resolve_file(
    spec: FileSpec,
    *,
    download: bool = True,
    refetch: bool = False,
    progress: bool = False,
) -> Path:
    """Local path of one manifest file: cache, then mirror, then download; hash verified.

    Parameters
    ----------
    spec : FileSpec
        The manifest's record of the file.
    download : bool
        Allow a network download when neither cache nor mirror has the file.
    refetch : bool
        When the cache copy is corrupt, move it aside (``.corrupt-<hash>``) and download
        a good copy in its place. A corrupt mirror copy is left alone; the good copy goes
        to the cache.
    progress : bool
        Show a download progress bar.

    Raises
    ------
    ChecksumError
        A cache or mirror copy does not match the manifest's SHA-256.
    DataUnavailableError
        The file is in neither place and cannot be downloaded.
    """
    cached = cache_dir() / "files" / spec.path
    if cached.is_file():
        actual = sha256_file(cached)
        if actual == spec.sha256:
            return cached
        if not refetch:
            raise ChecksumError(
                cached, spec.sha256, actual,
                "Pass refetch=True (CLI: --refetch) to keep it aside and fetch a good copy.",
            )
        aside = cached.with_name(f"{cached.name}.corrupt-{actual[:12]}")
        os.replace(cached, aside)
    mirror = mirror_dir()
    if mirror is not None and not refetch:
        mirrored = mirror / spec.path
        if mirrored.is_file():
            return _verify(
                mirrored, spec,
                "The mirror is never modified; pass refetch=True (CLI: --refetch) to download "
                "a good copy into the cache, or restore the mirror file.",
            )
    if not download:
        raise DataUnavailableError(
            f"{spec.path}: not in the cache ({cache_dir() / 'files'}) nor the mirror "
            f"({mirror or 'BATTERYZOOM_MIRROR unset'}); downloads are disabled. "
            "Set BATTERYZOOM_MIRROR to a folder holding the file (e.g. ../shared/data)."
        )
    return _download(spec, cached, progress)


# --------------------------------------------------------------------------- generated data


def _source_digest(module_name: str) -> str:
    """SHA-256 over the source files of the generator's package (the twin's code).

    Part of the cache key: editing a generator invalidates its cached output.
    """
    import importlib

    module = importlib.import_module(module_name)
    root = Path(module.__file__).parent
    digest = hashlib.sha256()
    # *.json too: fitted model parameters shipped beside a generator (e.g. the Ni K-edge model)
    for src in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".json")):
        digest.update(src.relative_to(root).as_posix().encode())
        digest.update(src.read_bytes())
    return digest.hexdigest()


def generated_key(entry: Entry, params: dict) -> str:
    """Cache key of a generated dataset: generator, parameters, seed and source code."""
    module_name = entry.generator.split(":")[0]
    payload = json.dumps(
        {
            "generator": entry.generator,
            "params": params,
            "seed": entry.seed,
            "source": _source_digest(module_name),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _tree_checksums(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "checksums.json"
    }


def _write_part(obj: Any, folder: Path, part: str) -> dict:
    import pandas as pd
    import xarray as xr

    if isinstance(obj, pd.DataFrame):
        fname = f"{part}.parquet"
        obj.to_parquet(folder / fname, index=True)
        return {"kind": "dataframe", "file": fname, "attrs": _jsonable(obj.attrs)}
    if isinstance(obj, xr.DataArray):
        fname = f"{part}.zarr"
        name = obj.name or part
        obj.to_dataset(name=name).to_zarr(folder / fname, mode="w", consolidated=False)
        return {"kind": "dataarray", "file": fname, "name": name}
    if isinstance(obj, xr.Dataset):
        fname = f"{part}.zarr"
        obj.to_zarr(folder / fname, mode="w", consolidated=False)
        return {"kind": "dataset", "file": fname}
    if isinstance(obj, (bytes, str)) and "." in part:
        # a file as an instrument would write it (e.g. a BTSDA CSV export); loads as a Path
        (folder / part).write_bytes(obj.encode() if isinstance(obj, str) else obj)
        return {"kind": "file", "file": part}
    if isinstance(obj, (dict, list)):
        fname = f"{part}.json"
        (folder / fname).write_text(json.dumps(_jsonable(obj), indent=1, sort_keys=True))
        return {"kind": "json", "file": fname}
    raise TypeError(f"generator part {part!r}: cannot store {type(obj).__name__}")


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def _read_part(folder: Path, meta: dict, lazy: bool) -> Any:
    import pandas as pd
    import xarray as xr

    path = folder / meta["file"]
    kind = meta["kind"]
    if kind == "dataframe":
        df = pd.read_parquet(path)
        df.attrs.update(meta.get("attrs", {}))
        return df
    if kind == "json":
        return json.loads(path.read_text())
    if kind == "file":
        return path
    ds = xr.open_zarr(path, consolidated=False)
    if not lazy:
        ds = ds.load()
    if kind == "dataarray":
        return ds[meta["name"]]
    return ds


def store_generated(folder: Path, result: Any, info: dict) -> None:
    """Write a generator's result (one object or a dict of named parts) atomically."""
    parts = result if isinstance(result, dict) and "main" in result else {"main": result}
    with atomic_directory(folder) as tmp:
        meta = {name: _write_part(obj, tmp, name) for name, obj in parts.items()}
        record = {"info": _jsonable(info), "parts": meta, "checksums": _tree_checksums(tmp)}
        (tmp / "checksums.json").write_text(json.dumps(record, indent=1, sort_keys=True))


def open_generated(folder: Path, part: str, lazy: bool | None, verify: bool) -> Any:
    """Read one part of a stored generated dataset, verifying every file's hash first."""
    record = json.loads((folder / "checksums.json").read_text())
    if verify:
        actual = _tree_checksums(folder)
        expected = record["checksums"]
        for rel in sorted(set(expected) | set(actual)):
            if expected.get(rel) != actual.get(rel):
                raise ChecksumError(
                    folder / rel,
                    expected.get(rel, "<absent>"),
                    actual.get(rel, "<absent>"),
                    f"The generated cache is damaged; delete {folder} to regenerate it.",
                )
    if part not in record["parts"]:
        raise KeyError(part)
    if lazy is None:
        size = sum((folder / rel).stat().st_size for rel in record["checksums"])
        lazy = size > 256 * 2**20
    return _read_part(folder, record["parts"][part], lazy)


def generated_parts(folder: Path) -> list[str]:
    record = json.loads((folder / "checksums.json").read_text())
    return list(record["parts"])


def call_generator(dotted: str) -> Callable:
    import importlib

    module_name, func = dotted.split(":")
    return getattr(importlib.import_module(module_name), func)
