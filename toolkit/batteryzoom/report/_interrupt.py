"""A test hook: interrupt the report at its N-th checkpoint, to prove that no interruption
leaves a folder that looks complete and is not (tests/report/test_write.py).

``BATTERYZOOM_REPORT_INTERRUPT_AT="N:SIGNAL"`` (e.g. ``"7:SIGKILL"``) makes the process send
itself ``SIGNAL`` at the N-th call of :func:`checkpoint` (counted from 1). Unset (always,
outside those tests), :func:`checkpoint` only reads the environment.
"""

from __future__ import annotations

import os
import signal

ENV = "BATTERYZOOM_REPORT_INTERRUPT_AT"
_count = [0]


def checkpoint() -> None:
    """Count one point of the run; at the one named by ``ENV``, signal this process."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    _count[0] += 1
    n, _, name = spec.partition(":")
    if _count[0] == int(n):
        os.kill(os.getpid(), getattr(signal, name or "SIGKILL"))
