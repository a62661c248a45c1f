"""The shape of ``codex_sync.testing``: no import cycle, small modules, public names where they were.

Imports are read with :mod:`ast`, all of them: top-level, inside functions,
and under ``if TYPE_CHECKING:``. No server is started here.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

import codex_sync.testing

PACKAGE = "codex_sync.testing"
ROOT = Path(codex_sync.testing.__file__).parent
MAX_LINES = 500


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


MODULES: Dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.glob("*.py"))}


def _resolve(importer: str, node: ast.ImportFrom) -> Optional[str]:
    """The absolute module named by a ``from ... import`` (``None``: outside the standard form)."""
    if node.level == 0:
        return node.module
    package = importer if importer == PACKAGE else importer.rsplit(".", 1)[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def imports_of(name: str) -> Set[str]:
    """Every module of the package that module ``name`` imports, wherever the import statement is."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, node)
            if target is None:
                continue
            for alias in node.names:  # "from . import replies" names a submodule, not the package
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


def _find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_the_import_reader_sees_every_kind_of_import() -> None:
    tree = ast.parse(
        "from . import replies\nfrom .model import X\nimport codex_sync.testing.launcher\n"
        "if TYPE_CHECKING:\n    from .request import R\n"
        "def f():\n    from .binary import codex_binary\n"
    )
    seen = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            seen.add(_resolve(f"{PACKAGE}.serve", node))
        elif isinstance(node, ast.Import):
            seen.update(a.name for a in node.names)
    assert seen == {PACKAGE, f"{PACKAGE}.model", f"{PACKAGE}.launcher", f"{PACKAGE}.request", f"{PACKAGE}.binary"}
    assert f"{PACKAGE}.replies" in imports_of(f"{PACKAGE}.model")
    assert f"{PACKAGE}.response_events" in imports_of(f"{PACKAGE}.replies")  # "from . import x as y"
    assert PACKAGE not in imports_of(f"{PACKAGE}.replies")
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_kit() -> None:
    graph = {name: imports_of(name) for name in MODULES}
    assert graph[f"{PACKAGE}.model"], "the reader found no import in model.py"
    assert _find_cycle(graph) is None, _find_cycle(graph)


def test_kit_modules_stay_small() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_orphan_guard_is_standalone() -> None:
    """It runs as a script with ``-I -S``: no import from codex_sync, relative or absolute."""
    assert imports_of(f"{PACKAGE}.orphan_guard") == set()
    tree = ast.parse(MODULES[f"{PACKAGE}.orphan_guard"].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("codex_sync"), ast.dump(node)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(MODULES[f"{PACKAGE}.orphan_guard"])],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2 and "usage" in proc.stderr


PUBLIC = [
    "AppServer", "CODEX_ENV_VAR", "Fallback", "ModelRequest", "Reasoning", "Reply", "ReplyStream",
    "ScriptedModel", "apply_patch", "codex_binary", "codex_path_dir", "echo", "events", "exec_command",
    "failed", "function_call", "hang", "http_error", "reasoning", "request_user_input", "text",
    "truncated", "write_codex_home",
]

# Module paths that docs/reference.md (mkdocstrings) and older code name directly.
OLD_PATHS = {
    "model": ["ScriptedModel", "ModelRequest", "Fallback"],
    "launcher": ["AppServer", "write_codex_home", "codex_binary", "codex_path_dir", "CODEX_ENV_VAR"],
    "replies": [
        "Reply", "ReplyStream", "Reasoning", "TextReply", "FunctionCallReply", "HttpErrorReply",
        "FailedReply", "TruncatedReply", "HangReply", "EchoReply", "EventsReply", "text", "reasoning",
        "function_call", "exec_command", "apply_patch", "request_user_input", "http_error", "failed",
        "truncated", "hang", "echo", "events",
    ],
}


def test_public_names_unchanged() -> None:
    assert sorted(codex_sync.testing.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(codex_sync.testing, name) is not None


@pytest.mark.parametrize("module", sorted(OLD_PATHS))
def test_old_import_paths_still_work(module: str) -> None:
    mod = importlib.import_module(f"{PACKAGE}.{module}")
    for name in OLD_PATHS[module]:
        assert name in mod.__all__, f"{module}.{name} is not exported"
        if name in PUBLIC:
            assert getattr(mod, name) is getattr(codex_sync.testing, name), f"{module}.{name}"
        else:
            assert isinstance(getattr(mod, name), type), f"{module}.{name}"
