"""Raw acquisitions to volumes: tomographic reconstruction on CPU, streamed through dask.

The steps, in the order :func:`reconstruct` runs them on an acquisition Dataset
(:mod:`batteryzoom.io.acquisition`):

- :func:`normalize`: flats and darks to optical density ``-ln((I - D)/(I0 - D))``, flats
  interpolated in time between series taken before and after; bad flats refused.
- :func:`remove_outliers`: zingers (isolated spikes) replaced by the local median.
- :func:`remove_stripes`: stripes of the sinograms (rings of the slices), algotom's
  ``remove_all_stripe``; :func:`ring_metric` and :func:`edge_sharpness` measure the effect.
- :func:`paganin`: single-distance phase retrieval for propagation-based imaging.
- :func:`find_centre` / :func:`find_centre_rows`: the rotation axis, with its uncertainty,
  per row (tilt); :func:`sharpness_curve` is the exhaustive reference.
- :func:`estimate_jitter` / :func:`shift_projections`: per-projection shifts against
  re-projections of a first reconstruction, iterated.
- :func:`reconstruct_slices`: FBP, direct Fourier inversion, SIRT, or skimage's iradon;
  180° and 360° (offset axis) scans; :func:`project` is the matching projector.
- :func:`reconstruct`: all of it, slice block by slice block and energy by energy, into
  an xarray volume ``(z, y, x)`` or ``(energy, z, y, x)`` in µm, optionally written to zarr.

Submodules load on first use (``lazy_loader``; the public names are in ``__init__.pyi``).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
