"""The synthetic NYU-Depth v2 generator: NYU's layout at NYU's size, depth as the scene's geometry
gives it, deterministic."""
import filecmp
import os

import numpy as np
import pytest
from PIL import Image

from synthetic import GENERATORS, make_nyu

FOCAL = 518.8579


@pytest.fixture(scope='module')
def nyu(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('nyu'))
    return root, make_nyu(root, num_train=8, num_val=5, seed=0)


def _lines(root, split):
    with open(os.path.join(root, split)) as f:
        return [line.split(' ') for line in f.read().splitlines()]


def test_layout_is_nyus(nyu):
    root, scenes = nyu
    assert GENERATORS['nyu'] is make_nyu
    train, test = _lines(root, 'nyu_train.txt'), _lines(root, 'nyu_test.txt')
    assert len(train) == 8 and len(test) == 5
    assert all(r.startswith('/') and d.startswith('/') for r, d, _ in train)
    assert not any(r.startswith('/') or d.startswith('/') for r, d, _ in test)
    assert {f for _, _, f in train + test} == {'518.8579'}
    listed = [(r.lstrip('/'), d.lstrip('/')) for r, d, _ in train + test]
    assert sorted(d for _, d in listed) == sorted(scenes)
    for rgb, depth in listed:
        scene, name = rgb.split('/')
        assert depth == f'{scene}/sync_depth_{name[len("rgb_"):-len(".jpg")]}.png'
        assert name.startswith('rgb_') and len(name) == len('rgb_00045.jpg')
        with Image.open(os.path.join(root, rgb)) as im:
            assert (im.format, im.mode, im.size) == ('JPEG', 'RGB', (640, 480))
        with Image.open(os.path.join(root, depth)) as im:
            assert im.format == 'PNG' and im.mode.startswith('I;16') and im.size == (640, 480)
    # training and test scenes differ; file names repeat across scenes, as NYU's do
    assert not {r.split('/')[0] for r, _ in listed[:8]} & {r.split('/')[0] for r, _ in listed[8:]}
    names = [r.split('/')[1] for r, _ in listed]
    assert len(set(names)) < len(names)


def _expected_depth(scene) -> np.ndarray:
    """The scene's depth in metres, from its geometry: wall, floor, then the nearest object."""
    rows, cols = np.mgrid[:480, :640]
    below = rows - 239.5
    depth = np.full((480, 640), scene.wall_distance)
    floor = below > 0
    depth[floor] = np.minimum(depth[floor], scene.camera_height * FOCAL / below[floor])
    for box in scene.boxes:
        inside = ((rows >= box.rows[0]) & (rows < box.rows[1]) & (cols >= box.cols[0])
                  & (cols < box.cols[1]))
        depth[inside] = np.minimum(depth[inside], box.distance)
    for disc in scene.discs:
        inside = (rows - disc.centre[0]) ** 2 + (cols - disc.centre[1]) ** 2 <= disc.radius ** 2
        depth[inside] = np.minimum(depth[inside], disc.distance)
    return depth


def test_depth_is_the_scenes_geometry_in_millimetres(nyu):
    root, scenes = nyu
    objects = 0
    for path, scene in scenes.items():
        with Image.open(os.path.join(root, path)) as im:
            stored = np.asarray(im).astype(np.int64)
        valid = stored > 0
        expected = np.round(_expected_depth(scene) * 1000).astype(np.int64)
        assert np.array_equal(stored[valid], expected[valid])
        assert 0.8 < valid.mean() < 0.995  # Kinect-like holes and a thin border, not more
        assert not valid[0].any() and not valid[:, -1].any()
        assert stored[valid].min() > 500 and stored.max() < 9500
        for thing in scene.boxes + scene.discs:
            mm = round(thing.distance * 1000)
            if (expected == mm).any():  # visible: in front of what it stands before
                objects += 1
                assert (stored == mm).sum() > 0.5 * (expected == mm).sum()
    assert objects >= len(scenes)


def test_brightness_falls_with_depth(nyu):
    root, scenes = nyu
    greys, depths = [], []
    for path, scene in scenes.items():
        depths.append(_expected_depth(scene)[20:-20, 20:-20].ravel())  # inside the white border
        rgb = path.replace('sync_depth_', 'rgb_')[:-len('.png')] + '.jpg'
        with Image.open(os.path.join(root, rgb)) as im:
            greys.append(np.asarray(im.convert('L'), dtype=np.float64)[20:-20, 20:-20].ravel())
        assert np.corrcoef(greys[-1], depths[-1])[0, 1] < -0.3
    assert np.corrcoef(np.concatenate(greys), np.concatenate(depths))[0, 1] < -0.6


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (('a', 3), ('b', 3), ('c', 4)):
        make_nyu(str(tmp_path / name), num_train=1, num_val=1, seed=seed)
    frames = ('kitchen_0028b/rgb_00001.jpg', 'bathroom_0007/sync_depth_00001.png')
    for rel in ('nyu_test.txt',) + frames:
        assert filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'b' / rel, shallow=False)
    for rel in frames:
        assert not filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'c' / rel, shallow=False)
