"""Self-discharge screening: the K-value, leakage current and QC verdict of a rest after a charge.

After a charge, a cell's open-circuit voltage first *relaxes* (polarisation decays over
hours) and then falls slowly and almost linearly because of *leakage* (an internal
micro-short, e.g. a metallic particle between the electrodes). Production lines measure that
slow fall as the K-value, in mV/day, once the relaxation has passed, and set thresholds from
the population of cells (:func:`batteryzoom.cycling.screen_population`).

The module reads top-down: :class:`SelfDischargeResult` and :func:`self_discharge` (the
method is in its Notes), then the steps it takes: the rest, the OCV curve, the relaxation +
leakage fit, the leakage from dQ/dV; then the models and the OCV helpers they use. The
K-value over its window -- whether the rest identifies the relaxation, the bounds when it
does not -- and the verdict rule are in :mod:`batteryzoom.cycling._kvalue`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..errors import InputError
from ._checks import _CHARGE, _check, _check_positive, _check_threshold
from ._kvalue import _k_value, _lag1_correlation, _rest_to_decide, _verdict
from .steps import _step_bounds, find_rests, steps

__all__ = ["SelfDischargeResult", "self_discharge"]


@dataclass
class SelfDischargeResult:
    """What :func:`self_discharge` found for one cell (all plain numbers and tables).

    ``curve`` is a table of the rest (``time_day``, ``voltage_volt``, ``fit_volt``,
    ``linear_volt``) for plotting; ``fit`` holds the fitted parameters. The fields a verdict
    rests on:

    - ``relaxation_complete``: the rest identifies the relaxation (its longest time constant
      resolved, and what is left of it, or of a slower one the data allow, moves the K-value
      little over its window): ``k_value_mv_per_day`` is then a production K-value over
      ``window_start_day``-``window_end_day``. Otherwise it is the fit's leakage term, no
      K-value, and the interval only bounds the K-value (0 up to the voltage's own fall over
      the rest's last fifth).
    - ``k_ci_low_mv_per_day``, ``k_ci_high_mv_per_day``: the interval at ``confidence``;
      its lower end makes room for the relaxation the data allow in the window.
    - ``verdict``: ``pass``, ``fail`` or ``inconclusive`` (see :func:`self_discharge`'s
      Notes, 6) and ``rest_needed_day``: the rest that would give one (days; nan when this
      one did). ``notes`` say why, in words.
    - ``invalid_points``: the rest's samples left out because their voltage is missing (NaN).
    """

    cell_id: str | None
    rest_step: int
    rest_start_second: float
    rest_duration_day: float
    invalid_points: int
    start_voltage_volt: float
    end_voltage_volt: float
    k_value_mv_per_day: float
    k_ci_low_mv_per_day: float
    k_ci_high_mv_per_day: float
    confidence: float
    window_start_day: float
    window_end_day: float
    relaxation_end_day: float
    relaxation_complete: bool
    relaxation_amplitude_mv: float
    relaxation_tau_hour: list[float]
    fit_converged: bool
    fit_rmse_mv: float
    overpotential_mv: float
    dqdv_ah_per_v: float
    leakage_current_a: float
    leakage_ci_low_a: float
    leakage_ci_high_a: float
    capacity_lost_ah: float
    charge_capacity_ah: float
    threshold_mv_per_day: float
    verdict: str
    rest_needed_day: float
    method: str
    notes: list[str] = field(default_factory=list)
    fit: dict = field(default_factory=dict)
    curve: pd.DataFrame | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """The scalar results as a flat dict (one row of a population table)."""
        d = asdict(self)
        d.pop("curve")
        d.pop("fit")
        d["relaxation_tau_hour"] = ", ".join(f"{x:.3g}" for x in self.relaxation_tau_hour)
        d["notes"] = "; ".join(self.notes)
        return d


def self_discharge(
    df: pd.DataFrame,
    *,
    rest_step: int | None = None,
    ocv: pd.DataFrame | None = None,
    method: str = "fit",
    n_exp: int = 2,
    start_day: float | None = None,
    relaxation_tol_mv: float = 0.1,
    max_tau_day: float = 1.0,
    threshold_mv_per_day: float = 2.0,
    confidence: float = 0.95,
    cell_id: str | None = None,
) -> SelfDischargeResult:
    """K-value, leakage current, capacity lost and QC verdict of the rest after a charge.

    Parameters
    ----------
    df : pandas.DataFrame
        BDF table holding a charge followed by a rest (one cell).
    rest_step : int, optional
        ``step_count`` of the rest (default: the longest rest that follows a charge).
    ocv : pandas.DataFrame, optional
        The cell's OCV curve, columns ``capacity_ah`` and ``voltage_volt``; default: the
        preceding charge curve shifted by its overpotential.
    method : {"fit", "linear"}
        ``"fit"``: relaxation + line fit, then the line over the relaxed part;
        ``"linear"``: only a line from ``start_day`` (default 1 day) to the end.
    n_exp : int
        Number of relaxation exponentials (1–3).
    start_day : float, optional
        Start of the K-value window in days after the rest began (>= 0; overrides the fitted
        relaxation end, and the window is still checked against the relaxation: Notes, 4).
    relaxation_tol_mv : float
        The relaxation is over when the fitted exponentials sum below this (mV).
    max_tau_day : float
        Upper bound of the relaxation time constants (days; default 1 day: cells relax
        over minutes to hours after a charge, and a longer "relaxation" would be confused
        with the slow curvature of the leakage-driven decay).
    threshold_mv_per_day : float
        QC limit on the K-value (mV/day, > 0): the verdict is ``"fail"`` when the K-value's
        interval lies above it, ``"pass"`` when at or below it (Notes, 6).
    confidence : float
        Level of the confidence intervals: the K-value's a Student t on the OLS slope (AR(1)
        effective sample size), the leakage's also holds the OCV curve's uncertainty
        where the rest went (see the Notes).
    cell_id : str, optional
        Label carried into the result.

    Returns
    -------
    SelfDischargeResult

    Notes
    -----
    1. The rest that follows a charge is found (:func:`~batteryzoom.cycling.find_rests`).
    2. ``V(t) = OCV(q0 - L t) + sum_j a_j exp(-t / tau_j)`` is fitted to the whole rest by
       non-linear least squares: a constant leakage ``L`` (Ah/day) drains the charge, so the
       voltage follows the OCV curve down, while the exponentials (two by default, time
       constants at most ``max_tau_day`` = 1 day) relax the polarisation. The OCV curve is
       the cell's own charge curve shifted down by a fitted overpotential, or an OCV curve
       the caller supplies (without either: a line with slight curvature replaces
       ``OCV(q0 - L t)``).
    3. The relaxation ends where the fitted exponentials have decayed below
       ``relaxation_tol_mv`` (0.1 mV); the K-value is the slope of a straight line fitted by
       ordinary least squares to the voltage from there to the end of the rest, with a
       Student-t confidence interval whose degrees of freedom are reduced to the effective
       sample size of serially correlated (AR(1)) residuals (``start_day=`` replaces the
       fitted end by a fixed day, ``method="linear"`` skips the fit altogether). The
       leakage-driven decay is not quite straight (the short drains less as the voltage
       falls, dQ/dV changes along the OCV), so a K-value belongs to its window
       (``window_start_day``, ``window_end_day``).
    4. **When the rest identifies the relaxation** (``relaxation_complete``), and so a
       K-value. A short rest cannot tell a slow relaxation from a leakage: over 6 h, a
       6-hour relaxation falls almost as a line, and a healthy cell's rest cut to 6-12 h
       read 4-12 mV/day (truth 0.3-0.9). Three conditions, all needed:

       a. the relaxation's longest time constant is *resolved*: the rest spans at least 6
          times the upper end of its confidence interval (the fit bounds the time constants
          at a fifth of the rest, so one at that bound says only that the relaxation is slow);
       b. the fitted relaxation falls below ``relaxation_tol_mv`` within the rest's first four
          fifths, and the window from there holds 5 samples at least;
       c. over that window, the relaxation the data allow moves the line's slope by at most
          the K-value's noise (its interval's half-width) or 20 % of the K-value: what is
          left of the fitted relaxation, plus a slower one (time constant ``max_tau_day``)
          as large as the rest cannot rule out (its amplitude, added to the fit and
          linearised there, at its upper confidence bound). The interval's lower end is
          widened by that amount: a relaxation after a charge only steepens the fall.

       When one fails, the verdict is ``inconclusive``; the K-value is bounded, not
       measured (from 0 to the upper end of the voltage's own slope over the rest's last
       fifth, which holds the relaxation's fall too); a note says which condition failed
       and ``rest_needed_day`` how long a rest would do: ``6 * max_tau_day + 1`` days (7)
       resolves any relaxation the fit allows, and less when the fitted relaxation and the
       rest's noise say so. ``method="linear"`` has no model to check: its window is the
       caller's (``start_day``, default day 1), refused when it leaves less than the rest's
       last fifth.

       On the twin (three lots of 13 cells, ``toolkit/scripts/self_discharge_accuracy.py``),
       rests cut to 1 h, 6 h, 12 h, 24 h, 3 d, 7 d and 25 d: the interval holds the true
       leakage-driven slope over its own window for 273 of 273 (before these conditions: 76;
       0 of 117 up to 12 h, where every cell failed, 3 of 39 at 24 h, 10 at 3 d, 24 at 7 d);
       no healthy cell fails at any length; up to 24 h every verdict is inconclusive; at 3 d
       27 of 39 rests give a K-value (within 3 % of the truth, median) and the defective
       cells fail; from 7 d all do (0.3 %; 0.02 % at 25 d, where the window still starts
       where the relaxation ends, ~1.2 days).
    5. The leakage current is ``L`` of the fit (``method="linear"``: the K-value times
       dQ/dV, the OCV curve's least-squares slope over the voltages the line spans; the
       charge curve shifted down by its last voltage minus the line at the rest's start).
       Its interval adds to the fit's (or the K-value's) uncertainty that of the OCV curve
       where the rest went: the charge curve is a noisy measurement of the OCV's shape, and
       a healthy cell's 25-day rest spans only its last ~10 mAh, a few samples. A caller's
       ``ocv=`` curve is taken as exact. On the twin (three lots, 39 cells) the fit's
       leakage is within 2 % of the true mean over the window and its interval (median
       half-width 3.8 %) holds it for 39; ``method="linear"`` within 7.6 % (median 1.9 %),
       held for 31 (``toolkit/scripts/self_discharge_accuracy.py``). Without a K-value, the
       leakage's interval runs from 0 to the K-value's upper bound times dQ/dV.
    6. The verdict (one rule for a cell, its lot and :func:`~batteryzoom.cycling.cycler_qc`):
       ``inconclusive`` without a K-value; ``fail`` when the K-value's whole interval lies
       above ``threshold_mv_per_day``; ``pass`` when it lies at or below it;
       ``inconclusive`` when it holds the threshold (a note gives the rest that would
       decide). A comparison with NaN is false, and only ``pass`` needs one to be true: a
       NaN never passes.

    Missing voltages (NaN) in the rest are left out and counted (``invalid_points``); the
    record's time must increase and its voltages be volts (else
    :class:`~batteryzoom.errors.InputError`, naming the rows or the column).

    Examples
    --------
    The twin's defective cell: a 25-day rest after a 1 A charge to 4.2 V.

    >>> import batteryzoom as bz
    >>> sd = bz.data.load("twin/cycling-self-discharge")
    >>> r = bz.cycling.self_discharge(sd, cell_id=sd.attrs["cell"])
    >>> print(f"{r.cell_id}: K = {r.k_value_mv_per_day:.2f} mV/day from day {r.window_start_day:.2f}, "
    ...       f"leakage {r.leakage_current_a * 1e3:.2f} mA, {r.verdict}")
    SN-0009: K = 6.29 mV/day from day 1.34, leakage 0.58 mA, fail

    The same rest stopped after 12 hours: its relaxation (time constants of 0.5 and 6 h)
    cannot be told from the leakage yet, so there is no K-value, only bounds, and no verdict.

    >>> from batteryzoom.data.twin.cycling import cut_rest
    >>> short, _ = cut_rest(sd, 0.5)
    >>> r = bz.cycling.self_discharge(short)
    >>> print(f"{r.verdict}: K between {r.k_ci_low_mv_per_day:.0f} and {r.k_ci_high_mv_per_day:.1f} mV/day; "
    ...       f"rest {r.rest_needed_day:.0f} days")
    inconclusive: K between 0 and 21.7 mV/day; rest 7 days
    """
    _check(df)
    _check_options(method, n_exp, confidence, start_day, relaxation_tol_mv, max_tau_day, threshold_mv_per_day)
    rest_step, rows = _rest_rows(df, rest_step)
    notes: list[str] = []
    t, v, n_invalid = _valid_rest(df, rows, rest_step, notes)
    t_day = (t - t[0]) / 86400.0
    dur = float(t_day[-1])
    q_c, v_c, charge_cap = _ocv_curve(df, rows[0], ocv, notes)

    fit = None
    if method == "fit":
        fit = _fit_rest(t_day, v, q_c, v_c, ocv is None, n_exp, max_tau_day, relaxation_tol_mv, confidence)
        if fit.why:
            notes.append(fit.why)
    kw = _k_value(t_day, v, fit, start_day, confidence, max_tau_day, relaxation_tol_mv, rest_step, notes)

    nan = float("nan")
    leak, leak_err, eta = (fit.leak, fit.leak_err, fit.eta) if fit is not None else (nan, nan, nan)
    leak_lo, leak_hi = leak - leak_err, leak + leak_err
    dqdv_v = nan
    if q_c is not None:
        dqdv_v, eta, leak, leak_err = _leakage_from_ocv(q_c, v_c, eta, kw.line, kw.win, kw.k, kw.k_err, method,
                                                       ocv is None, confidence, leak, leak_err, notes)
        leak_lo, leak_hi = leak - leak_err, leak + leak_err
        if not kw.identified:
            # no K-value: the leakage is only bounded, as the K-value is (0 to its upper bound)
            leak_lo, leak_hi = 0.0, float(np.nanmax([leak_hi, kw.k_high * 1e-3 * dqdv_v / 24.0]))
            leak = float(np.clip(leak, leak_lo, leak_hi)) if np.isfinite(leak) else leak
    capacity_lost = leak * dur * 24.0 if np.isfinite(leak) else nan
    verdict = _verdict(kw.identified, kw.k_low, kw.k_high, threshold_mv_per_day)
    rest_needed = kw.rest_needed_day
    if verdict == "inconclusive" and kw.identified:
        rest_needed = _rest_to_decide(kw, threshold_mv_per_day, notes)
    curve = pd.DataFrame({"time_day": t_day, "voltage_volt": v,
                          "fit_volt": fit.curve if fit is not None else kw.line, "linear_volt": kw.line})
    return SelfDischargeResult(
        cell_id=cell_id,
        rest_step=int(rest_step),
        rest_start_second=float(t[0]),
        rest_duration_day=dur,
        invalid_points=int(n_invalid),
        start_voltage_volt=float(v[0]),
        end_voltage_volt=float(v[-1]),
        k_value_mv_per_day=float(kw.k),
        k_ci_low_mv_per_day=float(kw.k_low),
        k_ci_high_mv_per_day=float(kw.k_high),
        confidence=confidence,
        window_start_day=float(kw.start),
        window_end_day=float(kw.end),
        relaxation_end_day=float(fit.relaxation_end_day if fit is not None else 0.0),
        relaxation_complete=bool(kw.identified),
        relaxation_amplitude_mv=fit.amplitude_mv if fit is not None else 0.0,
        relaxation_tau_hour=fit.tau_hour if fit is not None else [],
        fit_converged=bool(fit is not None and fit.converged),
        fit_rmse_mv=fit.rmse_mv if fit is not None else nan,
        overpotential_mv=float(eta * 1e3),
        dqdv_ah_per_v=float(dqdv_v),
        leakage_current_a=float(leak),
        leakage_ci_low_a=float(leak_lo),
        leakage_ci_high_a=float(leak_hi),
        capacity_lost_ah=float(capacity_lost),
        charge_capacity_ah=float(charge_cap),
        threshold_mv_per_day=float(threshold_mv_per_day),
        verdict=verdict,
        rest_needed_day=float(rest_needed),
        method=method,
        notes=notes,
        fit=fit.params if fit is not None else {},
        curve=curve,
    )


# ------------------------------------------------------------- the steps of self_discharge


def _check_options(method: str, n_exp: int, confidence: float, start_day: float | None, relaxation_tol_mv: float,
                   max_tau_day: float, threshold_mv_per_day: float) -> None:
    if method not in ("fit", "linear"):
        raise InputError(f"method must be 'fit' or 'linear', got {method!r}")
    if not 1 <= n_exp <= 3:
        raise InputError(f"n_exp must be 1, 2 or 3, got {n_exp}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}: e.g. 0.95, not 95")
    _check_threshold(threshold_mv_per_day)
    _check_positive("relaxation_tol_mv", relaxation_tol_mv, "mV", "e.g. 0.1")
    _check_positive("max_tau_day", max_tau_day, "days", "e.g. 1.0 (cells relax over minutes to hours)")
    if start_day is not None and not (np.isfinite(start_day) and start_day >= 0):
        raise InputError(f"start_day={start_day!r}: the K-value window starts that many days after the rest "
                         "began, so it must be a number >= 0 (or None: where the fitted relaxation ends)")


def _valid_rest(df: pd.DataFrame, rows: np.ndarray, rest_step: int,
                notes: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """The rest's times (s) and voltages (V) with the rows whose voltage is missing (NaN)
    dropped, and how many were; refused when fewer than 8 remain or they span no time."""
    t = df["test_time_second"].to_numpy(np.float64)[rows]
    v = df["voltage_volt"].to_numpy(np.float64)[rows]
    ok = np.isfinite(v)
    n_invalid = int((~ok).sum())
    if n_invalid:
        notes.append(f"{n_invalid} of the rest's {len(v)} voltages are missing (NaN): left out")
    t, v = t[ok], v[ok]
    if len(t) < 8:
        raise InputError(
            f"rest step {rest_step} has {len(t)} valid voltages ({n_invalid} of {len(ok)} are NaN); at least 8 "
            "are needed: check the record's voltage_volt column or pass rest_step= for another rest")
    if t[-1] <= t[0]:
        raise InputError(f"rest step {rest_step}'s valid voltages all carry the time {t[0]:g} s: the rest spans no "
                         "time; check test_time_second")
    return t, v, n_invalid


def _rest_rows(df: pd.DataFrame, rest_step: int | None) -> tuple[int, np.ndarray]:
    """The rest's ``step_count`` (default: the longest rest after a charge) and its rows."""
    st = steps(df)
    if rest_step is None:
        rests = find_rests(df)
        if len(rests) == 0:
            raise InputError("the record has no rest that follows a charge; pass rest_step=")
        rest_step = int(rests.index[0])
    elif rest_step not in st.index or st.loc[rest_step, "step_type"] != "rest":
        raise InputError(f"rest_step={rest_step} is not a rest step of this record")
    return rest_step, np.flatnonzero((df["step_count"] == rest_step).to_numpy())


