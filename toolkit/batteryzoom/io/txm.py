"""Transmission X-ray microscope frames and XANES stacks.

- :func:`read_xrm`: one Zeiss/Xradia ``.xrm`` frame (an OLE2 compound file, read with
  olefile): the image and its energy, pixel size, exposure time and date.
- :func:`read_txm_scan`: a scan folder in the SSRL 6-2c style (sample frames and
  flat-field ``ref`` frames at each energy, several exposures each) -> optical density.
- :func:`read_xanes_hdf5`: an HDF5 stack with a configurable layout (NSLS-II FXI by
  default: ``/img_xanes``, ``/img_bkg``, ``/img_dark``, ``/X_eng``).
- :func:`read_xanes_tiff`: a TIFF stack (or a folder of TIFF frames) plus an energy list.
- :func:`read_xanes_zarr`: a zarr store written by xarray, opened lazily.

Every reader returns an :class:`xarray.DataArray` with an ``energy`` coordinate in eV
(dims ``(energy, y, x)`` or ``(energy, z, y, x)``, lengths in µm when the pixel size is
known) and raises :class:`~batteryzoom.errors.FileFormatError` naming the file: for a
damaged file (every library error, a TIFF that tifffile can only read in part, an HDF5
file longer or shorter than it says, a zarr chunk that fails when dask computes it), for
flats and darks whose shape does not fit the images, and for recorded values no
instrument writes (pixel size outside 1 nm–1 mm, energy outside 100 eV–1 MeV, exposure
outside 100 ns–1 day, energies mixing keV and eV), which the keyword arguments override.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import FileFormatError, InputError, MissingDependencyError
from ..frames import Frame, frame_of
from ._files import (GuardedArray, check_chunk_index, check_hdf5_size, decode, library_errors, read_bytes,
                     read_tiff_array, regular_file)
from ._plausible import ENERGY_RANGE_EV, EXPOSURE_RANGE_S, PIXEL_RANGE_UM, choose
from ._xradia import read_header, read_images

__all__ = [
    "XrmFrame",
    "read_xrm",
    "read_txm_scan",
    "read_xanes_hdf5",
    "read_xanes_tiff",
    "read_xanes_zarr",
    "energy_from_filename",
    "FXI_LAYOUT",
]

# "..._08324.0_eV_..." (SSRL 6-2c) or "..._8250_0eV.xrm" (APS, underscore as decimal point)
_ENERGY_IN_NAME = re.compile(r"(?<![\d.])(\d{3,6}(?:[._]\d+)?)_?eV", re.IGNORECASE)
# two frames whose energies differ by less than this (eV) were taken at the same energy
ENERGY_TOLERANCE_EV = 0.05
FXI_LAYOUT = {"image": "img_xanes", "flat": "img_bkg", "dark": "img_dark", "energy": "X_eng"}


@dataclass
class XrmFrame:
    """One TXM frame as stored in an ``.xrm`` file (internal; :func:`read_xrm` returns it
    as a DataArray).

    Attributes
    ----------
    image : numpy.ndarray
        ``(y, x)`` (or ``(n, y, x)`` for a multi-image file), the stored dtype (uint16 or
        float32), counts.
    energy_ev : float
        Beam energy (eV); from ``ImageInfo/Energy`` or, when that is 0, the file name.
    energy_source : {"header", "filename"}
    pixel_size_um : float
    exposure_s : float
    date : str
        As stored (``MM/DD/YY hh:mm:ss``).
    path : pathlib.Path
    """

    image: np.ndarray
    energy_ev: float
    energy_source: str
    pixel_size_um: float
    exposure_s: float
    date: str
    path: Path
    extra: dict = field(default_factory=dict)


def energy_from_filename(name: str) -> float | None:
    """Energy (eV) written in a TXM file name, e.g. ``..._08324.0_eV_001of003.xrm`` or
    ``..._8250_0eV.xrm``; None when the name carries none.

    Examples
    --------
    >>> energy_from_filename("rep01_000051_ref_x_08324.0_eV_001of010.xrm")
    8324.0
    >>> energy_from_filename("fov07_xanessoc01_8250_0eV.xrm")
    8250.0
    """
    found = _ENERGY_IN_NAME.findall(Path(name).name)
    if not found:
        return None
    return float(found[-1].replace("_", "."))


def read_xrm(
    path: str | os.PathLike,
    *,
    pixel_size_um: float | None = None,
    energy_ev: float | None = None,
    exposure_s: float | None = None,
) -> xr.DataArray:
    """Read one Zeiss/Xradia ``.xrm`` frame.

    Parameters
    ----------
    path : path-like
        An ``.xrm`` file (OLE2 compound document).
    pixel_size_um, energy_ev, exposure_s : float, optional
        Override the recorded pixel size (µm), energy (eV) and exposure (s); needed when
        the file records one outside 1 nm–1 mm, 100 eV–1 MeV or 100 ns–1 day (a
        damaged header) or none at all.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` (``(image, y, x)`` for a multi-image file) in the stored dtype
        (uint16 counts for these files); ``y``/``x`` in µm (pixel index × pixel size), a
        scalar ``energy`` coordinate (eV). ``attrs``: ``energy_ev``, ``energy_source``
        (``"header"``, or ``"filename"`` when ``ImageInfo/Energy`` is 0, as in SSRL 6-2c
        files), ``pixel_size_um``, ``exposure_s``, ``date``, ``source``.

    Raises
    ------
    FileFormatError
        Not an OLE2 file, damaged (truncated, bytes added, sizes or type implausible),
        missing image streams, no energy anywhere, or an implausible recorded value.

    Examples
    --------
    A frame of the APS 32-ID TXM (the energy in its header, pixels of 38.9 nm):

    >>> import batteryzoom as bz
    >>> frames = bz.data.fetch("real/xanes/aps-frames")
    >>> frame = bz.io.read_xrm(next(p for p in frames if p.name == "fov07_xanessoc01_8353_0eV.xrm"))
    >>> frame.dims, frame.shape, frame.dtype.name
    (('y', 'x'), (1024, 1024), 'uint16')
    >>> round(float(frame["energy"]), 2), frame.attrs["energy_source"], frame.attrs["voxel_size_um"]
    (8353.03, 'header', [0.038947..., 0.038947...])
    """
    return _frame_array(_read_frame(path, pixel_size_um=pixel_size_um, energy_ev=energy_ev, exposure_s=exposure_s))


def _pixel_frame(shape: Sequence[int], pixel_size_um: float) -> Frame:
    """The frame of an image's spatial axes from a recorded pixel size: in µm when the file
    records one (finite, > 0), else in pixels (``voxel_size_um`` None, the frames policy)."""
    n = len(shape)
    if np.isfinite(pixel_size_um) and pixel_size_um > 0:
        return frame_of(tuple(shape), voxel_size_um=float(pixel_size_um), ndim=n)
    return frame_of(tuple(shape), voxel_size_um="px", ndim=n)


def _spatial_coords(frame: Frame, shape: Sequence[int]) -> dict:
    """xarray coordinates of a frame's axes (``units`` "um", or "pixel" when unknown)."""
    unit = "um" if frame.known else "pixel"
    return {dim: (dim, c, {"units": unit}) for dim, c in frame.coords(shape).items()}


def _frame_array(frame: XrmFrame) -> xr.DataArray:
    image = frame.image
    dims = ("y", "x") if image.ndim == 2 else ("image", "y", "x")
    space = _pixel_frame(image.shape[-2:], frame.pixel_size_um)
    coords = {**_spatial_coords(space, image.shape[-2:]), "energy": ((), frame.energy_ev, {"units": "eV"})}
    attrs = {"energy_ev": frame.energy_ev, "energy_source": frame.energy_source,
             "pixel_size_um": frame.pixel_size_um, **space.attrs(),
             "exposure_s": frame.exposure_s, "date": frame.date, "source": str(frame.path),
             "units": "counts"}
    return xr.DataArray(image, dims=dims, coords=coords, name="intensity", attrs=attrs)


def _read_frame(path: str | os.PathLike, *, pixel_size_um: float | None = None, energy_ev: float | None = None,
                exposure_s: float | None = None) -> XrmFrame:
    path = Path(path)
    header = read_header(path)
    images = read_images(path, header)
    recorded = float(header.energies_ev[0]) if header.energies_ev is not None else 0.0
    if recorded > 0 and np.isfinite(recorded):
        recorded_from, source = "ImageInfo/Energy", "header"
    else:  # SSRL 6-2c writes 0 and puts the energy in the file name
        recorded, recorded_from, source = energy_from_filename(path.name), "the file name", "filename"
        if recorded is None and energy_ev is None:
            raise FileFormatError(path, "ImageInfo/Energy is 0 and the file name carries no energy",
                                  "rename the file with its energy (e.g. *_8333.0_eV_*.xrm) or pass energy_ev=")
    energy, _ = choose("photon energy", energy_ev, recorded, recorded_from, path, low=ENERGY_RANGE_EV[0],
                       high=ENERGY_RANGE_EV[1], unit="eV", arg="energy_ev")
    pixel, _ = choose("pixel size", pixel_size_um,
                      None if header.extra.get("pixel_size_missing") else header.pixel_size_um,
                      "ImageInfo/PixelSize", path, low=PIXEL_RANGE_UM[0], high=PIXEL_RANGE_UM[1], unit="µm",
                      arg="pixel_size_um")
    exposure = header.exposures_s
    exposure, _ = choose("exposure", exposure_s, None if exposure is None else float(exposure[0]),
                         "ImageInfo/ExpTimes", path, low=EXPOSURE_RANGE_S[0], high=EXPOSURE_RANGE_S[1], unit="s",
                         arg="exposure_s")
    return XrmFrame(
        image=images[0] if len(images) == 1 else images,
        energy_ev=float(energy),
        energy_source="argument" if energy_ev is not None else source,
        pixel_size_um=float(pixel) if pixel is not None else float("nan"),
        exposure_s=float(exposure) if exposure is not None else float("nan"),
        date=header.dates[0] if header.dates else "",
        path=path,
        extra={"n_images": header.n_images},
    )


def _role(name: str) -> str:
    lowered = Path(name).stem.lower()
    tokens = set(re.split(r"[_\-.\s]+", lowered))
    if "dark" in tokens or "darks" in tokens:
        return "dark"
    if tokens & {"ref", "refs", "flat", "bkg", "background", "whitefield"}:
        return "flat"
    return "sample"


def _group_by_energy(frames: list[XrmFrame]) -> list[list[XrmFrame]]:
    frames = sorted(frames, key=lambda f: (f.energy_ev, f.path.name))
    groups: list[list[XrmFrame]] = []
    for f in frames:
        if groups and abs(f.energy_ev - groups[-1][0].energy_ev) < ENERGY_TOLERANCE_EV:
            groups[-1].append(f)
        else:
            groups.append([f])
    return groups


def _mean_rate(frames: list[XrmFrame]) -> np.ndarray:
    """Mean count rate (counts/s) over exposures: exposures may differ in length."""
    acc = np.zeros(frames[0].image.shape[-2:], np.float64)
    for f in frames:
        exposure = f.exposure_s if np.isfinite(f.exposure_s) and f.exposure_s > 0 else 1.0
        acc += f.image.astype(np.float64) / exposure
    return acc / len(frames)


def read_txm_scan(
    folder: str | os.PathLike,
    *,
    dark: str | os.PathLike | np.ndarray | None = None,
    pattern: str = "*.xrm",
    return_intensities: bool = False,
    pixel_size_um: float | None = None,
) -> xr.DataArray | xr.Dataset:
    """Read a 2D XANES scan folder (SSRL 6-2c style) as optical density per energy.

    Every ``.xrm`` in ``folder`` is a sample frame, a flat-field frame (``ref``, ``flat``
    or ``bkg`` in its name) or a dark frame (``dark``). Frames are grouped by energy; at
    each energy the exposures are averaged as count *rates* (each frame divided by its
    own exposure time, since sample and reference exposures differ, e.g. 0.5 s and
    0.3 s) and the optical density is ``-ln((I - D) / (I0 - D))``.

    Parameters
    ----------
    folder : path-like
        The scan folder (other files in it are ignored).
    dark : path-like or ndarray, optional
        A dark frame (``.xrm`` path or a ``(y, x)`` array of count rates, counts/s).
        Default: the folder's ``dark`` frames if any, else no dark subtraction.
    pattern : str
        Glob of the frame files.
    return_intensities : bool
        Return a Dataset with ``optical_density``, ``sample_rate`` and ``flat_rate``
        (counts/s) instead of the optical density alone.
    pixel_size_um : float, optional
        Overrides every frame's recorded pixel size (µm). A frame recording an
        implausible energy or exposure is refused (read it alone with :func:`read_xrm`
        and its overrides).

    Returns
    -------
    xarray.DataArray
        ``optical_density`` float32 ``(energy, y, x)``; ``energy`` in eV, ``y``/``x`` in
        µm (pixel index × pixel size). ``attrs``: ``voxel_size_um`` (2 values),
        ``exposures`` (sample frames per energy), ``flat_exposures``, ``energy_source``,
        ``dates``, ``folder``. Pixels where a rate is 0 are NaN (mask them downstream).

    Raises
    ------
    FileFormatError
        No frames, an energy with samples but no flat field (or vice versa), frames of
        different shapes or pixel sizes.

    Examples
    --------
    The APS scan folder: a sample and a flat-field frame at two energies, below and above
    the Ni K-edge:

    >>> import batteryzoom as bz
    >>> folder = bz.data.fetch("real/xanes/aps-frames")[0].parent
    >>> od = bz.io.read_txm_scan(folder)
    >>> od.dims, od.shape, od["energy"].values.round(1).tolist()
    (('energy', 'y', 'x'), (2, 1024, 1024), [8249.9, 8353.0])
    >>> od.attrs["exposures"], od.attrs["voxel_size_um"]
    ([1, 1], [0.038947, 0.038947])
    """
    from .._transmission import optical_density

    folder = Path(folder)
    frames, pixel = _scan_frames(folder, pattern, pixel_size_um)
    samples, flats, darks = _scan_groups(folder, frames)
    dark_rate = _dark_rate(dark, darks, frames[0].image.shape[-2:])
    sample_rate = np.stack([_mean_rate(g) for g in samples]).astype(np.float32)
    flat_rate = np.stack([_mean_rate(g) for g in flats]).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        od = optical_density(sample_rate, flat_rate, None if dark_rate is None else dark_rate.astype(np.float32))
    space = _pixel_frame(od.shape[1:], pixel)
    energy = np.asarray([g[0].energy_ev for g in samples], np.float64)
    coords = {"energy": ("energy", energy, {"units": "eV"}), **_spatial_coords(space, od.shape[1:])}
    attrs = {
        **space.attrs(),
        "exposures": [len(g) for g in samples],
        "flat_exposures": [len(g) for g in flats],
        "exposure_s": [float(g[0].exposure_s) for g in samples],
        "flat_exposure_s": [float(g[0].exposure_s) for g in flats],
        "energy_source": sorted({f.energy_source for f in frames}),
        "dates": [g[0].date for g in samples],
        "dark_subtracted": dark_rate is not None,
        "folder": str(folder),
        "units": "optical density -ln(I/I0)",
    }
    da = xr.DataArray(od, dims=("energy", "y", "x"), coords=coords, name="optical_density", attrs=attrs)
    if not return_intensities:
        return da
    return xr.Dataset(
        {
            "optical_density": da,
            "sample_rate": (("energy", "y", "x"), sample_rate, {"units": "counts/s"}),
            "flat_rate": (("energy", "y", "x"), flat_rate, {"units": "counts/s"}),
        },
        attrs=attrs,
    )


def _scan_frames(folder: Path, pattern: str, pixel_size_um: float | None = None) -> tuple[list[XrmFrame], float]:
    """Every frame of a scan folder, checked to share one shape and one pixel size (µm,
    rounded to 1e-6; NaN when no frame records one)."""
    if not folder.is_dir():
        raise FileFormatError(folder, "not a folder", "pass the scan folder holding the .xrm frames")
    paths = sorted(folder.glob(pattern))
    if not paths:
        raise FileFormatError(folder, f"no files match {pattern!r}", "is this a TXM scan folder?")
    frames = []
    for p in paths:
        try:
            frames.append(_read_frame(p, pixel_size_um=pixel_size_um))
        except FileFormatError as exc:
            if "outside the plausible" not in exc.problem:
                raise
            raise FileFormatError(exc.path, exc.problem, "a damaged frame: copy it again, or read it alone with "
                                                         "bz.io.read_xrm(path, energy_ev=..., exposure_s=...)") from None
    shapes = {f.image.shape for f in frames}
    if len(shapes) > 1:
        detail = ", ".join(f"{f.path.name}: {f.image.shape}" for f in frames[:6])
        raise FileFormatError(folder, f"frames have different shapes ({detail})",
                              "crop or bin them to one shape, or read them separately with read_xrm")
    pixels = {round(f.pixel_size_um, 6) for f in frames if np.isfinite(f.pixel_size_um)}
    if len(pixels) > 1:
        raise FileFormatError(folder, f"frames have different pixel sizes {sorted(pixels)} µm",
                              "read frames of one magnification together")
    return frames, (pixels.pop() if pixels else float("nan"))


def _scan_groups(folder: Path, frames: list[XrmFrame]):
    """``(samples, flats, darks)``: sample and flat-field frames grouped by energy (the
    same energies for both), and the dark frames."""
    by_role: dict[str, list[XrmFrame]] = {"sample": [], "flat": [], "dark": []}
    for f in frames:
        by_role[_role(f.path.name)].append(f)
    if not by_role["sample"] or not by_role["flat"]:
        raise FileFormatError(
            folder,
            f"found {len(by_role['sample'])} sample and {len(by_role['flat'])} flat-field frames",
            "a scan needs both; flat-field frames carry 'ref' (or 'flat', 'bkg') in their names",
        )
    samples = _group_by_energy(by_role["sample"])
    flats = _group_by_energy(by_role["flat"])
    e_sample = [g[0].energy_ev for g in samples]
    e_flat = [g[0].energy_ev for g in flats]
    if len(e_sample) != len(e_flat) or not np.allclose(e_sample, e_flat, atol=ENERGY_TOLERANCE_EV):
        raise FileFormatError(folder, f"sample energies {e_sample} and flat-field energies {e_flat} differ",
                              "every energy needs both sample and ref frames")
    return samples, flats, by_role["dark"]


def _dark_rate(dark, darks: list[XrmFrame], shape: tuple[int, ...]) -> np.ndarray | None:
    """The dark count rate (counts/s): the argument (a frame file or an array), else the
    folder's dark frames, else None (no dark subtraction)."""
    if dark is None and darks:
        return _mean_rate(darks)
    if isinstance(dark, (str, os.PathLike)):
        return _mean_rate([_read_frame(dark)])
    if dark is not None:
        dark_rate = np.asarray(dark, np.float64)
        if dark_rate.shape != shape:
            raise InputError(f"dark has shape {dark_rate.shape}; the frames are {shape}")
        return dark_rate
    return None


def _energy_ev(values, where) -> np.ndarray:
    """Energies in eV (keV detected below 200: FXI writes keV), checked: finite, one unit,
    plausible, strictly increasing."""
    energy = np.asarray(values, dtype=np.float64).ravel()
    if not energy.size:
        raise FileFormatError(where, "holds no energy", "one energy per frame, eV or keV")
    if not np.all(np.isfinite(energy)):
        raise FileFormatError(where, f"energy {int(np.flatnonzero(~np.isfinite(energy))[0])} is not a number",
                              "the energy list is damaged")
    low = energy < 200.0
    if low.any() and not low.all():
        raise FileFormatError(where, f"the energies mix keV-like and eV-like values ({energy.min():g}, "
                                     f"{energy.max():g})", "give every energy in one unit")
    if low.all():
        energy = energy * 1000.0
    lo, hi = ENERGY_RANGE_EV
    if energy.min() < lo or energy.max() > hi:
        raise FileFormatError(where, f"energies {energy.min():.6g}–{energy.max():.6g} eV are outside the plausible "
                                     f"{lo:g} eV–{hi / 1e3:g} keV", "check the energy list (eV or keV)")
    if energy.size > 1 and not np.all(np.diff(energy) > 0):
        k = int(np.flatnonzero(np.diff(energy) <= 0)[0])
        raise FileFormatError(where, f"energies are not increasing: {energy[k]:.3f} eV then {energy[k + 1]:.3f} eV",
                              "order the frames by energy, one frame per energy")
    return energy


def _stack_array(image: np.ndarray, energy: np.ndarray, where, pixel_size_um, name: str,
                 attrs: dict) -> xr.DataArray:
    if image.ndim not in (3, 4):
        raise FileFormatError(where, f"the stack has {image.ndim} dimensions {image.shape}",
                              "expected (energy, y, x) or (energy, z, y, x)")
    if image.shape[0] != energy.size:
        raise FileFormatError(
            where,
            f"the stack has {image.shape[0]} frames but the energy list has {energy.size} values",
            "pass the energy list that belongs to this stack (one energy per frame)",
        )
    dims = ("energy", "y", "x") if image.ndim == 3 else ("energy", "z", "y", "x")
    coords: dict = {"energy": ("energy", energy, {"units": "eV"})}
    if pixel_size_um is not None:
        # the given size, checked by bz.frames (one positive number: cubic voxels)
        space = frame_of(image.shape[1:], voxel_size_um=pixel_size_um, ndim=image.ndim - 1)
        coords.update(_spatial_coords(space, image.shape[1:]))
        attrs = {**attrs, **space.attrs()}
    return xr.DataArray(image, dims=dims, coords=coords, name=name, attrs=attrs)


def read_xanes_hdf5(
    path: str | os.PathLike,
    *,
    layout: dict[str, str | None] | None = None,
    pixel_size_um: float | None = None,
) -> xr.DataArray:
    """Read an HDF5 XANES stack; with flat (and dark) fields, return optical density.

    Parameters
    ----------
    path : path-like
    layout : dict, optional
        Dataset paths inside the file: ``image`` (the stack, ``(energy, y, x)`` or
        ``(energy, z, y, x)``), ``energy`` (eV or keV, detected), and optional ``flat``
        (one flat per energy, or one for all) and ``dark`` (averaged over its first axis).
        Default :data:`FXI_LAYOUT` (NSLS-II FXI: ``img_xanes``, ``img_bkg``, ``img_dark``,
        ``X_eng``). Keys missing from the file (flat, dark) are skipped.
    pixel_size_um : float, optional
        Gives the ``y``/``x`` (and ``z``) coordinates in µm.

    Returns
    -------
    xarray.DataArray
        float32: the optical density ``-ln((I - D)/(I0 - D))`` when a flat field is
        present, else the stored values. ``energy`` in eV.

    Examples
    --------
    A tiny FXI-style file (energies in keV, one flat per energy, two darks):

    >>> import pathlib, shutil, tempfile
    >>> import h5py, numpy as np
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> od_true = np.full((3, 4, 5), 0.5, np.float32)
    >>> flat = np.full((3, 4, 5), 5000.0, np.float32)
    >>> with h5py.File(tmp / "fxi.h5", "w") as fh:
    ...     fh["img_xanes"] = (flat - 100) * np.exp(-od_true) + 100
    ...     fh["img_bkg"] = flat
    ...     fh["img_dark"] = np.full((2, 4, 5), 100.0, np.float32)
    ...     fh["X_eng"] = [8.30, 8.33, 8.36]
    >>> od = read_xanes_hdf5(tmp / "fxi.h5", pixel_size_um=0.02)
    >>> od.name, od["energy"].values.tolist(), round(float(od.mean()), 4), od.attrs["voxel_size_um"]
    ('optical_density', [8300.0, 8330.0, 8360.0], 0.5, [0.02, 0.02])
    >>> shutil.rmtree(tmp)
    """
    import h5py

    from .._transmission import optical_density

    path = regular_file(path, "HDF5 XANES stack")
    layout = {**FXI_LAYOUT, **(layout or {})}
    check_hdf5_size(path)
    with library_errors(path, "reading it as HDF5"):
        with h5py.File(path, "r") as fh:
            for key in ("image", "energy"):
                if layout.get(key) not in fh or not isinstance(fh[layout[key]], h5py.Dataset):
                    raise FileFormatError(path, f"no dataset {layout.get(key)!r} for the {key}",
                                          f"pass layout={{'{key}': '/path/in/file'}}; the file has {sorted(fh.keys())}")
            for key in ("image", "flat", "dark"):
                if layout.get(key) and layout[key] in fh and isinstance(fh[layout[key]], h5py.Dataset):
                    check_chunk_index(fh[layout[key]], path)
            image = fh[layout["image"]][()]
            energy = fh[layout["energy"]][()]
            flat = fh[layout["flat"]][()] if layout.get("flat") and layout["flat"] in fh else None
            dark = fh[layout["dark"]][()] if layout.get("dark") and layout["dark"] in fh else None
    energy = _energy_ev(energy, path)
    if image.ndim not in (3, 4) or image.dtype.kind not in "uif":
        raise FileFormatError(path, f"{layout['image']} is {image.dtype} {image.shape}, not an (energy, y, x) or "
                                    "(energy, z, y, x) stack of numbers", "pass layout= the stack's dataset")
    attrs = {"source": str(path), "layout": {k: v for k, v in layout.items() if v}}
    if flat is not None:
        flat = _fit_reference(path, flat, image.shape, "flat", per_energy=True)
        dark = None if dark is None else _fit_reference(path, dark, image.shape, "dark", per_energy=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = optical_density(image.astype(np.float32), flat.astype(np.float32),
                                     None if dark is None else dark.astype(np.float32))
        name, attrs["units"] = "optical_density", "optical density -ln(I/I0)"
    else:
        values, name = image.astype(np.float32), "intensity"
    return _stack_array(values, energy, path, pixel_size_um, name, attrs)


def _fit_reference(path: Path, ref: np.ndarray, shape: tuple, what: str, per_energy: bool) -> np.ndarray:
    """A flat (or dark) that fits images of ``shape``: one per energy (``per_energy``), one
    frame, or several frames averaged; anything else is refused before any arithmetic."""
    ref = np.asarray(ref)
    frame = tuple(shape[1:])
    if ref.dtype.kind not in "uif":
        raise FileFormatError(path, f"the {what} field is {ref.dtype}, not numbers", "the file is damaged")
    if per_energy and ref.shape == tuple(shape):
        return ref
    if ref.shape == frame:
        return ref
    if ref.ndim == len(shape) and tuple(ref.shape[1:]) == frame and ref.shape[0] >= 1:
        return ref.mean(axis=0)  # several frames for all energies
    raise FileFormatError(path, f"the {what} field has shape {ref.shape}, which fits images of shape {tuple(shape)} "
                                f"neither per energy nor as frames of {frame}", f"pass layout= the right {what} dataset")


def _read_energy_list(energies, where) -> np.ndarray:
    if isinstance(energies, (str, os.PathLike)):
        epath = Path(energies)
        text = decode(read_bytes(epath, what="energy list"), epath)
        try:
            rows = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            values = [float(r[0].strip(",;")) for r in rows]
        except (ValueError, IndexError) as exc:
            raise FileFormatError(epath, f"cannot read an energy list ({exc})", "one energy per line, eV or keV") from exc
        return _energy_ev(values, epath)
    return _energy_ev(energies, where)


def read_xanes_tiff(
    path: str | os.PathLike,
    energies: Sequence[float] | np.ndarray | str | os.PathLike,
    *,
    pixel_size_um: float | None = None,
) -> xr.DataArray:
    """Read a TIFF XANES stack (one multi-page file, or a folder of frames) with its energies.

    Parameters
    ----------
    path : path-like
        A multi-page TIFF ``(energy, y, x)`` / ``(energy, z, y, x)``, or a folder whose
        ``*.tif``/``*.tiff`` files (sorted by name) are the frames in energy order.
    energies : sequence of float or path-like
        One energy per frame (eV or keV, detected), or a text file with one per line.
    pixel_size_um : float, optional

    Returns
    -------
    xarray.DataArray
        The stored values as float32, ``energy`` in eV.

    Raises
    ------
    FileFormatError
        Unreadable file, frames of different shapes, frame count differing from the
        number of energies.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> import numpy as np, tifffile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> tifffile.imwrite(tmp / "stack.tif", np.ones((3, 4, 5), np.float32), photometric="minisblack")
    >>> stack = read_xanes_tiff(tmp / "stack.tif", [8.30, 8.33, 8.36])  # keV, detected
    >>> stack.dims, stack["energy"].values.tolist()
    (('energy', 'y', 'x'), [8300.0, 8330.0, 8360.0])
    >>> shutil.rmtree(tmp)
    """
    path = Path(path)
    energy = _read_energy_list(energies, path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
        if not files:
            raise FileFormatError(path, "no .tif/.tiff files in the folder")
        frames = []
        for f in files:
            frames.append(read_tiff_array(regular_file(f, "TIFF frame")))
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise FileFormatError(path, f"frames have different shapes {sorted(shapes)}",
                                  "crop them to one shape first")
        image = np.stack(frames)
    else:
        image = read_tiff_array(regular_file(path, "TIFF stack"))
    if image.dtype.kind not in "uif":
        raise FileFormatError(path, f"holds {image.dtype} pixels, not numbers", "convert the stack to grey values")
    return _stack_array(image.astype(np.float32), energy, path, pixel_size_um, "intensity", {"source": str(path)})


def read_xanes_zarr(path: str | os.PathLike, *, variable: str | None = None) -> xr.DataArray:
    """Open a zarr XANES stack written by xarray (lazily, dask-backed).

    Parameters
    ----------
    path : path-like
    variable : str, optional
        Which data variable (default: the only one, or the first with an ``energy`` dim).

    Returns
    -------
    xarray.DataArray
        Dask-backed; ``energy`` in eV.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> import numpy as np, xarray as xr
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> stack = xr.DataArray(np.zeros((3, 4, 5), np.float32), dims=("energy", "y", "x"),
    ...                      coords={"energy": [8300.0, 8330.0, 8360.0]}, name="od")
    >>> _ = stack.to_dataset().to_zarr(tmp / "s.zarr", consolidated=False)
    >>> lazy = read_xanes_zarr(tmp / "s.zarr")
    >>> lazy.name, lazy.chunks is not None, lazy["energy"].values.tolist()
    ('od', True, [8300.0, 8330.0, 8360.0])
    >>> shutil.rmtree(tmp)
    """
    import dask.array as da

    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "does not exist", "pass the zarr store (a folder)")
    with library_errors(path, "opening it as a zarr store"):
        ds = xr.open_zarr(path, consolidated=False, chunks=None)  # lazily indexed: chunks read below, guarded
        names = [n for n in ds.data_vars if "energy" in ds[n].dims]
        if variable is None:
            if not names:
                raise FileFormatError(path, f"no variable with an 'energy' dimension among {list(ds.data_vars)}")
            variable = names[0]
        if variable not in ds:
            raise FileFormatError(path, f"no variable {variable!r}; it has {list(ds.data_vars)}")
        var = ds[variable]
        energy = _energy_ev(var["energy"].values, path)
        chunks = var.encoding.get("preferred_chunks") or {}
        chunks = tuple(chunks.get(d, -1) for d in var.dims) if chunks else var.encoding.get("chunks", "auto")
    # every chunk read through the guard: a damaged chunk fails, when dask computes it,
    # with a FileFormatError naming the store and the chunk
    lazy = da.from_array(GuardedArray(_VariableView(var.variable), path, f"variable {variable!r}"), chunks=chunks,
                         name=False)
    out = xr.DataArray(lazy, dims=var.dims, coords=var.coords, name=variable, attrs=var.attrs)
    return out.assign_coords(energy=("energy", energy, {"units": "eV"}))


class _VariableView:
    """An xarray Variable (lazily indexed, decoded as xarray decodes it) as an array-like:
    each read indexes it and loads only that block."""

    def __init__(self, variable):
        self.variable = variable
        self.shape, self.dtype, self.ndim = variable.shape, variable.dtype, variable.ndim

    def __getitem__(self, key):
        return self.variable[key].values
