"""The data manifest: every dataset batteryzoom knows, real or synthetic.

``data_manifest.yaml`` (project root) maps a dataset name to an entry::

    datasets:
      real/cycler/neware-m50t:          # real: files with public URL and SHA-256
        scale: cycler                   # cycler | cell | electrode | particle | grain
        modality: cycler-record
        description: ...
        licence: BSD-3-Clause
        citation: ...
        units: {voltage: V, current: A}
        files:
          - path: cycler/neware/M50T.ndax   # relative path in the mirror and the cache
            url: https://github.com/OWNER/REPO/raw/COMMIT/PATH
            sha256: 64 hex digits
            size: 12345                   # bytes
        loader: {function: batteryzoom.io:read_cycler, file: cycler/neware/M50T.ndax, args: {}}
      twin/particle-xanes:              # synthetic: a generator with parameters and a seed
        scale: grain
        ...
        generator: batteryzoom.data.twin.xanes:particle_xanes
        params: {preset: small}
        seed: 5
        parent: twin/particle-nanoct    # optional: where it sits in another dataset
        box_um: {min: [z, y, x], max: [z, y, x]}   # its box in the parent's frame (µm)
        frame: {voxel_size_um: [z, y, x], origin_um: [z, y, x]}
        # frame may add overhang_um: [z, y, x], how far the grid extends past the parent's
        # box on purpose (a reconstruction's field of view around its sample; µm per side)
    download_hosts: [data.example.org]  # optional, top level: more hosts downloads may use

:func:`read_manifest` parses and validates it; every problem raises
:class:`~batteryzoom.errors.ManifestError` naming the entry and the field.

What a manifest may point at (it is data, and ``load()`` acts on it):

- ``loader.function`` and ``generator`` name a function of batteryzoom
  (``batteryzoom.<module>:<function>``), or a function a plugin package registers in the
  entry point group ``batteryzoom.loaders``, under any name, with the same
  ``module:function`` value the manifest uses::

      # the plugin's pyproject.toml
      [project.entry-points."batteryzoom.loaders"]
      read_mylab = "mylab.readers:read_mylab"

  Anything else (``os:remove``, ``subprocess:run``) is refused when the manifest is read;
  at call time the object must be a function defined in batteryzoom (not a module or a
  class it imports) or the registered plugin function.
- ``files[].url`` is ``https://`` on a host of :data:`DEFAULT_DOWNLOAD_HOSTS` (GitHub,
  raw.githubusercontent.com, Zenodo) or of the manifest's top-level ``download_hosts``
  list (the one place to add a host), on the default port, without credentials (no
  ``user:password@``, no ``token=``-like query parameter): a manifest is shared, and every
  file it lists is public.
- ``files[].size`` is compared with the file found or downloaded before it is hashed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from ..errors import ManifestError

__all__ = [
    "Entry",
    "FileSpec",
    "Manifest",
    "read_manifest",
    "default_manifest_path",
    "SCALES",
    "DEFAULT_DOWNLOAD_HOSTS",
    "PLUGIN_GROUP",
]

SCALES = ("cycler", "cell", "electrode", "particle", "grain")
REQUIRED_FIELDS = ("scale", "modality", "description", "licence", "citation", "units")
OPTIONAL_FIELDS = (
    "files",
    "generator",
    "params",
    "seed",
    "parent",
    "box_um",
    "frame",
    "loader",
    "tags",
    "energies_ev",
    "voxel_size_um",
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

DEFAULT_DOWNLOAD_HOSTS = ("github.com", "raw.githubusercontent.com", "zenodo.org")
PLUGIN_GROUP = "batteryzoom.loaders"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
# query parameters that carry a secret (GitHub's raw ?token=, S3/GCS signed URLs, API keys)
_SECRET_PARAMS = ("token", "secret", "password", "passwd", "api_key", "apikey", "auth", "sig",
                  "signature", "credential", "x-amz-security-token")


@dataclass(frozen=True)
class FileSpec:
    """One real file: where it lives relative to the mirror/cache, its URL, hash and size."""

    path: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Entry:
    """One dataset of the manifest (see the module docstring for the fields)."""

    name: str
    scale: str
    modality: str
    description: str
    licence: str
    citation: str
    units: dict
    files: tuple[FileSpec, ...] = ()
    generator: str | None = None
    params: dict = field(default_factory=dict)
    seed: int | None = None
    parent: str | None = None
    box_um: dict | None = None
    frame: dict | None = None
    loader: dict | None = None
    tags: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """True for generator entries (the twin), False for real files."""
        return self.generator is not None


@dataclass(frozen=True)
class Manifest:
    """All entries, by name, in file order."""

    path: Path
    entries: dict[str, Entry]
    download_hosts: tuple[str, ...] = DEFAULT_DOWNLOAD_HOSTS

    def __getitem__(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            close = [n for n in self.entries if name.split("/")[-1] in n][:5]
            hint = f" Did you mean one of {close}?" if close else ""
            raise ManifestError(
                name, None, f"no such dataset in {self.path}.{hint} "
                "List them with `batteryzoom data list` or bz.data.list()."
            ) from None

    def __iter__(self):
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return list(self.entries)


def default_manifest_path() -> Path:
    """``$BATTERYZOOM_MANIFEST`` if set, else ``data_manifest.yaml`` at the project root."""
    env = os.environ.get("BATTERYZOOM_MANIFEST")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "data_manifest.yaml"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (a silent override would lose an entry)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ManifestError(str(key), None, f"defined twice (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def check_relative_path(path: Any, entry: str, field_name: str) -> str:
    """Return ``path`` if it is a safe relative POSIX path, else raise ManifestError.

    A manifest path must stay inside the cache and the mirror: no absolute paths, no
    ``..`` components, no backslashes, no empty parts.
    """
    if not isinstance(path, str) or not path.strip():
        raise ManifestError(entry, field_name, f"must be a non-empty relative path, got {path!r}")
    if "\\" in path:
        raise ManifestError(entry, field_name, f"{path!r} uses backslashes; write a POSIX path")
    pure = PurePosixPath(path)
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", path):
        raise ManifestError(
            entry, field_name, f"{path!r} is absolute; give a path relative to the mirror root"
        )
    if any(part in ("..", "") for part in path.split("/")) or ".." in pure.parts:
        raise ManifestError(
            entry, field_name, f"{path!r} climbs out of the cache ('..' or empty part); remove it"
        )
    return path


def _check_vec3(value: Any, entry: str, field_name: str) -> list[float]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) not in (2, 3)
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ManifestError(entry, field_name, f"must be a list of 2 or 3 numbers, got {value!r}")
    return [float(v) for v in value]


def check_url(url: Any, hosts: tuple[str, ...], entry: str, field_name: str) -> str:
    """Return ``url`` if downloads may use it (see the module docstring), else raise."""
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ManifestError(entry, field_name, f"must be an https:// URL, got {url!r}")
    parts = urlsplit(url)
    public = f"https://{parts.hostname or ''}{parts.path}"  # never echo a secret back
    secret = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)
              if any(word in k.lower() for word in _SECRET_PARAMS)]
    if "@" in parts.netloc or secret:
        what = "user:password@ before the host" if "@" in parts.netloc else f"the query parameter {secret[0]!r}"
        raise ManifestError(
            entry, field_name,
            f"{public} carries credentials ({what}); a manifest is shared and its files are public: "
            "give the file's public URL",
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port not in (None, 443):
        raise ManifestError(entry, field_name, f"{public} names the port {parts.netloc.rpartition(':')[2]!r}; "
                                               "downloads use the https default port (443): remove it")
    host = (parts.hostname or "").lower()
    if host not in hosts:
        raise ManifestError(
            entry, field_name,
            f"host {host!r} is not one of the download hosts {list(hosts)}; if it is a trusted public "
            "archive, add it to 'download_hosts' at the top of the manifest",
        )
    return url


def in_batteryzoom(dotted: str) -> bool:
    """Whether ``module:function`` names a module of batteryzoom itself."""
    module = dotted.partition(":")[0]
    return module == "batteryzoom" or module.startswith("batteryzoom.")


def plugin_functions() -> dict[str, str]:
    """``{"module:function": entry point name}`` registered in :data:`PLUGIN_GROUP`."""
    from importlib.metadata import entry_points

    return {ep.value.replace(" ", ""): ep.name for ep in entry_points(group=PLUGIN_GROUP)}


def check_callable(value: Any, entry: str, field_name: str) -> str:
    """Return ``value`` if a manifest may call it (see the module docstring), else raise."""
    if not isinstance(value, str) or not _DOTTED.match(value):
        raise ManifestError(entry, field_name, f"must be 'package.module:function', got {value!r}")
    if value.partition(":")[2].startswith("_"):
        raise ManifestError(entry, field_name, f"{value!r} is a private function; name a public one")
    # the entry points are only looked up for a name outside the package (a scan of sys.path)
    if not in_batteryzoom(value) and value not in plugin_functions():
        raise ManifestError(
            entry, field_name,
            f"{value!r} is outside batteryzoom: a manifest may call a function of batteryzoom "
            f"(e.g. batteryzoom.io:read_cycler) or one a plugin registers in the entry point group "
            f"{PLUGIN_GROUP!r} (see help(batteryzoom.data.manifest))",
        )
    return value


def _parse_files(raw: Any, name: str, hosts: tuple[str, ...] = DEFAULT_DOWNLOAD_HOSTS) -> tuple[FileSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ManifestError(name, "files", "must be a non-empty list of {path, url, sha256, size}")
    specs = []
    for i, item in enumerate(raw):
        where = f"files[{i}]"
        if not isinstance(item, Mapping):
            raise ManifestError(name, where, "must be a mapping with path, url, sha256, size")
        for key in ("path", "url", "sha256", "size"):
            if key not in item:
                raise ManifestError(name, f"{where}.{key}", "is missing")
        path = check_relative_path(item["path"], name, f"{where}.path")
        url = check_url(item["url"], hosts, name, f"{where}.url")
        sha = item["sha256"]
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise ManifestError(name, f"{where}.sha256", f"must be 64 lowercase hex digits, got {sha!r}")
        size = item["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(name, f"{where}.size", f"must be a byte count >= 0, got {size!r}")
        specs.append(FileSpec(path=path, url=url, sha256=sha, size=size))
    paths = [s.path for s in specs]
    if len(set(paths)) != len(paths):
        raise ManifestError(name, "files", "lists the same path twice")
    return tuple(specs)


def _parse_entry(name: Any, raw: Any, hosts: tuple[str, ...] = DEFAULT_DOWNLOAD_HOSTS) -> Entry:
    # long on purpose: one check per manifest field, in the order of the README's field table,
    # so a message names the first bad field and the reader sees every rule in one place
    if not isinstance(name, str) or not re.match(r"^[a-z0-9][a-z0-9_./-]*$", name) or ".." in name:
        raise ManifestError(str(name), None, "names are lowercase words joined by '/', '-' or '_'")
    if not isinstance(raw, Mapping):
        raise ManifestError(name, None, "must be a mapping of fields")
    for key in REQUIRED_FIELDS:
        if key not in raw or raw[key] in (None, ""):
            raise ManifestError(name, key, "is missing")
    unknown = set(raw) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS)
    if unknown:
        raise ManifestError(name, sorted(unknown)[0], f"is not a known field (known: {REQUIRED_FIELDS + OPTIONAL_FIELDS})")
    if raw["scale"] not in SCALES:
        raise ManifestError(name, "scale", f"{raw['scale']!r} is not one of {SCALES}")
    for key in ("modality", "description", "licence", "citation"):
        if not isinstance(raw[key], str):
            raise ManifestError(name, key, "must be text")
    if not isinstance(raw["units"], Mapping):
        raise ManifestError(name, "units", "must be a mapping such as {voltage: V}")

    has_files, has_gen = "files" in raw, "generator" in raw
    if has_files == has_gen:
        raise ManifestError(name, "files", "give exactly one of 'files' (real data) or 'generator' (synthetic)")
    files: tuple[FileSpec, ...] = ()
    generator = None
    params: dict = {}
    seed = None
    if has_files:
        files = _parse_files(raw["files"], name, hosts)
        for key in ("params", "seed"):
            if key in raw:
                raise ManifestError(name, key, "only generator entries take params and seed")
    else:
        generator = raw["generator"]
        if not isinstance(generator, str) or not _DOTTED.match(generator):
            raise ManifestError(name, "generator", f"must be 'package.module:function', got {generator!r}")
        params = raw.get("params") or {}
        if not isinstance(params, Mapping):
            raise ManifestError(name, "params", "must be a mapping")
        if "seed" not in raw:
            raise ManifestError(name, "seed", "is missing (generator entries need a seed)")
        seed = raw["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ManifestError(name, "seed", f"must be an integer >= 0, got {seed!r}")
        check_callable(generator, name, "generator")

    box = raw.get("box_um")
    if box is not None:
        if not isinstance(box, Mapping) or set(box) != {"min", "max"}:
            raise ManifestError(name, "box_um", "must be {min: [z, y, x], max: [z, y, x]} in µm")
        lo = _check_vec3(box["min"], name, "box_um.min")
        hi = _check_vec3(box["max"], name, "box_um.max")
        if len(lo) != len(hi) or any(h <= l for l, h in zip(lo, hi)):
            raise ManifestError(name, "box_um", "max must exceed min on every axis")
        if "parent" not in raw:
            raise ManifestError(name, "parent", "box_um is given but parent is missing")
    frame = raw.get("frame")
    if frame is not None:
        if not isinstance(frame, Mapping) or "voxel_size_um" not in frame:
            raise ManifestError(name, "frame", "must hold voxel_size_um (and optionally origin_um)")
        _check_vec3(frame["voxel_size_um"], name, "frame.voxel_size_um")
        if "origin_um" in frame:
            _check_vec3(frame["origin_um"], name, "frame.origin_um")
        if "overhang_um" in frame and min(_check_vec3(frame["overhang_um"], name, "frame.overhang_um")) < 0:
            raise ManifestError(name, "frame.overhang_um", "must be >= 0 µm on every axis")
    loader = raw.get("loader")
    if loader is not None:
        if not isinstance(loader, Mapping) or "function" not in loader:
            raise ManifestError(name, "loader", "must be {function: package.module:function, ...}")
        check_callable(loader["function"], name, "loader.function")
        if "file" in loader and loader["file"] not in [f.path for f in files]:
            raise ManifestError(name, "loader.file", f"{loader['file']!r} is not one of the entry's files")
    tags = raw.get("tags") or []
    extra = {k: raw[k] for k in ("energies_ev", "voxel_size_um") if k in raw}
    return Entry(
        name=name,
        scale=raw["scale"],
        modality=raw["modality"],
        description=raw["description"].strip(),
        licence=raw["licence"],
        citation=raw["citation"].strip(),
        units=dict(raw["units"]),
        files=files,
        generator=generator,
        params=dict(params),
        seed=seed,
        parent=raw.get("parent"),
        box_um=dict(box) if box else None,
        frame=dict(frame) if frame else None,
        loader=dict(loader) if loader else None,
        tags=tuple(tags),
        extra=extra,
    )


def _parse_hosts(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ManifestError(None, "download_hosts", f"must be a list of host names, got {raw!r}")
    hosts = []
    for host in raw:
        if not isinstance(host, str) or not _HOSTNAME.match(host.lower()):
            raise ManifestError(
                None, "download_hosts",
                f"{host!r} is not a host name; write it bare (data.example.org), without https:// or a path",
            )
        hosts.append(host.lower())
    return tuple(hosts)


def parse_manifest(raw: Any, path: Path | str = "<memory>") -> Manifest:
    """Validate a manifest already parsed from YAML (a mapping with ``datasets``)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("datasets"), Mapping):
        raise ManifestError(None, "datasets", f"{path} must hold a mapping 'datasets: {{name: entry}}'")
    hosts = DEFAULT_DOWNLOAD_HOSTS + _parse_hosts(raw.get("download_hosts", []))
    entries = {name: _parse_entry(name, body, hosts) for name, body in raw["datasets"].items()}
    for entry in entries.values():
        if entry.parent is not None and entry.parent not in entries:
            raise ManifestError(entry.name, "parent", f"{entry.parent!r} is not a dataset in the manifest")
    # a file path may belong to one dataset only, or two entries could fight over it
    owner: dict[str, str] = {}
    for entry in entries.values():
        for spec in entry.files:
            if spec.path in owner:
                raise ManifestError(entry.name, "files", f"{spec.path!r} is already listed by {owner[spec.path]!r}")
            owner[spec.path] = entry.name
    return Manifest(path=Path(path), entries=entries, download_hosts=hosts)


def read_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """Read and validate ``data_manifest.yaml``.

    Parameters
    ----------
    path : path-like, optional
        Manifest file; default :func:`default_manifest_path`.

    Raises
    ------
    ManifestError
        Naming the entry and field at fault.
    """
    path = Path(path) if path is not None else default_manifest_path()
    if not path.is_file():
        raise ManifestError(None, None, f"{path} does not exist; set BATTERYZOOM_MANIFEST to the manifest file")
    with open(path, encoding="utf-8") as fh:
        try:
            raw = yaml.load(fh, Loader=_UniqueKeyLoader)
        except yaml.YAMLError as exc:
            raise ManifestError(None, None, f"{path} is not valid YAML: {exc}") from None
    return parse_manifest(raw, path)
