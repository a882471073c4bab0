"""The K-value of a rest and its verdict: when a rest identifies the relaxation, and what
the data say when it does not.

:func:`batteryzoom.cycling.self_discharge` fits the rest (the relaxation + leakage model),
then asks this module for the K-value over the relaxed part of the rest (its Notes, 3-4 and
6, state the criteria): whether the rest identifies the relaxation, the K-value's window and
interval, or, when it does not, the bounds the data put on the K-value and how long a rest
would do; and the one verdict rule of a cell, its lot and the cycler pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ..errors import InputError

# the fit of a rest, a self_discharge._RestFit (not imported: self_discharge imports this module)
_RestFit = Any


def _lag1_correlation(resid: np.ndarray) -> float:
    """Lag-1 autocorrelation of residuals, clipped to [0, 0.999] (0 for 3 points or fewer)."""
    return float(np.clip(np.corrcoef(resid[:-1], resid[1:])[0, 1], 0.0, 0.999)) if len(resid) > 3 else 0.0


def _k_value_over_window(t_day: np.ndarray, v: np.ndarray, win: np.ndarray,
                         confidence: float) -> tuple[float, float, np.ndarray]:
    """K-value (mV/day), half-width of its interval and the line over the whole rest, from
    an OLS line over the window ``win`` (see :func:`self_discharge`'s Notes, 3)."""
    res = stats.linregress(t_day[win], v[win])
    k = -res.slope * 1e3
    # residuals of a voltage record are serially correlated (drift, curvature, temperature):
    # the slope's standard error is widened by the AR(1) effective sample size
    # n_eff = n (1 - rho) / (1 + rho), rho the lag-1 autocorrelation of the residuals
    resid = v[win] - (res.intercept + res.slope * t_day[win])
    rho = _lag1_correlation(resid)
    n_win = int(win.sum())
    n_eff = max(n_win * (1 - rho) / (1 + rho), 3.0)
    tq = stats.t.ppf(0.5 + confidence / 2, n_eff - 2)
    k_err = res.stderr * np.sqrt((n_win - 2) / (n_eff - 2)) * 1e3 * tq
    return k, k_err, res.intercept + res.slope * t_day


# the rest must span this many of the relaxation's longest time constant for the fit to
# tell it from the leakage's fall (the fit bounds it at a fifth of the rest: a time constant
# at or near that bound is the bound's, not the cell's)
_TAU_SPAN = 6.0
# the relaxation the data allow in a K-value window (the fitted one's rest and a slower one
# the rest cannot rule out) may move the K-value by at most its noise or this share of it:
# beyond that the K-value is more the relaxation model's than the data's (the interval makes
# room for it either way)
_RELAXATION_SHARE = 0.2


@dataclass
class _KWindow:
    """The K-value of a rest and the window it belongs to, or, unidentified, its bounds."""

    identified: bool  # a production K-value: the relaxation resolved and gone from the window
    k: float  # mV/day
    k_low: float
    k_high: float
    k_err: float  # half-width of the interval (the leakage's interval is scaled from it)
    line: np.ndarray  # the K-value's line over the whole rest (V)
    win: np.ndarray  # the window's samples
    start: float  # days
    end: float
    rest_needed_day: float  # nan when this rest was long enough


def _k_value(t_day: np.ndarray, v: np.ndarray, fit: _RestFit | None, start_day: float | None, confidence: float,
             max_tau_day: float, tol_mv: float, rest_step: int, notes: list[str]) -> _KWindow:
    """The K-value over the relaxed part of the rest, when the rest identifies it (see
    :func:`self_discharge`'s Notes, 3-4), else its bounds and the rest it would take."""
    dur = float(t_day[-1])
    nan = float("nan")
    if fit is None:  # method="linear": the caller's window, no relaxation model to check it by
        start = 1.0 if start_day is None else float(start_day)
        win = t_day >= start
        if win.sum() < 5 or start > 0.8 * dur:
            raise InputError(
                f"rest step {rest_step} ({dur:.3g} days) is too short for a K-value window starting at "
                f"day {start:.3g}: the window must hold the last fifth of the rest at least; pass an earlier "
                "start_day= or method='fit'")
        k, k_err, line = _k_value_over_window(t_day, v, win, confidence)
        return _KWindow(True, k, k - k_err, k + k_err, k_err, line, win, float(t_day[win][0]), dur, nan)
    why, pinned = _unresolved(fit, dur, max_tau_day, confidence)
    start = fit.relaxation_end_day if start_day is None else float(start_day)
    slow = _slow_relaxation(fit, t_day, v, max_tau_day, confidence) if fit.converged else float("inf")
    if not why:
        win = t_day >= start
        if win.sum() >= 5 and start <= 0.8 * dur:
            kw = _window(t_day, v, win, fit, slow, max_tau_day, confidence)
            room = kw.k - kw.k_err - kw.k_low
            if room <= max(kw.k_err, _RELAXATION_SHARE * abs(kw.k)):
                return kw
            why = (f"a relaxation the rest cannot rule out (time constants up to max_tau_day = {max_tau_day:g} day) "
                   f"could account for {room:.3g} of the {kw.k:.3g} mV/day the voltage falls from day {start:.3g}, "
                   f"more than the K-value's noise ({kw.k_err:.3g}) and {_RELAXATION_SHARE:.0%} of it")
        else:
            why = (f"the fitted relaxation falls below {tol_mv:g} mV only at day {start:.3g}, and a K-value's "
                   f"window must hold the last fifth of the {dur:.3g}-day rest at least")
    kw = _k_bounds(t_day, v, fit, confidence)
    # the rest that would do: the rule that resolves any relaxation the fit allows, or less
    # when the fitted relaxation and this rest's noise say so
    protocol = _TAU_SPAN * max_tau_day + 1.0
    kw.rest_needed_day = protocol if pinned else float(np.nanmin(
        [_rest_to_separate(fit, t_day, slow, max_tau_day, tol_mv, kw.k, confidence), protocol]))
    rule = (f"{protocol:.3g} days resolve any relaxation the fit allows: {_TAU_SPAN:g} x max_tau_day "
            f"({max_tau_day:g} day), then a day of the leakage's fall")
    how = f"a rest of about {kw.rest_needed_day:.3g} days is needed (" + (
        rule if pinned or kw.rest_needed_day >= protocol else
        f"from the fitted relaxation and this rest's noise; {rule}") + ")"
    notes.append(
        f"no K-value: {why}. The data only bound it: {kw.k_low:.3g} to {kw.k_high:.3g} mV/day over days "
        f"{kw.start:.3g}-{kw.end:.3g} (the voltage's own fall there, relaxation included, is the upper bound; "
        f"{kw.k:.3g} mV/day is the fit's leakage term); {how}. The verdict is inconclusive")
    return kw


def _unresolved(fit: _RestFit, dur: float, max_tau_day: float, confidence: float) -> tuple[str, bool]:
    """Why the fit does not identify the relaxation ("" when it does): it did not converge,
    or the relaxation's longest time constant is not resolved within the rest -- the rest
    must span :data:`_TAU_SPAN` of its upper confidence bound. Second: whether the rest
    tells nothing of how long the relaxation lasts (the fit failed, or its longest time
    constant sits at the fit's bound: the relaxation may be slower still)."""
    if not fit.converged:
        return ("the relaxation fit did not converge (pass method='linear' and start_day= to choose the window "
                "yourself)", True)
    j = int(np.argmax(fit.tau_hour))
    tau = fit.tau_hour[j] / 24.0
    tau_up = tau * float(np.exp(stats.norm.ppf(0.5 + confidence / 2) * fit.log_tau_se[j]))
    if dur >= _TAU_SPAN * tau_up:
        return "", False
    return (f"the relaxation's longest time constant is not resolved within the {dur * 24:.3g} h rest: the fit puts "
            f"it at {tau * 24:.3g} h (up to {tau_up * 24:.3g} h; the most a rest this long can show is "
            f"{min(dur / 5, max_tau_day) * 24:.3g} h), and a rest must span at least {_TAU_SPAN:g} of it for the "
            "relaxation to be told from the leakage", tau >= 0.9 * min(dur / 5, max_tau_day))


def _slow_relaxation(fit: _RestFit, t_day: np.ndarray, v: np.ndarray, tau_day: float,
                     confidence: float) -> float:
    """The largest amplitude (V) of a relaxation with time constant ``tau_day`` that the
    rest cannot rule out beside the fitted model: ``|a| + t sd(a)`` of its amplitude added
    to the model, linearised at the fit (inf when the two cannot be told apart). When the
    fit already holds a relaxation that slow, the uncertainty of its amplitude instead."""
    j = int(np.argmax(fit.tau_hour))
    if fit.tau_hour[j] / 24.0 >= tau_day / 1.5:
        amps = fit.params.get("amplitudes_volt", [])
        k0 = len(fit.p) - 2 * len(amps)
        se = float(np.sqrt(fit.cov[k0 + 2 * j, k0 + 2 * j])) * fit.inflation
        return stats.t.ppf(0.5 + confidence / 2, max(len(v) - len(fit.p), 1)) * se if np.isfinite(se) else np.inf
    base = fit.model(t_day, *fit.p)
    cols = []
    for j, pj in enumerate(fit.p):
        h = 1e-6 * max(abs(pj), 1e-3)
        q = np.array(fit.p, float)
        q[j] += h
        cols.append((fit.model(t_day, *q) - base) / h)
    x = np.column_stack(cols + [np.exp(-t_day / tau_day)])
    norm = np.linalg.norm(x, axis=0)
    if not np.all(norm > 0):
        return float("inf")
    xs = x / norm
    delta, *_ = np.linalg.lstsq(xs, v - base, rcond=None)
    dof = max(len(v) - xs.shape[1], 1)
    s2 = float(np.sum((v - base - xs @ delta) ** 2)) / dof * fit.inflation ** 2
    try:
        var = np.linalg.inv(xs.T @ xs)[-1, -1] * s2
    except np.linalg.LinAlgError:
        return float("inf")
    if not var >= 0:
        return float("inf")
    return float((abs(delta[-1]) + stats.t.ppf(0.5 + confidence / 2, dof) * np.sqrt(var)) / norm[-1])


def _window(t_day: np.ndarray, v: np.ndarray, win: np.ndarray, fit: _RestFit, slow_amp: float, slow_tau: float,
            confidence: float) -> _KWindow:
    """The K-value over the window ``win`` and its interval, whose lower end makes room for
    the relaxation the data allow there: the fitted one's remaining fall and a slow one of
    amplitude ``slow_amp`` (V) and time constant ``slow_tau`` (days). Both only steepen
    the voltage's fall after a charge, so the interval's upper end needs no room."""
    k, k_err, line = _k_value_over_window(t_day, v, win, confidence)
    relax_k = -np.polyfit(t_day[win], fit.relax[win], 1)[0] * 1e3
    slow_k = slow_amp * abs(np.polyfit(t_day[win], np.exp(-t_day[win] / slow_tau), 1)[0]) * 1e3
    room = max(relax_k, 0.0) + slow_k
    return _KWindow(True, k, k - k_err - room, k + k_err, k_err, line, win, float(t_day[win][0]), float(t_day[-1]),
                    float("nan"))


def _k_bounds(t_day: np.ndarray, v: np.ndarray, fit: _RestFit, confidence: float) -> _KWindow:
    """Bounds on the K-value of a rest that does not identify it, over the rest's last fifth.

    After a charge the polarisation relaxes from above, so the voltage falls faster than the
    leakage alone makes it: the line's slope there (its interval's upper end) bounds the
    K-value from above, and a leakage bounds it from below by 0. The point value is the fit's
    leakage term over the window, clipped to the bounds (it is no K-value).
    """
    dur = float(t_day[-1])
    win = t_day >= 0.8 * dur
    if win.sum() < 5:
        win = np.zeros(len(t_day), bool)
        win[-5:] = True
    k_tail, err_tail, line = _k_value_over_window(t_day, v, win, confidence)
    high = k_tail + err_tail
    low = min(0.0, k_tail - err_tail)
    k = k_tail
    if fit is not None and fit.converged:
        base = fit.curve - fit.relax
        slope = np.polyfit(t_day[win], base[win], 1)
        k, line = -slope[0] * 1e3, np.polyval(slope, t_day)
    k = float(np.clip(k, low, high))
    return _KWindow(False, k, low, high, (high - low) / 2, line, win, float(t_day[win][0]), dur, float("nan"))


def _rest_to_separate(fit: _RestFit, t_day: np.ndarray, slow_amp: float, slow_tau: float, tol_mv: float,
                      k_mv_per_day: float, confidence: float) -> float:
    """The shortest rest (days) whose K-value window :func:`_k_value` would accept, were the
    cell to go on as fitted: its longest time constant resolved, the fitted relaxation
    below ``tol_mv`` in the rest's first four fifths, and the relaxation the data allow
    (this rest's bound on a slow one, conservatively) within the K-value's noise (this
    rest's, for a longer window) or a fifth of it. nan when none up to 60 days would do."""
    amps = np.asarray(fit.params.get("amplitudes_volt", []), float)
    taus = np.asarray(fit.params.get("tau_day", []), float)
    if not len(taus) or not np.isfinite(slow_amp):
        return float("nan")
    late = t_day >= 0.5 * t_day[-1]
    step = float(np.median(np.diff(t_day[late]))) if late.sum() > 2 else float(t_day[-1] / len(t_day))
    sigma = fit.rmse_mv * fit.inflation  # mV
    z = stats.norm.ppf(0.5 + confidence / 2)
    t = np.linspace(0.0, 60.0, 60001)
    relax = (amps[:, None] * np.exp(-t[None, :] / taus[:, None])).sum(axis=0) * 1e3
    above = np.flatnonzero(np.abs(relax) > tol_mv)
    start = float(t[above[-1] + 1]) if len(above) else 0.0
    for rest in np.geomspace(max(t_day[-1] * 1.05, _TAU_SPAN * taus.max(), start / 0.8, 1e-3), 60.0, 80):
        ts = np.linspace(start, rest, 400)
        relax_k = -np.polyfit(ts, (amps[:, None] * np.exp(-ts[None, :] / taus[:, None])).sum(axis=0), 1)[0] * 1e3
        slow_k = slow_amp * abs(np.polyfit(ts, np.exp(-ts / slow_tau), 1)[0]) * 1e3
        span = rest - start
        k_err = z * sigma * np.sqrt(12.0 * step / span ** 3)
        if max(relax_k, 0.0) + slow_k <= max(k_err, _RELAXATION_SHARE * abs(k_mv_per_day)):
            return float(rest)
    return float("nan")


def _rest_to_decide(kw: _KWindow, threshold_mv_per_day: float, notes: list[str]) -> float:
    """The rest that would narrow the K-value's interval off the threshold, and a note.

    A line's slope interval narrows as the window's length to the power 3/2 (at a fixed
    sampling rate, with the noise of this one); the window must narrow it to below the
    K-value's distance from the threshold."""
    gap = abs(kw.k - threshold_mv_per_day)
    span = kw.end - kw.start
    needed = kw.start + span * (kw.k_err / gap) ** (2 / 3) if gap > 0 else float("nan")
    notes.append(
        f"the K-value's interval [{kw.k_low:.3g}, {kw.k_high:.3g}] mV/day holds the threshold "
        f"({threshold_mv_per_day:g} mV/day): the verdict is inconclusive"
        + (f"; a rest of about {needed:.3g} days would decide" if np.isfinite(needed) else ""))
    return needed


def _verdict(identified: bool, k_low_mv_per_day: float, k_high_mv_per_day: float, threshold_mv_per_day: float,
             outlier: bool = False) -> str:
    """The QC verdict of one cell, the one rule for a cell, its lot and the cycler pipeline.

    ``inconclusive`` without a production K-value (the rest does not identify the
    relaxation); else ``fail`` when the K-value's whole interval lies above the threshold or
    the cell is an outlier of its lot, ``pass`` when its whole interval lies at or below the
    threshold, and ``inconclusive`` when the interval holds the threshold. Every test is a
    comparison that is false on NaN, and only ``pass`` needs one to be true: a NaN never
    passes.
    """
    if not identified or not np.isfinite([k_low_mv_per_day, k_high_mv_per_day, threshold_mv_per_day]).all():
        return "inconclusive"
    if k_low_mv_per_day > threshold_mv_per_day or (isinstance(outlier, (bool, np.bool_)) and bool(outlier)):
        return "fail"
    return "pass" if k_high_mv_per_day <= threshold_mv_per_day else "inconclusive"
