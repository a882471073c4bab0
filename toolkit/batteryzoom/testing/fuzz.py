"""Mutation fuzzing of file readers: damaged copies of real files, and what a reader made of them.

The contract every reader of :mod:`batteryzoom.io` keeps: given a damaged file it returns
**either** a :class:`~batteryzoom.errors.BatteryZoomError`, **or** the clean file's result,
**or** a result with a warning that says what was repaired. Anything else is a bug:

========================  ==========================================================
outcome                   meaning
========================  ==========================================================
``"refused"``             a BatteryZoomError (the message should name the file)
``"same"``                equal to the clean file's result (the damage did not matter)
``"warned"``              a different result, with a warning saying so
``"escaped"``             another exception: a raw library error reached the user (bug)
``"hang"``                no answer within the time limit (bug)
``"silent"``              a different result and no warning (bug: the worst outcome)
``"undetectable"``        a silent change that no reader can see in principle: the
                          damage replaced bytes only inside the file's free values
                          (raw pixel data of an uncompressed image, a number of a
                          text table turned into another valid number) and the
                          result differs from the clean one in values only; or it
                          removed whole rows at an end of a table that states no
                          row count, leaving a valid shorter file (a
                          :class:`Verdict` with ``structure_may_change``). The
                          ``judge`` of :func:`campaign` decides; without a judge
                          nothing is undetectable
========================  ==========================================================

:func:`mutations` yields named, seeded damages of a file's bytes (truncation, bit flips,
overwritten/inserted/deleted/duplicated ranges, NUL bytes; for text: dropped, duplicated
and swapped lines, numbers turned into huge/negative/empty/NaN/garbage, separators
swapped, a BOM, a header line lost); :func:`run_case` reads one mutated copy and
classifies the outcome; :func:`campaign` does both over a set of files, and
:func:`tree_campaign` over files that are read together (a folder, a file and the files it
links to: each member is damaged in turn inside a copy of the whole tree).

Each :class:`Mutation` records the byte ranges of the clean file it replaced (``spans``)
and whether the file kept its length (``in_place``), so a format's judge can tell damage
confined to free values (undetectable in principle) from damage to the structure, which a
reader must always catch. :mod:`batteryzoom.testing.payload` holds judges for TIFF, OLE2
(Xradia), HDF5 and text tables.

Examples
--------
>>> from batteryzoom.testing.fuzz import mutations
>>> [m.name for m in mutations(b"a,b\\n1,2\\n3,4\\n", seed=0, n=3)]
['truncate@...', '...', '...']
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BatteryZoomError

__all__ = ["Mutation", "Outcome", "Verdict", "mutations", "run_case", "campaign", "tree_campaign", "OUTCOMES", "BUGS",
           "equal_results", "same_structure", "counts"]

OUTCOMES = ("refused", "same", "warned", "undetectable", "escaped", "hang", "silent")
BUGS = ("escaped", "hang", "silent")
_NUMBER = re.compile(rb"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclasses.dataclass(frozen=True)
class Mutation:
    """One damaged copy: a short name saying what was done, and the bytes.

    ``spans`` are the ``[start, stop)`` byte ranges of the clean file that were replaced,
    removed, or (empty ranges) where bytes were inserted; empty for a truncation.
    ``in_place`` is True when nothing else moved (the copy has the clean file's length,
    or only a replaced number changed length).
    """

    name: str
    data: bytes
    spans: tuple[tuple[int, int], ...] = ()
    in_place: bool = False


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A judge's finding that a mutation cannot be seen in principle: why, and whether the
    result may legitimately change shape (whole rows lost at an end of a table) rather
    than values only."""

    reason: str
    structure_may_change: bool = False


@dataclasses.dataclass
class Outcome:
    """What a reader made of one mutation (see the module docstring for ``kind``)."""

    source: str
    mutation: str
    kind: str
    detail: str = ""
    seconds: float = 0.0

    @property
    def bug(self) -> bool:
        return self.kind in BUGS


