"""MATLAB sinograms: already-normalised projections saved from MATLAB (or scipy) as ``.mat``.

What reconstruction toolboxes exchange (ToMoBAR's ``RealDataDend.mat``: ``sinoRD``
detector × angles, ``anglesRad``): one sinogram ``(detector, angle)`` or ``(angle,
detector)``, or a stack of them with a detector-row axis, and a vector of angles. MATLAB
v4–v7 files read with :func:`scipy.io.loadmat`, v7.3 (HDF5 underneath) with h5py (MATLAB
stores arrays column-major, so h5py sees them transposed; the reader undoes it).

The values are taken as ``-ln(I/I0)`` (``normalized=True``): a sinogram holds no flats.
Some exports scale them (ToMoBAR's ×1000): values that cannot be optical densities
(above 20: a transmission below 2e-9) are refused unless ``value_scale`` says by what to
divide them; the scale is recorded in ``attrs["value_scale"]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import FileFormatError, InputError
from ._common import ENERGY_RANGE_EV, PIXEL_RANGE_UM, build, choose, open_h5, resolve_angles

__all__ = ["read_matlab_sinogram", "MAX_OPTICAL_DENSITY"]

MAT5_MAGIC = b"MATLAB 5.0 MAT-file"
MAT73_MAGIC = b"MATLAB 7.3 MAT-file"
# -ln(I/I0) above this is a transmission below 2e-9: no detector measures that
MAX_OPTICAL_DENSITY = 20.0
_ANGLE_WORDS = ("angle", "theta", "rot")


def read_matlab_sinogram(
    path: str | os.PathLike,
    *,
    sinogram: str | None = None,
    angles_var: str | None = None,
    angles=None,
    angle_unit: str | None = None,
    value_scale: float | None = None,
    pixel_size_um: float | None = None,
    energy_ev: float | None = None,
) -> xr.Dataset:
    """Read an already-normalised sinogram (or stack of them) from a MATLAB ``.mat`` file.

    Parameters
    ----------
    path : path-like
        A MATLAB v5 (or v4–v7) or v7.3 ``.mat`` file.
    sinogram : str, optional
        The variable holding the sinogram(s); default the largest 2D/3D real array.
    angles_var : str, optional
        The variable holding the angles; default the 1D vector whose name says angle/theta
        and whose length matches one axis of the sinogram.
    angles : array-like, optional
        The angles themselves (replace ``angles_var``).
    angle_unit : {"deg", "rad"}, optional
        Their unit. Default: from the variable's name (``anglesRad``, ``theta_deg``),
        checked against the values; detected from the span otherwise.
    value_scale : float, optional
        Divide the stored values by this to get ``-ln(I/I0)`` (1000 for ToMoBAR's
        exports). Required when the values exceed 20.
    pixel_size_um, energy_ev : float, optional
        A ``.mat`` sinogram records neither.

    Returns
    -------
    xarray.Dataset
        ``projections`` float32 ``(angle, row, col)`` (``row`` of length 1 for one
        sinogram) holding ``-ln(I/I0)``; ``attrs["normalized"]`` True, ``value_scale``.

    Raises
    ------
    FileFormatError
        Not a MATLAB file, no sinogram or angles, an angles length matching no axis (or
        both), values too large for optical densities without ``value_scale``.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> (path,) = bz.data.fetch("real/tomo/diamond-i12-dendrite-sinogram")
    >>> acq = read_matlab_sinogram(path, value_scale=1000)
    >>> acq.projections.shape, acq.attrs["normalized"], acq.attrs["value_scale"]
    ((360, 1, 1260), True, 1000.0)
    """
    path = Path(path)
    variables, version = _load(path)
    name = sinogram or _largest(variables, path)
    if name not in variables:
        raise FileFormatError(path, f"no variable {name!r}; it has {sorted(variables)}", "pass sinogram=")
    sino = np.asarray(variables[name])
    if sino.ndim not in (2, 3) or sino.dtype.kind not in "fiu":
        raise FileFormatError(path, f"{name} is {sino.dtype} {sino.shape}, not a 2D/3D real sinogram", "pass sinogram=")
    recorded, angles_from = None, None
    if angles is None:
        angles_from = angles_var or _angles_name(variables, sino.shape, name, path)
        if angles_from not in variables:
            raise FileFormatError(path, f"no variable {angles_from!r}; it has {sorted(variables)}", "pass angles_var=")
        recorded = np.asarray(variables[angles_from], dtype=np.float64).ravel()
    n_angles = (recorded if recorded is not None else np.ravel(angles)).size
    axis = _angle_axis(sino.shape, n_angles, name, path)
    sino = np.moveaxis(sino, axis, 0)
    projections = sino[:, None, :] if sino.ndim == 2 else sino
    unit = _unit_from_name(angles_from) if angle_unit is None and recorded is not None else None
    deg, how = resolve_angles(path, recorded, angles_from or "angles", unit, convention=unit is not None,
                              angles=angles, angle_unit=angle_unit)
    if unit is not None:
        how = how.replace("the format's convention", f"from the variable's name {angles_from!r}")
    peak = float(np.nanmax(np.abs(projections))) if projections.size else 0.0
    if value_scale is None and peak > MAX_OPTICAL_DENSITY:
        raise FileFormatError(path, f"{name} holds values up to {peak:.4g}, which are not -ln(I/I0) (a transmission "
                                    f"of e^-{peak:.3g})", "pass value_scale= to divide them (1000 for ToMoBAR's "
                                                          "×1000 exports), or read raw counts with their flats")
    scale = 1.0 if value_scale is None else float(value_scale)
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(f"value_scale={value_scale!r} must be a positive number")
    values = (projections / scale).astype(np.float32)
    pixel, pixel_from = choose("pixel size", pixel_size_um, None, None, path, low=PIXEL_RANGE_UM[0],
                               high=PIXEL_RANGE_UM[1], unit="µm", arg="pixel_size_um")
    energy, energy_from = choose("photon energy", energy_ev, None, None, path, low=ENERGY_RANGE_EV[0],
                                 high=ENERGY_RANGE_EV[1], unit="eV", arg="energy_ev")
    attrs = {"matlab_version": version, "sinogram_variable": f"{name} {tuple(np.shape(variables[name]))}, angles "
                                                             f"along axis {axis}",
             "value_scale": scale, "stored_values": f"{scale:g} × -ln(I/I0); divided by value_scale on reading"
             if scale != 1.0 else "-ln(I/I0)", "pixel_size_source": pixel_from, "energy_source": energy_from}
    return build(path, "matlab-sinogram", values, deg, how, normalized=True, pixel_size_um=pixel, energy_ev=energy,
                 attrs={k: v for k, v in attrs.items() if v is not None})


def _load(path: Path) -> tuple[dict, str]:
    """The file's variables (name -> array) and its MATLAB version."""
    if not path.is_file():
        raise FileFormatError(path, "no such file")
    with open(path, "rb") as fh:
        head = fh.read(128)
    if head.startswith(MAT73_MAGIC):
        import h5py

        with open_h5(path) as f:
            out = {}
            for key in f:
                obj = f[key]
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiu":
                    out[key] = np.asarray(obj[()]).T  # MATLAB is column-major
            return out, "7.3 (HDF5)"
    import scipy.io

    try:
        raw = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError for damaged files
        raise FileFormatError(path, f"not a readable MATLAB file ({type(exc).__name__}: {exc})",
                              "the file is truncated or corrupt, or not a .mat file") from exc
    version = "5" if head.startswith(MAT5_MAGIC) else "4"
    return {k: v for k, v in raw.items() if not k.startswith("__")}, version


