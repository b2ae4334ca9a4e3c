"""The package's imports point one way: no cycle between modules or between sub-packages.

Every import counts: at module level, inside functions, under ``TYPE_CHECKING`` and in the
``__init__.pyi`` stubs through which ``lazy_loader`` attaches a package's attributes. A
sub-package is ``ebsdlib.<name>`` (a top-level module counts as its own sub-package).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ebsdlib"


def module_names(package: Path) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` and ``.pyi`` under ``package``."""
    out = {}
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.pyi")]):
        parts = [package.name, *path.relative_to(package).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.setdefault(".".join(parts), path)
    return out


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports (anywhere in the file)."""
    files = module_names(package)
    modules = set(files)

    def known(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in files.items():
        is_package = path.stem == "__init__"
        here = module if is_package else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target.split(".")[0] == package.name and known(target) not in ("", module):
                    edges[module].add(known(target))
    return edges


def cycles(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def subpackage(module: str) -> str:
    return ".".join(module.split(".")[:2])


def subpackage_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for a, targets in edges.items():
        for b in targets:
            if subpackage(a) != subpackage(b):
                out[subpackage(a)].add(subpackage(b))
    return out


def explain(component: list[str], edges: dict[str, set[str]]) -> str:
    return "; ".join(f"{a} → {sorted(set(edges.get(a, ())) & set(component))}" for a in component)


def test_no_module_imports_itself_through_others():
    edges = import_graph(PACKAGE)
    found = cycles(set(module_names(PACKAGE)), edges)
    assert not found, "module cycles: " + " | ".join(explain(c, edges) for c in found)


def test_no_cycle_between_subpackages():
    edges = subpackage_graph(import_graph(PACKAGE))
    nodes = {subpackage(m) for m in module_names(PACKAGE)}
    found = cycles(nodes, edges)
    assert not found, "sub-package cycles: " + " | ".join(explain(c, edges) for c in found)


def test_the_low_modules_import_nothing_above_them():
    edges = import_graph(PACKAGE)
    assert edges.get("ebsdlib.paths", set()) == set()
    assert edges.get("ebsdlib.io", set()) == set()
    assert edges.get("ebsdlib", set()) == set()  # the root stays empty: every sub-package may import it


def test_one_lazy_import_mechanism():
    """Package attributes load through lazy_loader stubs, never through hand-written ``__getattr__``."""
    hand_written = [
        str(p.relative_to(PACKAGE.parent))
        for p in PACKAGE.rglob("*.py")
        if any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in ast.parse(p.read_text()).body)
    ]
    assert hand_written == []
    for stub in PACKAGE.rglob("__init__.pyi"):
        init = stub.with_suffix(".py").read_text()
        assert "lazy_loader.attach_stub(__name__, __file__)" in init, f"{stub} has no attach_stub in its __init__.py"


def test_nothing_edits_sys_path_or_pythonpath():
    roots = [PACKAGE, PACKAGE.parent / "dashboard"]
    offenders = [
        f"{p}:{i}"
        for root in roots
        for p in root.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"sys\.path\.(insert|append)|\[\"PYTHONPATH\"\]", line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "from pkg import b\n", "b.py": "def f():\n    from pkg.a import x\n"}, [["pkg.a", "pkg.b"]]),
        (
            {
                "a.py": "from . import b\n",
                "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
            },
            [["pkg.a", "pkg.b"]],
        ),
        ({"a.py": "from pkg import b\n", "b.py": "import os\n"}, []),
    ],
    ids=["function-level", "relative-and-type-only", "no-cycle"],
)
def test_the_walker_finds_the_cycles_it_is_meant_to(tmp_path, files, expected):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in files.items():
        (pkg / name).write_text(text)
    assert cycles(set(module_names(pkg)), import_graph(pkg)) == expected


def test_a_stub_import_counts(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.pyi").write_text("from .impl import f\n")
    (pkg / "sub" / "impl.py").write_text("import pkg.other\n")
    (pkg / "other.py").write_text("from pkg.sub import f\n")
    edges = import_graph(pkg)
    assert cycles({subpackage(m) for m in module_names(pkg)}, subpackage_graph(edges)) == [["pkg.other", "pkg.sub"]]
