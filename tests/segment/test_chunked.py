"""bz.segment.chunked: labelling in overlapping blocks, labels stitched across block faces."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from batteryzoom.errors import InputError
from batteryzoom.segment import adjusted_rand_index
from batteryzoom.segment.chunked import chunk_grid, label_in_chunks, map_in_chunks


def _components(block):
    return ndimage.label(block, structure=np.ones((3, 3, 3), bool))[0]


def test_cores_tile_the_volume_once_and_halos_stay_inside():
    shape = (23, 17, 40)
    seen = np.zeros(shape, np.int8)
    for core, ext in chunk_grid(shape, 8, 3):
        seen[core] += 1
        for c, e, n in zip(core, ext, shape):
            assert 0 <= e.start <= c.start and c.stop <= e.stop <= n
            assert c.start - e.start in (0, 3) or e.start == 0
    assert (seen == 1).all()


def test_connected_components_in_blocks_equal_the_whole_volume():
    rng = np.random.default_rng(1)
    mask = ndimage.gaussian_filter(rng.standard_normal((40, 36, 50)), 2) > 0.06
    whole = _components(mask)
    chunked, _ = label_in_chunks(mask, _components, chunk_voxels=12, overlap_voxels=2)
    # every whole-volume component is one chunked label and vice versa (only relabelled)
    assert chunked.max() == whole.max() > 5
    assert adjusted_rand_index(whole, chunked, mask=mask) == pytest.approx(1.0)
    assert ((chunked > 0) == mask).all()


@pytest.mark.parametrize("stitch", ["any", "majority"])
def test_touching_objects_of_a_watershed_are_not_merged_at_block_faces(stitch):
    # two cubes that touch across x = 20, right at a block face: a merge of touching
    # labels (right for components) would make them one object
    lab = np.zeros((10, 10, 40), np.int32)
    lab[2:8, 2:8, 10:20] = 1
    lab[2:8, 2:8, 20:30] = 2
    out, _ = label_in_chunks(lab, lambda b: b.copy(), chunk_voxels=20, overlap_voxels=4, stitch=stitch)
    assert out.max() == 2
    assert len(np.unique(out[2:8, 2:8, 10:20])) == 1 and len(np.unique(out[2:8, 2:8, 20:30])) == 1
    assert out[4, 4, 15] != out[4, 4, 25]


def test_majority_stitching_keeps_one_partner_when_a_block_merges_two_objects():
    # the low block (cores x < 20) sees one object where the high block sees two: "any"
    # chains them into one, "majority" keeps the high block's split beyond the face
    lab = np.zeros((10, 10, 40), np.int32)
    lab[2:8, 2:8, 10:30] = 1
    lab[2:8, 2:5, 20:30] = 2

    def labelled(block):
        out = block.copy()
        if block.shape[2] < 40 and block[..., :1].max() == 0:  # the low block: 2 as 1
            out[out == 2] = 1
        return out

    anyway, _ = label_in_chunks(lab, labelled, chunk_voxels=20, overlap_voxels=4, stitch="any")
    major, _ = label_in_chunks(lab, labelled, chunk_voxels=20, overlap_voxels=4, stitch="majority")
    assert anyway.max() == 1
    assert major.max() == 2 and major[4, 6, 25] == major[4, 4, 15] != major[4, 3, 25]


def test_dask_input_is_read_in_blocks_with_the_same_result():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(2)
    vol = rng.random((30, 20, 26)).astype(np.float32)
    lazy = da.from_array(vol, chunks=7)
    [a] = map_in_chunks([vol], lambda b: ndimage.uniform_filter(b, 5), chunk_voxels=9, overlap_voxels=2)
    [b] = map_in_chunks([lazy], lambda b: ndimage.uniform_filter(b, 5), chunk_voxels=9, overlap_voxels=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, ndimage.uniform_filter(vol, 5), rtol=1e-6)


def test_bad_sizes_and_outputs_are_refused():
    vol = np.zeros((10, 10, 10), bool)
    with pytest.raises(InputError, match="chunk_voxels"):
        label_in_chunks(vol, _components, chunk_voxels=2)
    with pytest.raises(InputError, match="overlap_voxels"):
        label_in_chunks(vol, _components, chunk_voxels=8, overlap_voxels=0)
    with pytest.raises(InputError, match="stitch"):
        label_in_chunks(vol, _components, chunk_voxels=8, stitch="touching")
    with pytest.raises(InputError, match="integer labels"):
        label_in_chunks(vol, lambda b: b.astype(float), chunk_voxels=8, overlap_voxels=1)
    with pytest.raises(InputError, match="shape"):
        map_in_chunks([vol], lambda b: b[1:], chunk_voxels=8, overlap_voxels=1)
    with pytest.raises(InputError, match="3D"):
        map_in_chunks([vol, np.zeros((10, 10))], lambda a, b: a, chunk_voxels=8, overlap_voxels=1)
