"""A mechanical porter from the async seed SDK to codex_sync, and the seed's download.

The seed (``codex-app-server-sdk`` 0.4.1) is AGPL-3.0: nothing of it is kept
in this repository. :func:`seed_root` downloads its sdist into a cache
directory when needed (``pip download --no-deps --no-binary :all:``), and
:func:`port_tree` writes the ported examples and README/docs snippets into a
scratch directory at run time.

The port is an ``ast`` rewrite, the one a user does by hand when moving to a
synchronous client:

- ``codex_app_server_sdk`` → ``codex_sync`` in imports and names;
- ``async def`` → ``def`` (``__aenter__``/``__aexit__``/``__aiter__``/``__anext__``
  → their synchronous names), ``async with`` → ``with``, ``async for`` → ``for``,
  async comprehensions → plain ones, ``anext``/``aiter`` → ``next``/``iter``,
  ``StopAsyncIteration`` → ``StopIteration``;
- ``await x`` → ``x`` (``await task`` of a bare name or attribute →
  ``_seed_rt.settle(task)``, which waits for a task's result);
- ``asyncio.run(main())`` → ``main()``, ``asyncio.sleep`` → ``time.sleep``,
  ``asyncio.gather(f(a), g(b))`` → ``_seed_rt.gather(lambda: f(a), lambda: g(b))``
  (threads), ``asyncio.create_task(f())`` → ``_seed_rt.create_task(lambda: f())``,
  ``asyncio.wait_for(x, t)`` → ``_seed_rt.wait_for(lambda: x, t)``;
- any other ``asyncio.X`` → ``_seed_rt.X`` (``seed_runtime.py``, copied next
  to the ported files as ``_seed_rt.py``).

Command line: ``python -m tests.conformance.porter [--out DIR] [FILE.py ...]``.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

SEED_DIST = "codex-app-server-sdk"
SEED_VERSION = "0.4.1"
SEED_PACKAGE = "codex_app_server_sdk"
TARGET_PACKAGE = "codex_sync"
RUNTIME_MODULE = "_seed_rt"
SEED_DIR_ENV = "CODEX_SYNC_SEED_DIR"  # an unpacked seed sdist to use as it is
SEED_CACHE_ENV = "CODEX_SYNC_SEED_CACHE"  # where the sdist is downloaded and unpacked
RUNTIME_SOURCE = Path(__file__).with_name("seed_runtime.py")
HEADER = (
    "# Ported at run time by tests/conformance/porter.py from {dist} {version}: {origin}\n"
    "# (AGPL-3.0 source: a scratch file, never to be committed)\n"
)


# ---------------------------------------------------------------- the seed


def _cache_dir() -> Path:
    given = os.environ.get(SEED_CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "codex-sync-seed"


def _looks_like_seed(path: Path) -> bool:
    return (path / "examples").is_dir() and (path / "README.md").is_file() and (path / "tests").is_dir()


def seed_root(cache: Optional[Path] = None, *, download: bool = True) -> Path:
    """The unpacked seed sdist: ``$CODEX_SYNC_SEED_DIR``, else the cache (downloaded if missing).

    Raises ``RuntimeError`` when it is not there and cannot be downloaded.
    """
    given = os.environ.get(SEED_DIR_ENV)
    if given:
        path = Path(given)
        if not _looks_like_seed(path):
            raise RuntimeError(f"${SEED_DIR_ENV}={given} is not an unpacked {SEED_DIST} sdist")
        return path
    cache = cache or _cache_dir()
    unpacked = cache / f"{SEED_PACKAGE}-{SEED_VERSION}"
    if _looks_like_seed(unpacked):
        return unpacked
    if not download:
        raise RuntimeError(f"the seed is not in {cache} (and download=False)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
            # the seed says Requires-Python >= 3.12; we only read and port its files
            "--ignore-requires-python", f"{SEED_DIST}=={SEED_VERSION}", "-d", scratch,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
        archives = sorted(Path(scratch).glob("*.tar.gz"))
        if proc.returncode != 0 or not archives:
            raise RuntimeError(
                f"could not download the seed ({' '.join(command)}): {proc.stderr.strip()[-2000:]}"
            )
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                target = (cache / member.name).resolve()
                if not str(target).startswith(str(cache.resolve()) + os.sep):
                    raise RuntimeError(f"unsafe path in the seed archive: {member.name}")
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.12, and backports
            archive.extractall(cache, **safe)  # type: ignore[arg-type]  # members checked above
    if not _looks_like_seed(unpacked):
        raise RuntimeError(f"the seed archive did not unpack to {unpacked}")
    return unpacked


# ---------------------------------------------------------------- the port


def _lambda(body: ast.expr) -> ast.Lambda:
    no_args = ast.arguments(
        posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )
    return ast.Lambda(args=no_args, body=body)


def _asyncio_attr(node: ast.AST) -> Optional[str]:
    """``X`` when ``node`` is ``asyncio.X``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "asyncio":
        return node.attr
    return None


