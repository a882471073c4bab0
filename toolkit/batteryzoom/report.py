"""The main job: run the zoom on a dataset and write a report.

The full report (every scale's figure, the study's Figs. S1-S3, a summary table) is built
as the analyses land; until then :func:`main` says what exists and what does not.
"""

from __future__ import annotations

from pathlib import Path


def main(dataset: str = "twin", out: str | Path = "report") -> int:
    """Entry point of ``batteryzoom report``; returns a process exit code."""
    from . import data

    names = data.list()
    real = data.list(synthetic=False)
    twin = data.list(synthetic=True)
    print(f"batteryzoom report ({dataset} -> {out})")
    print(f"  data manifest: {len(names)} datasets ({len(real)} real, {len(twin)} synthetic twin)")
    status = data.verify(download=False)
    ok = sum(v.startswith("ok") for v in status.values())
    print(f"  real files available and verified: {ok} of {len(status)}")
    print("  not yet built: the twin, the analyses per scale and the HTML report.")
    print("  This demo will run the whole zoom once those land (issues #3-#9).")
    return 0
