"""The code stays easy to enter: small modules, short functions, no import cycles, and
imports that only run down the layers of ``LAYERS``.

A plain AST scan of ``prover_data/`` and ``prover_models/``. A module over
``MAX_MODULE_LINES`` lines, a function over ``MAX_FUNCTION_LINES`` lines, or two
modules that import each other (directly or round a longer loop) fail the test,
which names the offender. Imports count wherever they stand -- a deferred import
inside a function still ties the two modules together -- and are resolved to
modules of these two packages (``from pkg import name`` is an import of
``pkg.name`` when that is a module, else of ``pkg``).

No import runs back up, in two senses: a module never imports a package it is inside
(the package's ``__init__`` is its face, which imports it), and a module imports only
modules of its own layer or of a lower one (``LAYERS``, the map of
``docs/architecture.md``: what a build is on disk sits below what reads it, the views
below the build, the CLI on top).
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("prover_data", "prover_models")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


# ----------------------------------------------------------------------------- the scan


def module_files(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of ``packages`` under ``root``."""
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def long_modules(files: dict[str, Path], root: Path = REPO, limit: int = MAX_MODULE_LINES) -> list[str]:
    """``path: N lines`` for each module over ``limit`` lines (paths relative to ``root``)."""
    out = []
    for path in files.values():
        n = path.read_text(encoding="utf-8").count("\n")
        if n > limit:
            out.append(f"{path.relative_to(root).as_posix()}: {n} lines")
    return out


def long_functions(files: dict[str, Path], root: Path = REPO, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``path:line name: N lines`` for each function (or method) over ``limit`` lines."""
    out = []
    for path in files.values():
        for node in ast.walk(_parse(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append(f"{path.relative_to(root).as_posix()}:{node.lineno} {node.name}: {n} lines")
    return out


def _imported(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The modules of ``known`` that one import statement of ``module`` names."""

    def resolve(dotted: str) -> str | None:  # the longest prefix that is a known module
        parts = dotted.split(".")
        while parts:
            if ".".join(parts) in known:
                return ".".join(parts)
            parts.pop()
        return None

    if isinstance(node, ast.Import):
        targets = [resolve(a.name) for a in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the module's own package, one level up per extra dot
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        targets = [resolve(f"{base}.{a.name}") if f"{base}.{a.name}" in known else resolve(base)
                   for a in node.names]
    return {t for t in targets if t is not None and t != module}


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``files`` it imports anywhere in its file."""
    known = set(files)
    graph = {}
    for name, path in files.items():
        edges: set[str] = set()
        for node in ast.walk(_parse(path)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _imported(name, path.name == "__init__.py", node, known)
        graph[name] = edges
    return graph


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _shortest_cycle(graph: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    """The shortest chain ``start -> ... -> start`` inside one component (breadth-first)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v] & within):
            if w == start:
                chain = [v]
                while chain[-1] != start:
                    chain.append(came_from[chain[-1]])
                return [start] + chain[::-1][1:] + [start]
            if w not in came_from:
                came_from[w] = v
                queue.append(w)
    raise AssertionError(f"{start} is on no cycle")  # unreachable for a component of 2+ modules


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """One chain ``a -> b -> a`` per group of modules that import each other."""
    return [" -> ".join(_shortest_cycle(graph, c[0], set(c))) for c in _components(graph)]


def ancestor_imports(graph: dict[str, set[str]]) -> list[str]:
    """``module -> package`` for each import of a package that contains the module."""
    out = []
    for module, imported in sorted(graph.items()):
        parts = module.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
        out += [f"{module} -> {a}" for a in sorted(imported & ancestors)]
    return out


def layer_of(module: str, layers: list[tuple[str, ...]]) -> int:
    """The layer of the longest prefix of ``module`` that a layer names (a name ending in
    ``!``, such as the root, stands for that module alone: its modules are placed by their own)."""
    best, found = -1, None
    for level, prefixes in enumerate(layers):
        for prefix in prefixes:
            exact = prefix.endswith("!")
            name = prefix.rstrip("!")
            if (module == name or (not exact and module.startswith(name + "."))) and len(name) > best:
                best, found = len(name), level
    if found is None:
        raise AssertionError(f"{module} is in no layer of LAYERS: place it")
    return found


def upward_imports(graph: dict[str, set[str]], layers: list[tuple[str, ...]]) -> list[str]:
    """``a (layer i) -> b (layer j)`` for each import of a higher layer's module."""
    out = []
    for module, imported in sorted(graph.items()):
        mine = layer_of(module, layers)
        out += [f"{module} (layer {mine}) -> {other} (layer {layer_of(other, layers)})"
                for other in sorted(imported) if layer_of(other, layers) > mine]
    return out


# ----------------------------------------------------------------------------- the rules


