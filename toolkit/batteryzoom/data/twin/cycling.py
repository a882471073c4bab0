"""The twin's cycler records: the study's one-cycle test and its 25-day self-discharge test.

The cell: a commercial 18650, NMC532 cathode / graphite anode, nominal 2 Ah (1 C = 2 A),
cycled on a Neware between 2.5 and 4.2 V. Records come from a documented equivalent-circuit
model, integrated exactly for the RC branches and with small time steps for the state of
charge:

- **OCV(SOC)** of the NMC532/graphite cell, defined through its differential capacity
  ``dSOC/dV = b(V) + sum_k w_k N(V; mu_k, sigma_k)`` on 2.5–4.2 V: a logistic baseline
  (``0.30 / (1 + exp(-(V - 3.45) / 0.04)) + 0.03``) plus Gaussian peaks of the graphite
  staging and NMC features (:data:`OCV_PEAKS`), normalised so that SOC runs 0 → 1. The
  resulting OCV: 3.25 V at 2 %, 3.51 V at 10 %, 3.70 V at 45 %, 4.01 V at 85 %, 4.20 V at
  100 %. The peak voltages are the ground truth of the dQ/dV analysis (at low current).
- **Terminal voltage** ``V = OCV(SOC) + R0 I + v1 + v2`` with two RC pairs
  ``dv_k/dt = (R_k I - v_k) / tau_k`` (R0 ≈ 30 mΩ; R1 ≈ 12 mΩ, tau1 ≈ 0.5 h; R2 ≈ 18 mΩ,
  tau2 ≈ 6 h), so a rest after a charge relaxes over hours.
- **Leakage**: an internal resistive micro-short ``I_leak = OCV / R_short`` drains the
  state of charge without passing the terminals: ``dSOC/dt = (I - I_leak) / (3600 Q)``.
  ``R_short`` is set so that ``I_leak(4.15 V)`` equals the cell's leakage current:
  0.3–1 mA for the defective cell (0.6 mA by default), 10–50 µA for the healthy ones.
- **Instrument**: voltage noise 0.1 mV (1 sigma) and 0.1 mV resolution, current noise
  0.02 % of range; capacity and energy counted from the true current at every step (as a
  cycler's fast internal integration does); sampled every 1 s (one cycle), every 10 s
  (self-discharge charge), then every 60 s for 2 h and every 5 min for the 25-day rest.

Ground truth (part ``truth``): the cell's capacity between 2.5 and 4.2 V of OCV, the
capacities the test delivered, the leakage current (mean over days 2–25 of the rest) and
the K-value (mV/day: least-squares slope of the noise-free voltage over days 2–25, after
the relaxation, which is below 1 µV by day 2), the model parameters and the OCV peaks. The
leakage-driven decay is not a straight line (the short drains less as the voltage falls and
dQ/dV changes along the OCV), so a K-value depends on its window: part ``rest_truth`` holds
the noise-free rest (voltage, OCV, leakage current over time) and :func:`window_truth`
gives the true K-value and mean leakage over any window, e.g. the one an analysis chose;
:func:`cut_rest` stops a record's rest early (an hour to 25 days), as a shorter test would.

Generators (registered in ``data_manifest.yaml``):

- :func:`one_cycle` → ``twin/cycling-one-cycle``: rest, CC 2 A to 4.2 V + CV to C/20, rest,
  CC 4 A to 2.5 V (Fig. S1). Parts: ``main`` (BDF table), ``truth``, ``btsda.csv`` (a
  BTSDA *three-level* export).
- :func:`self_discharge` → ``twin/cycling-self-discharge``: the defective cell: CC 1 A to
  4.2 V, then a 25-day rest (Fig. S2). Parts: ``main``, ``truth``, ``rest_truth``,
  ``btsda.csv`` (flat export, mA / mAh / mWh, ``h:mm:ss.ms`` times).
- :func:`population` → ``twin/cycling-population``: the defective cell among
  ``n_healthy`` healthy cells (column ``cell_id``). Parts: ``main``, ``truth`` (one row per
  cell), ``rest_truth`` (column ``cell_id``), ``btsda-<cell_id>.csv`` for every cell.

Same seed, same bytes: every random draw comes from ``numpy.random.default_rng([seed, k])``.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

__all__ = [
    "one_cycle",
    "self_discharge",
    "population",
    "CellParams",
    "ocv_curve",
    "ocv_dqdv_peaks",
    "window_truth",
    "cut_rest",
    "OCV_PEAKS",
    "NOMINAL_CAPACITY_AH",
]

NOMINAL_CAPACITY_AH = 2.0
V_MIN, V_MAX = 2.5, 4.2
# (centre V, sigma V, weight): graphite staging / NMC features of the differential capacity
OCV_PEAKS = [(3.47, 0.030, 0.06), (3.58, 0.045, 0.20), (3.68, 0.050, 0.22),
             (3.79, 0.060, 0.12), (3.92, 0.060, 0.14), (4.06, 0.050, 0.12)]
STEP_TYPES = ["rest", "cc_charge", "cv_charge", "cc_discharge", "cv_discharge", "other"]
_START_UNIX_S = 1_546_300_800.0  # 2019-01-01 00:00:00 UTC, the twin's test start
REST_DAYS = 25.0
TRUTH_WINDOW_DAYS = (2.0, 25.0)
LEAK_REFERENCE_V = 4.15


@dataclass(frozen=True)
class CellParams:
    """One cell of the twin (SI units)."""

    capacity_ah: float = 2.05
    r0_ohm: float = 0.030
    r1_ohm: float = 0.012
    tau1_s: float = 1800.0
    r2_ohm: float = 0.018
    tau2_s: float = 21600.0
    leakage_a: float = 30e-6  # I_leak at LEAK_REFERENCE_V

    @property
    def r_short_ohm(self) -> float:
        return LEAK_REFERENCE_V / self.leakage_a


def ocv_curve(step_v: float = 0.0005) -> pd.DataFrame:
    """The twin's OCV: ``voltage_volt`` and ``soc`` (0–1) on 2.5–4.2 V, and ``dsoc_dv_per_v``."""
    v = np.arange(V_MIN, V_MAX + step_v / 2, step_v)
    d = 0.30 / (1 + np.exp(-(v - 3.45) / 0.04)) + 0.03
    for mu, sigma, w in OCV_PEAKS:
        d = d + w / (sigma * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((v - mu) / sigma) ** 2)
    soc = np.r_[0.0, np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(v))]
    total = soc[-1]
    return pd.DataFrame({"voltage_volt": v, "soc": soc / total, "dsoc_dv_per_v": d / total})


