"""An acquisition to a volume: every step of :mod:`batteryzoom.tomo`, streamed.

:func:`reconstruct` works energy by energy and, within an energy, on blocks of ``chunks``
detector rows (sinograms): each block is read, normalised (flats interpolated in time),
cleaned of zingers and stripes and reconstructed on its own, as one dask task. Blocks run
in waves of about two per worker (threads here, or the workers of a ``dask.distributed``
client when one is active, unchanged), so the memory in use is a few blocks of sinograms
and slices, never the acquisition or the volume; with ``out=`` each task writes its
slices straight into the zarr store (one zarr chunk per block) and the store is renamed
into place at the end (atomic: an interrupted run leaves no partial volume under the
name). Progress bars count the energies prepared (flats, centre) and the slices
reconstructed.

Steps that need whole projections (Paganin phase retrieval couples the rows; jitter
correction shifts projections vertically) first *stage* one energy's optical densities,
projection block by projection block, into a temporary zarr store (in memory when the
acquisition is), then the row blocks are read from there.

The rotation centre, when not given, is found per energy on ``centre_rows`` rows with the
same preprocessing as the blocks (:func:`batteryzoom.tomo.find_centre_rows`; Vo's method
for 180° scans, the overlap method for 360° ones); a tilted axis (a slope 3 standard
errors from zero) gets one centre per row from the fitted line, an upright one the line's
value at each row too (the slope is then within noise of zero).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import _blocks
from .._blocks import is_dask
from .._progress import progress as _progress
from ..errors import InputError
from ..frames import Frame
from ..io.acquisition import check_acquisition
from .centre import CentreFit, _fit_line, find_centre_rows
from .normalize import References, check_flats, normalize_block, references
from .outliers import remove_outliers
from .phase import paganin
from .reconstruction import METHODS, FILTERS, reconstruct_slices, scan_type
from .rings import remove_stripes

__all__ = ["reconstruct", "WRITTEN_BY", "written_by_us", "parameters_json"]

#: marks a store (and its JSON) as written by :func:`reconstruct`: only those are replaced
WRITTEN_BY = "batteryzoom.tomo.reconstruct"
_VAR = "volume"


@dataclass
class _Plan:
    """What every block task needs (pickled to workers: small things only)."""

    angles: np.ndarray
    method: str
    filter_name: str
    rings: dict | None
    outliers: float | None
    scan: str
    size: int
    iterations: int
    scale: float  # divide 1/px by this to get the output unit
    store: str | None = None
    extra: dict = field(default_factory=dict)


def written_by_us(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a zarr store or JSON file :func:`reconstruct` wrote."""
    p = Path(path)
    try:
        if p.is_dir():
            meta = {}
            for name in ("zarr.json", ".zattrs"):
                if (p / name).is_file():
                    meta = json.loads((p / name).read_text())
                    break
            attrs = meta.get("attributes", meta)
            return attrs.get("written_by") == WRITTEN_BY
        if p.is_file() and p.suffix == ".json":
            return json.loads(p.read_text()).get("written_by") == WRITTEN_BY
    except (OSError, ValueError, AttributeError):
        return False
    return False


