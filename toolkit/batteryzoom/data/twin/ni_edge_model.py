"""A parametric Ni K-edge (normalized absorption), fitted to the real NiO and LiNiO2 standards.

``mu(E) = step + white line + shoulder + pre-edge peak + post-edge oscillation``:

- step: ``1/2 + arctan((E - e_step) / w_step) / pi`` (a core-hole-broadened edge),
- white line, edge shoulder and 1s->3d pre-edge peak: Gaussians ``a * exp(-(E - e)**2 / (2 s**2))``,
- post-edge oscillation: one EXAFS-like shell ``a_osc * sin(2 r_osc k + phi_osc) * exp(-k / d_osc)``
  with ``k = sqrt(0.2625 (E - e_wl))`` (1/Å), switched on smoothly above the white line.

The parameters of both standards are fitted by ``toolkit/scripts/fit_ni_edge_model.py``
(least squares on the Larch-normalized standards, 8300-8600 eV) and stored in
``ni_edge_model.json`` beside this module; the reference spectra themselves are never
committed. A chemical state between Ni2+ and Ni3+ is the linear mixture
``(1 - f) mu_NiO + f mu_LiNiO2``, optionally shifted in energy.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["PARAM_NAMES", "ni_edge", "load_params", "mixture", "PARAMS_PATH"]

PARAM_NAMES = (
    "e_step", "w_step",
    "a_wl", "e_wl", "s_wl",
    "a_sh", "e_sh", "s_sh",
    "a_pre", "e_pre", "s_pre",
    "a_osc", "r_osc", "phi_osc", "d_osc",
)
PARAMS_PATH = Path(__file__).with_name("ni_edge_model.json")
_K_PER_SQRT_EV = 0.2625  # k^2 (1/Å^2) = 0.2625 * (E - E0) (eV)


def ni_edge(energy_ev: np.ndarray, params: dict | np.ndarray) -> np.ndarray:
    """Normalized Ni K-edge absorption at ``energy_ev`` (any shape, eV) for one parameter set.

    Parameters
    ----------
    energy_ev : numpy.ndarray
        Energies (eV), any shape.
    params : dict or array
        The :data:`PARAM_NAMES` values (dict, or array in that order; an array's trailing
        axes broadcast against ``energy_ev``, e.g. ``(15, 1, V)`` for per-voxel sets).

    Returns
    -------
    numpy.ndarray
        float64, 0 well below the edge, ~1 well above.
    """
    if isinstance(params, dict):
        p = [np.asarray(params[k], np.float64) for k in PARAM_NAMES]
    else:
        p = list(np.asarray(params, np.float64))
    (e_step, w_step, a_wl, e_wl, s_wl, a_sh, e_sh, s_sh, a_pre, e_pre, s_pre,
     a_osc, r_osc, phi_osc, d_osc) = p
    e = np.asarray(energy_ev, np.float64)
    step = 0.5 + np.arctan((e - e_step) / w_step) / np.pi
    wl = a_wl * np.exp(-0.5 * ((e - e_wl) / s_wl) ** 2)
    sh = a_sh * np.exp(-0.5 * ((e - e_sh) / s_sh) ** 2)
    pre = a_pre * np.exp(-0.5 * ((e - e_pre) / s_pre) ** 2)
    above = np.maximum(e - e_wl, 0.0)
    k = np.sqrt(_K_PER_SQRT_EV * above)
    turn_on = 0.5 * (1.0 + np.tanh((e - e_wl - 8.0) / 4.0))
    osc = a_osc * np.sin(2.0 * r_osc * k + phi_osc) * np.exp(-k / d_osc) * turn_on
    return step + wl + sh + pre + osc


@lru_cache(maxsize=1)
def _cached() -> dict:
    return json.loads(PARAMS_PATH.read_text())


def load_params() -> dict:
    """The fitted parameters and fit diagnostics (``ni_edge_model.json``)."""
    return _cached()


def mixture(energy_ev: np.ndarray, fraction_ni3: np.ndarray | float, shift_ev: np.ndarray | float = 0.0) -> np.ndarray:
    """``(1 - f) mu_NiO(E - shift) + f mu_LiNiO2(E - shift)``, broadcasting ``f`` and ``shift``."""
    fitted = load_params()["standards"]
    e = np.asarray(energy_ev, np.float64) - shift_ev
    nio = ni_edge(e, fitted["NiO"]["params"])
    lno = ni_edge(e, fitted["LiNiO2"]["params"])
    return (1.0 - np.asarray(fraction_ni3)) * nio + np.asarray(fraction_ni3) * lno
