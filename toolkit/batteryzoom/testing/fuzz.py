"""Mutation fuzzing of file readers: damaged copies of real files, and what a reader made of them.

The contract every reader of :mod:`batteryzoom.io` keeps: given a damaged file it returns
**either** a :class:`~batteryzoom.errors.BatteryZoomError`, **or** the clean file's result,
**or** a result with a warning that says what was repaired. Anything else is a bug:

========================  ==========================================================
outcome                   meaning
========================  ==========================================================
``"refused"``             a BatteryZoomError (the message should name the file)
``"same"``                equal to the clean file's result (the damage did not matter)
``"warned"``              a different result, with a warning the clean read did not
                          give (a warning the clean file always gives says nothing
                          about the damage)
``"undetectable"``        a different result, no new warning, but the damaged file is
                          a valid file of its format (``judge`` says why: a number
                          changed into another plausible one, whole records lost where
                          the format numbers none...): no reader can tell, not a bug
``"escaped"``             another exception: a raw library error reached the user (bug)
``"hang"``                no answer within the time limit: CPU time, or ten times
                          as much wall time for a read blocked (bug)
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

For a zip container (``.ndax``, ``.xlsx``, a zipped ``.nda``) a mutation damages one member
and rewrites the zip with valid checksums, so that the damage reaches the member's parser
instead of stopping at the zip's CRC. :func:`record_table_judge` is the ``result_judge``
for tables of time-stamped records (a cycler record): what it calls undetectable, and why,
is in its docstring.

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

__all__ = ["Mutation", "Outcome", "Verdict", "Refusal", "mutations", "run_case", "campaign", "tree_campaign",
           "OUTCOMES", "BUGS", "equal_results", "same_structure", "counts", "record_table_judge"]

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
    cpu_seconds: float = 0.0

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


def _zip_member(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """One member of a zip damaged (text or binary damage), the zip rewritten around it
    with valid checksums; None when ``data`` is not a readable zip."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = [i for i in zf.infolist() if i.file_size > 0]
            if not infos:
                return None
            pick = infos[int(rng.integers(0, len(infos)))]
            members = {i.filename: zf.read(i) for i in zf.infolist()}
    except Exception:  # noqa: BLE001 - not a readable zip: the byte-level damages apply
        return None
    inner = _text(members[pick.filename], rng) if _is_text(members[pick.filename]) and rng.random() < 0.5 \
        else _binary(members[pick.filename], rng)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zw:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                body = inner.data if info.filename == pick.filename else members[info.filename]
                zw.writestr(info, body, compress_type=info.compress_type)
    return Mutation(f"zip:{pick.filename}:{inner.name}", out.getvalue())


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
    is_zip = data[:4] == b"PK\x03\x04"
    for k in range(n):
        # always start with the plain damages every file meets: truncation and bit rot
        if k == 0 and data:
            at = int(rng.integers(0, len(data)))
            yield Mutation(f"truncate@{at}", data[:at])
        elif is_zip and rng.random() < 0.5:
            yield _zip_member(data, rng) or _binary(data, rng)
        elif is_text and rng.random() < 0.5:
            yield _text(data, rng)
        else:
            yield _binary(data, rng)


class _Timeout(BaseException):
    """Not an Exception: a reader's ``except Exception`` around a library call must not
    swallow the time limit and turn a hang into a refusal."""


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process, all its threads, and its children that
    have finished (an ``mdb-export`` run), in s."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: this process only
        return time.process_time()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextlib.contextmanager
def _time_limit(cpu_s: float, wall_s: float):
    """Raise _Timeout in the main thread once the block has used ``cpu_s`` of CPU time, or
    ``wall_s`` of wall time (SIGALRM polled a few times a second; no limit elsewhere).

    Why CPU time: on a shared host at nice 10-19 a 0.5 s read waited 30-90 s of wall time
    for a core (the campaign's 8 xlsx and 1 pec-csv "hangs" of 2026-12-07 read the clean
    table in 0.03-0.6 s of CPU), so wall time judged the host, not the reader. A read
    blocked without using CPU (a FIFO, a lock) is still caught by ``wall_s``. Threads add
    up: a read decoding on two cores spends CPU time twice as fast."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()

    def _alarm(signum, frame):
        if _cpu_seconds() - cpu0 > cpu_s or time.perf_counter() - wall0 > wall_s:
            raise _Timeout()

    tick = max(0.01, min(0.25, cpu_s / 4))
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, tick, tick)
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


@dataclasses.dataclass(frozen=True)
class Refusal:
    """The clean result of a file its reader refuses on purpose (the refusal's message)."""

    message: str


def _messages(caught) -> set[str]:
    return {str(w.message) for w in caught
            if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, ResourceWarning))}