def _check_target(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not written_by_us(out):
        raise InputError(f"{out}: exists and was not written by batteryzoom's reconstruct; it is left "
                         "untouched. Choose another output path, or move that one away yourself")
    if not overwrite:
        raise InputError(f"{out}: a volume from an earlier reconstruct is there; pass overwrite=True "
                         "(--overwrite) to replace it, or choose another path")


def _rows(rows: Any, nrow: int) -> tuple[int, int]:
    if rows is None:
        return 0, nrow
    if isinstance(rows, slice):
        r0, r1, step = rows.indices(nrow)
        if step != 1:
            raise InputError(f"rows={rows!r}: give a contiguous range (step 1)")
    else:
        r0, r1 = (int(v) for v in rows)
    if not 0 <= r0 < r1 <= nrow:
        raise InputError(f"rows={rows!r}: the detector has rows 0 … {nrow - 1}; give (first, stop) with "
                         "first < stop")
    return r0, r1


def _energy_count(acq: xr.Dataset) -> int:
    return acq.sizes["energy"] if "energy" in acq.projections.dims else 1


def _projections(acq: xr.Dataset, e: int) -> Any:
    p = acq.projections.data
    return p[e] if p.ndim == 4 else p


# --- preprocessing of one block of detector rows ------------------------------------------

def _preprocess(raw: Any, refs: References | None, plan: _Plan) -> np.ndarray:
    """Optical densities ``(angle, rows, col)`` of a block (``refs`` of its rows only),
    zingers and stripes removed."""
    if refs is None:  # staged: already optical density, zingers removed
        od = np.asarray(raw, dtype=np.float32)
    else:
        od = normalize_block(raw, refs)
        if plan.outliers is not None:
            od = remove_outliers(od, threshold=plan.outliers)
    if plan.rings is not None:
        od = remove_stripes(od, **plan.rings)
    return od


class _Failed:
    """What a task returns instead of raising (see :func:`_settled`)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _settled(task: Any, *args: Any) -> Any:
    """Run ``task(*args)``; an exception comes back as a :class:`_Failed` value.

    dask's schedulers re-raise a task's error at once while the wave's other tasks still
    run and write into the temporary store: removing that store then races their writes
    (a half-removed ``.tmp`` folder left behind). Returning the error lets the whole wave
    finish before it is raised.
    """
    try:
        return task(*args)
    except Exception as error:  # noqa: BLE001 - re-raised by the caller, unchanged
        return _Failed(error)


def _block_task(raw: Any, refs: References | None, r0: int, r1: int, centres: np.ndarray, plan: _Plan,
                e: int, z0: int) -> np.ndarray | None:
    """Reconstruct rows ``r0:r1`` of energy ``e`` (one dask task); write them at slice
    ``z0`` of the store when there is one, else return them ``(rows, n, n)``."""
    od = _preprocess(raw, refs, plan)
    kw = dict(method=plan.method, filter_name=plan.filter_name, scan=plan.scan, size=plan.size,
              iterations=plan.iterations)
    if np.ptp(centres) <= 0.01:
        vol = reconstruct_slices(od, plan.angles, float(np.mean(centres)), **kw)
        vol = vol if vol.ndim == 3 else vol[None]
    else:  # a tilted axis: each row its own centre
        vol = np.stack([reconstruct_slices(od[:, j], plan.angles, float(c), **kw) for j, c in enumerate(centres)])
    vol = (vol / np.float32(plan.scale)).astype(np.float32)
    if plan.store is None:
        return vol
    import zarr

    arr = zarr.open_array(str(Path(plan.store) / _VAR), mode="r+")
    if arr.ndim == 4:
        arr[e, z0:z0 + vol.shape[0]] = vol
    else:
        arr[z0:z0 + vol.shape[0]] = vol
    return None


def _slice_refs(refs: References | None, rows: slice) -> References | None:
    """The references of a block's rows only (what a task ships to a worker)."""
    if refs is None or refs.normalized:
        return refs
    return dataclasses.replace(refs, flats=refs.flats[:, rows], dark=None if refs.dark is None else refs.dark[rows],
                               dead=refs.dead[rows])


# --- staging (phase retrieval, jitter) ----------------------------------------------------

def _stage(acq: xr.Dataset, e: int, refs: References, plan: _Plan, phase: dict | None, jitter: dict | None,
           tmp: Path | None, angle_block: int = 16) -> tuple[Any, dict]:
    """One energy's optical densities, whole projections (zingers removed, Paganin and
    jitter applied), in memory or in a temporary zarr store under ``tmp``."""
    raw = _projections(acq, e)
    n_angle, nrow, ncol = raw.shape
    info: dict = {}
    if tmp is None:
        staged: Any = np.empty((n_angle, nrow, ncol), np.float32)
    else:
        import zarr

        staged = zarr.create_array(str(tmp / f"staged-{e}"), shape=(n_angle, nrow, ncol), dtype="f4",
                                   chunks=(angle_block, min(nrow, 16), ncol), overwrite=True)
    pixel = acq.attrs.get("pixel_size_um")
    energy_ev = float(acq.energy.values[e]) if "energy" in acq.projections.dims else acq.attrs.get("energy_ev")
    for a0 in range(0, n_angle, angle_block):
        a1 = min(a0 + angle_block, n_angle)
        od = normalize_block(raw[a0:a1], refs, angles=slice(a0, a1)) if refs is not None else \
            np.asarray(raw[a0:a1], np.float32)
        if plan.outliers is not None and refs is not None and od.shape[0] >= 3:
            od = remove_outliers(od, threshold=plan.outliers)
        if phase is not None:
            od = paganin(np.exp(-od), energy_ev=phase.get("energy_ev", energy_ev),
                         pixel_size_um=phase.get("pixel_size_um", pixel),
                         **{k: v for k, v in phase.items() if k not in ("energy_ev", "pixel_size_um")})
        staged[a0:a1] = od
    if jitter is not None:
        info = _stage_jitter(staged, plan, jitter, angle_block)
    return staged, info


def _stage_jitter(staged: Any, plan: _Plan, jitter: dict, angle_block: int) -> dict:
    from .jitter import estimate_jitter, shift_projections

    nrow = staged.shape[1]
    band = min(nrow, int(jitter.get("rows", 48)))
    b0 = (nrow - band) // 2
    sub = np.asarray(staged[:, b0:b0 + band], np.float32)
    centre = jitter["centre"]
    res = estimate_jitter(sub, plan.angles, centre, iterations=int(jitter.get("iterations", 10)))
    for a0 in range(0, staged.shape[0], angle_block):
        a1 = min(a0 + angle_block, staged.shape[0])
        staged[a0:a1] = shift_projections(np.asarray(staged[a0:a1]), -res.shifts_px[a0:a1])
    return {"jitter_rms_px": float(np.sqrt(np.mean(res.shifts_px ** 2))), "jitter_rounds": res.iterations,
            "jitter_shifts_px": np.round(res.shifts_px, 4).tolist()}


# --- centres --------------------------------------------------------------------------------

def _centres(centre: Any, n_energy: int, ncol: int) -> list[Any] | None:
    """The caller's centre, one entry per energy (float or CentreFit), or None to find."""
    if centre is None:
        return None
    if isinstance(centre, CentreFit) or np.ndim(centre) == 0:
        values = [centre] * n_energy
    else:
        values = list(centre)
        if len(values) != n_energy:
            raise InputError(f"centre: {len(values)} values for {n_energy} energies; give one centre, or one "
                             "per energy")
    for v in values:
        c = v.centre_at([0, ncol]) if isinstance(v, CentreFit) else np.array([float(v)])
        if not np.all(np.isfinite(c)) or float(np.min(c)) < 0 or float(np.max(c)) > ncol - 1:
            if isinstance(v, CentreFit):
                continue  # a line may leave the detector beyond the rows used; checked per row
            raise InputError(f"centre={v!r} px is outside the detector (0 … {ncol - 1} px); give the rotation "
                             "axis in detector columns, or centre=None to find it")
    return values


def _find_centre(source: Any, refs: References | None, r0: int, r1: int, plan: _Plan, count: int,
                 search_px: Any) -> CentreFit:
    rows = np.unique(np.round(np.linspace(r0 + 0.1 * (r1 - r0 - 1), r0 + 0.9 * (r1 - r0 - 1),
                                          max(1, min(count, r1 - r0)))).astype(int))
    blocks = [_preprocess(np.asarray(source[:, r:r + 1, :]), _slice_refs(refs, slice(r, r + 1)), plan)
              for r in rows]
    od = np.concatenate(blocks, axis=1)
    fit = find_centre_rows(od, plan.angles, rows=np.arange(rows.size), search_px=search_px,
                           where="acquisition (centre rows)")
    return _fit_line(rows, fit.centres_px, fit.uncertainties_px, fit.method)  # on detector rows


def _row_centres(c: Any, r0: int, r1: int) -> np.ndarray:
    rows = np.arange(r0, r1)
    if isinstance(c, CentreFit):
        if not c.tilted:
            w = 1 / np.maximum(c.uncertainties_px, 1e-3) ** 2
            return np.full(rows.size, float(np.average(c.centres_px, weights=w)))
        return c.centre_at(rows)
    return np.full(rows.size, float(c))


# --- output ---------------------------------------------------------------------------------

def _frame(acq: xr.Dataset, r0: int, r1: int, n: int) -> Frame:
    px = acq.attrs.get("pixel_size_um")
    if px is None:
        return Frame(voxel_size_um=(1.0,) * 3, origin_um=(float(r0), -(n - 1) / 2, -(n - 1) / 2),
                     dims=("z", "y", "x"), unit="px")
    z0 = float(np.asarray(acq.row.values)[r0]) if "row" in acq.coords else r0 * px
    return Frame(voxel_size_um=(float(px),) * 3, origin_um=(z0, -(n - 1) / 2 * px, -(n - 1) / 2 * px),
                 dims=("z", "y", "x"))


def _skeleton(acq: xr.Dataset, frame: Frame, nz: int, n: int, chunks: int, attrs: dict) -> xr.DataArray:
    import dask.array as da

    multi = "energy" in acq.projections.dims
    shape = ((acq.sizes["energy"],) if multi else ()) + (nz, n, n)
    chunk = ((1,) if multi else ()) + (chunks, n, n)
    coords: dict[str, Any] = {d: (d, v, {"units": "um" if frame.known else "px"})
                              for d, v in frame.coords((nz, n, n)).items()}
    if multi:
        coords["energy"] = ("energy", np.asarray(acq.energy.values, np.float64), {"units": "eV"})
    dims = (("energy",) if multi else ()) + ("z", "y", "x")
    return xr.DataArray(da.zeros(shape, chunks=chunk, dtype=np.float32), dims=dims, coords=coords, name=_VAR,
                        attrs=attrs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _publish(tmp: Path, final: Path) -> None:
    """Move ``tmp`` to ``final``; a store of ours already there is replaced."""
    aside = None
    if final.exists():
        aside = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(final, aside)
    os.rename(tmp, final)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _workers() -> tuple[Any, int]:
    """The active ``dask.distributed`` client and its thread count, or None and the cores."""
    client = _blocks.distributed_client()
    if client is not None:
        return client, max(1, sum(client.nthreads().values()))
    return None, _blocks.n_threads()


# --- the entry point -----------------------------------------------------------------------

def reconstruct(
    acquisition: xr.Dataset,
    *,
    centre: Any = None,
    method: str = "fbp",
    filter_name: str = "ramp",
    rings: bool | dict = True,
    outliers: bool | float = True,
    phase: dict | None = None,
    jitter: bool | dict = False,
    rows: Any = None,
    scan: str = "auto",
    size: int | None = None,
    iterations: int = 100,
    centre_rows: int = 5,
    centre_search_px: tuple[float, float] | None = None,
    chunks: int = 16,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
) -> xr.DataArray:
    """Reconstruct an acquisition into a volume (module docstring: streaming, centres).

    Parameters
    ----------
    acquisition : xarray.Dataset
        Raw or normalised acquisition (:mod:`batteryzoom.io.acquisition`), numpy or dask
        backed (e.g. ``xarray.open_zarr``: then only blocks are ever read).
    centre : float, sequence of float (one per energy), CentreFit or None
        Rotation axis in detector columns (px); None finds it per energy.
    method : {"fbp", "gridding", "fourier", "sirt", "iradon"}
        :func:`batteryzoom.tomo.reconstruct_slices`.
    filter_name : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
    rings : bool or dict
        Stripe removal (:func:`batteryzoom.tomo.remove_stripes`; a dict gives its keywords).
    outliers : bool or float
        Zinger removal (:func:`batteryzoom.tomo.remove_outliers`; a float is its threshold).
    phase : dict, optional
        Paganin phase retrieval: ``{"delta_beta": ..., "distance_m": ...}`` (energy and
        pixel size from the acquisition unless given as ``energy_ev``/``pixel_size_um``).
    jitter : bool or dict
        Estimate and correct projection jitter (:func:`batteryzoom.tomo.estimate_jitter`)
        on a band of ``rows`` (48) middle rows, ``iterations`` (10) rounds.
    rows : slice or (first, stop), optional
        Detector rows to reconstruct (default all).
    scan : {"auto", "180", "360"}
        :func:`batteryzoom.tomo.reconstruction.scan_type`.
    size : int, optional
        Slice width (px); default the detector width (180°) or the folded width (360°).
    iterations : int
        SIRT iterations.
    centre_rows : int
        Rows measured per energy when the centre is found.
    centre_search_px : (float, float), optional
        Where to search the centre (px); default the middle half of the detector.
    chunks : int
        Detector rows per block (and slices per zarr chunk).
    out : path, optional
        Write the volume to this zarr store (atomically) and return it opened lazily.
    overwrite : bool
        Replace a store an earlier call wrote (never anything else).
    progress : bool, optional
        Show the progress bar (default: ``BATTERYZOOM_PROGRESS``).

    Returns
    -------
    xarray.DataArray, float32, (z, y, x) or (energy, z, y, x)
        Linear attenuation coefficient in 1/µm (1/px when the pixel size is unknown; then
        the coordinates are in px), ``z`` the detector row positions, ``y``/``x`` centred
        on the rotation axis (0 µm); ``attrs``: the frame (``voxel_size_um``), ``units``,
        ``centre_px`` (per energy; per row when tilted) and every parameter used.

    Raises
    ------
    InputError
        A bad acquisition (flats without signal or saturated, angles and projections of
        different lengths), a centre outside the detector, a 360° scan treated as 180°,
        an unknown method, an output path that exists and is not ours.

    Examples
    --------
    >>> import numpy as np
    >>> import batteryzoom as bz
    >>> from batteryzoom.io.acquisition import make_acquisition
    >>> yy, xx = np.mgrid[-24:25, -24:25]
    >>> slab = (np.hypot(yy, xx - 4) < 14).astype(np.float32) * 0.02  # 1/px
    >>> angles = np.arange(0, 180, 2.0)
    >>> line = bz.tomo.project(np.stack([slab] * 4), angles, 24.0, 49)  # (angle, row, col)
    >>> acq = make_acquisition(1e4 * np.exp(-line), angles, flats=np.full((1, 4, 49), 1e4),
    ...                        angle_unit="deg", pixel_size_um=0.5)
    >>> vol = bz.tomo.reconstruct(acq, centre=24.0, rings=False, progress=False)
    >>> vol.dims, vol.shape, vol.attrs["units"], round(float(vol[0, 24, 28]), 2)  # 0.02/px = 0.04/µm
    (('z', 'y', 'x'), (4, 49, 49), '1/um', 0.04)
    """
    acq = check_acquisition(acquisition, "acquisition")
    if method not in METHODS:
        raise InputError(f"method={method!r}: choose one of {METHODS}")
    if filter_name not in FILTERS:
        raise InputError(f"filter_name={filter_name!r}: choose one of {FILTERS}")
    if int(chunks) < 1:
        raise InputError(f"chunks={chunks!r}: give a positive number of detector rows per block")
    check_flats(acq)
    angles = np.asarray(acq.angle.values, np.float64)
    kind = scan_type(angles, scan, where=f"{acq.attrs.get('source_path') or 'acquisition'}: angles")
    n_energy = _energy_count(acq)
    nrow, ncol = acq.sizes["row"], acq.sizes["col"]
    r0, r1 = _rows(rows, nrow)
    given = _centres(centre, n_energy, ncol)
    px = acq.attrs.get("pixel_size_um")
    if phase is not None:
        phase = dict(phase)
        missing = [k for k in ("delta_beta", "distance_m") if k not in phase]
        if missing or (px is None and "pixel_size_um" not in phase):
            raise InputError(f"phase={phase!r}: Paganin needs delta_beta, distance_m and a pixel size "
                             "(the acquisition's pixel_size_um or phase['pixel_size_um'])")
    plan = _Plan(angles=angles, method=method, filter_name=filter_name,
                 rings=None if rings is False else ({} if rings is True else dict(rings)),
                 outliers=None if outliers is False else (6.0 if outliers is True else float(outliers)),
                 scan=kind, size=0, iterations=int(iterations), scale=float(px) if px else 1.0)
    run = _Run(acq, plan, r0, r1, int(chunks), given, phase,
               None if jitter is False else ({} if jitter is True else dict(jitter)),
               int(centre_rows), centre_search_px, size, progress)
    return run.execute(Path(out) if out is not None else None, overwrite)


class _Run:
    """One call of :func:`reconstruct`: energies, blocks, waves, output."""

    def __init__(self, acq, plan, r0, r1, chunks, given, phase, jitter, centre_rows, search_px, size, progress):
        self.acq, self.plan, self.r0, self.r1, self.chunks = acq, plan, r0, r1, chunks
        self.given, self.phase, self.jitter = given, phase, jitter
        self.centre_rows, self.search_px, self.size, self.progress = centre_rows, search_px, size, progress
        self.n_energy = _energy_count(acq)
        self.client, self.workers = _workers()
        self.fits: list[Any] = []
        self.extra: list[dict] = []

    def _grid(self, centres: list[np.ndarray]) -> int:
        ncol = self.acq.sizes["col"]
        if self.size is not None:
            return int(self.size)
        if self.plan.scan == "360":
            r = max(max(float(c.max()), ncol - 1 - float(c.min())) for c in centres)
            return 2 * int(math.ceil(r - 1e-6)) + 1
        return ncol

    def execute(self, out: Path | None, overwrite: bool) -> xr.DataArray:
        if out is not None:
            _check_target(out, overwrite)
        staging = self.phase is not None or self.jitter is not None
        tmp_stage = None
        if staging and is_dask(_projections(self.acq, 0)):  # stage on disk what is on disk
            tmp_stage = Path(tempfile.mkdtemp(prefix=".bz-tomo-stage-", dir=(out.parent if out else None)))
        tmp_out = None
        try:
            energies = _progress(range(self.n_energy), "flats and centres", total=self.n_energy,
                                 enabled=self.progress, unit="energy")
            prepared = [self._prepare(e, tmp_stage) for e in energies]
            # prepared: (source, refs, row centres) per energy; the grid needs every centre
            self.plan.size = self._grid([p[2] for p in prepared])
            attrs = self._attrs()
            frame = _frame(self.acq, self.r0, self.r1, self.plan.size)
            skeleton = _skeleton(self.acq, frame, self.r1 - self.r0, self.plan.size, self.chunks, attrs)
            if out is not None:
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp_out = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                ds = skeleton.to_dataset()
                ds.attrs["written_by"] = WRITTEN_BY  # the store's own mark (written_by_us)
                ds.to_zarr(tmp_out, compute=False, mode="w", consolidated=False)
                self.plan.store = str(tmp_out)
            blocks = self._run_blocks(prepared)
            if out is None:
                data = np.concatenate(blocks, axis=-3) if self.n_energy == 1 else \
                    np.stack([np.concatenate(b, axis=0) for b in blocks])
                return skeleton.copy(data=data)
            _publish(tmp_out, out)
            tmp_out = None
            return xr.open_zarr(out, consolidated=False)[_VAR]
        finally:
            if tmp_out is not None:
                shutil.rmtree(tmp_out, ignore_errors=True)
            if tmp_stage is not None:
                shutil.rmtree(tmp_stage, ignore_errors=True)

    def _prepare(self, e: int, tmp_stage: Path | None) -> tuple[Any, References | None, np.ndarray]:
        """Energy ``e``: its source of blocks (raw or staged), references, row centres."""
        refs = references(self.acq, e if self.n_energy > 1 else None)
        source = _projections(self.acq, e)
        c = self.given[e] if self.given is not None else None
        extra: dict = {}
        if self.phase is not None or self.jitter is not None:
            if self.jitter is not None:
                if c is None:  # jitter is measured about a centre: found on the raw data first
                    c = _find_centre(source, refs, self.r0, self.r1, self.plan, self.centre_rows, self.search_px)
                self.jitter["centre"] = float(np.mean(_row_centres(c, self.r0, self.r1)))
            source, extra = _stage(self.acq, e, refs, self.plan, self.phase, self.jitter, tmp_stage)
            refs = None
        if c is None:
            c = _find_centre(source, refs, self.r0, self.r1, self.plan, self.centre_rows, self.search_px)
        self.fits.append(c)
        self.extra.append(extra)
        return source, refs, _row_centres(c, self.r0, self.r1)

    def _tasks(self, e: int, source: Any, refs: References | None, centres: np.ndarray) -> Iterator[tuple]:
        import dask

        for b0 in range(self.r0, self.r1, self.chunks):
            b1 = min(b0 + self.chunks, self.r1)
            rows = slice(b0, b1)
            block = source[:, b0:b1, :]
            task = dask.delayed(_settled, pure=False)(_block_task, block, _slice_refs(refs, rows), b0, b1,
                                                          centres[b0 - self.r0:b1 - self.r0], self.plan, e,
                                                          b0 - self.r0)
            yield task, b1 - b0

    def _run_blocks(self, prepared: list) -> list:
        import dask

        results: list[list] = [[] for _ in prepared]
        wave = max(2, 2 * self.workers)
        total = self.n_energy * (self.r1 - self.r0)
        desc = f"reconstructing {self.n_energy} energ{'y' if self.n_energy == 1 else 'ies'} × " \
               f"{self.r1 - self.r0} slices"

        def run() -> Iterator[None]:
            for e, (source, refs, centres) in enumerate(prepared):
                tasks = list(self._tasks(e, source, refs, centres))
                for i in range(0, len(tasks), wave):
                    batch = tasks[i:i + wave]
                    done = dask.compute(*[t for t, _ in batch])
                    failed = [d for d in done if isinstance(d, _Failed)]
                    if failed:  # raised only now that every task of the wave has stopped writing
                        raise failed[0].error
                    results[e].extend(done)
                    for _, k in batch:
                        yield from (None for _ in range(k))

        for _ in _progress(run(), desc, total=total, enabled=self.progress, unit="slice"):
            pass
        return results[0] if self.n_energy == 1 else results

    def _attrs(self) -> dict:
        p = self.plan
        centre_px = [float(np.mean(_row_centres(c, self.r0, self.r1))) for c in self.fits]
        fits = [c.as_attrs() if isinstance(c, CentreFit) else {"centre_px": float(c), "centre_method": "given"}
                for c in self.fits]
        params = {"method": p.method, "filter_name": p.filter_name, "scan": p.scan, "size_px": p.size,
                  "rings": p.rings, "outliers_threshold_sigma": p.outliers, "phase": self.phase,
                  "jitter": None if self.jitter is None else {k: v for k, v in self.jitter.items() if k != "centre"},
                  "sirt_iterations": p.iterations if p.method == "sirt" else None, "rows": [self.r0, self.r1],
                  "chunks_rows": self.chunks, "centre_rows": self.centre_rows,
                  "centre_search_px": self.search_px}
        px = self.acq.attrs.get("pixel_size_um")
        refs_how = references(self.acq, 0 if self.n_energy > 1 else None).description
        attrs = {
            "written_by": WRITTEN_BY,
            "quantity": "linear attenuation coefficient" if self.phase is None else
                        "linear attenuation coefficient after Paganin phase retrieval",
            "units": "1/um" if px else "1/px",
            "centre_px": centre_px[0] if self.n_energy == 1 else centre_px,
            "centre_fits": fits[0] if self.n_energy == 1 else fits,
            "reconstruction": params,
            "normalization": refs_how,
            "source_path": self.acq.attrs.get("source_path"),
            "format": self.acq.attrs.get("format"),
            "energy_ev": self.acq.attrs.get("energy_ev"),
            "angle_unit_source": self.acq.attrs.get("angle_unit_source"),
        }
        if any(self.extra):
            attrs["staging"] = self.extra[0] if self.n_energy == 1 else self.extra
        px_frame = _frame(self.acq, self.r0, self.r1, p.size)
        attrs.update(px_frame.attrs())
        return _jsonable(attrs)


def parameters_json(volume: xr.DataArray) -> str:
    """The centre(s) and parameters of a reconstructed volume as JSON (what the
    ``batteryzoom reconstruct`` command writes beside the store)."""
    keys = ("written_by", "quantity", "units", "centre_px", "centre_fits", "reconstruction", "normalization",
            "source_path", "format", "energy_ev", "angle_unit_source", "voxel_size_um", "staging")
    body = {k: volume.attrs.get(k) for k in keys if k in volume.attrs}
    body["shape"] = dict(zip(volume.dims, (int(s) for s in volume.shape)))
    return json.dumps(_jsonable(body), indent=2)