def _is_text(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" not in head and sum(32 <= b < 127 or b in (9, 10, 13) for b in head) > 0.9 * max(len(head), 1)


def _binary(data: bytes, rng: np.random.Generator) -> Mutation:
    n = len(data)
    kind = rng.choice(["truncate", "bitflip", "overwrite", "zeros", "ones", "insert", "delete", "duplicate"])
    at = int(rng.integers(0, max(n, 1)))
    span = int(rng.integers(1, max(2, min(n - at, 4096) + 1))) if n else 1
    if kind == "truncate":
        return Mutation(f"truncate@{at}", data[:at])
    if kind == "bitflip":
        b = bytearray(data)
        flipped = []
        for i in rng.integers(0, max(n, 1), size=int(rng.integers(1, 9))):
            if n:
                b[int(i)] ^= 1 << int(rng.integers(0, 8))
                flipped.append((int(i), int(i) + 1))
        return Mutation(f"bitflip@{at}", bytes(b), tuple(sorted(set(flipped))), True)
    if kind in ("overwrite", "zeros", "ones"):
        fill = {"overwrite": rng.integers(0, 256, span, dtype=np.uint8).tobytes(), "zeros": b"\x00" * span,
                "ones": b"\xff" * span}[kind]
        new = data[:at] + fill + data[at + span:]
        return Mutation(f"{kind}@{at}+{span}", new, ((at, min(at + span, n)),), len(new) == n)
    if kind == "insert":
        return Mutation(f"insert@{at}+{span}", data[:at] + rng.integers(0, 256, span, dtype=np.uint8).tobytes()
                        + data[at:], ((at, at),))
    if kind == "delete":
        return Mutation(f"delete@{at}+{span}", data[:at] + data[at + span:], ((at, min(at + span, n)),))
    return Mutation(f"duplicate@{at}+{span}", data[:at + span] + data[at:], ((min(at + span, n),) * 2,))


def _text(data: bytes, rng: np.random.Generator) -> Mutation:
    lines = data.splitlines(keepends=True)
    if not lines:
        return _binary(data, rng)
    kind = rng.choice(["drop_line", "dup_line", "swap_lines", "number", "separator", "bom", "nul",
                       "header_lost", "long_field", "blank_lines"])
    i = int(rng.integers(0, len(lines)))
    if kind == "drop_line":
        return Mutation(f"drop_line@{i}", b"".join(lines[:i] + lines[i + 1:]))
    if kind == "dup_line":
        return Mutation(f"dup_line@{i}", b"".join(lines[:i + 1] + lines[i:]))
    if kind == "swap_lines":
        j = int(rng.integers(0, len(lines)))
        lines[i], lines[j] = lines[j], lines[i]
        return Mutation(f"swap_lines@{i},{j}", b"".join(lines))
    if kind == "number":
        matches = list(_NUMBER.finditer(data))
        if not matches:
            return _binary(data, rng)
        m = matches[int(rng.integers(0, len(matches)))]
        new = rng.choice([b"1e308", b"-1e308", b"", b"nan", b"inf", b"-", b"1.2.3", b"0x1F", b"9" * 30000,
                          b"-" + m.group(0)])
        return Mutation(f"number@{m.start()}->{new[:12]!r}", data[:m.start()] + new + data[m.end():],
                        ((m.start(), m.end()),), True)
    if kind == "separator":
        pairs = [(b",", b";"), (b"\t", b","), (b",", b"\t"), (b" ", b"\t"), (b".", b",")]
        a, b = pairs[int(rng.integers(0, len(pairs)))]
        return Mutation(f"separator@{i}:{a!r}->{b!r}", b"".join(lines[:i] + [lines[i].replace(a, b)] + lines[i + 1:]))
    if kind == "bom":
        return Mutation("bom", b"\xef\xbb\xbf" + data)
    if kind == "nul":
        at = int(rng.integers(0, max(len(data), 1)))
        return Mutation(f"nul@{at}", data[:at] + b"\x00" * int(rng.integers(1, 64)) + data[at:])
    if kind == "header_lost":
        k = int(rng.integers(1, min(len(lines), 40) + 1))
        return Mutation(f"header_lost:{k}", b"".join(lines[k:]))
    if kind == "long_field":
        return Mutation(f"long_field@{i}", b"".join(lines[:i] + [b"x" * 100_000 + lines[i]] + lines[i + 1:]))
    return Mutation(f"blank_lines@{i}", b"".join(lines[:i] + [b"\n" * 50] + lines[i:]))


def mutations(data: bytes, *, seed: int, n: int, text: bool | None = None) -> Iterator[Mutation]:
    """``n`` seeded damaged copies of ``data`` (same seed, same copies).

    Parameters
    ----------
    data : bytes
        The clean file's bytes.
    seed : int
        ``numpy.random.default_rng`` seed.
    n : int
        How many mutations.
    text : bool, optional
        Use text-aware mutations for half of them (default: when the file looks like text).
    """
    rng = np.random.default_rng(seed)
    is_text = _is_text(data) if text is None else text
    for k in range(n):
        # always start with the plain damages every file meets: truncation and bit rot
        if k == 0 and data:
            at = int(rng.integers(0, len(data)))
            yield Mutation(f"truncate@{at}", data[:at])
        elif is_text and rng.random() < 0.5:
            yield _text(data, rng)
        else:
            yield _binary(data, rng)


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise _Timeout in the main thread after ``seconds`` (SIGALRM; no limit elsewhere)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _alarm(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def equal_results(a: Any, b: Any, *, attrs: bool = False) -> bool:
    """Whether two reader results are equal: DataFrames (values, columns, index), xarray
    objects (values, coords, dims), numpy arrays (NaN equal NaN), or ``==``; with
    ``attrs=True`` the ``attrs`` of DataFrames and xarray objects must be equal too."""
    if attrs and not _equal_attrs(a, b):
        return False
    try:
        import pandas as pd

        if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
            return a.shape == b.shape and list(a.columns) == list(b.columns) and a.equals(b)
    except ImportError:  # pragma: no cover
        pass
    if hasattr(a, "identical") and hasattr(b, "dims"):
        try:
            return bool(a.equals(b))
        except Exception:  # noqa: BLE001 - not comparable: not equal
            return False
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
        except TypeError:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(equal_results(x, y, attrs=attrs) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def _equal_attrs(a: Any, b: Any) -> bool:
    attrs_a, attrs_b = getattr(a, "attrs", None), getattr(b, "attrs", None)
    if attrs_a is None and attrs_b is None:
        return True
    if attrs_a is None or attrs_b is None or set(attrs_a) != set(attrs_b):
        return False
    return all(_equal_value(attrs_a[k], attrs_b[k]) for k in attrs_a)


def _equal_value(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return x == y or (x != x and y != y)
    if isinstance(x, (list, tuple, np.ndarray)) or isinstance(y, (list, tuple, np.ndarray)):
        try:
            return bool(np.array_equal(np.asarray(x, dtype=object), np.asarray(y, dtype=object)))
        except Exception:  # noqa: BLE001
            return False
    try:
        return bool(x == y)
    except Exception:  # noqa: BLE001
        return False


def same_structure(a: Any, b: Any) -> bool:
    """Whether two results differ at most in values: same type, and for DataFrames the same
    shape, columns and dtypes; for xarray objects the same variables, dims, sizes, dtypes,
    coordinate names and attrs; for arrays the same shape and dtype."""
    if type(a) is not type(b):
        return False
    if hasattr(a, "columns") and hasattr(a, "dtypes"):  # a DataFrame
        return a.shape == b.shape and list(a.columns) == list(b.columns) and list(a.dtypes) == list(b.dtypes)
    if hasattr(a, "dims") and hasattr(a, "coords"):  # xarray
        if dict(a.sizes) != dict(b.sizes) or set(a.coords) != set(b.coords) or not _equal_attrs(a, b):
            return False
        if hasattr(a, "data_vars"):
            return set(a.data_vars) == set(b.data_vars) and all(
                a[k].dims == b[k].dims and a[k].dtype == b[k].dtype for k in a.data_vars)
        return a.dims == b.dims and a.dtype == b.dtype and a.name == b.name
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_structure(x, y) for x, y in zip(a, b))
    return True


def run_case(read: Callable[[Path], Any], path: Path, clean: Any, *, timeout_s: float = 30.0,
             source: str = "", mutation: str = "", materialize: Callable[[Any], Any] | None = None,
             compare_attrs: bool = False, undetectable: str | Verdict | None = None) -> Outcome:
    """Read one (mutated) file with ``read`` and classify the outcome against ``clean``.

    ``materialize`` turns a lazy result into values (e.g. ``lambda x: x.compute()``), so
    a lazily read store that fails at compute time is caught here too. ``compare_attrs``
    counts a change of the result's ``attrs`` as a change. ``undetectable``: why the damage
    is invisible in principle (the judge's verdict on this mutation); a silent change of
    values only (of any kind, for a :class:`Verdict` with ``structure_may_change``) is then
    ``"undetectable"`` instead of ``"silent"``.
    """
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _time_limit(timeout_s):
                result = read(path)
                if materialize is not None:
                    result = materialize(result)
        except _Timeout:
            return Outcome(source, mutation, "hang", f"over {timeout_s:g} s", time.perf_counter() - t0)
        except BatteryZoomError as exc:
            return Outcome(source, mutation, "refused", str(exc)[:300], time.perf_counter() - t0)
        except RecursionError as exc:
            return Outcome(source, mutation, "escaped", f"RecursionError: {exc}"[:300], time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - classifying every escape is the point
            return Outcome(source, mutation, "escaped", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:300],
                           time.perf_counter() - t0)
    dt = time.perf_counter() - t0
    if equal_results(result, clean, attrs=compare_attrs):
        return Outcome(source, mutation, "same", "", dt)
    ours = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning,
                                                             ResourceWarning))]
    if ours:
        return Outcome(source, mutation, "warned", str(ours[0].message)[:300], dt)
    if undetectable:
        verdict = undetectable if isinstance(undetectable, Verdict) else Verdict(str(undetectable))
        if verdict.structure_may_change or same_structure(result, clean):
            return Outcome(source, mutation, "undetectable", verdict.reason, dt)
    return Outcome(source, mutation, "silent", _describe_change(result, clean), dt)