def _rt(name: str) -> ast.Attribute:
    return ast.Attribute(value=ast.Name(id=RUNTIME_MODULE, ctx=ast.Load()), attr=name, ctx=ast.Load())


_DUNDERS = {"__aenter__": "__enter__", "__aexit__": "__exit__", "__aiter__": "__iter__", "__anext__": "__next__"}


def _rename_module(name: str) -> str:
    if name == SEED_PACKAGE or name.startswith(SEED_PACKAGE + "."):
        return TARGET_PACKAGE + name[len(SEED_PACKAGE):]
    if name == "asyncio":
        return RUNTIME_MODULE
    return name


class _Port(ast.NodeTransformer):
    def __init__(self) -> None:
        self.uses_time = False
        self.uses_runtime = False

    # async definitions and statements -----------------------------------
    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.FunctionDef:
        self.generic_visit(node)
        fields = {name: getattr(node, name, None) for name in ast.FunctionDef._fields}
        if "type_params" in fields and fields["type_params"] is None:
            fields["type_params"] = []
        fields["name"] = _DUNDERS.get(node.name, node.name)
        return ast.copy_location(ast.FunctionDef(**fields), node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.With:
        self.generic_visit(node)
        return ast.copy_location(ast.With(items=node.items, body=node.body, type_comment=None), node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.For:
        self.generic_visit(node)
        new = ast.For(target=node.target, iter=node.iter, body=node.body, orelse=node.orelse, type_comment=None)
        return ast.copy_location(new, node)

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        self.generic_visit(node)
        node.is_async = 0
        return node

    def visit_Await(self, node: ast.Await) -> ast.expr:
        value = self.visit(node.value)
        if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript)):
            # awaiting an object (a task), not a call: wait for its result
            self.uses_runtime = True
            return ast.copy_location(ast.Call(func=_rt("settle"), args=[value], keywords=[]), node)
        return value  # type: ignore[no-any-return]

    # asyncio calls ---------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> ast.expr:
        name = _asyncio_attr(node.func)  # before generic_visit turns asyncio.X into _seed_rt.X
        self.generic_visit(node)
        if name is None:
            if isinstance(node.func, ast.Name) and node.func.id in ("anext", "aiter"):
                node.func = ast.Name(id=node.func.id[1:], ctx=ast.Load())
            return node
        if name == "run" and node.args:
            return node.args[0]
        if name == "sleep":
            self.uses_time = True
            func = ast.Attribute(value=ast.Name(id="time", ctx=ast.Load()), attr="sleep", ctx=ast.Load())
            return ast.copy_location(ast.Call(func=func, args=node.args[:1], keywords=[]), node)
        if name == "gather":
            args = [arg if isinstance(arg, ast.Starred) else _lambda(arg) for arg in node.args]
            node.func, node.args = _rt("gather"), args  # type: ignore[assignment]
        elif name in ("create_task", "ensure_future") and node.args:
            node.func, node.args = _rt("create_task"), [_lambda(node.args[0])]  # type: ignore[list-item]
        elif name == "wait_for" and node.args:
            node.func, node.args = _rt("wait_for"), [_lambda(node.args[0]), *node.args[1:]]  # type: ignore[list-item]
        else:
            node.func = _rt(name)
        self.uses_runtime = True
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        self.generic_visit(node)
        name = _asyncio_attr(node)
        if name is not None:  # asyncio.CancelledError, asyncio.Queue, ...
            self.uses_runtime = True
            return ast.copy_location(_rt(name), node)
        return node

    # names and imports -------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id == SEED_PACKAGE:
            node.id = TARGET_PACKAGE
        elif node.id == "StopAsyncIteration":
            node.id = "StopIteration"
        return node

    def visit_Import(self, node: ast.Import) -> ast.Import:
        for alias in node.names:
            if alias.name == "asyncio":
                alias.name, alias.asname = RUNTIME_MODULE, alias.asname or "asyncio"
                self.uses_runtime = True
            elif alias.name.split(".")[0] == SEED_PACKAGE:
                alias.name = _rename_module(alias.name)
                if alias.asname == SEED_PACKAGE:
                    alias.asname = TARGET_PACKAGE
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom:
        if node.module and node.level == 0:
            node.module = _rename_module(node.module)
        return node


def _import_position(body: List[ast.stmt]) -> int:
    """After the docstring and ``from __future__`` imports."""
    index = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            index = 1
    while index < len(body) and isinstance(body[index], ast.ImportFrom) and body[index].module == "__future__":  # type: ignore[attr-defined]
        index += 1
    return index


