"""Shared fixtures: real files through the manifest, system pieces, artifacts.

Rules (DESIGN.md): a test that needs a real file gets it through ``bz.data.fetch``; a test
that needs a system piece (Xvfb, chromium) asks for it through a fixture here. Where the
piece is missing the test is skipped with the reason, except under ``CI=true``, where it
fails: a missing piece never hides behind a skip in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ON_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

# When pytest runs without `make test`, behave the same way: project-local cache, shared
# mirror if present, no progress bars in the test log.
os.environ.setdefault("BATTERYZOOM_CACHE", str(PROJECT_ROOT / ".cache" / "batteryzoom"))
_shared = PROJECT_ROOT.parent / "shared" / "data"
if (_shared / "SHA256SUMS").is_file():
    os.environ.setdefault("BATTERYZOOM_MIRROR", str(_shared))
os.environ.setdefault("BATTERYZOOM_PROGRESS", "0")


def need(reason: str) -> None:
    """Skip with ``reason`` locally; fail under CI=true."""
    if ON_CI:
        pytest.fail(f"{reason} (CI=true: missing pieces fail the run instead of skipping)")
    pytest.skip(reason)


def _digests(paths) -> dict[str, str]:
    """SHA-256 of each file (every file below a folder)."""
    import hashlib

    files = []
    for p in map(Path, paths):
        files.extend(sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p])
    assert files, f"nothing to hash in {paths}"
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


# Reading never modifies a source. Every real file bz.data.fetch hands out (to fetch_real,
# to bz.data.load, to a fixture of any scope) while a test module outside tests/data runs
# is hashed then, and again after each test, after its module and after the session: a test
# that reads a real file by any route fails if the file changed. (tests/data tests the
# store itself, damaging cache copies on purpose.)
_REAL_DIGESTS: dict[str, str] = {}  # path -> SHA-256 when first handed out
_TEST_FILES: set[str] = set()  # handed out since the last test's check (its fixtures' setup included)
_MODULE_FILES: set[str] = set()  # handed out while this module ran
_WATCH = {"on": True}  # set by each module (off in tests/data)


def _handed_out(files) -> None:
    if not _WATCH["on"]:
        return
    paths = [str(f) for f in files]
    first = [f for f in paths if f not in _REAL_DIGESTS]
    if first:
        _REAL_DIGESTS.update(_digests(first))
    _TEST_FILES.update(paths)
    _MODULE_FILES.update(paths)


def _check_unchanged(files, when: str, *, gone_ok: bool = False) -> None:
    """Each file has the digest it had when handed out. A file gone is a change, except
    after a module or the session (``gone_ok``): a test's temporary cache may be removed
    by then, and each test already checked the files it was handed."""
    files = sorted(f for f in files if not gone_ok or Path(f).is_file())
    gone = [f for f in files if not Path(f).is_file()]
    assert not gone, f"real files removed {when}: {gone}"
    if files:
        after = _digests(files)
        changed = [f for f in files if after[f] != _REAL_DIGESTS[f]]
        assert not changed, f"real files changed {when}: {changed}"


@pytest.fixture(scope="session", autouse=True)
def _watch_real_files():
    """Wraps ``bz.data.fetch`` for the session so that every real file it hands out is
    recorded with its SHA-256 (see ``_real_files_unchanged``)."""
    import functools

    import batteryzoom.data as data

    original = data.fetch

    @functools.wraps(original)
    def fetch(*args, **kwargs):
        files = original(*args, **kwargs)
        _handed_out(files)
        return files

    data.fetch = fetch
    yield
    data.fetch = original
    _check_unchanged(_REAL_DIGESTS, "during the session", gone_ok=True)


@pytest.fixture(scope="module", autouse=True)
def _real_files_unchanged_by_module(request):
    """After a module: every real file handed out while it ran (a module fixture's files
    read by later tests too) has the SHA-256 it had when handed out."""
    _WATCH["on"] = Path(request.path).resolve().parent.relative_to(Path(__file__).parent).parts[:1] != ("data",)
    _MODULE_FILES.clear()
    yield
    files = set(_MODULE_FILES)
    _MODULE_FILES.clear()
    _check_unchanged(files, f"by {Path(request.path).name}", gone_ok=True)


@pytest.fixture(scope="session")
def fetch_real():
    """``fetch_real(name) -> list[Path]``: a real dataset's verified files, or skip/fail.
    Like every real file ``bz.data.fetch`` hands out, each is hashed when handed out and
    again after the test (``_real_files_unchanged``): a test that changes it fails."""
    import batteryzoom as bz
    from batteryzoom.errors import DataUnavailableError

    def _fetch(name: str) -> list[Path]:
        try:
            return bz.data.fetch(name)
        except DataUnavailableError as exc:
            need(f"real dataset {name} unavailable: {exc}")

    return _fetch


@pytest.fixture(autouse=True)
def _real_files_unchanged():
    """Reading never modifies a source: every real file handed out for this test (by
    ``fetch_real``, ``bz.data.fetch`` or ``bz.data.load``, in the test or the setup of its
    fixtures) has, after the test, the SHA-256 it had when handed out."""
    yield
    files = set(_TEST_FILES)
    _TEST_FILES.clear()
    _check_unchanged(files, "by the test")


@pytest.fixture(scope="session")
def twin():
    """``twin(name, part=None)``: a dataset of the small synthetic twin (``"cell-ct"``,
    ``"electrode-ct"``, ``"particle-nanoct"``, ``"particle-xanes"``, ``"cycling-..."``),
    loaded once per test session (per xdist worker) and shared by every test that asks.

    Treat what it returns as read-only: copy before changing it in a test.
    """
    import batteryzoom as bz

    cache: dict = {}

    def _load(name: str, part: str | None = None):
        full = name if name.startswith("twin/") else f"twin/{name}"
        key = (full, part)
        if key not in cache:
            cache[key] = bz.data.load(full, part=part) if part else bz.data.load(full)
        return cache[key]

    return _load


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the system chromium (Debian's package); never a downloaded browser."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        need("chromium is not installed: run `make setup` or `sudo apt-get install chromium`")
    return path


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process exits (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _qt_application_alive() -> bool:
    import sys

    for binding in ("PyQt5", "PyQt6", "PySide2", "PySide6"):
        widgets = sys.modules.get(f"{binding}.QtWidgets")
        if widgets is not None and widgets.QApplication.instance() is not None:
            return True
    return False


@pytest.fixture(scope="session")
def xvfb_display():
    """A virtual X display for napari (xcb + OpenGL). Starts Xvfb when DISPLAY is unset."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        need("Xvfb is not installed: run `make setup` or `sudo apt-get install xvfb`")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    if not number:
        proc.kill()
        need("Xvfb did not start")
    display = f":{number}"
    os.environ["DISPLAY"] = display
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        yield display
    finally:
        # A live QApplication (napari) still holds the X connection and Qt exits the process
        # with status 1 when its display vanishes: then Xvfb ends with this process instead.
        if not _qt_application_alive():
            proc.terminate()
            proc.wait(timeout=10)
            os.environ.pop("DISPLAY", None)


