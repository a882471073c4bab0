"""Where dataset files come from, and how they are kept safe.

Real files resolve in this order, each checked on the way in (size, then SHA-256):

1. the cache: ``$BATTERYZOOM_CACHE`` (default: the platform's user cache dir,
   e.g. ``~/.cache/batteryzoom``), under ``files/<manifest path>``;
2. the offline mirror: ``$BATTERYZOOM_MIRROR`` (``make test`` points it at
   ``../shared/data``), under ``<manifest path>``; used in place, never modified;
3. a download (pooch's HTTP downloader) from the entry's URL into the cache: a temporary
   file beside the target, checked, then renamed into place (an interrupted download
   leaves nothing under the final name).

A real file is hashed again on every ``fetch``/``load`` (no memo: what is verified is
what is on disk now; the largest real file, 3.8 MB, takes 3-7 ms). A file whose size or
hash differs raises :class:`~batteryzoom.errors.ChecksumError` and is never replaced or
deleted; ``refetch=True`` moves a corrupt *cache* copy aside (renamed
``<name>.corrupt-<hash>``) and downloads the good one in its place. The mirror is never
written to. A download that does not match is removed, and the error says so.

Synthetic datasets are generated on first use and stored under
``generated/<name>/<key>/``, where ``key`` hashes the generator, its parameters, its seed
and the twin's source code; a ``checksums.json`` beside the parts records every file's
SHA-256 and is verified on load. A stored dataset whose ``checksums.json`` is missing or
damaged is generated again and swapped in for the damaged copy.

Temporaries (a download's partial file, a generation's half-written folder) are named
``.<final name>.tmp-<host>-<pid>-<start>-<random>``: the process that owns them. An
interrupted run (SIGKILL, SIGTERM, a power cut) cannot remove its own, so the next run
removes those in the folder it works in (:func:`remove_stale_temporaries`): a temporary
whose owner has ended, or one whose owner cannot be checked (another host, a name without
an owner) that nobody has written for :data:`STALE_AFTER_S`. A live process's
temporary is never removed.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BatteryZoomError, ChecksumError, DataUnavailableError, FileFormatError
from .manifest import Entry, FileSpec, check_callable, in_batteryzoom

__all__ = [
    "cache_dir",
    "mirror_dir",
    "sha256_file",
    "resolve_file",
    "atomic_write_bytes",
    "atomic_directory",
    "remove_stale_temporaries",
    "STALE_AFTER_S",
    "location",
    "LOCATIONS",
]

# generated trees only, keyed on (device, inode, size, mtime, ctime): a write changes the
# ctime, which no tool can set back (utime sets it to now)
_HASH_MEMO: dict[tuple[int, int, int, int, int], str] = {}
# a file whose ctime is this recent is not remembered: a write within the same tick of the
# file system's coarse clock could keep the same ctime (git's "racy" rule)
_RACY_S = 2.0
STALE_AFTER_S = 24 * 3600.0


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
    """SHA-256 of a file, hex, streamed in 1 MiB chunks; read in full on every call.

    No memo: a corruption that keeps the size and the mtime is caught on the next call.
    Cost: ~1 ms per MB from the page cache (the largest real file, 3.8 MB: 3-7 ms).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def _sha256_remembered(path: Path) -> str:
    """:func:`sha256_file`, remembered within the process while the file's inode, size,
    mtime and ctime stay the same (a generated tree: the twin's 63 MB take ~70 ms to hash)."""
    before = os.stat(path)
    key = (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns, before.st_ctime_ns)
    if key in _HASH_MEMO:
        return _HASH_MEMO[key]
    digest = sha256_file(path)
    after = os.stat(path)
    unchanged = key == (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns)
    if unchanged and time.time() - before.st_ctime_ns / 1e9 > _RACY_S:
        _HASH_MEMO[key] = digest
    return digest


