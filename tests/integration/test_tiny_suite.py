"""tools/run_suite.py on a shortened tiny preset: every stage for real, then a rerun that skips
them, and tools/visualize_regions.py on the DSeq-JEPA checkpoints it wrote."""
import json
import os
import os.path as osp
import re

import pytest
from mmengine.config import Config
from PIL import Image

from tests.helpers import ROOT, metrics_of_test_run, probe_readouts, run_tool, suite_stages


@pytest.fixture(scope='module')
def suite(tmp_path_factory):
    """The tiny preset cut to two pretraining epochs of one batch (the warm-up, then the cosine
    decay; a checkpoint after each) on 64 images and the CLEVR Count probes, its checkpoints read
    through the released layouts and its timm-layout baseline beside them."""
    tmp = tmp_path_factory.mktemp('suite')
    preset = tmp / 'preset.py'
    preset.write_text(f"""
_base_ = '{ROOT}/configs/suite/tiny.py'
work_dir = '{tmp}/work'
synthetic = dict(_delete_=True, clevr=dict(root='{tmp}/clevr', num_train=64, num_val=16, seed=1),
                 dinov2=dict(_base_.synthetic.dinov2, root='{tmp}/dinov2'))
baselines = dict(dinov2=dict(path='{tmp}/dinov2'))
env = dict(_delete_=True, SYNTH_CLEVR_ROOT='{tmp}/clevr')
pretrain_options = ['train_cfg.max_epochs=2', 'train_dataloader.batch_size=64',
                    'default_hooks.checkpoint.interval=1']
transfer = [dict(name='clevr_count', random='dseq', test=True,
                 options=['train_dataloader.dataset.num_train=40',
                          'val_dataloader.dataset.num_val=6', 'train_cfg.max_epochs=4',
                          'train_cfg.val_interval=4'],
                 configs=dict(ijepa='configs/clevr/linear_ijepa-vittiny_100e_synthclevr-count.py',
                              dseq='configs/clevr/linear_dseq-vittiny_100e_synthclevr-count.py'))]
regions = dict(method='dseq', images=['{tmp}/clevr/CLEVR_v1.0/images/val/CLEVR_val_000000.png'])
clusters = dict(images=regions['images'], k=5)
""")
    first = run_tool('run_suite.py', str(preset), env=dict(os.environ))
    return tmp, preset, first


@pytest.mark.slow
def test_every_stage_runs_and_the_table_has_the_random_row(suite):
    tmp, preset, out = suite
    work = tmp / 'work'
    for stage in suite_stages(str(preset)):  # pretraining, regions, the CLEVR Count probes
        assert (work / stage / 'suite_stage.json').exists(), stage
    (task,) = Config.fromfile(str(preset)).transfer
    readouts = {m: set(probe_readouts(config)) for m, config in task.configs.items()}
    readouts['random'] = readouts['dinov2'] = readouts[task.random]
    with open(work / 'clevr_count_random' / 'suite_stage.json') as f:
        assert json.load(f)['checkpoint'] is None
    header = [c.strip() for c in next(line for line in out.splitlines()
                                      if line.startswith('| size |')).split('|')[1:-1]]
    table = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split('|')[1:-1]]
        if line.startswith('| ViT-96x6/16 |'):
            table[cells[1], cells[2]] = dict(zip(header, cells))
    rows = [key for key in table if key[0] == 'CLEVR Count']
    assert len(rows) == len(set.union(*readouts.values()))  # top-1 avg, cls, concat4
    avg = table['CLEVR Count', 'top-1 avg']
    tested = {m: metrics_of_test_run(str(work / f'clevr_count_{m}'))['clevr_count/top1_avg']
              for m in ('ijepa', 'dseq', 'dinov2', 'random')}  # each cell its stage's result
    labels = dict(ijepa='I-JEPA', dseq='DSeq-JEPA', dinov2='DINOv2', random='random init')
    assert {m: avg[label] for m, label in labels.items()} == \
        {m: f'{v:.1f}' for m, v in tested.items()}
    # the differences with their intervals, from the records every stage's test wrote
    for method, column in (('dseq', 'DSeq - I-JEPA'), ('dinov2', 'DINOv2 - I-JEPA')):
        assert re.fullmatch(re.escape(f"{tested[method] - tested['ijepa']:+.1f}") +
                            r' \[[-+]\d+\.\d, [-+]\d+\.\d\]( within noise)?', avg[column])
    cls = table['CLEVR Count', 'top-1 cls']  # no I-JEPA CLS
    assert [cls[c] == 'missing' for c in ('I-JEPA', 'DSeq-JEPA', 'DINOv2', 'DSeq - I-JEPA')] == \
        [True, False, False, True]
    # each column's encoder file: the released layouts the checkpoints were converted to
    files = table['encoder', 'file (sha256)']
    assert files['DSeq-JEPA'].startswith('dseq_dseq_layout.pth.tar (')
    assert files['I-JEPA'].startswith('ijepa_ijepa_layout.pth.tar (')
    assert files['DINOv2'].startswith('dinov2/model.safetensors (')
    verdicts = [line for line in out.splitlines()
                if line.startswith('- ') and 'random init' in line]
    # each method on each readout that random init has too: I-JEPA avg, concat4; DSeq-JEPA and
    # DINOv2 avg, cls, concat4
    assert len(verdicts) == sum(len(readouts[m] & readouts['random'])
                                for m in ('ijepa', 'dseq', 'dinov2'))
    assert all('of resamples <= 0)' in line for line in verdicts)  # the probes recorded images
    for name in ('md', 'csv', 'html', 'png'):
        assert (work / 'leaderboard' / f'leaderboard.{name}').exists()