def _ocv_curve(df: pd.DataFrame, rest_first_row: int, ocv: pd.DataFrame | None,
               notes: list[str]) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """The OCV curve Q -> V the rest walks down: ``(q_ah, v_volt, charge capacity)``.

    The charge before the rest (its overpotential is fitted later), or the caller's OCV
    curve (its capacity position at the rest start fitted instead). Without either, a note
    says so and the leakage is not estimated: ``(None, None, nan)``.
    """
    charge_cap = float("nan")
    try:
        if ocv is None:
            q_c, v_c = _ocv_from_charge(df, rest_first_row, 0.0)
            charge_cap = float(q_c[-1] - q_c[0])
        else:
            if not {"capacity_ah", "voltage_volt"} <= set(ocv.columns):
                raise InputError("ocv must have columns capacity_ah and voltage_volt")
            order = np.argsort(ocv["capacity_ah"].to_numpy())
            q_c = ocv["capacity_ah"].to_numpy(np.float64)[order]
            v_c = ocv["voltage_volt"].to_numpy(np.float64)[order]
    except InputError as exc:
        notes.append(f"{exc}; leakage not estimated")
        q_c = v_c = None
    return q_c, v_c, charge_cap


@dataclass
class _RestFit:
    """The relaxation + leakage (or + line) fit of one rest, as :func:`self_discharge` uses it."""

    p: np.ndarray  # fitted parameters: [eta or q0, L, a_1, log tau_1, ...] or [v_inf, k, c2, a_1, ...]
    cov: np.ndarray
    converged: bool
    why: str  # why the fit is not to be trusted ("" when it is)
    curve: np.ndarray  # the model at the rest's times (V)
    relax: np.ndarray  # its relaxation part alone (V)
    inflation: float  # AR(1) variance inflation of the residuals
    leak: float  # Ah/h = A (nan without an OCV curve)
    leak_err: float  # A, half-width of its interval
    eta: float  # overpotential (V): fitted, 0 for a caller's OCV, nan without one
    params: dict
    amplitude_mv: float
    tau_hour: list[float]
    rmse_mv: float
    relaxation_end_day: float
    model: Any = None  # model(t_day, *p) -> V
    log_tau_se: list[float] = field(default_factory=list)  # standard errors of the fitted log tau_j


