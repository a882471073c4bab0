"""Stage 7 of :func:`~.finalize.finalize`: charge and discharge capacity and energy per step,
from whatever count the file has, checked against the integral of the current.

The count columns a reader may give, most direct first:

- per direction (``charging_capacity_ah``/``discharging_capacity_ah``: Arbin, BDF, BTSDA,
  PEC): each made per step after its scope is read from the data (per step, per cycle,
  over the test: :func:`._checks.count_scope`);
- signed per step (``step_net_capacity_ah``: fastnda, BaSyTec) or signed net
  (``net_capacity_ah``: BioLogic's ``(Q-Qo)``, Indigo's coulomb count; scope read from
  the data);
- unsigned (``capacity_ah``: Maccor, Novonix), carried on or restarted per step;
- none: integrated from the current (trapezoid), said in ``attrs["derived"]``.

A step whose current runs both ways (a pulse, drive-cycle or SIM step, a half cycle with
regeneration pulses) has its charge and discharge both counted: from a signed count's
rises and falls, from the two columns of a per-direction count, or from the current's
positive and negative parts. Every other step counts only in its own direction.
"""

from __future__ import annotations

import re

import numpy as np

from . import _checks

__all__ = ["capacities", "capacity_check"]

_COUNT_COLUMNS = {
    "capacity": ("charging_capacity_ah", "discharging_capacity_ah", "step_net_capacity_ah", "capacity_ah",
                 "net_capacity_ah", "capacities integrated from current over time (trapezoid)"),
    "energy": ("charging_energy_wh", "discharging_energy_wh", "step_net_energy_wh", "energy_wh",
               None, "energies integrated from current x voltage over time (trapezoid)"),
}
# instrument step labels whose current changes faster than a record logs it: the integral
# of the logged current cannot check their counts
_UNRESOLVED = re.compile(r"pulse|sim|ramp|dcir|drive", re.I)


def capacities(raw, meta, t, v, i, starts, n, step_type, codes, notes, cycle, scope: dict):
    """``(q_ch, q_dis, e_ch, e_dis, mixed)``: per-step counts (>= 0, each in its steps'
    direction; both in the steps that run both ways, flagged by ``mixed``, one bool per step).

    ``codes`` maps step-type names to their codes; ``notes`` is finalize's record (its
    ``repairs``, ``derived`` and ``notes`` lists); ``scope`` gets each column's scope.
    """
    active = ~np.isin(step_type[starts], (codes["rest"], codes["other"]))
    q_ch, q_dis, q_src, q_mixed = _count(raw, meta, "capacity", lambda: i, t, starts, n, notes, cycle, scope, active)
    e_ch, e_dis, e_src, e_mixed = _count(raw, meta, "energy", lambda: i * v, t, starts, n, notes, cycle, scope,
                                         active)
    if q_mixed.any():
        notes.notes.append(f"{int(q_mixed.sum())} step(s) run both ways (pulse, SIM or drive-cycle steps): their "
                           "charge and discharge are both counted")
    seg = np.diff(np.r_[starts, n])
    charge_rows = (step_type == codes["cc_charge"]) | (step_type == codes["cv_charge"])
    dis_rows = (step_type == codes["cc_discharge"]) | (step_type == codes["cv_discharge"])
    any_ch = np.logical_or.reduceat(charge_rows, starts)
    any_dis = np.logical_or.reduceat(dis_rows, starts)
    # rows are typed by their own current, so a discharge step with a regeneration pulse
    # holds charge rows: a step that is not mixed counts in the direction of its net charge
    # only (counting both ways made a half cycle's net 0)
    net = np.add.reduceat(np.r_[0.0, 0.5 * (i[1:] + i[:-1]) * np.diff(t)], starts) if n > 1 else np.zeros(len(starts))
    net[~np.isfinite(net)] = 0.0
    is_ch = any_ch & (~any_dis | (net >= 0))
    is_dis = any_dis & (~any_ch | (net < 0))

    def rows(steps):
        return np.repeat(steps, seg)

    return (np.where(rows(is_ch | q_mixed), q_ch, 0.0), np.where(rows(is_dis | q_mixed), q_dis, 0.0),
            np.where(rows(is_ch | e_mixed), e_ch, 0.0), np.where(rows(is_dis | e_mixed), e_dis, 0.0), q_mixed)


