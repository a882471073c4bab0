"""APS Data Exchange HDF5: ``/exchange/data``, ``data_white``, ``data_dark``, ``theta``.

The layout TomoPy and dxchange write (De Carlo et al., J. Synchrotron Rad. 21 (2014)
1224): projections ``/exchange/data`` ``(theta, y, x)``, flats ``/exchange/data_white``,
darks ``/exchange/data_dark``, angles ``/exchange/theta`` (unit in its ``units``
attribute; detected when absent), and optional metadata under ``/measurement``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import FileFormatError
from ._common import (ENERGY_RANGE_EV, EXPOSURE_RANGE_S, PIXEL_RANGE_UM, H5Frames, angle_unit_name, build, choose,
                      energies_in_ev, frames, h5_value, length_um, open_h5, resolve_angles, text, unit_of)

__all__ = ["read_dxchange"]

# where Data Exchange files record the pixel size at the sample and the photon energy
_PIXEL_PATHS = ("/measurement/instrument/detection_system/objective/resolution",
                "/measurement/instrument/detector/actual_pixel_size_x")
_ENERGY_PATHS = ("/measurement/instrument/monochromator/energy",)
_EXPOSURE_PATHS = ("/measurement/instrument/detector/exposure_time",)


def read_dxchange(
    path: str | os.PathLike,
    *,
    angles=None,
    angle_unit: str | None = None,
    pixel_size_um: float | None = None,
    energy_ev: float | None = None,
    exposure_s: float | None = None,
    lazy: bool | None = None,
) -> xr.Dataset:
    """Read an APS Data Exchange HDF5 acquisition.

    Parameters
    ----------
    path : path-like
        The ``.h5`` file (opened read-only).
    angles : array-like, optional
        One angle per projection, replacing ``/exchange/theta``.
    angle_unit : {"deg", "rad"}, optional
        Unit of the angles when the file states none (or states it wrong).
    pixel_size_um, energy_ev, exposure_s : float, optional
        Override what ``/measurement`` records (checked: 1 nm–1 mm, 100 eV–1 MeV, > 0).
    lazy : bool, optional
        Dask-backed projections (default: above 512 MiB).

    Returns
    -------
    xarray.Dataset
        The acquisition (:mod:`batteryzoom.io.acquisition`): ``projections`` ``(angle,
        row, col)`` in the stored dtype (float32 counts for TomoPy's tooth), ``flats``,
        ``darks``; ``angle`` in degrees.

    Raises
    ------
    FileFormatError
        Not HDF5, no ``/exchange/data``, angles of another length, flats of another
        shape, no flats, a flat of zeros or saturated, implausible metadata.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> (path,) = bz.data.fetch("real/tomo/aps-tooth-dxchange")
    >>> acq = read_dxchange(path)
    >>> dict(acq.sizes), float(acq.angle[-1])
    ({'angle': 181, 'row': 2, 'col': 640, 'flat': 10, 'dark': 10}, 179.00552486187846)
    """
    path = Path(path)
    with open_h5(path) as fh:
        if "exchange/data" not in fh:
            raise FileFormatError(path, "no /exchange/data", "not a Data Exchange file; pass format= for another layout")
        ds = fh["exchange/data"]
        if ds.ndim != 3:
            raise FileFormatError(path, f"/exchange/data has shape {ds.shape}; expected (theta, y, x)")
        axes = text(ds.attrs.get("axes", "theta:y:x"))
        if not axes.startswith("theta"):
            raise FileFormatError(path, f"/exchange/data is stored as {axes!r}, not theta first",
                                  "rewrite it as (theta, y, x) projections")
        source = H5Frames(path, ds.name, ds.shape, ds.dtype)
        theta = h5_value(fh, path, "exchange/theta", required=False)
        theta_unit = angle_unit_name(unit_of(fh["exchange/theta"].attrs)) if theta is not None else None
        flats = h5_value(fh, path, "exchange/data_white", required=False)
        darks = h5_value(fh, path, "exchange/data_dark", required=False)
        pixel, pixel_from = _recorded(fh, _PIXEL_PATHS, "length")
        energy, energy_from = _recorded(fh, _ENERGY_PATHS, "energy")
        exposure, exposure_from = _recorded(fh, _EXPOSURE_PATHS, "time")
        sample = h5_value(fh, path, "measurement/sample/name", required=False)
        title = h5_value(fh, path, "exchange/title", required=False)
    deg, how = resolve_angles(path, theta, "/exchange/theta", theta_unit, angles=angles, angle_unit=angle_unit)
    pixel, pixel_from = choose("pixel size", pixel_size_um, pixel, pixel_from, path, low=PIXEL_RANGE_UM[0],
                               high=PIXEL_RANGE_UM[1], unit="µm", arg="pixel_size_um")
    energy, energy_from = choose("photon energy", energy_ev, energy, energy_from, path, low=ENERGY_RANGE_EV[0],
                                 high=ENERGY_RANGE_EV[1], unit="eV", arg="energy_ev")
    exposure, exposure_from = choose("exposure", exposure_s, exposure, exposure_from, path, low=EXPOSURE_RANGE_S[0],
                                     high=EXPOSURE_RANGE_S[1], unit="s", arg="exposure_s")
    attrs = {"pixel_size_source": pixel_from, "energy_source": energy_from, "exposure_s": exposure,
             "exposure_source": exposure_from, "sample": text(sample) if sample is not None else None,
             "title": text(title) if title is not None else None,
             "order_source": "not recorded in Data Exchange: darks, flats, then projections assumed"}
    return build(path, "dxchange", frames(source, lazy), deg, how, flats=flats, darks=darks,
                 pixel_size_um=pixel, energy_ev=energy, attrs={k: v for k, v in attrs.items() if v is not None})


def _recorded(fh, paths, kind: str) -> tuple[float | None, str | None]:
    """The first of ``paths`` present with a unit this reader understands: (value, where)."""
    for name in paths:
        if name not in fh:
            continue
        value = np.asarray(fh[name][()], dtype=np.float64).ravel()
        if value.size == 0:
            continue
        unit = unit_of(fh[name].attrs)
        if kind == "length":
            um = length_um(value[0], unit)
            if um is not None:
                return um, f"{name} ({value[0]:g} {unit})"
        elif kind == "energy":
            ev, how = energies_in_ev(value[0], unit, name)
            return float(ev[0]), how
        elif (unit or "").lower() in ("", "s", "sec", "second", "seconds"):
            return float(value[0]), name
    return None, None