def _fit_rest(t_day: np.ndarray, v: np.ndarray, q_c: np.ndarray | None, v_c: np.ndarray | None, own_charge: bool,
              n_exp: int, max_tau_day: float, relaxation_tol_mv: float, confidence: float) -> _RestFit:
    """Fit the rest (OCV walk-down with an OCV curve, a curved line without) and read off the
    relaxation, the leakage and its interval (see :func:`self_discharge`'s Notes, 2 and 5)."""
    leak = leak_err = eta = float("nan")
    if q_c is not None:
        model, p, cov, converged, why = _fit_leakage_model(t_day, v, q_c, v_c, own_charge, n_exp, max_tau_day)
        tq = stats.t.ppf(0.5 + confidence / 2, max(len(t_day) - len(p), 1))
        leak = p[1] / 24.0
        leak_err = float(np.sqrt(cov[1, 1])) / 24.0 * tq if np.isfinite(cov[1, 1]) else float("nan")
        eta = p[0] if own_charge else 0.0
        k0 = 2
        params = {"overpotential_volt" if own_charge else "capacity_at_rest_start_ah": float(p[0]),
                  "leakage_ah_per_day": float(p[1])}
    else:
        model = _relax_model(n_exp)
        p, cov, converged, why = _fit_relaxation(t_day, v, n_exp, max_tau_day)
        k0 = 3
        params = {"v_inf_volt": float(p[0]), "k_volt_per_day": float(p[1]), "curvature_volt_per_day2": float(p[2])}
    relax = _relaxation(t_day, p, n_exp, first=k0)
    fit_curve = model(t_day, *p)
    rmse_mv = float(np.sqrt(np.mean((fit_curve - v) ** 2)) * 1e3)
    # the fit's covariance assumes independent residuals; widen its intervals by the
    # AR(1) variance inflation sqrt((1 + rho) / (1 - rho)) of the actual residuals
    rho_fit = _lag1_correlation(v - fit_curve)
    inflation = float(np.sqrt((1 + rho_fit) / (1 - rho_fit)))
    if np.isfinite(leak_err):
        leak_err *= inflation
    if q_c is not None and own_charge and np.isfinite(leak):
        # the fit takes the charge curve's shape as the OCV's: its noise where the rest
        # went (the last |L| * duration of the charge) adds to the leakage's interval
        span_ah = abs(p[1]) * float(t_day[-1])
        s_ocv, se_ocv, n_ocv = _local_ocv_slope(q_c, v_c, q_c >= q_c.max() - span_ah)
        if np.isfinite(se_ocv) and s_ocv > 0 and n_ocv > 2:
            leak_err = float(np.hypot(leak_err, abs(leak) * se_ocv / s_ocv
                                      * stats.t.ppf(0.5 + confidence / 2, n_ocv - 2)))
    params.update(amplitudes_volt=[float(p[k0 + 2 * j]) for j in range(n_exp)],
                  tau_day=[float(np.exp(p[k0 + 1 + 2 * j])) for j in range(n_exp)])
    return _RestFit(
        p=p, cov=cov, converged=converged, why=why, curve=fit_curve, relax=relax, inflation=inflation,
        leak=leak, leak_err=leak_err, eta=eta, params=params,
        amplitude_mv=float(sum(p[k0 + 2 * j] for j in range(n_exp)) * 1e3),
        tau_hour=[float(np.exp(p[k0 + 1 + 2 * j]) * 24) for j in range(n_exp)],
        rmse_mv=rmse_mv, relaxation_end_day=_relaxation_end(t_day, relax, relaxation_tol_mv), model=model,
        log_tau_se=[float(np.sqrt(cov[k0 + 1 + 2 * j, k0 + 1 + 2 * j]) * inflation) for j in range(n_exp)],
    )