def _describe_change(result: Any, clean: Any) -> str:
    shape_r, shape_c = getattr(result, "shape", None), getattr(clean, "shape", None)
    if shape_r != shape_c:
        return f"shape {shape_c} -> {shape_r}"
    if not same_structure(result, clean):
        return "structure changed (dims, coords, dtype or attrs)"
    return "values changed"


Judge = Callable[[Path, Mutation], "str | Verdict | None"]


def _free_pieces(judge: Judge, origin: Path, clean_bytes: bytes, m: Mutation, a: int, b: int, depth: int = 0):
    """Split the changed bytes ``[a, b)`` of ``m`` into pieces the judge frees (with its
    verdicts) and the other pieces, by halving (a span straddling a boundary of the
    format's free ranges); bytes left unchanged are dropped."""
    while a < b and clean_bytes[a] == m.data[a]:
        a += 1
    while b > a and clean_bytes[b - 1] == m.data[b - 1]:
        b -= 1
    if a >= b:
        return [], []
    single = Mutation(m.name, clean_bytes[:a] + m.data[a:b] + clean_bytes[b:], ((a, b),), True)
    verdict = judge(origin, single)
    if verdict:
        return [verdict], []
    if b - a == 1 or depth >= 24:
        return [], [(a, b)]
    mid = (a + b) // 2
    v1, o1 = _free_pieces(judge, origin, clean_bytes, m, a, mid, depth + 1)
    v2, o2 = _free_pieces(judge, origin, clean_bytes, m, mid, b, depth + 1)
    return v1 + v2, o1 + o2


