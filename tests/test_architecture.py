"""The house rules that code review alone lets slip: no import cycle, small modules, threads on record."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "codex_sync"
GENERATED = {"protocol_types.py"}
MAX_LINES = 500


def _modules() -> Dict[str, Path]:
    found: Dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    """Every codex_sync module ``name`` imports: at module level, in functions, under TYPE_CHECKING."""
    is_package = path.name == "__init__.py"
    deps: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            deps.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                full = f"{prefix}.{alias.name}"
                target = full if full in modules else prefix  # a submodule, or a name from a module
                if target in modules:
                    deps.add(target)
    deps.discard(name)
    return deps


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_codex_sync_modules_type_checking_and_function_imports_included() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["codex_sync.client"] >= {"codex_sync.conversation", "codex_sync.turn_registry"}  # the walk works
    assert _cycles(graph) == []


@pytest.mark.parametrize("folder", ["", "testing"])
def test_no_module_over_500_lines_but_the_generated_one(folder: str) -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in (PACKAGE / folder).glob("*.py")
        if path.name not in GENERATED and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_every_thread_the_library_starts_is_listed_in_the_architecture_page() -> None:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        if "testing" in path.relative_to(PACKAGE).parts:
            continue
        names.update(re.findall(r'name="(codex-sync-[a-z-]+)"', path.read_text(encoding="utf-8")))
    assert "codex-sync-reader" in names  # the scan works
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert sorted(n for n in names if f"`{n}`" not in page) == []
