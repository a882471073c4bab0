"""Per-region results laid out for constant-time selection (the widgets, plots and viewer).

The widgets and the napari viewer *take* per-region statistics computed by
:func:`batteryzoom.regions.region_stats` (a table indexed by label with ``{name}_mean``,
``{name}_fwhm``, ... columns, ``histograms`` of shape ``(n_labels, n_bins)`` on one shared
binning, ``bin_edges``) and, optionally, mean spectra per region. :class:`RegionLookup`
copies those into flat numpy arrays once, so that answering "show grain 412" is a
dictionary lookup and a few array slices, whatever the number of grains.

Nothing here computes statistics: it only indexes results it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["RegionLookup", "RegionSummary"]


@dataclass(frozen=True)
class RegionSummary:
    """What a view shows about one selected region (values in the map's unit)."""

    label: int
    row: int
    mean: float
    fwhm: float
    counts: np.ndarray  # (n_bins,) histogram counts of this region
    bin_edges: np.ndarray  # (n_bins + 1,) shared bin edges
    table_row: pd.Series  # the region's row of the statistics table
    spectrum: np.ndarray | None  # (n_energies,) mean spectrum, when spectra were given

    @property
    def bin_centers(self) -> np.ndarray:
        return 0.5 * (self.bin_edges[:-1] + self.bin_edges[1:])

    @property
    def density(self) -> np.ndarray:
        """Relative probability per bin (counts / total / bin width), as in Fig. S3."""
        total = self.counts.sum()
        widths = np.diff(self.bin_edges)
        if total == 0:
            return np.zeros_like(widths, dtype=float)
        return self.counts / total / widths


def _infer_name(table: pd.DataFrame) -> str:
    names = [c[: -len("_mean")] for c in table.columns if str(c).endswith("_mean")]
    if len(names) != 1:
        raise InputError(
            f"stats.table has mean columns {names or 'none'}; pass name= to say which map "
            "to show (e.g. name='edge_energy_ev')"
        )
    return names[0]


class RegionLookup:
    """Per-region statistics (and optional mean spectra) indexed for O(1) selection.

    Parameters
    ----------
    stats : RegionStats
        The result of :func:`batteryzoom.regions.region_stats`: ``.table`` indexed by label,
        ``.histograms`` ``(n_labels, n_bins)`` in the table's row order, ``.bin_edges``.
    name : str, optional
        The map's name used in the table's columns (``{name}_mean``, ``{name}_fwhm``);
        inferred when the table has exactly one ``*_mean`` column.
    spectra : xarray.DataArray or pandas.DataFrame, optional
        Mean spectrum of each region: a DataArray with dims ``("label", "energy")`` or a
        DataFrame indexed by label with one column per energy (eV).

    Examples
    --------
    >>> import numpy as np, batteryzoom as bz
    >>> stats = bz.regions.region_stats(np.array([1.0, 3.0, 5.0, 7.0]), np.array([4, 4, 9, 9]), name="e")
    >>> lookup = bz.regions.RegionLookup(stats)
    >>> 9 in lookup, lookup.summary(9).mean, int(lookup.summary(9).counts.sum())
    (True, 6.0, 2)
    """

    def __init__(self, stats: Any, name: str | None = None, spectra: Any = None):
        for attr in ("table", "histograms", "bin_edges"):
            if not hasattr(stats, attr):
                raise InputError(
                    f"stats has no attribute {attr!r}: pass the result of "
                    "bz.regions.region_stats(values, labels, ...)"
                )
        table = stats.table
        self.name = name or _infer_name(table)
        for col in (f"{self.name}_mean", f"{self.name}_fwhm"):
            if col not in table.columns:
                raise InputError(f"stats.table has no column {col!r}; its columns are {list(table.columns)}")
        self.table = table
        self.labels = np.asarray(table.index, dtype=np.int64)
        self.mean = table[f"{self.name}_mean"].to_numpy(dtype=float)
        self.fwhm = table[f"{self.name}_fwhm"].to_numpy(dtype=float)
        self.histograms = np.asarray(stats.histograms)
        self.bin_edges = np.asarray(stats.bin_edges, dtype=float)
        if self.histograms.shape != (len(self.labels), len(self.bin_edges) - 1):
            raise InputError(
                f"stats.histograms has shape {self.histograms.shape}; expected "
                f"({len(self.labels)}, {len(self.bin_edges) - 1}) = (rows of stats.table, bins)"
            )
        self._row = {int(lab): i for i, lab in enumerate(self.labels)}
        self.spectra_energy_ev: np.ndarray | None = None
        self._spectra: np.ndarray | None = None
        if spectra is not None:
            self._set_spectra(spectra)

    def _set_spectra(self, spectra: Any) -> None:
        if hasattr(spectra, "dims"):  # xarray
            if set(spectra.dims) != {"label", "energy"}:
                raise InputError(f"spectra has dims {spectra.dims}; expected ('label', 'energy')")
            spectra = spectra.transpose("label", "energy")
            labels = np.asarray(spectra["label"].values, dtype=np.int64)
            energy = np.asarray(spectra["energy"].values, dtype=float)
            values = np.asarray(spectra.values, dtype=float)
        elif isinstance(spectra, pd.DataFrame):
            labels = np.asarray(spectra.index, dtype=np.int64)
            energy = np.asarray(spectra.columns, dtype=float)
            values = spectra.to_numpy(dtype=float)
        else:
            raise InputError(
                f"spectra is a {type(spectra).__name__}; pass an xarray.DataArray (label, energy) "
                "or a DataFrame indexed by label with one column per energy"
            )
        aligned = np.full((len(self.labels), len(energy)), np.nan)
        rows = [self._row.get(int(lab)) for lab in labels]
        missing = [int(lab) for lab, r in zip(labels, rows) if r is None]
        if missing:
            raise InputError(f"spectra has labels {missing[:5]} that stats.table does not know")
        aligned[np.asarray(rows, dtype=int)] = values
        self.spectra_energy_ev = energy
        self._spectra = aligned

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label: object) -> bool:
        try:
            return int(label) in self._row  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False

    def row(self, label: int) -> int:
        """Row index of ``label`` in the table (InputError when unknown)."""
        try:
            return self._row[int(label)]
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"label {label!r} is not in the statistics table "
                f"({len(self.labels)} regions, labels {self.labels.min()}..{self.labels.max()})"
            ) from None

    def summary(self, label: int) -> RegionSummary:
        """Everything a view shows about ``label``: O(1), no statistics recomputed."""
        i = self.row(label)
        return RegionSummary(
            label=int(self.labels[i]),
            row=i,
            mean=float(self.mean[i]),
            fwhm=float(self.fwhm[i]),
            counts=self.histograms[i],
            bin_edges=self.bin_edges,
            table_row=self.table.iloc[i],
            spectrum=None if self._spectra is None else self._spectra[i],
        )
