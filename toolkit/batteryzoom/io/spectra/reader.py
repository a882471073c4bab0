"""Reading one X-ray absorption spectrum, whatever file holds it.

:func:`read_spectrum` reads XDI files, Athena projects (``.prj``, one group at a time),
SPEC-style and MRCAT beamline scans and plain text columns (CSV, TSV, whitespace) into one
1-D :class:`xarray.DataArray` of absorbance over ``energy`` (eV, float64, strictly
increasing). :func:`spectrum_groups` lists the groups of an Athena project.

The absorbance (µ) comes, in this order, from

1. ``column=`` when given;
2. a µ column the file names (``mutrans``, ``mu``, ``mufluor``, ``xmu``, ``norm``, then
   any ``mu*`` column such as SPEC's ``mu01``; reference channels ``muref*`` excluded);
3. the detector columns: transmission ``ln(i0/itrans)`` when ``i0`` and ``itrans`` (``it``,
   ``i1``) are present, else fluorescence ``ifluor/i0`` (``if``, ``ifluor``); ``mode=``
   chooses when both are (transmission by default);
4. an unnamed table's second column.

``attrs["mu_from"]`` says which, in words. A file whose named columns hold neither a µ
column nor an ``i0`` with a transmitted or fluorescence signal is refused (a detector
signal is not an absorbance). Energies are read in eV or keV (stated by the file, else
detected: every energy below :data:`KEV_THRESHOLD` is keV, every one above is eV, a
mixture is refused); a descending scan is reversed; points repeated at the start or the end
of the scan (the monochromator settling, the last point written twice) are averaged and
reported; a repeat or reversal inside the scan is refused.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import FileFormatError, InputError, ReaderWarning
from .._files import decode, gunzip, read_bytes
from .athena import AthenaGroup, group_names, is_athena, parse_athena
from .tables import Table, parse_table

__all__ = ["read_spectrum", "spectrum_groups", "KEV_THRESHOLD", "ENERGY_RANGE_EV", "SpectrumWarning"]

# A hard-X-ray energy written in keV is below this; in eV above.
KEV_THRESHOLD = 200.0
# Plausible photon energies of an absorption spectrum (eV): soft X-rays to 200 keV
ENERGY_RANGE_EV = (100.0, 2.0e5)
# µ columns, in order of preference (lower case)
_MU = ("mutrans", "mu", "mufluor", "mu_trans", "mu_fluor", "xmu", "mufl", "norm", "normtrans", "normfluor", "flat")
_I0 = ("i0", "io", "izero", "i_0", "mon", "monitor")
_ITRANS = ("itrans", "it", "i1", "i_t", "itr", "trans")
_IFLUOR = ("ifluor", "if", "ifl", "fluor", "i_f", "ff")
_MODES = ("transmission", "fluorescence")


class SpectrumWarning(ReaderWarning):
    """A spectrum was read with a repair or a doubt worth knowing (repeated points
    averaged, non-finite values kept)."""


def _load_text(path: Path) -> str:
    data = read_bytes(path, what="spectrum")
    if data[:2] == b"\x1f\x8b":  # Athena saves projects gzip-compressed
        data = gunzip(data, path)
    return decode(data, path)


def spectrum_groups(path: str | os.PathLike) -> list[str]:
    """The group names of an Athena project (``.prj``), in the project's order.

    Each name is the group's label as Athena shows it, or ``"label [key]"`` when several
    groups share a label (``key`` is Athena's hash key of the group). Any of them is a
    valid ``group=`` of :func:`read_spectrum`.

    Raises
    ------
    FileFormatError
        The file is not an Athena project (other formats hold one spectrum), or is
        damaged.

    Examples
    --------
    >>> import batteryzoom as bz
    >>> (path,) = bz.data.fetch("real/xanes/ref-mn-larch-mn")
    >>> bz.io.spectrum_groups(path)[:5]
    ['Mn foil', 'MnO', 'MnOx', 'Mn2O3x', 'Li2MnO3']
    """
    path = Path(path)
    text = _load_text(path)
    if not is_athena(text):
        raise FileFormatError(path, "is not an Athena project: it holds one spectrum, no groups",
                              "read it with read_spectrum(path) without group=")
    groups, _ = parse_athena(path, text)
    return group_names(groups)


def read_spectrum(
    path: str | os.PathLike,
    *,
    column: str | int | None = None,
    energy_unit: str | None = None,
    group: str | int | None = None,
    mode: str | None = None,
) -> xr.DataArray:
    """Read one absorption spectrum: XDI, Athena project group, SPEC/MRCAT scan, text columns.

    Parameters
    ----------
    path : path-like
        An XDI file (``# XDI/1.0`` first line), an Athena project (``.prj``, gzip or
        plain), or a text table whose first column is the energy (whitespace, comma,
        semicolon or tab separated; a header naming the columns, ``#`` comments, a free
        text preamble allowed). Read whole (at most 256 MiB); never modified.
    column : str or int, optional
        The absorbance column: a name (XDI ``Column.N`` label or header word, any case)
        or a 0-based index (not 0, the energy). Default: see the module docstring.
    energy_unit : {"eV", "keV"}, optional
        Unit of the energies, overriding the file and the detection (and the plausibility
        check of the values, 100 eV–200 keV).
    group : str or int, optional
        Athena projects: the group, by name (:func:`spectrum_groups`; case and surrounding
        spaces ignored), hash key, or 0-based position. Required when the project holds
        several groups.
    mode : {"transmission", "fluorescence"}, optional
        How to make µ from detector columns when the file holds no µ column and holds
        both signals (default transmission).

    Returns
    -------
    xarray.DataArray
        ``(energy,)`` float64, named after its column (``"mu"`` when computed); ``energy``
        in eV, strictly increasing; the file's other numeric columns as coordinates along
        ``energy``. ``attrs``: ``source``, ``format`` (``"xdi"``, ``"athena"``,
        ``"spec"``, ``"mrcat"``, ``"text"``), ``energy_unit_in_file``, ``energy_unit_from``,
        ``column``, ``mu_from``, XDI header fields (e.g. ``Element.symbol``), Athena's
        ``group``, ``athena_key``, ``athena_e0_ev`` and ``athena_energy_shift_ev`` (its
        alignment shift, *not* applied, as in ``larch.io.read_athena``), and
        ``repaired`` when points were averaged.

    Raises
    ------
    FileFormatError
        Not a regular file, unreadable, damaged (a short, long or non-numeric line inside
        the data), no µ column nor detector signals, an unknown column or group,
        energies mixing keV and eV, outside 100 eV–200 keV, or repeating or reversing
        inside the scan; fewer than 3 points.

    Warns
    -----
    SpectrumWarning
        Points repeated at the start or end of the scan were averaged; some µ values are
        NaN or infinite (e.g. ``itrans <= 0``).

    Examples
    --------
    An XDI file of a Ni foil holding µ (``mutrans``); the other columns ride along and the
    header's fields become attrs:

    >>> import batteryzoom as bz
    >>> foil = bz.io.read_spectrum(bz.data.fetch("real/xanes/ni-foil")[0])
    >>> foil.name, foil.sizes["energy"], list(foil.coords), foil.attrs["Element.symbol"]
    ('mutrans', 418, ['energy', 'i0'], 'Ni')

    The same scan from the XAS Data Library holds only the detector currents; µ is
    computed, and ``mu_from`` says how:

    >>> raw = bz.io.read_spectrum(bz.data.fetch("real/xanes/ref-ni-xaslib-ni-metal-rt-01")[0])
    >>> raw.name, raw.attrs["mu_from"]
    ('mu', 'transmission: ln(i0/itrans)')
    >>> float(abs(raw - foil).max()) < 1e-5
    True
    """
    path = Path(path)
    if mode is not None and mode not in _MODES:
        raise InputError(f"mode={mode!r}: use 'transmission' or 'fluorescence'")
    text = _load_text(path)
    attrs: dict = {"source": str(path)}
    if is_athena(text):
        energy, mu, coords, name, unit = _athena(path, text, group, attrs)
    else:
        if group is not None:
            raise FileFormatError(path, f"group={group!r} given, but the file is not an Athena project",
                                  "drop group=: this file holds one spectrum")
        table = parse_table(path, text)
        energy, mu, coords, name, unit = _from_table(path, table, column, mode, attrs)
        _warn_damaged_table(path, table, attrs)
    return _assemble(path, energy, mu, coords, name, unit, energy_unit, attrs)


def _warn_damaged_table(path: Path, table: Table, attrs: dict) -> None:
    """Signs of damage a text table can show without being unreadable."""
    if table.cut_last_row:
        attrs["doubt"] = "the file ends inside its last row (no line end): it may be cut short"
        warnings.warn(f"{path}: {attrs['doubt']}; that row is kept as it reads", SpectrumWarning, stacklevel=4)
    if table.xdi_like:
        attrs["doubt"] = "XDI header fields without the '# XDI/1.0' first line: read as a plain table"
        warnings.warn(f"{path}: {attrs['doubt']} (the XDI line lost? columns taken from the last header line)",
                      SpectrumWarning, stacklevel=4)


# A grid is regular around a step when the 4 steps next to it agree within this factor
# (encoders alternate steps: 0.302/0.353 eV); one step GAP_ON_REGULAR_GRID times theirs is
# then a gap, and one step GAP_ON_ANY_GRID times the largest of them is a gap on any grid.
REGULAR_GRID_SPREAD = 1.25
GAP_ON_REGULAR_GRID = 1.8
GAP_ON_ANY_GRID = 4.0


def _missing_points(energy: np.ndarray) -> str:
    """Steps of the grid that stand out from the steps around them: points lost. A scan's
    step changes between regions, never for one step; a ragged end (Mn.prj's MnCl2:
    0.0125, 0.0752, 0.0126, 0.025 eV) stands out by 3x at most. Real files do lose points:
    pyxas's LiNiO2 lacks 8447 eV of its 1 eV grid and xasref's Mn foil one point near
    6639 eV; both warn."""
    step = np.diff(energy)
    n = step.size
    if n < 4:
        return ""
    lost, first = 0, None
    for i in range(n):
        around = np.r_[step[max(i - 2, 0):i], step[i + 1:i + 3]]
        if around.size < 3 or around.min() <= 0:
            continue
        regular = around.max() <= REGULAR_GRID_SPREAD * around.min()
        ratio = step[i] / np.median(around)
        if (regular and ratio >= GAP_ON_REGULAR_GRID) or step[i] >= GAP_ON_ANY_GRID * around.max():
            lost += max(int(round(ratio)) - 1, 1)
            first = i if first is None else first
    if first is None:
        return ""
    return (f"about {lost} point(s) seem missing from the energy grid (first between {energy[first]:.3f} and "
            f"{energy[first + 1]:.3f} eV, a step of {step[first]:.4g} eV among steps of "
            f"{np.median(np.r_[step[max(first - 2, 0):first], step[first + 1:first + 3]]):.4g} eV)")


def _athena(path: Path, text: str, group, attrs: dict):
    groups, version = parse_athena(path, text)
    names = group_names(groups)
    chosen = _pick_group(path, groups, names, group)
    g = groups[chosen]
    for flag in ("is_chi", "is_rsp", "is_qsp", "is_diff"):
        if str(g.params.get(flag, "0")).strip("'") not in ("0", ""):
            raise FileFormatError(path, f"group {names[chosen]!r} holds {flag[3:]} data, not µ(E)",
                                  f"pick a µ(E) group; groups: {names}")
    params = g.params
    attrs.update({"format": "athena", "group": names[chosen], "athena_key": g.key, "athena_version": version,
                  "mu_from": "the group's µ(E) (Athena @y)"})
    for key, attr in (("bkg_e0", "athena_e0_ev"), ("bkg_eshift", "athena_energy_shift_ev")):
        try:
            attrs[attr] = float(params[key])
        except (KeyError, TypeError, ValueError):
            pass
    if str(params.get("is_nor", "0")) not in ("0", ""):
        attrs["athena_normalized"] = True
    coords = {k: g.arrays[k] for k in ("i0", "signal", "stddev") if k in g.arrays}
    if g.dropped:
        attrs["not_kept"] = f"{', '.join(g.dropped)}: arrays that match no energy"
        warnings.warn(f"{path}: group {names[chosen]!r}: {attrs['not_kept']} were left out", SpectrumWarning,
                      stacklevel=4)
    return g.arrays["x"], g.arrays["y"], coords, "mu", None


def _pick_group(path: Path, groups: list[AthenaGroup], names: list[str], group) -> int:
    if group is None:
        if len(groups) == 1:
            return 0
        shown = ", ".join(repr(n) for n in names[:30]) + (" ..." if len(names) > 30 else "")
        raise FileFormatError(path, f"is an Athena project of {len(groups)} groups: {shown}",
                              "pass group= one of them (a name, a hash key or a position)")
    if isinstance(group, (int, np.integer)) and not isinstance(group, bool):
        if not -len(groups) <= int(group) < len(groups):
            raise FileFormatError(path, f"group={group} is out of range: the project holds {len(groups)} groups",
                                  f"pass 0..{len(groups) - 1} or a name")
        return int(group) % len(groups)
    want = str(group).strip().lower()
    hits = [i for i, n in enumerate(names) if n.strip().lower() == want] or \
        [i for i, g in enumerate(groups) if g.key.lower() == want]
    if len(hits) == 1:
        return hits[0]
    shared = [n for n, g in zip(names, groups) if g.label.strip().lower() == want]
    if shared:
        raise FileFormatError(path, f"group={group!r} names {len(shared)} groups: {shared}",
                              "pass one of those names (label [hash key])")
    raise FileFormatError(path, f"no group {group!r}; groups: {names}", "pass one of those names")


def _col(names_low: list[str], choices) -> int | None:
    for c in choices:
        if c in names_low[1:]:
            return names_low.index(c, 1)
    return None


def _from_table(path: Path, table: Table, column, mode, attrs: dict):
    values, names = table.values, table.names
    width = values.shape[1]
    if width < 2:  # parse_table guarantees two; kept for clarity
        raise FileFormatError(path, f"needs at least two columns (energy, absorbance); found {width}")
    named = names is not None
    names = names if named else ["energy", "absorbance"] + [f"col{i}" for i in range(2, width)]
    attrs.update({"format": table.layout, **table.meta})
    low = [n.lower() for n in names]
    if column is not None:
        k = _column_index(path, names, width, column)
        mu, name, how = values[:, k], names[k], f"column {names[k]} (column=)"
        used = {0, k}
    else:
        k = _col(low, _MU)
        if k is None and named:
            k = next((i for i, n in enumerate(low) if i and n.startswith("mu") and "ref" not in n), None)
        if k is not None:
            mu, name, how, used = values[:, k], names[k], f"column {names[k]}", {0, k}
        elif named and table.layout != "text" or _col(low, _I0) is not None:
            mu, name, how, used = _mu_from_signals(path, values, names, low, mode)
        elif named and table.layout == "xdi":
            raise FileFormatError(path, f"holds no µ column and no i0 with itrans or ifluor (columns {names})",
                                  "pass column= the absorbance column")
        else:
            mu, name, how, used = values[:, 1], names[1], f"column {names[1]} (the second column)", {0, 1}
    coords = {n: values[:, i] for i, n in enumerate(names) if i not in used}
    attrs.update({"column": name, "mu_from": how})
    return values[:, 0], mu, coords, name, table.energy_unit


def _mu_from_signals(path: Path, values: np.ndarray, names: list[str], low: list[str], mode):
    i0, it, fl = _col(low, _I0), _col(low, _ITRANS), _col(low, _IFLUOR)
    use = mode or ("transmission" if it is not None else "fluorescence" if fl is not None else None)
    if i0 is None or use is None or (use == "transmission" and it is None) or (use == "fluorescence" and fl is None):
        need = {"transmission": "itrans (it, i1)", "fluorescence": "ifluor (if)", None: "itrans or ifluor"}[use]
        raise FileFormatError(path, f"holds no µ column, and no i0 with {need} to compute it from (columns {names})",
                              "pass column= the absorbance column, or mode= the signal the file holds")
    with np.errstate(divide="ignore", invalid="ignore"):
        if use == "transmission":
            mu = np.log(values[:, i0] / values[:, it])
            how = f"transmission: ln({names[i0]}/{names[it]})"
        else:
            mu = values[:, fl] / values[:, i0]
            how = f"fluorescence: {names[fl]}/{names[i0]}"
    return mu, "mu", how, {0}  # every detector column stays as a coordinate


def _column_index(path: Path, names: list[str], width: int, column: str | int) -> int:
    """The absorbance column's index (by name, case-insensitive, or index; never 0)."""
    if isinstance(column, str):
        lowered = [n.lower() for n in names]
        if column.lower() not in lowered:
            raise FileFormatError(path, f"no column named {column!r}; columns are {names}",
                                  "pass column= one of those names or a 0-based index")
        column = lowered.index(column.lower())
    if not 0 < int(column) < width:
        raise FileFormatError(path, f"column={column} is out of range 1..{width - 1}",
                              "column 0 is the energy; pick another")
    return int(column)


def _assemble(path: Path, energy, mu, coords: dict, name: str, file_unit, energy_unit, attrs: dict) -> xr.DataArray:
    energy = np.asarray(energy, np.float64)
    unit, unit_from = _energy_unit(path, energy, file_unit, energy_unit)
    energy = energy * (1000.0 if unit == "keV" else 1.0)
    if energy_unit is None:
        _check_plausible(path, energy, unit)
    columns = {"__mu": np.asarray(mu, np.float64), **{k: np.asarray(v, np.float64) for k, v in coords.items()}}
    energy, columns, repaired = _order(path, energy, columns, attrs)
    if energy.size < 3:
        raise FileFormatError(path, f"holds {energy.size} point(s); a spectrum needs at least 3")
    mu = columns.pop("__mu")
    gap = _missing_points(energy)
    if gap:
        attrs["doubt"] = gap
        warnings.warn(f"{path}: {gap}: rows lost? Check the file", SpectrumWarning, stacklevel=3)
    bad = int(np.count_nonzero(~np.isfinite(mu)))
    if bad:
        warnings.warn(f"{path}: {bad} of {mu.size} µ values are NaN or infinite ({attrs.get('mu_from')}); kept as "
                      "they are: mask them or check the file", SpectrumWarning, stacklevel=3)
    other = {k: int(np.count_nonzero(~np.isfinite(v))) for k, v in columns.items()}
    other = {k: v for k, v in other.items() if v}
    if other:
        warnings.warn(f"{path}: non-finite values in column(s) " + ", ".join(f"{k} ({v})" for k, v in other.items())
                      + "; kept as they are", SpectrumWarning, stacklevel=3)
    if repaired:
        attrs["repaired"] = repaired
        warnings.warn(f"{path}: {repaired}", SpectrumWarning, stacklevel=3)
    attrs.update({"energy_unit_in_file": unit, "energy_unit_from": unit_from})
    coords_out = {"energy": ("energy", energy, {"units": "eV"})}
    coords_out.update({k: ("energy", v) for k, v in columns.items() if k != "energy"})
    return xr.DataArray(mu, dims=("energy",), coords=coords_out, name=name, attrs=attrs)


def _energy_unit(path: Path, energy: np.ndarray, file_unit, given) -> tuple[str, str]:
    if not np.all(np.isfinite(energy)):
        row = int(np.flatnonzero(~np.isfinite(energy))[0])
        raise FileFormatError(path, f"energy of row {row + 1} is {energy[row]}", "the file is damaged: fix that row")
    low = energy < KEV_THRESHOLD
    if low.any() and not low.all():
        a, b = int(np.flatnonzero(low)[0]), int(np.flatnonzero(~low)[0])
        raise FileFormatError(path, f"the energy column mixes keV-like and eV-like values (row {a + 1}: "
                                    f"{energy[a]:g}, row {b + 1}: {energy[b]:g}): one axis, two units",
                              "fix the file so every energy is in one unit")
    if given is not None:
        if given.lower() not in ("ev", "kev"):
            raise InputError(f"energy_unit={given!r} is not 'eV' or 'keV'")
        return ("keV" if given.lower() == "kev" else "eV"), "energy_unit="
    if file_unit is not None:
        return file_unit, "the file's header"
    return ("keV" if low.all() else "eV"), f"detected (energies {'below' if low.all() else 'above'} " \
                                           f"{KEV_THRESHOLD:g} are {'keV' if low.all() else 'eV'})"


def _check_plausible(path: Path, energy: np.ndarray, unit: str) -> None:
    lo, hi = ENERGY_RANGE_EV
    if energy.min() < lo or energy.max() > hi:
        raise FileFormatError(path, f"energies {energy.min():.6g}–{energy.max():.6g} eV (read as {unit}) are outside "
                                    f"the {lo:g} eV–{hi / 1000:g} keV of absorption spectra",
                              "pass energy_unit= if the unit is wrong, or check the first column is the energy")


def _order(path: Path, energy: np.ndarray, columns: dict, attrs: dict) -> tuple[np.ndarray, dict, str]:
    """Energies strictly increasing: a descending scan reversed; points repeated at either
    end averaged (and said); any other repeat or reversal refused."""
    if energy.size >= 2 and energy[-1] < energy[0]:
        energy = energy[::-1]
        columns = {k: v[::-1] for k, v in columns.items()}
        attrs["energy_order_in_file"] = "descending (reversed)"
    step = np.diff(energy)
    if not step.size or np.all(step > 0):
        return energy, columns, ""
    n = energy.size
    head = int(np.argmax(step != 0)) if np.any(step != 0) else step.size  # zero steps at the start
    tail = int(np.argmax(step[::-1] != 0)) if head < step.size else 0  # zero steps at the end
    inner = np.flatnonzero(step[head:step.size - tail] <= 0)
    if inner.size:
        bad = head + int(inner[0])
        raise FileFormatError(path, f"energies are not strictly increasing: point {bad + 1} "
                                    f"({energy[bad]:.4f} eV) is followed by {energy[bad + 1]:.4f} eV",
                              "remove or merge the repeated or reversed points before reading")
    # one label per point: the repeated points at each end share one
    labels = np.minimum(np.maximum(np.arange(n) - head, 0), max(n - 1 - tail - head, 0))
    counts = np.bincount(labels)
    energy = np.bincount(labels, weights=energy) / counts
    columns = {k: np.bincount(labels, weights=v) / counts for k, v in columns.items()}
    notes = []
    if head:
        notes.append(f"the first {head + 1} points share {energy[0]:.4f} eV: averaged into one")
    if tail:
        notes.append(f"the last {tail + 1} points share {energy[-1]:.4f} eV: averaged into one")
    return energy, columns, "; ".join(notes)
