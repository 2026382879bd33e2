"""The package's import graph: no import cycles; the paper's modules never import the lite tier.

Every module of `sparkles_lite` is parsed with `ast` (never imported) and every import counts, at
module level, inside functions and under `if TYPE_CHECKING:`: an import moved into a function hides a
cycle from Python's loader, it does not remove it. The paper's parts (data formats, model, training
loop, evaluation protocols, judge client) import nothing from `sparkles_lite.lite`; only the wiring
modules listed below join the two. The checker itself is shown to catch a planted cycle and a planted
forbidden import in a tiny fake package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sparkles_lite

PACKAGE = "sparkles_lite"
LITE = "sparkles_lite.lite"
# The only modules outside sparkles_lite.lite that may import it: the command-line fronts, the demo,
# the notebook chat window (it offers rendered lite scenes), the exercise checks and the attention and
# influence analysis that notebooks 06 and 09 run on lite examples (`viz.reference`), and the set-up
# check (`python -m sparkles_lite check` asks the shipped model about a rendered lite scene).
WIRING = {
    "sparkles_lite.check",
    "sparkles_lite.data.cli",
    "sparkles_lite.demo",
    "sparkles_lite.eval.cli",
    "sparkles_lite.exercises.checks",
    "sparkles_lite.train.cli",
    "sparkles_lite.ui",
    "sparkles_lite.viz.reference",
}
ENTRY_POINT = "sparkles_lite.__main__"  # the one module that imports a command-line front (`cli`)


def module_files(root: Path, package: str) -> dict[str, Path]:
    """{dotted module name: file} for every .py file of the package under `root` (the package folder)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules one import statement loads: the module named and, for `from X import Y`,
    X.Y when Y is a module; each with the packages above it."""
    if isinstance(node, ast.Import):
        named = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the importer's package, `level - 1` packages up
            package_parts = importer.split(".") if is_package else importer.split(".")[:-1]
            package_parts = package_parts[:len(package_parts) - (node.level - 1)]
            base = ".".join(package_parts + ([base] if base else []))
        named = [base] + [f"{base}.{alias.name}" for alias in node.names]
    found = set()
    for name in named:
        parts = name.split(".")
        found |= {".".join(parts[:k]) for k in range(1, len(parts) + 1)} & modules
    own_packages = {importer.rsplit(".", k)[0] for k in range(1, importer.count(".") + 1)}
    return found - own_packages - {importer}  # the importer's own packages are already loading


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """{module: the package's modules it imports anywhere in its code}."""
    files = module_files(root, package)
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[name] = set().union(*(_targets(node, name, is_package, set(files)) for node in ast.walk(tree)
                                    if isinstance(node, (ast.Import, ast.ImportFrom))))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan): each holds an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def forbidden_imports(graph: dict[str, set[str]], lite: str, wiring: set[str]) -> list[tuple[str, str]]:
    """(importer, imported) for every import of the lite package by a module that is neither in it nor wiring."""
    def in_lite(m: str) -> bool:
        return m == lite or m.startswith(lite + ".")

    return sorted((m, t) for m, targets in graph.items() if not in_lite(m) and m not in wiring
                  for t in targets if in_lite(t))


def cli_imports(graph: dict[str, set[str]], entry_point: str) -> list[tuple[str, str]]:
    """(importer, front) for every import of a module named `cli` other than by the entry point."""
    return sorted((m, t) for m, targets in graph.items() if m != entry_point for t in targets
                  if t.rsplit(".", 1)[-1] == "cli")


GRAPH = import_graph(Path(sparkles_lite.__file__).parent, PACKAGE)


def test_the_graph_sees_the_package():
    assert len(GRAPH) > 40 and "sparkles_lite.lite.tasks" in GRAPH["sparkles_lite.lite.files"]
    assert WIRING <= set(GRAPH), f"wiring modules that do not exist: {sorted(WIRING - set(GRAPH))}"


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_paper_modules_never_import_the_lite_tier():
    assert forbidden_imports(GRAPH, LITE, WIRING) == []


def test_nothing_imports_a_command_line_front():
    assert cli_imports(GRAPH, ENTRY_POINT) == []


def test_the_checker_catches_planted_cycles_and_forbidden_imports(tmp_path):
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg import b  # lazy: hides the cycle from the loader\n",
        "b.py": "from . import a\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import x\n",
        "paper.py": "import json\n\ndef g():\n    import pkg.lite.world\n",
        "front.py": "from pkg.lite.world import draw\n",
        "main.py": "from pkg.cli import main\n",
        "cli.py": "from pkg import front\n",
        "lite/__init__.py": "",
        "lite/world.py": "from ..paper import g\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"} and graph["pkg.c"] == {"pkg.b"}
    assert graph["pkg.paper"] == {"pkg.lite", "pkg.lite.world"} and graph["pkg.lite.world"] == {"pkg.paper"}
    assert cycles(graph) == [["pkg.a", "pkg.b"], ["pkg.lite.world", "pkg.paper"]]
    assert forbidden_imports(graph, "pkg.lite", {"pkg.front"}) == [("pkg.paper", "pkg.lite"),
                                                                 ("pkg.paper", "pkg.lite.world")]
    assert forbidden_imports(graph, "pkg.lite", set())[0] == ("pkg.front", "pkg.lite")
    assert cli_imports(graph, "pkg.main") == [] and cli_imports(graph, "pkg.other") == [("pkg.main", "pkg.cli")]
