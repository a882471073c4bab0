"""NSLS-II FXI (18-ID) tomography HDF5: ``img_tomo``, ``img_bkg``, ``img_dark``, ``angle``.

The layout FXI's export functions write for a ``fly_scan``/``tomo_scan`` (NSLS-II FXI
beamline profile and its export workflow; read by pyxas's ``tomo_recon``): root datasets
``img_tomo`` ``(angle, row, col)`` uint16, ``img_bkg`` and ``img_dark`` (every flat and dark
frame), ``img_bkg_avg``/``img_dark_avg`` (their median, ``(1, row, col)`` float32),
``angle`` in degrees, ``X_eng`` (the energy in keV), ``Pixel Size`` (text such as
``"21.7nm"``), ``Magnification``, ``note``, ``uid``, ``scan_id``, ``scan_time`` (Unix
seconds). A multi-energy file holds ``img_tomo`` ``(energy, angle, row, col)`` with one
``X_eng`` per energy (and flats per energy); a folder of single-energy files reads with
:func:`batteryzoom.io.tomo.read_multi_energy`.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import FileFormatError
from ._common import (ENERGY_RANGE_EV, PIXEL_RANGE_UM, H5Frames, build, choose, energies_in_ev, frames, h5_value,
                      length_um, merge_angles, open_h5, resolve_angles, text)

__all__ = ["read_fxi", "FXI_TOMO_LAYOUT"]

FXI_TOMO_LAYOUT = {"projections": "img_tomo", "flats": "img_bkg", "darks": "img_dark", "angles": "angle",
                   "energy": "X_eng", "flats_avg": "img_bkg_avg", "darks_avg": "img_dark_avg"}
_SIZE = re.compile(r"^\s*([-+0-9.eE]+)\s*([A-Za-zµμ]+)\s*$")


def read_fxi(
    path: str | os.PathLike,
    *,
    angles=None,
    angle_unit: str | None = None,
    pixel_size_um: float | None = None,
    energy_ev=None,
    lazy: bool | None = None,
) -> xr.Dataset:
    """Read an NSLS-II FXI tomography file (one energy, or several in one file).

    Parameters
    ----------
    path : path-like
        The ``fly_scan_id_*.h5``/``tomo_scan_id_*.h5`` file.
    angles, angle_unit
        Replace ``angle`` (degrees by FXI's convention, checked against the values) or
        state its unit.
    pixel_size_um : float, optional
        Overrides ``Pixel Size`` (checked: 1 nm–1 mm).
    energy_ev : float or sequence, optional
        Overrides ``X_eng`` (keV in the file; eV here), one per energy.
    lazy : bool, optional
        Dask-backed projections (default: above 512 MiB).

    Returns
    -------
    xarray.Dataset
        ``projections`` ``(angle, row, col)`` or ``(energy, angle, row, col)``; ``flats``
        from every ``img_bkg`` frame (``img_bkg_avg`` when the file keeps only the median,
        said in ``attrs["flats_source"]``), ``darks`` likewise.

    Raises
    ------
    FileFormatError
        No ``img_tomo``, no flats, angles or energies that do not match the frames.

    Examples
    --------
    >>> import h5py, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "fly_scan_id_1.h5")
    >>> with h5py.File(path, "w") as f:
    ...     f["img_tomo"] = np.full((4, 3, 5), 900, np.uint16)
    ...     f["img_bkg"] = np.full((2, 3, 5), 1000, np.uint16)
    ...     f["img_dark"] = np.zeros((2, 3, 5), np.uint16)
    ...     f["angle"] = np.array([0.0, 45.0, 90.0, 135.0])
    ...     f["X_eng"] = 8.35
    ...     f["Pixel Size"] = "21.7nm"
    >>> acq = read_fxi(path)
    >>> acq.projections.dims, acq.attrs["energy_ev"], acq.attrs["pixel_size_um"]
    (('angle', 'row', 'col'), 8350.0, 0.0217)
    """
    path = Path(path)
    with open_h5(path) as fh:
        if "img_tomo" not in fh:
            raise FileFormatError(path, "no img_tomo", "not an FXI tomography file; pass format= for another layout")
        ds = fh["img_tomo"]
        if ds.ndim not in (3, 4):
            raise FileFormatError(path, f"img_tomo has shape {ds.shape}; expected (angle, row, col) or "
                                        "(energy, angle, row, col)")
        source = H5Frames(path, ds.name, ds.shape, ds.dtype)
        multi = ds.ndim == 4
        flats, flats_from = _frames(fh, path, "img_bkg", "img_bkg_avg")
        darks, darks_from = _frames(fh, path, "img_dark", "img_dark_avg")
        raw_angles = h5_value(fh, path, "angle", required=False)
        eng = h5_value(fh, path, "X_eng", required=False)
        size = h5_value(fh, path, "Pixel Size", required=False)
        meta = {key: h5_value(fh, path, key, required=False)
                for key in ("note", "uid", "scan_id", "scan_time", "Magnification")}
    n_energy = ds.shape[0] if multi else 1
    recorded_e, e_from = (None, None) if eng is None else energies_in_ev(eng, None, "X_eng")
    if recorded_e is not None and recorded_e.size != n_energy:
        raise FileFormatError(path, f"X_eng holds {recorded_e.size} energies for {n_energy} energies of img_tomo",
                              "pass energy_ev= with one energy per img_tomo block")
    energy, energy_from = choose("photon energy", energy_ev,
                                 None if recorded_e is None else (recorded_e if multi else float(recorded_e[0])),
                                 e_from, path, low=ENERGY_RANGE_EV[0], high=ENERGY_RANGE_EV[1], unit="eV",
                                 arg="energy_ev")
    recorded_px, px_from = _pixel(size)
    pixel, pixel_from = choose("pixel size", pixel_size_um, recorded_px, px_from, path, low=PIXEL_RANGE_UM[0],
                               high=PIXEL_RANGE_UM[1], unit="µm", arg="pixel_size_um")
    per_energy_raw = None if raw_angles is None else np.atleast_2d(np.asarray(raw_angles, dtype=np.float64))
    if per_energy_raw is not None and per_energy_raw.shape[0] == 1 and n_energy > 1:
        per_energy_raw = np.repeat(per_energy_raw, n_energy, axis=0)  # one angle list for every energy
    per_energy = []
    how = ""
    for i in range(n_energy):
        raw = None if per_energy_raw is None else per_energy_raw[min(i, per_energy_raw.shape[0] - 1)]
        deg, how = resolve_angles(path, raw, "angle", "deg", convention=True, angles=angles, angle_unit=angle_unit)
        per_energy.append(deg)
    by_energy = None
    if multi:
        deg, by_energy, note = merge_angles(per_energy, energy if energy is not None else np.arange(n_energy), str(path))
        how += f"; angles {note}"
        flats = _per_energy(flats, n_energy, "img_bkg", path)
        darks = _per_energy(darks, n_energy, "img_dark", path)
    else:
        deg = per_energy[0]
    attrs = {"energy_source": energy_from, "pixel_size_source": pixel_from, "flats_source": flats_from,
             "darks_source": darks_from, "note": text(meta["note"]) if meta["note"] is not None else None,
             "uid": text(meta["uid"]) if meta["uid"] is not None else None,
             "scan_id": int(np.ravel(meta["scan_id"])[0]) if meta["scan_id"] is not None else None,
             "magnification": float(np.ravel(meta["Magnification"])[0]) if meta["Magnification"] is not None else None,
             "date": _dt.datetime.fromtimestamp(float(np.ravel(meta["scan_time"])[0]), _dt.timezone.utc).isoformat()
             if meta["scan_time"] is not None else None,
             "order_source": "not recorded: darks, flats, then projections assumed"}
    return build(path, "fxi", frames(source, lazy), deg, how, flats=flats, darks=darks, pixel_size_um=pixel,
                 energy_ev=energy, angle_by_energy=by_energy, attrs={k: v for k, v in attrs.items() if v is not None})


def _frames(fh, path: Path, name: str, averaged: str):
    """Every flat (or dark) frame, else the file's median of them."""
    for key, note in ((name, f"{name} (every frame)"), (averaged, f"{averaged} (median of the frames; the file "
                                                                  f"keeps no {name})")):
        value = h5_value(fh, path, key, required=False)
        if value is not None:
            return np.asarray(value), note
    return None, None


def _per_energy(arr, n_energy: int, name: str, path: Path):
    if arr is None or arr.ndim == 4:
        if arr is not None and arr.shape[0] != n_energy:
            raise FileFormatError(path, f"{name} has {arr.shape[0]} energies, img_tomo {n_energy}")
        return arr
    return np.broadcast_to(arr, (n_energy,) + arr.shape)  # one set taken for all energies


def _pixel(size) -> tuple[float | None, str | None]:
    """``Pixel Size`` as FXI writes it (``"21.7nm"``) in µm."""
    if size is None:
        return None, None
    s = text(size)
    m = _SIZE.match(s)
    if m is None:
        return None, None
    um = length_um(float(m.group(1)), m.group(2))
    return (um, f"Pixel Size ({s})") if um is not None else (None, None)