# --------------------------------------------------------------------------- temporaries

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_HAS_PROC = os.path.exists("/proc/self/stat")
_OWNED = re.compile(r"^\..+\.tmp-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-(?P<start>\d+)-[0-9a-f]{8}$")
# names whose owner cannot be fully checked, written by earlier versions: this module's
# (a pid without its start time; mkstemp's) and pooch's (tempfile's tmpXXXXXXXX downloads)
_PID_ONLY = re.compile(r"^\..+\.tmp-(?P<pid>\d+)-[0-9a-f]{8}$")
_OWNERLESS = re.compile(r"^(tmp[a-z0-9_]{8}|\..+\.[a-z0-9_]{8}\.tmp)$")


def _proc_stat(pid: int) -> list[str]:
    """Fields 3... of ``/proc/<pid>/stat`` (Linux): state first, start time at [19]."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def temporary_path(final: str | os.PathLike) -> Path:
    """A unique name beside ``final`` that says which process owns it: host, pid, and the
    process's start time (clock ticks since boot; a pid is reused, the pair is not)."""
    final = Path(final)
    try:
        start = _proc_stat(os.getpid())[19] if _HAS_PROC else "0"
    except (OSError, IndexError):
        start = "0"
    return final.parent / f".{final.name}.tmp-{_HOST}-{os.getpid()}-{start}-{uuid.uuid4().hex[:8]}"


def _owner_alive(name: str) -> bool | None:
    """Whether the process that owns temporary ``name`` runs: True, False, or None when it
    cannot be told (another host, no owner in the name, a process hidden from us, not a
    POSIX system)."""
    owned, pid_only = _OWNED.match(name), _PID_ONLY.match(name)
    match = owned or pid_only
    if match is None or os.name != "posix" or (owned and owned["host"] != _HOST):
        return None
    pid = int(match["pid"])
    try:
        os.kill(pid, 0)  # signal 0: is it there?
        visible = True
    except ProcessLookupError:
        return False
    except PermissionError:  # there, another user's (and maybe hidden in /proc)
        visible = False
    if _HAS_PROC:
        try:
            fields = _proc_stat(pid)
        except FileNotFoundError:
            return False if visible else None  # ended since, or hidden (hidepid)
        except OSError:
            return None
        if fields[0] in ("Z", "X"):  # a zombie has ended; only its exit status is left
            return False
        if owned and owned["start"] != "0":
            return fields[19] == owned["start"]  # another start time: the pid was reused
    return True if owned else None  # a pid alone may have been reused: go by age


def _last_written(path: Path) -> float:
    if not path.is_dir():
        return path.lstat().st_mtime
    return max([path.lstat().st_mtime] + [p.lstat().st_mtime for p in path.rglob("*")])


def remove_stale_temporaries(folder: str | os.PathLike, stale_after_s: float | None = None, *,
                             prefix: str = "") -> list[Path]:
    """Remove the temporaries interrupted writers left in ``folder`` (not its subfolders).

    A temporary (see the module docstring for the names) goes when its owner has ended,
    or, when its owner cannot be checked, when nothing in it was written for
    ``stale_after_s`` (default :data:`STALE_AFTER_S`, a day). A temporary of a live
    process stays. Other files are never touched; with ``prefix``, only names starting with
    it are looked at (e.g. ``temporary_path(final)``'s of one ``final`` in a user's folder).

    Returns
    -------
    list of pathlib.Path
        What was removed.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> mine = temporary_path(folder / "x.csv")        # this process's: it is alive
    >>> _ = mine.write_bytes(b"half written")
    >>> left = folder / "tmpa1b2c3d4"                  # an earlier version's, no owner in the name
    >>> _ = left.write_bytes(b"partial download")
    >>> os.utime(left, (0, 0))                         # untouched for decades
    >>> [p.name for p in remove_stale_temporaries(folder)]
    ['tmpa1b2c3d4']
    >>> mine.exists()
    True
    >>> shutil.rmtree(folder)
    """
    folder = Path(folder)
    stale_after_s = STALE_AFTER_S if stale_after_s is None else stale_after_s
    removed = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix) or not (_OWNED.match(name) or _PID_ONLY.match(name) or _OWNERLESS.match(name)):
            continue
        path = Path(entry.path)
        alive = _owner_alive(name)
        try:
            stale = alive is False or (alive is None and time.time() - _last_written(path) > stale_after_s)
        except FileNotFoundError:  # its owner finished (or another sweep removed it) meanwhile
            continue
        if not stale:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