def _count(raw, meta, quantity, integrand, t, starts, n, notes, cycle, scope, active):
    """``(charge, discharge, source, mixed)`` for one quantity (see the module docstring)."""
    charge, discharge, step_net, unsigned, net, derived = _COUNT_COLUMNS[quantity]
    seg = np.diff(np.r_[starts, n])
    none = np.zeros(len(starts), dtype=bool)
    if charge in raw and discharge in raw:
        ch = np.abs(_per_step(raw, meta, charge, starts, n, cycle, scope, notes))
        dis = np.abs(_per_step(raw, meta, discharge, starts, n, cycle, scope, notes))
        _mend_drops(ch, starts, n, charge, notes.repairs)
        _mend_drops(dis, starts, n, discharge, notes.repairs)
        rise_ch = np.maximum.reduceat(ch, starts) - np.minimum.reduceat(ch, starts)
        rise_dis = np.maximum.reduceat(dis, starts) - np.minimum.reduceat(dis, starts)
        return ch, dis, "per direction", active & _both(rise_ch, rise_dis)
    if step_net in raw or (net is not None and net in raw):
        col = step_net if step_net in raw else net
        values = np.nan_to_num(raw[col].to_numpy(np.float64))
        found = "step" if col == step_net else _checks.count_scope(values, starts, cycle)
        scope[col] = found if col == step_net else f"{found} (signed)"
        signed = values if found == "step" else \
            values - np.repeat(np.r_[values[0], values[starts[1:] - 1]], seg)
        q = np.abs(signed)
        d = np.diff(signed, prepend=0.0)
        d[starts] = signed[starts]  # each step counts from 0
        up, down = _split(d, starts, seg)
        # a signed count that runs against its step beyond noise (1e-4 of the step: a
        # regeneration pulse inside a half cycle) counts both ways, as its rises and falls
        mixed = active & _both(up[np.r_[starts[1:], n] - 1], down[np.r_[starts[1:], n] - 1], 1e-4)
        # a signed count running briefly against its step (regeneration, noise) is no
        # defect: its step's direction counts on, as its rises and falls would
        _mend_drops(q, starts, n, f"{col} (signed)", notes.notes, skip=mixed,
                    what="ran against its step's direction", then="counted in the step's direction only")
        return _with_mixed(q, up, down, mixed, seg) + ("signed", mixed)
    if unsigned in raw:
        values = np.abs(raw[unsigned].to_numpy(np.float64))
        scope[unsigned] = _checks.count_scope(values, starts, cycle)
        q = _per_step_from_cumulative(values, starts, n)
        _mend_drops(q, starts, n, f"{unsigned} (unsigned)", notes.repairs)
        return q, q, "unsigned", none
    y = integrand()
    q = np.abs(_cumtrapz_per_step(y, t, starts, n)) / 3600.0
    notes.derived.append(derived)
    up = _cumtrapz_per_step(np.clip(y, 0, None), t, starts, n) / 3600.0
    down = _cumtrapz_per_step(np.clip(-y, 0, None), t, starts, n) / 3600.0
    ends = np.r_[starts[1:], n] - 1
    mixed = active & _both(up[ends], down[ends], 1e-4)
    # a count integrated here falls only where the integrand changes sign (not a defect)
    _mend_drops(q, starts, n, derived.split(" integrated")[0], notes.derived, skip=mixed)
    return _with_mixed(q, up, down, mixed, seg) + ("derived", mixed)


def _both(a: np.ndarray, b: np.ndarray, share: float = 0.01) -> np.ndarray:
    """Steps where both directions carry more than ``share`` of the larger (and above
    1e-12): 1 % for two counts of their own (an Arbin resistance pulse under it is the
    other direction's noise), 1e-4 for one signed count or the current's integral."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return (lo > share * hi) & (lo > 1e-12)


def _split(d: np.ndarray, starts: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step running sums of a count's rises and of its falls."""
    up = np.cumsum(np.clip(d, 0, None))
    down = np.cumsum(np.clip(-d, 0, None))
    base_up = np.repeat(np.r_[0.0, up[starts[1:] - 1]], seg)
    base_down = np.repeat(np.r_[0.0, down[starts[1:] - 1]], seg)
    return up - base_up, down - base_down


def _with_mixed(q, up, down, mixed, seg):
    """``(charge, discharge)``: ``q`` for both, but the rises and falls in mixed steps."""
    if not mixed.any():
        return q, q
    rows = np.repeat(mixed, seg)
    return np.where(rows, up, q), np.where(rows, down, q)


