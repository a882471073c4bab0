"""The analyses of one cycler record that an explorer shows: V–Q curves, dQ/dV, rest fits.

:func:`analyze_record` is what :class:`batteryzoom.widgets.CycleExplorer` calls (its one
call into the analyses; the widget only draws). It computes the V–Q curves and the rests
after a charge at once, and each cycle's dQ/dV and each rest's self-discharge fit on first
use, then keeps them: a record may hold hundreds of cycles and several rests, of which a
user looks at a few, and a second look is free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import InputError
from ._checks import _check_threshold
from .curves import dqdv, vq_curves
from .self_discharge import SelfDischargeResult, self_discharge
from .steps import find_rests

__all__ = ["RecordAnalysis", "analyze_record"]


@dataclass
class RecordAnalysis:
    """A cycler record's V–Q curves and rests, with its dQ/dV and rest fits on demand.

    Attributes
    ----------
    record : pandas.DataFrame
        The BDF table of the cycles.
    rest_record : pandas.DataFrame
        The BDF table of the rests (``record`` itself unless another was given).
    threshold_mv_per_day : float
        The QC limit on the K-value (mV/day) of the rest fits' verdicts.
    curves : pandas.DataFrame
        :func:`~batteryzoom.cycling.vq_curves` of ``record``.
    cycles : list of int
        The cycles that have a charge or a discharge, in order.
    rests : pandas.DataFrame
        :func:`~batteryzoom.cycling.find_rests` of ``rest_record`` (index ``step_count``,
        longest first).
    """

    record: pd.DataFrame = field(repr=False)
    rest_record: pd.DataFrame = field(repr=False)
    threshold_mv_per_day: float
    curves: pd.DataFrame = field(repr=False)
    cycles: list[int]
    rests: pd.DataFrame = field(repr=False)
    _dqdv: dict = field(default_factory=dict, repr=False)
    _fits: dict = field(default_factory=dict, repr=False)

    def dqdv(self, cycle: int, direction: str) -> pd.DataFrame:
        """:func:`~batteryzoom.cycling.dqdv` of one half-cycle (computed once, then kept)."""
        key = (int(cycle), direction)
        if key not in self._dqdv:
            self._dqdv[key] = dqdv(self.record, cycle=int(cycle), direction=direction)
        return self._dqdv[key]

    def self_discharge(self, rest_step: int) -> SelfDischargeResult:
        """:func:`~batteryzoom.cycling.self_discharge` of one rest (computed once, then kept)."""
        if rest_step not in self._fits:
            self._fits[rest_step] = self_discharge(self.rest_record, rest_step=int(rest_step),
                                                   threshold_mv_per_day=self.threshold_mv_per_day)
        return self._fits[rest_step]


def analyze_record(record: pd.DataFrame, rest_record: pd.DataFrame | None = None, *,
                   threshold_mv_per_day: float = 2.0) -> RecordAnalysis:
    """The V–Q curves and rests of a cycler record, with dQ/dV and rest fits on demand.

    Parameters
    ----------
    record : pandas.DataFrame
        A BDF table (``bz.io.read_cycler``, ``bz.data.load("twin/cycling-one-cycle")``).
    rest_record : pandas.DataFrame, optional
        A record holding the self-discharge test, when it is not in ``record``.
    threshold_mv_per_day : float
        The QC limit on the K-value (mV/day) of the rest fits' verdicts.

    Returns
    -------
    RecordAnalysis

    Raises
    ------
    InputError
        When ``record`` has no charge or discharge (nothing to show as V–Q).

    Examples
    --------
    >>> import batteryzoom as bz
    >>> a = bz.cycling.analyze_record(bz.data.load("twin/cycling-one-cycle"),
    ...                               bz.data.load("twin/cycling-self-discharge"))
    >>> a.cycles, a.rests.index.tolist()
    ([1], [3])
    >>> round(a.self_discharge(3).k_value_mv_per_day, 2)
    6.29
    """
    _check_threshold(threshold_mv_per_day)
    rest_record = rest_record if rest_record is not None else record
    curves = vq_curves(record)
    cycles = sorted(int(c) for c in curves["cycle_count"].unique())
    if not cycles:
        raise InputError("record has no charge or discharge steps: nothing to plot as V–Q")
    return RecordAnalysis(record=record, rest_record=rest_record, threshold_mv_per_day=float(threshold_mv_per_day),
                          curves=curves, cycles=cycles, rests=find_rests(rest_record))
