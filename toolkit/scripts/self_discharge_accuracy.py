"""Score bz.cycling.self_discharge against the twin's truth over the window it chose.

Usage: PYTHONPATH=toolkit python toolkit/scripts/self_discharge_accuracy.py [seed ...]
(default: the manifest's lot, seed 18650, and two more lots, seeds 1 and 2; 13 cells each).

Two studies, each against the twin's noise-free rest over the window the analysis chose
(:func:`batteryzoom.data.twin.cycling.window_truth`):

1. The 25-day rest, every cell and both methods (``fit``, the default, and ``linear``): the
   K-value and the leakage current with their 95 % intervals, error, interval half-width and
   whether the interval holds the truth; then the count per method. The twin's headline
   K-value (days 2-25) is printed beside it: the decay is not a straight line, so a K-value
   over another window differs by its curvature, not by noise.
2. The rest cut short (:func:`~batteryzoom.data.twin.cycling.cut_rest`) to 1 h, 6 h, 12 h,
   24 h, 3 d, 7 d and 25 d, every cell, ``method="fit"``: per rest length, how often the
   K-value's interval holds the leakage-driven slope over its window (the truth a K-value
   claims: the OCV's fall, the relaxation excluded) and the verdicts of the healthy and the
   defective cells. A verdict comes only from a rest long enough to identify the
   relaxation, so a healthy cell must never fail and a short rest must be inconclusive.

The numbers quoted in ``bz.cycling.self_discharge``'s Notes and in the README come from this
script.
"""

from __future__ import annotations

import functools
import sys
import warnings

import numpy as np
import pandas as pd

import batteryzoom as bz
from batteryzoom.data.twin import cycling as twin

REST_DAYS = {"1 h": 1 / 24, "6 h": 0.25, "12 h": 0.5, "24 h": 1.0, "3 d": 3.0, "7 d": 7.0, "25 d": 25.0}


@functools.lru_cache(maxsize=None)
def _lot(seed: int) -> dict:
    return twin.population(seed=seed)


def _fit(record: pd.DataFrame, cid: str, **kwargs) -> bz.cycling.SelfDischargeResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bz.cycling.self_discharge(record, cell_id=cid, **kwargs)


def score(seed: int, method: str) -> pd.DataFrame:
    """Study 1: every cell of a lot, its 25-day rest."""
    lot = _lot(seed)
    main, rest_truth = lot["main"], lot["rest_truth"]
    headline = lot["truth"].set_index("cell_id")
    rows = []
    for cid, record in main.groupby("cell_id", observed=True):
        r = _fit(record.drop(columns="cell_id").reset_index(drop=True), str(cid), method=method)
        t = twin.window_truth(rest_truth[rest_truth["cell_id"] == cid], r.window_start_day, r.window_end_day)
        k_t, leak_t = t["leakage_k_value_mv_per_day"], t["leakage_current_a"]
        rows.append({
            "seed": seed, "method": method, "cell_id": str(cid), "window_start_day": r.window_start_day,
            "k_err_pct": 100 * (r.k_value_mv_per_day / k_t - 1),
            "k_half_width_pct": 100 * (r.k_ci_high_mv_per_day - r.k_value_mv_per_day) / abs(r.k_value_mv_per_day),
            "k_held": r.k_ci_low_mv_per_day <= k_t <= r.k_ci_high_mv_per_day,
            "k_vs_days_2_25_pct": 100 * (r.k_value_mv_per_day / headline.loc[str(cid), "k_value_mv_per_day"] - 1),
            "leak_err_pct": 100 * (r.leakage_current_a / leak_t - 1),
            "leak_half_width_pct": 100 * (r.leakage_ci_high_a - r.leakage_current_a) / abs(r.leakage_current_a),
            "leak_held": r.leakage_ci_low_a <= leak_t <= r.leakage_ci_high_a,
            "verdict": r.verdict,
        })
    return pd.DataFrame(rows)


def rest_lengths(seed: int) -> pd.DataFrame:
    """Study 2: every cell of a lot, its rest cut to each of :data:`REST_DAYS`."""
    lot = _lot(seed)
    main, rest_truth = lot["main"], lot["rest_truth"]
    defective = set(lot["truth"].loc[lot["truth"]["defective"], "cell_id"])
    rows = []
    for cid, record in main.groupby("cell_id", observed=True):
        record = record.drop(columns="cell_id").reset_index(drop=True)
        truth = rest_truth[rest_truth["cell_id"] == cid].drop(columns="cell_id")
        for label, days in REST_DAYS.items():
            cut, cut_truth = twin.cut_rest(record, days, truth)
            r = _fit(cut, str(cid))
            t = twin.window_truth(cut_truth, r.window_start_day, r.window_end_day)
            k_t = t["leakage_k_value_mv_per_day"]
            rows.append({
                "seed": seed, "cell_id": str(cid), "defective": cid in defective, "rest": label,
                "k": r.k_value_mv_per_day, "k_low": r.k_ci_low_mv_per_day, "k_high": r.k_ci_high_mv_per_day,
                "k_truth": k_t, "held": r.k_ci_low_mv_per_day <= k_t <= r.k_ci_high_mv_per_day,
                "window_start_day": r.window_start_day, "verdict": r.verdict, "k_value": r.relaxation_complete,
                "rest_needed_day": getattr(r, "rest_needed_day", np.nan),
            })
    return pd.DataFrame(rows)


def coverage_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per rest length: interval coverage of the truth and the verdicts, healthy and defective."""
    out = []
    for label in REST_DAYS:
        part = table[table["rest"] == label]
        healthy, bad = part[~part["defective"]], part[part["defective"]]
        measured = part[part["k_value"]]
        out.append({
            "rest": label, "cells": len(part), "K interval holds truth": f"{int(part['held'].sum())}/{len(part)}",
            "K-values": len(measured),
            "healthy pass/inconcl./fail": "/".join(str(int((healthy["verdict"] == v).sum()))
                                                   for v in ("pass", "inconclusive", "fail")),
            "defective pass/inconcl./fail": "/".join(str(int((bad["verdict"] == v).sum()))
                                                     for v in ("pass", "inconclusive", "fail")),
            "K-value error (median)": (f"{100 * np.median(np.abs(measured['k'] / measured['k_truth'] - 1)):.2g} %"
                                       if len(measured) else "-"),
            "rest asked for (days)": (f"{part['rest_needed_day'].min():.3g}-{part['rest_needed_day'].max():.3g}"
                                      if part["rest_needed_day"].notna().any() else "-"),
        })
    return pd.DataFrame(out)


def main(argv: list[str]) -> None:
    seeds = [int(a) for a in argv] or [18650, 1, 2]
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    table = pd.concat([score(s, m) for m in ("fit", "linear") for s in seeds], ignore_index=True)
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
    print()
    lengths = pd.concat([rest_lengths(s) for s in seeds], ignore_index=True)
    print(f"rest cut short, method='fit', lots {seeds} ({len(lengths) // len(REST_DAYS)} cells): the K-value's "
          "95 % interval against the leakage-driven slope over its window, and the verdicts")
    print(coverage_table(lengths).to_string(index=False))


if __name__ == "__main__":
    main(sys.argv[1:])