def _per_step(raw, meta, col, starts, n, cycle, scope: dict, notes) -> np.ndarray:
    """A charge or discharge column counted from each step's start, whatever its scope in
    the file (read from the data; a reader's expectation, e.g. Arbin's per-cycle count, is
    checked against it)."""
    q = raw[col].to_numpy(np.float64)
    found = _checks.count_scope(q, starts, cycle)
    scope[col] = found
    expected = meta.get("capacity_scope")
    if expected and found not in (expected, "step", "test", "mixed"):
        notes.notes.append(f"{col}: counted per {found} in the data ({meta.get('instrument')} usually counts "
                           f"per {expected})")
    if found == "mixed":
        notes.notes.append(f"{col}: restarts at some step changes and carries on at others; each step counted "
                           "from its own start")
    return np.nan_to_num(q) if found == "step" else _per_step_from_cumulative(q, starts, n)


def capacity_check(q_ch, q_dis, t, i, starts, n, step_type, codes, step_time, step_names, mixed, notes,
                   derived: bool) -> dict:
    """The capacities against the integral of the current (``attrs["capacity_check"]``);
    more than 2 % apart over the charge or the discharge steps is a warning. Steps the
    instrument calls pulse, SIM or ramp steps are left out (their current changes faster
    than the record logs it), as are impedance rows."""
    if derived:
        return {"source": "integrated from the current", "charge": 0.0, "discharge": 0.0}
    seg = np.diff(np.r_[starts, n])
    keep_step = np.ones(len(starts), dtype=bool)
    skipped = 0
    if step_names is not None:
        unresolved = np.array([bool(_UNRESOLVED.search(str(nm))) for nm in step_names])
        skipped = int(unresolved.sum())
        keep_step &= ~unresolved
    mask = (step_type != codes["other"]) & np.repeat(keep_step, seg)
    found = _checks.capacity_vs_current(q_ch, q_dis, t, i, starts, n, step_time, mask)
    dt = np.diff(t)
    median_dt = float(np.median(dt[dt > 0])) if (dt > 0).any() else 0.0
    for direction, rel in found.items():
        if rel is not None and rel > 0.02:
            notes.repairs.append(
                f"the {direction} capacities differ from the integral of the logged current by {rel:.1%} over the "
                f"{direction} steps (more than 2 %): the capacity column's scope or unit, or the current, is not "
                f"what it seems, or the current changes faster than the record logs it (median interval "
                f"{median_dt:.3g} s); attrs['capacity_check'] has the numbers")
    out = {"source": "file", **found}
    if skipped:
        out["not_checked"] = f"{skipped} pulse/SIM/ramp step(s): the record does not resolve their current"
    return out


def _per_step_from_cumulative(q: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """A capacity counted over a cycle or the test -> counted from the start of each step.

    The baseline of a step is the last value of the previous step when the count carries
    on, 0 when it restarted (the first value of the step is below that last value).
    """
    q = np.nan_to_num(np.asarray(q, dtype=np.float64))
    prev_last = np.r_[0.0, q[starts[1:] - 1]]
    first = q[starts]
    base = np.where(first + 1e-12 >= prev_last, prev_last, 0.0)
    return q - np.repeat(base, np.diff(np.r_[starts, n]))


def _cumtrapz_per_step(y: np.ndarray, t: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Cumulative trapezoid of y over t, restarting at each step (units of y·s)."""
    inc = np.r_[0.0, 0.5 * (y[1:] + y[:-1]) * np.diff(t)]
    inc[starts] = 0.0
    c = np.cumsum(inc)
    return c - np.repeat(c[starts], np.diff(np.r_[starts, n]))


def _mend_drops(q: np.ndarray, starts: np.ndarray, n: int, name: str, repairs: list[str],
                skip: np.ndarray | None = None, what: str = "fell",
                then: str = "counted on from the value before each drop") -> None:
    """A per-step count never falls: a drop inside a step (a counter restart or a file
    defect) is added back so the count carries on from its value before the drop (steps
    in ``skip`` are left alone: their count runs both ways by design)."""
    d = np.diff(q, prepend=q[0])
    d[starts] = 0.0
    seg = np.diff(np.r_[starts, n])
    step_max = np.repeat(np.maximum.reduceat(q, starts), seg)
    drop = d < -1e-3 * np.maximum(step_max, 1e-12)
    if skip is not None and skip.any():
        drop &= ~np.repeat(skip, seg)
    if not drop.any():
        return
    add = np.where(drop, -d, 0.0)
    c = np.cumsum(add)
    q += c - np.repeat(c[starts], seg)
    where = np.flatnonzero(drop)
    repairs.append(
        f"{name} {what} {int(drop.sum())} times inside a step (largest drop {float(add.max()):.6g} at row "
        f"{int(where[np.argmax(add[where])]) + 1}); {then}"
    )