def port_tree_ast(tree: ast.Module) -> ast.Module:
    """Port a parsed module in place (and return it)."""
    porter = _Port()
    tree = porter.visit(tree)
    needed = []
    if porter.uses_time:
        needed.append(ast.Import(names=[ast.alias(name="time", asname=None)]))
    if porter.uses_runtime:
        needed.append(ast.Import(names=[ast.alias(name=RUNTIME_MODULE, asname=None)]))
    at = _import_position(tree.body)
    tree.body[at:at] = needed
    return ast.fix_missing_locations(tree)


def port_source(source: str, origin: str = "<seed>") -> str:
    """The synchronous version of seed source code (raises ``SyntaxError`` if it does not parse)."""
    tree = port_tree_ast(ast.parse(source, filename=origin))
    header = HEADER.format(dist=SEED_DIST, version=SEED_VERSION, origin=origin)
    return header + ast.unparse(tree) + "\n"


# ---------------------------------------------------------------- snippets


_FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Snippet:
    """One fenced ``python`` block of the seed's README or docs."""

    page: str  # path relative to the seed root, e.g. "docs/conversation.md"
    number: int  # 1-based among the page's python blocks
    line: int  # line of the opening fence
    code: str

    @property
    def key(self) -> str:
        return f"{self.page}#{self.number}"


def seed_snippets(root: Path) -> List[Snippet]:
    """Every ```` ```python ```` block of ``README.md`` and ``docs/**/*.md``, in page order."""
    pages = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
    found: List[Snippet] = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for number, match in enumerate(_FENCE.finditer(text), start=1):
            code = textwrap.dedent(match.group("code"))
            line = text.count("\n", 0, match.start()) + 1
            found.append(Snippet(page.relative_to(root).as_posix(), number, line, code))
    return found


def seed_examples(root: Path) -> List[Path]:
    return sorted((root / "examples").glob("*.py"))


# ---------------------------------------------------------------- the tree


@dataclass
class PortedSeed:
    """Where :func:`port_tree` wrote what."""

    root: Path
    out: Path
    examples: Dict[str, Path] = field(default_factory=dict)  # "chat_session_stdio.py" -> ported file
    snippets: Dict[str, Path] = field(default_factory=dict)  # "README.md#1" -> ported file
    errors: Dict[str, str] = field(default_factory=dict)  # what could not be ported, and why


def install_runtime(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{RUNTIME_MODULE}.py"
    shutil.copyfile(RUNTIME_SOURCE, target)
    return target


def snippet_filename(snippet: Snippet) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", snippet.page.rsplit(".", 1)[0]).strip("_").lower()
    return f"{stem}_{snippet.number}.py"


def port_tree(root: Path, out: Path) -> PortedSeed:
    """Port the seed's examples and snippets (as they are, no harness) into ``out``."""
    ported = PortedSeed(root=root, out=out)
    install_runtime(out)
    (out / "examples").mkdir(parents=True, exist_ok=True)
    (out / "snippets").mkdir(parents=True, exist_ok=True)
    for path in seed_examples(root):
        origin = path.relative_to(root).as_posix()
        try:
            code = port_source(path.read_text(encoding="utf-8"), origin)
        except SyntaxError as exc:
            ported.errors[path.name] = f"SyntaxError: {exc}"
            continue
        target = out / "examples" / path.name
        target.write_text(code, encoding="utf-8")
        ported.examples[path.name] = target
    for snippet in seed_snippets(root):
        try:
            code = port_source(snippet.code, f"{snippet.key} (line {snippet.line})")
        except SyntaxError as exc:
            ported.errors[snippet.key] = f"SyntaxError: {exc}"
            continue
        target = out / "snippets" / snippet_filename(snippet)
        target.write_text(code, encoding="utf-8")
        ported.snippets[snippet.key] = target
    return ported


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Port the async seed SDK's examples and snippets to codex_sync.")
    parser.add_argument("--out", default=None, help="where to write (default: a new temporary directory)")
    parser.add_argument("files", nargs="*", help="port these files to stdout instead")
    args = parser.parse_args(argv)
    if args.files:
        for name in args.files:
            sys.stdout.write(port_source(Path(name).read_text(encoding="utf-8"), name))
        return 0
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="codex-sync-seed-port-"))
    ported = port_tree(seed_root(), out)
    print(f"seed: {ported.root}")
    print(f"ported {len(ported.examples)} examples and {len(ported.snippets)} snippets into {out}")
    for key, error in ported.errors.items():
        print(f"not ported: {key}: {error}")
    return 1 if ported.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
