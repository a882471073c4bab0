"""The grain scale's recipe in one call: a 3D XANES stack and grain labels to per-grain chemistry.

:func:`grain_chemistry` runs what the report's grain scale and notebook 05 both print, so
a number shown in one is the number shown in the other:

1. :func:`~batteryzoom.xanes.align` the energies (sub-pixel phase correlation);
2. :func:`~batteryzoom.xanes.edge_maps` and :func:`~batteryzoom.xanes.masks`: the half-step
   Ni K-edge energy of every trusted voxel, with its uncertainty;
3. per grain (:func:`batteryzoom.regions.region_stats` over the trusted voxels, 48 bins
   between the 0.1 and 99.9 percentiles of the labelled edge energies): mean, FWHM and the
   distribution; :func:`batteryzoom.regions.heterogeneity`: the share of the variance
   between grains;
4. Fig. S3's two grains: the ones given, else grain 2 the most oxidized (highest mean) and
   grain 1 the least uniform (widest FWHM) of the well-sampled grains;
5. their width without the per-voxel noise: :func:`~batteryzoom.xanes.pca_edge_maps` with
   every detectable component (a truncated PCA biases spreads), then
   :func:`~batteryzoom.xanes.region_edge_stats` (noise variance subtracted).

Grain labels from a segmentation (``bz.segment.segment_grains`` carried onto the XANES grid
by ``bz.zoom.Hierarchy.regrid_labels``) give each grain some of its neighbours' voxels:
pass ``mask=`` the voxels that hold one grain (``regrid_labels(..., min_purity=0.75) >
0``) and ``clip_sigma=3`` (:mod:`.regional` says why). :meth:`GrainChemistry.regroup`
reruns steps 3-5 with other labels on the same maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..frames import frame_of
from ..regions import Heterogeneity, RegionLookup, RegionStats, RegionSummary, heterogeneity, region_stats
from .alignment import align
from .denoise import pca_edge_maps
from .edges import edge_maps
from .masks import masks as voxel_masks
from .regional import region_edge_stats

__all__ = ["GrainChemistry", "grain_chemistry"]

# the shared binning of the per-grain distributions: 48 bins between these percentiles of
# every labelled trusted voxel's edge energy (a few outliers do not stretch it)
_BINS = 48
_RANGE_PERCENTILES = (0.1, 99.9)


@dataclass
class GrainChemistry:
    """The result of :func:`grain_chemistry`.

    Attributes
    ----------
    aligned : xarray.DataArray
        The aligned stack ``(energy, z, y, x)`` (NaN outside the frames' common field of view).
    shifts_px : numpy.ndarray, shape (n_energies, n_spatial)
        The displacement each energy's frame was moved back by (pixels).
    maps : xarray.Dataset
        :func:`~batteryzoom.xanes.edge_maps` of the aligned stack.
    masks : xarray.Dataset
        :func:`~batteryzoom.xanes.masks` of ``maps`` (``mask``: voxels with a trusted edge).
    edge : xarray.DataArray
        ``edge_energy_ev``: the half-step edge energy (eV) of the trusted voxels, NaN
        elsewhere; ``attrs["voxel_size_um"]`` the stack's (None when unknown).
    labels : xarray.DataArray or None
        The grain labels on the stack's grid (with the voxel size in ``attrs``).
    mask : numpy.ndarray of bool or None
        The voxels the per-grain statistics were restricted to, besides the trusted ones.
    clip_sigma : float or None
        The per-grain sigma clipping used (None: every voxel).
    stats : RegionStats or None
        Per-grain statistics of ``edge`` (``edge_energy_ev_mean``, ``_fwhm``, histograms).
    heterogeneity : Heterogeneity or None
        The edge energy's variance split between and within grains.
    lookup : RegionLookup or None
        ``stats`` indexed by label (for the figures and widgets).
    designated : list of int or None
        Fig. S3's grains 1 and 2 (labels); None with fewer than two grains measured.
    designated_auto : bool
        Whether they were chosen by the rule (none given, or a given one not measured).
    pca : xarray.Dataset or None
        :func:`~batteryzoom.xanes.pca_edge_maps` (``n_components="detectable"``) of the
        aligned stack, over the trusted voxels.
    widths : pandas.DataFrame or None
        :func:`~batteryzoom.xanes.region_edge_stats` of ``pca``: per grain the
        noise-deconvolved FWHM and the reliability flags.
    """

    aligned: Any
    shifts_px: np.ndarray
    maps: Any
    masks: Any
    edge: Any
    labels: Any = None
    mask: np.ndarray | None = None
    clip_sigma: float | None = None
    stats: RegionStats | None = None
    heterogeneity: Heterogeneity | None = None
    lookup: RegionLookup | None = None
    designated: list[int] | None = None
    designated_auto: bool = False
    pca: Any = field(default=None, repr=False)
    widths: pd.DataFrame | None = None

    @property
    def trusted_fraction(self) -> float:
        """Share of the stack's voxels with a trusted edge (0-1)."""
        return float(np.isfinite(self.edge.values).mean())

    @property
    def max_shift_px(self) -> float:
        """The largest alignment shift along any axis (pixels)."""
        return float(np.abs(self.shifts_px).max())

    @property
    def voxel_uncertainty_ev(self) -> float:
        """Median per-voxel uncertainty of the half-step edge over the trusted voxels (eV)."""
        return float(np.nanmedian(self.maps["edge_energy_half_step_err_ev"].where(self.masks["mask"]).values))

    @property
    def n_grains(self) -> int:
        """Grains with at least one finite edge energy."""
        return 0 if self.stats is None else int((self.stats.table["count"] > 0).sum())

    @property
    def pca_components(self) -> int | None:
        """Components the denoising kept."""
        return None if self.pca is None else int(self.pca.attrs["pca_components"])

    @property
    def summaries(self) -> list[RegionSummary]:
        """What a view shows of grains 1 and 2 (mean, FWHM as measured, histogram)."""
        return [] if self.designated is None else [self.lookup.summary(g) for g in self.designated]

    @property
    def fwhm_deconvolved_ev(self) -> list[float]:
        """FWHM of grains 1 and 2 without the per-voxel noise (eV; NaN when not measured)."""
        if self.designated is None:
            return []
        col = self.widths["edge_energy_fwhm_deconvolved_ev"]
        return [float(col.get(g, np.nan)) for g in self.designated]

    def designated_table(self) -> pd.DataFrame:
        """Fig. S3's two grains, one row each (index ``grain 1``, ``grain 2``): ``label``,
        ``n_voxels``, ``edge_energy_mean_ev``, ``edge_energy_fwhm_ev`` (as measured) and
        ``edge_energy_fwhm_deconvolved_ev`` (without the noise)."""
        if self.designated is None:
            raise InputError("no grain labels were given: pass grain_labels to bz.xanes.grain_chemistry")
        rows = [{"label": s.label, "n_voxels": int(s.table_row["count"]), "edge_energy_mean_ev": s.mean,
                 "edge_energy_fwhm_ev": s.fwhm, "edge_energy_fwhm_deconvolved_ev": w}
                for s, w in zip(self.summaries, self.fwhm_deconvolved_ev)]
        return pd.DataFrame(rows, index=pd.Index(["grain 1", "grain 2"], name="grain"))

    def regroup(self, grain_labels: Any, *, mask: Any = None, clip_sigma: float | None = None,
                designated: Any = None, progress: bool | None = None) -> GrainChemistry:
        """The per-grain steps again with other labels (or options), on the same aligned
        stack and maps: e.g. segmented grains after the true ones. Arguments as
        :func:`grain_chemistry`'s; the PCA maps are reused."""
        return _per_grain(replace(self, labels=None, stats=None, heterogeneity=None, lookup=None,
                                  designated=None, widths=None), grain_labels, mask=mask, clip_sigma=clip_sigma,
                          designated=designated, progress=progress)


def grain_chemistry(stack: Any, grain_labels: Any = None, *, mask: Any = None, clip_sigma: float | None = None,
                    designated: Any = None, progress: bool | None = None) -> GrainChemistry:
    """The chemistry of a particle's primary grains from a 3D XANES stack (the module's recipe).

    Parameters
    ----------
    stack : xarray.DataArray
        ``(energy, z, y, x)`` (or ``(energy, y, x)``) optical density with an ``energy``
        coordinate in eV and the frame in its attributes or µm coordinates
        (``bz.data.load("twin/particle-xanes")``, ``bz.io.read_xanes_*``); numpy or dask.
    grain_labels : array-like of int, optional
        Grain labels on the stack's spatial grid (0 = background). None: only the
        per-voxel steps (alignment, edge map, masks).
    mask : array-like of bool, optional
        Voxels the per-grain statistics may use besides the trusted ones, e.g. those that
        hold one grain: ``Hierarchy.regrid_labels(..., min_purity=0.75) > 0``.
    clip_sigma : float, optional
        Per-grain sigma clipping of the edge energies (3 for segmented labels; None keeps
        every voxel): :func:`batteryzoom.regions.sigma_clip`.
    designated : (int, int), optional
        Labels of Fig. S3's grains 1 and 2; default (or when one has no measured voxel):
        grain 2 the most oxidized, grain 1 the least uniform of the grains with at least
        ``max(20, median count)`` trusted voxels.
    progress : bool, optional
        Show progress bars (default: ``BATTERYZOOM_PROGRESS``).

    Returns
    -------
    GrainChemistry
        The maps, the per-grain tables and the key numbers (``trusted_fraction``,
        ``max_shift_px``, ``voxel_uncertainty_ev``, ``n_grains``, ``heterogeneity``,
        ``designated_table()``).

    Raises
    ------
    InputError
        A stack without an energy axis, labels of another shape or not integers, a
        designated pair that is not two labels.

    Examples
    --------
    A small synthetic particle (a disc in a 2-D map) of two grains, edges at 8341 and
    8342.5 eV:

    >>> import numpy as np, xarray as xr, batteryzoom as bz
    >>> energy = np.r_[np.arange(8200.0, 8321.0, 10.0), np.arange(8325.0, 8361.0, 1.0), np.arange(8370.0, 8601.0, 20.0)]
    >>> y, x = np.mgrid[:24, :24] - 11.5
    >>> disc = np.hypot(y, x) < 10
    >>> labels = np.where(disc, np.where(x < 0, 1, 2), 0)
    >>> centre = np.where(labels == 1, 8341.0, 8342.5)
    >>> od = disc * (0.4 + 0.5 * (0.5 + np.arctan((energy[:, None, None] - centre) / 1.5) / np.pi))
    >>> od = od + np.random.default_rng(0).normal(0, 0.002, od.shape)
    >>> stack = xr.DataArray(od, dims=("energy", "y", "x"), coords={"energy": energy},
    ...                      attrs={"voxel_size_um": [0.1, 0.1]})
    >>> chem = bz.xanes.grain_chemistry(stack, labels, progress=False)
    >>> chem.n_grains, chem.designated, chem.max_shift_px < 0.1
    (2, [1, 2], True)
    >>> chem.designated_table()["edge_energy_mean_ev"].round(1).tolist()
    [8341.0, 8342.5]
    """
    stack = _as_stack(stack)
    aligned, shifts = align(stack, show_progress=progress)
    maps = edge_maps(aligned)
    trusted = voxel_masks(maps)
    edge = maps["edge_energy_half_step_ev"].where(trusted["mask"]).rename("edge_energy_ev")
    # lengths are only reported here: an unknown voxel size gives volumes in voxels
    edge.attrs.update(units="eV", voxel_size_um=frame_of(stack, missing="px").attrs()["voxel_size_um"])
    result = GrainChemistry(aligned=aligned, shifts_px=np.asarray(shifts), maps=maps, masks=trusted, edge=edge)
    if grain_labels is None:
        return result
    return _per_grain(result, grain_labels, mask=mask, clip_sigma=clip_sigma, designated=designated,
                      progress=progress)


def _as_stack(stack: Any) -> Any:
    """The stack as a DataArray with ``energy`` first."""
    if not (hasattr(stack, "dims") and hasattr(stack, "coords")):
        raise InputError(f"stack: got a {type(stack).__name__}; pass an xarray.DataArray (energy, z, y, x) with an "
                         "'energy' coordinate in eV, e.g. from bz.data.load or bz.io.read_xanes_hdf5")
    if "energy" not in stack.dims:
        raise InputError(f"stack: dims {stack.dims} have no 'energy'; name the energy axis 'energy' (eV)")
    return stack.transpose("energy", ...)


def _labels_like(edge: Any, grain_labels: Any) -> Any:
    """The labels as a DataArray on the edge map's grid, with its voxel size in ``attrs``."""
    import xarray as xr

    if hasattr(grain_labels, "dims"):
        labels = grain_labels.transpose(*edge.dims) if set(grain_labels.dims) == set(edge.dims) else grain_labels
        labels = labels.copy()
    else:
        labels = xr.DataArray(np.asarray(grain_labels), dims=edge.dims, coords=edge.coords) \
            if np.shape(grain_labels) == edge.shape else None
    if labels is None or labels.shape != edge.shape:
        raise InputError(f"grain_labels: shape {np.shape(grain_labels)} differs from the stack's space "
                         f"{edge.shape}; carry the labels onto the XANES grid first (Hierarchy.regrid_labels)")
    labels.attrs["voxel_size_um"] = edge.attrs.get("voxel_size_um")
    return labels


def _per_grain(result: GrainChemistry, grain_labels: Any, *, mask: Any, clip_sigma: float | None,
               designated: Any, progress: bool | None) -> GrainChemistry:
    """Steps 3-5 of the recipe (module docstring) on ``result``'s maps."""
    edge, trusted = result.edge, result.masks["mask"].values
    labels = _labels_like(edge, grain_labels)
    lab = np.asarray(labels.values)
    use = None if mask is None else np.asarray(getattr(mask, "values", mask), bool)
    finite = edge.values[np.isfinite(edge.values) & (lab > 0)]
    if finite.size == 0:
        raise InputError("grain_labels: no labelled voxel has a trusted edge; check that the labels lie on the particle")
    lo, hi = np.percentile(finite, _RANGE_PERCENTILES)
    stats = region_stats(edge, labels, name="edge_energy_ev", bins=_BINS, value_range=(float(lo), float(hi)),
                         mask=use, clip_sigma=clip_sigma, progress=progress)
    lookup = RegionLookup(stats)
    pair, auto = _designated(lookup, stats, designated)
    # the width without the per-voxel noise: PCA-denoised map keeping every detectable
    # smooth component (a truncated one biases spreads), noise variance subtracted; the
    # mean stays the raw map's
    pca = result.pca if result.pca is not None else pca_edge_maps(result.aligned, mask=trusted,
                                                                  n_components="detectable")
    widths = region_edge_stats(pca, lab, mask=trusted & (lab > 0) & (True if use is None else use),
                               clip_sigma=clip_sigma)
    return replace(result, labels=labels, mask=use, clip_sigma=clip_sigma, stats=stats,
                   heterogeneity=heterogeneity(stats), lookup=lookup, designated=pair, designated_auto=auto,
                   pca=pca, widths=widths)


def _designated(lookup: RegionLookup, stats: RegionStats, designated: Any) -> tuple[list[int] | None, bool]:
    """Fig. S3's grains 1 and 2: the given labels when both were measured, else the rule
    (grain 2 the most oxidized, grain 1 the least uniform of the well-sampled grains);
    None when fewer than two grains were measured."""
    if designated is not None:
        try:
            pair = [None if g is None else int(g) for g in designated]
        except (TypeError, ValueError):
            pair = []
        if len(pair) != 2:
            raise InputError(f"designated: give two labels (grain 1, grain 2), got {designated!r}")
        if all(g is not None and g in lookup for g in pair):
            return pair, False
    if len(lookup) < 2:
        return None, False
    min_voxels = max(20, int(np.median(stats.table["count"])))
    counts = lookup.table["count"].to_numpy()
    ok = np.flatnonzero((counts >= min_voxels) & np.isfinite(lookup.mean) & np.isfinite(lookup.fwhm))
    if len(ok) < 2:
        ok = np.argsort(counts)[::-1][:2]
    g2 = ok[np.argmax(lookup.mean[ok])]
    rest = ok[ok != g2]
    g1 = rest[np.argmax(lookup.fwhm[rest])]
    return [int(lookup.labels[g1]), int(lookup.labels[g2])], True
