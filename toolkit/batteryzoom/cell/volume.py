"""A CT volume analysed slice by slice, and the per-slice defects linked into 3D.

:func:`analyze_volume` reads one slice at a time (a dask-backed volume is never loaded whole),
analyses it (:func:`~batteryzoom.cell.analyze_slice`), and keeps the first analysable slice's
pitch, handedness, can threshold and angular sampling for the others, so every slice's turns
and angles line up; each slice starts from the previous slice's can and axis. Per-slice
detections are linked into 3D defects by :func:`link_defects`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._blocks import distributed_client, map_tasks, n_threads
from .._progress import progress as _progress
from ..errors import InputError
from ..frames import Frame, frame_of
from ._slice import (TWO_PI, _as_slice, _check_count, _check_positive, _check_square, _in_unit, _named, _um_named,
                     _unit_of, _unit_text)
from .analysis import CellSlice, _analyze
from .can import Can, _can_threshold
from .defects import _empty_defects

__all__ = ["CellVolume", "analyze_volume", "link_defects"]

_LINKED_COLUMNS = ["defect_id", "type", "z_um", "y_um", "x_um", "radius_um", "angle_rad", "turn", "size_um",
                   "magnitude_um", "severity", "z_min_um", "z_max_um", "n_slices", "detail"]


@dataclass
class CellVolume:
    """A volume analysed slice by slice (see :func:`analyze_volume`).

    Lengths are µm, or pixels when analysed with ``voxel_size_um="px"``: the tables then
    name them ``..._px`` and the maps' ``units`` read "px".

    Attributes
    ----------
    summary : DataFrame
        One row per slice: ``z_um``, ``status`` ("ok"; "can only: ..." when the slice holds
        the can but no wound roll; "skipped: ..." with the reason otherwise), the
        can (``can_*``), the spiral (``n_windings``, ``pitch_um``, ``spiral_a_um``, ...,
        ``residual_rms_um``) and the number of defects of each type found in it.
    detections : DataFrame
        Every per-slice defect (:data:`DEFECT_COLUMNS` plus ``slice`` and ``weight``).
    defects : DataFrame
        Defects linked across slices into 3D (see :func:`link_defects`).
    residual : DataArray
        ``(z, turn, angle)`` deformation map (µm): each turn's ridge radius minus the
        fitted spiral; NaN where no ridge was tracked.
    radius : DataArray
        ``(z, turn, angle)`` ridge radii (µm) about each slice's unrolling centre.
    """

    summary: pd.DataFrame
    detections: pd.DataFrame
    defects: pd.DataFrame
    residual: xr.DataArray
    radius: xr.DataArray


def analyze_volume(
    volume: Any,
    voxel_size_um: float | tuple[float, float, float] | str | None = None,
    *,
    slices: Any = None,
    can: bool = True,
    n_angles: int | None = None,
    progress: bool | None = None,
    link: bool = True,
    min_slices: int = 2,
    parallel: bool | None = None,
    **slice_options: Any,
) -> CellVolume:
    """Analyse a CT volume slice by slice: can, windings and defects, then link in 3D.

    Each slice is read on its own (a dask-backed volume is never loaded whole).
    The first analysable slice fixes the pitch, handedness, can threshold and angular
    sampling for the others, so every slice's turns and angles line up.

    Parameters
    ----------
    volume : DataArray or array (z, y, x)
        The CT volume; its frame (:func:`batteryzoom.frames.frame_of`) gives each slice's
        height and position.
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Voxel size (µm); default from the DataArray. Anisotropic voxels are honoured
        between slices (``dz``); within a slice the pixels must be square (``dy = dx``).
        An unknown size raises; ``"px"`` measures in voxels (``..._px`` names).
    slices : slice or sequence of int, optional
        Which slices to analyse (default all); heights stay those of the whole volume.
    can : bool
        Look for the can in each slice (see :func:`analyze_slice`).
    n_angles : int, optional
        Angular samples of the unrolling.
    progress : bool, optional
        Show a progress bar (default follows ``BATTERYZOOM_PROGRESS``).
    link : bool
        Link per-slice detections into 3D defects.
    min_slices : int
        A 3D defect must be seen in at least this many slices (noise rarely is);
        inclusions, unambiguous by their brightness, need one.
    parallel : bool, optional
        Analyse the slices in parallel: after the first analysable slice has fixed the
        pitch, handedness, angles and can threshold, the others are split into contiguous
        runs, one task each, on the active ``dask.distributed`` client's workers (each
        reads its own slices: a zarr-backed volume is never gathered) or on one thread
        per core without a client. Default: parallel when a client is active. Statuses,
        counts and defect types equal the sequential result's; lengths agree within 0.1
        voxel (each run's can fit starts from the first slice's can instead of its
        neighbour's: on the twin the fits differ by ≤ 0.015 voxel; a defect's height, a
        parabola's vertex through its per-slice magnitudes, by up to 0.22 slice where the
        volume's end cuts its profile; ``tests/cell/test_volume.py``).
    **slice_options
        Passed to :func:`analyze_slice` (thresholds, ``centre_yx_um``, ...).

    Returns
    -------
    CellVolume

    Raises
    ------
    InputError
        Not a 3D volume, an empty one; an unknown voxel size; no slice analysable.

    Warns
    -----
    UserWarning
        For each slice that cannot be analysed (no can, no windings), naming it; its
        summary row holds the reason.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> ct = bz.data.load("twin/cell-ct")
    >>> res = bz.cell.analyze_volume(ct, slices=slice(30, 33), progress=False)  # z = 750-800 µm
    >>> res.summary[["z_um", "status", "n_layers", "n_inclusion"]]
        z_um status  n_layers  n_inclusion
    0  750.0     ok        22            0
    1  775.0     ok        22            1
    2  800.0     ok        22            1
    >>> res.defects[["type", "z_um", "n_slices"]].round(0)
            type   z_um  n_slices
    0   buckling  775.0         3
    1       dent  776.0         3
    2  inclusion  787.0         2
    """
    name = str(volume.attrs.get("source") or volume.name or "volume") if isinstance(volume, xr.DataArray) else "volume"
    shape = tuple(volume.shape)
    if len(shape) != 3:
        raise InputError(f"{name}: expected a (z, y, x) volume, got shape {shape}")
    if 0 in shape:
        raise InputError(f"{name}: the volume is empty (shape {shape}); nothing to analyse")
    # read once here: a bad or unknown voxel size would otherwise fail slice by slice
    frame = frame_of(volume, voxel_size_um, ndim=3, name=name)
    _check_square(frame.voxel_size_um, name)
    if n_angles is not None:
        _check_count("n_angles", n_angles, 8)
    _check_count("min_slices", min_slices, 1)
    index = _selected(slices, shape[0])
    z_all = frame.coords(shape)["z"]
    run = _SliceRun(volume, frame, name, can, n_angles, slice_options)
    if parallel is None:
        parallel = distributed_client() is not None
    if parallel:
        _analyse_in_parallel(run, index, z_all, progress)
    else:
        for iz in _progress(index, "analysing slices", total=len(index), enabled=progress, unit="slice"):
            run.analyse(int(iz), float(z_all[iz]))
    summary = _in_unit(pd.DataFrame(run.rows), frame.unit)
    detections = pd.concat(run.dets, ignore_index=True) if run.dets else _empty_defects(frame.unit)
    detections.attrs["length_unit"] = frame.unit
    if summary.get("status", pd.Series(dtype=str)).str.startswith("skipped").all():
        raise InputError(f"{name}: no slice could be analysed; first reason: {summary.status.iloc[0]}")
    residual, radius = run.maps(z_all[index])
    defects = link_defects(detections, voxel_size_um=frame.voxel_size_um, pitch_um=run.fixed.get("pitch_um"),
                           min_slices=min_slices) if link else _empty_defects(frame.unit)
    return CellVolume(summary=summary, detections=detections, defects=defects, residual=residual, radius=radius)


def _slice_run_task(job: tuple) -> tuple[list, list, list]:
    """One contiguous run of slices, from the state the first good slice left (a task)."""
    state, indices, heights = job
    run = state.fork()
    for iz, z in zip(indices, heights):
        run.analyse(int(iz), float(z), warn=False)
    return run.rows, run.dets, run.layers


def _analyse_in_parallel(run: _SliceRun, index: np.ndarray, z_all: np.ndarray, progress: bool | None) -> None:
    """Sequentially until a slice fixes the shared parameters, then the rest in runs."""
    k = 0
    while k < len(index) and not run.fixed:
        run.analyse(int(index[k]), float(z_all[index[k]]))
        k += 1
    rest = index[k:]
    if rest.size == 0:
        return
    client = distributed_client()
    workers = sum(client.nthreads().values()) if client is not None else n_threads()
    runs = np.array_split(rest, min(rest.size, max(1, 2 * workers)))  # 2 per worker: an even finish
    jobs = [(run, r, z_all[r]) for r in runs if r.size]
    with warnings.catch_warnings():  # once, around every thread (see _SliceRun._slice)
        warnings.simplefilter("ignore", UserWarning)
        results = map_tasks(_slice_run_task, jobs, desc="analysing slices", progress=progress, unit="run")
    for rows, dets, layers in results:
        for row in rows:  # the tasks did not warn (a worker's warnings do not reach the user)
            if str(row.get("status", "")).startswith("skipped"):
                warnings.warn(f"{run.name} slice {row['slice']} (z = {row['z_um']:.1f}): {row['status'].replace('skipped: ', 'skipped — ', 1)}",
                              stacklevel=3)
        run.rows.extend(rows)
        run.dets.extend(dets)
        run.layers.extend(layers)


def _selected(slices: Any, n: int) -> np.ndarray:
    try:
        index = np.arange(n)[slices] if slices is not None else np.arange(n)
    except (IndexError, TypeError, ValueError) as exc:
        raise InputError(f"slices={slices!r}: not a valid selection of the volume's {n} slices "
                         f"(0 to {n - 1}): {exc}") from exc
    index = np.atleast_1d(index)
    if index.size == 0:
        raise InputError(f"slices={slices!r}: selects no slice of the volume's {n}")
    return index


def _read_slice(volume, frame: Frame, iz: int, label: str):
    """Slice ``iz`` of the volume: its raw values (one slice read, even from dask) and the
    slice in the volume's frame."""
    data = volume[iz]
    data = np.asarray(data.values if isinstance(data, xr.DataArray) else data)
    if not frame.known:
        return data, _as_slice(data, "px", label)
    return data, _as_slice(data, frame.voxel_size_um[1:], label, origin_um=frame.origin_um[1:])


class _SliceRun:
    """The slice-by-slice loop's state: what the first good slice fixed (pitch, handedness,
    angles, can threshold), the last can and axis (the next slice starts from them), and
    the rows, detections and per-slice maps gathered so far (``layers``: per slice, None or
    the float32 ``(residual, radius)`` of its tracked turns)."""

    def __init__(self, volume, frame: Frame, name: str, can: bool, n_angles, slice_options: dict):
        self.volume, self.frame, self.name = volume, frame, name
        self.can, self.n_angles, self.options = can, n_angles, slice_options
        self.fixed: dict = {}
        self.prior: Can | None = None
        self.centre: tuple[float, float] | None = None
        self.rows: list[dict] = []
        self.dets: list[pd.DataFrame] = []
        self.layers: list = []
        self.quiet = False  # True in the tasks of a parallel run (see _slice)

    def _options(self, z: float) -> dict:
        f = self.fixed
        opts = dict(can=self.can, n_angles=f.get("n_angles", self.n_angles), pitch_um=f.get("pitch_um"),
                    handedness=f.get("handedness"), threshold=f.get("threshold"), z_um=z, **self.options)
        if "centre_yx_um" not in self.options and self.centre is not None:
            # the axis barely moves between slices: start from the last one (no search)
            opts["centre_yx_um"] = self.centre
        return opts

    def _slice(self, sl, z: float) -> CellSlice:
        if self.quiet:  # a task of a parallel run: the caller filters (catch_warnings is not thread-safe)
            return self._analyze(sl, z)
        with warnings.catch_warnings():
            # a cropped can would warn in every slice: its summary column says it once per row
            warnings.simplefilter("ignore", UserWarning)
            return self._analyze(sl, z)

    def _analyze(self, sl, z: float) -> CellSlice:
        opts = self._options(z)
        try:
            return _analyze(sl, can_prior=self.prior, **opts)
        except InputError:
            if self.prior is None:
                raise
            return _analyze(sl, **opts)  # the can moved: search afresh

    def fork(self) -> _SliceRun:
        """A run that starts from this one's fixed parameters, can and axis, with no rows."""
        new = _SliceRun(self.volume, self.frame, self.name, self.can, self.n_angles, self.options)
        new.fixed, new.prior, new.centre = dict(self.fixed), self.prior, self.centre
        new.quiet = True
        return new

    def analyse(self, iz: int, z: float, warn: bool = True) -> None:
        label = f"{self.name} slice {iz} (z = {z:.1f})"
        try:
            data, sl = _read_slice(self.volume, self.frame, iz, label)
            res = self._slice(sl, z)
        except InputError as exc:
            if warn:
                warnings.warn(f"{label}: skipped — {exc}", stacklevel=3)
            self.rows.append({"slice": iz, "z_um": z, "status": f"skipped: {exc}"})
            self.layers.append(None)
            return
        self.prior = res.can
        if res.layers is not None:
            self.centre = (res.layers.centre_y_um, res.layers.centre_x_um)
        if not self.fixed and res.layers is not None:
            self.fixed = {"n_angles": res.layers.angle_rad.size, "pitch_um": res.layers.pitch_um,
                          "handedness": res.layers.handedness}
            if res.can is not None and self.options.get("threshold") is None:
                # the same can/roll split for every slice keeps the can's edges consistent
                self.fixed["threshold"] = _can_threshold(data)
        status = "ok" if res.layers is not None else f"can only: {res.maps.get('no_roll', 'no roll')}"
        self.rows.append({"slice": iz, "status": status, **_um_named(res.summary)})
        d = res.defects.copy()
        d.insert(0, "slice", iz)
        self.dets.append(d)
        # only what maps() needs, as float32: a slice's whole Layers (three float64
        # (turn, angle) arrays and more) kept ~1.1 MB per 2000² slice, a steady growth
        L = res.layers
        self.layers.append(None if L is None else (L.residual_um.astype(np.float32), L.radius_um.astype(np.float32)))

    def maps(self, z: np.ndarray) -> tuple[xr.DataArray, xr.DataArray]:
        """``(z, turn, angle)`` residual and ridge-radius maps, NaN where nothing was tracked."""
        n_turns = max((kept[0].shape[0] for kept in self.layers if kept is not None), default=0)
        n_ang = self.fixed.get("n_angles", 0)
        residual = np.full((len(self.layers), n_turns, n_ang), np.nan, np.float32)
        radius = np.full_like(residual, np.nan)
        for i, kept in enumerate(self.layers):
            if kept is not None and kept[0].shape[1] == n_ang:
                residual[i, : kept[0].shape[0]] = kept[0]
                radius[i, : kept[1].shape[0]] = kept[1]
        coords = {"z": z, "turn": np.arange(n_turns), "angle": np.arange(n_ang) * TWO_PI / max(n_ang, 1)}
        unit = self.frame.unit
        residual_da = xr.DataArray(residual, dims=("z", "turn", "angle"), coords=coords,
                                   name=_named("residual_um", unit),
                                   attrs={"units": _unit_text(unit), "description": "ridge radius minus the fitted spiral"})
        radius_da = xr.DataArray(radius, dims=("z", "turn", "angle"), coords=coords, name=_named("radius_um", unit),
                                 attrs={"units": _unit_text(unit)})
        return residual_da, radius_da


# ------------------------------------------------------------------ linking in 3D


def _peak_z(z: np.ndarray, m: np.ndarray, w: np.ndarray) -> float:
    """Height of a defect: the vertex of a Gaussian fitted to its per-slice magnitude.

    A log-parabola through the slices above half the peak locates the maximum of a
    smooth profile even when one tail is cut by the volume's end; a flat profile (a
    defect as tall as it is uniform) falls back to the weighted centroid.
    """
    if len(z) >= 3:
        sel = m >= 0.5 * m.max()
        if sel.sum() >= 3:
            c2, c1, _ = np.polyfit(z[sel] - z[sel].mean(), np.log(m[sel]), 2)
            if c2 < -1e-12:
                zv = -c1 / (2 * c2) + z[sel].mean()
                if z.min() <= zv <= z.max() and abs(c2) * (np.ptp(z[sel]) / 2) ** 2 > 0.05:
                    return float(zv)
    return float(np.sum(z * w) / np.sum(w))


def link_defects(
    detections: pd.DataFrame,
    voxel_size_um: float | tuple[float, float, float] | str = 1.0,
    *,
    pitch_um: float | None = None,
    max_skip: int = 1,
    min_slices: int = 2,
) -> pd.DataFrame:
    """Link per-slice detections of the same defect into 3D defects.

    Detections of one type in nearby slices (at most ``max_skip`` slices missing in
    between) whose in-plane positions are close (3 voxels for inclusions; for the others
    half a pitch, at least 3 voxels, or the smaller of the two detections' extents) form
    one defect.

    Parameters
    ----------
    detections : DataFrame
        Per-slice detections (:attr:`CellVolume.detections`: ``slice``, ``type``, positions,
        ``magnitude_um``, ``weight``, ...), in µm or with ``_px`` names.
    voxel_size_um : float, (dz, dy, dx) or "px"
        Voxel size in the table's unit (1 for a table in pixels): the linking distance and,
        where ``z_um`` is missing, the slice height.
    pitch_um : float, optional
        Winding pitch (the linking distance of deformations).
    max_skip : int
        Slices a defect may be missed in between two detections.
    min_slices : int
        Detections a deformation needs to be kept (an inclusion needs one).

    Returns
    -------
    DataFrame
        One row per 3D defect: ``defect_id``, ``type``, ``z_um`` (the peak of the
        per-slice magnitude, or the weighted centroid for inclusions), ``y_um``, ``x_um``
        (weighted over the slices near the peak), ``radius_um``, ``angle_rad``, ``turn``,
        ``size_um``, ``magnitude_um`` and ``severity`` (their maxima), ``z_min_um``,
        ``z_max_um``, ``n_slices``, ``detail`` (``_px`` names for a table in pixels).

    Examples
    --------
    >>> import pandas as pd, batteryzoom as bz
    >>> det = pd.DataFrame({"slice": [3, 4, 5, 20], "z_um": [30.0, 40.0, 50.0, 200.0], "type": "gap",
    ...                     "y_um": [100.0, 101.0, 102.0, 400.0], "x_um": [50.0, 50.0, 51.0, 80.0],
    ...                     "radius_um": 1.0, "angle_rad": 0.0, "turn": 3, "size_um": 20.0,
    ...                     "magnitude_um": [2.0, 4.0, 2.0, 9.0], "severity": 0.1, "detail": "",
    ...                     "weight": [2.0, 4.0, 2.0, 9.0]})
    >>> bz.cell.link_defects(det, (10.0, 1.0, 1.0), pitch_um=10.0)[["type", "z_um", "y_um", "n_slices"]]
      type  z_um   y_um  n_slices
    0  gap  40.0  101.0         3
    """
    if not isinstance(detections, pd.DataFrame):
        raise InputError(f"detections: expected the per-slice detections DataFrame "
                         f"(analyze_volume(...).detections), got {type(detections).__name__}")
    unit = _unit_of(detections)
    table = _um_named(detections)
    need = ["slice", "type", "y_um", "x_um", "z_um", "size_um", "magnitude_um", "weight", "severity",
            "radius_um", "angle_rad", "turn", "detail"]
    missing = [c for c in need if c not in table.columns]
    if missing and not table.empty:
        raise InputError(f"detections: missing column(s) {[_named(c, unit) for c in missing]}; pass "
                         "analyze_volume(...).detections")
    vz, _, vxy = frame_of((1, 1, 1), voxel_size_um, name="detections").voxel_size_um
    if pitch_um is not None:
        _check_positive("pitch_um", pitch_um)
    _check_count("max_skip", max_skip, 0)
    _check_count("min_slices", min_slices, 1)
    if table.empty:
        return _in_unit(pd.DataFrame(columns=_LINKED_COLUMNS), unit)
    out = []
    for kind, group in table.groupby("type", sort=False):
        for track in _tracks(table, group, kind, vxy, pitch_um, max_skip):
            d = table.loc[track]
            # a cluster of voxels far brighter than any electrode is unambiguous even in one
            # slice (a small particle may span only one); deformations must persist
            if len(d) >= (1 if kind == "inclusion" else min_slices):
                out.append(_merged(d, kind, vz))
    df = pd.DataFrame(out, columns=_LINKED_COLUMNS[1:])
    df = df.sort_values(["type", "z_um"]).reset_index(drop=True)
    df.insert(0, "defect_id", np.arange(1, len(df) + 1))
    return _in_unit(df, unit)


def _tracks(table: pd.DataFrame, group: pd.DataFrame, kind: str, vxy: float, pitch_um, max_skip: int) -> list[list]:
    """Detections of one type chained slice to slice: each joins the nearest open track whose
    last detection is at most ``max_skip + 1`` slices back and close enough in the plane."""
    base = 3 * vxy if kind == "inclusion" else max(3 * vxy, 0.5 * (pitch_um or 0))
    tracks: list[list] = []
    for idx, row in group.sort_values("slice").iterrows():
        best, best_d = None, np.inf
        for t in tracks:
            last = table.loc[t[-1]]
            if 0 < row.slice - last.slice <= max_skip + 1:
                d = np.hypot(row.y_um - last.y_um, row.x_um - last.x_um)
                # a wide defect's centre wanders where it fades: allow its extent
                tol = base if kind == "inclusion" else max(base, min(row.size_um, last.size_um))
                if d <= tol and d < best_d:
                    best, best_d = t, d
        if best is None:
            tracks.append([idx])
        else:
            best.append(idx)
    return tracks


def _merged(d: pd.DataFrame, kind: str, vz: float) -> dict:
    """One 3D defect from its per-slice detections (µm names)."""
    z = d.z_um.to_numpy(float) if d.z_um.notna().all() else d.slice.to_numpy(float) * vz
    m = d.magnitude_um.to_numpy(float)
    w = np.clip(d.weight.to_numpy(float), 1e-12, None)
    if kind == "inclusion":
        zc = float(np.sum(z * w) / np.sum(w))
        near = np.ones(len(d), bool)
    else:
        zc = _peak_z(z, m, w)
        near = m >= 0.7 * m.max()
    wn = w[near]
    top = d.iloc[int(np.argmax(m))]
    return dict(
        type=kind, z_um=zc,
        y_um=float(np.sum(d.y_um.to_numpy(float)[near] * wn) / wn.sum()),
        x_um=float(np.sum(d.x_um.to_numpy(float)[near] * wn) / wn.sum()),
        radius_um=float(top.radius_um), angle_rad=float(top.angle_rad), turn=top.turn,
        size_um=float(d.size_um.max()), magnitude_um=float(m.max()), severity=float(d.severity.max()),
        z_min_um=float(z.min()), z_max_um=float(z.max()), n_slices=len(d), detail=str(top.detail),
    )
