"""NeXus tomography with ``image_key``: projections, flats and darks interleaved in one stack.

NXtomo and the layouts Diamond's GDA writes (DIAD/K11, I12, I13): one detector stack
``data[frame, row, col]`` with ``image_key[frame]`` (0 projection, 1 flat, 2 dark,
3 invalid) and a rotation angle per frame. The frames and angles often sit in other files,
reached through HDF5 external links; links to files that were never published (monitors,
other detectors) dangle. This reader follows each link itself (relative to the ``.nxs``
file's folder), uses only what it needs, notes what it skipped, and names a missing file
only when the read needs it. Flats and darks taken before and after the projections keep
their frame numbers (``flat_order``, ``dark_order``), so they can be interpolated in time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import FileFormatError
from ._common import (ENERGY_RANGE_EV, EXPOSURE_RANGE_S, PIXEL_RANGE_UM, H5Frames, angle_unit_name, build, choose,
                      energies_in_ev, frames, length_um, open_h5, resolve_angles, text, unit_of)

__all__ = ["read_nexus", "IMAGE_KEYS"]

IMAGE_KEYS = {0: "projection", 1: "flat", 2: "dark", 3: "invalid"}
# NXtomo's angle places, then names a rotation axis goes by in NXdata groups
_ANGLE_PATHS = ("entry/sample/rotation_angle", "entry/data/rotation_angle", "entry1/tomo_entry/data/rotation_angle")
_ANGLE_WORDS = ("rotation_angle", "theta", "angle", "rot")


@dataclass
class _Target:
    """Where a dataset really lives once links are followed."""

    file: Path
    name: str
    shape: tuple
    dtype: np.dtype
    attrs: dict


class _Dangling(Exception):
    def __init__(self, link: str, filename: str, target: str):
        self.link, self.filename, self.target = link, filename, target
        super().__init__(f"{link} is an external link to {filename} ({target}), which is missing")


def _follow(fh, nxs: Path, name: str, depth: int = 0) -> _Target | None:
    """Resolve ``name`` in ``fh`` through soft and external links (external targets
    relative to the .nxs folder); None when absent, _Dangling when a needed file is missing."""
    import h5py

    if depth > 8:
        raise FileFormatError(nxs, f"{name}: more than 8 chained links", "the file's links loop")
    parts = [p for p in name.split("/") if p]
    group = fh["/"]
    for i, part in enumerate(parts):
        here = "/" + "/".join(parts[: i + 1])
        link = group.get(part, getlink=True)  # a dangling link is "not in" a group, but get() shows it
        if link is None:
            return None
        rest = "/".join(parts[i + 1:])
        if isinstance(link, h5py.ExternalLink):
            target = Path(link.filename)
            target = target if target.is_absolute() else nxs.parent / target
            if not target.is_file():
                raise _Dangling(here, link.filename, link.path)
            with open_h5(target) as other:
                return _follow(other, target, link.path.rstrip("/") + ("/" + rest if rest else ""), depth + 1)
        if isinstance(link, h5py.SoftLink):
            return _follow(fh, nxs, link.path.rstrip("/") + ("/" + rest if rest else ""), depth + 1)
        try:
            obj = group[part]
        except KeyError:
            return None
        if isinstance(obj, h5py.Dataset):
            if rest:
                return None
            return _Target(Path(fh.filename), obj.name, obj.shape, obj.dtype, dict(obj.attrs))
        group = obj
    return None


def _value(target: _Target):
    with open_h5(target.file) as fh:
        return fh[target.name][()]


def _walk(fh, prefix: str = "/") -> list[tuple[str, object]]:
    """Every group and dataset of this file (links into other files not followed)."""
    import h5py

    out = []
    group = fh[prefix]
    for key in group:
        link = group.get(key, getlink=True)
        name = prefix.rstrip("/") + "/" + key
        if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
            out.append((name, link))
            continue
        obj = group[key]
        out.append((name, obj))
        if isinstance(obj, h5py.Group):
            out.extend(_walk(fh, name))
    return out


def read_nexus(
    path: str | os.PathLike,
    *,
    data_path: str | None = None,
    image_key_path: str | None = None,
    angles_path: str | None = None,
    angles=None,
    angle_unit: str | None = None,
    pixel_size_um: float | None = None,
    energy_ev: float | None = None,
    exposure_s: float | None = None,
    lazy: bool | None = None,
) -> xr.Dataset:
    """Read a NeXus tomography whose frames are told apart by ``image_key``.

    Parameters
    ----------
    path : path-like
        The ``.nxs`` file; files it links to are looked up relative to its folder (keep
        the layout the beamline wrote).
    data_path, image_key_path, angles_path : str, optional
        Dataset paths inside the file, when the search below picks the wrong ones. Default:
        the detector group (NXdetector) holding both ``image_key`` and a readable 3D
        ``data`` of the same length; angles from NXtomo's ``rotation_angle``, else the
        NXdata group plotting that detector (its first axis, or a member indexed along
        frames whose name says theta/angle/rotation).
    angles, angle_unit
        Replace the recorded angles (one per frame, or one per projection) or state their
        unit (detected from the span when the file gives none, and said so).
    pixel_size_um, energy_ev, exposure_s : float, optional
        Override ``x_pixel_size``, the monochromator energy, ``count_time``.
    lazy : bool, optional
        Dask-backed frames (default: above 512 MiB).

    Returns
    -------
    xarray.Dataset
        ``projections``/``flats``/``darks`` with their frame numbers in acquisition
        order; ``attrs["links_skipped"]`` lists dangling links that were not needed.

    Raises
    ------
    FileFormatError
        No ``image_key``, a needed external file missing (named), keys and frames of
        different lengths, no flats, unreadable or damaged files.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> paths = bz.data.fetch("real/tomo/diamond-k11-nexus")
    >>> acq = read_nexus(paths[0])
    >>> dict(acq.sizes)
    {'angle': 3001, 'row': 22, 'col': 26, 'flat': 100, 'dark': 100}
    >>> acq.flat_order.values[[0, 49, 50, 99]].tolist()       # 50 before, 50 after the projections
    [0, 49, 3101, 3150]
    """
    path = Path(path)
    skipped: list[str] = []
    with open_h5(path) as fh:
        data, keys, key_from = _detector(fh, path, data_path, image_key_path, skipped)
        n = keys.size
        lengths = (n, int(np.sum(keys == 0)))
        angle_target, angle_from = _angles(fh, path, data, angles_path, lengths, skipped) if angles is None \
            else (None, None)
        meta = _metadata(fh, path, key_from.rsplit("/", 1)[0], skipped)
    recorded = None
    recorded_unit = None
    if angle_target is not None:
        recorded = np.asarray(_value(angle_target), dtype=np.float64).ravel()
        recorded_unit = angle_unit_name(unit_of(angle_target.attrs))
    is_proj, is_flat, is_dark = keys == 0, keys == 1, keys == 2
    given = None if angles is None else np.asarray(angles, dtype=np.float64).ravel()
    if given is not None and given.size == n:
        given = given[is_proj]  # one per frame: keep the projections'
    per_frame = recorded[is_proj] if recorded is not None and recorded.size == n else recorded
    deg, how = resolve_angles(path, per_frame, angle_from or "angles", recorded_unit, angles=given,
                              angle_unit=angle_unit)
    source = H5Frames(data.file, data.name, data.shape, data.dtype)
    everything = frames(source, lazy)
    index = np.arange(n)
    pick = {name: (everything[index[mask]] if mask.any() else None)
            for name, mask in (("projections", is_proj), ("flats", is_flat), ("darks", is_dark))}
    order = {name: index[mask] for name, mask in (("projections", is_proj), ("flats", is_flat), ("darks", is_dark))
             if mask.any()}
    pixel, pixel_from = choose("pixel size", pixel_size_um, meta.pop("pixel"), meta.pop("pixel_from"), path,
                               low=PIXEL_RANGE_UM[0], high=PIXEL_RANGE_UM[1], unit="µm", arg="pixel_size_um")
    energy, energy_from = choose("photon energy", energy_ev, meta.pop("energy"), meta.pop("energy_from"), path,
                                 low=ENERGY_RANGE_EV[0], high=ENERGY_RANGE_EV[1], unit="eV", arg="energy_ev")
    exposure, exposure_from = choose("exposure", exposure_s, meta.pop("exposure"), meta.pop("exposure_from"), path,
                                     low=EXPOSURE_RANGE_S[0], high=EXPOSURE_RANGE_S[1],
                                     unit="s", arg="exposure_s")
    counts = {IMAGE_KEYS.get(int(k), f"key {int(k)}"): int(c) for k, c in zip(*np.unique(keys, return_counts=True))}
    attrs = {**meta, "pixel_size_source": pixel_from, "energy_source": energy_from, "exposure_s": exposure,
             "exposure_source": exposure_from, "frames": f"{data.file.name}:{data.name}", "image_key": key_from,
             "image_key_counts": counts, "links_skipped": skipped or None,
             "order_source": "image_key frame numbers (acquisition order)"}
    if counts.get("invalid"):
        attrs["invalid_frames_dropped"] = counts["invalid"]
    return build(path, "nexus", pick["projections"], deg, how, flats=pick["flats"], darks=pick["darks"],
                 order=order, pixel_size_um=pixel, energy_ev=energy,
                 attrs={k: v for k, v in attrs.items() if v is not None})


def _detector(fh, path: Path, data_path, key_path, skipped: list[str]):
    """The frames' dataset and the image keys: given, or the NXdetector holding both."""
    import h5py

    if data_path is not None:
        data = _needed(fh, path, data_path, "data_path")
        key_path = key_path or data_path.rsplit("/", 1)[0] + "/image_key"
        keys = _needed(fh, path, key_path, "image_key_path")
        return data, _keys(path, data, keys, key_path), key_path
    found = [name for name, obj in _walk(fh) if name.endswith("/image_key")
             and (isinstance(obj, h5py.Dataset) or not isinstance(obj, h5py.Group))]
    if key_path is not None:
        found = [key_path]
    if not found:
        raise FileFormatError(path, "no image_key dataset: projections, flats and darks cannot be told apart",
                              "pass image_key_path= (and data_path=), or read a Data Exchange/FXI file with format=")
    candidates, missing = [], []
    for key_name in found:
        group = key_name.rsplit("/", 1)[0]
        try:
            data = _follow(fh, path, group + "/data")
        except _Dangling as exc:
            missing.append(exc)
            continue
        if data is None or len(data.shape) != 3:
            continue
        keys = _needed(fh, path, key_name, "image_key")
        if keys.shape[0] == data.shape[0] and all((d.file, d.name) != (data.file, data.name) for d, _, _ in candidates):
            candidates.append((data, keys, key_name))  # NXtomo links one stack from two groups: count it once
    for exc in missing:
        skipped.append(str(exc))
    if not candidates:
        if missing:
            raise FileFormatError(path, "the frames cannot be read: " + "; ".join(map(str, missing)),
                                  "keep the .nxs beside the folder of files it links to, as the beamline wrote them")
        raise FileFormatError(path, f"no 3D frame stack beside {', '.join(found)}", "pass data_path=")
    if len(candidates) > 1:
        names = ", ".join(f"{k.rsplit('/', 1)[0]}/data" for _, _, k in candidates)
        raise FileFormatError(path, f"several detector stacks with image_key: {names}", "choose one with data_path=")
    data, keys, key_name = candidates[0]
    return data, _keys(path, data, keys, key_name), key_name