class atomic_directory:
    """Build a directory under a temporary name and rename it into place on success.

    ``with atomic_directory(final) as tmp: ...write into tmp...``. If the block raises,
    the temporary directory is removed and ``final`` is untouched. If ``final`` exists
    when the block ends (another process made it meanwhile: same inputs, same bytes), ours
    is discarded and theirs kept, unless ``replace(final)`` is true: then the old one is
    renamed aside, ours renamed into place, and the old one removed (a crash between the
    two renames leaves no ``final``, which reads as "not made yet", and a temporary the
    next run removes).
    """

    def __init__(self, final: str | os.PathLike, replace: Callable[[Path], bool] | None = None):
        self.final = Path(final)
        self.replace = replace
        self.tmp = temporary_path(self.final)

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
            return False
        except OSError:
            if not self.final.exists():
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise
        if self.replace is None or not self.replace(self.final):  # lost a race to an identical writer
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        old: Path | None = temporary_path(self.final)
        try:
            os.rename(self.final, old)
        except FileNotFoundError:  # another writer moved it meanwhile
            old = None
        try:
            os.rename(self.tmp, self.final)
        except OSError:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if not self.final.exists():  # put the old one back rather than leave nothing
                if old is not None:
                    os.rename(old, self.final)
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


def _mismatch(path: Path, spec: FileSpec) -> tuple[str, str, str] | None:
    """``(what, expected, actual)`` if ``path`` is not the manifest's file: the size first
    (a stat), then the SHA-256 (a read)."""
    size = path.stat().st_size
    if size != spec.size:
        return "size", f"{spec.size:,} bytes", f"{size:,} bytes"
    actual = sha256_file(path)
    if actual != spec.sha256:
        return "SHA-256", spec.sha256, actual
    return None


def _verify(path: Path, spec: FileSpec, fix: str) -> Path:
    bad = _mismatch(path, spec)
    if bad is not None:
        kind, expected, actual = bad
        raise ChecksumError(path, expected, actual, fix, kind=kind)
    return path


def _download(spec: FileSpec, target: Path, progress: bool) -> Path:
    import pooch

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(target)
    try:
        try:
            pooch.HTTPDownloader(progressbar=progress)(spec.url, str(tmp), None)
        except Exception as exc:  # network: connection refused, DNS, HTTP errors
            raise DataUnavailableError(
                f"{spec.path}: not in the cache ({target.parent}) nor the mirror "
                f"({mirror_dir() or 'BATTERYZOOM_MIRROR unset'}), and downloading {spec.url} failed "
                f"({type(exc).__name__}: {exc}). Set BATTERYZOOM_MIRROR to a folder holding the file "
                "(e.g. ../shared/data) or connect to the internet."
            ) from exc
        bad = _mismatch(tmp, spec)
        if bad is not None:
            kind, expected, actual = bad
            raise ChecksumError(
                f"{spec.path} (downloaded from {spec.url})", expected, actual,
                "The server may have sent an error page or a changed file: retry later, check the "
                "URL in the manifest, or set BATTERYZOOM_MIRROR to a folder holding a good copy.",
                kind=kind,
                outcome=f"The download was removed, since bytes that differ from the manifest's record "
                        f"are not this dataset; nothing was kept in the cache ({target.parent}).",
            )
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # gone already once renamed into place
    return target


