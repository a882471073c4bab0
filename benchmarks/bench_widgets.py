"""bz.widgets: server-side work of one GrainExplorer selection.

Issue 8's budget: a selection (click or dropdown) costs <= 50 ms of Python for 2,000 grains,
because it looks up precomputed per-grain statistics instead of recomputing anything. Two
rows: the 2,000-grain selection against that budget, and against the same selection on a
20-grain particle (the cost should not grow with the number of grains).
"""

from __future__ import annotations

import numpy as np
from harness import Measurement, case, median_time

from batteryzoom.data.twin import frames, grains


def _explorer(mean_grain_um: float, diameter_um: float):
    import batteryzoom as bz

    level = frames.level("twin/particle-nanoct", "small")  # 112³ voxels of 0.08 µm
    labels = grains.grain_labels(grains.particle_geometry(11, diameter_um=diameter_um, mean_grain_um=mean_grain_um), level)
    rng = np.random.default_rng(0)
    values = (8341.0 + rng.normal(0.0, 0.6, labels.shape)).astype(np.float32)
    stats = bz.regions.region_stats(values, labels, bins=64, name="edge_energy_ev")
    explorer = bz.widgets.GrainExplorer(labels, stats, values=values, voxel_size_um=level.voxel_size_um)
    return explorer, np.asarray(stats.table.index)


def _select_time(explorer, ids: np.ndarray) -> float:
    rng = np.random.default_rng(1)
    picks = iter(rng.choice(ids, 200))

    def click():
        # a grain never shown before (no cached surface): the worst case of a click
        explorer._closed_cache.clear()
        explorer.select(int(next(picks)))

    return median_time(click, repeat=15, warmup=2)


@case("widgets")
def grain_explorer_selection():
    many, many_ids = _explorer(mean_grain_um=0.65, diameter_um=8.0)
    few, few_ids = _explorer(mean_grain_um=2.2, diameter_um=8.0)
    t_many = _select_time(many, many_ids)
    t_few = _select_time(few, few_ids)
    return [
        Measurement(f"GrainExplorer.select, {len(many_ids)} grains vs the 50 ms budget", t_many, 0.050, goal=1.0,
                    note="baseline = issue 8's budget, not a measurement"),
        Measurement(f"select with {len(many_ids)} grains vs with {len(few_ids)} grains", t_many, t_few, goal=1.5,
                    note="a selection should not grow with the number of grains"),
    ]