def _needed(fh, path: Path, name: str, arg: str) -> _Target:
    try:
        target = _follow(fh, path, name)
    except _Dangling as exc:
        raise FileFormatError(path, f"{exc}; the read needs it",
                              "keep the .nxs beside the folder of files it links to, as the beamline wrote them") from None
    if target is None:
        raise FileFormatError(path, f"no dataset {name!r} ({arg})", f"check {arg}=")
    return target


def _keys(path: Path, data: _Target, keys: _Target, key_name: str) -> np.ndarray:
    values = np.asarray(_value(keys)).ravel().astype(np.int64)
    if values.size != data.shape[0]:
        raise FileFormatError(path, f"{key_name} has {values.size} keys for {data.shape[0]} frames in {data.name}",
                              "pass the image_key_path= of this stack")
    unknown = sorted(set(np.unique(values).tolist()) - set(IMAGE_KEYS))
    if unknown:
        raise FileFormatError(path, f"{key_name} holds keys {unknown}; NXtomo knows 0 projection, 1 flat, 2 dark, "
                                    "3 invalid", "fix the keys or pass data and keys another way")
    return values


def _angles(fh, path: Path, data: _Target, angles_path, lengths: tuple[int, int], skipped: list[str]):
    """The rotation angles' dataset, and where it was found."""
    import h5py

    if angles_path is not None:
        return _needed(fh, path, angles_path, "angles_path"), angles_path
    tried = list(_ANGLE_PATHS)
    # NXdata groups that plot this detector's frames: their axes, then members along frames
    for name, obj in _walk(fh):
        if not isinstance(obj, h5py.Group) or text(obj.attrs.get("NX_class", b"")) != "NXdata":
            continue
        try:
            signal = _follow(fh, path, f"{name}/{text(obj.attrs.get('signal', b'data'))}")
        except _Dangling:
            continue
        if signal is None or (signal.file, signal.name) != (data.file, data.name):
            continue
        axes = obj.attrs.get("axes")
        first = text(np.atleast_1d(axes)[0]) if axes is not None else ""
        members = [k for k in obj if any(w in k.lower() for w in _ANGLE_WORDS)
                   and np.atleast_1d(obj.attrs.get(f"{k}_indices", [0]))[0] == 0]
        tried += [f"{name}/{first}"] * bool(first and first != ".") + [f"{name}/{k}" for k in members]
    for candidate in dict.fromkeys(tried):
        try:
            target = _follow(fh, path, candidate)
        except _Dangling as exc:
            skipped.append(str(exc))
            continue
        if target is not None and len(target.shape) == 1 and target.shape[0] in lengths:
            return target, candidate
    return None, None