@pytest.mark.slow
def test_a_rerun_skips_what_is_done_and_resumes_what_is_not(suite):
    tmp, preset, _ = suite
    work = tmp / 'work'
    os.remove(work / 'clevr_count_dseq' / 'suite_stage.json')  # as if killed after training
    runs = sorted(os.listdir(work / 'pretrain_ijepa'))
    out = run_tool('run_suite.py', str(preset), env=dict(os.environ))
    assert out.count('done before, skipped') == len(suite_stages(str(preset))) - 1
    assert 'clevr_count_dseq: running' in out
    assert sorted(os.listdir(work / 'pretrain_ijepa')) == runs  # nothing run again
    with open(work / 'clevr_count_dseq' / 'suite_stage.log') as f:
        rerun = f.read().split('$ ')[-1]  # trained to the end before: resumed there, then tested
    assert '--resume' in rerun and '--test' in rerun and 'Epoch(test)' in rerun
    assert 'Epoch(train)' not in rerun


@pytest.mark.slow
def test_region_pictures_of_every_checkpoint(suite):
    tmp, preset, _ = suite
    out = tmp / 'work' / 'regions'
    cfg = Config.fromfile(str(preset))
    options = dict(option.split('=') for option in cfg.pretrain_options)
    epochs = int(options['train_cfg.max_epochs'])
    batch = int(options['train_dataloader.batch_size'])
    steps = epochs * (cfg.synthetic.clevr.num_train // batch)  # a checkpoint after each step
    from figures.regions import PANEL, TITLE
    with Image.open(out / 'CLEVR_val_000000.png') as im:
        assert im.format == 'PNG' and im.size == (4 * PANEL, PANEL + TITLE)
    checkpoints = [f for f in os.listdir(tmp / 'work' / 'pretrain_dseq') if f.endswith('.pth')]
    assert sorted(checkpoints) == sorted(f'iter_{i}.pth' for i in range(1, steps + 1))
    with Image.open(out / 'regions_grid.png') as im:  # a row per checkpoint
        assert im.format == 'PNG' and im.size == (PANEL, steps * (PANEL + TITLE))
    assert osp.getsize(out / 'CLEVR_val_000000.png') > 10_000  # pictures, not blank canvases


@pytest.mark.slow
def test_cluster_pictures_and_curves_of_both_methods_on_the_page(suite):
    """The suite's picture stages (tools/visualize_clusters.py, tools/plot_curves.py) on the
    pretraining runs it made, and the leaderboard's page showing them."""
    tmp, _, _ = suite
    work = tmp / 'work'
    from figures.patch_clusters import HEADER, cluster_blocks
    from figures.regions import PANEL, TITLE
    checkpoints = len([f for f in os.listdir(work / 'pretrain_dseq') if f.endswith('.pth')])
    depth = Config.fromfile(
        str(work / 'pretrain_dseq' / 'dseq_vittiny_synthclevr.py')).model.encoder.depth
    with Image.open(work / 'clusters' / 'clusters_CLEVR_val_000000.png') as im:
        assert im.size == (2 * len(cluster_blocks(depth)) * PANEL,  # methods side by side
                           HEADER + checkpoints * (PANEL + TITLE))
    with Image.open(work / 'curves' / 'curves.png') as im:  # loss, target rank and lr (no monitor)
        assert im.size == (3 * 450, 360)
    page = (work / 'leaderboard' / 'leaderboard.html').read_text()
    shown = re.findall(r'<img src="([^"]+)"', page)
    assert shown == ['leaderboard.png', 'figures/curves/curves.png',
                     'figures/clusters/clusters_CLEVR_val_000000.png',
                     'figures/regions/CLEVR_val_000000.png', 'figures/regions/regions_grid.png']
    assert all((work / 'leaderboard' / src).is_file() for src in shown)


def test_the_vitb16_preset_runs_the_paper_configs_through_the_dist_scripts(tmp_path):
    out = run_tool('run_suite.py', '--preset', 'vitb16', '--dry-run', '--work-dir', str(tmp_path),
                   env=dict(os.environ))
    commands = [line.strip()[2:] for line in out.splitlines() if line.strip().startswith('$ ')]
    assert commands[0] == (f'bash tools/dist_pretrain.sh configs/pretrain/ijepa_vitb16_in1k.py 8 '
                           f'--work-dir {tmp_path}/pretrain_ijepa')
    checkpoint = f'model.backbone.init_cfg.checkpoint={tmp_path}/pretrain_dseq/<last checkpoint>'
    assert (f'bash tools/dist_train.sh configs/maskrcnn/maskrcnn_dseq-vitb16_25e_coco.py 8 '
            f'--work-dir {tmp_path}/coco_dseq --cfg-options {checkpoint}') in commands
    assert any(c.startswith('bash tools/dist_train.sh '
                            'configs/upernet/upernet_ijepa-vitb16_160k_ade20k.py 8')
               for c in commands)
    stages = suite_stages(osp.join(ROOT, 'configs', 'suite', 'vitb16.py'))  # stage -> commands
    (random,) = [c for c in commands if f'{tmp_path}/clevr_count_random' in c]
    assert stages['clevr_count_random'] == 1  # trained, then tested in the same process
    assert random.split()[1].endswith('tools/train.py') and ' --test ' in random
    assert random.endswith('model.backbone.init_cfg.checkpoint=None pretrain_method=random')
    knn = [c for c in commands if f'{tmp_path}/in1k_knn_dseq' in c]  # tested only, no checkpoint
    assert knn == [f'bash tools/dist_test.sh configs/knn/knn_dseq-vitb16_in1k.py 8 --work-dir '
                   f'{tmp_path}/in1k_knn_dseq --cfg-options {checkpoint}']
    (linear,) = [c for c in commands if f'{tmp_path}/cub_linear_ijepa' in c]  # trained, tested
    assert linear.startswith('bash tools/dist_train.sh '
                             'configs/linear/linear_ijepa-vitb16_28e_cub.py 8 '
                             f'--work-dir {tmp_path}/cub_linear_ijepa --test --cfg-options')
    # the dense linear probes run 3 seeds: each its own stage, the seed given to the run
    for seed, stage in enumerate(['nyu_linear_dseq', 'nyu_linear_dseq_seed1',
                                  'nyu_linear_dseq_seed2']):
        (probe,) = [c for c in commands if f'{tmp_path}/{stage} ' in c]
        assert probe.startswith('bash tools/dist_train.sh '
                                'configs/depthlinear/depthlinear_dseq-vitb16_38k_nyu.py 8')
        assert probe.endswith(f'randomness.seed={seed} {checkpoint}')
    assert 'ade20k_linear_random_seed2' in stages
    assert len(commands) == sum(stages.values()) and not os.path.exists(tmp_path / 'pretrain_ijepa')


def test_tiny_protocols_after_the_demo_runs_only_its_new_stages(tmp_path):
    """tiny_protocols shares tiny's work dir: with every tiny stage done, a run of it runs only
    the new protocols' stages (each method, the baseline and random init), then the table."""
    presets = osp.join(ROOT, 'configs', 'suite')
    tiny, protocols = (suite_stages(osp.join(presets, f'{name}.py'))
                       for name in ('tiny', 'tiny_protocols'))
    assert Config.fromfile(osp.join(presets, 'tiny_protocols.py')).work_dir == \
        Config.fromfile(osp.join(presets, 'tiny.py')).work_dir
    assert list(protocols)[:len(tiny)] == list(tiny)
    new = [stage for stage in protocols if stage not in tiny]
    # six protocols, and two dense probes over 3 seeds, x (I-JEPA, DSeq-JEPA, DINOv2, random)
    assert len(new) == (6 + 2 * 3) * 4
    for stage in tiny:  # the demo's stages, done
        os.makedirs(tmp_path / stage)
        (tmp_path / stage / 'suite_stage.json').write_text(json.dumps(
            dict(checkpoint=str(tmp_path / stage / 'ckpt.pth'), figures=[])))
    out = run_tool('run_suite.py', '--preset', 'tiny_protocols', '--dry-run', '--work-dir',
                   str(tmp_path), env=dict(os.environ))
    commands = [line.strip()[2:] for line in out.splitlines() if line.strip().startswith('$ ')]
    ran = [re.search(rf'--work-dir {tmp_path}/(\w+)', c).group(1) for c in commands]
    assert ran == new
    finetune = commands[ran.index('imagenet_finetune_dseq')]
    assert ' --test ' in finetune and finetune.endswith(
        f'model.backbone.init_cfg.checkpoint={tmp_path}/export_dseq/ckpt.pth')
    assert commands[ran.index('imagenet_fewshot_logistic_ijepa')].split()[1].endswith(
        'tools/test.py')
