"""The documentation site builds without a warning, and its Python snippets run.

``mkdocs build --strict`` must pass (the API reference is generated from the
docstrings, so a docstring that breaks mkdocstrings fails here). Every
```` ```python ```` block of ``docs/*.md`` then runs against a real
``codex app-server`` bound to the scripted model (the echo fallback answers),
with the marker on the line before the block deciding how:

- no marker: the block runs as it is, in a fresh namespace;
- ``<!-- skip: why -->``: not run (needs a framework, a websocket server, the
  async SDK...);
- ``<!-- fragment ... -->``: runs with ``from codex_sync import *`` done and an
  open ``client``;
- ``<!-- pytest -->``: written to a test file and run by pytest with the
  ``codex_sync.testing`` plugin.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, NamedTuple

import pytest

from codex_sync.testing import AppServer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

_FENCE = re.compile(r'^```python(?:[ \t]+title="[^"\n]*")?[ \t]*\n(.*?)^```[ \t]*$', re.S | re.M)
_BAD_FENCE = re.compile(r'^```python[ \t]+(?!title="[^"\n]*"[ \t]*$)\S', re.M)


class Block(NamedTuple):
    page: str
    number: int
    line: int
    kind: str  # "run", "skip", "fragment", "pytest"
    code: str


def doc_blocks() -> List[Block]:
    blocks: List[Block] = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for index, match in enumerate(_FENCE.finditer(text)):
            before = [ln.strip() for ln in text[: match.start()].splitlines() if ln.strip()]
            marker = before[-1] if before else ""
            kind = "run"
            if marker.startswith("<!--"):
                word = marker[4:].strip().split(":")[0].split()[0] if marker[4:].strip() else ""
                kind = {"skip": "skip", "fragment": "fragment", "pytest": "pytest"}.get(word, "run")
            line = text.count("\n", 0, match.start()) + 1
            blocks.append(Block(page.name, index, line, kind, match.group(1)))
    return blocks


def test_docs_have_python_blocks_and_known_markers() -> None:
    blocks = doc_blocks()
    assert len(blocks) > 20
    assert {b.kind for b in blocks} <= {"run", "skip", "fragment", "pytest"}
    for page in DOCS.glob("*.md"):
        assert not _BAD_FENCE.search(page.read_text(encoding="utf-8")), (
            f"{page.name}: put markers in an HTML comment above the fence; "
            "'```python notest' breaks the Markdown fence"
        )


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the docs toolchain (mkdocs-material 9.8) needs Python >= 3.11")
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    pytest.importorskip("material")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    for page in ("index", "conversation", "threads", "approvals", "web", "testing", "migration", "reference"):
        built = tmp_path / "site" / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.is_file(), page
    reference = (tmp_path / "site" / "reference" / "index.html").read_text(encoding="utf-8")
    for name in ("CodexClient", "chat_once", "ChatStream", "ThreadHandle", "per_process_client",
                 "CodexTurnInactiveError", "ScriptedModel", "AppServer"):
        assert name in reference, name


def _constant(name: str) -> float:
    import importlib

    for module in ("codex_sync.turn_registry", "codex_sync.client", "codex_sync.chat"):
        try:
            value = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if value is not None:
            return float(value)
    raise AssertionError(f"{name} is defined nowhere in codex_sync")


def test_docs_state_the_library_constants() -> None:
    conversation = (DOCS / "conversation.md").read_text(encoding="utf-8")
    assert f"`RETAINED_TURN_SECONDS` ({_constant('RETAINED_TURN_SECONDS'):g} s)" in conversation
    assert f"`RETAINED_TURN_LIMIT` ({_constant('RETAINED_TURN_LIMIT'):g})" in conversation
    assert f"`STOP_DRAIN_SECONDS`, {_constant('STOP_DRAIN_SECONDS'):g} s" in conversation


_RUNNABLE = [b for b in doc_blocks() if b.kind != "skip"]


@pytest.mark.real_server
@pytest.mark.timeout(180)
@pytest.mark.parametrize("block", _RUNNABLE, ids=[f"{b.page}:{b.line}" for b in _RUNNABLE])
def test_docs_python_block_runs(
    block: Block,
    stdio_app_server: AppServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if block.kind == "pytest":
        _run_with_pytest(block, tmp_path)
        return
    for key, value in stdio_app_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CODEX_APP_SERVER_CMD", shlex.join(stdio_app_server.command))
    monkeypatch.chdir(tmp_path)
    code = compile(block.code, f"{block.page} line {block.line}", "exec")
    namespace: Dict[str, Any] = {"__name__": "docs_snippet"}
    if block.kind == "fragment":
        exec("from codex_sync import *\nfrom concurrent.futures import ThreadPoolExecutor", namespace)
        from codex_sync import CodexClient

        with CodexClient.connect_stdio() as client:
            namespace["client"] = client
            exec(code, namespace)
    else:
        exec(code, namespace)


def _run_with_pytest(block: Block, tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["codex_sync.testing.pytest_plugin"]\n', encoding="utf-8"
    )
    (tmp_path / "test_snippet.py").write_text(block.code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
         "--rootdir", str(tmp_path), str(tmp_path / "test_snippet.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=170,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