def run_case(read: Callable[[Path], Any], path: Path, clean: Any, *, timeout_s: float = 30.0,
             wall_timeout_s: float | None = None,
             source: str = "", mutation: str = "", materialize: Callable[[Any], Any] | None = None,
             compare_attrs: bool = False, undetectable: str | Verdict | None = None,
             clean_warnings: set[str] | frozenset[str] = frozenset(),
             result_judge: Callable[[str, Any, Any], str | None] | None = None) -> Outcome:
    """Read one (mutated) file with ``read`` and classify the outcome against ``clean``.

    ``materialize`` turns a lazy result into values (e.g. ``lambda x: x.compute()``), so
    a lazily read store that fails at compute time is caught here too. ``compare_attrs``
    counts a change of the result's ``attrs`` as a change. ``clean_warnings`` are the
    messages the clean file's read gave: only a new message makes a changed result
    "warned". ``undetectable``: why the damage is invisible in principle (a byte judge's
    verdict on this mutation); a silent change of values only (of any kind, for a
    :class:`Verdict` with ``structure_may_change``) is then ``"undetectable"`` instead of
    ``"silent"``. ``result_judge(mutation, result, clean)`` says the same from the results
    (why a changed, unwarned result is one no reader could tell from a valid file), or None.
    A ``clean`` that is a :class:`Refusal` makes any read of the damaged copy "silent".

    A read is a ``"hang"`` when it uses more than ``timeout_s`` of CPU time (this process,
    its threads and finished children), or more than ``wall_timeout_s`` of wall time
    (default ten times ``timeout_s``: a read blocked on a FIFO or a lock); a read that only
    waited for a busy host's cores is not a hang. ``Outcome.seconds`` is the wall time,
    ``Outcome.cpu_seconds`` the CPU time.
    """
    wall_s = 10 * timeout_s if wall_timeout_s is None else wall_timeout_s
    t0, c0 = time.perf_counter(), _cpu_seconds()

    def outcome(kind: str, detail: str = "") -> Outcome:
        return Outcome(source, mutation, kind, detail, time.perf_counter() - t0, _cpu_seconds() - c0)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _time_limit(timeout_s, wall_s):
                result = read(path)
                if materialize is not None:
                    result = materialize(result)
        except _Timeout:
            done = outcome("hang")
            done.detail = (f"over {timeout_s:g} s of CPU time" if done.cpu_seconds > timeout_s
                           else f"blocked: over {wall_s:g} s of wall time with {done.cpu_seconds:.1f} s of CPU time")
            return done
        except BatteryZoomError as exc:
            return outcome("refused", str(exc)[:300])
        except RecursionError as exc:
            return outcome("escaped", f"RecursionError: {exc}"[:300])
        except Exception as exc:  # noqa: BLE001 - classifying every escape is the point
            return outcome("escaped", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:300])
    read_done = outcome("")

    def judged(kind: str, detail: str = "") -> Outcome:
        return dataclasses.replace(read_done, kind=kind, detail=detail)

    if isinstance(clean, Refusal):
        return judged("silent", f"the clean file is refused ({clean.message[:120]}) but this damaged copy was read")
    if equal_results(result, clean, attrs=compare_attrs):
        return judged("same")
    new = sorted(_messages(caught) - set(clean_warnings))
    if new:
        return judged("warned", new[0][:300])
    if undetectable:
        verdict = undetectable if isinstance(undetectable, Verdict) else Verdict(str(undetectable))
        if verdict.structure_may_change or same_structure(result, clean):
            return judged("undetectable", verdict.reason)
    why = result_judge(mutation, result, clean) if result_judge is not None else None
    if why:
        return judged("undetectable", why[:300])
    return judged("silent", _describe_change(result, clean))


# the measured columns of a record table (a cycler record): what a mutation can change directly
_MEASURED = ("test_time_second", "step_time_second", "voltage_volt", "current_ampere", "temperature_celsius",
             "unix_time_second")
_OPTIONAL = ("temperature_celsius", "unix_time_second")


def _subsequence(b: np.ndarray, a: np.ndarray) -> bool:
    """Whether the rows of ``b`` are the rows of ``a`` with some rows left out, in order."""
    i = j = 0
    skips = len(a) - len(b)
    while j < len(b):
        m = min(len(a) - i, len(b) - j)
        if m <= 0:
            return False
        same = _rows_equal(a[i:i + m], b[j:j + m])
        k = int(np.argmin(same)) if not same.all() else m
        i, j = i + k, j + k
        if j == len(b):
            return True
        i += 1  # a[i] is not in b: left out
        skips -= 1
        if skips < 0:
            return False
    return True


