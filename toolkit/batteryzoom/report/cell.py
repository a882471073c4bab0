"""The report's cell scale: ``bz.cell.cell_pipeline`` turned into findings, prose and figures.

Windings, pitch, can, the 3D defects (scored against the twin's planted ones) and where the
inclusion is, in the cell's frame: the pipeline computes them; here they are shown.
"""

from __future__ import annotations

from typing import Any

from ._levels import level_figure
from .results import Collector
from .sources import Source

__all__ = ["run"]


def _um_keys(numbers: Any) -> dict:
    """The pipeline's numbers under their µm names (a voxel frame names them ``_px``);
    the unit shown beside each is the pipeline's ``length_unit``."""
    return {str(k).replace("_px", "_um"): v for k, v in dict(numbers).items()}


def run(source: Source, s: Collector, ctx: dict) -> None:
    """Findings, figures and text of the cell scale into ``s``."""
    import numpy as np

    from ..cell import cell_pipeline
    from ..frames import frame_of
    from ..plots import cell as pcell

    d = source.load("cell")
    vol = d["volume"]
    truth = source.truth("cell")
    zoom_fig = level_figure(source, "cell", vol, "Cell CT slice and the electrode region")
    t_def = truth.get("defects")
    # a volume of unknown voxel size is measured in voxels, and says so (bz.frames' policy)
    voxel = "px" if frame_of(vol, missing="px").unit == "px" else None
    found = cell_pipeline(vol, voxel, truth=t_def, tolerance_voxels=2.0)
    n = _um_keys(found.summary)
    spiral = truth.get("spiral", {})
    unit = "µm" if found.length_unit == "um" else "px"
    s.finding("windings (median over slices)", n["n_windings"], "", spiral.get("n_windings"),
              fmt=".1f", note=f"{n['n_slices_analysed']} of {n['n_slices']} slices analysed")
    s.finding("winding pitch", n["pitch_um"], unit, spiral.get("pitch_um"), fmt=".1f")
    s.finding("can diameter", n["can_diameter_um"], unit, spiral.get("can_outer_diameter_um"), fmt=".0f")
    kinds = n["defect_kinds"]
    s.finding("defects found (3D, linked across slices)", n["n_defects"], "", None if t_def is None else len(t_def),
              note=kinds or "none")
    if t_def is not None:
        s.finding("planted defects found within 2 voxels", n["n_found"], "", len(t_def),
                  note=f"{n['n_false_alarms']} false alarm(s)")
        s.values["defects_found"] = n["n_found"]
    where = "no inclusion found"
    if found.inclusion is not None:
        inc = _um_keys(found.inclusion)
        is_inc = None if t_def is None else t_def["type"] == "inclusion"
        t_inc = t_def[is_inc].iloc[0] if is_inc is not None and is_inc.any() else None
        for axis in ("z", "y", "x"):
            s.finding(f"inclusion position {axis} (cell frame)", float(inc[f"{axis}_um"]), unit,
                      None if t_inc is None else float(t_inc[f"{axis}_um"]), fmt=".0f")
        s.finding("inclusion size", float(inc["size_um"]), unit, None if t_inc is None else float(t_inc["size_um"]),
                  fmt=".0f")
        pos = np.array([inc["z_um"], inc["y_um"], inc["x_um"]], float)
        s.values.update(inclusion_um=pos.tolist(), inclusion_radius_um=n["inclusion_radius_um"],
                        inclusion_angle_deg=n["inclusion_angle_deg"])
        where = (f"inclusion at (z, y, x) = ({pos[0]:.0f}, {pos[1]:.0f}, {pos[2]:.0f}) {unit} in the cell frame, "
                 f"{n['inclusion_radius_um'] / 1000:.2f} mm from the axis at {round(n['inclusion_angle_deg']) % 360}°")
        h, name = source.hierarchy(), source.level("cell")
        if h is not None and name in h:
            s.values["inclusion_world_um"] = h.to_world(name, pos).tolist()
    # the slice through the inclusion (or the middle), analysed on its own for its overlay
    z = n["focus_z_um"]
    plane = vol.isel(z=found.focus_index)
    near = None if t_def is None else t_def[(t_def["z_um"] - z).abs() <= 150]
    s.figure("cell_defects", pcell.slice_figure(plane, found.focus, truth=near,
                                                title=f"Cell CT at z = {z:.0f} µm: windings and defects"),
             "The cell CT slice through the inclusion with the fitted can, the tracked windings and the defects found "
             "(filled markers)" + ("; the twin's planted defects near this height as open markers." if near is not None
                                   else "."), height=650)
    deformation = pcell.deformation_figure(found.volume.residual, defects=found.defects)
    deformation.update_layout(legend=dict(orientation="h", y=-0.18, x=0))  # clear of the colour bar
    s.figure("cell_deformation", deformation,
             "Deformation of the jelly roll: each winding's distance from the fitted Archimedean spiral, slice by "
             "slice (blue inward, red outward): buckling and gaps stand out.")
    if zoom_fig is not None:
        s.figure("cell_zoom", zoom_fig, "The same cell in µm with the box of the electrode region the zoom enters "
                 "next, at the inclusion.")
    s.values.update(n_defects=n["n_defects"], n_windings=n["n_windings"])
    s.values["summary"] = where + (f"; {n['n_defects']} defects in all ({kinds})" if n["n_defects"] else "")
    s.text.append(
        f"The CT shows a {n['can_diameter_um'] / 1000:.1f} mm can and a jelly roll of "
        f"{n['n_windings']:.0f} windings (pitch {n['pitch_um']:.0f} {unit}). "
        f"Unrolled and tracked winding by winding it reveals {n['n_defects']} defects ({kinds or 'none'}). "
        + (f"The metallic inclusion, the likely path of the leakage, sits {where[len('inclusion at '):]}; the zoom "
           "goes into the electrode there." if found.inclusion is not None else "No inclusion was found."))
