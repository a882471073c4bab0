"""Score bz.cycling.self_discharge against the twin's truth over the window it chose.

Usage: PYTHONPATH=toolkit python toolkit/scripts/self_discharge_accuracy.py [seed ...]
(default: the manifest's lot, seed 18650, and two more lots, seeds 1 and 2; 13 cells each).

For every cell and both methods (``fit``, the default, and ``linear``), the K-value and the
leakage current with their 95 % intervals against the twin's noise-free rest over the same
window (:func:`batteryzoom.data.twin.cycling.window_truth`): error, interval half-width,
and whether the interval holds the truth; then the count per method. The twin's headline
K-value (days 2-25) is printed beside it: the decay is not a straight line, so a K-value
over another window differs by its curvature, not by noise.

The numbers quoted in ``bz.cycling``'s module docstring come from this script.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

import batteryzoom as bz
from batteryzoom.data.twin import cycling as twin


def score(seed: int, method: str) -> pd.DataFrame:
    lot = twin.population(seed=seed)
    main, rest_truth = lot["main"], lot["rest_truth"]
    headline = lot["truth"].set_index("cell_id")
    rows = []
    for cid, record in main.groupby("cell_id", observed=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = bz.cycling.self_discharge(record.drop(columns="cell_id").reset_index(drop=True),
                                          method=method, cell_id=str(cid))
        t = twin.window_truth(rest_truth[rest_truth["cell_id"] == cid], r.window_start_day, r.window_end_day)
        k_t, leak_t = t["k_value_mv_per_day"], t["leakage_current_a"]
        rows.append({
            "seed": seed, "method": method, "cell_id": str(cid), "window_start_day": r.window_start_day,
            "k_err_pct": 100 * (r.k_value_mv_per_day / k_t - 1),
            "k_half_width_pct": 100 * (r.k_ci_high_mv_per_day - r.k_value_mv_per_day) / abs(r.k_value_mv_per_day),
            "k_held": r.k_ci_low_mv_per_day <= k_t <= r.k_ci_high_mv_per_day,
            "k_vs_days_2_25_pct": 100 * (r.k_value_mv_per_day / headline.loc[str(cid), "k_value_mv_per_day"] - 1),
            "leak_err_pct": 100 * (r.leakage_current_a / leak_t - 1),
            "leak_half_width_pct": 100 * (r.leakage_ci_high_a - r.leakage_current_a) / abs(r.leakage_current_a),
            "leak_held": r.leakage_ci_low_a <= leak_t <= r.leakage_ci_high_a,
        })
    return pd.DataFrame(rows)


def main(argv: list[str]) -> None:
    seeds = [int(a) for a in argv] or [18650, 1, 2]
    table = pd.concat([score(s, m) for m in ("fit", "linear") for s in seeds], ignore_index=True)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(table.round(3).to_string(index=False))
    print()
    for method, part in table.groupby("method", sort=False):
        print(
            f"{method:6s} {len(part)} cells: K within its interval {int(part['k_held'].sum())}, "
            f"|error| max {part['k_err_pct'].abs().max():.3f} %, median half-width "
            f"{part['k_half_width_pct'].median():.3f} %; leakage within its interval {int(part['leak_held'].sum())}, "
            f"|error| median {part['leak_err_pct'].abs().median():.2f} % max {part['leak_err_pct'].abs().max():.2f} %, "
            f"median half-width {part['leak_half_width_pct'].median():.2f} %; K vs days 2-25 "
            f"{np.nanmin(part['k_vs_days_2_25_pct']):+.2f} to {np.nanmax(part['k_vs_days_2_25_pct']):+.2f} %"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
