"""Rows where lower is better (a depth error): the leaderboard's differences, verdicts, decimals and
chart know the direction the report declares, and several seeds give mean +- std with the
seed-aware interval."""
import numpy as np
import pytest

from tests.suite.test_leaderboard import REPORTS, STAMP, fake_run

from engine.records import RECORDS, write_means
from suite import leaderboard, results
from suite.significance import paired_bootstrap

RMSE_KEY, ABS_REL_KEY = 'nyu/rmse', 'nyu/abs_rel'
TASK = 'NYU-Depth v2 linear'
NYU = dict(task=TASK, metrics={RMSE_KEY: ('RMSE', 1), ABS_REL_KEY: ('abs rel', 1)},
           lower_is_better=('RMSE', 'abs rel'), decimals={'RMSE': 3})
IMAGES = [f'scene_{i // 10}/rgb_{i:05d}.jpg#{i:016x}' for i in range(200)]


def depth_run(work_dir, method, rmse, seed=0):
    """A NYU run whose per-image RMSE (and abs rel, a tenth of it) are ``rmse``, recorded as
    the depth metric records them; the log holds their means."""
    logged = {RMSE_KEY: float(np.mean(rmse)), ABS_REL_KEY: float(np.mean(rmse)) / 10}
    fake_run(work_dir, STAMP, method, 'nyu', seed=seed, val=[logged])
    write_means(str(work_dir / STAMP / RECORDS), 'nyu', IMAGES,
                {RMSE_KEY: rmse, ABS_REL_KEY: np.asarray(rmse) / 10}, logged,
                pairing='path#gt_sha256')
    return str(work_dir)


@pytest.fixture(autouse=True)
def nyu_report(monkeypatch):
    """The depth probe's report among those fake_run knows, for this module's tests only."""
    monkeypatch.setitem(REPORTS, 'nyu', NYU)


@pytest.fixture
def errors():
    rng = np.random.default_rng(0)
    hard = rng.uniform(0.3, 0.6, len(IMAGES))  # what the images share: some are harder
    return dict(ijepa=hard, dseq=hard - 0.05 + rng.normal(0, 0.01, len(IMAGES)),
                random=hard + 0.3 + rng.normal(0, 0.01, len(IMAGES)))


def mean_of(values):
    return lambda counts: float(counts @ values / counts.sum())


def table(found):
    header, body = leaderboard.rows(found.table, found.records, styles=found.styles)
    return {r[2]: dict(zip(header, r)) for r in body}


def test_a_lower_error_is_better_in_the_difference_and_the_verdicts(tmp_path, errors):
    found = results.collect([depth_run(tmp_path / m, m, e) for m, e in errors.items()])
    assert found.styles[(TASK, 'RMSE')] == results.MetricStyle(True, 3)
    assert found.styles[(TASK, 'abs rel')] == results.MetricStyle(True, 1)
    row = table(found)['RMSE (lower is better)']
    r = paired_bootstrap(mean_of(errors['ijepa']), mean_of(errors['dseq']), len(IMAGES),
                         leaderboard.RESAMPLES, leaderboard.SEED)
    assert r.ci_high < 0  # DSeq's error is lower on every resample: what the data were made for
    assert row['I-JEPA'] == f'{errors["ijepa"].mean():.3f}'
    assert row['DSeq - I-JEPA'] == f'{r.delta:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] better'
    assert row['random init'] == f'{errors["random"].mean():.3f}'
    verdicts = leaderboard.against_random(found.table, found.records, found.styles)
    rmse = [v for v in verdicts if ' RMSE: ' in v]
    assert len(rmse) == 2 and all('beats random init' in v for v in rmse)
    assert ', lower is better, ' in rmse[0] and 'NOT' not in ' '.join(rmse)


def test_a_higher_error_is_worse_and_does_not_beat_random_init(tmp_path, errors):
    flipped = dict(ijepa=errors['dseq'], dseq=errors['ijepa'], random=errors['dseq'] - 0.2)
    found = results.collect([depth_run(tmp_path / m, m, e) for m, e in flipped.items()])
    row = table(found)['RMSE (lower is better)']
    assert row['DSeq - I-JEPA'].endswith(' worse') and row['DSeq - I-JEPA'].startswith('+0.05')
    verdicts = leaderboard.against_random(found.table, found.records, found.styles)
    assert all('does NOT beat random init' in v and 'beyond noise' not in v for v in verdicts)
    # every resample has a higher error than random init's: 100% of differences above 0
    assert all(v.endswith('100.0% of resamples > 0)') for v in verdicts)


def test_three_seeds_give_mean_std_and_the_seed_aware_interval(tmp_path, errors):
    rng = np.random.default_rng(3)
    seeds = {m: [e + rng.normal(0, 0.02, len(IMAGES)) for _ in range(3)]
             for m, e in errors.items() if m != 'random'}
    found = results.collect([depth_run(tmp_path / f'{m}_{s}', m, e, seed=s)
                             for m, runs in seeds.items() for s, e in enumerate(runs)])
    row = table(found)['RMSE (lower is better)']
    means = {m: [float(np.mean(e)) for e in runs] for m, runs in seeds.items()}
    assert row['I-JEPA'] == (f'{np.mean(means["ijepa"]):.3f} +- '
                             f'{np.std(means["ijepa"], ddof=1):.3f} (n=3)')
    r = paired_bootstrap([mean_of(e) for e in seeds['ijepa']],
                         [mean_of(e) for e in seeds['dseq']], len(IMAGES),
                         leaderboard.RESAMPLES, leaderboard.SEED)
    assert row['DSeq - I-JEPA'] == f'{r.delta:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] better'


def test_lower_is_better_rows_stay_out_of_the_percent_chart(tmp_path, errors):
    found = results.collect([depth_run(tmp_path / m, m, e) for m, e in errors.items()])
    assert leaderboard.chart_bars(found.table, found.styles)[0] == []
    assert len(leaderboard.chart_bars(found.table)[0]) == 2  # unstyled, they would be bars


def test_a_report_styling_a_row_it_does_not_have_is_refused(tmp_path):
    report = dict(NYU, lower_is_better=('RMSE', 'rmse'))
    with pytest.raises(KeyError, match=r"\['rmse'\], which are not rows"):
        results.styles_of(report, 'a_config.py')
