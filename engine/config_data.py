"""Config text read as data, never run: the configs that checkpoints and results folders carry.

mmengine saves the config of every run as Python text (``<run>/vis_data/config.py``, a checkpoint's
``meta['cfg']``), and ``Config.fromfile`` / ``Config.fromstring`` execute that text. A checkpoint or
a results folder shared by someone else is data: :func:`config_from_text` parses the text with
:mod:`ast` and keeps only what is written as data, never calling, importing or evaluating anything.

What counts as data is what mmengine's ``pretty_text`` writes: ``name = value`` at the top level,
where a value is a literal (numbers, strings, ``True``/``False``/``None``, lists, tuples,
``{...}``), ``dict(key=value, ...)`` or ``dict({...})``, a sign on a number, and the names ``inf``
and ``nan`` (how it writes infinite floats). Every other statement or value is left out with a
warning naming the source, the line and the name; nothing in it runs.

Data still names classes: mmengine's registries build ``dict(type=...)``, and a ``type`` that is
not a registered name is imported as a dotted path (``'subprocess.Popen'`` would run). Whatever is
built from such data goes through :func:`check_registered` first.
"""
import ast
import math
import warnings
from typing import Any, Dict

__all__ = ['NotData', 'check_registered', 'config_from_text', 'read_config_file']

#: the bare names a saved config may use as values
_NAMES = {'inf': math.inf, 'nan': math.nan}


class NotData(ValueError):
    """A part of a config text that is not plain data (a call, a name, an expression ...)."""


def _value(node: ast.AST) -> Any:
    """The data a value node writes; :class:`NotData` for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    elif isinstance(node, (ast.List, ast.Tuple)):
        items = [_value(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    elif isinstance(node, ast.Dict) and None not in node.keys:
        try:
            return {_value(k): _value(v) for k, v in zip(node.keys, node.values)}
        except TypeError:  # an unhashable key: a list or a dict
            pass
    elif _is_dict_call(node):
        out = _value(node.args[0]) if node.args else {}
        out.update({k.arg: _value(k.value) for k in node.keywords})
        return out
    raise NotData(f'{type(node).__name__} {ast.unparse(node)[:80]!r}')


def _is_dict_call(node: ast.AST) -> bool:
    """``dict(k=v, ...)`` or ``dict({...})``, as mmengine writes dicts."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'dict' and len(node.args) <= 1
            and all(isinstance(a, ast.Dict) for a in node.args)
            and all(k.arg is not None for k in node.keywords))


def config_from_text(text: str, source: str) -> Dict[str, Any]:
    """The data assignments of a saved config's text (``source`` names it in warnings and errors);
    every statement or value that is not data is left out with a warning, and none of it runs."""
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as err:
        raise ValueError(f'{source}: not a config ({err.msg}, line {err.lineno}); read as data, '
                         'it must be Python syntax as mmengine writes it') from None
    out: Dict[str, Any] = {}
    for statement in tree.body:
        target = _target(statement)
        try:
            if target is None:
                raise NotData(f'{type(statement).__name__} statement')
            out[target] = _value(statement.value)
        except NotData as err:
            warnings.warn(f'{source}, line {statement.lineno}: ignored {target or "a statement"}, '
                          f'which is not plain data ({err}); config text from a checkpoint or a '
                          'results folder is read as data, never run', stacklevel=2)
    return out


def _target(statement: ast.stmt) -> Any:
    """The name a top-level ``name = value`` assigns; None for any other statement."""
    if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)):
        return statement.targets[0].id
    return None


def read_config_file(path: str) -> Dict[str, Any]:
    """The data of a saved config file (:func:`config_from_text`), an error naming it when it
    cannot be read as text."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f'{path}: cannot read the saved config ({err})') from None
    return config_from_text(text, path)


def _types(config: Any, where: str):
    """``(where, type)`` of every ``type`` key nested in ``config``'s dicts and lists."""
    if isinstance(config, dict):
        if 'type' in config:
            yield f'{where}.type', config['type']
        for key, value in config.items():
            yield from _types(value, f'{where}.{key}')
    elif isinstance(config, (list, tuple)):
        for index, value in enumerate(config):
            yield from _types(value, f'{where}[{index}]')


def check_registered(config: Any, registry, where: str) -> None:
    """Refuse a ``config`` read from data (a saved config) that names, anywhere in it, a ``type``
    other than a class registered in ``registry`` under that very name: mmengine would import any
    other name as a dotted path and call it. ``where`` names the config in the error."""
    for key, name in _types(config, where):
        if not (isinstance(name, str) and '.' not in name and name in registry.module_dict):
            raise ValueError(f'{key} = {name!r} is not a class of the {registry.name} registry: a '
                             'config read from a checkpoint or a results folder may name '
                             'registered classes only (it is data, never code)')
