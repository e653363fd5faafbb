"""Fixtures shared by the tests of every package: synthetic datasets written once a session, and
mmseg's registries as the default scope."""
import pytest


@pytest.fixture(scope='session')
def synthetic_coco(tmp_path_factory) -> str:
    """A synthetic COCO dataset shared by the tests of a session."""
    from synthetic import make_coco
    root = str(tmp_path_factory.mktemp('synthetic_coco'))
    make_coco(root, num_train=16, num_val=8, seed=0)
    return root


@pytest.fixture(scope='session')
def synthetic_imagenet(tmp_path_factory) -> str:
    """A synthetic ImageNet train folder with one unreadable image, which every run meets."""
    import os
    from synthetic import make_imagenet
    root = str(tmp_path_factory.mktemp('synthetic_imagenet'))
    make_imagenet(root, num_train=64, num_val=0, seed=0)
    with open(os.path.join(root, 'train', 'n00000000', 'corrupt.JPEG'), 'wb') as f:
        f.write(b'truncated')
    return root


@pytest.fixture(scope='session')
def synthetic_ade(tmp_path_factory) -> str:
    """A synthetic ADE20K dataset shared by the tests of a session."""
    from synthetic import make_ade20k
    root = str(tmp_path_factory.mktemp('synthetic_ade'))
    make_ade20k(root, num_train=16, num_val=8, seed=0)
    return root


@pytest.fixture
def mmseg_scope():
    """mmseg's registries as the default scope, restored afterwards for the other tests."""
    from mmengine.registry import DefaultScope
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield
