"""``python -m codex_sync.testing serve``: a kit server to point any client at, until Ctrl-C.

Starts a :class:`~codex_sync.testing.ScriptedModel` with a small default
script (:func:`script_default`) and an :class:`~codex_sync.testing.AppServer`
on it, prints how to reach it as ``export`` lines for a POSIX shell, and stays
up until SIGINT (Ctrl-C) or SIGTERM; then it stops the model and the server
and removes the throw-away ``CODEX_HOME`` and ``HOME``.

- stdio (default): ``CODEX_APP_SERVER_CMD`` is a self-contained command,
  ``env CODEX_HOME=... HOME=... PATH=... <codex> app-server``, so each client
  (``CodexClient.connect_stdio()``, ``python -m codex_sync chat``) spawns its
  own server on the test home without touching the shell's own ``HOME``.
- ``--websocket``: one server process; ``CODEX_APP_SERVER_WS_URL`` and
  ``CODEX_APP_SERVER_TOKEN`` are what ``CodexClient.connect_websocket()``
  reads.

This is a program's entry point: it installs SIGINT and SIGTERM handlers,
which the library itself never does.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from typing import Any, List, NoReturn, Optional

from .launcher import AppServer
from .model import ScriptedModel
from .replies import exec_command, reasoning, text

__all__ = ["main", "script_default", "shell_lines"]

#: The prompt fragment of the default script's one scripted turn.
SHOW_ME = "Show me"


def script_default(model: ScriptedModel) -> None:
    """Script ``model`` like ``python -m codex_sync demo``; everything else gets the echo fallback.

    A prompt containing ``"Show me"`` makes the model reason, run ``echo hello
    from a real codex app-server`` and then answer; any other prompt is
    answered ``"echo: <prompt>"``. The ``Show me`` replies are queued many
    times so the turn can be repeated.
    """
    for _ in range(100):
        model.on(
            SHOW_ME,
            exec_command("echo hello from a real codex app-server"),
            text(
                "The command printed a greeting: the whole turn ran offline.",
                reasoning=reasoning("I should run a command, then report what it printed."),
            ),
        )


def shell_lines(server: AppServer, model: ScriptedModel) -> List[str]:
    """What ``serve`` prints: comments, then ``export`` lines a POSIX shell accepts as they are."""
    lines = [f"# codex_sync.testing serve: a real codex app-server ({server.transport}) on a scripted model"]
    lines.append(f"# model: {model.url}")
    lines.append(f"# home: {server.codex_home.parent}")
    if server.transport == "websocket":
        lines.append(f"# server pid: {server.pid}")
        lines.append("# Paste into a shell, then CodexClient.connect_websocket() (or python -m codex_sync chat "
                     "--transport websocket hi) reaches it:")
        lines.append(f"export CODEX_APP_SERVER_WS_URL={shlex.quote(server.url)}")
        lines.append(f"export CODEX_APP_SERVER_TOKEN={shlex.quote(server.token)}")
    else:
        env = [f"{key}={value}" for key, value in sorted(server.env.items())]
        command = shlex.join(["env", *env, *server.command])
        lines.append("# Paste into a shell, then CodexClient.connect_stdio() (or python -m codex_sync chat hi) "
                     "spawns a server on the test home:")
        lines.append(f"export CODEX_APP_SERVER_CMD={shlex.quote(command)}")
    lines.append(f'# Script: a prompt containing "{SHOW_ME}" runs a command; any other gets "echo: <prompt>".')
    lines.append("# ready: Ctrl-C or SIGTERM stops it and removes the home.")
    return lines


class _Stop(Exception):
    """Raised in the main thread by the SIGINT/SIGTERM handler."""


def _on_signal(signum: int, frame: Any) -> NoReturn:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m codex_sync.testing``."""
    parser = argparse.ArgumentParser(
        prog="python -m codex_sync.testing", description="The codex_sync test kit, from the command line."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run a real codex app-server on a scripted model and print how to reach it, until Ctrl-C",
    )
    serve.add_argument("--websocket", action="store_true", help="one websocket server (default: stdio)")
    serve.add_argument("--approval-policy", choices=["never", "on-request"], default="never")
    serve.add_argument(
        "--sandbox-mode", choices=["danger-full-access", "workspace-write", "read-only"],
        default="danger-full-access",
    )
    serve.add_argument("--cwd", help="working directory of the server processes (default: this one)")
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGINT or SIGTERM; return 0 (130 if stopped before it was ready)."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    ready = False
    try:
        with ScriptedModel() as model, AppServer(
            model,
            transport="websocket" if args.websocket else "stdio",
            approval_policy=args.approval_policy,
            sandbox_mode=args.sandbox_mode,
            cwd=args.cwd,
        ) as server:
            script_default(model)
            print("\n".join(shell_lines(server, model)), flush=True)
            ready = True
            while True:
                time.sleep(3600)
    except (_Stop, KeyboardInterrupt) as stop:
        print(f"# stopped ({stop or 'interrupted'}); the test home is removed.", flush=True)
        return 0 if ready else 130


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m codex_sync.testing``; returns the exit status (errors: 1)."""
    args = build_parser().parse_args(argv)
    try:
        return serve(args)
    except (RuntimeError, ValueError, OSError) as exc:  # no codex binary, server did not start
        print(f"codex_sync.testing: error: {exc}", file=sys.stderr)
        return 1
