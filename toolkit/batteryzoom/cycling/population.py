"""A cell against its production lot: the self-discharge of every cell and the robust z-score.

Within a population a cell is an outlier when its robust z-score ``0.6745 (K - median) /
MAD`` of the K-value exceeds 3.5 (Iglewicz and Hoaglin); only the high side fails a cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._progress import progress
from ..errors import InputError
from ._checks import _check_positive, _check_threshold
from .self_discharge import SelfDischargeResult, _verdict, self_discharge

__all__ = ["robust_zscore", "screen_population"]


def robust_zscore(values: np.ndarray) -> np.ndarray:
    """``0.6745 (x - median) / MAD`` (Iglewicz and Hoaglin); 0 where MAD is 0 and x is the median.

    Parameters
    ----------
    values : array_like
        1D, any float (NaN ignored by the median and the MAD).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``values``; ±inf where the MAD is 0 and x is not the median;
        NaN where x is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> import batteryzoom as bz
    >>> bz.cycling.robust_zscore(np.array([1.0, 1.1, 0.9, 1.0, 6.3])).round(2)
    array([ 0.  ,  0.67, -0.67,  0.  , 35.75])
    """
    x = np.asarray(values, dtype=np.float64)
    known = x[~np.isnan(x)]
    if known.size == 0:  # e.g. a lot whose rests all were too short for a K-value
        return np.full(x.shape, np.nan)
    med = np.median(known)
    mad = np.median(np.abs(known - med))
    if mad == 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x == med, 0.0, np.sign(x - med) * np.inf)
    return 0.6745 * (x - med) / mad


def screen_population(
    df: pd.DataFrame,
    by: str = "cell_id",
    *,
    z_threshold: float = 3.5,
    threshold_mv_per_day: float = 2.0,
    show_progress: bool | None = None,
    **kwargs: Any,
) -> tuple[pd.DataFrame, dict[str, SelfDischargeResult]]:
    """Self-discharge of every cell in a table, and the population verdict.

    Parameters
    ----------
    df : pandas.DataFrame
        BDF rows of several cells, told apart by column ``by``.
    by : str
        The column holding each row's cell.
    z_threshold : float
        A cell is a population outlier when its robust z-score of the K-value exceeds
        this (3.5: Iglewicz and Hoaglin's rule). Only the high side fails a cell: a
        cell that self-discharges *less* than its peers is not a defect.
    threshold_mv_per_day : float
        The absolute QC limit (see :func:`~batteryzoom.cycling.self_discharge`).
    show_progress : bool, optional
        Progress bar over the cells (default: ``BATTERYZOOM_PROGRESS``).
    **kwargs
        Passed to :func:`~batteryzoom.cycling.self_discharge`.

    Returns
    -------
    table : pandas.DataFrame
        One row per cell (index ``by``): the scalar results of
        :func:`~batteryzoom.cycling.self_discharge`, ``robust_z``, ``population_outlier``,
        ``threshold_fail``, ``verdict`` (``fail`` when either the threshold or the
        population flags it, ``inconclusive`` when the relaxation is not over);
        ``attrs["z_threshold"]``.
    results : dict
        The full :class:`~batteryzoom.cycling.SelfDischargeResult` per cell (for figures).

    Examples
    --------
    Five cells of the twin's lot, one of them defective:

    >>> import batteryzoom as bz
    >>> lot = bz.data.load("twin/cycling-population")
    >>> five = lot[lot["cell_id"].isin(["SN-0001", "SN-0002", "SN-0003", "SN-0004", "SN-0009"])]
    >>> table, results = bz.cycling.screen_population(five)
    >>> table[["k_value_mv_per_day", "robust_z", "verdict"]].round(2)
             k_value_mv_per_day  robust_z verdict
    cell_id
    SN-0001                0.33     -0.67    pass
    SN-0002                0.51      0.00    pass
    SN-0003                0.92      1.52    pass
    SN-0004                0.50     -0.03    pass
    SN-0009                6.29     21.36    fail
    """
    if by not in df.columns:
        raise InputError(f"df has no column {by!r} to tell the cells apart")
    _check_threshold(threshold_mv_per_day)
    _check_positive("z_threshold", z_threshold, "robust z", "e.g. 3.5 (Iglewicz and Hoaglin)")
    results = {}
    groups = df.groupby(by, sort=True, observed=True)
    for cid, sub in progress(groups, desc="self-discharge per cell", total=groups.ngroups, enabled=show_progress,
                             unit="cell"):
        sub = sub.reset_index(drop=True)
        results[str(cid)] = self_discharge(sub, cell_id=str(cid), threshold_mv_per_day=threshold_mv_per_day,
                                           **kwargs)
    table = pd.DataFrame([r.summary() for r in results.values()]).set_index("cell_id")
    table.index.name = by
    # only a K-value counts among the lot: a rest too short for one gives bounds, not a value
    ks = table["k_value_mv_per_day"].where(table["relaxation_complete"].astype(bool))
    table["robust_z"] = robust_zscore(ks.to_numpy(np.float64))
    table["population_outlier"] = table["robust_z"] > z_threshold
    table["threshold_fail"] = table["relaxation_complete"].astype(bool) & (
        table["k_ci_low_mv_per_day"] > threshold_mv_per_day)
    table["verdict"] = [_verdict(complete, lo, hi, threshold_mv_per_day, outlier) for complete, lo, hi, outlier in
                        zip(table["relaxation_complete"], table["k_ci_low_mv_per_day"], table["k_ci_high_mv_per_day"],
                            table["population_outlier"])]
    table.attrs["z_threshold"] = z_threshold
    return table, results
