"""Check the code's shape, as tools/run_tests.sh does before the tests: no function longer than
``--max-lines``, no private name imported or used across a module boundary, and no package importing
one above it in ``LAYERS`` (imports inside functions included). Reads the packages' and tools/'s
files as text (nothing is imported), prints each offence with its place, and exits 1 if there is
any. The tests may use what they test, so they are left out."""
import argparse
import ast
import os
import os.path as osp
import sys
from typing import Dict, Iterator, List, Optional

#: the packages, lowest first: a package imports only its own layer's and lower ones; tools/ sits
#: above them all
LAYERS = [['backbones'], ['engine'], ['pretrain', 'transfer', 'synthetic'], ['suite'],
          ['benchmarks', 'figures']]
MAX_FUNCTION_LINES = 60


def _python_files(root: str, folders: List[str]) -> Iterator[str]:
    for folder in folders:
        for dirpath, _, files in os.walk(osp.join(root, folder)):
            yield from (osp.join(dirpath, f) for f in sorted(files) if f.endswith('.py'))


def _module_name(root: str, path: str) -> str:
    parts = osp.relpath(path, root)[:-3].split(os.sep)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imported_modules(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """The absolute module names an import statement names (relative ones resolved)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = module.split('.')
        if node.level:
            base = base[:len(base) - node.level + (1 if is_package else 0)]
            yield '.'.join(base + ([node.module] if node.module else []))
        else:
            yield node.module


def long_functions(tree: ast.AST, where: str, max_lines: int) -> Iterator[str]:
    """Functions (decorators and docstring included) longer than ``max_lines``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - first + 1
            if length > max_lines:
                yield f'{where}:{first}: {node.name} is {length} lines (at most {max_lines})'


def _private(name: str) -> bool:
    return name.startswith('_') and not name.startswith('__')


def private_crossings(tree: ast.AST, where: str, module: str, is_package: bool,
                      ours: set) -> Iterator[str]:
    """Private names of another of our modules, imported (``from m import _x``) or read as an
    attribute of an imported module (``m._x``)."""
    bound: Dict[str, str] = {}  # local name -> our module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split('.')[0] in ours:
                    bound[alias.asname or alias.name.split('.')[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            (source,) = _imported_modules(node, module, is_package)
            if source.split('.')[0] not in ours or source == module:
                continue
            for alias in node.names:
                if _private(alias.name):
                    yield f'{where}:{node.lineno}: imports {alias.name} from {source}'
                bound[alias.asname or alias.name] = f'{source}.{alias.name}'
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) \
                and isinstance(node.value, ast.Name) and node.value.id in bound:
            yield f'{where}:{node.lineno}: reads {node.attr} of {bound[node.value.id]}'


def upward_imports(tree: ast.AST, where: str, module: str, is_package: bool,
                   layer_of: Dict[str, int]) -> Iterator[str]:
    """Imports of a package in a higher layer than the importing module's own."""
    own = layer_of.get(module.split('.')[0])
    if own is None:
        return
    for node in ast.walk(tree):
        for name in _imported_modules(node, module, is_package):
            top = (name or '').split('.')[0]
            if layer_of.get(top, -1) > own:
                yield f'{where}:{node.lineno}: {module} (layer {own}) imports {name} ' \
                      f'(layer {layer_of[top]})'


def check_tree(root: str, max_lines: int = MAX_FUNCTION_LINES,
               layers: Optional[List[List[str]]] = None) -> List[str]:
    """Every offence in the packages of ``layers`` and in tools/ under ``root``."""
    layers = LAYERS if layers is None else layers
    layer_of = {package: i for i, names in enumerate(layers) for package in names}
    offences = []
    for path in _python_files(root, [*layer_of, 'tools']):
        where, module = osp.relpath(path, root), _module_name(root, path)
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        is_package = osp.basename(path) == '__init__.py'
        offences += long_functions(tree, where, max_lines)
        offences += private_crossings(tree, where, module, is_package, set(layer_of))
        offences += upward_imports(tree, where, module, is_package, layer_of)
    return offences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', nargs='?', default=osp.dirname(osp.dirname(osp.abspath(__file__))),
                        help='the repository root (default: this checkout)')
    parser.add_argument('--max-lines', type=int, default=MAX_FUNCTION_LINES,
                        help='the longest a function may be, decorators and docstring included')
    args = parser.parse_args()
    offences = check_tree(args.root, args.max_lines)
    for offence in offences:
        print(offence)
    print(f'check_shape: {len(offences)} offence(s)')
    return 1 if offences else 0


if __name__ == '__main__':
    sys.exit(main())
