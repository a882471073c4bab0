"""The main job: run the whole zoom on a dataset and write one report.

.. code-block:: python

    import batteryzoom as bz
    report = bz.report.run_zoom("twin")      # ~30 s on two cores
    print(report.summary_text())
    bz.report.write_report(report, "report")

or, from a shell, ``batteryzoom report --dataset twin --out report`` (``make demo``).

One module per part of the job:

- :mod:`.run`: :func:`run_zoom` (the scales in the order of the zoom, each failing alone)
  and :func:`main` (the command);
- :mod:`.sources`: where the inputs come from: :class:`TwinSource`, :class:`FolderSource`
  (a folder of your own data described by ``batteryzoom.yaml``);
- one module per scale (:mod:`.cycler`, :mod:`.cell`, :mod:`.electrode`, :mod:`.particle`,
  :mod:`.grain`): each calls its technique's pipeline (``bz.cycling.cycler_qc``,
  ``bz.cell.cell_pipeline``, ``bz.segment.electrode_damage`` / ``particle_structure``,
  ``bz.xanes.grain_chemistry``) and turns the result into findings, prose and figures;
- :mod:`.results`: :class:`ZoomReport` and its parts;
- :mod:`.write`: :func:`write_report` (built whole beside the target, swapped in
  atomically, never among your data) and :mod:`.export` (PNG/SVG through chromium);
- :mod:`.html`: the one self-contained page.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
