"""Score bz.xanes against the twin's truth at several noise levels (numbers for reports).

    PYTHONPATH=toolkit python toolkit/scripts/xanes_accuracy.py [NOISE ...]

For each noise level (fraction of the dense material's edge jump, default 0 0.02 0.05):
generate the small twin (seed from the manifest), align, run edge_maps with all three
methods, mask, and print the recovered-shift error, the per-voxel RMSE and bias of each
method against its truth, and the per-grain mean error of the half-step energy.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

import batteryzoom as bz
from batteryzoom.data.twin import xanes as twin_xanes


def score(noise: float) -> dict:
    twin = twin_xanes.particle_xanes(seed=bz.data.info("twin/particle-xanes").seed, noise=noise)
    aligned, shifts = bz.xanes.align(twin["main"])
    applied = twin["shifts"][["shift_z_px", "shift_y_px", "shift_x_px"]].values
    maps = bz.xanes.edge_maps(aligned)
    mask = bz.xanes.masks(maps)["mask"].values
    truth = twin["truth"]
    labels = truth["grain_labels"].values
    use = mask & (labels > 0)
    row = {"noise": noise, "shift_err_max_px": float(np.abs(shifts - applied).max()),
           "voxels_used": float(use.sum() / (labels > 0).sum())}
    for method, key in (("half_step", "edge_energy_ev"), ("derivative", "edge_energy_derivative_ev"),
                        ("white_line", "edge_energy_white_line_ev")):
        d = (maps[f"edge_energy_{method}_ev"].values - truth[key].values)[use]
        row[f"{method}_rmse_ev"] = float(np.sqrt(np.nanmean(d**2)))
        row[f"{method}_bias_ev"] = float(np.nanmean(d))
    est = pd.DataFrame({"label": labels[use], "e": maps["edge_energy_half_step_ev"].values[use]})
    merged = twin["grains"].set_index("label").join(est.groupby("label")["e"].mean().rename("m"), how="inner")
    err = (merged["m"] - merged["edge_energy_mean_ev"])[merged["n_voxels"] >= 50]
    row.update(grains_50=int(err.size), grain_err_median_ev=float(err.abs().median()),
               grain_err_p90_ev=float(err.abs().quantile(0.9)), grain_bias_ev=float(err.mean()))
    for name in ("grain 1", "grain 2"):
        sel = merged["designation"] == name
        row[f"{name.replace(' ', '')}_err_ev"] = float((merged["m"] - merged["edge_energy_mean_ev"])[sel].iloc[0])
    return row


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    levels = [float(x) for x in sys.argv[1:]] or [0.0, 0.02, 0.05]
    table = pd.DataFrame([score(n) for n in levels]).set_index("noise")
    pd.set_option("display.width", 200)
    print(table.T.round(3).to_string())
