import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.append(osp.join(ROOT, 'tools'))  # the tools' modules, after everything else


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


def repaint_outside(images, image: int, visible, patch: int = 8) -> None:
    """Overwrite, in place, every patch of ``images[image]`` whose raster index is not in ``visible``."""
    import torch
    cols = images.shape[-1] // patch
    for index in set(range(cols * (images.shape[-2] // patch))) - set(visible):
        r, c = divmod(index, cols)
        images[image, :, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = \
            torch.randn(images.shape[1], patch, patch) * 5


def config_differences(path_a: str, path_b: str) -> set:
    """The dotted keys whose values differ between two config files."""
    from mmengine.config import Config

    def flat(d, prefix=''):
        out = {}
        for k, v in d.items():
            out.update(flat(v, f'{prefix}{k}.') if isinstance(v, dict) else {f'{prefix}{k}': v})
        return out
    a, b = (flat(Config.fromfile(p).to_dict()) for p in (path_a, path_b))
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


def run_tool(tool: str, *args: str, env: dict) -> str:
    """Run ``tools/<tool>`` in a subprocess; fail the test with its output if it fails."""
    import subprocess
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', tool), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def metrics_of_test_run(work_dir: str) -> dict:
    """The metrics of the one ``tools/test.py`` run of a work dir (``<run>/<run>.json``)."""
    import json
    import os
    (path,) = [p for run in sorted(os.listdir(work_dir)) if run[:8].isdigit()
               for p in [osp.join(work_dir, run, f'{run}.json')] if osp.exists(p)]
    with open(path) as f:
        return json.load(f)


def logged_scalars(work_dir: str) -> list:
    """Every row of the scalars.json logs of a work dir's runs, oldest run first."""
    import json
    import os
    rows = []
    for run in sorted(d for d in os.listdir(work_dir) if d[:8].isdigit()):
        path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if osp.exists(path):
            with open(path) as f:
                rows += [json.loads(line) for line in f]
    return rows
