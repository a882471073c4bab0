"""bz.tomo.jitter: up to 3 px of random jitter on the twin particle's projections (Poisson
noise) recovered to ≤ 0.2 px RMS, and the volume sharper for it."""

from __future__ import annotations

import numpy as np
import pytest

from batteryzoom.errors import InputError
from batteryzoom.tomo import estimate_jitter, observable, project, reconstruct_slices, shift_projections


def test_jitter_of_3_px_is_recovered_to_0_2_px(twin, noisy):
    density = twin("particle-nanoct", "density").values[40:64]  # 24 slices through the middle
    volume = (np.pad(density, ((0, 0), (0, 1), (0, 1))) * 0.05).astype(np.float32)
    n = volume.shape[-1]
    c = (n - 1) / 2
    angles = np.linspace(0, 180, 120, endpoint=False)
    truth = np.random.default_rng(3).uniform(-3, 3, (angles.size, 2))  # (row, col) px
    od = noisy(shift_projections(project(volume, angles, c, n), truth), 2e4, 5)
    res = estimate_jitter(od, angles, c)
    want = observable(truth, angles)
    err = np.sqrt(np.mean((res.shifts_px - want) ** 2))
    print(f"\njitter: {np.sqrt(np.mean(want ** 2)):.2f} px RMS applied, {err:.3f} px RMS error after "
          f"{res.iterations} rounds (updates {', '.join(f'{u:.3f}' for u in res.updates_px)})")
    assert err <= 0.2
    rmse = [np.sqrt(np.mean((reconstruct_slices(p, angles, c) - volume) ** 2)) for p in (od, res.corrected)]
    assert rmse[1] < 0.8 * rmse[0]


def test_bad_inputs_are_named():
    with pytest.raises(InputError, match="one angle per projection"):
        estimate_jitter(np.zeros((10, 8, 16)), np.arange(9) * 20.0, 8.0)
    with pytest.raises(InputError, match="at least 4 rows and 8 angles"):
        estimate_jitter(np.zeros((10, 2, 16)), np.arange(10) * 18.0, 8.0)
    with pytest.raises(InputError, match=r"need shifts of shape \(10, 2\)"):
        shift_projections(np.zeros((10, 8, 16)), np.zeros((9, 2)))