def _metadata(fh, path: Path, detector: str, skipped: list[str]) -> dict:
    """Pixel size, energy, exposure and provenance where NXtomo and GDA put them
    (``detector``: the group holding the image keys)."""
    out: dict = {"pixel": None, "pixel_from": None, "energy": None, "energy_from": None,
                 "exposure": None, "exposure_from": None}

    def small(name):
        try:
            return _follow(fh, path, name)
        except _Dangling as exc:
            skipped.append(str(exc))
            return None

    for group in dict.fromkeys(["entry/instrument/detector", detector.lstrip("/")]):
        t = small(f"{group}/x_pixel_size")
        if t is not None and out["pixel"] is None:
            um = length_um(float(np.ravel(_value(t))[0]), unit_of(t.attrs))
            if um is not None:
                out["pixel"], out["pixel_from"] = um, f"{group}/x_pixel_size"
        t = small(f"{group}/count_time")
        if t is not None and out["exposure"] is None:
            out["exposure"], out["exposure_from"] = float(np.ravel(_value(t))[0]), f"{group}/count_time"
    for name in ("entry/instrument/monochromator/energy", "entry/beam/incident_energy"):
        t = small(name)
        if t is not None:
            ev, how = energies_in_ev(np.ravel(_value(t))[0], unit_of(t.attrs), name)
            out["energy"], out["energy_from"] = float(ev[0]), how
            break
    # each entry/<name>, if present, becomes attrs[<key>]
    for key, name in (("start_time", "entry/start_time"), ("end_time", "entry/end_time"),
                      ("experiment", "entry/experiment_identifier"), ("instrument", "entry/instrument/name"),
                      ("title", "entry/title"), ("program", "entry/program_name")):
        t = small(name)
        if t is not None:
            out[key] = text(_value(t))
    return out
