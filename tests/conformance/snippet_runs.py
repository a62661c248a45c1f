"""Running the seed's README and docs snippets, ported, against a real app-server.

A snippet that is a whole program runs as it is. A fragment that uses names
its page has in scope (``client``, ``exc``, ``thread_id``, ``turn_id``, the
package's exports) runs inside a small harness, written the seed's way and
ported together with the snippet: ``from codex_app_server_sdk import *``, an
open ``client`` (``connect_stdio()``, pointed at the test server by
``$CODEX_APP_SERVER_CMD``), and for ``exc``/``thread_id``/``turn_id`` the
``CodexTurnInactiveError`` of a turn the scripted model leaves silent.

Placeholders of the docs are replaced in the ported code: the project path
``/home/me/project`` by a scratch directory, the default websocket URL by the
test server's (whose token comes from ``$CODEX_APP_SERVER_TOKEN``).
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Set

from tests.conformance.porter import HEADER, SEED_DIST, SEED_VERSION, Snippet, port_tree_ast

FIXTURE_NAMES = frozenset({"client", "exc", "thread_id", "turn_id"})
NEEDS_TURN = frozenset({"exc", "thread_id", "turn_id"})
DEFAULT_WS_URL = "ws://127.0.0.1:8765"
PROJECT_PLACEHOLDER = "/home/me/project"

# Written the way a seed user would (async), then ported with the snippet.
_HARNESS = '''
from codex_app_server_sdk import *
from codex_app_server_sdk import CodexClient as _FixtureClient
from codex_app_server_sdk import CodexTurnInactiveError as _FixtureInactive

client = _FixtureClient.connect_stdio()
await client.start()
try:
    __FIXTURE_TURN__
    __SNIPPET__
finally:
    await client.close()
'''

_TURN_FIXTURE = '''
try:
    await client.chat_once({key!r}, inactivity_timeout=1.0)
except _FixtureInactive as _fixture_error:
    exc = _fixture_error
else:
    raise RuntimeError("fixture: the silent scripted turn was not reported inactive")
thread_id = exc.continuation.thread_id
turn_id = exc.continuation.turn_id
'''

_STAR_ONLY = '''
from codex_app_server_sdk import *
__SNIPPET__
'''


def free_names(tree: ast.AST) -> Set[str]:
    """Names a piece of code reads but never binds (scopes ignored: good enough for doc snippets)."""
    bound: Set[str] = set()
    loaded: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


class _Splice(ast.NodeTransformer):
    """Replace the statements ``__NAME__`` by given statement lists."""

    def __init__(self, parts: Dict[str, List[ast.stmt]]) -> None:
        self.parts = parts

    def _splice(self, body: List[ast.stmt]) -> List[ast.stmt]:
        out: List[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Name) and stmt.value.id in self.parts:
                out.extend(self.parts[stmt.value.id])
            else:
                out.append(self.visit(stmt))
        return out or [ast.Pass()]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, name, self._splice(value))
        for handler in getattr(node, "handlers", []) or []:
            handler.body = self._splice(handler.body)
        return node


@dataclass(frozen=True)
class SnippetPlan:
    """How one snippet runs: its ported source, or why it does not run."""

    snippet: Snippet
    source: Optional[str]
    skip: Optional[str]
    fixtures: FrozenSet[str]
    hang_key: Optional[str]


def plan(snippet: Snippet, seed_exports: Set[str], *, ws_url: str, project_dir: Path) -> SnippetPlan:
    """Port ``snippet`` into a runnable file (with the harness it needs)."""
    tree = ast.parse(snippet.code, filename=snippet.key)
    free = free_names(tree)
    unknown = free - FIXTURE_NAMES - seed_exports
    if unknown:
        return SnippetPlan(snippet, None, f"uses names its page never defines: {', '.join(sorted(unknown))}",
                           frozenset(), None)
    fixtures = frozenset(free & FIXTURE_NAMES)
    hang_key = None
    if fixtures:
        hang_key = f"silent-fixture-turn-{snippet.page}-{snippet.number}"
        turn = ast.parse(_TURN_FIXTURE.format(key=hang_key)).body if fixtures & NEEDS_TURN else []
        module = ast.parse(_HARNESS)
        module = _Splice({"__FIXTURE_TURN__": turn, "__SNIPPET__": tree.body}).visit(module)
    elif free:  # only package names the page imported in an earlier block
        module = _Splice({"__SNIPPET__": tree.body}).visit(ast.parse(_STAR_ONLY))
    else:
        module = tree
    ported = ast.unparse(port_tree_ast(module))
    ported = ported.replace(DEFAULT_WS_URL, ws_url).replace(PROJECT_PLACEHOLDER, str(project_dir))
    header = HEADER.format(dist=SEED_DIST, version=SEED_VERSION, origin=f"{snippet.key} (line {snippet.line})")
    return SnippetPlan(snippet, header + ported + "\n", None, fixtures, hang_key)


def seed_exports(root: Path) -> Set[str]:
    """The names of the seed package's ``__all__`` (what ``from codex_app_server_sdk import *`` gives)."""
    init = root / "src" / "codex_app_server_sdk" / "__init__.py"
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()