def resolve_file(
    spec: FileSpec,
    *,
    download: bool = True,
    refetch: bool = False,
    progress: bool = False,
) -> Path:
    """Local path of one manifest file: cache, then mirror, then download; size and hash verified.

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
        A cache or mirror copy, or the download, does not match the manifest's size or
        SHA-256 (the copy is left untouched; the download is removed).
    DataUnavailableError
        The file is in neither place and cannot be downloaded.
    """
    cached = cache_dir() / "files" / spec.path
    remove_stale_temporaries(cached.parent)  # an interrupted download's partial file
    if cached.is_file():
        bad = _mismatch(cached, spec)
        if bad is None:
            return cached
        kind, expected, actual = bad
        if not refetch:
            raise ChecksumError(
                cached, expected, actual,
                "Pass refetch=True (CLI: --refetch) to keep it aside and fetch a good copy.",
                kind=kind,
            )
        aside = cached.with_name(f"{cached.name}.corrupt-{sha256_file(cached)[:12]}")
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


def resolve_callable(dotted: str, dataset: str, field: str) -> Callable:
    """The function a manifest entry names (``loader.function`` or ``generator``).

    Only a function defined in batteryzoom, or one a plugin registers in the entry point
    group ``batteryzoom.loaders`` (see :mod:`batteryzoom.data.manifest`).
    """
    check_callable(dotted, dataset, field)  # again: an Entry may be built without a manifest
    module_name, _, name = dotted.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise BatteryZoomError(
            f"{dataset}: its {field} {dotted} is not available in this version of batteryzoom or "
            f"of the plugin that provides it ({type(exc).__name__}: {exc}). Update batteryzoom (or "
            "install the plugin), or correct the manifest entry."
        ) from exc
    where = getattr(func, "__module__", None) or ""
    is_function = callable(func) and not inspect.isclass(func) and not inspect.ismodule(func)
    if in_batteryzoom(dotted) and not (is_function and in_batteryzoom(f"{where}:_")):
        raise BatteryZoomError(
            f"{dataset}: its {field} {dotted} is not a function of batteryzoom (it is "
            f"{type(func).__name__} {getattr(func, '__name__', '')!r} from {where or 'elsewhere'}); "
            "name the function that loads or makes the data, e.g. batteryzoom.io:read_cycler."
        )
    return func


# --------------------------------------------------------------------------- generated data


def _source_digest(module_name: str) -> str:
    """SHA-256 over the source files of the generator's package (the twin's code).

    Part of the cache key: editing a generator invalidates its cached output.
    """
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


LOCATIONS = ("cached", "mirrored", "remote", "not generated")


def location(entry: Entry) -> str:
    """Where a dataset is now, without reading it (what ``batteryzoom data list`` shows).

    Returns
    -------
    str
        One of :data:`LOCATIONS`. A real dataset is ``"cached"`` when every file is in
        the cache, ``"mirrored"`` when every file is in the cache or the mirror (some in
        the mirror), ``"remote"`` when a file would be downloaded. A synthetic dataset is
        ``"cached"`` when generated with the manifest's parameters and this version of
        the twin's code, else ``"not generated"`` (``load`` generates it). Sizes are
        compared, hashes are not: ``fetch``/``load`` verify them on the way in.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> location(bz.data.info("real/xanes/ref-nio")) in LOCATIONS
    True
    """
    if entry.synthetic:
        folder = cache_dir() / "generated" / entry.name / generated_key(entry, dict(entry.params))
        return "cached" if (folder / "checksums.json").is_file() else "not generated"
    mirror = mirror_dir()
    where = set()
    for spec in entry.files:
        for place, root in (("cached", cache_dir() / "files"), ("mirrored", mirror)):
            path = root / spec.path if root is not None else None
            if path is not None and path.is_file() and path.stat().st_size == spec.size:
                where.add(place)
                break
        else:
            return "remote"
    return "mirrored" if "mirrored" in where else "cached"


