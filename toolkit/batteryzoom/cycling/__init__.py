"""Cycles and steps, capacity and energy, V–Q curves, dQ/dV and dV/dQ, self-discharge and QC.

Every function takes the BDF table that :func:`batteryzoom.io.read_cycler` (or
``bz.data.load("real/cycler/...")`` / ``bz.data.load("twin/cycling-...")``) returns -- its
time increasing and its voltages in volts, else an :class:`~batteryzoom.errors.InputError`
names the rows or the column (``_checks``) -- and gives back plain tables (one row per step, cycle, point or cell; units in column names) or a
dataclass, so that figures and widgets can draw them without recomputing anything.

One module per technique (each name below imports from ``batteryzoom.cycling``):

- ``steps``: :func:`steps` (one row per step), :func:`find_rests` (the rests after a charge).
- ``summary``: :func:`cycle_summary` (capacities, energies, efficiencies per cycle).
- ``curves``: :func:`vq_curves` (Fig. S1), :func:`dqdv`, :func:`dvdq`, :func:`find_dqdv_peaks`.
- ``self_discharge``: :func:`self_discharge` and :class:`SelfDischargeResult`: the
  relaxation + leakage fit of a rest after a charge, the K-value (mV/day) over the relaxed
  part, the leakage current, the capacity lost and the verdict (Fig. S2; the method is in
  the function's Notes). A rest too short to identify the relaxation gives bounds and an
  ``inconclusive`` verdict, never a pass or a fail (``_kvalue``: the criteria and the one
  verdict rule).
- ``population``: :func:`screen_population` (every cell of a lot, robust z-score of the
  K-value: Iglewicz and Hoaglin), :func:`robust_zscore`.
- ``qc``: :func:`cycler_qc` and :class:`CyclerQC`, the cycler scale's pipeline (one-cycle
  test, self-discharge, lot, verdict) that the report and notebook 01 both run.
- ``record``: :func:`analyze_record` and :class:`RecordAnalysis`, what
  :class:`batteryzoom.widgets.CycleExplorer` shows of a record (dQ/dV and rest fits on demand).

Submodules load on first use (``lazy_loader``, names listed in ``__init__.pyi``).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
