"""Run the whole comparison: pretraining with both methods, every transfer task on each checkpoint,
then the leaderboard.

    python tools/run_suite.py --preset tiny      # synthetic data, tiny ViT, CPU (the README's
                                                 # main job)
    python tools/run_suite.py --preset vitb16    # the paper's setting on the real datasets, 8 GPUs
    python tools/run_suite.py configs/suite/tiny.py --work-dir DIR
    python tools/run_suite.py --preset vitb16 --dry-run   # the commands of the stages still to run
    python tools/run_suite.py --preset ablations       # the paper's ablation tables, 8 GPUs
    python tools/run_suite.py --preset tiny_ablations  # the same rows on synthetic data, CPU
    python tools/run_suite.py --preset released_vith14  # the released ViT-H/14 encoders (files
                                                        # from IJEPA_VITH14, DSEQ_VITH14, ...)

A preset (``configs/suite/<name>.py``) lists the synthetic data to write, the pretraining config of
each method and, per transfer task, the config of each method (the ablation presets also the
pretraining config of each row of the paper's ablation tables, and end in those tables). Every
stage runs the suite's own entry points (``tools/train.py``, ``tools/test.py``,
``tools/dist_*.sh``) in its own work dir and marks it done with ``suite_stage.json`` when it has
finished; a rerun skips the stages that are done and resumes an interrupted one from its last
checkpoint. Each stage's output goes to
``<stage dir>/suite_stage.log``; progress lines are echoed. Stopping the runner (Ctrl-C, SIGTERM, on
Linux even SIGKILL) stops the stage's process too, so a rerun never shares a work dir with it.
One runner per work dir: a second one on the same work dir stops at once, changing nothing, and
names the runner that holds it (``<work dir>/suite_runner.lock``).
"""
import argparse
import glob
import os.path as osp

from suite.encoders import EncoderFileError
from suite.lock import WorkDirBusy
from suite.processes import exit_on_sigterm
from suite.runner import ROOT, Suite, load_preset


def main() -> None:
    """Run (or, with --dry-run, list) the stages of the preset named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('preset_file', nargs='?', help='a preset config (configs/suite/*.py)')
    presets = sorted(osp.splitext(osp.basename(p))[0]
                     for p in glob.glob(osp.join(ROOT, 'configs', 'suite', '*.py')))
    parser.add_argument('--preset', choices=presets,
                        help='a preset by name (configs/suite/NAME.py)')
    parser.add_argument('--work-dir', help="default: the preset's work_dir")
    parser.add_argument('--dry-run', action='store_true',
                        help='print the commands of the stages still to run, run nothing')
    args = parser.parse_args()
    if bool(args.preset) == bool(args.preset_file):
        parser.error('give either --preset NAME or a preset file')
    path = args.preset_file or osp.join(ROOT, 'configs', 'suite', f'{args.preset}.py')
    preset = load_preset(path)
    work_dir = osp.abspath(args.work_dir or osp.join(ROOT, preset['work_dir']))
    exit_on_sigterm()
    try:
        text = Suite(preset, work_dir, args.dry_run).run()
    except (WorkDirBusy, EncoderFileError) as err:  # the user's to resolve: no traceback
        parser.exit(1, f'{parser.prog}: error: {err}\n')
    print(text, end='')


if __name__ == '__main__':
    main()
