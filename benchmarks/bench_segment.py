"""bz.segment: segmentation times of the twin's electrode and particle, against textbook baselines.

- Electrode (128 × 128 × 160, 0.5 µm): ``segment_particles`` (thresholds, crack filling,
  distance map, h-maxima markers, watershed, per-particle table with sphericity and crack
  analysis) against the bare textbook pipeline on the same volume (threshold, Euclidean
  distance transform, ``skimage.morphology.h_maxima`` markers, watershed): the cost of the
  crack filling and the measurements on top of the minimum.
- Particle (112³, 80 nm): ``segment_grains`` against a scikit-image Hessian
  (``hessian_matrix`` + ``hessian_matrix_eigvals``) followed by a watershed from the same
  number of grid markers: the cost of the boundary map, markers and grain table.
- ``segment._common.h_maxima`` against ``skimage.morphology.h_maxima`` on the electrode's
  distance map (identical output).
"""

from __future__ import annotations

import numpy as np
from harness import Measurement, case, median_time
from scipy import ndimage

import batteryzoom as bz
from batteryzoom import segment
from batteryzoom.segment._common import h_maxima as our_h_maxima


@case("segment")
def electrode_particles():
    from skimage.measure import label
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    grey = bz.data.load("twin/electrode-ct", lazy=False)
    arr = grey.values
    result = {}

    def ours():
        result["seg"] = segment.segment_particles(grey, progress_bar=False)

    def textbook():
        solid = arr > 0.6
        dist = ndimage.distance_transform_edt(solid, sampling=0.5)
        watershed(-dist, label(h_maxima(dist, 0.5)), mask=solid)

    t_ours = median_time(ours, repeat=3)
    t_base = median_time(textbook, repeat=3)
    truth = bz.data.load("twin/electrode-ct", part="particle_table")
    n_true = int((truth["volume_um3"] >= 8).sum())
    return [Measurement("electrode 128x128x160: segment_particles vs textbook EDT+h-maxima+watershed",
                        t_ours, t_base, goal=3.0,
                        note=f"{len(result['seg'].table)} particles found, {n_true} true")]


@case("segment")
def particle_grains():
    from skimage.feature import hessian_matrix, hessian_matrix_eigvals
    from skimage.segmentation import watershed

    nanoct = bz.data.load("twin/particle-nanoct", lazy=False)
    truth = bz.data.load("twin/particle-nanoct", part="grains", lazy=False).values
    arr = nanoct.values
    result = {}

    def ours():
        result["seg"] = segment.segment_grains(nanoct)

    def hessian_watershed():
        ridge = hessian_matrix_eigvals(hessian_matrix(arr, sigma=1.0, use_gaussian_derivatives=True))[0]
        markers = np.zeros(arr.shape, np.int32)
        markers[::9, ::9, ::9] = np.arange(1, markers[::9, ::9, ::9].size + 1).reshape(markers[::9, ::9, ::9].shape)
        watershed(ridge, markers, mask=truth > 0)

    t_ours = median_time(ours, repeat=3)
    t_base = median_time(hessian_watershed, repeat=3)
    ari = segment.adjusted_rand_index(truth, result["seg"].labels, mask=truth > 0)
    return [Measurement("particle 112^3: segment_grains vs skimage Hessian + watershed", t_ours, t_base,
                        goal=3.0, note=f"ARI {ari:.3f} (all particle voxels)")]


@case("segment")
def h_maxima_vs_scikit_image():
    from skimage.morphology import h_maxima

    grey = bz.data.load("twin/electrode-ct", lazy=False).values
    solid = ndimage.gaussian_filter(grey, 0.5) > 0.67
    dist = ndimage.distance_transform_edt(solid, sampling=0.5).astype(np.float32)
    t_ours = median_time(lambda: our_h_maxima(dist, 0.5), repeat=3)
    t_base = median_time(lambda: h_maxima(dist, 0.5), repeat=3)
    same = np.array_equal(our_h_maxima(dist, 0.5), h_maxima(dist, 0.5).astype(bool))
    return [Measurement("h-maxima of the electrode distance map vs skimage", t_ours, t_base, goal=1.0,
                        note="identical output" if same else "OUTPUT DIFFERS")]