def _largest(variables: dict, path: Path) -> str:
    arrays = {k: np.asarray(v) for k, v in variables.items()
              if isinstance(v, np.ndarray) and np.asarray(v).ndim in (2, 3) and min(np.shape(v)) > 1
              and np.asarray(v).dtype.kind in "fiu"}
    if not arrays:
        raise FileFormatError(path, f"no 2D/3D numeric variable among {sorted(variables)}", "pass sinogram=")
    return max(arrays, key=lambda k: arrays[k].size)


def _angles_name(variables: dict, shape: tuple, sino_name: str, path: Path) -> str:
    vectors = {k: np.asarray(v).size for k, v in variables.items()
               if k != sino_name and isinstance(v, np.ndarray) and np.squeeze(v).ndim == 1
               and np.asarray(v).size in shape}
    named = [k for k in vectors if any(w in k.lower() for w in _ANGLE_WORDS)]
    pick = named or list(vectors)
    if len(pick) != 1:
        raise FileFormatError(path, f"cannot tell the angles among {sorted(variables)} "
                                    f"({len(pick)} candidate vectors match an axis of {sino_name})", "pass angles_var=")
    return pick[0]


def _angle_axis(shape: tuple, n: int, name: str, path: Path) -> int:
    axes = [i for i, s in enumerate(shape) if s == n]
    if len(axes) != 1:
        raise FileFormatError(path, f"{n} angles and {name} of shape {shape}: "
                                    f"{'no axis' if not axes else 'several axes'} of that length",
                              "pass the angles of this sinogram" if not axes else "transpose the sinogram so only "
                                                                                  "the angle axis has that length")
    return axes[0]


def _unit_from_name(name: str | None) -> str | None:
    low = (name or "").lower()
    if low.endswith("rad") or "_rad" in low or "radian" in low:
        return "rad"
    if low.endswith("deg") or "_deg" in low or "degree" in low:
        return "deg"
    return None
