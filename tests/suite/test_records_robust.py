"""Records never break the table: they are written atomically, and records that cannot be read or
used (a broken manifest or npz, arrays of the wrong length, a moved COCO ground truth) leave only
their intervals missing, with a warning naming the file; the rest of the table is written."""
import json
import re

import numpy as np
import pytest

from engine import records
from engine.records import MANIFEST, RECORDS, read_records, write_top1
from suite import leaderboard, results
from tests.suite.test_leaderboard import AVG, STAMP, avg_row
from tests.suite.test_pairing import box_row, coco_gt, coco_run, top1_run

IMAGES = [f'val/{i}.png' for i in range(10)]
LABELS = np.arange(10) % 3


def two_runs(tmp_path):
    """Two CLEVR Count runs recorded on the same images; their records folders."""
    dirs = [top1_run(tmp_path / m, m, np.arange(10) < k, IMAGES, LABELS)
            for m, k in (('ijepa', 5), ('dseq', 7))]
    return dirs, [tmp_path / m / STAMP / RECORDS for m in ('ijepa', 'dseq')]


def test_a_kill_while_writing_the_npz_leaves_the_last_whole_records(tmp_path, monkeypatch):
    folder = str(tmp_path / RECORDS)
    write_top1(folder, 'clevr_count', LABELS, {AVG: np.arange(10) < 5}, {AVG: 50.0}, images=IMAGES)

    def killed(file, **arrays):  # writes the start of a zip, then the process dies
        if isinstance(file, str):
            with open(file, 'wb') as f:
                f.write(b'PK\x03\x04 cut off')
        else:
            file.write(b'PK\x03\x04 cut off')
        raise KeyboardInterrupt
    monkeypatch.setattr(np, 'savez_compressed', killed)
    with pytest.raises(KeyboardInterrupt):
        write_top1(folder, 'clevr_count', LABELS, {AVG: np.arange(10) < 7}, {AVG: 70.0},
                   images=IMAGES)
    monkeypatch.undo()
    (record,) = read_records(str(tmp_path)).values()
    assert record.value == 50.0 and record.arrays['correct0'].sum() == 5


def break_manifest(manifest):
    manifest.write_text('{"clevr_count/top1_avg": {"kind": "top1", ')


def edit_entry(**change):
    def edit(manifest):
        doc = json.loads(manifest.read_text())
        entry = doc[AVG]
        for key, value in change.items():
            if value is None:
                del entry[key]
            else:
                entry[key] = value
        manifest.write_text(json.dumps(doc))
    return edit


def truncate_npz(manifest):
    npz = manifest.parent / 'clevr_count.npz'
    npz.write_bytes(npz.read_bytes()[:40])


def short_array(manifest):
    npz = manifest.parent / 'clevr_count.npz'
    with np.load(npz) as data:
        arrays = dict(data)
    arrays['correct0'] = arrays['correct0'][:-1]
    np.savez_compressed(npz, **arrays)


@pytest.mark.parametrize('damage, named', [
    (break_manifest, MANIFEST),
    (edit_entry(kind=None), MANIFEST),
    (edit_entry(file=None), MANIFEST),
    (edit_entry(value=None), MANIFEST),
    (edit_entry(kind='top5'), MANIFEST),
    (edit_entry(file='../../elsewhere.npz'), MANIFEST),
    (truncate_npz, 'clevr_count.npz'),
    (short_array, 'clevr_count.npz'),
], ids=['not-json', 'no-kind', 'no-file', 'no-value', 'unknown-kind', 'file-outside', 'truncated',
        'short-array'])
def test_unusable_records_leave_their_interval_missing_and_the_table_is_written(
        tmp_path, damage, named):
    dirs, folders = two_runs(tmp_path)
    damage(folders[1] / MANIFEST)
    with pytest.warns(UserWarning, match=re.escape(str(folders[1] / named))):
        found = results.collect(dirs)
    assert found.records[('ViT-B/16', 'CLEVR Count', 'top-1 avg')]['dseq'] == [None]
    assert avg_row(found)['DSeq - I-JEPA'] == '+20.0 [missing]'
    text = leaderboard.write_all(dirs, str(tmp_path / 'board'))
    assert '+20.0 [missing]' in text and (tmp_path / 'board' / 'leaderboard.csv').exists()


def test_miou_arrays_of_another_length_than_the_keys_are_left_out(tmp_path):
    folder = tmp_path / RECORDS
    records.write_miou(str(folder), None, ['a.png', 'b.png'], np.ones((3, 4)), np.ones((3, 4)),
                       100.0)
    with pytest.warns(UserWarning, match=re.escape(str(folder / 'miou.npz')) + '.*intersect'):
        assert read_records(str(tmp_path)) == {}


def test_a_moved_coco_ground_truth_leaves_that_interval_missing_naming_it(tmp_path):
    gt = tmp_path / 'gt.json'
    gt.write_text(json.dumps(coco_gt()))
    dirs = [coco_run(tmp_path / m, m, gt) for m in ('ijepa', 'dseq')]
    dirs.append(top1_run(tmp_path / 'count_ijepa', 'ijepa', np.arange(10) < 5, IMAGES, LABELS))
    dirs.append(top1_run(tmp_path / 'count_dseq', 'dseq', np.arange(10) < 7, IMAGES, LABELS))
    gt.rename(tmp_path / 'moved.json')
    with pytest.warns(UserWarning, match=re.escape(str(gt))):
        text = leaderboard.write_all(dirs, str(tmp_path / 'board'))
    found = results.collect(dirs)
    assert box_row(found)['DSeq - I-JEPA'] == '+0.0 [missing]'
    assert re.search(r'\| top-1 avg \|.*\| \+20\.0 \[[-+]', text)  # the other rows' intervals


def test_an_npz_newer_than_its_manifest_entry_is_left_out(tmp_path, monkeypatch):
    """A kill between renaming the new npz and the new manifest: the old entry, the new arrays."""
    folder = tmp_path / RECORDS
    write_top1(str(folder), 'clevr_count', LABELS, {AVG: np.arange(10) < 5}, {AVG: 50.0},
               images=IMAGES)
    old_manifest = (folder / MANIFEST).read_text()
    write_top1(str(folder), 'clevr_count', LABELS, {AVG: np.arange(10) < 7}, {AVG: 70.0},
               images=IMAGES)
    (folder / MANIFEST).write_text(old_manifest)
    with pytest.warns(UserWarning, match=re.escape(str(folder / 'clevr_count.npz')) +
                      '.*not the npz the entry'):
        assert read_records(str(tmp_path)) == {}


def test_coco_detections_replaced_since_the_records_leave_the_interval_missing(tmp_path):
    gt = tmp_path / 'gt.json'
    gt.write_text(json.dumps(coco_gt()))
    dirs = [coco_run(tmp_path / m, m, gt) for m in ('ijepa', 'dseq')]
    results_file = tmp_path / 'dseq' / STAMP / RECORDS / 'coco.bbox.json'
    results_file.write_text(json.dumps([dict(image_id=1, category_id=1, bbox=[8, 8, 20, 20],
                                             score=0.5)]))
    found = results.collect(dirs)
    with pytest.warns(UserWarning, match=re.escape(str(results_file)) + '.*not the detections'):
        assert box_row(found)['DSeq - I-JEPA'] == '+0.0 [missing]'
