"""tools/check_shape.py finds each kind of offence it checks, in a tree written here, and passes
the same tree once they are removed."""
import subprocess
import sys
import textwrap

from tests.helpers import ROOT


def _write(root, files: dict) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _check(root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, f'{ROOT}/tools/check_shape.py', str(root), *args],
                          capture_output=True, text=True)


CLEAN = {
    'backbones/__init__.py': '',
    'backbones/vit.py': 'def _helper():\n    return 1\n\n\ndef public():\n    return _helper()\n',
    'suite/__init__.py': '',
    'suite/table.py': 'from backbones.vit import public\n\n\ndef use():\n    return public()\n',
}


def test_a_clean_tree_passes(tmp_path):
    _write(tmp_path, CLEAN)
    proc = _check(tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert 'check_shape: 0 offence(s)' in proc.stdout


def test_each_offence_is_named_with_its_place(tmp_path):
    body = ''.join(f'    x{i} = {i}\n' for i in range(60))
    _write(tmp_path, dict(CLEAN, **{
        'backbones/long.py': f'@staticmethod\ndef long():\n{body}    return 0\n',
        'backbones/up.py': 'def lazy():\n    from suite import table\n    return table\n',
        'suite/private.py': 'from backbones.vit import _helper\n',
        'suite/attribute.py': 'from backbones import vit\n\n\ndef f():\n    return vit._helper()\n',
        'backbones/relative.py': 'from .vit import _helper\n',
        'backbones/own.py': 'def _mine():\n    return 0\n\n\nVALUE = _mine()\n',
    }))
    proc = _check(tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert 'backbones/long.py:1: long is 63 lines (at most 60)' in lines
    assert 'backbones/up.py:2: backbones.up (layer 0) imports suite (layer 3)' in lines
    assert 'suite/private.py:1: imports _helper from backbones.vit' in lines
    assert 'suite/attribute.py:5: reads _helper of backbones.vit' in lines
    assert 'backbones/relative.py:1: imports _helper from backbones.vit' in lines
    assert lines[-1] == 'check_shape: 5 offence(s)'  # a module's own private names are its own
    assert _check(tmp_path, '--max-lines', '63').stdout.splitlines()[-1] == \
        'check_shape: 4 offence(s)'