def ocv_dqdv_peaks() -> pd.DataFrame:
    """The maxima of the model's differential capacity (overlapping Gaussians merge, so these
    are the ground truth of a dQ/dV analysis, not :data:`OCV_PEAKS`' centres).

    Returns
    -------
    pandas.DataFrame
        ``voltage_volt``, ``relative_prominence`` (to the curve's maximum).
    """
    from scipy.signal import find_peaks

    ocv = ocv_curve()
    d = ocv["dsoc_dv_per_v"].to_numpy()
    idx, props = find_peaks(d, prominence=0.0)
    return pd.DataFrame({"voltage_volt": ocv["voltage_volt"].to_numpy()[idx],
                         "relative_prominence": props["prominences"] / d.max()})


_OCV = ocv_curve()
_SOC_GRID = _OCV["soc"].to_numpy()
_V_GRID = _OCV["voltage_volt"].to_numpy()
# G(s) = int_0^s ds' / OCV(s'): the open-circuit drain through a resistive short in closed form
_G_GRID = np.r_[0.0, np.cumsum(np.diff(_SOC_GRID) * 0.5 * (1 / _V_GRID[1:] + 1 / _V_GRID[:-1]))]


def _ocv(soc):
    # beyond the 0-100 % window the OCV continues with the end slopes
    return np.interp(soc, _SOC_GRID, _V_GRID, left=None, right=None) + np.where(
        np.asarray(soc) > 1, (np.asarray(soc) - 1) * 2.0, 0.0) + np.where(
        np.asarray(soc) < 0, np.asarray(soc) * 20.0, 0.0)


def _ocv_scalar(soc: float) -> float:
    if 0.0 <= soc <= 1.0:
        return float(np.interp(soc, _SOC_GRID, _V_GRID))
    return float(_ocv(soc))


