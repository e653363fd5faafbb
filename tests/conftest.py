import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


@pytest.fixture(scope='session')
def synthetic_coco(tmp_path_factory) -> str:
    """A synthetic COCO dataset shared by the tests of a session."""
    from synthetic import make_coco
    root = str(tmp_path_factory.mktemp('synthetic_coco'))
    make_coco(root, num_train=16, num_val=8, seed=0)
    return root


def repaint_outside(images, image: int, visible, patch: int = 8) -> None:
    """Overwrite, in place, every patch of ``images[image]`` whose raster index is not in ``visible``."""
    import torch
    cols = images.shape[-1] // patch
    for index in set(range(cols * (images.shape[-2] // patch))) - set(visible):
        r, c = divmod(index, cols)
        images[image, :, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = \
            torch.randn(images.shape[1], patch, patch) * 5
