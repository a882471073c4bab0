"""The main job's synthetic twin: the inputs of each scale, its ground truth and its frames.

The finished volumes by default; with ``from_raw`` the particle and grain scales from the
raw acquisitions, as the instruments deliver them (issue #25). The convention of a folder of
your own data is :class:`batteryzoom.report.FolderSource`'s (:mod:`.sources`).
"""

from __future__ import annotations

from typing import Any

from .source import FINISHED, FROM_RAW, SCALES, Source

__all__ = ["TwinSource"]

_TWIN = {
    "cell": "twin/cell-ct",
    "electrode": "twin/electrode-ct",
    "particle": "twin/particle-nanoct",
    "grain": "twin/particle-xanes",
}
# the same particle as the instruments acquire it (issue #25): the from-raw route
_TWIN_RAW = {
    "particle": "twin/particle-nanoct-raw",
    "grain": "twin/particle-xanes-raw",
}


def _placed(values: Any, shape: tuple[int, ...], origin_px: Any, fill: Any) -> Any:
    """``values`` (a truth grid) inside a reconstruction grid of ``shape`` whose voxel
    ``origin_px`` is the truth's voxel 0 (the twin's ``truth_origin_px``); ``fill`` elsewhere."""
    import numpy as np

    arr = np.asarray(getattr(values, "values", values))
    out = np.full(shape, fill, dtype=arr.dtype)
    out[tuple(slice(int(o), int(o) + n) for o, n in zip(origin_px, arr.shape))] = arr
    return out


