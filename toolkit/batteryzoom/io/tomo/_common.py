"""What every acquisition reader shares: lazy frames, angle units, plausible sizes, flat checks.

Each format module reads its file into arrays and facts (angles with their unit and where
it came from, pixel size, energy, exposure, frame order) and hands them to :func:`build`,
which applies the caller's overrides, checks plausibility, refuses bad flats and calls
:func:`batteryzoom.io.acquisition.make_acquisition`. Errors name the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..._blocks import is_dask
from ...errors import FileFormatError, InputError
from .._files import check_chunk_index, check_hdf5_size, library_errors, regular_file
from .._plausible import ENERGY_RANGE_EV, EXPOSURE_RANGE_S, PIXEL_RANGE_UM, choose
from ..acquisition import angles_in_degrees, make_acquisition
from ..volumes import EAGER_LIMIT_BYTES, UNIT_TO_UM

ENERGY_UNIT_TO_EV = {"ev": 1.0, "kev": 1e3, "mev": 1e6, "gev": 1e9}

# a flat frame that is this much zeros had no beam; this much at the dtype's maximum saturated
FLAT_ZERO_FRACTION = 0.5
FLAT_SATURATED_FRACTION = 0.01
_DEG = ("deg", "degree", "degrees", "°")
_RAD = ("rad", "radian", "radians")

PathLike = str | os.PathLike


def want_lazy(lazy: bool | None, nbytes: int) -> bool:
    """Dask-backed when asked, or (``lazy=None``) above ``EAGER_LIMIT_BYTES`` (512 MiB)."""
    return bool(lazy) if lazy is not None else nbytes > EAGER_LIMIT_BYTES


def text(value: Any) -> str:
    """A string from what HDF5 hands back for text (bytes, numpy bytes, 1-element arrays)."""
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace").strip("\0").strip()
    return str(value).strip()


def unit_of(attrs: Mapping) -> str | None:
    """The ``units`` (or ``unit``) attribute as a string, or None."""
    for key in ("units", "unit"):
        if key in attrs:
            return text(attrs[key]) or None
    return None


def angle_unit_name(unit: str | None) -> str | None:
    """'deg' or 'rad' for a unit string a file may write, None for anything else."""
    if unit is None:
        return None
    u = unit.strip().lower()
    return "deg" if u in _DEG else "rad" if u in _RAD else None


def length_um(value: float, unit: str | None) -> float | None:
    """A length in µm from a value and its unit string; None when the unit is unknown."""
    factor = UNIT_TO_UM.get((unit or "").strip().lower())
    return None if factor is None else float(value) * factor


def energies_in_ev(value: Any, unit: str | None, where: str) -> tuple[np.ndarray, str]:
    """Energies in eV and how their unit was established (stated, or keV below 200)."""
    e = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    if unit:
        factor = ENERGY_UNIT_TO_EV.get(unit.strip().lower())
        if factor is None:
            raise FileFormatError(where, f"energy unit {unit!r} is not one of {sorted(ENERGY_UNIT_TO_EV)}",
                                  "pass energy_ev= in eV")
        return e * factor, f"{where} in {unit}"
    if e.size and np.nanmedian(e) < 200.0:  # no photon energy is below 200 eV here; keV it is
        return e * 1e3, f"{where} (no unit; values below 200 read as keV)"
    return e, f"{where} (no unit; values above 200 read as eV)"


# --------------------------------------------------------------------------- frames


class H5Frames:
    """Array-like view of one HDF5 dataset for ``dask.array.from_array``: each read opens
    the file read-only and closes it, so nothing stays open and the view pickles (runs on a
    ``dask.distributed`` cluster unchanged)."""

    def __init__(self, path: PathLike, name: str, shape: tuple, dtype):
        import h5py

        self.path, self.name = str(path), name
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)
        with library_errors(self.path, f"opening {name}"), h5py.File(self.path, "r") as fh:
            check_chunk_index(fh[name], self.path)  # a damaged index would read wrong frames silently

    def __getitem__(self, key):
        import h5py

        with library_errors(self.path, f"reading {self.name}{_block(key)}"):
            with h5py.File(self.path, "r") as fh:
                return fh[self.name][key]


def _block(key) -> str:
    key = key if isinstance(key, tuple) else (key,)
    first = key[0] if key else slice(None)
    if isinstance(first, slice) and (first.start is not None or first.stop is not None):
        return f" (frames {first.start or 0}:{first.stop})"
    return ""


def frames(source: H5Frames, lazy: bool | None, index: Any = None):
    """The frames of ``source`` (optionally ``index`` along the first axis): numpy when
    small, dask (chunks of whole frames) when big or asked for."""
    nbytes = int(np.prod(source.shape, dtype=np.int64)) * source.dtype.itemsize
    if want_lazy(lazy, nbytes):
        import dask.array as da

        # whole frames per chunk; a 4D (energy, angle, ...) stack one energy at a time
        lead = (1, "auto") if source.ndim == 4 else ("auto",)
        arr = da.from_array(source, chunks=lead + (-1,) * (source.ndim - len(lead)), name=False)
    else:
        arr = source[()]
    return arr if index is None else arr[index]


@contextlib.contextmanager
def open_h5(path: Path):
    """``with open_h5(path) as fh``: the HDF5 file read-only; a missing, non-HDF5 or damaged
    file (whatever h5py raises, at opening or inside the block; a size other than its
    superblock's) is a FileFormatError naming it."""
    import h5py

    regular_file(path, "HDF5 file")
    check_hdf5_size(path)
    with library_errors(path, "opening it as HDF5"):
        fh = h5py.File(path, "r")
    with fh, library_errors(path, "reading it"):
        yield fh


def h5_value(fh, path: Path, name: str, required: bool = True):
    """The value of a small dataset (angles, keys, metadata), or None when absent."""
    with library_errors(path, f"reading {name}"):  # a dangling link or damaged data
        if name not in fh:
            if required:
                raise FileFormatError(path, f"no dataset {name!r}", f"the file has {sorted(fh.keys())[:12]}")
            return None
        return fh[name][()]


# --------------------------------------------------------------------------- angles, sizes


def resolve_angles(
    path: Path,
    recorded: Any,
    recorded_from: str,
    recorded_unit: str | None = None,
    *,
    convention: bool = False,
    angles: Any = None,
    angle_unit: str | None = None,
) -> tuple[np.ndarray, str]:
    """Angles in degrees and a sentence saying where they and their unit came from.

    ``recorded_unit`` is the unit the file states (``convention=False``) or its format
    defines (``convention=True``: checked against the values, a contradiction is an error).
    The caller's ``angles`` replace the recorded ones; ``angle_unit`` states the unit of
    whichever is used. Unwrapped angles (beyond ±360°) lose their whole turns, which leaves
    every projection's orientation unchanged; the sentence says so.
    """
    where = f"{path}: {recorded_from}"
    if angles is not None:
        deg, how = angles_in_degrees(angles, angle_unit, where=f"{path}: angles=")
        how = f"given: angles= ({how}); the file's {recorded_from} not used"
    elif recorded is None:
        raise FileFormatError(path, "records no rotation angles", "pass angles= (one per projection) and angle_unit=")
    elif angle_unit is not None:
        deg, how = angles_in_degrees(recorded, angle_unit, where=where)
        how = f"{recorded_from}, unit stated by the caller: angle_unit={angle_unit!r}"
    elif recorded_unit is not None and not convention:
        deg, _ = angles_in_degrees(recorded, recorded_unit, where=where)
        how = f"{recorded_from} in {recorded_unit} (the file says so)"
    elif recorded_unit is not None:
        try:
            _, detected = angles_in_degrees(recorded, None, where=where)
        except InputError:
            detected = ""  # too few or too narrow to tell: the convention stands
        other = "radians" if recorded_unit == "deg" else "degrees"
        if detected.startswith("detected") and f"reads as {other}" in detected:
            raise FileFormatError(path, f"{recorded_from} should be in {recorded_unit} by the format, but {detected}",
                                  "pass angle_unit='deg' or angle_unit='rad' to say which")
        deg, _ = angles_in_degrees(recorded, recorded_unit, where=where)
        how = f"{recorded_from} in {recorded_unit} (the format's convention; the values agree)"
    else:
        try:
            deg, how = angles_in_degrees(recorded, None, where=where)
        except InputError as exc:
            raise FileFormatError(path, f"{recorded_from} carry no unit and {str(exc).split(': ', 2)[-1]}") from None
        how = f"{recorded_from}, no unit in the file; {how}"
    turns = int(np.floor(deg.min() / 360.0)) if deg.size and (deg.min() >= 360.0 or deg.min() < -360.0) else 0
    if turns:
        deg = deg - 360.0 * turns
        how += (f"; unwrapped angles: {turns} whole turns ({360 * turns}°) removed, so "
                f"{deg.min() + 360 * turns:.6g}–{deg.max() + 360 * turns:.6g}° read as {deg.min():.6g}–{deg.max():.6g}°")
    return deg, how


def check_flats(flats: Any, path: Path, what: str = "flat") -> None:
    """Refuse a flat frame that is mostly zeros (no beam) or saturated (dtype maximum)."""
    data = flats.data if isinstance(flats, xr.DataArray) else flats
    if data is None:
        return
    arr = data if is_dask(data) else np.asarray(data)
    arr = arr.reshape((-1,) + tuple(arr.shape[-2:]))
    dtype = np.dtype(arr.dtype)
    zero = (arr <= 0).mean(axis=(1, 2))
    sat = (arr == np.iinfo(dtype).max).mean(axis=(1, 2)) if dtype.kind in "iu" else None
    if is_dask(arr):
        import dask

        zero, sat = dask.compute(zero, sat)
    zero = np.asarray(zero)
    for i in np.flatnonzero(zero >= FLAT_ZERO_FRACTION)[:1]:
        raise FileFormatError(path, f"{what} field {i} of {len(zero)} is {zero[i]:.0%} zeros: taken without beam "
                                    "(shutter closed?)", "take new flats or pass flats= without it; normalising by "
                                                        "it would divide by zero")
    if sat is not None:
        sat = np.asarray(sat)
        for i in np.flatnonzero(sat >= FLAT_SATURATED_FRACTION)[:1]:
            raise FileFormatError(path, f"{what} field {i} of {len(sat)} is saturated: {sat[i]:.1%} of its pixels at "
                                        f"{np.iinfo(dtype).max}, the {dtype} maximum",
                                  "take flats with a shorter exposure; -ln(I/I0) against a clipped flat is wrong")


def merge_angles(per_energy: list[np.ndarray], energies_ev, where: str) -> tuple[np.ndarray, np.ndarray | None, str]:
    """One angle coordinate for a multi-energy scan from each energy's angles (degrees).

    Identical angles (within 1e-6°) give one coordinate. Angles that differ a little (fly
    scans interpolate the motor per energy: at most a quarter of the step) give their mean
    as the coordinate and keep every energy's own in a 2D array; more is an error.

    Returns
    -------
    angle : (n_angle,) ; by_energy : (n_energy, n_angle) or None ; note : str
    """
    counts = {a.size for a in per_energy}
    if len(counts) > 1:
        detail = ", ".join(f"{e:.1f} eV: {a.size}" for e, a in zip(np.ravel(energies_ev), per_energy))
        raise FileFormatError(where, f"the energies have different numbers of projections ({detail})",
                              "read the energies one by one, or drop the extra projections")
    stack = np.stack(per_energy)
    spread = float(np.max(np.ptp(stack, axis=0))) if len(per_energy) > 1 else 0.0
    if spread <= 1e-6:
        return stack[0], None, "the same at every energy"
    step = float(np.median(np.abs(np.diff(stack[0])))) if stack.shape[1] > 1 else 0.0
    if step == 0.0 or spread > 0.25 * step:
        raise FileFormatError(where, f"the projections' angles differ by up to {spread:.4g}° between energies "
                                     f"(the step is {step:.4g}°)", "read the energies one by one")
    return stack.mean(axis=0), stack, (f"differ by up to {spread:.3g}° between energies (step {step:.3g}°): "
                                       "the angle coordinate is their mean, each energy's own in angle_by_energy")


def build(
    path: Path,
    fmt: str,
    projections: Any,
    angles_deg: np.ndarray,
    angle_how: str,
    *,
    flats: Any = None,
    darks: Any = None,
    order: Mapping[str, Any] | None = None,
    pixel_size_um: float | None = None,
    energy_ev: Any = None,
    normalized: bool = False,
    allow_no_flats: bool = False,
    angle_by_energy: np.ndarray | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """The acquisition Dataset: flats checked, then :func:`make_acquisition`, whose
    complaints (counts, shapes) become FileFormatErrors naming ``path``."""
    if flats is not None:
        check_flats(flats, path)
    try:
        acq = make_acquisition(
            projections, angles_deg, flats, darks, angle_unit="deg", energy_ev=energy_ev,
            pixel_size_um=pixel_size_um, order=order, normalized=normalized, source_path=str(path), fmt=fmt,
            allow_no_flats=allow_no_flats, attrs={**dict(attrs or {}), "angle_unit_source": angle_how},
        )
    except FileFormatError:
        raise
    except InputError as exc:
        raise FileFormatError(path, str(exc).removeprefix(f"{path}: ")) from None
    if angle_by_energy is not None:
        acq = acq.assign_coords(angle_by_energy=(("energy", "angle"), angle_by_energy, {"units": "deg"}))
    return acq
