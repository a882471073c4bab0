"""Voltage against capacity, and its derivatives: V–Q curves, dQ/dV, dV/dQ and their peaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import signal
from scipy.ndimage import gaussian_filter1d

from ..errors import InputError
from ._checks import _CHARGE, _DISCHARGE, _check

__all__ = ["vq_curves", "dqdv", "dvdq", "find_dqdv_peaks"]

_VQ_COLUMNS = ["cycle_count", "direction", "capacity_ah", "voltage_volt", "current_ampere", "test_time_second"]


def vq_curves(df: pd.DataFrame, cycles: list[int] | None = None) -> pd.DataFrame:
    """Voltage against capacity for each cycle's charge and discharge (the study's Fig. S1).

    Parameters
    ----------
    df : pandas.DataFrame
        BDF table.
    cycles : list of int, optional
        The cycles to keep (default: all).

    Returns
    -------
    pandas.DataFrame
        Long table: ``cycle_count``, ``direction`` (``charge``/``discharge``),
        ``capacity_ah`` (from the start of that half-cycle, summed over its steps),
        ``voltage_volt``, ``current_ampere``, ``test_time_second``.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> vq = bz.cycling.vq_curves(bz.data.load("twin/cycling-one-cycle"))
    >>> vq.groupby("direction")["capacity_ah"].max().round(4).to_dict()
    {'charge': 2.0416, 'discharge': 2.0336}
    """
    _check(df)
    st = df["step_type"].astype(str).to_numpy()
    frames = []
    for direction, types, col in (("charge", _CHARGE, "charging_capacity_ah"),
                                  ("discharge", _DISCHARGE, "discharging_capacity_ah")):
        mask = np.isin(st, types)
        if cycles is not None:
            mask &= df["cycle_count"].isin(cycles).to_numpy()
        if not mask.any():
            continue
        sub = df.loc[mask, ["cycle_count", "step_count", col, "voltage_volt", "current_ampere", "test_time_second"]]
        # capacity restarts at each step: add the previous steps' totals within the cycle
        step_tot = sub.groupby("step_count")[col].max()
        step_cyc = sub.groupby("step_count")["cycle_count"].first()
        offset = step_tot.groupby(step_cyc).cumsum() - step_tot
        cap = sub[col].to_numpy() + offset.reindex(sub["step_count"]).to_numpy()
        frames.append(pd.DataFrame({
            "cycle_count": sub["cycle_count"].to_numpy(),
            "direction": direction,
            "capacity_ah": cap,
            "voltage_volt": sub["voltage_volt"].to_numpy(),
            "current_ampere": sub["current_ampere"].to_numpy(),
            "test_time_second": sub["test_time_second"].to_numpy(),
        }))
    if not frames:
        return pd.DataFrame(columns=_VQ_COLUMNS)
    return pd.concat(frames, ignore_index=True).sort_values(["cycle_count", "direction", "test_time_second"],
                                                            kind="stable").reset_index(drop=True)


def _half_cycle(df: pd.DataFrame, cycle: int | None, direction: str) -> pd.DataFrame:
    """The V–Q rows of one cycle's charge or discharge (default: the first cycle with one)."""
    curves = vq_curves(df, None if cycle is None else [cycle])
    if direction not in ("charge", "discharge"):
        raise InputError(f"direction must be 'charge' or 'discharge', got {direction!r}")
    sub = curves[curves["direction"] == direction]
    if cycle is None and len(sub):
        cycle = int(sub["cycle_count"].iloc[0])
        sub = sub[sub["cycle_count"] == cycle]
    if len(sub) < 5:
        raise InputError(f"cycle {cycle} has no {direction} with at least 5 points")
    return sub