def _relaxation_end(t_day: np.ndarray, relax: np.ndarray, relaxation_tol_mv: float) -> float:
    """The first time after which the relaxation stays below ``relaxation_tol_mv`` (days;
    the rest's duration when it never does, 0 when it never exceeds it)."""
    dur = float(t_day[-1])
    above = np.flatnonzero(np.abs(relax) * 1e3 > relaxation_tol_mv)
    return float(t_day[above[-1] + 1]) if len(above) and above[-1] + 1 < len(t_day) else (
        dur if len(above) else 0.0)


def _leakage_from_ocv(q_c, v_c, eta, line, win, k, k_err, method, own_charge, confidence, leak, leak_err,
                      notes) -> tuple[float, float, float, float]:
    """dQ/dV at the rest voltage from the (shifted) OCV curve; for ``method="linear"`` the
    leakage is the K-value times it. Returns ``(dqdv_ah_per_v, eta, leak, leak_err)``."""
    if method == "linear" and own_charge:
        # no fit: the overpotential is the charge's last voltage minus the relaxed line
        # at the rest's start (where the charge ended on the OCV curve)
        eta = float(v_c[-1] - line[0])
    v_shift = v_c - (eta if np.isfinite(eta) else 0.0)
    _, (vlo, vhi) = _q_of_v(q_c, v_shift)
    seg = line[win] if win.any() else line
    vm = float(np.mean(seg))
    # dQ/dV where the rest went: the OCV curve's least-squares slope over the voltages
    # the line spans (a two-point difference across a few mV is mostly noise, and was
    # cut short where the span reaches the end of the charge)
    s_ocv, se_ocv, n_ocv = _local_ocv_slope(q_c, v_shift, (v_shift >= seg.min()) & (v_shift <= seg.max()))
    dqdv_v = 1.0 / s_ocv if s_ocv > 0 else float("nan")
    if not vlo <= vm <= vhi:
        notes.append(f"rest voltage {vm:.4f} V is outside the OCV curve's {vlo:.4f}-{vhi:.4f} V")
    if method == "linear":
        leak = dqdv_v * k * 1e-3 / 24.0
        rel_ocv = se_ocv / s_ocv * stats.t.ppf(0.5 + confidence / 2, n_ocv - 2) if n_ocv > 2 else np.nan
        leak_err = abs(leak) * float(np.hypot(k_err / k, rel_ocv)) if k else float("nan")
    return dqdv_v, eta, leak, leak_err


