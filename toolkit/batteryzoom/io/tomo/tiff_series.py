"""A TIFF projection series: one TIFF per projection, flat and dark TIFFs, an angles file.

What many beamlines export (Diamond I13 for Savu, APS 2-BM and lab CTs as image folders):
a folder of projection TIFFs (natural order: ``raw_2`` before ``raw_10``), flats and darks
named so (``flat``/``ref``/``white``/``bkg``, ``dark``), beside them or one folder up, and a
text file of angles, one per line. The angles file often also lists the positions of the
flat and dark frames; the reader keeps the lines that belong to projections only when it
can tell which they are (extra lines repeating the first or last angle at the ends, where
flats and darks are taken) and says so, and refuses a count it cannot match.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import AcquisitionWarning, FileFormatError, InputError
from ...frames import frame_of


from .._files import decode, read_bytes, read_tiff_array, regular_file
from ..volumes import TIFF_SUFFIXES, natural_sort, read_volume
from ._common import ENERGY_RANGE_EV, PIXEL_RANGE_UM, build, choose, resolve_angles

__all__ = ["read_tiff_series", "projection_lines"]

_FLAT_TOKENS = {"flat", "flats", "ref", "refs", "white", "bkg", "background", "ff"}
_DARK_TOKENS = {"dark", "darks", "df"}
_ANGLE_FILE = re.compile(r"^(angles?|thetas?|rotation_angles?)([_\-.].*)?\.(txt|dat|csv|tlt)$", re.IGNORECASE)


def _role(path: Path) -> str:
    tokens = set(re.split(r"[_\-.\s]+|(?<=[a-z])(?=\d)", path.stem.lower()))
    if tokens & _DARK_TOKENS:
        return "dark"
    if tokens & _FLAT_TOKENS:
        return "flat"
    return "projection"


def _tiffs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES
            and not p.name.startswith(".")]


def read_tiff_series(
    path: str | os.PathLike,
    *,
    angles=None,
    angle_unit: str | None = None,
    angles_file: str | os.PathLike | None = None,
    flats=None,
    darks=None,
    pixel_size_um: float | None = None,
    energy_ev: float | None = None,
    lazy: bool | None = None,
) -> xr.Dataset:
    """Read a TIFF projection series with its flats, darks and angles file.

    Parameters
    ----------
    path : path-like
        The folder holding the projection TIFFs, or the folder above it (with the flats,
        darks and angles file, as Diamond's I13 export: ``tiffs/raw_*.tiff`` below,
        ``flat_*.tiff``, ``dark_*.tiff``, ``angles.txt`` beside), or one multi-page TIFF of
        projections.
    angles : array-like, optional
        One angle per projection (replaces any angles file).
    angle_unit : {"deg", "rad"}, optional
        Unit of the angles; detected from their span when not given (and said so).
    angles_file : path-like, optional
        The angles text file (one number per line, first column; ``#`` comments). Default:
        ``angles*.txt``/``theta*.txt`` in the projections' folder or the one above.
    flats, darks : path-like, sequence of paths or array-like, optional
        Override the flat/dark TIFFs found by name.
    pixel_size_um, energy_ev : float, optional
        Pixel size at the sample (µm) and photon energy (eV); TIFFs rarely record them.
    lazy : bool, optional
        Dask-backed projections, one file per chunk (default: above 512 MiB).

    Returns
    -------
    xarray.Dataset
        ``projections`` ``(angle, row, col)`` in the files' dtype; ``attrs["angles_lines"]``
        says which lines of the angles file are the projections'.

    Raises
    ------
    FileFormatError
        No projection TIFFs, TIFFs of different shapes, no angles, an angles file whose
        count cannot be matched to the projections (both counts named), flats of another
        shape, a flat of zeros or saturated.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> paths = bz.data.fetch("real/tomo/diamond-i13-tiff-series")
    >>> acq = read_tiff_series(paths[0].parent)      # the folder with angles.txt and tiffs/
    >>> acq.projections.shape, float(acq.angle[0]), float(acq.angle[-1])
    ((91, 135, 160), -88.2, 91.7999)
    >>> acq.attrs["angles_lines"]
    'angles.txt: 111 lines; lines 11–101 are the 91 projections (lines 1–10 and 102–111 repeat the first and last angle: flat/dark positions)'
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "does not exist", "pass the folder of projection TIFFs")
    proj_files, flat_files, dark_files, folders = _find(path)
    proj_source: str | list = str(path) if path.is_file() else proj_files
    # read_volume's chunks: its own size rule (None), in memory (False), or dask
    chunks = None if lazy is None else "auto" if lazy else False
    try:
        projections = read_volume(path if path.is_file() else proj_files, chunks=chunks)
    except FileFormatError:
        raise  # names the damaged projection file already
    except InputError as exc:
        raise FileFormatError(path, str(exc)) from None
    n = projections.sizes[projections.dims[0]] if projections.ndim == 3 else 1
    data = projections.data if projections.ndim == 3 else projections.data[None]
    lines_note = None
    if angles is None:
        afile = Path(angles_file) if angles_file is not None else _angles_file(folders)
        if afile is None:
            raise FileFormatError(path, f"{n} projections but no angles file (angles*.txt, theta*.txt) beside them",
                                  "pass angles_file= or angles= (one angle per projection)")
        values = _read_numbers(afile)
        keep, lines_note = projection_lines(values, n, afile.name)
        if keep is None:
            raise FileFormatError(afile, lines_note, "pass angles= with one angle per projection, or an angles "
                                                     "file listing only the projections' angles")
        recorded, recorded_from = values[keep], afile.name
        _warn_unless_monotonic(afile, recorded, keep.start)
    else:
        recorded, recorded_from = None, "angles file"
    deg, how = resolve_angles(path, recorded, recorded_from, None, angles=angles, angle_unit=angle_unit)
    flat_arr, flat_note = _frames_arg(flats, flat_files, "flats", path)
    dark_arr, dark_note = _frames_arg(darks, dark_files, "darks", path)
    pixel_frame = frame_of(projections, missing="px")  # the package's one frame reader
    recorded_pixel = pixel_frame.voxel_size_um[-1] if pixel_frame.known else None
    pixel, pixel_from = choose("pixel size", pixel_size_um, recorded_pixel, projections.attrs.get("voxel_size_from"),
                               path, low=PIXEL_RANGE_UM[0], high=PIXEL_RANGE_UM[1], unit="µm", arg="pixel_size_um")
    energy, energy_from = choose("photon energy", energy_ev, None, None, path, low=ENERGY_RANGE_EV[0],
                                 high=ENERGY_RANGE_EV[1], unit="eV", arg="energy_ev")
    attrs = {"angles_lines": lines_note, "flats_source": flat_note, "darks_source": dark_note,
             "pixel_size_source": pixel_from, "energy_source": energy_from,
             "projection_files": f"{len(proj_files)} files, {proj_files[0].name} … {proj_files[-1].name}"
             if len(proj_files) > 1 else str(proj_source),
             "order_source": "not recorded: darks, flats, then projections assumed"}
    return build(path, "tiff-series", data, deg, how, flats=flat_arr, darks=dark_arr, pixel_size_um=pixel,
                 energy_ev=energy, attrs={k: v for k, v in attrs.items() if v is not None})


