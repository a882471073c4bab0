"""The cycler scale's pipeline: one call from the records of a cell (and its lot) to the QC verdict.

:func:`cycler_qc` is what the report's cycler scale and notebook 01 both run, so a number
printed in the notebook and in the report comes from one place: the one-cycle test's
capacities and coulombic efficiency (Fig. S1), the self-discharge of the cell under test
(Fig. S2: K-value with its interval and window, leakage current, capacity lost, relaxation
time), its robust z-score among its lot, the cells of the lot flagged, and the verdict.
Findings, prose and figures are the report's; this module only computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._checks import _check_positive, _check_threshold
from .population import robust_zscore, screen_population
from .self_discharge import SelfDischargeResult, _verdict, self_discharge
from .summary import cycle_summary

__all__ = ["CyclerQC", "cycler_qc"]


@dataclass
class CyclerQC:
    """What :func:`cycler_qc` found (plain numbers, tables and the per-cell results).

    A part whose record was not given is ``None``.

    Attributes
    ----------
    threshold_mv_per_day, z_threshold : float
        The absolute K-value limit (mV/day) and the lot's robust z-score limit used.
    cycles : pandas.DataFrame or None
        :func:`~batteryzoom.cycling.cycle_summary` of the one-cycle record.
    cycle : int or None
        The cycle whose numbers follow: the record's first complete one (a charge and a
        discharge; a note says so when it is not cycle 1); ``None`` when there is none.
    charge_capacity_ah, discharge_capacity_ah, coulombic_efficiency : float or None
        That cycle's capacities (Ah) and discharge / charge (a fraction, not %).
    cell_id : str or None
        The cell under test: the self-discharge record's, or, with a lot alone, its first
        flagged cell (else the one with the highest K-value).
    self_discharge : SelfDischargeResult or None
        The cell under test's K-value, leakage, capacity lost, relaxation and fit.
    population : pandas.DataFrame or None
        :func:`~batteryzoom.cycling.screen_population`'s table of the lot.
    population_results : dict of SelfDischargeResult or None
        The lot's per-cell results (for figures).
    robust_z : float or None
        The cell's robust z-score of the K-value among its lot (the cell joins the lot when
        it is not one of its cells); ``None`` when its rest gave no K-value.
    lot_size : int or None
        The cells the z-score was taken over: those of the lot whose rest gave a K-value.
    flagged : list of str or None
        The cells of the lot whose verdict is ``fail``.
    verdict : str or None
        ``pass``, ``fail`` or ``inconclusive`` for the cell under test: its own verdict
        against the threshold, and ``fail`` as an outlier of its lot.
    notes : list of str
        How the pipeline chose what it reports (e.g. the cell under test taken from its lot).
    """

    threshold_mv_per_day: float
    z_threshold: float
    cycles: pd.DataFrame | None = field(default=None, repr=False)
    cycle: int | None = None
    charge_capacity_ah: float | None = None
    discharge_capacity_ah: float | None = None
    coulombic_efficiency: float | None = None
    cell_id: str | None = None
    self_discharge: SelfDischargeResult | None = field(default=None, repr=False)
    population: pd.DataFrame | None = field(default=None, repr=False)
    population_results: dict[str, SelfDischargeResult] | None = field(default=None, repr=False)
    robust_z: float | None = None
    lot_size: int | None = None
    flagged: list[str] | None = None
    verdict: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The headline numbers as a flat dict (None where a part is missing): the cycle's,
        the cell under test's self-discharge (K-value and interval in mV/day, its window
        start in days, leakage in A, capacity lost in Ah, relaxation end in days) and the
        lot's."""
        r = self.self_discharge
        sd = {} if r is None else {
            "k_value_mv_per_day": r.k_value_mv_per_day, "k_ci_low_mv_per_day": r.k_ci_low_mv_per_day,
            "k_ci_high_mv_per_day": r.k_ci_high_mv_per_day, "window_start_day": r.window_start_day,
            "leakage_current_a": r.leakage_current_a, "capacity_lost_ah": r.capacity_lost_ah,
            "relaxation_end_day": r.relaxation_end_day, "relaxation_complete": r.relaxation_complete,
        }
        return {
            "cycle": self.cycle, "charge_capacity_ah": self.charge_capacity_ah,
            "discharge_capacity_ah": self.discharge_capacity_ah, "coulombic_efficiency": self.coulombic_efficiency,
            "cell_id": self.cell_id, **sd, "robust_z": self.robust_z, "lot_size": self.lot_size,
            "flagged": None if self.flagged is None else ", ".join(self.flagged), "verdict": self.verdict,
            "threshold_mv_per_day": self.threshold_mv_per_day,
        }