@pytest.fixture(scope="session")
def artifact_dir() -> Path:
    """``test-artifacts/``: screenshots and figures the tests keep for people to look at."""
    path = PROJECT_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


def _assert_uniform_ticks(tickformat: str | None, lo: float, hi: float, nticks: int | None = None) -> None:
    """Every tick plotly can choose on [lo, hi] (a step of 1, 2 or 5 × 10ⁿ, at most ten
    ticks or ``nticks``) is printed exactly by ``tickformat``, all with the same decimals."""
    import re

    import numpy as np

    assert tickformat, "no tickformat: plotly drops trailing zeros (4 beside 4.05, 8342 beside 8341.5)"
    m = re.fullmatch(r"\.(\d+)f", tickformat)
    assert m, f"tickformat {tickformat!r} does not fix the decimals"
    decimals = int(m.group(1))
    span = hi - lo
    for power in range(-8, 8):
        for mult in (1, 2, 5):
            step = mult * 10.0**power
            if not span / (nticks or 10) <= step <= span:
                continue
            for t in np.arange(np.ceil(lo / step), np.floor(hi / step) + 1) * step:
                text = f"{t:.{decimals}f}"
                assert abs(float(text) - t) <= step * 1e-6, f"{tickformat}: tick {t} at step {step} prints {text}"


@pytest.fixture(scope="session")
def assert_uniform_ticks():
    """``assert_uniform_ticks(tickformat, lo, hi, nticks=None)``: the tick labels plotly can
    draw on ``[lo, hi]`` all carry the same decimals and print their values exactly."""
    return _assert_uniform_ticks


