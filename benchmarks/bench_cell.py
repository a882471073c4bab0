"""bz.cell: unrolling and layer tracking per slice, against scikit-image's polar warp.

The baseline is :func:`skimage.transform.warp_polar` on the same slice, with the same number
of radii and angles: the standard way to put a slice on (radius, angle). Ratios say how many
such warps our unrolling, and our unrolling plus tracking every winding and fitting the
spiral, cost. Slices: the real 576² jelly-roll slice (im_1), a 1750² slice (the JellyBaMM
current-collector skeleton of an 18650, as a line image) and the twin's 736² slice; plus the
whole twin volume analysed slice by slice.
"""

from __future__ import annotations

import time

import numpy as np
from harness import Measurement, case, median_time

import batteryzoom as bz
from batteryzoom import cell


def _polar_baseline(values: np.ndarray, centre_px: tuple[float, float], n_r: int, n_a: int):
    from skimage.transform import warp_polar

    return lambda: warp_polar(values, center=centre_px, radius=n_r - 1, output_shape=(n_a, n_r), order=1)


def _slice_rows(label: str, image, voxel_um: float | str | None, can: bool) -> list[Measurement]:
    res = cell.analyze_slice(image, voxel_um, can=can)
    L = res.layers
    v = L.extra["voxel_um"]
    size = "px" if L.length_unit == "px" else v  # the slice's frame, as analysed
    values = np.asarray(image.values if hasattr(image, "values") else image, np.float32)
    centre = (L.unroll_centre_yx_um[0] / v, L.unroll_centre_yx_um[1] / v)
    r_max = float(res.unrolled.radius.values[-1])
    n_a = L.angle_rad.size

    def unroll():
        return cell.unroll(values, L.unroll_centre_yx_um, size, r_max_um=r_max, n_angles=n_a)

    U = unroll()

    def unroll_and_track():
        cell.track_layers(unroll(), pitch_um=L.pitch_um, handedness=L.handedness)

    base = median_time(_polar_baseline(values, centre, U.sizes["radius"], n_a), repeat=5)
    t_unroll = median_time(unroll, repeat=5)
    t_track = median_time(unroll_and_track, repeat=3)
    t_full = median_time(lambda: cell.analyze_slice(values, size, can=can), repeat=3)
    shape = f"{values.shape[0]}²"
    note = f"{U.sizes['radius']}x{n_a} samples, {L.n_turns} turns"
    return [
        Measurement(f"{label} {shape}: unroll vs warp_polar", t_unroll, base, goal=2.0, note=note),
        Measurement(f"{label} {shape}: unroll + track layers vs warp_polar", t_track, base, goal=15.0, note=note),
        Measurement(f"{label} {shape}: whole slice analysis vs warp_polar", t_full, base,
                    note="can, centre search, tracking, spiral fit, defects"),
    ]


@case("cell")
def unroll_and_track_real_576():
    im = bz.data.load("real/ct/cell-slice-im1")
    return _slice_rows("im_1", im, "px", can=True)  # no pixel size upstream


@case("cell")
def unroll_and_track_1750():
    cc = bz.data.load("real/ct/jellybamm-cc-skeleton")
    lines = cell.line_image(cc == 1, sigma_px=1.5, bin=1)
    return _slice_rows("JellyBaMM skeleton", lines, None, can=False)


@case("cell")
def unroll_and_track_twin_736():
    ct = bz.data.load("twin/cell-ct")
    return _slice_rows("twin", ct.isel(z=28), None, can=True)


@case("cell")
def twin_volume_slice_by_slice():
    ct = bz.data.load("twin/cell-ct")
    values = ct.isel(z=28).values.astype(np.float32)
    base = median_time(_polar_baseline(values, (367.5, 367.5), 350, 1104), repeat=5)
    t0 = time.perf_counter()
    res = cell.analyze_volume(ct, progress=False)
    total = time.perf_counter() - t0
    n = len(res.summary)
    score = cell.score_defects(res.defects, bz.data.load("twin/cell-ct", part="defects"), 50.0)
    found = int((score.status == "found").sum())
    return [Measurement(f"twin volume: per slice (of {n}) vs warp_polar", total / n, base,
                        note=f"total {total:.1f} s; {found}/5 defects within 2 voxels, "
                             f"{int((score.status == 'false alarm').sum())} false alarms")]
