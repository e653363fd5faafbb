"""The suite runner: the stages of a preset run in order, each in its own work dir, skipped when
done and resumed when interrupted.

A preset (``configs/suite/<name>.py``) lists the synthetic data to write, the pretraining config of
each method (``pretrain``) or the file of its released encoder (``released``, ``suite.encoders``)
and, per transfer task, the config of each method (and optionally its ``seeds``, each run as a
stage of its own with that ``randomness.seed``); optionally ``export``, the layout a pretrained
method's checkpoint is converted to before transfer reads it (``tools/convert_checkpoint.py``),
``baselines``, encoders of other methods run through every task (``suite.encoders``), and
``ablations``, rows of the paper's ablation tables (``suite.ablations``), each a pretraining config
and the method whose transfer configs probe it. Every stage runs the suite's own entry points
(``tools/train.py``, ``tools/test.py``, ``tools/dist_*.sh``) from the repo root and marks its work
dir done with ``suite_stage.json`` when it has finished. Each stage's output goes to
``<stage dir>/suite_stage.log``; progress lines are echoed. This module imports no torch: the runner
stays a light process.
"""
import glob
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

from engine.resume import checkpoints_in, latest_checkpoint
from suite.ablations import write_tables
from suite.encoders import backbone_options, check_entry, resolve
from suite.leaderboard import write_all
from suite.lock import hold_work_dir, write_whole_dir
from suite.methods import BASELINE, METHODS
from suite.processes import STOP_SIGNALS, die_with_parent, stop
from suite.results import DONE, ROOT

#: the file (or folder) each ``export`` layout is written to in its stage dir
EXPORTS = {'dseq': '{method}_dseq_layout.pth.tar', 'ijepa': '{method}_ijepa_layout.pth.tar',
           'timm': '{method}_timm', 'backbone': '{method}_backbone.pth'}
_PROGRESS = re.compile(r'(Epoch|Iter)\((train|val|test)\)|Saving checkpoint|Error|error:')


