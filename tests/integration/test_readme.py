"""The README's commands name files that exist, configs that load and options the tools accept.

Running them is the other tests' job (the smoke configs, the suite, the leaderboard, the pictures);
this keeps the README from drifting away from the code."""
import os.path as osp
import re
import subprocess
import sys

import pytest
from mmengine.config import Config

from tests.helpers import ROOT

with open(osp.join(ROOT, 'README.md')) as f:
    COMMANDS = [line.split('#')[0].strip() for block in re.findall(r'```bash\n(.*?)```', f.read(), re.S)
                for line in block.replace('\\\n', ' ').splitlines() if line.split('#')[0].strip()]
SCRIPTS = sorted({m for c in COMMANDS for m in re.findall(r'tools/\w+\.(?:py|sh)', c)})
CONFIGS = sorted({m for c in COMMANDS for m in re.findall(r'configs/[\w/]+\.py', c)})


def test_the_readme_has_commands():
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