def _harmless_rest(read, where: Path, target: Path, clean_bytes: bytes, m: Mutation, judge: Judge, origin: Path,
                   clean: Any, **kw) -> str | Verdict | None:
    """For a silent in-place damage the judge does not free as a whole: the verdict on
    its free bytes, when all its other changed bytes, applied together without the free
    ones, leave the result as the clean file's (bytes of structure the reader does not
    depend on: unused space of a metadata block, an unread stream). Restores ``m``'s bytes."""
    verdicts, others = [], []
    for a, b in m.spans:
        v, o = _free_pieces(judge, origin, clean_bytes, m, a, b)
        verdicts += v
        others += o
    if not verdicts:
        return None
    if others:
        rest = bytearray(clean_bytes)
        for a, b in others:
            rest[a:b] = m.data[a:b]
        try:
            target.write_bytes(bytes(rest))
            if run_case(read, where, clean, **kw).kind != "same":
                return None
        finally:
            target.write_bytes(m.data)
    found = verdicts[0]
    structure = any(isinstance(v, Verdict) and v.structure_may_change for v in verdicts)
    reason = found.reason if isinstance(found, Verdict) else found
    if others:
        reason += " (the other bytes it changed do not matter)"
    return Verdict(reason, structure) if structure else reason


def _case(read, where: Path, target: Path, clean_bytes: bytes, m: Mutation, origin: Path, clean: Any,
          judge: Judge | None, source: str, **kw) -> Outcome:
    verdict = judge(origin, m) if judge is not None else None
    out = run_case(read, where, clean, source=source, mutation=m.name, undetectable=verdict, **kw)
    if out.kind == "silent" and judge is not None and not verdict and m.in_place and m.spans \
            and len(m.data) == len(clean_bytes):
        verdict = _harmless_rest(read, where, target, clean_bytes, m, judge, origin, clean, **kw)
        if verdict:
            out = run_case(read, where, clean, source=source, mutation=m.name, undetectable=verdict, **kw)
    return out


