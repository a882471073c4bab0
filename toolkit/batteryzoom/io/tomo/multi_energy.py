"""Multi-energy scans: one acquisition per energy, stacked to ``(energy, angle, row, col)``.

3D XANES by tomography takes a full tomography at each of tens of energies across an
absorption edge (TXM at SSRL 6-2c, FXI at NSLS-II, APS 32-ID): one file (or folder) per
energy. This reader reads each with :func:`batteryzoom.io.read_acquisition`, takes each
one's energy from its own file, checks that they share the detector, the pixel size, the
numbers of flats and darks and the angles, sorts them by energy and stacks them (lazily
when they are big: each energy stays a dask block).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..._blocks import is_dask
from ...errors import FileFormatError, InputError
from ..volumes import natural_sort
from ._common import build, merge_angles

__all__ = ["read_multi_energy"]

# a folder's files that may each be one energy's acquisition
_ACQUISITION_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs", ".txrm", ".xrm", ".mat")


def read_multi_energy(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str | None = None,
    energy_ev: Sequence[float] | None = None,
    flats=None,
    lazy: bool | None = None,
    **options,
) -> xr.Dataset:
    """Read one acquisition per energy and stack them along ``energy``.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        A folder whose acquisition files (``.h5``, ``.nxs``, ``.txrm``, …; natural order)
        are one energy each, or the list of files (or TIFF-series folders).
    format : str, optional
        The format of every file (default: detected for each).
    energy_ev : sequence of float, optional
        One energy per path (in the order given), when the files record none or wrongly.
    flats : sequence, optional
        One ``flats=`` per path (e.g. the reference ``.xrm`` of each ``.txrm``).
    lazy : bool, optional
        Dask-backed projections per energy (default: each file's own size rule).
    **options
        Passed to each file's reader (``angle_unit``, ``pixel_size_um``, ...).

    Returns
    -------
    xarray.Dataset
        ``projections`` ``(energy, angle, row, col)``, ``flats``/``darks`` ``(energy, n,
        row, col)``, ``energy`` in eV ascending; ``attrs["energy_files"]`` lists each
        energy's file.

    Raises
    ------
    FileFormatError
        Fewer than two files, a file without an energy, two files at one energy, files of
        different detectors, pixel sizes, flat/dark counts or angles.

    Examples
    --------
    >>> import h5py, numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> for i, kev in enumerate([8.36, 8.33, 8.35]):
    ...     with h5py.File(os.path.join(folder, f"fly_scan_id_{i}.h5"), "w") as f:
    ...         f["img_tomo"] = np.full((3, 2, 4), 900, np.uint16)
    ...         f["img_bkg"] = np.full((2, 2, 4), 1000, np.uint16)
    ...         f["angle"] = np.array([0.0, 60.0, 120.0])
    ...         f["X_eng"] = kev
    >>> acq = read_multi_energy(folder)
    >>> acq.projections.dims, acq.energy.values.tolist()
    (('energy', 'angle', 'row', 'col'), [8330.0, 8350.0, 8360.0])
    """
    from .reader import read_acquisition

    files = _paths(paths)
    if energy_ev is not None and len(energy_ev) != len(files):
        raise InputError(f"energy_ev has {len(energy_ev)} values for {len(files)} files; give one per file")
    if flats is not None and (isinstance(flats, (str, os.PathLike)) or len(flats) != len(files)):
        raise InputError(f"flats= for a multi-energy scan is one entry per file ({len(files)}), in the files' order")
    parts = []
    for i, f in enumerate(files):
        kwargs = dict(options)
        if energy_ev is not None:
            kwargs["energy_ev"] = energy_ev[i]
        if flats is not None:
            kwargs["flats"] = flats[i]
        acq = read_acquisition(f, format=format, lazy=lazy, **kwargs)
        if "energy" in acq.dims:
            raise FileFormatError(f, "is already a multi-energy acquisition", "read it on its own")
        if acq.attrs.get("energy_ev") is None:
            raise FileFormatError(f, "records no energy", "pass energy_ev= with one energy per file")
        parts.append((float(acq.attrs["energy_ev"]), f, acq))
    parts.sort(key=lambda p: p[0])
    energies = np.array([p[0] for p in parts])
    repeated = energies[np.flatnonzero(np.diff(energies) < 0.01)]
    if repeated.size:
        same = [str(p[1]) for p in parts if np.isclose(p[0], repeated[0], atol=0.01)]
        raise FileFormatError(same[0], f"{len(same)} files at {repeated[0]:.2f} eV: {', '.join(same)}",
                              "drop the repeat or pass energy_ev=")
    first = parts[0][2]
    where = str(Path(files[0]).parent)
    _same(parts, where)
    deg, by_energy, note = merge_angles([p[2].angle.values for p in parts], energies, where)
    stack = {}
    for var in ("projections", "flats", "darks"):
        if var in first:
            arrays = [p[2][var].data for p in parts]
            stack[var] = _stack(arrays)
    order = {var: first[f"{var[:-1]}_order" if var != "projections" else "projection_order"].values
             for var in stack}
    attrs = {k: v for k, v in first.attrs.items()
             if k not in ("energy_ev", "source_path", "format", "angle_unit_source", "scan_range_deg", "normalized",
                          "pixel_size_um", "flats_absent")}
    attrs.update(energy_files=[str(p[1]) for p in parts], energy_sources=[p[2].attrs.get("energy_source") for p in parts],
                 member_format=first.attrs.get("format"),
                 order_source=f"frame numbers of the first energy ({Path(parts[0][1]).name}); "
                              f"{first.attrs.get('order_source', '')}")
    how = f"{first.attrs.get('angle_unit_source')}; angles {note}"
    return build(Path(where), "multi-energy", stack["projections"], deg, how, flats=stack.get("flats"),
                 darks=stack.get("darks"), order=order, pixel_size_um=first.attrs.get("pixel_size_um"),
                 energy_ev=energies, normalized=bool(first.attrs.get("normalized")),
                 allow_no_flats=bool(first.attrs.get("flats_absent")), angle_by_energy=by_energy, attrs=attrs)


def _paths(paths) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        folder = Path(paths)
        if not folder.is_dir():
            raise FileFormatError(folder, "is not a folder of per-energy acquisitions",
                                  "pass the folder, or a list of the files")
        files = natural_sort(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _ACQUISITION_SUFFIXES)
    else:
        files = [Path(p) for p in paths]
    if len(files) < 2:
        raise FileFormatError(paths if isinstance(paths, (str, os.PathLike)) else ", ".join(map(str, files)) or "[]",
                              f"{len(files)} acquisition file(s): a multi-energy scan needs one per energy, at least 2",
                              "pass the folder or the list of per-energy files")
    return files


def _same(parts, where: str) -> None:
    """Every energy shares the detector, the pixel size and the flat/dark counts."""
    first = parts[0][2]
    for energy, f, acq in parts[1:]:
        for dim in ("row", "col", "flat", "dark"):
            a, b = first.sizes.get(dim, 0), acq.sizes.get(dim, 0)
            if a != b:
                raise FileFormatError(f, f"has {b} {dim}{'s' * (dim in ('flat', 'dark'))} where "
                                         f"{Path(parts[0][1]).name} has {a}",
                                      "every energy needs the same detector region and numbers of flats and darks")
        p0, p1 = first.attrs.get("pixel_size_um"), acq.attrs.get("pixel_size_um")
        if (p0 is None) != (p1 is None) or (p0 is not None and not np.isclose(p0, p1, rtol=1e-3)):
            raise FileFormatError(f, f"pixel size {p1} µm, {Path(parts[0][1]).name} {p0} µm",
                                  "pass pixel_size_um= if they are the same, or read magnifications apart")


def _stack(arrays: list):
    if any(is_dask(a) for a in arrays):
        import dask.array as da

        return da.stack([a if is_dask(a) else da.from_array(a, chunks=a.shape) for a in arrays])
    return np.stack(arrays)