class TwinSource(Source):
    """The synthetic twin of the study's cell (``bz.data.load("twin/...")``, preset small).

    Generated on first use and cached; its ground truth feeds the report's truth column.

    Parameters
    ----------
    from_raw : bool
        Take the particle and grain scales from the raw acquisitions, as the instruments
        deliver them: the particle's nano-CT reconstructed from ``twin/particle-nanoct-raw``
        (Paganin phase retrieval with its stated δ/β and distance, then FBP with the axis
        found; the grains segmented on that reconstruction) and the 3D XANES from
        ``twin/particle-xanes-raw`` through :func:`batteryzoom.xanes.xanes_from_raw`
        (per-energy FBP, magnification across energies, alignment, chemistry). The truth is
        placed on the reconstructions' grids. Default False: the finished volumes
        (``twin/particle-nanoct``, ``twin/particle-xanes``), whose findings the reference
        table holds; the raw route takes ~1.5 min more on two cores (README).
    """

    name = "twin"
    description = (
        "the synthetic twin of the study's cell: a commercial 18650 (NMC532/graphite, 2 Ah) that "
        "failed quality control because it self-discharged; every scale generated with ground truth"
    )
    is_twin = True

    def __init__(self, from_raw: bool = False):
        self.from_raw = bool(from_raw)
        self._hierarchy = None

    def has(self, scale: str) -> bool:
        return scale in SCALES

    def route(self, scale: str) -> str | None:
        if scale == "cycler":
            return None
        if not (self.from_raw and scale in _TWIN_RAW):
            return f"{FINISHED} ({_TWIN[scale]})"
        from .. import data

        model = data.load(_TWIN_RAW[scale], part="model")
        if scale == "particle":
            return (f"{FROM_RAW} ({_TWIN_RAW[scale]}: {model['n_angles']} projections at "
                    f"{model['energy_ev'] / 1000:.0f} keV, Paganin phase retrieval δ/β {model['delta_beta']:.0f} at "
                    f"{1000 * model['distance_m']:.1f} mm, FBP with the axis found; grains segmented on the "
                    "reconstruction)")
        n_e = data.load(_TWIN_RAW[scale]).sizes["energy"]
        return (f"{FROM_RAW} ({_TWIN_RAW[scale]}: {n_e} energies × {model['n_angles']} projections, FBP per "
                "energy with the axis and jitter found, stripes removed, magnification across energies fitted, "
                "then aligned: bz.xanes.xanes_from_raw)")

    def _raw_particle(self) -> Any:
        """The particle's nano-CT reconstructed from its raw propagation-based acquisition."""
        from .. import data, tomo

        name = _TWIN_RAW["particle"]
        model = data.load(name, part="model")
        # no stripe removal: the acquisition has no defect columns (its truth says so), and
        # the filter costs 0.03 of the grains' adjusted Rand index (tests/segment/test_grains.py)
        return tomo.reconstruct(data.load(name), phase={"delta_beta": model["delta_beta"],
                                                        "distance_m": model["distance_m"]},
                                rings=False, progress=False)

    def load(self, scale: str) -> dict[str, Any]:
        from .. import data

        if self.from_raw and scale == "particle":
            return {"volume": self._raw_particle()}
        if self.from_raw and scale == "grain":
            return {"acquisition": data.load(_TWIN_RAW["grain"]), "labels": None, "designated": None}

        if scale == "cycler":
            sd = data.load("twin/cycling-self-discharge")
            return {
                "one_cycle": data.load("twin/cycling-one-cycle"),
                "self_discharge": sd,
                "cell_id": sd.attrs.get("cell", "cell"),
                "population": data.load("twin/cycling-population"),
                "threshold_mv_per_day": 2.0,
            }
        if scale == "grain":
            return {"stack": data.load(_TWIN["grain"]), "labels": None, "designated": None}
        return {"volume": data.load(_TWIN[scale])}

    def truth(self, scale: str) -> dict[str, Any]:
        from .. import data

        if self.from_raw and scale in _TWIN_RAW:
            return self._raw_truth(scale)
        if scale == "cycler":
            return {
                "one_cycle": data.load("twin/cycling-one-cycle", part="truth"),
                "self_discharge": data.load("twin/cycling-self-discharge", part="truth"),
                "population": data.load("twin/cycling-population", part="truth"),
            }
        if scale == "cell":
            return {"defects": data.load(_TWIN["cell"], part="defects"),
                    "spiral": data.load(_TWIN["cell"], part="spiral")}
        if scale == "electrode":
            name = _TWIN["electrode"]
            return {"particles": data.load(name, part="particles"), "particle_table": data.load(name, part="particle_table"),
                    "phases": data.load(name, part="phases"), "info": data.load(name, part="info")}
        if scale == "particle":
            name = _TWIN["particle"]
            return {"grains": data.load(name, part="grains"), "cracks": data.load(name, part="cracks"),
                    "pores": data.load(name, part="pores"), "grain_table": data.load(name, part="grain_table")}
        if scale == "grain":
            name = _TWIN["grain"]
            return {"truth": data.load(name, part="truth"), "grains": data.load(name, part="grains"),
                    "shifts": data.load(name, part="shifts"), "model": data.load(name, part="model")}
        return {}

    def _raw_truth(self, scale: str) -> dict[str, Any]:
        """The truth of a raw acquisition placed on its reconstruction's grid (the detector's
        rows × columns × columns, centred on the axis; ``truth_origin_px``)."""
        import xarray as xr

        from .. import data

        name = _TWIN_RAW[scale]
        shape = tuple(self.hierarchy()[name].shape)
        if scale == "particle":
            t = data.load(name, part="truth")
            o = t.attrs["truth_origin_px"]
            return {"grains": _placed(t["grains"], shape, o, 0), "cracks": _placed(t["cracks"], shape, o, False),
                    "pores": _placed(t["pores"], shape, o, False), "grain_table": data.load(name, part="grain_table")}
        t = data.load(name, part="truth")
        o = t.attrs["truth_origin_px"]
        dims = ("z", "y", "x")
        placed = xr.Dataset({"edge_energy_ev": (dims, _placed(t["edge_energy_ev"], shape, o, float("nan"))),
                             "grain_labels": (dims, _placed(t["grain_labels"], shape, o, 0))})
        # no shifts between energies to recover: the raw route reconstructs each energy on its
        # own axis (the drift and the jitter are the acquisition's truth, scored in tests/xanes)
        return {"truth": placed, "grains": data.load(name, part="grains"), "shifts": None,
                "model": data.load(name, part="model")}

    def hierarchy(self):
        from dataclasses import replace

        import numpy as np

        from ..zoom import Hierarchy

        if self._hierarchy is None:
            h = Hierarchy.from_twin("small")
            if self.from_raw:
                from ..data.twin import particle_raw, xanes_raw

                h.add(particle_raw.level("small"))
                xanes = xanes_raw.level("small")
                # carried into the particle's reconstruction's frame: the zoom goes on from it
                origin = h.map_points(np.zeros(3), xanes.parent, _TWIN_RAW["particle"]) + np.asarray(xanes.origin_um)
                h.add(replace(xanes, origin_um=tuple(origin.round(6).tolist()), parent=_TWIN_RAW["particle"]))
            self._hierarchy = h
        return self._hierarchy

    def level(self, scale: str) -> str | None:
        if self.from_raw and scale in _TWIN_RAW:
            return _TWIN_RAW[scale]
        return _TWIN.get(scale)

    def inputs(self) -> list[Path]:
        from ..data.store import cache_dir, mirror_dir

        return [p for p in (cache_dir(), mirror_dir()) if p is not None]
