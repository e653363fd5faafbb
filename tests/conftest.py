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