def _tree_checksums(root: Path, remember: bool = False) -> dict[str, str]:
    digest = _sha256_remembered if remember else sha256_file
    return {
        p.relative_to(root).as_posix(): digest(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "checksums.json"
    }


_PART_KINDS = ("dataframe", "dataarray", "dataset", "file", "json")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _DamagedRecord(Exception):
    """``checksums.json`` of a stored generated dataset cannot be used; the text says why."""


def _read_record(folder: Path) -> dict:
    """The ``checksums.json`` record of a stored generated dataset, checked for shape."""
    path = folder / "checksums.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _DamagedRecord("is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _DamagedRecord(f"cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise _DamagedRecord(f"is not valid JSON, truncated or overwritten ({exc})") from None
    parts = record.get("parts") if isinstance(record, dict) else None
    sums = record.get("checksums") if isinstance(record, dict) else None
    if not isinstance(parts, dict) or "main" not in parts or not isinstance(sums, dict):
        raise _DamagedRecord("does not hold the record of parts and checksums batteryzoom writes")
    for meta in parts.values():
        if not isinstance(meta, dict) or meta.get("kind") not in _PART_KINDS or not isinstance(meta.get("file"), str):
            raise _DamagedRecord("describes a part in a form batteryzoom does not write")
    if not all(isinstance(v, str) and _SHA256.match(v) for v in sums.values()):
        raise _DamagedRecord("holds a checksum that is not a SHA-256")
    return record


def record_problem(folder: Path) -> str | None:
    """What is wrong with a stored generated dataset's ``checksums.json``, or None."""
    try:
        _read_record(folder)
    except _DamagedRecord as exc:
        return str(exc)
    return None


def _record_or_raise(folder: Path) -> dict:
    try:
        return _read_record(folder)
    except _DamagedRecord as exc:
        raise BatteryZoomError(
            f"{folder / 'checksums.json'} {exc}: the stored dataset cannot be verified. Load it "
            f"again (bz.data.load regenerates a damaged copy), or delete {folder}."
        ) from None


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
    raise BatteryZoomError(
        f"generator part {part!r} is a {type(obj).__name__}, which the cache cannot store; return a "
        "DataFrame, an xarray DataArray/Dataset, a dict/list (JSON), or bytes/str under a file name"
    )


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
    try:
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
        return ds[meta["name"]] if kind == "dataarray" else ds
    except Exception as exc:  # only reachable with verify=False: a verified part reads
        raise FileFormatError(
            path, f"cannot be read as a stored {kind} ({type(exc).__name__}: {exc})",
            f"load it with verify=True to check the cache, or delete {folder} to regenerate it",
        ) from exc


def store_generated(folder: Path, result: Any, info: dict) -> None:
    """Write a generator's result (one object or a dict of named parts) atomically.

    An existing ``folder`` is kept (another process stored the same dataset meanwhile)
    unless its ``checksums.json`` is damaged: then ours replaces it.
    """
    parts = result if isinstance(result, dict) and "main" in result else {"main": result}
    with atomic_directory(folder, replace=lambda old: record_problem(old) is not None) as tmp:
        meta = {name: _write_part(obj, tmp, name) for name, obj in parts.items()}
        record = {"info": _jsonable(info), "parts": meta, "checksums": _tree_checksums(tmp)}
        (tmp / "checksums.json").write_text(json.dumps(record, indent=1, sort_keys=True))


def open_generated(folder: Path, part: str, lazy: bool | None, verify: bool) -> Any:
    """Read one part of a stored generated dataset, verifying every file's hash first.

    A file's hash is remembered while its inode, size, mtime and ctime stay the same, so
    an unchanged tree is not read twice in a process, and any write to it is caught.
    """
    record = _record_or_raise(folder)
    if verify:
        actual = _tree_checksums(folder, remember=True)
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
    return list(_record_or_raise(folder)["parts"])
