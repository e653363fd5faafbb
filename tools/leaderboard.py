"""Turn the results that mmengine wrote for a set of runs into the I-JEPA / DSeq-JEPA comparison.

    python tools/leaderboard.py WORK_DIR [WORK_DIR ...] [--out work_dirs/leaderboard]

Each run is described by the config mmengine saved with it (``<run>/vis_data/config.py``): its
``pretrain_method``, encoder size, seed and ``report`` (task, metrics, protocol readout). Its
numbers are its last test, else its last validation. Rows are task and metric per encoder size
(tasks in the order of the work dirs); columns each registered method
(``suite/methods.py``), the difference to the first with its 95% interval, a random-init encoder
where one was run, and the published numbers with their sources. Several seeds give mean +- std; a
missing cell says so. Below the table: each method's protocol readout per task, and each method
against the random-init encoder, a gain whose interval holds 0 reported as noise, not a win. The
intervals are a paired bootstrap over the test images (and seeds) on the per-image records each
evaluation wrote into its run folder (``<run>/records/``).

Writes ``leaderboard.md``, ``.csv``, ``.html``, a bar chart ``leaderboard.png`` and, where a task
reports a row per block, the layer-wise curves ``layerwise.png`` to ``--out``, and prints the
markdown table.
"""
import argparse

from suite.leaderboard import write_all


def main() -> None:
    """Write and print the leaderboard of the work dirs named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--out', default='work_dirs/leaderboard')
    args = parser.parse_args()
    print(write_all(args.work_dirs, args.out), end='')
    print(f'(written to {args.out}/leaderboard.{{md,csv,html,png}})')


if __name__ == '__main__':
    main()
