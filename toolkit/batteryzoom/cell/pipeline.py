"""The cell scale in one call: what the report and notebook 02 compute from a cell CT volume.

:func:`cell_pipeline` analyses the volume slice by slice (:func:`analyze_volume`), takes the
medians of the spiral and the can over the analysed slices, lists the 3D defects, scores them
against planted ones when a truth is given (:func:`score_defects`), locates the most severe
inclusion in the cell's frame (the likely path of a self-discharging cell's leakage: where the
zoom goes next) and analyses the slice through it on its own (for its figure). A number the
report and a notebook print for the cell comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..frames import frame_of
from ._slice import _in_unit, _um_named
from .analysis import CellSlice, _analyze
from .defects import score_defects
from .volume import CellVolume, _read_slice, analyze_volume

__all__ = ["CellFindings", "cell_pipeline"]


@dataclass
class CellFindings:
    """The findings of the cell scale (see :func:`cell_pipeline`).

    Lengths are µm in the volume's own frame, or pixels when analysed with
    ``voxel_size_um="px"`` (``length_unit``; the names then end in ``_px``).

    Attributes
    ----------
    volume : CellVolume
        The slice-by-slice analysis (per-slice summary, detections, 3D defects, maps).
    summary : dict
        The headline numbers: ``n_slices``, ``n_slices_analysed``; medians over the analysed
        slices ``n_windings``, ``pitch_um``, ``can_diameter_um``; ``n_defects`` and
        ``defect_kinds`` (e.g. ``"buckling, gap ×2"``); with a truth ``n_planted``,
        ``n_found`` (within the tolerance), ``n_false_alarms``; with an inclusion its
        position ``inclusion_z_um``, ``inclusion_y_um``, ``inclusion_x_um``, its
        ``inclusion_size_um``, ``inclusion_radius_um`` (from the axis) and
        ``inclusion_angle_deg``; ``focus_z_um``, the height of :attr:`focus`.
    score : DataFrame or None
        :func:`score_defects` of the 3D defects against the truth (None without one).
    inclusion : Series or None
        The most severe inclusion (a row of :attr:`defects`), None if none was found.
    focus : CellSlice or None
        The slice through that inclusion (else the middle slice) analysed on its own.
    focus_index : int
        Its index in the volume.
    length_unit : {"um", "px"}
        The unit of every length.
    """

    volume: CellVolume
    summary: dict
    score: pd.DataFrame | None
    inclusion: pd.Series | None
    focus: CellSlice | None
    focus_index: int
    length_unit: str = "um"

    @property
    def defects(self) -> pd.DataFrame:
        """The 3D defects (:attr:`CellVolume.defects`)."""
        return self.volume.defects


def cell_pipeline(
    volume: Any,
    voxel_size_um: float | tuple[float, float, float] | str | None = None,
    *,
    truth: pd.DataFrame | None = None,
    tolerance_voxels: float = 2.0,
    slices: Any = None,
    can: bool = True,
    focus: bool = True,
    progress: bool | None = None,
) -> CellFindings:
    """Windings, pitch, can, 3D defects and the inclusion's position of a cell CT volume.

    Parameters
    ----------
    volume : DataArray or array (z, y, x)
        The cell CT (a dask-backed volume is read slice by slice).
    voxel_size_um : float, (dz, dy, dx) or "px", optional
        Voxel size (µm); default the volume's (:func:`batteryzoom.frames.frame_of`). An
        unknown size raises; ``"px"`` measures in voxels.
    truth : DataFrame, optional
        Planted defects (``type``, ``z_um``, ``y_um``, ``x_um``, e.g. the twin's ``defects``
        part) to score the found ones against.
    tolerance_voxels : float
        A found defect matches a planted one within this many voxels (of the largest side).
    slices : slice or sequence of int, optional
        Which slices to analyse (default all).
    can : bool
        Look for the can (see :func:`analyze_slice`).
    focus : bool
        Analyse the slice through the inclusion (or the middle one) on its own.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    CellFindings

    Raises
    ------
    InputError
        An unknown voxel size; no slice with a wound roll.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> ct = bz.data.load("twin/cell-ct")
    >>> found = bz.cell.cell_pipeline(ct, slices=slice(31, 33), progress=False)  # z = 775, 800 µm
    >>> s = found.summary
    >>> round(s["n_windings"], 1), round(s["pitch_um"]), round(s["can_diameter_um"]), s["defect_kinds"]
    (22.0, 290, 17989, 'buckling, dent, inclusion')
    >>> [round(s[f"inclusion_{axis}_um"]) for axis in "zyx"], found.focus_index
    ([787, 9187, 14181], 31)
    """
    res = analyze_volume(volume, voxel_size_um, slices=slices, can=can, progress=progress)
    frame = frame_of(volume, voxel_size_um, ndim=3)
    summary = _um_named(res.summary)
    ok = summary[summary["status"] == "ok"]
    if ok.empty:
        raise InputError(f"cell volume {getattr(volume, 'attrs', {}).get('source', '')}: no slice could be analysed "
                         f"({summary['status'].iloc[0]})")
    defects = _um_named(res.defects)
    numbers: dict = {
        "n_slices": len(summary), "n_slices_analysed": len(ok),
        "n_windings": float(ok["n_windings"].median()), "pitch_um": float(ok["pitch_um"].median()),
        "can_diameter_um": float(ok["can_diameter_um"].median()) if "can_diameter_um" in ok else np.nan,
        "n_defects": len(defects), "defect_kinds": _kinds(defects),
    }
    score = None
    if truth is not None:
        score = score_defects(res.defects, truth, tolerance_um=tolerance_voxels * max(frame.voxel_size_um))
        numbers.update(n_planted=len(truth), n_found=int((score["status"] == "found").sum()),
                       n_false_alarms=int((score["status"] == "false alarm").sum()))
    inclusions = defects[defects["type"] == "inclusion"].sort_values("severity", ascending=False)
    inclusion = inclusions.iloc[0] if len(inclusions) else None
    z_all = frame.coords(volume.shape)["z"]
    focus_z = float(z_all[len(z_all) // 2])
    if inclusion is not None:
        numbers.update({f"inclusion_{axis}_um": float(inclusion[f"{axis}_um"]) for axis in "zyx"})
        numbers.update(inclusion_size_um=float(inclusion["size_um"]), inclusion_radius_um=float(inclusion["radius_um"]),
                       inclusion_angle_deg=float(np.degrees(inclusion["angle_rad"])))
        focus_z = float(inclusion["z_um"])
    iz = int(np.argmin(np.abs(z_all - focus_z)))
    numbers["focus_z_um"] = float(z_all[iz])
    one = _focus_slice(volume, frame, iz, float(z_all[iz]), can) if focus else None
    return CellFindings(volume=res, summary=_in_unit(numbers, frame.unit), score=score,
                        inclusion=None if inclusion is None else _in_unit(inclusions, frame.unit).iloc[0],
                        focus=one, focus_index=iz, length_unit=frame.unit)


def _kinds(defects: pd.DataFrame) -> str:
    """``"buckling, dent, gap ×2"``: the defect types found, each with its count if above one."""
    counts = defects["type"].value_counts().sort_index()
    return ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in counts.items())


def _focus_slice(volume, frame, iz: int, z: float, can: bool) -> CellSlice:
    name = f"{getattr(volume, 'attrs', {}).get('source') or 'volume'} slice {iz}"
    return _analyze(_read_slice(volume, frame, iz, name)[1], can=can, z_um=z)
