"""The shape of ``codex_sync.testing``: a standalone orphan guard, public names where they were.

(No import cycle and no module over 500 lines, here as in the whole package:
``tests/test_architecture.py``.) No server is started here.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

import codex_sync.testing

PACKAGE = "codex_sync.testing"
ROOT = Path(codex_sync.testing.__file__).parent
MAX_LINES = 500


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


MODULES: Dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.glob("*.py"))}


def test_orphan_guard_is_standalone() -> None:
    """It runs as a script with ``-I -S``: no import from codex_sync, relative or absolute."""
    tree = ast.parse(MODULES[f"{PACKAGE}.orphan_guard"].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("codex_sync"), ast.dump(node)
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("codex_sync") for a in node.names), ast.dump(node)
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