def campaign(read: Callable[[Path], Any], files: Sequence[Path], *, n_per_file: int, seed: int = 0,
             timeout_s: float = 30.0, suffix_from: bool = True,
             materialize: Callable[[Any], Any] | None = None, workdir: Path | None = None,
             judge: Judge | None = None, compare_attrs: bool = False) -> list[Outcome]:
    """Mutate each file ``n_per_file`` times and read every copy (same file name and suffix
    as the clean file, in a temporary folder); the clean files are never touched.

    ``judge(clean_path, mutation)`` returns why a mutation is confined to the file's free
    values (undetectable in principle), or None; see :func:`run_case`. A silent damage in
    place that the judge does not free as a whole is undetectable when some of its bytes
    are free and all the others, applied together without them, leave the result
    unchanged (bytes of structure the reader does not depend on). With
    ``compare_attrs`` the clean result is read from the same temporary path as the
    mutated copies, so attrs naming the source compare equal.
    """
    out: list[Outcome] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for f_index, path in enumerate(map(Path, files)):
            data = path.read_bytes()
            target = Path(tmp) / (path.name if suffix_from else f"mutated{path.suffix}")
            if compare_attrs:
                target.write_bytes(data)
                clean = read(target)
            else:
                clean = read(path)
            if materialize is not None:
                clean = materialize(clean)
            for m in mutations(data, seed=seed + 7919 * f_index, n=n_per_file):
                target.write_bytes(m.data)
                out.append(_case(read, target, target, data, m, path, clean, judge, path.name, timeout_s=timeout_s,
                                 materialize=materialize, compare_attrs=compare_attrs))
                with contextlib.suppress(OSError):
                    os.remove(target)
    return out


def tree_campaign(read: Callable[[Path], Any], root: Path, members: Sequence[Path | str], *, n_per_file: int,
                  seed: int = 0, timeout_s: float = 30.0, materialize: Callable[[Any], Any] | None = None,
                  workdir: Path | None = None, judge: Judge | None = None, compare_attrs: bool = True,
                  target: str | None = None) -> list[Outcome]:
    """Damage each of ``members`` (files under ``root``, absolute or relative to it) in a
    copy of the whole tree, and read the copy with ``read``.

    For inputs made of several files read together: a folder of frames, a zarr store, a
    NeXus file and the files its links reach. ``read`` receives the copy of ``root`` (or of
    ``root/target`` when ``target`` names what to read inside it). The clean result is read
    from the same copy first; after each case the member gets its clean bytes back. The
    clean tree is never touched.
    """
    import shutil

    root = Path(root)
    out: list[Outcome] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        copy = Path(tmp) / root.name
        if root.is_dir():
            shutil.copytree(root, copy, symlinks=False)
        else:
            shutil.copy2(root, copy)
        where = copy / target if target else copy
        clean = read(where)
        if materialize is not None:
            clean = materialize(clean)
        for f_index, member in enumerate(members):
            member = Path(member)
            rel = member.relative_to(root) if member.is_absolute() else member
            original = root / rel if root.is_dir() else root
            mutated = copy / rel if root.is_dir() else copy
            data = original.read_bytes()
            for m in mutations(data, seed=seed + 7919 * f_index, n=n_per_file):
                mutated.write_bytes(m.data)
                out.append(_case(read, where, mutated, data, m, original, clean, judge, str(rel), timeout_s=timeout_s,
                                 materialize=materialize, compare_attrs=compare_attrs))
            mutated.write_bytes(data)
    return out


def counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """How many outcomes of each kind (every kind of :data:`OUTCOMES`, zeros included)."""
    found = {k: 0 for k in OUTCOMES}
    for o in outcomes:
        found[o.kind] += 1
    return found