class _Sim:
    """Step-by-step simulation of one cell; rows are recorded at chosen intervals."""

    def __init__(self, cell: CellParams, soc0: float, rng: np.random.Generator):
        self.c = cell
        self.soc = soc0
        self.v1 = 0.0
        self.v2 = 0.0
        self.t = 0.0
        self.rng = rng
        self.rows: list[tuple] = []
        self.step_count = 0
        self.cycle = 1

    def _advance(self, current: float, dt: float) -> None:
        c = self.c
        ocv = _ocv_scalar(self.soc)
        leak = ocv / c.r_short_ohm
        self.soc += (current - leak) * dt / (3600.0 * c.capacity_ah)
        a1 = 1.0 - math.exp(-dt / c.tau1_s)
        a2 = 1.0 - math.exp(-dt / c.tau2_s)
        self.v1 += (c.r1_ohm * current - self.v1) * a1
        self.v2 += (c.r2_ohm * current - self.v2) * a2
        self.t += dt

    def _append(self, t, step_t, v, current, kind, index, q, e, ocv) -> None:
        n = len(t)
        cur = np.broadcast_to(np.asarray(current, dtype=float), (n,))
        self.rows.extend(zip(t.tolist(), step_t.tolist(), v.tolist(), cur.tolist(), [self.step_count] * n,
                             [index] * n, [self.cycle] * n, [kind] * n, q.tolist(), e.tolist(), ocv.tolist()))

    def rest(self, duration_s: float, record_s, index: int) -> None:
        """Open circuit: the RC branches decay exactly and the short drains the SOC exactly.

        With ``I = 0``, ``dSOC/dt = -OCV(SOC) / (R_short 3600 Q)`` integrates to
        ``G(SOC(t)) = G(SOC0) - t / (R_short 3600 Q)`` with ``G(s) = int_0^s ds'/OCV(s')``.
        ``record_s`` is a list of ``(until_s, interval_s)`` sampling segments.
        """
        self.step_count += 1
        c = self.c
        grid, start = [0.0], 0.0
        for until, every in record_s:
            until = min(until, duration_s)
            if until > start:
                seg = np.arange(start + every, until + 1e-9, every)
                grid.extend(seg.tolist())
                start = seg[-1] if len(seg) else start
        step_t = np.asarray(grid)
        g = np.interp(self.soc, _SOC_GRID, _G_GRID) - step_t / (c.r_short_ohm * 3600.0 * c.capacity_ah)
        soc = np.interp(g, _G_GRID, _SOC_GRID)
        v1 = self.v1 * np.exp(-step_t / c.tau1_s)
        v2 = self.v2 * np.exp(-step_t / c.tau2_s)
        ocv = _ocv(soc)
        zeros = np.zeros(len(step_t))
        self._append(self.t + step_t, step_t, ocv + v1 + v2, 0.0, "rest", index, zeros, zeros, ocv)
        self.soc, self.v1, self.v2 = float(soc[-1]), float(v1[-1]), float(v2[-1])
        self.t += float(step_t[-1])

    def cc(self, current: float, v_limit: float, dt: float, record_every: int, index: int) -> None:
        """Constant current until the terminal voltage reaches ``v_limit``.

        The RC branches follow their exact solution for a constant current; the SOC is the
        coulomb count minus the short's drain evaluated along it (the drain is < 0.1 % of
        the current, so the second-order error is negligible).
        """
        self.step_count += 1
        c = self.c
        kind = "cc_charge" if current > 0 else "cc_discharge"
        step_t = np.arange(0.0, 10 * 3600 + dt / 2, dt)
        soc_cc = self.soc + current * step_t / (3600.0 * c.capacity_ah)
        leak = _ocv(soc_cc) / c.r_short_ohm
        drained = np.r_[0.0, np.cumsum(0.5 * (leak[1:] + leak[:-1]) * dt)] / (3600.0 * c.capacity_ah)
        soc = soc_cc - drained
        v1 = c.r1_ohm * current + (self.v1 - c.r1_ohm * current) * np.exp(-step_t / c.tau1_s)
        v2 = c.r2_ohm * current + (self.v2 - c.r2_ohm * current) * np.exp(-step_t / c.tau2_s)
        ocv = _ocv(soc)
        v = ocv + c.r0_ohm * current + v1 + v2
        hit = np.flatnonzero(v >= v_limit if current > 0 else v <= v_limit)
        end = int(hit[hit > 0][0]) if (hit > 0).any() else len(v) - 1
        if hit.size and end > 0:
            # the cycler stops at the limit: the last sample sits on the crossing
            f = float(np.clip((v_limit - v[end - 1]) / (v[end] - v[end - 1]), 0.0, 1.0))
            for arr in (step_t, soc, v1, v2, ocv, v):
                arr[end] = arr[end - 1] + f * (arr[end] - arr[end - 1])
        sl = slice(0, end + 1)
        q = abs(current) * step_t[sl] / 3600.0
        e = np.r_[0.0, np.cumsum(abs(current) * 0.5 * (v[1:end + 1] + v[:end]) * np.diff(step_t[:end + 1]))] / 3600.0
        keep = np.r_[np.arange(0, end + 1, record_every), end] if end % record_every else np.arange(0, end + 1,
                                                                                                   record_every)
        self._append(self.t + step_t[keep], step_t[keep], v[keep], current, kind, index, q[keep], e[keep], ocv[keep])
        self.soc, self.v1, self.v2 = float(soc[end]), float(v1[end]), float(v2[end])
        self.t += float(step_t[end])
        self._last_q, self._last_e = float(q[end]), float(e[end])

    def cv(self, v_hold: float, i_stop: float, dt: float, record_every: int, index: int) -> None:
        """Constant voltage after a CC charge, in the same step (a Neware CCCV step)."""
        q, e, k = self._last_q, self._last_e, 0
        step_t = self.rows[-1][1]
        c = self.c
        while True:
            # current that holds the terminal voltage: V = OCV + R0 I + v1 + v2 (v's lag by dt)
            current = (v_hold - _ocv_scalar(self.soc) - self.v1 - self.v2) / c.r0_ohm
            self._advance(current, dt)
            step_t += dt
            k += 1
            q += current * dt / 3600.0
            e += current * v_hold * dt / 3600.0
            done = current <= i_stop
            if done or k % record_every == 0:
                self.rows.append((self.t, step_t, v_hold, current, self.step_count, index, self.cycle,
                                  "cv_charge", q, e, _ocv_scalar(self.soc)))
            if done or step_t > 10 * 3600:
                break

    def table(self) -> pd.DataFrame:
        cols = ["test_time_second", "step_time_second", "voltage_volt", "current_ampere", "step_count",
                "step_index", "cycle_count", "step_type", "capacity_ah", "energy_wh", "ocv_volt"]
        return pd.DataFrame(self.rows, columns=cols)