class Suite:
    """The stages of a preset, run in order with skipping and resuming."""

    def __init__(self, preset: dict, work_dir: str, dry_run: bool = False) -> None:
        self.preset = preset
        self.work_dir = work_dir
        self.dry_run = dry_run
        self.env = dict(os.environ, **{k: osp.join(ROOT, v) if not osp.isabs(v) else v
                                       for k, v in preset.get('env', {}).items()})
        self.start = time.time()

    def say(self, text: str) -> None:
        """Print a progress line stamped with the time since the start."""
        minutes, seconds = divmod(int(time.time() - self.start), 60)
        print(f'[suite {minutes:02d}:{seconds:02d}] {text}', flush=True)

    def command(self, args: List[str], log: str) -> None:
        """Run a command from the repo root, its output to ``log``, progress echoed."""
        if self.dry_run:
            print('    $ ' + ' '.join(args), flush=True)
            return
        with open(log, 'a') as f:
            f.write(f'$ {" ".join(args)}\n')
            f.flush()
            proc = None
            # A stop (Ctrl-C, SIGTERM) that comes while the stage starts waits until its process
            # is known, so that it is stopped too; the child unblocks them (die_with_parent).
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, bufsize=1,
                                        preexec_fn=die_with_parent())
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
                for line in proc.stdout:
                    f.write(line)
                    if _PROGRESS.search(line):
                        print('    ' + line.rstrip().split(' - INFO - ')[-1][:150], flush=True)
                proc.wait()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
                if proc is not None and proc.poll() is None:  # interrupted or failed here
                    stop(proc)
                    stopped = f'stopped {args[1]} (pid {proc.pid}, exit {proc.returncode})'
                    f.write(f'[suite] {stopped}\n')
                    self.say(stopped)
            if proc.returncode != 0:
                f.flush()
                with open(log) as g:
                    tail = g.readlines()[-25:]
                raise RuntimeError(f'stage failed (exit {proc.returncode}): {" ".join(args)}\n'
                                   f'last lines of {log}:\n' + ''.join(tail))

    def stage(self, name: str, run, **record) -> dict:
        """Run ``run(stage_dir, log)`` unless the stage is done; return its record."""
        stage_dir = osp.join(self.work_dir, name)
        marker = osp.join(stage_dir, DONE)
        if osp.exists(marker):
            with open(marker) as f:
                done = json.load(f)
            self.say(f'{name}: done before, skipped')
            changed = {k: v for k, v in record.items() if k in done and done[k] != v}
            for key, now in changed.items():  # a stage is done once: its record says with what
                self.say(f'{name}: warning: done with {key}={done[key]}, the preset now gives '
                         f'{now}; kept (remove {osp.relpath(marker, ROOT)} to run it again)')
            return done
        if self.dry_run:
            self.say(f'{name}: would run')
            return dict(record, **(run(stage_dir, None) or {}))
        os.makedirs(stage_dir, exist_ok=True)
        self.say(f'{name}: running '
                 f'(log: {osp.relpath(osp.join(stage_dir, "suite_stage.log"), ROOT)})')
        record.update(run(stage_dir, osp.join(stage_dir, 'suite_stage.log')) or {})
        with open(marker + '.tmp', 'w') as f:
            json.dump(dict(record, stage=name, finished=time.strftime('%Y-%m-%d %H:%M:%S')), f)
        os.replace(marker + '.tmp', marker)
        self.say(f'{name}: finished')
        return record

    def train_args(self, config: str, stage_dir: str, gpus: int, script: str) -> List[str]:
        """The command that trains ``config`` in ``stage_dir``: ``tools/train.py``, or
        ``tools/dist_<script>.sh`` on ``gpus`` GPUs; resuming where it holds a checkpoint."""
        # which checkpoint, and any warning about the pointer, is tools/train.py's to say
        resume = ['--resume'] if checkpoints_in(stage_dir) else []
        if gpus > 0:
            return ['bash', osp.join('tools', f'dist_{script}.sh'), config, str(gpus),
                    '--work-dir', stage_dir, *resume]
        return [sys.executable, osp.join('tools', 'train.py'), config, '--work-dir', stage_dir,
                *resume]

    def write_data(self) -> None:
        """Write the preset's synthetic datasets and encoder stand-ins that are not there yet."""
        from synthetic import ENCODERS, GENERATORS
        writers = {**GENERATORS, **ENCODERS}
        for kind, spec in self.preset.get('synthetic', {}).items():
            spec = dict(spec)
            kind = spec.pop('kind', kind)  # several of one kind need names of their own
            root = osp.join(ROOT, spec.pop('root'))
            if osp.isdir(root):
                continue
            self.say(f'writing synthetic {kind} to {osp.relpath(root, ROOT)}')
            if self.dry_run:
                continue
            # written in a folder of this process's and renamed: a runner on another work dir
            # may write the same data at the same time, and a killed one leaves nothing half
            # written under the name that the check above takes for whole
            if not write_whole_dir(root, partial(writers[kind], **spec)):
                self.say(f'synthetic {kind}: written by another process meanwhile, using theirs')

    def pretrain(self, name: str, config: str) -> str:
        """The pretraining stage of a method or ablation row; return its last checkpoint."""
        options = self.preset.get('pretrain_options', [])

        def run(stage_dir: str, log: str) -> dict:
            args = self.train_args(config, stage_dir, self.preset['gpus'], 'pretrain')
            self.command(args + (['--cfg-options', *options] if options else []), log)
            return dict(checkpoint=self.checkpoint_in(stage_dir))
        return self.stage(f'pretrain_{name}', run, config=config)['checkpoint']

    def transfer(self, task: dict, method: str, config: str, checkpoint: Optional[str],
                 row: Optional[str] = None, extra: Sequence[str] = (),
                 seed: Optional[int] = None) -> str:
        """The stage of a transfer task on a checkpoint (None: a never pretrained encoder): trained,
        then, where the task says ``test=True``, its best checkpoint tested in the same process
        (``tools/train.py --test``); a task with ``train=False`` (kNN) is only tested, on the
        encoder its config loads. An ablation ``row`` names the stage and tags its
        runs (``ablation=<row>``); ``extra`` options follow the task's. A ``seed`` of the task's
        ``seeds`` is given to the run (``randomness.seed``) and recorded with the stage, whose
        name ends in ``_seed<seed>`` for every seed but the task's first. Return the stage's work
        dir."""
        options = list(task.get('options', [])) + ([f'ablation={row}'] if row else []) + \
            list(extra) + ([] if seed is None else [f'randomness.seed={seed}'])
        options += [f'model.backbone.init_cfg.checkpoint={checkpoint}'] if checkpoint else \
            ['model.backbone.init_cfg.checkpoint=None', f'pretrain_method={BASELINE}']
        gpus = task.get('gpus', self.preset['gpus'])
        train = task.get('train', True)

        def run(stage_dir: str, log: str) -> dict:
            if train:  # tested in the same process: Python and the stack start once
                args = self.train_args(config, stage_dir, gpus, 'train')
                self.command(args + (['--test'] if task.get('test') else []) +
                             ['--cfg-options', *options], log)
            else:
                self.command(self.test_args(config, stage_dir, gpus) + ['--cfg-options', *options],
                             log)
            return {}
        name = f"{task['name']}_{row or method}{seed_suffix(task, seed)}"
        self.stage(name, run, config=config, checkpoint=checkpoint,
                   **({} if seed is None else dict(seed=seed)))
        return osp.join(self.work_dir, name)

    def export(self, method: str, checkpoint: str) -> str:
        """The checkpoint a pretrained method's transfer stages load: its last pretraining
        checkpoint, or that converted to the preset's ``export`` layout for the method (a stage of
        its own); return the path."""
        layout = self.preset.get('export', {}).get(method)
        if layout is None:
            return checkpoint

        def run(stage_dir: str, log: str) -> dict:
            out = osp.join(stage_dir, EXPORTS[layout].format(method=method))
            self.command([sys.executable, osp.join('tools', 'convert_checkpoint.py'), checkpoint,
                          out, '--to', layout], log)
            return dict(checkpoint=out)
        return self.stage(f'export_{method}', run, layout=layout, source=checkpoint)['checkpoint']

    @staticmethod
    def test_args(config: str, stage_dir: str, gpus: int) -> List[str]:
        """The command that tests ``config`` on the weights its ``init_cfg`` names in
        ``stage_dir``: ``tools/test.py``, or ``tools/dist_test.sh`` on ``gpus`` GPUs."""
        if gpus > 0:
            return ['bash', osp.join('tools', 'dist_test.sh'), config, str(gpus), '--work-dir',
                    stage_dir]
        return [sys.executable, osp.join('tools', 'test.py'), config, '--work-dir', stage_dir]

    def checkpoint_in(self, stage_dir: str) -> str:
        """The stage's last checkpoint."""
        if self.dry_run:
            return osp.join(stage_dir, '<last checkpoint>')
        last = latest_checkpoint(stage_dir)
        if last is None:
            raise FileNotFoundError(f'{stage_dir} holds no complete checkpoint: the stage wrote '
                                    'none')
        return last

    def picture_stage(self, name: str, tool: str, args: List[str], out: str = '') -> List[str]:
        """A stage drawing pictures with ``tools/<tool>`` (``--out`` the stage dir, or the file
        ``out`` in it); return the PNGs it wrote."""
        def run(stage_dir: str, log: str) -> dict:
            self.command([sys.executable, osp.join('tools', tool), *args,
                          '--out', osp.join(stage_dir, out) if out else stage_dir], log)
            return dict(figures=sorted(glob.glob(osp.join(stage_dir, '*.png'))))
        return self.stage(name, run).get('figures', [])

    def pictures(self, pretrained: Dict[str, str], rows: Dict[str, str]) -> List[str]:
        """The pictures of the pretraining runs (method -> work dir; ablation row -> work dir):
        the training curves of each, the patch clusters of each method over its checkpoints and the
        regions of the preset's method, for the preset's images; return the PNGs. None without a
        pretraining run (released encoders only)."""
        runs = [f'{METHODS[m].label}={d}' for m, d in pretrained.items()]
        if not runs and not rows:
            return []
        figures = self.picture_stage('curves', 'plot_curves.py',
                                     runs + [f'{r}={d}' for r, d in rows.items()], out='curves.png')
        clusters = self.preset.get('clusters', {})
        if clusters.get('images'):
            figures += self.picture_stage('clusters', 'visualize_clusters.py', runs + [
                '--images', *[osp.join(ROOT, p) for p in clusters['images']],
                '--k', str(clusters.get('k', 5))])
        regions = self.preset.get('regions', {})
        if regions.get('images') and regions.get('method') in pretrained:
            figures += self.picture_stage('regions', 'visualize_regions.py', [
                pretrained[regions['method']], *[osp.join(ROOT, p) for p in regions['images']]])
        return figures

    def run(self) -> str:
        """Every stage of the preset, holding the work dir's lock (``suite.lock``: one runner
        per work dir), then the leaderboard and, for a preset with ``ablations``, the ablation
        tables; return their markdown (or, on a dry run, which takes no lock and writes nothing,
        what they would be made of). Raise ``WorkDirBusy``, having changed nothing, when another
        runner holds the work dir."""
        if self.dry_run:
            return self.run_stages()
        os.makedirs(self.work_dir, exist_ok=True)
        with hold_work_dir(self.work_dir):
            return self.run_stages()

    def transfer_task(self, task: dict, encoders: Dict[str, str], baselines: Dict[str, str],
                      rows: Dict[str, str], seed: Optional[int]) -> Tuple[List[str], List[str]]:
        """The stages of one task for one ``seed`` (None: the configs' own): each method's config
        on its encoder, each baseline's, the random-init encoder's where the task names one, and
        each ablation row's (``rows``: row -> checkpoint); return the work dirs of the
        leaderboard's runs and of the ablation rows'."""
        results, ablated = [], []
        for m, config in task['configs'].items():
            results.append(self.transfer(task, m, config, encoders[m], seed=seed))
        for name, path in baselines.items():
            spec = self.preset['baselines'][name]
            if task['name'] not in spec.get('tasks', [task['name']]):
                continue
            results.append(self.transfer(
                task, name, task['configs'][spec['like']], path,
                extra=[f'pretrain_method={name}', *backbone_options(spec)], seed=seed))
        if task.get('random'):
            results.append(self.transfer(task, BASELINE, task['configs'][task['random']], None,
                                         seed=seed))
        for r, checkpoint in rows.items():
            method = self.preset['ablations'][r]['method']
            ablated.append(self.transfer(task, method, task['configs'][method], checkpoint, r,
                                         seed=seed))
        return results, ablated

    def run_stages(self) -> str:
        """What :meth:`run` does once it holds the work dir."""
        self.write_data()
        # every released and baseline file is checked before the first stage runs
        files = resolve(self.preset, self.env, ROOT, self.dry_run, self.say)
        ablations = self.preset.get('ablations', {})
        checkpoints = {m: self.pretrain(m, c) for m, c in self.preset['pretrain'].items()}
        rows = {r: self.pretrain(r, spec['pretrain']) for r, spec in ablations.items()}
        figures = self.pictures({m: osp.dirname(c) for m, c in checkpoints.items()},
                                {r: osp.dirname(c) for r, c in rows.items()})
        encoders = {**{m: self.export(m, c) for m, c in checkpoints.items()}, **files['released']}
        results, ablated = [], []
        for task in self.preset['transfer']:
            for seed in task.get('seeds') or [None]:
                done, done_ablated = self.transfer_task(task, encoders, files['baselines'], rows,
                                                        seed)
                results += done
                ablated += done_ablated
        self.say('leaderboard')
        if self.dry_run:
            text = 'would write the leaderboard of: ' + ' '.join(results) + '\n'
            return text + ('would write the ablation tables of: ' + ' '.join(results + ablated) +
                           '\n' if ablations else '')
        text = write_all(results, osp.join(self.work_dir, 'leaderboard'), figures)
        self.say(f'done: {osp.relpath(osp.join(self.work_dir, "leaderboard"), ROOT)}/'
                 'leaderboard.{md,csv,html,png}')
        if ablations:
            out = osp.join(self.work_dir, 'ablations')
            text += '\n' + write_tables(results + ablated, out)
            self.say(f'done: {osp.relpath(out, ROOT)}/ablations.{{md,csv}}')
        return text