def _find(path: Path) -> tuple[list[Path], list[Path], list[Path], list[Path]]:
    """Projection, flat and dark TIFFs, and the folders to look for an angles file in."""
    if path.is_file():
        folders = [path.parent, path.parent.parent]
        near = [p for f in folders[:1] for p in _tiffs(f) if p != path]
        return [path], [p for p in near if _role(p) == "flat"], [p for p in near if _role(p) == "dark"], folders
    here = _tiffs(path)
    subs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    proj = [p for p in here if _role(p) == "projection"]
    below = {d: [p for p in _tiffs(d) if _role(p) == "projection"] for d in subs}
    below = {d: ps for d, ps in below.items() if ps}
    if proj and below:
        raise FileFormatError(path, f"projection TIFFs both here ({len(proj)}) and in {', '.join(d.name for d in below)}",
                              "pass the folder that holds the projections")
    if not proj and len(below) > 1:
        raise FileFormatError(path, f"projection TIFFs in several folders ({', '.join(d.name for d in below)})",
                              "pass the one folder of this scan's projections")
    if not proj and not below:
        raise FileFormatError(path, "holds no projection TIFFs (nor does a folder inside it)",
                              "pass the folder of projection .tif/.tiff files")
    proj_dir = path if proj else next(iter(below))
    proj = proj or below[proj_dir]
    folders = [proj_dir] if proj_dir == path else [proj_dir, path]
    if proj_dir == path:
        folders.append(path.parent)
    near = [p for f in folders for p in _tiffs(f)]
    return (natural_sort(proj), natural_sort(p for p in near if _role(p) == "flat"),
            natural_sort(p for p in near if _role(p) == "dark"), folders)


def _angles_file(folders: list[Path]) -> Path | None:
    for folder in folders:
        found = sorted(p for p in folder.iterdir() if p.is_file() and _ANGLE_FILE.match(p.name))
        if found:
            return found[0]
    return None