# Lowest first. A name ending in "!" is that module alone, not its package's modules.
LAYERS: list[tuple[str, ...]] = [
    # what everything shares: errors, hashing, atomic writes, the console, the contracts
    ("prover_data.version", "prover_data.errors", "prover_data.identity", "prover_data.atomic",
     "prover_data.console", "prover_data.schema", "prover_data.prompts", "prover_data.sql_files",
     "prover_data.trainer_settings", "prover_data.manifest"),
    # the inputs' readers, the embedding store, and what a build is on disk
    ("prover_data.inputs", "prover_data.embeddings.store", "prover_data.embeddings.fingerprint",
     "prover_data.build.files", "prover_data.build.lock", "prover_data.build!"),
    # the views, and what reads them or fills the store
    ("prover_data.views", "prover_data.embeddings", "prover_data.evaluation", "prover_data.certificates",
     "prover_data.synth"),
    # making a build
    ("prover_data.build",),
    # what reads a build: the Python API, the export, the explorer, the trainers
    ("prover_data.api", "prover_data.export", "prover_data.explore", "prover_models"),
    # the command line, and the package root (whose open() is the API's)
    ("prover_data.cli", "prover_data.__main__", "prover_data!"),
]


FILES = module_files(REPO)


def test_no_module_over_the_line_limit():
    offenders = long_modules(FILES)
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines (split them by concept):\n" + "\n".join(offenders)


def test_no_function_over_the_line_limit():
    offenders = long_functions(FILES)
    assert not offenders, (f"functions over {MAX_FUNCTION_LINES} lines (extract well-named steps):\n"
                           + "\n".join(offenders))


def test_no_import_cycles():
    cycles = import_cycles(import_graph(FILES))
    assert not cycles, "modules that import each other (move code to where it belongs):\n" + "\n".join(cycles)


def test_no_module_imports_a_package_it_is_inside():
    offenders = ancestor_imports(import_graph(FILES))
    assert not offenders, "imports of an enclosing package (import the module it holds):\n" + "\n".join(offenders)


def test_imports_run_only_down_the_layers():
    offenders = upward_imports(import_graph(FILES), LAYERS)
    assert not offenders, ("imports of a higher layer (move the code down, or the import up; LAYERS is the map):\n"
                           + "\n".join(offenders))


# ----------------------------------------------------------------------------- the scan itself


def _tree(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return module_files(root, ("pkg",))


def test_scan_finds_cycles_through_deferred_relative_and_package_imports(tmp_path):
    files = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "def f():\n    from pkg.b import g\n",  # deferred, inside a function
        "pkg/b.py": "from . import c\n",  # relative, names a module
        "pkg/c.py": "import pkg.a.x\n",  # resolves to its longest known prefix
        "pkg/sub/__init__.py": "from .d import h\n",  # a package's relative import
        "pkg/sub/d.py": "from pkg.sub import e\n",
        "pkg/sub/e.py": "from pkg.sub import VALUE\n",  # a name of the package, not a module
        "pkg/lone.py": "import os\nfrom pkg import a\n",
    })
    graph = import_graph(files)
    assert graph["pkg.sub"] == {"pkg.sub.d"} and graph["pkg.sub.e"] == {"pkg.sub"}
    assert graph["pkg.lone"] == {"pkg.a"}
    assert import_cycles(graph) == ["pkg.a -> pkg.b -> pkg.c -> pkg.a", "pkg.sub -> pkg.sub.d -> pkg.sub.e -> pkg.sub"]


def test_scan_finds_imports_that_run_back_up(tmp_path):
    files = _tree(tmp_path, {
        "pkg/__init__.py": "from pkg.top import run\n",
        "pkg/base.py": "def f():\n    from pkg.top import run\n",  # a lower layer reaching up, deferred
        "pkg/top.py": "from pkg import base\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/leaf.py": "from pkg.sub import VALUE\nfrom pkg import base\n",  # its own package: back up
    })
    graph = import_graph(files)
    assert ancestor_imports(graph) == ["pkg.sub.leaf -> pkg.sub"]
    layers = [("pkg.base", "pkg.sub"), ("pkg.top",), ("pkg!",)]
    assert upward_imports(graph, layers) == ["pkg.base (layer 0) -> pkg.top (layer 1)"]
    assert layer_of("pkg.sub.leaf", layers) == 0 and layer_of("pkg", layers) == 2


def test_scan_names_long_modules_and_functions(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    files = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/long.py": "def short():\n    pass\n\n\n"
                             + f"def long():\n{body}\n" + "\n" * 520})
    assert long_functions(files, tmp_path) == ["pkg/long.py:5 long: 81 lines"]
    assert long_modules(files, tmp_path) == ["pkg/long.py: 605 lines"]
    assert import_cycles(import_graph(files)) == []
