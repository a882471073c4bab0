"""The README's cluster recipe, run as a user runs it: a script file (not ``python -c``)
that starts a 2-process ``dask.distributed.LocalCluster`` under the ``__main__`` guard and
computes the twin's 3D XANES edge maps from its zarr store; the maps equal the in-memory
ones. (Without the guard, dask's spawned workers re-import the script and fail with
"Nanny failed to start": the README says so.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import json
    import os

    import numpy as np


    def main():
        from dask.distributed import Client, LocalCluster

        import batteryzoom as bz

        lazy = bz.data.load("twin/particle-xanes", lazy=True)  # dask, chunk by chunk from zarr
        local = bz.xanes.edge_maps(lazy.compute(), methods=("half_step",))
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \\
                Client(cluster) as client:
            maps = bz.xanes.edge_maps(lazy, methods=("half_step",)).compute()
            worker_pids = set(client.run(os.getpid).values())
        a = local["edge_energy_half_step_ev"].values
        b = maps["edge_energy_half_step_ev"].values
        both = np.isfinite(a) & np.isfinite(b)
        print(json.dumps({"workers": len(worker_pids - {os.getpid()}), "voxels": int(both.sum()),
                          "max_diff_ev": float(np.abs(a - b)[both].max()),
                          "same_valid": bool((np.isfinite(a) == np.isfinite(b)).all()),
                          "chunks": int(np.prod([len(c) for c in lazy.data.chunks]))}))


    if __name__ == "__main__":
        main()
''')


def test_a_user_script_runs_the_xanes_maps_on_a_two_process_cluster(twin, tmp_path):
    twin("particle-xanes")  # generated (or verified) in the cache before the script reads it
    script = tmp_path / "my_analysis.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "BATTERYZOOM_PROGRESS": "0"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["workers"] == 2  # two worker processes, not the script's own
    assert info["chunks"] > 1  # the stack really came in pieces
    assert info["same_valid"] and info["voxels"] > 10_000
    assert info["max_diff_ev"] <= 1e-3