@pytest.fixture(scope="session")
def unchanged():
    """``with unchanged(*paths): ...``: the files (or every file below a folder) have the
    same SHA-256 after the block as before it (readers never modify their sources)."""
    import contextlib

    @contextlib.contextmanager
    def _unchanged(*paths):
        before = _digests(paths)
        yield
        after = _digests(paths)
        assert after == before, f"source files changed: {[f for f in before if after.get(f) != before[f]]}"

    return _unchanged


@pytest.fixture(scope="session")
def fuzz_reader():
    """``fuzz_reader(read, files, n=..., seed=..., judge=None, root=None, target=None)``:
    a seeded mutation-fuzz campaign (:mod:`batteryzoom.testing.fuzz`) over copies of
    ``files`` (each damaged alone; with ``root``, members of a tree read together), lazy
    results computed and attrs compared; fails on any escaped exception, hang (> 30 s) or
    silent change, naming each. Returns the outcome counts. The clean files are never
    touched (checked)."""
    from batteryzoom.testing.fuzz import BUGS, campaign, counts, tree_campaign

    def _materialize(result):
        return result.load() if hasattr(result, "load") else result

    def _fuzz(read, files, *, n: int, seed: int = 0, judge=None, root=None, target=None) -> dict[str, int]:
        kw = dict(n_per_file=n, seed=seed, timeout_s=30.0, materialize=_materialize, judge=judge,
                  compare_attrs=True)
        before = _digests([root] if root is not None else files)
        if root is not None:
            out = tree_campaign(read, root, files, target=target, **kw)
        else:
            out = campaign(read, files, **kw)
        assert _digests([root] if root is not None else files) == before, "the fuzzer changed a clean file"
        bugs = [f"{o.kind}: {o.source} {o.mutation}: {o.detail[:160]}" for o in out if o.kind in BUGS]
        assert not bugs, f"{len(bugs)} of {len(out)} damaged inputs: " + "; ".join(bugs[:8])
        return counts(out)

    return _fuzz


# ------------------------------------------------------------------ the cell scale (tests/cell)


def spiral_image(shape=(300, 300), centre=(151.3, 148.6), a=18.0, pitch=9.0, turns=11.5, hand=1, width=1.6,
                 start=0.4):
    """An ideal bright spiral ``r = a + pitch·Θ/2π`` (Θ from ``start``; pixels) drawn with a
    Gaussian profile of sd ``width``, winding with the angle (``hand=1``) or against it."""
    import numpy as np

    yy, xx = np.indices(shape, dtype=float)
    dy, dx = yy - centre[0], xx - centre[1]
    r, phi = np.hypot(dy, dx), np.arctan2(dy, dx) % (2 * np.pi)
    s = (r - a) / pitch - (phi if hand > 0 else (2 * np.pi - phi) % (2 * np.pi)) / (2 * np.pi)
    k = np.round(s)
    theta = 2 * np.pi * k + (phi if hand > 0 else (2 * np.pi - phi) % (2 * np.pi))
    on = (theta >= start) & (theta <= start + 2 * np.pi * turns)
    d = (s - k) * pitch
    return np.where(on, np.exp(-0.5 * (d / width) ** 2), 0.0).astype(np.float32)


@pytest.fixture(scope="session")
def cell_twin_findings(twin):
    """The twin's whole cell CT through ``bz.cell.cell_pipeline`` (scored against its planted
    defects), once per session: ``.volume`` is ``analyze_volume`` of the whole twin."""
    from batteryzoom import cell

    return cell.cell_pipeline(twin("cell-ct"), truth=twin("cell-ct", part="defects"), progress=False)


# ------------------------------------------------------------------ segmentation of the twin


@pytest.fixture(scope="session")
def twin_electrode(twin):
    """``(grey, truth, table)`` of the twin's electrode CT, in memory: the grey volume, the
    true ``particles``/``phases``/``cracks`` as numpy, the true particle table."""
    import batteryzoom as bz

    grey = bz.data.load("twin/electrode-ct", lazy=False)
    truth = {part: bz.data.load("twin/electrode-ct", part=part, lazy=False).values
             for part in ("particles", "phases", "cracks")}
    return grey, truth, twin("electrode-ct", "particle_table")


@pytest.fixture(scope="session")
def twin_particles(twin_electrode):
    """``bz.segment.segment_particles`` of the twin's electrode CT, default parameters."""
    from batteryzoom import segment

    return segment.segment_particles(twin_electrode[0])


