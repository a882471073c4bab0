"""The raw tomography acquisition: projections, flats, darks and angles in one Dataset.

What a beamline or lab CT writes before any reconstruction, as one :class:`xarray.Dataset`
that every reader of :mod:`batteryzoom.io` returns and :mod:`batteryzoom.tomo` consumes:

================  ===============================================  ======================
variable          dims                                             meaning
================  ===============================================  ======================
``projections``   ``(angle, row, col)`` or                         transmitted intensity
                  ``(energy, angle, row, col)``                    I, as stored (counts)
``flats``         ``(flat, row, col)`` or ``(energy, flat, ...)``  I0 (beam, no sample)
``darks``         ``(dark, row, col)`` or ``(energy, dark, ...)``  D (no beam)
================  ===============================================  ======================

Coordinates: ``angle`` in **degrees** (float64; the file's own unit and how it was
established are in ``attrs["angle_unit_source"]``), ``energy`` in eV (multi-energy scans),
``row`` and ``col`` in µm on the detector when the pixel size is known (else pixel
indices with ``units="px"``), and the acquisition order of every frame
(``projection_order``, ``flat_order``, ``dark_order``: integer frame numbers in the scan,
so flats taken before and after the projections can be interpolated in time). ``flats``
and ``darks`` may be absent (e.g. an already-normalised sinogram): then
``attrs["normalized"]`` says whether ``projections`` already hold ``-ln(I/I0)``, and
``attrs["flats_absent"]`` (True) marks raw projections read knowingly without flats (a
``.txrm`` without reference): normalising them needs flats from elsewhere. A multi-energy
scan whose angles differ slightly between energies keeps them all in the 2D coordinate
``angle_by_energy`` ``(energy, angle)`` (``angle`` is then their mean).

Attributes: ``pixel_size_um`` (float or None), ``energy_ev`` (single-energy scans, or
None), ``source_path``, ``format`` (e.g. ``"dxchange"``, ``"xradia-txrm"``,
``"tiff-series"``, ``"nexus"``, ``"fxi"``, ``"matlab-sinogram"``), ``angle_unit_source``
(e.g. ``"theta in degrees (dataset attribute units=deg)"``, ``"detected: span 3.14 rad
over 181 frames"``, ``"given: angle_unit='rad'"``), ``normalized`` (bool), ``scan_range_deg``
(the angular span, 180 or 360 for a full scan), and any provenance the file records
(``exposure_s``, ``flat_exposure_s`` when flats were exposed differently, ``date``,
``instrument``, ...).

:func:`make_acquisition` builds and validates one (the readers call it; so can a user
holding arrays); :func:`check_acquisition` validates one made elsewhere. Angles are never
guessed silently: :func:`angles_in_degrees` converts with a stated or detected unit and
records how.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..errors import InputError

__all__ = ["make_acquisition", "check_acquisition", "angles_in_degrees", "ACQUISITION_VARIABLES"]

ACQUISITION_VARIABLES = ("projections", "flats", "darks")
_FRAME_DIM = {"projections": "angle", "flats": "flat", "darks": "dark"}
_ORDER = {"projections": "projection_order", "flats": "flat_order", "darks": "dark_order"}


def angles_in_degrees(angles: Any, unit: str | None = None, *, where: str = "angles") -> tuple[np.ndarray, str]:
    """Angles as float64 degrees, and a sentence saying how their unit was established.

    Parameters
    ----------
    angles : array-like, shape (n,)
        Rotation angles as stored.
    unit : {"deg", "rad"} or None
        The unit when the file or the caller states it; None to detect it from the span:
        radians when the span is at most 2π + one step and the values would otherwise be
        a span of a few degrees for more than 10 projections; degrees when the span is
        above 2π + one step. An ambiguous span (both readings plausible) is an error that
        asks for ``angle_unit``.
    where : str
        How to call the angles in messages (a file and dataset path).

    Returns
    -------
    degrees : numpy.ndarray, float64, shape (n,)
    how : str

    Raises
    ------
    InputError
        Non-finite angles, an unknown unit, or a span that reads as neither unit.

    Examples
    --------
    >>> import numpy as np
    >>> deg, how = angles_in_degrees(np.linspace(0, np.pi, 181))
    >>> float(deg[-1]), how
    (180.0, 'detected: span 3.142 over 181 angles reads as radians (degrees would be a 3.1° scan)')
    >>> angles_in_degrees([0, 90, 180], "deg")[1]
    "stated: angle_unit='deg'"
    """
    a = np.asarray(angles, dtype=np.float64).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise InputError(f"{where}: angles must be finite numbers (got {a.size} values, "
                         f"{int(np.sum(~np.isfinite(a)))} not finite)")
    if unit is not None:
        u = str(unit).strip().lower()
        if u in ("deg", "degree", "degrees", "°"):
            return a.copy(), f"stated: angle_unit={unit!r}"
        if u in ("rad", "radian", "radians"):
            return np.degrees(a), f"stated: angle_unit={unit!r}"
        raise InputError(f"{where}: angle_unit={unit!r} is not 'deg' or 'rad'")
    span = float(a.max() - a.min())
    n = a.size
    step = span / max(n - 1, 1)
    if span <= 2 * np.pi + 1.5 * step and n > 10 and span < 10:
        return np.degrees(a), (f"detected: span {span:.4g} over {n} angles reads as radians "
                               f"(degrees would be a {span:.2g}° scan)")
    if span > 2 * np.pi + 1.5 * step:
        return a.copy(), f"detected: span {span:.4g} over {n} angles reads as degrees"
    raise InputError(f"{where}: the angles span {span:.4g} over {n} values, which reads as degrees "
                     "or radians alike; pass angle_unit='deg' or angle_unit='rad'")


def _frames(name: str, value: Any, energy: bool) -> xr.DataArray:
    data = value.data if isinstance(value, xr.DataArray) else value
    if not hasattr(data, "ndim"):
        data = np.asarray(data)
    want = 4 if energy else 3
    if data.ndim == want - 1:
        data = data[None] if not energy else data[:, None]
    if data.ndim != want:
        dims = "(energy, n, row, col)" if energy else "(n, row, col)"
        raise InputError(f"{name}: expected frames of dims {dims}, got shape {tuple(data.shape)}")
    if np.dtype(data.dtype).kind not in "fiu":
        raise InputError(f"{name}: dtype {data.dtype} is not a real number type")
    dims = (("energy",) if energy else ()) + (_FRAME_DIM[name], "row", "col")
    return xr.DataArray(data, dims=dims)


def make_acquisition(
    projections: Any,
    angles: Any,
    flats: Any = None,
    darks: Any = None,
    *,
    angle_unit: str | None = None,
    energy_ev: Any = None,
    pixel_size_um: float | None = None,
    order: Mapping[str, Any] | None = None,
    normalized: bool = False,
    allow_no_flats: bool = False,
    source_path: str | None = None,
    fmt: str = "arrays",
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """One acquisition Dataset from arrays (the module docstring describes its layout).

    Parameters
    ----------
    projections : array-like, (n_angle, row, col) or (n_energy, n_angle, row, col)
        Intensities as stored (any real dtype), numpy or dask (kept lazy).
    angles : array-like, (n_angle,)
        Rotation angles; see :func:`angles_in_degrees` for ``angle_unit``.
    flats, darks : array-like, optional
        ``(n, row, col)`` (or one frame ``(row, col)``), per energy for multi-energy scans.
    energy_ev : float or array-like, optional
        The energy (eV) of a single-energy scan, or one per energy of a multi-energy scan.
    pixel_size_um : float, optional
        Detector pixel size at the sample (µm).
    order : mapping, optional
        Frame numbers in acquisition order: ``{"projections": ..., "flats": ..., "darks":
        ...}``; default: darks, flats, then projections.
    normalized : bool
        Whether ``projections`` already hold ``-ln(I/I0)`` (no flats needed).
    allow_no_flats : bool
        Accept raw projections without flats (a ``.txrm`` without reference read for
        inspection): ``attrs["flats_absent"]`` is then True, and whoever normalises must
        bring flats.
    source_path, fmt, attrs
        Provenance (file, format name, anything else the file records).

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    InputError
        Shapes that disagree (angles vs projections, flats/darks vs the detector), angles
        in no clear unit, a non-positive pixel size, raw projections without flats.

    Examples
    --------
    >>> import numpy as np
    >>> acq = make_acquisition(np.full((4, 2, 3), 900, np.uint16), [0, 45, 90, 135],
    ...                        flats=np.full((2, 2, 3), 1000, np.uint16), angle_unit="deg",
    ...                        pixel_size_um=0.5)
    >>> acq.projections.dims, acq.angle.values.tolist(), acq.attrs["pixel_size_um"]
    (('angle', 'row', 'col'), [0.0, 45.0, 90.0, 135.0], 0.5)
    """
    where = source_path or "projections"
    energy = None if energy_ev is None else np.atleast_1d(np.asarray(energy_ev, dtype=np.float64))
    multi = energy is not None and energy.size > 1 or getattr(projections, "ndim", np.ndim(projections)) == 4
    proj = _frames("projections", projections, multi)
    n_angle = proj.sizes["angle"]
    deg, how = angles_in_degrees(angles, angle_unit, where=f"{where}: angles")
    if deg.size != n_angle:
        raise InputError(f"{where}: {deg.size} angles for {n_angle} projections; the angles file or dataset "
                         "must list one angle per projection (drop flat/dark positions from it, or pass angles=)")
    if multi and (energy is None or energy.size != proj.sizes["energy"]):
        raise InputError(f"{where}: {proj.sizes['energy']} energies of projections but energy_ev has "
                         f"{0 if energy is None else energy.size} values")
    if pixel_size_um is not None and not (np.isfinite(pixel_size_um) and pixel_size_um > 0):
        raise InputError(f"{where}: pixel_size_um={pixel_size_um!r} must be a positive size in µm")
    if flats is None and not normalized and not allow_no_flats:
        raise InputError(f"{where}: raw projections need flat fields to normalise; pass flats=, or "
                         "normalized=True when the projections already hold -ln(I/I0)")
    data = {"projections": proj}
    for name, value in (("flats", flats), ("darks", darks)):
        if value is None:
            continue
        arr = _frames(name, value, multi)
        if arr.shape[-2:] != proj.shape[-2:]:
            raise InputError(f"{where}: {name} are {arr.shape[-2]}×{arr.shape[-1]} px but the projections "
                             f"{proj.shape[-2]}×{proj.shape[-1]} px; they must come from the same detector ROI")
        if multi and arr.sizes["energy"] != proj.sizes["energy"]:
            raise InputError(f"{where}: {name} for {arr.sizes['energy']} energies, projections for "
                             f"{proj.sizes['energy']}")
        data[name] = arr
    rows, cols = proj.shape[-2:]
    coords: dict[str, Any] = {"angle": ("angle", deg)}
    if multi:
        coords["energy"] = ("energy", energy)
    if pixel_size_um is not None:
        coords["row"] = ("row", np.arange(rows) * float(pixel_size_um), {"units": "um"})
        coords["col"] = ("col", np.arange(cols) * float(pixel_size_um), {"units": "um"})
    else:
        coords["row"] = ("row", np.arange(rows, dtype=np.float64), {"units": "px"})
        coords["col"] = ("col", np.arange(cols, dtype=np.float64), {"units": "px"})
    given = dict(order or {})
    start = 0
    for name in ("darks", "flats", "projections"):
        if name not in data:
            continue
        n = data[name].sizes[_FRAME_DIM[name]]
        o = np.asarray(given.get(name, np.arange(start, start + n)), dtype=np.int64)
        if o.shape != (n,):
            raise InputError(f"{where}: order[{name!r}] has {o.size} entries for {n} frames")
        coords[_ORDER[name]] = (_FRAME_DIM[name], o)
        start += n
    span = float(deg.max() - deg.min()) if deg.size > 1 else 0.0
    out_attrs = {
        "pixel_size_um": None if pixel_size_um is None else float(pixel_size_um),
        "energy_ev": float(energy[0]) if energy is not None and not multi else None,
        "source_path": source_path,
        "format": fmt,
        "angle_unit_source": how,
        "normalized": bool(normalized),
        "scan_range_deg": round(span + (span / max(n_angle - 1, 1)), 6) if n_angle > 1 else 0.0,
        **({"flats_absent": True} if flats is None and not normalized else {}),
        **dict(attrs or {}),
    }
    return check_acquisition(xr.Dataset(data, coords=coords, attrs=out_attrs))


def check_acquisition(acq: Any, name: str = "acquisition") -> xr.Dataset:
    """Validate an acquisition Dataset (layout of the module docstring); return it.

    Raises
    ------
    InputError
        Not a Dataset, no ``projections``, dims or coordinates missing, angles not finite,
        raw projections without flats (unless ``attrs["flats_absent"]`` says they are
        knowingly absent).
    """
    if not isinstance(acq, xr.Dataset):
        raise InputError(f"{name}: expected an acquisition Dataset (bz.io.read_acquisition or "
                         f"bz.io.acquisition.make_acquisition), got {type(acq).__name__}")
    if "projections" not in acq:
        raise InputError(f"{name}: no 'projections' variable; variables are {list(acq.data_vars)}")
    dims = acq.projections.dims
    if dims[-3:] != ("angle", "row", "col") or (len(dims) == 4 and dims[0] != "energy"):
        raise InputError(f"{name}: projections have dims {dims}; expected (angle, row, col) or "
                         "(energy, angle, row, col)")
    if "angle" not in acq.coords or not np.all(np.isfinite(acq.angle.values)):
        raise InputError(f"{name}: the angle coordinate (degrees) is missing or not finite")
    if "flats" not in acq and not acq.attrs.get("normalized", False) and not acq.attrs.get("flats_absent", False):
        raise InputError(f"{name}: raw projections without flats; add flats or set attrs['normalized']=True")
    return acq
