"""Golden values from xraylarch's pre_edge / find_e0 on the real Ni K-edge standards.

Run with a Python that has xraylarch (NOT a batteryzoom dependency), e.g.::

    python3 -m venv /work/larch-venv && /work/larch-venv/bin/pip install xraylarch
    /work/larch-venv/bin/python tests/reference/make_larch_golden.py [MIRROR]

MIRROR is the offline data mirror (default ../shared/data from the project root). Writes
tests/reference/larch_ni_golden.json: for each spectrum the energy grid (eV), Larch's
normalized and flattened curves, e0, edge step and resolved ranges with default
parameters. tests/xanes/test_normalization.py compares bz.xanes.normalize against it (curves within
1e-3, e0 within 0.1 eV) without needing xraylarch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SPECTRA = {
    # name: (mirror path, energy column unit, absorbance column)
    "NiO": ("xanes/ni_references/pyxas_ref_NiO.txt", "keV", 1),
    "LiNiO2": ("xanes/ni_references/pyxas_ref_LiNiO2.txt", "keV", 1),
    "Ni_foil": ("xanes/ni_references/larch_ni_metal_rt.xdi", "eV", 1),
}


def main(mirror: Path) -> None:
    import larch
    from larch import Group
    from larch.xafs import find_e0, pre_edge

    out = {"xraylarch_version": larch.__version__, "defaults": "pre_edge(energy, mu) with every range left at None",
           "spectra": {}}
    for name, (rel, unit, col) in SPECTRA.items():
        table = np.loadtxt(mirror / rel, comments="#")
        energy = table[:, 0] * (1000.0 if unit == "keV" else 1.0)
        mu = table[:, col]
        e0_alone = find_e0(energy, mu)
        group = Group(energy=energy, mu=mu)
        pre_edge(group)
        details = group.pre_edge_details
        out["spectra"][name] = {
            "file": rel,
            "energy_ev": energy.tolist(),
            "norm": group.norm.tolist(),
            "flat": group.flat.tolist(),
            "e0_ev": float(group.e0),
            "find_e0_ev": float(e0_alone),
            "edge_step": float(group.edge_step),
            "pre1": float(details.pre1), "pre2": float(details.pre2),
            "norm1": float(details.norm1), "norm2": float(details.norm2),
            "nnorm": int(details.nnorm),
        }
        print(f"{name}: e0 {group.e0:.2f} eV, step {group.edge_step:.4f}, pre [{details.pre1}, {details.pre2}], "
              f"norm [{details.norm1}, {details.norm2}] nnorm {details.nnorm}")
    path = Path(__file__).with_name("larch_ni_golden.json")
    path.write_text(json.dumps(out, indent=0))
    print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
