"""Write the synthetic 3D XANES stack of ``bench_xanes_scaling`` as a zarr store, energy by energy.

``python benchmarks/xanes_stream_store.py N PATH [CHUNK [CODEC]]``: 60 energies (the twin's
beamline grid) over ``N**3`` voxels, float32, chunks ``(1, CHUNK, CHUNK, CHUNK)`` (default
64), ``CODEC`` ``zstd`` (default: Blosc-zstd with bit shuffle, level 1; the noise's
mantissas leave ~1.25x) or ``none`` (reads are copies: ~10x faster than decompressing). The
same field as ``bench_xanes_scaling._MAKE`` (a blobby particle, an edge energy varying
smoothly around 8342 eV, pre-edge background, noise 0.01), each energy displaced by a few
whole pixels. Peak memory about six float32 volumes (3 GB at 512³); the stack itself is
never held (60 × 512³ float32 is 32 GB). Energies are in the store's attributes
(``energy_ev``).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def write_store(n: int, path: str, chunk: int = 64, codec: str = "zstd") -> None:
    import zarr
    from scipy import ndimage

    from batteryzoom.data.twin.xanes import energy_grid

    rng = np.random.default_rng(0)
    energy = energy_grid()
    density = ndimage.gaussian_filter(rng.standard_normal((n, n, n), np.float32), n / 32) > 0
    density = ndimage.gaussian_filter(density.astype(np.float32), 1.0)
    centre = ndimage.gaussian_filter(rng.standard_normal((n, n, n), np.float32), n / 16)
    centre *= np.float32(20)
    centre += np.float32(8342.0)
    compressors = zarr.codecs.BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle") if codec == "zstd" else None
    store = zarr.create_array(path, shape=(energy.size, n, n, n), chunks=(1, chunk, chunk, chunk),
                              dtype="float32", compressors=compressors, overwrite=True)
    store.attrs["energy_ev"] = [float(e) for e in energy]
    t0 = time.perf_counter()
    for i, e in enumerate(energy):
        frame = np.arctan((np.float32(e) - centre) / np.float32(1.5))
        frame /= np.float32(np.pi)
        frame += np.float32(0.5 + 0.4 * (e / 8300.0) ** -2.7)
        frame *= density
        frame += rng.standard_normal(frame.shape, np.float32) * np.float32(0.01)
        store[i] = np.roll(frame, (i % 3 - 1, (i * 7) % 5 - 2, (i * 3) % 4 - 2), (0, 1, 2))
        del frame
        print(f"energy {i + 1}/{energy.size} written ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    write_store(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 64,
                sys.argv[4] if len(sys.argv) > 4 else "zstd")