def _rows_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)


def _few_substitutions(a: np.ndarray, b: np.ndarray, most: int = 8) -> bool:
    """Whether the changed cells, column by column, hold at most ``most`` distinct
    (old value, new value) pairs in all: the same few substitutions repeated."""
    pairs = 0
    for k in range(a.shape[1]):
        x, y = a[:, k], b[:, k]
        ne = ~((x == y) | (np.isnan(x) & np.isnan(y)))
        pairs += len({(float(p), float(q)) for p, q in zip(x[ne], y[ne])})
        if pairs > most:
            return False
    return pairs > 0


def record_table_judge(mutation: str, result: Any, clean: Any) -> str | None:
    """Why a changed, unwarned table of records is one no reader could tell from a valid
    record, or None (then it is a "silent" bug). The damages a reader cannot detect in
    principle, and only those:

    - **a value changed into another plausible one**: the same rows and columns, the
      measured values (time, voltage, current, temperature, wall clock) different in at
      most max(16, 1 %) of the rows, everything still inside the reader's plausibility
      limits and time still increasing (else the reader refuses or warns). A digit turned
      into another digit is a valid record; derived columns (steps, capacities) follow it.
    - **a block of records changed**: the same rows and columns, the measured values
      different over one contiguous run of rows (not all of them), still plausible. In a
      file without checksums inside (parquet as pandas writes it, an HDF5 pandas store,
      the members of a ``.ndax`` once its zip checksums are rewritten), a damaged page or
      record range that still decodes is a valid different record: nothing tells.
    - **a few values changed in many records**: the same rows and columns, the changed
      cells holding at most 8 distinct (old value, new value) pairs in all. A bit flipped
      in a parquet dictionary page changes every cell that refers to that entry; a byte
      flipped in an LZ4- or snappy-compressed page is repeated wherever the decompressor
      copies those bytes again, so one substitution (the current 0.49996826 -> 0.50000766 A, another of the
      step's own ADC levels) repeats in ~1,400 rows. Parquet as pandas writes it has no
      page checksums: the damaged page decodes to valid values. Why no plausibility check
      catches it: on the real case (``pyprobe-parquet``, ``bitflip@1206515``) times and
      voltages are those of the clean rows and the step's charge moves by 4.5e-6 of
      itself against ∫I dt, where the clean file's own steps differ by up to 3.4e-4.
    - **the file ends at a record boundary**: the rows are the clean rows' first ones,
      unchanged (a file cut between two records is a valid shorter record unless the
      format states its length; none of these does).
    - **whole records lost where the format numbers none**: the rows are the clean rows
      with some left out, unchanged, and the clean table says the file has no record
      counter (``attrs["record_counter"]`` False); or one contiguous run of rows cut out
      with at most one row at the cut different (a line spliced from the two ends, which
      is a valid record when the cut falls at the same column in both lines). With a
      counter, a gap is detectable and must be warned about.
    - **an optional column's header changed** into a name no reader knows: the rows are
      unchanged and only the temperature or wall-clock column is missing.

    Everything else (rows added or merged, values changed in many rows, columns added or
    an essential one lost) is detectable and must be refused or warned about.
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return None
    if not (isinstance(result, pd.DataFrame) and isinstance(clean, pd.DataFrame)):
        return None
    lost = [c for c in clean.columns if c not in result.columns]
    if any(c not in clean.columns for c in result.columns) or not set(lost) <= set(_OPTIONAL):
        return None
    derived = " ".join(clean.attrs.get("derived", []))
    measured = [c for c in _MEASURED if c in result.columns and f"{c} from" not in derived]
    a = clean[measured].to_numpy(np.float64)
    b = result[measured].to_numpy(np.float64)
    lost_note = f"; the {', '.join(lost)} column's header no longer names it" if lost else ""
    if len(a) == len(b):
        differs = ~_rows_equal(a, b)
        changed = int(differs.sum())
        if changed == 0 and lost:
            return f"an optional column's header changed{lost_note}"
        if changed <= max(16, len(a) // 100):
            return f"{changed} record(s) hold other plausible values (a number changed into another){lost_note}"
        rows = np.flatnonzero(differs)
        if _few_substitutions(a[rows], b[rows]):
            return (f"{changed} records share a few changed values (a dictionary entry, or bytes of a compressed "
                    f"page its back-references copy), still plausible{lost_note}")
        if rows[-1] - rows[0] + 1 == changed and changed < len(a):
            return (f"a block of {changed} records changed, still plausible (a damaged page or record range "
                    f"that decodes){lost_note}")
        return None
    if len(b) < len(a):
        if _rows_equal(a[:len(b)], b).all():
            return f"the file ends at a record boundary: {len(a) - len(b)} last record(s) gone{lost_note}"
        if not clean.attrs.get("record_counter", True):
            if _subsequence(b, a):
                return (f"{len(a) - len(b)} whole record(s) left out of a file that numbers none "
                        f"(nothing tells a reader){lost_note}")
            head = int(np.argmin(np.r_[_rows_equal(a[:len(b)], b), False]))
            tail = int(np.argmin(np.r_[_rows_equal(a[::-1][:len(b)], b[::-1]), False]))
            if head + tail >= len(b) - 1:
                return (f"{len(a) - len(b)} record(s) cut out of a file that numbers none, the line at the cut "
                        f"spliced from its two ends into a valid record{lost_note}")
    return None


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
             timeout_s: float = 30.0, wall_timeout_s: float | None = None, suffix_from: bool = True,
             materialize: Callable[[Any], Any] | None = None, workdir: Path | None = None,
             judge: Judge | None = None, compare_attrs: bool = False,
             result_judge: Callable[[str, Any, Any], str | None] | None = None,
             companions: Callable[[Path], Sequence[Path]] | None = None,
             progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Mutate each file ``n_per_file`` times and read every copy (same file name and suffix
    as the clean file, in a temporary folder); the clean files are never touched.

    The clean file is read from the same temporary path as the mutated copies, so its
    warnings and attrs (which name the file) are comparable; a clean file its reader
    refuses on purpose becomes a :class:`Refusal` (its damaged copies must be refused too).
    ``judge(clean_path, mutation)`` returns why a mutation is confined to the file's free
    values (undetectable in principle), or None; see :func:`run_case`. A silent damage in
    place that the judge does not free as a whole is undetectable when some of its bytes
    are free and all the others, applied together without them, leave the result
    unchanged (bytes of structure the reader does not depend on). ``result_judge``: see
    :func:`run_case`. ``compare_attrs`` counts a change of ``attrs`` as a change.
    ``companions(path)`` lists files to copy beside it unchanged (an export's metadata
    file). ``progress`` is called with each outcome. ``timeout_s`` (CPU time) and
    ``wall_timeout_s``: when a read is a hang (see :func:`run_case`).
    """
    import shutil

    out: list[Outcome] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for f_index, path in enumerate(map(Path, files)):
            data = path.read_bytes()
            target = Path(tmp) / (path.name if suffix_from else f"mutated{path.suffix}")
            for extra in (companions(path) if companions else ()):
                shutil.copyfile(extra, Path(tmp) / Path(extra).name)
            target.write_bytes(data)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    clean = read(target)
                    if materialize is not None:
                        clean = materialize(clean)
                except BatteryZoomError as exc:
                    # a file the reader refuses on purpose (an EIS record in a cycling
                    # reader): its damaged copies must be refused too
                    clean = Refusal(str(exc))
            clean_warnings = _messages(caught)
            for m in mutations(data, seed=seed + 7919 * f_index, n=n_per_file):
                target.write_bytes(m.data)
                outcome = _case(read, target, target, data, m, path, clean, judge, path.name, timeout_s=timeout_s,
                                wall_timeout_s=wall_timeout_s,
                                materialize=materialize, compare_attrs=compare_attrs, clean_warnings=clean_warnings,
                                result_judge=result_judge)
                out.append(outcome)
                if progress is not None:
                    progress(outcome)
            with contextlib.suppress(OSError):
                os.remove(target)
            for extra in (companions(path) if companions else ()):
                with contextlib.suppress(OSError):
                    os.remove(Path(tmp) / Path(extra).name)
    return out


def tree_campaign(read: Callable[[Path], Any], root: Path, members: Sequence[Path | str], *, n_per_file: int,
                  seed: int = 0, timeout_s: float = 30.0, wall_timeout_s: float | None = None, materialize: Callable[[Any], Any] | None = None,
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
                                 wall_timeout_s=wall_timeout_s,
                                 materialize=materialize, compare_attrs=compare_attrs))
            mutated.write_bytes(data)
    return out


def counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """How many outcomes of each kind (every kind of :data:`OUTCOMES`, zeros included)."""
    found = {k: 0 for k in OUTCOMES}
    for o in outcomes:
        found[o.kind] += 1
    return found
