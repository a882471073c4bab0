"""Copy the browser test's notebook screenshots that the README shows into toolkit/docs/images/.

    /work/notes/bzt tests/test_browser.py -k fits      # or `make test`: writes test-artifacts/notebooks/
    python toolkit/scripts/readme_screenshots.py [test-artifacts/notebooks]

``tests/test_browser.py::test_notebook_fits_the_output_area`` runs every notebook in
JupyterLab at 1,017 px of output width (a 1400 px window with the file browser open: what a
class sees) and saves a PNG of each figure and widget output, named by notebook, width and
cell (``01_electrochemistry_narrow_cell17_cycle-explorer.png``). This script picks the ones
the README shows, crops the white margin around them, reduces them to a 256-colour palette
and writes them under the README's names, so the README's images are what the notebooks
show in a browser at a class's width.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageChops

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TARGET = PROJECT_ROOT / "toolkit" / "docs" / "images"
# README image -> the screenshot's name pattern (the first match, in name order)
SHOTS = {
    "notebook_zoom_navigator.png": "00_zoom_narrow_cell*_zoom-navigator.png",
    "notebook_cycle_explorer.png": "01_electrochemistry_narrow_cell*_cycle-explorer.png",
    "notebook_slice_viewer.png": "03_electrode_narrow_cell*_slice-viewer.png",
    "notebook_particle_grains.png": "04_particle_narrow_cell05.png",
    "grain_explorer.png": "05_grains_narrow_cell*_grain-explorer.png",
}
MARGIN_PX = 6


def _crop(im: Image.Image) -> Image.Image:
    """The image without the uniform margin around its content (plus a few px)."""
    background = Image.new(im.mode, im.size, im.getpixel((0, 0)))
    box = ImageChops.difference(im, background).getbbox()
    if box is None:
        return im
    left, top, right, bottom = box
    return im.crop((max(left - MARGIN_PX, 0), max(top - MARGIN_PX, 0),
                    min(right + MARGIN_PX, im.width), min(bottom + MARGIN_PX, im.height)))


def main(folder: str = str(PROJECT_ROOT / "test-artifacts" / "notebooks")) -> int:
    src = Path(folder)
    chosen = {name: sorted(src.glob(pattern)) for name, pattern in SHOTS.items()}
    missing = [SHOTS[name] for name, found in chosen.items() if not found]
    if missing:
        print(f"{src}: no screenshot for {missing}; run `tests/test_browser.py -k fits` first", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, found in chosen.items():
        with Image.open(found[0]) as im:
            im = _crop(im.convert("RGB"))
            out = TARGET / name
            im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
        total += out.stat().st_size
        print(f"{found[0].name} -> {out.relative_to(PROJECT_ROOT)}: {im.width} x {im.height}, "
              f"{out.stat().st_size / 1024:.0f} kB")
    print(f"total {total / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