# ------------------------------------------------------------- the models


def _relax_model(n_exp: int):
    """``v_inf - k t - c2 t^2 + sum_j a_j exp(-t / exp(log_tau_j))`` (t in days)."""
    def f(t, v_inf, k, c2, *p):
        out = v_inf - k * t - c2 * t * t
        for j in range(n_exp):
            out = out + p[2 * j] * np.exp(-t / np.exp(p[2 * j + 1]))
        return out
    return f


def _relaxation(t_day: np.ndarray, p: np.ndarray, n_exp: int, first: int = 3) -> np.ndarray:
    """The exponentials of a fitted model alone; their parameters start at ``p[first]``."""
    return sum(p[first + 2 * j] * np.exp(-t_day / np.exp(p[first + 1 + 2 * j])) for j in range(n_exp))


def _exponential_start(dur: float, max_tau_day: float, n_exp: int, amp: float) -> tuple[list, list, list]:
    """Start values and bounds ``(p0, lo, hi)`` of ``n_exp`` relaxation exponentials
    (amplitude, log tau): time constants spread geometrically below ``min(dur / 5,
    max_tau_day)``, the rest's start voltage above its late trend split evenly."""
    tau_hi = max(min(dur / 5, max_tau_day), 2e-3)
    taus = np.geomspace(max(dur / 200, 1e-3), tau_hi / 2, n_exp)
    p0, lo, hi = [], [], []
    for tau in taus:
        p0 += [amp / n_exp, np.log(tau)]
        lo += [-1.0, np.log(max(dur / 5000, 1e-5))]
        hi += [1.0, np.log(tau_hi)]
    return p0, lo, hi


