"""What the tests of several packages share: the repository root, running tools/ and
pretraining in subprocesses, and reading back what mmengine wrote."""
import os.path as osp
import sys
from typing import Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def repaint_outside(images, image: int, visible, patch: int = 8) -> None:
    """Overwrite, in place, every patch of ``images[image]`` whose raster index is not in
    ``visible``."""
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


#: the pretraining smoke config that run_pretraining and config_with_hooks start from
PRETRAIN_SMOKE = osp.join(ROOT, 'configs', 'pretrain', 'ijepa_vitmicro8_10e_synthimagenet.py')
#: the folders of configs/ that hold only one-line aliases, each keeping an old path working
CONFIG_ALIAS_FOLDERS = ('configs', 'configs/smoke', 'configs/pretrain/smoke')


def config_files() -> list:
    """Every config file under configs/ once: the aliases at old paths left out."""
    import glob
    paths = glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    return sorted(p for p in paths
                  if osp.relpath(osp.dirname(p), ROOT).replace(osp.sep, '/') not in
                  CONFIG_ALIAS_FOLDERS)


def run_pretraining(work_dir, data_root, *options, config=PRETRAIN_SMOKE, args=(), launcher=None,
                    check=True, env=None):
    """tools/train.py (or ``launcher``: a tools/ script and its process count) on a pretraining
    config over the synthetic ImageNet at ``data_root``, with the repository on the path for
    tests/pretrain/hooks.py; fails the test with its output if it fails and ``check``."""
    import os
    import subprocess
    if launcher:
        cmd = ['bash', osp.join(ROOT, 'tools', launcher[0]), config, launcher[1]]
    else:
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config]
    cmd += ['--work-dir', str(work_dir), *args]
    if options:
        cmd += ['--cfg-options', *options]
    base = dict(os.environ, SYNTH_IMAGENET_ROOT=data_root,
                PYTHONPATH=ROOT)
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(base, **(env or {})), capture_output=True,
                          text=True)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def pretraining_steps(config: str, images: int, epochs: int, ranks: int = 1) -> int:
    """The iterations of a pretraining run of ``config`` on ``images`` images: whole batches of its
    batch size per process on each of ``ranks`` processes (the last partial one is dropped)."""
    from mmengine.config import Config
    batch = Config.fromfile(config).train_dataloader.batch_size
    return epochs * (images // (batch * ranks))


def config_with_hooks(tmp_path, *hooks: str, base: str = PRETRAIN_SMOKE, imports=()) -> str:
    """A pretraining config: ``base`` plus the given test hooks of tests/pretrain/hooks.py (each a
    ``dict(type=...)`` in config syntax; hooks of other modules need those ``imports``), written
    into ``tmp_path``."""
    path = tmp_path / 'with_hooks.py'
    modules = ['engine.checkpoint', 'pretrain', 'tests.pretrain.hooks', *imports]
    path.write_text(
        f"_base_ = {base!r}\n"
        f"custom_imports = dict(imports={modules!r})\n"
        "custom_hooks = [dict(type='TrainingProgressHook'), dict(type='PretrainLogHook'), "
        f"{', '.join(hooks)}]\n")
    return str(path)


def last_run_logged(work_dir, key: str = 'loss') -> list:
    """Every value of ``key`` in the scalars.json log of a work dir's newest run."""
    import json
    import os
    runs = sorted(d for d in os.listdir(work_dir) if d[:8].isdigit())
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as f:
        return [json.loads(line)[key] for line in f if f'"{key}"' in line]


def mmseg_model(cfg):
    """The config's mmseg model (``EncoderDecoder``, ``DepthEstimator``) built in mmseg's scope,
    SyncBN turned into BN as mmengine's runner does on one process."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return revert_sync_batchnorm(MODELS.build(cfg.model))


def train_from_written_encoder(config: str, tmp_path, env: dict) -> Tuple[str, dict]:
    """``tools/train.py --test`` of a transfer config in ``<tmp_path>/work``, its encoder a random
    one of the config's backbone written first (:func:`write_encoder`); return the work dir and
    that encoder's state dict, which a frozen encoder keeps bit for bit
    (:func:`assert_encoder_kept`)."""
    import torch
    from mmengine.config import Config
    weights = write_encoder(Config.fromfile(config).model.backbone, str(tmp_path / 'encoder.pth'))
    work = str(tmp_path / 'work')
    run_tool('train.py', config, '--work-dir', work, '--test', '--cfg-options',
             f'model.backbone.init_cfg.checkpoint={weights}', env=env)
    return work, torch.load(weights)


def assert_encoder_kept(checkpoint_path: str, encoder: dict) -> dict:
    """Assert that an mmengine checkpoint's backbone holds ``encoder`` (a state dict) bit for bit;
    return the checkpoint's tensors (:func:`checkpoint_tensors`)."""
    import torch
    saved = checkpoint_tensors(checkpoint_path)
    trained = {k[len('backbone.'):]: v for k, v in saved.items() if k.startswith('backbone.')}
    assert trained.keys() == encoder.keys()
    assert all(torch.equal(trained[k], v) for k, v in encoder.items())
    return saved


def write_encoder(backbone: dict, path: str, seed: int = 1) -> str:
    """A random ``JEPAViT`` of a config's backbone settings (its ``type`` and ``init_cfg`` left
    out), saved as a state dict at ``path``: the weights a transfer run then loads; return
    ``path``."""
    import torch
    from backbones import JEPAViT
    torch.manual_seed(seed)
    encoder = JEPAViT(**{k: v for k, v in backbone.items() if k not in ('type', 'init_cfg')})
    torch.save(encoder.state_dict(), path)
    return path


def checkpoint_tensors(path) -> dict:
    """The tensors of an mmengine checkpoint by name: its weights, then its optimiser state as
    ``optimizer.<param>.<key>``."""
    from backbones.safe_checkpoint import load_from_local_safely
    checkpoint = load_from_local_safely(str(path), map_location='cpu')
    return {**checkpoint['state_dict'],
            **{f'optimizer.{i}.{k}': v for i, s in checkpoint['optimizer']['state'].items()
               for k, v in s.items()}}


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


def suite_stages(preset_file: str) -> dict:
    """The stages a suite preset (configs/suite/*.py or one based on it) runs, in order, each with
    the number of commands it runs: one (tools/train.py, with ``--test`` where its task tests; or
    tools/test.py for a task without training; tools/convert_checkpoint.py for an export). As the
    preset's comments describe them: each method's pretraining, each ablation row's, their training
    curves, the cluster and region pictures when they have images, each export, then per transfer
    task and seed (a task's ``seeds`` after the first add ``_seed<k>`` to its stage names) each
    method's run, each baseline's, the random-init run of ``random`` and each ablation row's
    run."""
    from mmengine.config import Config
    preset = Config.fromfile(preset_file)
    rows = list(preset.get('ablations', {}))
    stages = {f'pretrain_{name}': 1 for name in list(preset.get('pretrain', {})) + rows}
    if stages:  # curves of the pretraining runs, where there are any
        stages['curves'] = 1
    if preset.get('clusters', {}).get('images'):
        stages['clusters'] = 1
    if preset.get('regions', {}).get('images') and preset.regions.method in preset.pretrain:
        stages['regions'] = 1
    stages.update({f'export_{method}': 1 for method in preset.get('export', {})})
    for task in preset.transfer:
        baselines = [name for name, entry in preset.get('baselines', {}).items()
                     if task.name in entry.get('tasks', [task.name])]
        methods = (list(task.configs) + baselines + (['random'] if task.get('random') else []) +
                   rows)
        suffixes = [''] + [f'_seed{k}' for k in task.get('seeds', [])[1:]]
        stages.update({f'{task.name}_{method}{suffix}': 1 for suffix in suffixes
                       for method in methods})
    return stages


def probe_readouts(config: str) -> tuple:
    """The readouts (``model.readouts``) of a probe config, a path from the repo root."""
    from mmengine.config import Config
    return tuple(Config.fromfile(osp.join(ROOT, config)).model.readouts)


def edit_json(path: str, edit) -> None:
    """Rewrite the JSON file at ``path`` with ``edit(document)`` applied in place."""
    import json
    with open(path) as f:
        doc = json.load(f)
    edit(doc)
    with open(path, 'w') as f:
        json.dump(doc, f)