def cycler_qc(
    one_cycle: pd.DataFrame | None = None,
    rest: pd.DataFrame | None = None,
    population: pd.DataFrame | None = None,
    *,
    cell_id: str | None = None,
    threshold_mv_per_day: float = 2.0,
    z_threshold: float = 3.5,
    by: str = "cell_id",
    show_progress: bool | None = None,
    **kwargs: Any,
) -> CyclerQC:
    """The cycler scale's quality control of a cell: one-cycle test, self-discharge, lot.

    Parameters
    ----------
    one_cycle : pandas.DataFrame, optional
        BDF table of the one-cycle test (Fig. S1).
    rest : pandas.DataFrame, optional
        BDF table of the cell under test holding a charge followed by a long rest (Fig. S2).
    population : pandas.DataFrame, optional
        BDF rows of the cell's production lot, told apart by column ``by``.
    cell_id : str, optional
        The cell under test (default: ``rest.attrs["cell"]``, else ``"cell"``); when the lot
        holds it, its z-score and verdict are the lot's.
    threshold_mv_per_day : float
        The absolute QC limit on the K-value (mV/day).
    z_threshold : float
        A cell is an outlier of its lot above this robust z-score (Iglewicz and Hoaglin).
    by : str
        The column of ``population`` holding each row's cell.
    show_progress : bool, optional
        Progress bar over the lot's cells (default: ``BATTERYZOOM_PROGRESS``).
    **kwargs
        Passed to :func:`~batteryzoom.cycling.self_discharge` (e.g. ``method=``).

    Returns
    -------
    CyclerQC

    Examples
    --------
    The twin's cell under test, its one-cycle test, and five cells of its lot:

    >>> import batteryzoom as bz
    >>> one = bz.data.load("twin/cycling-one-cycle")
    >>> rest = bz.data.load("twin/cycling-self-discharge")
    >>> lot = bz.data.load("twin/cycling-population")
    >>> five = lot[lot["cell_id"].isin(["SN-0001", "SN-0002", "SN-0003", "SN-0004", "SN-0009"])]
    >>> qc = bz.cycling.cycler_qc(one, rest, five)
    >>> print(f"cycle {qc.cycle}: {qc.discharge_capacity_ah:.3f} Ah out, CE {100 * qc.coulombic_efficiency:.2f} %")
    cycle 1: 2.034 Ah out, CE 99.61 %
    >>> r = qc.self_discharge
    >>> print(f"{qc.cell_id}: K = {r.k_value_mv_per_day:.2f} mV/day [{r.k_ci_low_mv_per_day:.2f}, "
    ...       f"{r.k_ci_high_mv_per_day:.2f}], robust z {qc.robust_z:.1f} among {qc.lot_size}: {qc.verdict}")
    SN-0009: K = 6.29 mV/day [5.80, 6.77], robust z 21.4 among 5: fail
    >>> qc.flagged
    ['SN-0009']
    """
    if one_cycle is None and rest is None and population is None:
        raise InputError("cycler_qc needs a record: pass one_cycle=, rest= or population= (BDF tables)")
    _check_threshold(threshold_mv_per_day)
    _check_positive("z_threshold", z_threshold, "robust z", "e.g. 3.5 (Iglewicz and Hoaglin)")
    thr = float(threshold_mv_per_day)
    qc = CyclerQC(threshold_mv_per_day=thr, z_threshold=float(z_threshold))
    if one_cycle is not None:
        _one_cycle(qc, one_cycle)
    table = results = None
    if population is not None:
        table, results = screen_population(population, by, z_threshold=z_threshold, threshold_mv_per_day=thr,
                                           show_progress=show_progress, **kwargs)
        qc.population, qc.population_results = table, results
        qc.flagged = [str(c) for c in table.index[table["verdict"] == "fail"]]
    if rest is not None:
        cell_id = cell_id if cell_id is not None else str(rest.attrs.get("cell", "cell"))
        qc.self_discharge = self_discharge(rest, cell_id=cell_id, threshold_mv_per_day=thr, **kwargs)
    elif results:
        # no record of its own: the lot's first flagged cell (else its highest K-value) is the one to look at
        cell_id = qc.flagged[0] if qc.flagged else str(table["k_value_mv_per_day"].idxmax())
        qc.self_discharge = results[cell_id]
        qc.notes.append(f"no self-discharge record of its own: {cell_id}, the lot's "
                        + ("first flagged cell" if qc.flagged else "cell with the highest K-value")
                        + ", is the cell under test")
    if qc.self_discharge is None:
        return qc
    qc.cell_id = cell_id
    qc.verdict = qc.self_discharge.verdict
    if table is not None:
        _against_the_lot(qc, table)
    return qc


