"""The report's cycler scale: ``bz.cycling.cycler_qc`` turned into findings, prose and figures.

The numbers (capacities, K-value, z-score, verdict) are the pipeline's; here they are only
shown, beside the twin's truth: Fig. S1 (the one-cycle test), Fig. S2 (the self-discharge
of the cell under test) and the lot's screen.
"""

from __future__ import annotations

from typing import Any

from .results import Collector
from .sources import Source

__all__ = ["run"]


def run(source: Source, s: Collector, ctx: dict) -> None:
    """Findings, figures and text of the cycler scale into ``s``."""
    from ..cycling import cycler_qc

    d = source.load("cycler")
    truth = source.truth("cycler")
    thr = float(d.get("threshold_mv_per_day", 2.0))
    qc = cycler_qc(d.get("one_cycle"), d.get("self_discharge"), d.get("population"), cell_id=d.get("cell_id"),
                   threshold_mv_per_day=thr)
    if qc.cycle is not None:
        _one_cycle(s, qc, d["one_cycle"], truth.get("one_cycle", {}))
    if qc.self_discharge is not None:
        _self_discharge(s, qc, truth)


def _one_cycle(s: Collector, qc: Any, one: Any, t1: dict) -> None:
    from ..plots import cycling as pc

    n = qc.cycle
    s.finding(f"charge capacity (cycle {n})", qc.charge_capacity_ah, "Ah", t1.get("charge_capacity_ah"))
    s.finding(f"discharge capacity (cycle {n})", qc.discharge_capacity_ah, "Ah", t1.get("discharge_capacity_ah"))
    s.finding(f"coulombic efficiency (cycle {n})", 100 * qc.coulombic_efficiency, "%", fmt=".2f",
              note="; ".join(x for x in qc.notes if x.startswith("cycle ")))
    s.values.update(discharge_capacity_ah=qc.discharge_capacity_ah)
    s.figure("S1_charge_discharge", pc.voltage_capacity(one),
             "Fig. S1 — voltage against capacity of the one-cycle test (charge solid, discharge dashed).")
    s.text.append(f"One cycle gives {qc.discharge_capacity_ah:.3f} Ah at a coulombic efficiency of "
                  f"{100 * qc.coulombic_efficiency:.1f} %: on capacity alone the cell looks normal.")


def _self_discharge(s: Collector, qc: Any, truth: dict) -> None:
    from ..plots import cycling as pc

    result, thr, cell_id = qc.self_discharge, qc.threshold_mv_per_day, qc.cell_id
    tsd = truth.get("self_discharge", {})
    complete = result.relaxation_complete
    rest_h = result.rest_duration_day * 24
    if complete:
        s.finding("K-value (voltage drop after relaxation)", result.k_value_mv_per_day, "mV/day",
                  tsd.get("k_value_mv_per_day"), note=f"{result.confidence:.0%} CI [{result.k_ci_low_mv_per_day:.2f}, "
                  f"{result.k_ci_high_mv_per_day:.2f}]; window from day {result.window_start_day:.2f}", fmt=".3f")
        s.finding("leakage current", result.leakage_current_a * 1e3, "mA",
                  None if "leakage_current_a" not in tsd else tsd["leakage_current_a"] * 1e3, fmt=".3f")
        s.finding("capacity lost over the rest", result.capacity_lost_ah * 1e3, "mAh",
                  None if "capacity_lost_ah" not in tsd else tsd["capacity_lost_ah"] * 1e3, fmt=".1f")
        s.finding("relaxation over after", result.relaxation_end_day * 24, "h", fmt=".1f")
    else:
        # the leakage has not separated from the relaxation: its numbers are the fit's
        # extrapolation, not a K-value to screen by
        s.finding("K-value (voltage drop after relaxation)", "not determined", "",
                  note=f"the fit's leakage term alone: {result.k_value_mv_per_day:.3g} mV/day, "
                  f"{result.leakage_current_a * 1e3:.3g} mA")
        s.finding("relaxation over after", "not within the rest", "",
                  note=f"a {rest_h:.3g} h rest; a K-value needs days")
    verdict, z, n_lot, table = qc.verdict, qc.robust_z, qc.lot_size, qc.population
    if table is not None:
        if z is not None:
            s.finding("robust z-score of the K-value in its lot", z, "", note=f"{n_lot} cells; outlier above "
                      f"{qc.z_threshold:g}", fmt=".1f")
        t_pop = truth.get("population")
        true_def = t_pop.loc[t_pop["defective"], "cell_id"].tolist() if t_pop is not None else None
        s.finding("cells of the lot flagged", ", ".join(qc.flagged) or "none", "",
                  ", ".join(true_def) if true_def is not None else None)
        s.figure("cycler_population", pc.population(table),
                 f"The self-discharge screen of the lot: K-value per cell (log scale), the {thr:g} mV/day "
                 "threshold and the population verdict (orange: fail).")
    true_verdict = None
    if "defective" in tsd:
        true_verdict = "fail" if tsd["defective"] else "pass"
    s.finding("QC verdict", verdict, "", true_verdict)
    s.figure("S2_self_discharge", pc.self_discharge(result, title=f"Self-discharge of {cell_id} (Fig. S2)"),
             "Fig. S2 — the voltage over the rest after the charge, with the relaxation + leakage fit and the "
             + ("K-value line over the relaxed part." if complete else
                "fit's leakage term (dashed): the relaxation is not over, so its slope is no K-value."))
    s.values.update(
        cell_id=cell_id, k_value_mv_per_day=result.k_value_mv_per_day, leakage_current_a=result.leakage_current_a,
        verdict=verdict, robust_z=z, threshold_mv_per_day=thr,
    )
    _prose(s, qc, rest_h)


def _prose(s: Collector, qc: Any, rest_h: float) -> None:
    result, verdict, z, cell_id = qc.self_discharge, qc.verdict, qc.robust_z, qc.cell_id
    lot = f"; robust z {z:.1f} among {qc.lot_size} cells of its lot" if z is not None else ""
    if not result.relaxation_complete:
        s.values["summary"] = (
            f"{cell_id}: no K-value: the {rest_h:.3g} h rest ends before the relaxation does — QC verdict "
            f"{verdict.upper()} (a K-value needs days of rest)"
        )
        s.text.append(
            f"The rest after the charge lasts {rest_h:.3g} h and ends before the voltage has relaxed: the leakage "
            "cannot yet be told from the relaxation, so there is no K-value to screen by and no verdict "
            f"(<b>{verdict}</b>). A production screen rests the cell for days.")
        return
    s.values["summary"] = (
        f"{cell_id}: K = {result.k_value_mv_per_day:.2f} mV/day [{result.k_ci_low_mv_per_day:.2f}, "
        f"{result.k_ci_high_mv_per_day:.2f}], leakage {result.leakage_current_a * 1e3:.2f} mA — QC verdict "
        f"{verdict.upper()} (threshold {qc.threshold_mv_per_day:g} mV/day{lot})"
    )
    s.text.append(
        f"At rest after a full charge the cell loses {result.k_value_mv_per_day:.2f} mV/day once the relaxation is "
        f"over (after {result.relaxation_end_day * 24:.1f} h): a leakage of {result.leakage_current_a * 1e3:.2f} mA"
        + (f", a robust z-score of {z:.1f} against its lot" if z is not None else "")
        + f". Verdict: <b>{verdict}</b>."
        + (" Something inside the can is draining it; the next scales look for what." if verdict == "fail" else ""))
