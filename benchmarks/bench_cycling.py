"""bz.io.read_cycler + bz.cycling: the 700k-row Neware .ndax read into a BDF table and
summarised per cycle, against the bare fastnda read of the same file (goal <= 1.5x)."""

from __future__ import annotations

import warnings

from harness import Measurement, case, median_time

import batteryzoom as bz
from batteryzoom import cycling
from batteryzoom.io.cycler import TimeRepairWarning, read_cycler


@case("cycling")
def ndax_700k_read_and_summary_vs_bare_fastnda():
    import fastnda

    path = bz.data.fetch("real/cycler/neware-bts85-700k")[0]

    def ours():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TimeRepairWarning)
            df = read_cycler(path)
        return cycling.cycle_summary(df)

    def bare():
        return fastnda.read(path)

    # interleave the two so that load on the shared machine hits both alike, and keep each
    # one's best run (the least disturbed by other processes, as timeit does); CPU time
    # (all threads: fastnda decodes on several) is reported beside the wall time
    import time

    wall = {"ours": [], "bare": []}
    cpu = {"ours": [], "bare": []}
    bare(), ours()  # warm up: imports, file cache
    for _ in range(5):
        for key, func in (("bare", bare), ("ours", ours)):
            w0, c0 = time.perf_counter(), time.process_time()
            func()
            wall[key].append(time.perf_counter() - w0)
            cpu[key].append(time.process_time() - c0)
    return [
        Measurement("read_cycler + cycle_summary, 699,677-row .ndax vs fastnda.read", min(wall["ours"]),
                    min(wall["bare"]), goal=1.5, note="wall, best of 5 interleaved runs"),
        Measurement("  same, CPU time of all threads", min(cpu["ours"]), min(cpu["bare"]), goal=1.5,
                    note="process CPU, best of 5"),
    ]


@case("cycling")
def self_discharge_fit_vs_linear_regression():
    """The relaxation + leakage fit of a 25-day rest (8,000 points) against one OLS line."""
    from scipy import stats

    df = bz.data.load("twin/cycling-self-discharge")
    rest = df[df["step_count"] == df["step_count"].max()]
    t, v = rest["test_time_second"].to_numpy(), rest["voltage_volt"].to_numpy()
    ours = median_time(lambda: cycling.self_discharge(df), repeat=3)
    line = median_time(lambda: stats.linregress(t, v), repeat=3)
    return [Measurement("self_discharge fit (25-day twin rest) vs one linregress", ours, line,
                        note="fit cost per cell; a 13-cell lot screens in ~13x this")]


@case("cycling")
def twin_generation_time():
    from batteryzoom.data.twin import cycling as twin

    one = median_time(lambda: twin.one_cycle(), repeat=3)
    sd = median_time(lambda: twin.self_discharge(), repeat=3)
    pop = median_time(lambda: twin.population(), repeat=1)
    return [Measurement("twin one-cycle record", one, note="goal << 5 s"),
            Measurement("twin self-discharge record (25 days)", sd, note="goal << 5 s"),
            Measurement("twin population (13 cells + 13 BTSDA exports)", pop, note="goal << 5 s")]
