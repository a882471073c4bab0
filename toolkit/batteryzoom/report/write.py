"""Writing the report: a folder built whole beside its target and swapped in atomically.

:func:`write_report` never touches what it did not write, and an interruption never leaves
a folder that looks complete and is not:

- :func:`check_output` runs first (``batteryzoom report`` calls it before any scale runs):
  the folder must be writable, must not be (or lie inside) a folder the dataset is read
  from, and if it exists it must be a report folder (its marker file
  :data:`MARKER` lists what the report wrote there) holding nothing else.
- the report is written into a temporary folder beside the target, named by its owner
  (:func:`batteryzoom.data.store.temporary_path`), its marker last, then renamed into
  place (the old report renamed aside and removed). Ctrl-C removes the temporary; after a
  SIGKILL the target is the old report, the new one, or absent, and the next run removes
  the temporaries left.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InputError
from ._interrupt import checkpoint
from .export import check_options, export_figures, readable
from .results import ReportFiles, ZoomReport

__all__ = ["write_report", "check_output", "MARKER"]

#: the file that marks a folder as a batteryzoom report and lists the files it wrote
MARKER = ".batteryzoom-report.json"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _written_files(out: Path) -> list[str] | None:
    """The files the marker of report folder ``out`` lists; None when it has no readable
    marker and is not a report of an earlier version either (:func:`_legacy_files`)."""
    try:
        files = json.loads((out / MARKER).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return _legacy_files(out)
    return [str(f) for f in files] if isinstance(files, list) else None


def _legacy_files(out: Path) -> list[str] | None:
    """The files of a report written before the marker existed (``make demo``'s ``report/``):
    an ``index.html`` batteryzoom made, figures, and an interrupted export's ``.figures-*``
    debris, nothing else; None for any other folder."""
    try:
        page = (out / "index.html").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if "<p>Made with batteryzoom" not in page:
        return None
    files = []
    for p in out.rglob("*"):
        rel = p.relative_to(out)
        if p.is_dir():
            continue
        ours = rel.as_posix() == "index.html" or (
            rel.parts[0] == "figures" and len(rel.parts) == 2 and rel.suffix in (".png", ".svg", ".pdf")) or (
            rel.parts[0].startswith(".figures-") and len(rel.parts) == 2)
        if not ours:
            return None
        files.append(rel.as_posix())
    return files


def check_output(out: str | os.PathLike, inputs: tuple | list = ()) -> Path:
    """Refuse an output folder the report must not write into, before any work is done.

    Parameters
    ----------
    out : path-like
        The report's folder.
    inputs : sequence of path-like
        Folders the dataset is read from (``Source.inputs()``).

    Returns
    -------
    Path
        ``out``, absolute.

    Raises
    ------
    InputError
        ``out`` is a file; equal to or inside an input folder; an existing folder that is
        not a batteryzoom report, or one holding files the report did not write; or
        not writable (its nearest existing parent refuses a new folder).
    """
    from ..data.store import temporary_path

    out = Path(out).expanduser().absolute()
    resolved = out.resolve()
    for folder in inputs:
        folder = Path(folder).expanduser().resolve()
        if _inside(resolved, folder):
            raise InputError(f"--out {out}: is {'the' if resolved == folder else 'inside the'} dataset folder "
                             f"{folder}; the report never writes among your data: choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; give a folder for the report")
    if out.is_dir() and any(out.iterdir()):
        listed = _written_files(out)
        if listed is None:
            raise InputError(f"--out {out}: the folder exists and is not a batteryzoom report (no {MARKER}); "
                             "the report replaces only a folder it wrote: choose a new or empty folder")
        extra = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                       if p.is_file() and p.name != MARKER and str(p.relative_to(out)) not in listed)
        if extra:
            raise InputError(f"--out {out}: holds {len(extra)} file(s) the report did not write ({', '.join(extra[:5])}"
                             f"{', ...' if len(extra) > 5 else ''}); move them out or choose another folder")
    # writable: a folder can be made beside the target (in its nearest existing parent)
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    probe = temporary_path(parent / out.name)
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({parent}: {exc.strerror or exc}); "
                         "choose a folder you can write to") from None
    return out


def write_report(report: ZoomReport, out: str | os.PathLike = "report", *, static: bool = True,
                 chromium: str | None = None, width_mm: float | None = None, dpi: float | None = None,
                 formats: tuple[str, ...] = ("png", "svg"), titles: bool = True) -> ReportFiles:
    """Write ``out/index.html`` and ``out/figures/<name>.png`` / ``.svg``, whole or not at all.

    Parameters
    ----------
    report : ZoomReport
        From :func:`run_zoom`.
    out : path-like
        Output folder: new, empty, or a report folder batteryzoom wrote (replaced whole, in
        one rename; see the module docstring). Never the dataset's folder.
    static : bool
        Export PNG and SVG too (needs chromium; without it the HTML is still written and
        :attr:`ReportFiles.static_message` says how to get them).
    chromium : str, optional
        The browser to export with (default :func:`find_chromium`).
    width_mm, dpi, formats, titles
        The static figures' print size, formats (``"png"``, ``"svg"``, ``"pdf"``) and
        whether they keep their titles (:func:`export_figures`; e.g. ``width_mm=85,
        dpi=600, formats=("pdf",), titles=False`` for a journal's single column). The
        default is the figures' own size (900 × 560 px), PNG and SVG, with titles.

    Raises
    ------
    InputError
        An output folder :func:`check_output` refuses.
    """
    from ..data.store import atomic_directory, atomic_write_bytes, remove_stale_temporaries
    from .html import render_html

    out = check_output(out, report.inputs)
    formats = check_options(formats, width_mm, dpi)
    # what an earlier, killed run left beside the target (only this target's temporaries)
    if out.parent.is_dir():
        remove_stale_temporaries(out.parent, prefix=f".{out.name}.tmp-")
    written: dict[str, list[Path]] = {}
    message = "static figures not requested"
    with atomic_directory(out, replace=lambda _: True) as tmp:
        checkpoint()
        if static:
            try:
                written, message = export_figures(report.figures, tmp / "figures", chromium=chromium,
                                                  formats=formats, width_mm=width_mm, dpi=dpi, titles=titles)
            except Exception as exc:  # kaleido/chromium failures must not cost the HTML report
                written, message = {}, f"static export failed ({type(exc).__name__}: {exc}); index.html holds every figure"
        checkpoint()
        relative = {n: [p.relative_to(tmp) for p in ps] for n, ps in written.items()}
        html = render_html(report, relative, message)
        readable(atomic_write_bytes(tmp / "index.html", html.encode("utf-8")))
        checkpoint()
        files = ["index.html"] + sorted(str(p.as_posix()) for ps in relative.values() for p in ps)
        marker = {"batteryzoom_report": 1, "dataset": report.dataset, "files": files, "routes": report.routes}
        readable(atomic_write_bytes(tmp / MARKER, json.dumps(marker, indent=1).encode("utf-8")))
        checkpoint()
    checkpoint()
    static_files = {n: [out / p for p in ps] for n, ps in relative.items()}
    return ReportFiles(index=out / "index.html", figures_dir=out / "figures", static=static_files,
                       static_message=message)
