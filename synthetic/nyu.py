"""A small NYU-Depth v2 dataset in the layout the DINOv2 and DINOv3 depth evaluations read, at the
real size, with depth known by construction; deterministic by seed.

Writes::

    ROOT/nyu_train.txt    "/<scene>/rgb_00001.jpg /<scene>/sync_depth_00001.png 518.8579" a line
    ROOT/nyu_test.txt     the same without the leading slashes
    ROOT/<scene>/rgb_<frame>.jpg          480x640 RGB with a white border, as NYU's
    ROOT/<scene>/sync_depth_<frame>.png   480x640 uint16 millimetres, 0 = invalid

Each frame is seen by a pinhole camera (NYU's focal 518.8579, the optical axis through the image
centre) held level at a height above a floor, facing a back wall: the wall's depth is its
distance, the floor's at row ``v`` is ``height * focal / (v - centre row)``. Boxes standing on the
floor and discs hanging in front of the wall face the camera, each at one distance; the nearest
surface wins. The depth maps lose some pixels as Kinect's do (holes, a thin border). Brightness
falls with depth and each surface carries a texture of fixed size in the world, so its period in
pixels shrinks with distance: cues a linear probe on a small encoder can use. Frame numbers repeat
across scenes, as NYU's do.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

__all__ = ['NYU_FOCAL', 'NYUBox', 'NYUDisc', 'NYUScene', 'make_nyu', 'nyu_depth']

#: NYU's focal length in pixels, as its split files give it
NYU_FOCAL = 518.8579
_SHAPE = (480, 640)
#: (row, column) the optical axis passes through: the centre of the image
_CENTRE = ((_SHAPE[0] - 1) / 2, (_SHAPE[1] - 1) / 2)
_TRAIN_SCENES = ('kitchen_0028b', 'bedroom_0004', 'living_room_0010', 'office_0003')
_TEST_SCENES = ('bathroom_0007', 'dining_room_0013', 'classroom_0004')


@dataclass(frozen=True)
class NYUBox:
    """A box standing on the floor, its front facing the camera at ``distance`` metres; it covers
    rows ``rows[0] <= v < rows[1]`` and columns ``cols[0] <= u < cols[1]``."""
    distance: float
    rows: Tuple[int, int]
    cols: Tuple[int, int]


@dataclass(frozen=True)
class NYUDisc:
    """A disc facing the camera at ``distance`` metres; it covers the pixels within ``radius``
    of ``centre`` (row, column)."""
    distance: float
    centre: Tuple[int, int]
    radius: int


@dataclass(frozen=True)
class NYUScene:
    """What a frame shows: the camera's height above the floor and the back wall's distance (both
    in metres), the boxes and the discs."""
    camera_height: float
    wall_distance: float
    boxes: Tuple[NYUBox, ...]
    discs: Tuple[NYUDisc, ...]


def _draw_scene(rng: np.random.Generator) -> NYUScene:
    """A random scene whose depths all lie in (0.5, 9.5) m."""
    height, wall = rng.uniform(0.6, 1.4), rng.uniform(4.0, 9.0)
    boxes = []
    for _ in range(int(rng.integers(1, 4))):
        # far enough that the camera sees where the box meets the floor
        distance = rng.uniform(height * NYU_FOCAL / (_SHAPE[0] - 1 - _CENTRE[0]), wall - 0.5)
        size = rng.uniform(0.3, 1.0, 2) * NYU_FOCAL / distance  # width, height in pixels
        bottom = _CENTRE[0] + height * NYU_FOCAL / distance  # where it meets the floor
        centre = rng.uniform(60, _SHAPE[1] - 60)
        rows = (max(0, round(bottom - size[1])), min(_SHAPE[0], round(bottom)))
        cols = (max(0, round(centre - size[0] / 2)), min(_SHAPE[1], round(centre + size[0] / 2)))
        boxes.append(NYUBox(float(distance), rows, cols))
    discs = []
    for _ in range(int(rng.integers(0, 3))):
        distance = rng.uniform(0.8, wall - 0.3)
        centre = (int(rng.integers(40, 200)), int(rng.integers(40, _SHAPE[1] - 40)))
        discs.append(NYUDisc(float(distance), centre,
                             max(3, round(rng.uniform(0.1, 0.3) * NYU_FOCAL / distance))))
    return NYUScene(float(height), float(wall), tuple(boxes), tuple(discs))


def _object_masks(scene: NYUScene) -> List[Tuple[float, np.ndarray]]:
    """Each box's and disc's distance and the pixels it covers."""
    rows, cols = np.ogrid[:_SHAPE[0], :_SHAPE[1]]
    masks = []
    for box in scene.boxes:
        masks.append((box.distance, (rows >= box.rows[0]) & (rows < box.rows[1])
                      & (cols >= box.cols[0]) & (cols < box.cols[1])))
    for disc in scene.discs:
        masks.append((disc.distance, (rows - disc.centre[0]) ** 2 + (cols - disc.centre[1]) ** 2
                      <= disc.radius ** 2))
    return masks


def nyu_depth(scene: NYUScene) -> Tuple[np.ndarray, np.ndarray]:
    """The depth (metres, float64) at every pixel of ``scene`` and which surface it is: 0 the
    wall, 1 the floor, 2 + k the k-th box or disc (boxes first)."""
    below = np.arange(_SHAPE[0], dtype=np.float64)[:, None] - _CENTRE[0]
    with np.errstate(divide='ignore'):  # rows at or above the horizon see no floor
        floor = np.where(below > 0, scene.camera_height * NYU_FOCAL / below, np.inf)
    depth = np.broadcast_to(np.minimum(floor, scene.wall_distance), _SHAPE).copy()
    surface = np.broadcast_to((floor < scene.wall_distance).astype(np.int64), _SHAPE).copy()
    for k, (distance, mask) in enumerate(_object_masks(scene)):
        nearer = mask & (distance < depth)
        depth[nearer], surface[nearer] = distance, 2 + k
    return depth, surface


def _rgb(rng: np.random.Generator, depth: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """The frame's colours: each surface's albedo with a world-sized checker texture, darker with
    depth, with sensor noise and NYU's white border."""
    depth = depth.astype(np.float32)
    rows, cols = (np.arange(n, dtype=np.float32) - c for n, c in zip(_SHAPE, _CENTRE))
    # in world units over the period: the floor's texture lies along the floor (x, depth), the
    # others' along their face (x, y)
    count = int(surface.max()) + 1
    frequency = (2 * np.pi / rng.uniform(0.15, 0.4, count)).astype(np.float32)[surface]
    x = cols[None] * (depth * frequency / np.float32(NYU_FOCAL))
    v = np.where(surface == 1, depth * frequency,
                 rows[:, None] * (depth * frequency / np.float32(NYU_FOCAL)))
    texture = np.sign(np.sin(x) * np.sin(v))
    shade = (0.1 + 1.1 * np.exp(-depth / 4.5)) * (0.85 + 0.15 * texture)
    albedo = rng.uniform(140, 230, (count, 3)).astype(np.float32)
    pixels = albedo[surface] * shade[..., None]
    pixels += 3 * rng.standard_normal(_SHAPE + (1,), dtype=np.float32)  # grey sensor noise
    border = int(rng.integers(6, 12))
    pixels[:border], pixels[-border:], pixels[:, :border], pixels[:, -border:] = 255, 255, 255, 255
    return pixels.clip(0, 255).astype(np.uint8)


