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
========================  ==========================================================

:func:`mutations` yields named, seeded damages of a file's bytes (truncation, bit flips,
overwritten/inserted/deleted/duplicated ranges, NUL bytes; for text: dropped, duplicated
and swapped lines, numbers turned into huge/negative/empty/NaN/garbage, separators
swapped, a BOM, a header line lost); :func:`run_case` reads one mutated copy and
classifies the outcome; :func:`campaign` does both over a set of files.

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

__all__ = ["Mutation", "Outcome", "mutations", "run_case", "campaign", "OUTCOMES", "BUGS", "equal_results"]

OUTCOMES = ("refused", "same", "warned", "escaped", "hang", "silent")
BUGS = ("escaped", "hang", "silent")
_NUMBER = re.compile(rb"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclasses.dataclass(frozen=True)
class Mutation:
    """One damaged copy: a short name saying what was done, and the bytes."""

    name: str
    data: bytes


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
        for i in rng.integers(0, max(n, 1), size=int(rng.integers(1, 9))):
            if n:
                b[int(i)] ^= 1 << int(rng.integers(0, 8))
        return Mutation(f"bitflip@{at}", bytes(b))
    if kind in ("overwrite", "zeros", "ones"):
        fill = {"overwrite": rng.integers(0, 256, span, dtype=np.uint8).tobytes(), "zeros": b"\x00" * span,
                "ones": b"\xff" * span}[kind]
        return Mutation(f"{kind}@{at}+{span}", data[:at] + fill + data[at + span:])
    if kind == "insert":
        return Mutation(f"insert@{at}+{span}", data[:at] + rng.integers(0, 256, span, dtype=np.uint8).tobytes()
                        + data[at:])
    if kind == "delete":
        return Mutation(f"delete@{at}+{span}", data[:at] + data[at + span:])
    return Mutation(f"duplicate@{at}+{span}", data[:at + span] + data[at:])


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
        return Mutation(f"number@{m.start()}->{new[:12]!r}", data[:m.start()] + new + data[m.end():])
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


def equal_results(a: Any, b: Any) -> bool:
    """Whether two reader results are equal: DataFrames (values, columns, index), xarray
    objects (values, coords, dims), numpy arrays (NaN equal NaN), or ``==``."""
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
        return len(a) == len(b) and all(equal_results(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def run_case(read: Callable[[Path], Any], path: Path, clean: Any, *, timeout_s: float = 30.0,
             source: str = "", mutation: str = "", materialize: Callable[[Any], Any] | None = None) -> Outcome:
    """Read one (mutated) file with ``read`` and classify the outcome against ``clean``.

    ``materialize`` turns a lazy result into values (e.g. ``lambda x: x.compute()``), so
    a lazily read store that fails at compute time is caught here too.
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
    if equal_results(result, clean):
        return Outcome(source, mutation, "same", "", dt)
    ours = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning,
                                                             ResourceWarning))]
    if ours:
        return Outcome(source, mutation, "warned", str(ours[0].message)[:300], dt)
    return Outcome(source, mutation, "silent", _describe_change(result, clean), dt)


def _describe_change(result: Any, clean: Any) -> str:
    shape_r, shape_c = getattr(result, "shape", None), getattr(clean, "shape", None)
    if shape_r != shape_c:
        return f"shape {shape_c} -> {shape_r}"
    return "values changed"


def campaign(read: Callable[[Path], Any], files: Sequence[Path], *, n_per_file: int, seed: int = 0,
             timeout_s: float = 30.0, suffix_from: bool = True,
             materialize: Callable[[Any], Any] | None = None, workdir: Path | None = None) -> list[Outcome]:
    """Mutate each file ``n_per_file`` times and read every copy (same file name and suffix
    as the clean file, in a temporary folder); the clean files are never touched."""
    out: list[Outcome] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for f_index, path in enumerate(map(Path, files)):
            data = path.read_bytes()
            clean = read(path)
            if materialize is not None:
                clean = materialize(clean)
            for m in mutations(data, seed=seed + 7919 * f_index, n=n_per_file):
                target = Path(tmp) / (path.name if suffix_from else f"mutated{path.suffix}")
                target.write_bytes(m.data)
                out.append(run_case(read, target, clean, timeout_s=timeout_s, source=path.name,
                                    mutation=m.name, materialize=materialize))
                with contextlib.suppress(OSError):
                    os.remove(target)
    return out