def dqdv(
    df: pd.DataFrame,
    cycle: int | None = None,
    direction: str = "discharge",
    *,
    method: str = "binned",
    bin_width_v: float = 0.005,
    smooth_bins: float = 2.0,
    savgol_window: int = 21,
    cv_excluded: bool = True,
) -> pd.DataFrame:
    """Differential capacity dQ/dV of one half-cycle, robustly smoothed.

    Methods (both documented in the returned ``attrs``):

    - ``"binned"`` (default): voltage-binned counting. The capacity passed while the
      voltage crosses each bin of ``bin_width_v`` (5 mV), read from the monotonic Q(V)
      curve at the bin edges, divided by the bin width: an exact average of dQ/dV over
      the bin that is insensitive to noise and to sparse or uneven sampling. The histogram is then smoothed with a Gaussian of
      ``smooth_bins`` bins (sigma; 2 bins = 10 mV by default).
    - ``"savgol"``: Q(V) is made monotonic, resampled on a uniform 1 mV voltage grid and
      differentiated with a Savitzky–Golay filter (cubic, ``savgol_window`` points = 21 mV).

    Parameters
    ----------
    df : pandas.DataFrame
        BDF table.
    cycle : int, optional
        Cycle number (default: the first one that has this half-cycle).
    direction : {"discharge", "charge"}
    method : {"binned", "savgol"}
    bin_width_v : float
        Voltage bin of ``"binned"`` (V).
    smooth_bins : float
        Gaussian sigma of ``"binned"``, in bins (0: no smoothing).
    savgol_window : int
        Points (mV) of the ``"savgol"`` filter.
    cv_excluded : bool
        Drop constant-voltage rows (dQ/dV is infinite there).

    Returns
    -------
    pandas.DataFrame
        ``voltage_volt`` (bin centres), ``dqdv_ah_per_v`` (>= 0 for both directions);
        ``attrs``: ``method`` (in words), ``cycle``, ``direction``.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> curve = bz.cycling.dqdv(bz.data.load("twin/cycling-one-cycle"), direction="discharge")
    >>> curve.attrs["method"]
    'voltage-binned counting, 5 mV bins, Gaussian sigma 2 bins'
    >>> curve.columns.tolist(), curve.attrs["cycle"]
    (['voltage_volt', 'dqdv_ah_per_v'], 1)
    """
    _check(df)
    sub = _half_cycle(df, cycle, direction)
    if cv_excluded:
        keep = np.abs(sub["current_ampere"].to_numpy()) >= 0.9 * np.median(np.abs(sub["current_ampere"]))
        sub = sub[keep]
    v = sub["voltage_volt"].to_numpy(np.float64)
    q = sub["capacity_ah"].to_numpy(np.float64)
    if method == "binned":
        out = _dqdv_binned(v, q, direction, bin_width_v, smooth_bins)
    elif method == "savgol":
        out = _dqdv_savgol(v, q, savgol_window)
    else:
        raise InputError(f"method must be 'binned' or 'savgol', got {method!r}")
    out.attrs.update(cycle=int(sub["cycle_count"].iloc[0]), direction=direction)
    return out


def _dqdv_binned(v: np.ndarray, q: np.ndarray, direction: str, bin_width_v: float,
                 smooth_bins: float) -> pd.DataFrame:
    """dQ/dV by voltage-binned counting (see :func:`dqdv`)."""
    if bin_width_v <= 0:
        raise InputError(f"bin_width_v must be > 0 V, got {bin_width_v}")
    edges = np.arange(np.floor(v.min() / bin_width_v) * bin_width_v, v.max() + bin_width_v, bin_width_v)
    # Q(V) made monotonic (running max of V on charge, running min on discharge, so
    # noise cannot fold it), then read at the bin edges: each bin receives exactly the
    # capacity passed while the voltage crossed it, however sparse the sampling
    vm = np.maximum.accumulate(v) if direction == "charge" else -np.maximum.accumulate(-v)
    order = np.argsort(vm, kind="stable")
    vs, qs = vm[order], q[order]
    vs, idx = np.unique(vs, return_index=True)
    qs = qs[idx]
    q_edges = np.interp(edges, vs, qs)
    dens = np.abs(np.diff(q_edges)) / bin_width_v
    if smooth_bins > 0:
        dens = gaussian_filter1d(dens, smooth_bins, mode="nearest")
    out = pd.DataFrame({"voltage_volt": 0.5 * (edges[1:] + edges[:-1]), "dqdv_ah_per_v": dens})
    out.attrs["method"] = f"voltage-binned counting, {bin_width_v * 1e3:g} mV bins, Gaussian sigma {smooth_bins:g} bins"
    return out