def seed_suffix(task: dict, seed: Optional[int]) -> str:
    """The end of a stage's name for one of its task's ``seeds``: none for the config's own seed
    (None) or the task's first, so that a task's first seed has the stages of a task without
    seeds; ``_seed<seed>`` for the others."""
    return '' if seed is None or seed == task['seeds'][0] else f'_seed{seed}'


def check_seeds(task: dict, path: str) -> None:
    """Refuse a task whose ``seeds`` is given but is not a list of distinct ints."""
    seeds = task.get('seeds')
    if seeds is None:
        return
    ints = isinstance(seeds, (list, tuple)) and all(
        isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    if not (ints and seeds and len(set(seeds)) == len(seeds)):
        raise ValueError(f"{path}: task {task.get('name')} has seeds={seeds!r}; seeds is a list "
                         'of distinct ints, e.g. [0, 1, 2]')


def load_preset(path: str) -> Dict:
    """A preset config as a dict, checked for the keys the runner needs."""
    from mmengine.config import Config
    preset = Config.fromfile(path).to_dict()
    for key in ('transfer', 'gpus'):
        if key not in preset:
            raise KeyError(f'{path} has no {key!r} (see configs/suite/tiny.py for the layout)')
    for task in preset['transfer']:
        check_seeds(task, path)
    preset.setdefault('pretrain', {})
    check_sources(preset, path)
    for row, spec in preset.get('ablations', {}).items():
        if row in preset['pretrain'] or row == BASELINE:
            raise KeyError(f'{path}: the ablation row {row!r} is named like a method: its stages '
                           'would be the method\'s')
        unprobed = [t['name'] for t in preset['transfer'] if spec.get('method') not in t['configs']]
        if unprobed:
            raise KeyError(f'{path}: ablations.{row}.method is {spec.get("method")!r}, the method '
                           f'whose transfer config probes the row; tasks without one: {unprobed}')
    return preset


def check_sources(preset: Dict, path: str) -> None:
    """Refuse a preset where a transfer config's method has no encoder (neither ``pretrain`` nor
    ``released``) or has two, an ``export`` of a method the suite does not pretrain, a baseline
    whose ``like`` method one of its tasks has no config for, and one naming tasks the preset
    lacks."""
    released = preset.get('released', {})
    for kind in ('released', 'baselines'):
        for name, entry in preset.get(kind, {}).items():
            check_entry(kind, name, entry, METHODS)
    both = sorted(set(preset['pretrain']) & set(released))
    if both:
        raise KeyError(f'{path}: {both} both pretrained and released: name one encoder each')
    sources = set(preset['pretrain']) | set(released)
    if not sources:
        raise KeyError(f'{path} has neither pretrain nor released: no encoder to transfer')
    for method, layout in preset.get('export', {}).items():
        if method not in preset['pretrain'] or layout not in EXPORTS:
            raise KeyError(f'{path}: export.{method}={layout!r}: export converts a pretrained '
                           f'method\'s checkpoint ({sorted(preset["pretrain"])}) to one of '
                           f'{sorted(EXPORTS)}')
    names = {task['name'] for task in preset['transfer']}
    for name, entry in preset.get('baselines', {}).items():
        unknown = sorted(set(entry.get('tasks', names)) - names)
        if unknown:
            raise KeyError(f'{path}: baselines.{name}.tasks names {unknown}, which are not tasks '
                           f'of the preset: {sorted(names)}')
    for task in preset['transfer']:
        orphans = sorted(set(task['configs']) - sources)
        if orphans:
            raise KeyError(f"{path}: task {task['name']} has configs for {orphans}, which neither "
                           'pretrain nor released give an encoder')
        for name, entry in preset.get('baselines', {}).items():
            if task['name'] in entry.get('tasks', [task['name']]) and \
                    entry['like'] not in task['configs']:
                raise KeyError(f"{path}: baselines.{name}.like={entry['like']!r}, but task "
                               f"{task['name']} has no config for it")
