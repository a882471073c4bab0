"""bz.data: verifying a file by SHA-256 against reading it (the I/O floor)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from harness import Measurement, case, median_time

from batteryzoom.data import store


@case("data")
def sha256_vs_plain_read():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.bin"
        path.write_bytes(np.random.default_rng(0).bytes(256 * 2**20))

        def ours():
            store._HASH_MEMO.clear()
            store.sha256_file(path)

        def read():
            with open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass

        return [Measurement("sha256 of 256 MiB vs reading it", median_time(ours, 3), median_time(read, 3),
                            note="hashing is CPU-bound (~0.5-1 GB/s)")]