def _one_cycle(qc: CyclerQC, one_cycle: pd.DataFrame) -> None:
    """The one-cycle test's summary and the numbers of its first complete cycle (one with a
    charge and a discharge), into ``qc``; a note when earlier cycles are not complete or
    none is (the numbers then stay ``None``: a coulombic efficiency needs both)."""
    qc.cycles = cycle_summary(one_cycle)
    c = qc.cycles
    complete = c.index[(c["charge_capacity_ah"] > 0) & (c["discharge_capacity_ah"] > 0)]
    if len(complete) == 0:
        qc.notes.append(f"the one-cycle record holds no complete cycle (a charge and a discharge) among its "
                        f"{len(c)} cycle(s): no capacities or coulombic efficiency")
        return
    qc.cycle = int(complete[0])
    skipped = [int(x) for x in c.index[c.index < qc.cycle]]
    if skipped:
        qc.notes.append(f"cycle {qc.cycle} is the one-cycle test's: the first with both a charge and a discharge "
                        f"(cycle {', '.join(map(str, skipped))} before it holds only one of them)")
    first = c.loc[qc.cycle]
    qc.charge_capacity_ah = float(first["charge_capacity_ah"])
    qc.discharge_capacity_ah = float(first["discharge_capacity_ah"])
    qc.coulombic_efficiency = float(first["coulombic_efficiency"])


def _against_the_lot(qc: CyclerQC, table: pd.DataFrame) -> None:
    """The cell under test's z-score among its lot and the lot's say in its verdict.

    A cell of the lot takes the lot's z-score and verdict; a cell from outside joins the
    lot's K-values for its z-score, and only with a K-value (relaxation over).
    """
    r = qc.self_discharge
    # the z-score is taken over the K-values: a cell whose rest gave none has no say in it
    lot_ks = table["k_value_mv_per_day"].to_numpy(float)[table["relaxation_complete"].to_numpy(bool)]
    if qc.cell_id in table.index:
        z = float(table.loc[qc.cell_id, "robust_z"])
        qc.robust_z = None if np.isnan(z) else z
        qc.verdict = str(table.loc[qc.cell_id, "verdict"])
        qc.lot_size = len(lot_ks)
    elif r.relaxation_complete:
        ks = np.r_[lot_ks, r.k_value_mv_per_day]
        qc.robust_z = float(robust_zscore(ks)[-1])
        qc.verdict = _verdict(r.relaxation_complete, r.k_ci_low_mv_per_day, r.k_ci_high_mv_per_day,
                              qc.threshold_mv_per_day, qc.robust_z > qc.z_threshold)
        qc.lot_size = len(ks)