def _warn_unless_monotonic(path: Path, values: np.ndarray, first_line: int) -> None:
    """A rotation scan's angles run one way; lines out of order (a damaged or hand-edited
    file) would pair projections with wrong angles. Interlaced scans exist, so: a warning."""
    step = np.diff(values)
    if step.size and not (np.all(step > 0) or np.all(step < 0)):
        rising = np.median(step) > 0
        k = int(np.flatnonzero(step <= 0 if rising else step >= 0)[0])
        warnings.warn(f"{path}: the projections' angles do not run one way: line {first_line + k + 1} reads "
                      f"{values[k]:g}, line {first_line + k + 2} {values[k + 1]:g}; an interlaced scan, or lines "
                      "out of order? Check the file, or pass angles=", AcquisitionWarning, stacklevel=3)


def _read_numbers(path: Path) -> np.ndarray:
    lines = decode(read_bytes(path, what="angles file"), path).splitlines()
    try:
        values = [float(ln.replace(",", " ").split()[0]) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    except ValueError as exc:
        raise FileFormatError(path, f"cannot read the angles ({type(exc).__name__}: {exc})",
                              "one number per line (first column), '#' for comments") from exc
    if not values:
        raise FileFormatError(path, "holds no angles", "one number per line")
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise FileFormatError(path, f"line {int(np.flatnonzero(~np.isfinite(values))[0]) + 1} of the angles is not a "
                                    "finite number", "fix that line")
    return values


def projection_lines(values, n_projections: int, name: str = "angles file") -> tuple[slice | None, str]:
    """Which lines of an angles file are the projections' (and a sentence saying so).

    An angles file may list one angle per projection, or also the stage positions of the
    flat and dark frames taken before and after the scan: those extra lines repeat the
    first angle (at the start) and the last (at the end). The projections are then the
    one window of ``n_projections`` lines whose leading lines all equal its first value
    and whose trailing lines all equal its last (within a tenth of the angular step).

    Parameters
    ----------
    values : array-like, (n_lines,)
    n_projections : int
    name : str
        The file's name, for the sentence.

    Returns
    -------
    keep : slice or None
        The projections' lines (0-based), or None when no single window fits.
    note : str
        What was kept, or why nothing fits (with both counts).

    Examples
    --------
    >>> keep, note = projection_lines([0, 0, 0, 90, 180, 180], 3, "a.txt")
    >>> keep, note
    (slice(2, 5, None), 'a.txt: 6 lines; lines 3–5 are the 3 projections (lines 1–2 and 6–6 repeat the first and last angle: flat/dark positions)')
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    m = v.size
    if m == n_projections:
        return slice(0, m), f"{name}: one line per projection ({m})"
    if m < n_projections:
        return None, f"{name} lists {m} angles for {n_projections} projections: too few"
    fits = []
    for k in range(m - n_projections + 1):
        window = v[k:k + n_projections]
        step = np.median(np.abs(np.diff(window))) if n_projections > 1 else 0.0
        tol = max(0.1 * step, 1e-6)
        if np.all(np.abs(v[:k] - window[0]) <= tol) and np.all(np.abs(v[k + n_projections:] - window[-1]) <= tol):
            fits.append(k)
    if len(fits) != 1:
        why = "none" if not fits else f"{len(fits)} (ambiguous)"
        return None, (f"{name} lists {m} angles for {n_projections} projections, and the {m - n_projections} extra "
                      f"lines are not flat/dark positions at the ends (repeats of the first or last angle): "
                      f"{why} of the windows fit")
    k = fits[0]
    end = k + n_projections
    return slice(k, end), (f"{name}: {m} lines; lines {k + 1}–{end} are the {n_projections} projections "
                           f"(lines 1–{k} and {end + 1}–{m} repeat the first and last angle: flat/dark positions)")


def _frames_arg(value, found: list[Path], name: str, path: Path):
    """Flats/darks from the caller (paths or array) or the TIFFs found by name."""
    if value is not None and not isinstance(value, (str, os.PathLike, list, tuple)):
        arr = value.data if isinstance(value, xr.DataArray) else np.asarray(value)
        return arr, f"given array {tuple(arr.shape)}"
    files = found if value is None else [Path(value)] if isinstance(value, (str, os.PathLike)) else [Path(v) for v in value]
    if not files:
        return None, None
    frames = []
    for f in files:
        arr = read_tiff_array(regular_file(f, name[:-1]), f"reading this {name[:-1]} as TIFF")
        if arr.ndim < 2 or arr.dtype.kind not in "uif":
            raise FileFormatError(f, f"holds {arr.dtype} {arr.shape}, not {name} frames", f"fix or drop this {name[:-1]}")
        frames.extend(arr.reshape((-1,) + arr.shape[-2:]))
    shapes = {fr.shape for fr in frames}
    dtypes = {fr.dtype for fr in frames}
    if len(shapes) > 1 or len(dtypes) > 1:
        raise FileFormatError(path, f"the {name} TIFFs differ in shape or type ({sorted(map(str, shapes | dtypes))})",
                              f"pass {name}= explicitly")
    return np.stack(frames), ", ".join(f.name for f in files)