def _stored_depth(rng: np.random.Generator, depth: np.ndarray) -> np.ndarray:
    """``depth`` as NYU stores it: uint16 millimetres, with Kinect-like holes and a thin border of
    0 (invalid)."""
    stored = np.round(depth * 1000).astype(np.uint16)
    rows, cols = np.ogrid[:_SHAPE[0], :_SHAPE[1]]
    for _ in range(int(rng.integers(2, 7))):
        (r, c), (a, b) = rng.uniform((0, 0), _SHAPE), rng.uniform(4, 20, 2)
        stored[((rows - r) / a) ** 2 + ((cols - c) / b) ** 2 <= 1] = 0
    border = int(rng.integers(2, 8))
    stored[:border], stored[-border:], stored[:, :border], stored[:, -border:] = 0, 0, 0, 0
    return stored


def make_nyu(root: str, num_train: int = 16, num_val: int = 8,
             seed: int = 0) -> Dict[str, NYUScene]:
    """Write ``num_train`` training and ``num_val`` test frames under ``root``, in scenes of their
    own, with ``nyu_train.txt`` and ``nyu_test.txt``; return each frame's scene by the path of its
    depth map relative to ``root``."""
    rng = np.random.default_rng(seed)
    scenes: Dict[str, NYUScene] = {}
    for split, count, names, slash in (('nyu_train.txt', num_train, _TRAIN_SCENES, '/'),
                                       ('nyu_test.txt', num_val, _TEST_SCENES, '')):
        lines = []
        for index in range(count):
            folder, frame = names[index % len(names)], 1 + index // len(names)
            os.makedirs(osp.join(root, folder), exist_ok=True)
            rgb, depth_png = f'{folder}/rgb_{frame:05d}.jpg', f'{folder}/sync_depth_{frame:05d}.png'
            scene = scenes[depth_png] = _draw_scene(rng)
            depth, surface = nyu_depth(scene)
            Image.fromarray(_rgb(rng, depth, surface)).save(osp.join(root, rgb), quality=95)
            Image.fromarray(_stored_depth(rng, depth)).save(osp.join(root, depth_png))
            lines.append(f'{slash}{rgb} {slash}{depth_png} {NYU_FOCAL}\n')
        with open(osp.join(root, split), 'w') as f:
            f.writelines(lines)
    return scenes
