"""Copy the report's figure set into toolkit/docs/images/ for the README.

    python toolkit/scripts/readme_figures.py report/        # after `make demo`

The PNGs are the ones ``batteryzoom report`` wrote; here they are only reduced to a
palette of 256 colours (and, for the widest, scaled to 900 px) so the README's images
stay a few hundred kB in the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

# the study's three figures, then one per scale of the zoom
FIGURES = (
    "S1_charge_discharge",
    "S2_self_discharge",
    "S3_two_grains",
    "cell_defects",
    "electrode_damage_vs_depth",
    "particle_grains",
    "grain_particle_3d",
)
TARGET = Path(__file__).resolve().parents[1] / "docs" / "images"
MAX_WIDTH = 900


def main(report: str = "report") -> int:
    src = Path(report) / "figures"
    missing = [n for n in FIGURES if not (src / f"{n}.png").is_file()]
    if missing:
        print(f"{src}: no PNG for {missing}; run `make demo` (with chromium) first", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in FIGURES:
        with Image.open(src / f"{name}.png") as im:
            im = im.convert("RGB")
            if im.width > MAX_WIDTH:
                im = im.resize((MAX_WIDTH, round(im.height * MAX_WIDTH / im.width)), Image.LANCZOS)
            out = TARGET / f"report_{name}.png"
            im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
        total += out.stat().st_size
        print(f"{out.relative_to(TARGET.parents[2])}: {out.stat().st_size / 1024:.0f} kB")
    print(f"total {total / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