@pytest.fixture(scope="session")
def twin_matched(twin_electrode, twin_particles):
    """Interior true particles joined to the segmented particle overlapping them most
    (segmented columns suffixed ``_seg``)."""
    import pandas as pd

    _, truth, table = twin_electrode
    seg = twin_particles.labels.values
    both = (truth["particles"] > 0) & (seg > 0)
    pairs = pd.DataFrame({"label": truth["particles"][both], "seg": seg[both]}).value_counts().reset_index()
    best = pairs.sort_values("count").groupby("label").last().reset_index()
    joined = table.merge(best, on="label").merge(twin_particles.table, left_on="seg", right_on="label",
                                                 suffixes=("", "_seg"))
    return joined[~joined["border"]]


@pytest.fixture(scope="session")
def two_balls():
    """Two touching balls of radius 6 voxels (phase code 1) in pore (0), uint8 (20, 20, 28)."""
    import numpy as np

    z, y, x = np.mgrid[:20, :20, :28]
    balls = ((z - 10) ** 2 + (y - 10) ** 2 + (x - 8) ** 2 <= 36) | ((z - 10) ** 2 + (y - 10) ** 2 + (x - 19) ** 2 <= 36)
    return balls.astype(np.uint8)


@pytest.fixture(scope="session")
def two_balls_grey(two_balls):
    """:func:`two_balls` as grey levels: 0 and 1 plus Gaussian noise of 0.05, float32."""
    import numpy as np

    rng = np.random.default_rng(0)
    return (two_balls * 1.0 + rng.normal(0, 0.05, two_balls.shape)).astype(np.float32)


def _xanes_edge_stack(shape=(6, 7), seed=1, noise=0.0):
    """Arctan edges at known energies on a beamline-like grid; (E, *shape)."""
    import numpy as np

    from batteryzoom.data.twin.xanes import energy_grid

    rng = np.random.default_rng(seed)
    energy = energy_grid()
    e_half = 8341.0 + rng.uniform(-1.0, 1.0, shape)
    jump = rng.uniform(0.3, 0.6, shape)
    mu = 0.5 + np.arctan((energy[:, None, None] - e_half[None]) / 2.0) / np.pi
    stack = 0.4 + jump[None] * mu + 1e-4 * (energy[:, None, None] - 8300)
    stack = stack + rng.normal(0, noise, stack.shape)
    return energy, stack, e_half


@pytest.fixture(scope="session")
def xanes_edge_stack():
    """``xanes_edge_stack(shape=(6, 7), seed=1, noise=0.0) -> (energy, stack, e_half)``:
    arctan Ni-like edges at known half-step energies ``e_half`` (eV, ``shape``) on the
    twin's energy grid, a stack ``(E, *shape)`` of absorbance with a sloping background."""
    return _xanes_edge_stack


@dataclass
class MadeUpGrainStats:
    """A per-grain statistics result shaped like ``bz.regions.region_stats``' (values made up)."""

    table: "pd.DataFrame"
    histograms: "np.ndarray"
    bin_edges: "np.ndarray"

    def histogram(self, label):
        return self.histograms[self.table.index.get_loc(label)], self.bin_edges


def made_up_grain_stats(labels, seed: int = 0) -> MadeUpGrainStats:
    """Made-up but distinct per-grain histograms and numbers (a view must show the picked one's)."""
    import numpy as np
    import pandas as pd

    ids = np.unique(labels[labels > 0])
    rng = np.random.default_rng(seed)
    hist = rng.integers(0, 50, size=(len(ids), 40))
    table = pd.DataFrame(
        {
            "count": hist.sum(1),
            "edge_energy_ev_mean": 8341.0 + rng.normal(0, 0.5, len(ids)),
            "edge_energy_ev_peak": 8341.0 + rng.normal(0, 0.5, len(ids)),
            "edge_energy_ev_fwhm": rng.uniform(0.5, 2.0, len(ids)),
        },
        index=pd.Index(ids, name="label"),
    )
    return MadeUpGrainStats(table, hist, np.linspace(8335.0, 8347.0, 41))


@pytest.fixture(scope="session")
def twin_particle_grains():
    """``(level, labels)``: the twin XANES particle's grain labels on its small grid."""
    from batteryzoom.data.twin import frames, grains

    level = frames.level("twin/particle-xanes", "small")
    return level, grains.grain_labels(grains.particle_geometry(7), level)

