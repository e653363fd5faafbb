"""The commands of the README, docs/ and the configs' READMEs name files that exist, configs that
load and options the tools accept; the README stays a front page.

Running them is the other tests' job (the smoke configs, the suite, the leaderboard, the pictures);
this keeps the documentation from drifting away from the code."""
import glob
import os.path as osp
import re
import subprocess
import sys

import pytest
from mmengine.config import Config

from tests.helpers import ROOT

DOCS = ['README.md', 'CONTRIBUTING.md', *sorted(
    osp.relpath(p, ROOT) for pattern in ('docs/*.md', 'configs/**/README.md')
    for p in glob.glob(osp.join(ROOT, pattern), recursive=True))]


def _commands(path: str) -> list:
    """The command lines of a markdown file's bash blocks, continuations joined, comments cut."""
    with open(osp.join(ROOT, path)) as f:
        blocks = re.findall(r'```bash\n(.*?)```', f.read(), re.S)
    lines = (line.split('#')[0].strip()
             for block in blocks for line in block.replace('\\\n', ' ').splitlines())
    return [line for line in lines if line]


COMMANDS = [c for path in DOCS for c in _commands(path)]
SCRIPTS = sorted({m for c in COMMANDS for m in re.findall(r'tools/\w+\.(?:py|sh)', c)})
CONFIGS = sorted({m for c in COMMANDS for m in re.findall(r'configs/[\w/-]+\.py', c)})


def test_the_readme_is_a_front_page_with_the_two_commands():
    with open(osp.join(ROOT, 'README.md')) as f:
        lines = f.read().splitlines()
    assert len(lines) <= 200
    assert {'bash tools/demo.sh', 'bash tools/run_tests.sh'} <= set(_commands('README.md'))


def test_the_docs_have_commands():
    assert len(COMMANDS) > 20 and 'tools/run_suite.py' in SCRIPTS and len(CONFIGS) > 6


@pytest.mark.parametrize('path', SCRIPTS + CONFIGS)
def test_named_files_exist(path):
    assert osp.isfile(osp.join(ROOT, path)), path


@pytest.mark.parametrize('path', CONFIGS)
def test_named_configs_load(path):
    Config.fromfile(osp.join(ROOT, path))


@pytest.mark.slow  # a Python per tool, each importing torch and the OpenMMLab libraries
@pytest.mark.parametrize('script', [s for s in SCRIPTS if s.endswith('.py')])
def test_the_options_shown_are_accepted(script):
    shown = {opt for c in COMMANDS if script in c for opt in re.findall(r'(--[a-z][\w-]*)', c)}
    text = subprocess.run([sys.executable, osp.join(ROOT, script), '--help'], cwd=ROOT,
                          capture_output=True, text=True).stdout
    assert text, f'{script} --help printed nothing'
    for opt in shown:
        assert opt in text, f'{script} does not accept {opt}'
    for preset in {m for c in COMMANDS if script in c for m in re.findall(r'--preset (\w+)', c)}:
        assert osp.isfile(osp.join(ROOT, 'configs', 'suite', f'{preset}.py'))