def _dqdv_savgol(v: np.ndarray, q: np.ndarray, savgol_window: int) -> pd.DataFrame:
    """dQ/dV by a Savitzky–Golay derivative on a 1 mV grid (see :func:`dqdv`)."""
    order = np.argsort(v)
    vs, qs = v[order], q[order]
    vs, idx = np.unique(vs, return_index=True)
    qs = qs[idx]
    grid = np.arange(vs[0], vs[-1], 1e-3)
    if len(grid) < savgol_window + 2:
        raise InputError(f"the half-cycle spans {vs[-1] - vs[0]:.3f} V: too narrow for a {savgol_window} mV window")
    qg = np.interp(grid, vs, qs)
    d = np.abs(signal.savgol_filter(qg, savgol_window, 3, deriv=1, delta=1e-3))
    out = pd.DataFrame({"voltage_volt": grid, "dqdv_ah_per_v": d})
    out.attrs["method"] = f"Savitzky-Golay, cubic, {savgol_window} points on a 1 mV grid"
    return out


def dvdq(df: pd.DataFrame, cycle: int | None = None, direction: str = "discharge", *,
         capacity_step_ah: float | None = None, savgol_window: int = 31) -> pd.DataFrame:
    """Differential voltage dV/dQ of one half-cycle.

    V(Q) is resampled on a uniform capacity grid (``capacity_step_ah``, default 1/1000
    of the half-cycle's capacity) and differentiated by a cubic Savitzky–Golay filter of
    ``savgol_window`` points.

    Returns
    -------
    pandas.DataFrame
        ``capacity_ah``, ``voltage_volt``, ``dvdq_v_per_ah`` (signed: > 0 on charge).
    """
    _check(df)
    sub = _half_cycle(df, cycle, direction)
    q = sub["capacity_ah"].to_numpy(np.float64)
    v = sub["voltage_volt"].to_numpy(np.float64)
    q, idx = np.unique(q, return_index=True)
    v = v[idx]
    span = q[-1] - q[0]
    if span <= 0:
        raise InputError("the half-cycle passed no capacity")
    dq = capacity_step_ah or span / 1000
    grid = np.arange(q[0], q[-1], dq)
    if len(grid) < savgol_window + 2:
        raise InputError("too few capacity points for the Savitzky-Golay window; lower savgol_window")
    vg = np.interp(grid, q, v)
    d = signal.savgol_filter(vg, savgol_window, 3, deriv=1, delta=dq)
    out = pd.DataFrame({"capacity_ah": grid, "voltage_volt": vg, "dvdq_v_per_ah": d})
    out.attrs["method"] = f"Savitzky-Golay, cubic, {savgol_window} points on a {dq:.3g} Ah grid"
    return out


def find_dqdv_peaks(curve: pd.DataFrame, prominence: float = 0.05) -> pd.DataFrame:
    """Peaks of a dQ/dV curve (from :func:`dqdv`).

    A peak must stand out by ``prominence`` times the curve's maximum
    (:func:`scipy.signal.find_peaks`).

    Parameters
    ----------
    curve : pandas.DataFrame
        ``voltage_volt`` and ``dqdv_ah_per_v`` (the table :func:`dqdv` returns).
    prominence : float
        Least prominence, as a fraction of the curve's maximum.

    Returns
    -------
    pandas.DataFrame
        ``voltage_volt``, ``dqdv_ah_per_v``, ``prominence_ah_per_v``, sorted by voltage.

    Examples
    --------
    The 2 C discharge of the twin's one-cycle test: the two main peaks of NMC/graphite,
    ~0.1 V below their open-circuit positions (the IR drop at 4 A).

    >>> import batteryzoom as bz
    >>> one = bz.data.load("twin/cycling-one-cycle")
    >>> peaks = bz.cycling.find_dqdv_peaks(bz.cycling.dqdv(one, direction="discharge"))
    >>> peaks["voltage_volt"].round(3).tolist()
    [3.467, 3.942]
    """
    y = curve["dqdv_ah_per_v"].to_numpy(np.float64)
    if len(y) < 3 or not np.isfinite(y).any():
        return pd.DataFrame(columns=["voltage_volt", "dqdv_ah_per_v", "prominence_ah_per_v"])
    idx, props = signal.find_peaks(y, prominence=prominence * np.nanmax(y))
    return pd.DataFrame({
        "voltage_volt": curve["voltage_volt"].to_numpy()[idx],
        "dqdv_ah_per_v": y[idx],
        "prominence_ah_per_v": props["prominences"],
    })
