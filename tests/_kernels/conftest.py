"""Fixtures of the kernel tests: the numpy reference path a kernel is compared with."""

from __future__ import annotations

import pytest

from batteryzoom import _kernels


@pytest.fixture
def numpy_path(monkeypatch):
    """``numpy_path(func, *args, **kwargs)``: ``func`` run with ``BATTERYZOOM_NUMBA=0``, the
    numpy implementations the kernels are tested against."""

    def run(func, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setenv("BATTERYZOOM_NUMBA", "0")
            assert not _kernels.enabled()
            return func(*args, **kwargs)

    return run
