"""The cylindrical cell in CT: can, centre, unrolled jelly roll, layers, deformation, defects.

The whole-cell scale of the zoom. An axial CT slice of a cylindrical cell shows a spiral of
electrode windings inside a steel can. One module per technique:

1. :mod:`.can`: the **can** (:func:`find_can`): its wall, centre, fitted ellipse, diameter,
   wall thickness, eccentricity, and dents as the inward residuals from the ellipse;
2. :mod:`.unrolling`: the slice **unrolled** onto (radius, angle) around the cell axis
   (:func:`unroll`); :mod:`.lines`: traced line masks made trackable (:func:`line_image`);
3. :mod:`.layers`: every **winding** tracked as a ridge across angle (:func:`track_layers`):
   in an image sheared by one pitch per turn each turn is a row, so each ridge is followed
   column by column; the ridges are fitted by an Archimedean spiral ``r = a + b·Θ``
   (``Θ = 2πk ± θ`` for turn ``k``), with a first-order centre correction; per-turn
   thickness, gap and coverage; the number of windings;
4. :mod:`.defects`: **defects** (:func:`find_defects`): buckling (residual from the fitted
   spiral), delamination gaps (spacing between neighbouring turns), tears (missing ridge
   segments), bright inclusions, and can dents, as one table in the cell frame;
   :func:`score_defects` against known ones;
5. :mod:`.analysis`: one slice whole (:func:`analyze_slice`), with the spiral's centre searched;
6. :mod:`.volume`: **slice by slice** through a volume (:func:`analyze_volume`), with progress,
   a per-slice summary and defects linked across slices into 3D (:func:`link_defects`);
7. :mod:`.pipeline`: the cell scale's findings in one call (:func:`cell_pipeline`), as the
   report and notebook 02 use them.

Conventions: positions are in µm in the image's own frame (its ``y``/``x`` coordinates, read
by :func:`batteryzoom.frames.frame_of`). Angles are radians in ``[0, 2π)``, measured from +x
towards +y about the cell axis. Every function takes lengths in µm as parameters, so an
unknown voxel size raises an :class:`~batteryzoom.errors.InputError` that says how to give it;
``voxel_size_um="px"`` measures in pixels on purpose, and every table then names its lengths
``..._px`` (``pitch_px``, ``can_diameter_px``; ``attrs["length_unit"] = "px"``). Severity is
the magnitude of a defect relative to the winding pitch (buckling displacement, gap opening,
tear length, inclusion diameter) or, for a dent, relative to the can's wall thickness: 1
means "one whole pitch" / "one wall".

Compute only: arrays and tables in, arrays and tables out; figures are in
:mod:`batteryzoom.plots.cell`.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
