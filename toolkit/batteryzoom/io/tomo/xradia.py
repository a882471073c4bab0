"""Zeiss/Xradia TXM tomography: ``.txrm`` (many images) and ``.xrm`` (one image, maybe
with its reference embedded).

The container (OLE2 streams) is read by :mod:`batteryzoom.io._xradia`, shared with the
XANES frame reader :func:`batteryzoom.io.read_xrm`. Angles come from ``ImageInfo/Angles``
(degrees, Xradia's convention, checked against the values), the energy from
``ImageInfo/Energy``, the pixel size from ``ImageInfo/PixelSize`` (µm), exposures from
``ImageInfo/ExpTimes``. A ``.txrm`` carries no reference (flat field): the instrument
writes references to separate ``.xrm`` files, so the caller passes ``flats=``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import FileFormatError, InputError
from .._xradia import XradiaHeader, XradiaImages, read_header, read_images, read_reference
from ..txm import ENERGY_TOLERANCE_EV, energy_from_filename
from ._common import (ENERGY_RANGE_EV, EXPOSURE_RANGE_S, PIXEL_RANGE_UM, build, choose, resolve_angles,
                      want_lazy)

__all__ = ["read_xradia"]

# a reference taken more than this far (eV) from the projections' energy is another edge
_REFERENCE_ENERGY_TOLERANCE_EV = 1.0


def read_xradia(
    path: str | os.PathLike,
    *,
    flats=None,
    darks=None,
    normalized: bool = False,
    angles=None,
    angle_unit: str | None = None,
    pixel_size_um: float | None = None,
    energy_ev: float | None = None,
    exposure_s: float | None = None,
    lazy: bool | None = None,
) -> xr.Dataset:
    """Read a Zeiss/Xradia ``.txrm`` tomography or an ``.xrm`` projection.

    Parameters
    ----------
    path : path-like
        The ``.txrm``/``.xrm`` file (an OLE2 document, recognised by content).
    flats : path-like, array-like or "absent", optional
        The flat fields when the file embeds none (a ``.txrm`` never does): a reference
        ``.xrm`` file (all its images are used; its energy must match), or an array
        ``(n, row, col)``/``(row, col)``. ``"absent"`` reads the projections without flats
        (``attrs["flats_absent"]``; normalising them needs flats later). An ``.xrm`` with
        ``ReferenceData/Image`` uses it unless ``flats`` is given.
    darks : path-like or array-like, optional
        Dark frames (an ``.xrm`` or an array).
    normalized : bool
        The images already hold ``-ln(I/I0)`` (no flats needed).
    angles, angle_unit
        Replace ``ImageInfo/Angles`` or state its unit.
    pixel_size_um, energy_ev, exposure_s : float, optional
        Override what the header records (checked: 1 nm–1 mm, 100 eV–1 MeV, > 0).
    lazy : bool, optional
        Dask-backed projections (default: above 512 MiB), read image by image.

    Returns
    -------
    xarray.Dataset
        ``projections`` ``(angle, row, col)`` uint16 counts; ``flats`` when known;
        ``attrs``: ``energy_ev``, ``pixel_size_um``, ``exposure_s`` (one value, or a list
        when exposures differ), ``flat_exposure_s``, ``date``, ``format``
        (``"xradia-txrm"`` for several images, ``"xradia-xrm"`` for one).

    Raises
    ------
    FileFormatError
        Not an Xradia file, damaged, no flats (with the ways to give them), a reference
        at another energy or size, images at several energies (a XANES stack), an
        implausible header value.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> (path,) = bz.data.fetch("real/tomo/xradia-chip-xrm")
    >>> acq = read_xradia(path)       # the reference is embedded in this .xrm
    >>> acq.projections.shape, acq.flats.shape, acq.attrs["pixel_size_um"], round(acq.attrs["energy_ev"])
    ((1, 512, 512), (1, 512, 512), 0.0778947..., 7191)
    """
    path = Path(path)
    header = read_header(path)
    n = header.n_images
    fmt = "xradia-txrm" if n > 1 else "xradia-xrm"
    recorded_energy, energy_from = _energy(header)
    energy, energy_from = choose("photon energy", energy_ev, recorded_energy, energy_from, path,
                                 low=ENERGY_RANGE_EV[0], high=ENERGY_RANGE_EV[1], unit="eV", arg="energy_ev")
    pixel, pixel_from = choose("pixel size", pixel_size_um,
                               None if header.extra.get("pixel_size_missing") else header.pixel_size_um,
                               "ImageInfo/PixelSize", path, low=PIXEL_RANGE_UM[0], high=PIXEL_RANGE_UM[1],
                               unit="µm", arg="pixel_size_um")
    exposures = header.exposures_s
    if exposures is not None and np.any(exposures > 0):
        exposures = exposures[exposures > 0]  # Xradia pads per-image streams with zeros
    exposure, exposure_from = choose("exposure", exposure_s, exposures, "ImageInfo/ExpTimes", path,
                                     low=EXPOSURE_RANGE_S[0], high=EXPOSURE_RANGE_S[1],
                                     unit="s", arg="exposure_s")
    deg, how = resolve_angles(path, header.angles_deg, "ImageInfo/Angles", "deg", convention=True,
                              angles=angles, angle_unit=angle_unit)
    attrs = {"energy_source": energy_from, "pixel_size_source": pixel_from, "exposure_source": exposure_from,
             "exposure_s": _one_or_list(exposure), "date": header.dates[0] if header.dates else None,
             "date_end": header.dates[-1] if len(header.dates) > 1 else None,
             "order_source": "images in file order; flats/darks not timed in the file"}
    flat_arr, flat_note = _frames_arg(flats, "flats", header, energy, path)
    if flat_arr is None and isinstance(flats, str) and flats == "absent":
        pass
    elif flat_arr is None and header.reference is not None:
        flat_arr = read_reference(path, header)[None]
        flat_note = "ReferenceData/Image (embedded)"
        attrs["flat_exposure_s"] = header.reference["exposure_s"]
    elif flat_arr is None and not normalized:
        corrected = " (the header says the images were already reference-corrected)" \
            if header.extra.get("ref_corrected") else ""
        raise FileFormatError(
            path, f"holds {n} image{'s' * (n > 1)} and no reference (flat-field) image{corrected}; "
                  "normalising to -ln(I/I0) needs flats",
            f"pass flats= (the reference .xrm taken with this scan, or an array (n, {header.height}, "
            f"{header.width})), normalized=True if the images already hold -ln(I/I0), or flats='absent' "
            "to read the projections alone")
    dark_arr, dark_note = _frames_arg(darks, "darks", header, energy, path)
    attrs.update(flats_source=flat_note, darks_source=dark_note)
    if isinstance(flats, (str, os.PathLike)) and flat_arr is not None:
        attrs["flat_exposure_s"] = _one_or_list(read_header(flats).exposures_s)
    nbytes = n * header.height * header.width * header.dtype.itemsize
    if want_lazy(lazy, nbytes):
        import dask.array as da

        projections = da.from_array(XradiaImages(header), chunks=("auto", -1, -1), name=False)
    else:
        projections = read_images(path, header)
    return build(path, fmt, projections, deg, how, flats=flat_arr, darks=dark_arr, pixel_size_um=pixel,
                 energy_ev=energy, normalized=normalized, allow_no_flats=isinstance(flats, str) and flats == "absent",
                 attrs={k: v for k, v in attrs.items() if v is not None})


def _energy(header: XradiaHeader) -> tuple[float | None, str | None]:
    """The one energy of the images (Xradia pads ImageInfo/Energy with zeros)."""
    e = header.energies_ev
    recorded = e[np.isfinite(e) & (e > 0)] if e is not None else np.empty(0)
    if recorded.size == 0:
        parsed = energy_from_filename(header.path.name)
        return (parsed, "file name (ImageInfo/Energy is 0)") if parsed is not None else (None, None)
    if np.ptp(recorded) > ENERGY_TOLERANCE_EV:
        raise FileFormatError(header.path, f"its images are at {np.unique(recorded.round(2)).size} energies "
                                           f"({recorded.min():.1f}–{recorded.max():.1f} eV): a XANES stack, not a "
                                           "tomography", "read it with bz.io.read_xrm, or one energy per file")
    return float(recorded[0]), "ImageInfo/Energy"


def _one_or_list(values):
    if values is None:
        return None
    a = np.atleast_1d(np.asarray(values, dtype=np.float64))
    return float(a[0]) if np.allclose(a, a[0]) else a.tolist()


def _frames_arg(value, name: str, header: XradiaHeader, energy, path: Path):
    """Frames given as an Xradia file (energy checked) or an array: ((n, row, col), note)."""
    if value is None or (isinstance(value, str) and value == "absent"):
        return None, None
    if isinstance(value, (str, os.PathLike)):
        other = read_header(value)
        e = other.energies_ev[other.energies_ev > 0] if other.energies_ev is not None else np.empty(0)
        if energy is not None and e.size and abs(float(e[0]) - float(energy)) > _REFERENCE_ENERGY_TOLERANCE_EV:
            raise FileFormatError(path, f"{name}={str(value)!r} was taken at {float(e[0]):.1f} eV, the projections "
                                        f"at {float(energy):.1f} eV", f"pass the {name} of this scan's energy")
        return read_images(value, other), f"{value} ({other.n_images} images)"
    arr = value.data if isinstance(value, xr.DataArray) else value
    if not hasattr(arr, "ndim"):
        arr = np.asarray(arr)
    if arr.ndim not in (2, 3):
        raise InputError(f"{name}: expected (n, row, col) or (row, col) frames, got shape {tuple(arr.shape)}")
    return arr, f"given array {tuple(arr.shape)}"