def _instrument(table: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Noise, resolution and the BDF layout of a recorded table."""
    n = len(table)
    v_true = table["voltage_volt"].to_numpy()
    v = np.round((v_true + rng.normal(0.0, 1e-4, n)) * 1e4) / 1e4  # 0.1 mV noise and resolution
    i_true = table["current_ampere"].to_numpy()
    i = np.where(i_true != 0, i_true + rng.normal(0.0, 2e-3 * 0.1, n), 0.0)  # 0.02 % of a 1 A range
    kind = table["step_type"].to_numpy()
    charging = np.isin(kind, ("cc_charge", "cv_charge"))
    discharging = np.isin(kind, ("cc_discharge", "cv_discharge"))
    q = table["capacity_ah"].to_numpy()
    e = table["energy_wh"].to_numpy()
    out = pd.DataFrame({
        "test_time_second": np.round(table["test_time_second"].to_numpy(), 3),
        "step_time_second": np.round(table["step_time_second"].to_numpy(), 3),
        "voltage_volt": v,
        "current_ampere": i,
        "step_count": table["step_count"].to_numpy(np.int64),
        "step_index": table["step_index"].to_numpy(np.int64),
        "cycle_count": table["cycle_count"].to_numpy(np.int64),
        "step_type": pd.Categorical(kind, categories=STEP_TYPES),
        "charging_capacity_ah": np.where(charging, q, 0.0),
        "discharging_capacity_ah": np.where(discharging, q, 0.0),
        "charging_energy_wh": np.where(charging, e, 0.0),
        "discharging_energy_wh": np.where(discharging, e, 0.0),
        "unix_time_second": _START_UNIX_S + np.round(table["test_time_second"].to_numpy(), 3),
    })
    return out


def _clock(seconds: np.ndarray) -> list[str]:
    """BTSDA's ``h:mm:ss.ms`` (hours keep counting past 24)."""
    ms = np.round(np.asarray(seconds) * 1000).astype(np.int64)
    h, rem = np.divmod(ms, 3_600_000)
    m, rem = np.divmod(rem, 60_000)
    s, msr = np.divmod(rem, 1000)
    def txt(x, width):
        return pd.Series(x).astype(str).str.zfill(width)

    return (txt(h, 1) + ":" + txt(m, 2) + ":" + txt(s, 2) + "." + txt(msr, 3)).to_list()


_NEWARE_NAME = {"rest": "Rest", "cc_charge": "CC_Chg", "cv_charge": "CCCV_Chg", "cc_discharge": "CC_DChg"}


def _step_names(df: pd.DataFrame) -> np.ndarray:
    kind = df["step_type"].astype(str).to_numpy()
    names = np.array([_NEWARE_NAME.get(k, "Rest") for k in kind], dtype=object)
    # a step that holds CV rows is a CCCV step throughout
    cccv = df.groupby("step_count")["step_type"].transform(lambda s: (s == "cv_charge").any()).to_numpy(bool)
    names[cccv] = "CCCV_Chg"
    return names


def _btsda_flat(df: pd.DataFrame) -> str:
    """A Neware BTSDA flat CSV export (mA, V, mAh, mWh; h:mm:ss.ms times)."""
    q = (df["charging_capacity_ah"] + df["discharging_capacity_ah"]).to_numpy()
    e = (df["charging_energy_wh"] + df["discharging_energy_wh"]).to_numpy()
    dates = pd.to_datetime(df["unix_time_second"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    out = pd.DataFrame({
        "DataPoint": np.arange(1, len(df) + 1),
        "Cycle Index": df["cycle_count"].to_numpy(),
        "Step Index": df["step_index"].to_numpy(),
        "Step Type": _step_names(df),
        "Time": _clock(df["step_time_second"].to_numpy()),
        "Total Time": _clock(df["test_time_second"].to_numpy()),
        "Current(mA)": np.round(df["current_ampere"].to_numpy() * 1e3, 4),
        "Voltage(V)": np.round(df["voltage_volt"].to_numpy(), 4),
        "Capacity(mAh)": np.round(q * 1e3, 4),
        "Chg. Cap.(mAh)": np.round(df["charging_capacity_ah"].to_numpy() * 1e3, 4),
        "DChg. Cap.(mAh)": np.round(df["discharging_capacity_ah"].to_numpy() * 1e3, 4),
        "Energy(mWh)": np.round(e * 1e3, 4),
        "Chg. Energy(mWh)": np.round(df["charging_energy_wh"].to_numpy() * 1e3, 4),
        "DChg. Energy(mWh)": np.round(df["discharging_energy_wh"].to_numpy() * 1e3, 4),
        "Date": dates,
    })
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def _btsda_three_level(df: pd.DataFrame) -> str:
    """A Neware BTSDA "regular" export: cycle, step and record rows interleaved."""
    names = _step_names(df)
    q = (df["charging_capacity_ah"] + df["discharging_capacity_ah"]).to_numpy()
    e = (df["charging_energy_wh"] + df["discharging_energy_wh"]).to_numpy()
    dates = pd.to_datetime(df["unix_time_second"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    clock = _clock(df["step_time_second"].to_numpy())
    lines = [
        "Cycle ID,Cap_Chg(mAh),Cap_DChg(mAh),Engy_Chg(mWh),Engy_DChg(mWh)",
        ",Step ID,Step Name,Step Time(h:min:s.ms),Capacity(mAh),Energy(mWh)",
        ",,Record ID,Time(h:min:s.ms),Voltage(V),Current(mA),Capacity(mAh),Energy(mWh),Realtime",
    ]
    cyc = df["cycle_count"].to_numpy()
    sc = df["step_count"].to_numpy()
    v = df["voltage_volt"].to_numpy()
    i = df["current_ampere"].to_numpy()
    for c in np.unique(cyc):
        rows_c = np.flatnonzero(cyc == c)
        sub = df.iloc[rows_c]
        per_step = sub.groupby("step_count")[["charging_capacity_ah", "discharging_capacity_ah",
                                               "charging_energy_wh", "discharging_energy_wh"]].max().sum()
        lines.append(f"{c},{per_step.iloc[0] * 1e3:.4f},{per_step.iloc[1] * 1e3:.4f},"
                     f"{per_step.iloc[2] * 1e3:.4f},{per_step.iloc[3] * 1e3:.4f}")
        for s in np.unique(sc[rows_c]):
            rows = rows_c[sc[rows_c] == s]
            last = rows[-1]
            lines.append(f",{df['step_index'].iloc[last]},{names[last]},{clock[last]},{q[last] * 1e3:.4f},"
                         f"{e[last] * 1e3:.4f}")
            for r in rows:
                lines.append(f",,{r + 1},{clock[r]},{v[r]:.4f},{i[r] * 1e3:.4f},{q[r] * 1e3:.4f},"
                             f"{e[r] * 1e3:.4f},{dates[r]}")
    return "\n".join(lines) + "\n"


def _healthy_params(rng: np.random.Generator) -> CellParams:
    return CellParams(
        capacity_ah=2.05 * (1 + rng.normal(0, 0.008)),
        r0_ohm=0.030 * (1 + rng.normal(0, 0.04)),
        r1_ohm=0.012 * (1 + rng.normal(0, 0.05)),
        tau1_s=1800.0 * (1 + rng.normal(0, 0.05)),
        r2_ohm=0.018 * (1 + rng.normal(0, 0.05)),
        tau2_s=21600.0 * (1 + rng.normal(0, 0.05)),
        leakage_a=float(rng.uniform(10e-6, 50e-6)),
    )


def _soc_at_ocv(v: float) -> float:
    return float(np.interp(v, _V_GRID, _SOC_GRID))


def one_cycle(seed: int = 18650, preset: str = "small") -> dict:
    """The study's one-cycle test (Fig. S1) on a healthy twin cell.

    Rest 10 min at 2.5 V (OCV), CC 2 A charge to 4.2 V then CV at 4.2 V to C/20 (0.1 A),
    rest 30 min, CC 4 A discharge to 2.5 V, rest 10 min; sampled every 1 s (recorded
    every 5 s on the ``small`` preset, every 1 s on ``large``).

    Returns
    -------
    dict
        ``main`` (BDF DataFrame), ``truth`` (dict), ``btsda.csv`` (three-level export text).
    """
    rng = np.random.default_rng([seed, 1])
    cell = replace(_healthy_params(rng), leakage_a=30e-6)
    every = 5 if preset == "small" else 1
    sim = _Sim(cell, _soc_at_ocv(2.5), rng)
    sim.rest(600, [(600, 10)], index=1)
    sim.cc(2.0, V_MAX, 1.0, every, index=2)
    sim.cv(V_MAX, 0.1, 1.0, every, index=2)
    sim.rest(1800, [(1800, 10)], index=3)
    sim.cycle = 1
    sim.cc(-4.0, V_MIN, 1.0, every, index=4)
    sim.rest(600, [(600, 10)], index=5)
    table = sim.table()
    df = _instrument(table, rng)
    df.attrs.update(source="batteryzoom twin", test="one cycle 2 A CCCV / 4 A CC, 2.5-4.2 V", cell="twin-18650-healthy")
    steps = df.groupby("step_count")[["charging_capacity_ah", "discharging_capacity_ah",
                                      "charging_energy_wh", "discharging_energy_wh"]].max().sum()
    cv_rows = df["step_type"] == "cv_charge"
    cv_q = float(df.loc[cv_rows, "charging_capacity_ah"].max() - df.loc[df["step_type"] == "cc_charge",
                                                                          "charging_capacity_ah"].max())
    truth = {
        "cell": asdict(cell),
        "nominal_capacity_ah": NOMINAL_CAPACITY_AH,
        "ocv_capacity_ah": cell.capacity_ah,
        "charge_capacity_ah": float(steps["charging_capacity_ah"]),
        "discharge_capacity_ah": float(steps["discharging_capacity_ah"]),
        "charge_energy_wh": float(steps["charging_energy_wh"]),
        "discharge_energy_wh": float(steps["discharging_energy_wh"]),
        "cv_charge_capacity_ah": cv_q,
        "ocv_dqdv_peaks_volt": ocv_dqdv_peaks()["voltage_volt"].round(4).tolist(),
        "model": "OCV(SOC) + R0 + 2 RC pairs + resistive internal short (see batteryzoom.data.twin.cycling)",
    }
    return {"main": df, "truth": truth, "btsda.csv": _btsda_three_level(df)}


def _sd_cells(seed: int, n_healthy: int, defect_leakage_a: float) -> tuple[list[str], list[CellParams], int]:
    pick = np.random.default_rng([seed, 0])
    n = n_healthy + 1
    defective = int(pick.integers(0, n))
    ids = [f"SN-{k + 1:04d}" for k in range(n)]
    cells = []
    for k in range(n):
        p = _healthy_params(np.random.default_rng([seed, 100 + k]))
        if k == defective:
            p = replace(p, leakage_a=defect_leakage_a)
        cells.append(p)
    return ids, cells, defective


def _sd_record(
    cell: CellParams, rng: np.random.Generator, preset: str
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """CC 1 A to 4.2 V from a relaxed 2.5 V, then the 25-day rest; the record, its truth and
    the noise-free rest (``rest_truth``)."""
    sim = _Sim(cell, _soc_at_ocv(2.5), rng)
    sim.rest(600, [(600, 60)], index=1)
    sim.cc(1.0, V_MAX, 2.0, 5, index=2)
    charge_q = sim._last_q
    late = 300.0 if preset == "small" else 60.0
    sim.rest(REST_DAYS * 86400, [(7200, 60.0), (REST_DAYS * 86400, late)], index=3)
    table = sim.table()
    df = _instrument(table, rng)
    rest = table[table["step_count"] == 3]
    t_day = (rest["test_time_second"].to_numpy() - rest["test_time_second"].iloc[0]) / 86400
    win = (t_day >= TRUTH_WINDOW_DAYS[0]) & (t_day <= TRUTH_WINDOW_DAYS[1] + 1e-9)
    v_clean = rest["voltage_volt"].to_numpy()
    slope = np.polyfit(t_day[win], v_clean[win], 1)[0]
    ocv = rest["ocv_volt"].to_numpy()
    leak = float(np.mean(ocv[win] / cell.r_short_ohm))
    whole = float(np.trapezoid(ocv / cell.r_short_ohm, t_day * 24.0))
    truth = {
        "cell": asdict(cell),
        "capacity_ah": cell.capacity_ah,
        "charge_capacity_ah": float(charge_q),
        "leakage_current_a": leak,
        "leakage_at_4p15_v_a": cell.leakage_a,
        "k_value_mv_per_day": float(-slope * 1e3),
        "truth_window_day": list(TRUTH_WINDOW_DAYS),
        "rest_days": REST_DAYS,
        "capacity_lost_ah": whole,
        "rest_start_voltage_volt": float(v_clean[0]),
        "relaxation_tau_hour": [cell.tau1_s / 3600, cell.tau2_s / 3600],
    }
    rest_truth = pd.DataFrame({
        "time_day": t_day,
        "voltage_volt": v_clean,
        "ocv_volt": ocv,
        "leakage_current_a": ocv / cell.r_short_ohm,
    })
    return df, truth, rest_truth


def window_truth(rest_truth: pd.DataFrame, start_day: float, end_day: float | None = None) -> dict:
    """The true K-value and mean leakage current of a rest over a window of it.

    Parameters
    ----------
    rest_truth : pandas.DataFrame
        Part ``rest_truth`` of ``twin/cycling-self-discharge`` (or one cell's rows of
        ``twin/cycling-population``'s): ``time_day``, ``voltage_volt`` (noise-free),
        ``leakage_current_a``.
    start_day, end_day : float
        The window in days after the rest began (``end_day``: default the rest's end), e.g.
        a :class:`batteryzoom.cycling.SelfDischargeResult`'s ``window_start_day`` and
        ``window_end_day``.

    Returns
    -------
    dict
        ``k_value_mv_per_day`` (least-squares slope of the noise-free voltage over the
        window, mV/day, positive for a falling voltage: what a line through the window
        measures, the relaxation's fall included), ``leakage_k_value_mv_per_day`` (the same
        slope of the OCV alone: the drop the leakage causes, which a K-value claims to
        measure; the two agree once the relaxation is over, e.g. from day 2) and
        ``leakage_current_a`` (the mean leakage current over it, A).
    """
    t = rest_truth["time_day"].to_numpy(np.float64)
    end = float(t[-1]) if end_day is None else float(end_day)
    win = (t >= float(start_day) - 1e-9) & (t <= end + 1e-9)
    if win.sum() < 2:
        raise ValueError(
            f"window [{start_day}, {end}] days holds {int(win.sum())} samples of the rest; need at least 2"
        )
    slope = np.polyfit(t[win], rest_truth["voltage_volt"].to_numpy(np.float64)[win], 1)[0]
    ocv_slope = np.polyfit(t[win], rest_truth["ocv_volt"].to_numpy(np.float64)[win], 1)[0]
    return {"k_value_mv_per_day": float(-slope * 1e3),
            "leakage_k_value_mv_per_day": float(-ocv_slope * 1e3),
            "leakage_current_a": float(np.mean(rest_truth["leakage_current_a"].to_numpy(np.float64)[win]))}


def cut_rest(record: pd.DataFrame, rest_day: float,
             rest_truth: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A self-discharge record (one cell) whose rest ends after ``rest_day`` days.

    The twin's rest is 25 days; a shorter one is the same record cut short (the sampling,
    the noise and the truth of the part kept are unchanged), as a test stopped early would
    be. It is how the analysis is scored at rest lengths from an hour to 25 days.

    Parameters
    ----------
    record : pandas.DataFrame
        One cell's BDF rows of ``twin/cycling-self-discharge`` (or of
        ``twin/cycling-population``, without the other cells): the charge, then the rest.
    rest_day : float
        The rest's new length (days, > 0).
    rest_truth : pandas.DataFrame, optional
        The cell's part ``rest_truth``, cut the same way.

    Returns
    -------
    record, rest_truth : pandas.DataFrame
        New tables (``rest_truth`` is ``None`` when not given).

    Examples
    --------
    >>> import batteryzoom as bz
    >>> from batteryzoom.data.twin.cycling import cut_rest
    >>> sd = bz.data.load("twin/cycling-self-discharge")
    >>> short, _ = cut_rest(sd, 0.25)
    >>> rest = short[short["step_count"] == short["step_count"].max()]
    >>> float(rest["test_time_second"].iloc[-1] - rest["test_time_second"].iloc[0]) / 3600
    6.0
    """
    if not rest_day > 0:
        raise ValueError(f"rest_day must be > 0 days, got {rest_day}")
    last = int(record["step_count"].max())
    rest = record["step_count"].to_numpy() == last
    if str(record["step_type"].to_numpy()[rest][0]) != "rest":
        raise ValueError("the record does not end in a rest (a self-discharge record of one cell is expected)")
    t = record["test_time_second"].to_numpy(np.float64)
    keep = ~rest | (t <= t[rest][0] + rest_day * 86400.0 + 1e-6)
    out = record[keep].reset_index(drop=True)
    out.attrs.update(record.attrs)
    if rest_truth is None:
        return out, None
    return out, rest_truth[rest_truth["time_day"].to_numpy() <= rest_day + 1e-9].reset_index(drop=True)


def self_discharge(seed: int = 18650, preset: str = "small", n_healthy: int = 12,
                   defect_leakage_a: float = 0.6e-3) -> dict:
    """The defective cell's self-discharge test (Fig. S2): CC 1 A to 4.2 V, 25-day rest.

    The same cell, with the same bytes, as the defective one in :func:`population` with
    the same seed.

    Returns
    -------
    dict
        ``main`` (BDF DataFrame), ``truth`` (dict), ``rest_truth`` (the noise-free rest: see
        :func:`window_truth`), ``btsda.csv`` (flat export text).
    """
    ids, cells, k = _sd_cells(seed, n_healthy, defect_leakage_a)
    df, truth, rest_truth = _sd_record(cells[k], np.random.default_rng([seed, 200 + k]), preset)
    df.attrs.update(source="batteryzoom twin", test="self-discharge: CC 1 A to 4.2 V, 25-day rest", cell=ids[k])
    truth.update(cell_id=ids[k], defective=True)
    return {"main": df, "truth": truth, "rest_truth": rest_truth, "btsda.csv": _btsda_flat(df)}


def population(seed: int = 18650, preset: str = "small", n_healthy: int = 12,
               defect_leakage_a: float = 0.6e-3) -> dict:
    """The self-discharge test of a population: ``n_healthy`` healthy cells (10–50 µA) and
    the defective one (``defect_leakage_a``), at a position drawn from the seed.

    Returns
    -------
    dict
        ``main`` (BDF rows of every cell, column ``cell_id``), ``truth`` (DataFrame, one row
        per cell: ``cell_id``, ``defective``, ``leakage_current_a``, ``k_value_mv_per_day``,
        ``capacity_ah``, ``capacity_lost_ah``), ``rest_truth`` (every cell's noise-free rest,
        column ``cell_id``: see :func:`window_truth`), ``btsda-<cell_id>.csv`` per cell.
    """
    if not 3 <= n_healthy <= 200:
        raise ValueError(f"n_healthy must be between 3 and 200 (a population), got {n_healthy}")
    if not 0.3e-3 <= defect_leakage_a <= 1e-3:
        raise ValueError(f"defect_leakage_a must be 0.3-1 mA (the study's defect), got {defect_leakage_a}")
    ids, cells, k_def = _sd_cells(seed, n_healthy, defect_leakage_a)
    frames, rows, parts, rests = [], [], {}, []
    for k, (cid, cell) in enumerate(zip(ids, cells)):
        df, truth, rest_truth = _sd_record(cell, np.random.default_rng([seed, 200 + k]), preset)
        rest_truth.insert(0, "cell_id", cid)
        rests.append(rest_truth)
        parts[f"btsda-{cid}.csv"] = _btsda_flat(df)
        df.insert(0, "cell_id", cid)
        frames.append(df)
        rows.append({"cell_id": cid, "defective": k == k_def, "leakage_current_a": truth["leakage_current_a"],
                     "k_value_mv_per_day": truth["k_value_mv_per_day"], "capacity_ah": truth["capacity_ah"],
                     "capacity_lost_ah": truth["capacity_lost_ah"], "leakage_at_4p15_v_a": cell.leakage_a})
    main = pd.concat(frames, ignore_index=True)
    main["cell_id"] = pd.Categorical(main["cell_id"], categories=ids)
    main.attrs.update(source="batteryzoom twin", test="self-discharge population: CC 1 A to 4.2 V, 25-day rest")
    truth = pd.DataFrame(rows)
    truth.attrs["truth_window_day"] = list(TRUTH_WINDOW_DAYS)
    rest_truth = pd.concat(rests, ignore_index=True)
    rest_truth["cell_id"] = pd.Categorical(rest_truth["cell_id"], categories=ids)
    return {"main": main, "truth": truth, "rest_truth": rest_truth, **parts}