def _curve_fit(model, t_day: np.ndarray, v: np.ndarray, p0, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Bounded least squares of ``model`` to the rest (time from the rest's start)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        return optimize.curve_fit(model, t_day - t_day[0], v, p0=p0, bounds=(lo, hi), max_nfev=400,
                                  method="trf", x_scale="jac")


def _late_line(t_day: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of a line through the rest's second half (start values)."""
    dur = t_day[-1] - t_day[0]
    tail = t_day >= t_day[0] + 0.5 * dur
    return np.polyfit(t_day[tail], v[tail], 1) if tail.sum() >= 3 else (0.0, v[-1])


def _fit_relaxation(t_day: np.ndarray, v: np.ndarray, n_exp: int,
                    max_tau_day: float = 1.0) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """Least-squares fit of ``v_inf - k t - c t^2 + sum a_j exp(-t/tau_j)`` (t, tau in days).

    The quadratic term takes the slow curvature of the leakage-driven decay (dQ/dV changes
    as the voltage falls), so that the exponentials describe only the relaxation; their
    time constants are bounded by ``max_tau_day`` and by a fifth of the rest.
    """
    dur = t_day[-1] - t_day[0]
    slope, icpt = _late_line(t_day, v)
    e0, elo, ehi = _exponential_start(dur, max_tau_day, n_exp, max(v[0] - icpt, 1e-4))
    p0 = [icpt, -slope, 0.0] + e0
    lo = [-np.inf, -np.inf, -np.inf] + elo
    hi = [np.inf, np.inf, np.inf] + ehi
    try:
        p, cov = _curve_fit(_relax_model(n_exp), t_day, v, p0, lo, hi)
        ok = bool(np.all(np.isfinite(p))) and bool(np.all(np.isfinite(np.diag(cov))))
        return p, cov, ok, "" if ok else "fit covariance is not finite (parameters degenerate)"
    except (RuntimeError, ValueError) as exc:
        return np.asarray(p0, float), np.full((len(p0), len(p0)), np.nan), False, f"relaxation fit failed: {exc}"


def _fit_leakage_model(t_day, v, q_c, v_c, own_charge: bool, n_exp: int, max_tau_day: float):
    """Fit ``V(t) = OCV(q0 - L t) + sum_j a_j exp(-t / tau_j)`` to a rest (t in days).

    ``OCV(q)`` is the cell's charge curve minus an overpotential ``eta`` (fitted; ``q0`` is
    where the charge ended) when ``own_charge``, else the supplied OCV curve (``q0``
    fitted). ``L`` is the leakage in Ah/day: a constant current drains the state of
    charge, so the voltage follows the OCV curve down; its slope dV/dt = -L / (dQ/dV).
    Parameters: ``[eta or q0, L, a_1, log tau_1, ...]``. The curve is first averaged in
    400 equal capacity bins so the model is smooth (instrument noise is not a feature).
    """
    dur = t_day[-1] - t_day[0]
    qv, vv = _binned_curve(q_c, v_c)
    q_end = float(qv[-1])
    slope, icpt = _late_line(t_day, v)
    q_of_v, _ = _q_of_v(qv, vv)

    if own_charge:
        eta0 = float(np.interp(q_end, qv, vv) - icpt)
        dqdv0 = float((q_of_v(icpt + eta0 + 0.01) - q_of_v(icpt + eta0 - 0.01)) / 0.02)

        def model(t, first, leak_ah_day, *p):
            out = np.interp(q_end - leak_ah_day * t, qv, vv) - first
            for j in range(n_exp):
                out = out + p[2 * j] * np.exp(-t / np.exp(p[2 * j + 1]))
            return out

        p0 = [eta0, max(-slope * dqdv0, 1e-6)]
        lo, hi = [-0.5, -1.0], [0.5, 10.0 * max(qv[-1] - qv[0], 1e-3)]
    else:
        q00 = float(q_of_v(icpt))
        dqdv0 = float((q_of_v(icpt + 0.01) - q_of_v(icpt - 0.01)) / 0.02)

        def model(t, first, leak_ah_day, *p):
            out = np.interp(first - leak_ah_day * t, qv, vv)
            for j in range(n_exp):
                out = out + p[2 * j] * np.exp(-t / np.exp(p[2 * j + 1]))
            return out

        p0 = [q00, max(-slope * dqdv0, 1e-6)]
        lo, hi = [qv[0], -1.0], [qv[-1], 10.0 * max(qv[-1] - qv[0], 1e-3)]
    e0, elo, ehi = _exponential_start(dur, max_tau_day, n_exp, max(v[0] - icpt, 1e-4))
    p0, lo, hi = p0 + e0, lo + elo, hi + ehi
    p0 = np.clip(p0, np.asarray(lo) + 1e-12, np.asarray(hi) - 1e-12)
    try:
        p, cov = _curve_fit(model, t_day, v, p0, lo, hi)
        ok = bool(np.all(np.isfinite(p))) and bool(np.isfinite(cov[1, 1]))
        return model, p, cov, ok, "" if ok else "fit covariance is not finite (parameters degenerate)"
    except (RuntimeError, ValueError) as exc:
        p0 = np.asarray(p0, float)
        return model, p0, np.full((len(p0), len(p0)), np.nan), False, f"relaxation fit failed: {exc}"


# ------------------------------------------------------------- the OCV curve


def _ocv_from_charge(df: pd.DataFrame, rest_first_row: int, overpotential_v: float) -> tuple[np.ndarray, np.ndarray]:
    """Q(V) of the charge that precedes the rest, shifted down by the overpotential."""
    st = df["step_type"].astype(str).to_numpy()
    j = rest_first_row - 1
    charge_rows = []
    # walk back over the contiguous charge steps (e.g. CC then CV) before the rest
    while j >= 0 and st[j] in _CHARGE:
        charge_rows.append(j)
        j -= 1
    if not charge_rows:
        raise InputError("no charge precedes the rest: pass ocv= (capacity_ah, voltage_volt)")
    rows = np.array(charge_rows[::-1])
    sub = df.iloc[rows]
    sub = sub[sub["step_type"].astype(str) == "cc_charge"] if (sub["step_type"] == "cc_charge").sum() > 10 else sub
    q_step = sub["charging_capacity_ah"].to_numpy(np.float64)
    steps_ = sub["step_count"].to_numpy()
    # continuous capacity over consecutive steps
    offs = np.zeros(len(q_step))
    starts, ends = _step_bounds(steps_)
    acc = 0.0
    for s, e in zip(starts, ends):
        offs[s:e + 1] = acc
        acc += q_step[e]
    q = q_step + offs
    v = sub["voltage_volt"].to_numpy(np.float64) - overpotential_v
    return q, v


def _binned_curve(q_c: np.ndarray, v_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Q -> V curve averaged in 400 equal capacity bins, its ends extended linearly
    (slope of the last 5 bins) to the measured first and last capacity."""
    order = np.argsort(q_c, kind="stable")
    q_sorted, v_sorted = q_c[order], v_c[order]
    edges = np.linspace(q_sorted[0], q_sorted[-1], 401)
    which = np.clip(np.searchsorted(edges, q_sorted, side="right") - 1, 0, 399)
    counts = np.bincount(which, minlength=400)
    good = counts > 0
    qv = (np.bincount(which, q_sorted, 400)[good] / counts[good])
    vv = (np.bincount(which, v_sorted, 400)[good] / counts[good])
    qv, idx = np.unique(qv, return_index=True)
    vv = vv[idx]
    # bin centres stop half a bin short of the curve's ends: extend both ends linearly
    if len(qv) >= 6:
        hi_slope = np.polyfit(qv[-5:], vv[-5:], 1)[0]
        lo_slope = np.polyfit(qv[:5], vv[:5], 1)[0]
        qv = np.r_[q_sorted[0], qv, q_sorted[-1]]
        vv = np.r_[vv[0] - lo_slope * (qv[1] - qv[0]), vv, vv[-1] + hi_slope * (qv[-1] - qv[-2])]
        qv, idx = np.unique(qv, return_index=True)
        vv = vv[idx]
    return qv, vv


def _q_of_v(q: np.ndarray, v: np.ndarray):
    """Q as a function of V along a curve made monotonic in V, and its voltage range."""
    vm = np.maximum.accumulate(v)
    vm, idx = np.unique(vm, return_index=True)
    qm = q[idx]
    return lambda x: np.interp(x, vm, qm), (vm[0], vm[-1])


# the fewest charge samples a local OCV slope is taken over
_OCV_MIN_POINTS = 8


def _local_ocv_slope(q: np.ndarray, v: np.ndarray, select: np.ndarray) -> tuple[float, float, int]:
    """dV/dQ of the charge curve over the ``select``ed samples by least squares, widened to
    the :data:`_OCV_MIN_POINTS` samples nearest them when fewer: ``(slope V/Ah, its
    standard error, samples)``. The charge curve is a noisy measurement of the OCV's shape;
    this is how well it pins the slope where the rest's voltage went."""
    idx = np.flatnonzero(select)
    if idx.size < _OCV_MIN_POINTS:
        centre = int(np.clip(np.round(idx.mean()) if idx.size else len(q) - 1, 0, len(q) - 1))
        lo = int(np.clip(centre - _OCV_MIN_POINTS // 2, 0, max(len(q) - _OCV_MIN_POINTS, 0)))
        idx = np.arange(lo, min(lo + _OCV_MIN_POINTS, len(q)))
    if idx.size < 3 or np.ptp(q[idx]) <= 0:
        return float("nan"), float("nan"), int(idx.size)
    res = stats.linregress(q[idx], v[idx])
    return float(res.slope), float(res.stderr), int(idx.size)
