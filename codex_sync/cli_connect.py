"""How ``codex-sync`` reaches a server: ``--cmd``/``--url``/``--token`` checked, and errors in the CLI's words."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
from typing import Any, List, Optional

from .client import CodexClient


class UsageError(Exception):
    """A bad flag or value: one line on stderr, exit status 2."""


_API_HINTS = (
    (re.compile(r"connect_stdio\(command=\[?\.\.\.\]?\)"), "--cmd"),
    (re.compile(r"connect_websocket\(url=\.\.\.\)"), "--url"),
    (re.compile(r"connect_websocket\(token=\.\.\.\)"), "--token"),
    (re.compile(r"user_input_handler=\S*"), "--approve ask"),
    (re.compile(r"approval_handler=\S*"), "--approve"),
)


def cli_message(exc: BaseException) -> str:
    """The first line of an error, with API hints (``connect_stdio(command=...)``) in flag terms."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    for pattern, flag in _API_HINTS:
        first = pattern.sub(flag, first)
    return first


def _check_command(value: str, source: str) -> List[str]:
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise UsageError(f"{source}: cannot split {value!r}: {exc} (quote it like a shell command)") from None
    if not argv:
        raise UsageError(f"{source} is empty (give a command, e.g. --cmd 'codex app-server')")
    program = argv[0]
    found = (os.path.isfile(program) and os.access(program, os.X_OK)) if os.sep in program else shutil.which(program)
    if not found:
        raise UsageError(f"{source}: {program!r} is not an executable file or a command on PATH "
                         f"(give its path, e.g. --cmd '/path/to/codex app-server')")
    return argv


def _check_url(url: str, source: str) -> str:
    if url.startswith(("ws://", "wss://")):
        if len(url.split("://", 1)[1].strip("/")) == 0:
            raise UsageError(f"{source} {url!r} has no host (e.g. --url ws://127.0.0.1:8765)")
        return url
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("http", "https"):
        better = ("ws://" if scheme == "http" else "wss://") + rest
    else:
        better = "ws://" + (rest if sep else url)
    raise UsageError(f"{source} must start with ws:// or wss://, not {url!r} (did you mean --url {better}?)")


def connect(args: argparse.Namespace, **options: Any) -> CodexClient:
    """The client the flags describe, not started yet. Raises :class:`UsageError` for bad flags."""
    transport = args.transport or ("websocket" if args.url or args.token else "stdio")
    if transport == "stdio":
        if args.url or args.token:
            raise UsageError("--url and --token are for --transport websocket (stdio runs --cmd)")
        if args.cmd is not None:
            command: Optional[List[str]] = _check_command(args.cmd, "--cmd")
        elif os.environ.get("CODEX_APP_SERVER_CMD", "").strip():
            command = _check_command(os.environ["CODEX_APP_SERVER_CMD"], "$CODEX_APP_SERVER_CMD")
        else:
            command = None  # `codex` on PATH, then the runtime package: the client looks
        if args.cwd and not os.path.isdir(args.cwd):
            raise UsageError(f"--cwd {args.cwd!r} is not a directory")
        return CodexClient.connect_stdio(command, **options)
    if args.cmd is not None:
        raise UsageError("--cmd is for --transport stdio (websocket connects to --url)")
    if args.url is not None:
        url = _check_url(args.url, "--url")
    elif os.environ.get("CODEX_APP_SERVER_WS_URL"):
        url = _check_url(os.environ["CODEX_APP_SERVER_WS_URL"], "$CODEX_APP_SERVER_WS_URL")
    else:
        url = "ws://127.0.0.1:8765"
    return CodexClient.connect_websocket(url, token=args.token, **options)


# -- running turns --------------------------------------------------------------
