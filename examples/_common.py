"""Shared pieces of the codex_sync examples: flags, connecting, checkpoints, errors.

Every example builds its parser with :func:`make_parser`, connects with
:func:`connect` and runs under :func:`main`, which prints one ``error:`` line
and exits 1 on any :class:`codex_sync.CodexError`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from codex_sync import (
    ChatResult,
    CodexClient,
    CodexError,
    CodexTurnInactiveError,
    ConversationStep,
    ThreadHandle,
)

DEFAULT_WS_URL = "ws://127.0.0.1:8765"


def make_parser(
    description: Optional[str],
    *,
    transports: Sequence[str] = ("stdio", "websocket"),
    inactivity_timeout: Optional[float] = 120.0,
) -> argparse.ArgumentParser:
    """A parser with the connection flags of ``transports``, ``--quiet`` and ``--inactivity-timeout``.

    ``--transport`` is only offered when both transports are; ``--cmd`` with
    stdio, ``--url``/``--token`` with websocket. Pass ``inactivity_timeout=None``
    to leave ``--inactivity-timeout`` out.
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if len(transports) > 1:
        parser.add_argument("--transport", choices=list(transports), default=transports[0])
    else:
        parser.set_defaults(transport=transports[0])
    if "stdio" in transports:
        parser.add_argument(
            "--cmd",
            help="app-server command for stdio (default: $CODEX_APP_SERVER_CMD, else `codex app-server`)",
        )
    if "websocket" in transports:
        parser.add_argument(
            "--url", help=f"websocket URL (default: $CODEX_APP_SERVER_WS_URL, else {DEFAULT_WS_URL})"
        )
        parser.add_argument("--token", help="websocket bearer token (default: $CODEX_APP_SERVER_TOKEN); write --token=VALUE if it starts with -")
    if inactivity_timeout is not None:
        parser.add_argument(
            "--inactivity-timeout",
            type=float,
            default=inactivity_timeout,
            help="seconds a turn may stay silent before we resume or cancel it (<= 0: no limit)",
        )
    parser.add_argument("--quiet", action="store_true", help="minimal output: no lifecycle checkpoints")
    return parser


def seconds_or_none(value: Optional[float]) -> Optional[float]:
    """``--inactivity-timeout``: a positive number of seconds, or ``None`` (no limit) for <= 0."""
    return value if value is not None and value > 0 else None


def connect(args: argparse.Namespace, **options: Any) -> CodexClient:
    """An unstarted client for ``args.transport`` (use it in a ``with`` block)."""
    if "inactivity_timeout" not in options and hasattr(args, "inactivity_timeout"):
        options["inactivity_timeout"] = seconds_or_none(args.inactivity_timeout)
    if args.transport == "websocket":
        return CodexClient.connect_websocket(args.url, token=args.token, **options)
    return CodexClient.connect_stdio(args.cmd, **options)


def endpoint(args: argparse.Namespace) -> str:
    """Where ``args`` connect, for messages (never the token)."""
    if args.transport == "websocket":
        return args.url or os.environ.get("CODEX_APP_SERVER_WS_URL") or DEFAULT_WS_URL
    return "stdio: " + (args.cmd or os.environ.get("CODEX_APP_SERVER_CMD") or "codex app-server")


class Checkpoints:
    """Prints ``[checkpoint] <what happened>`` lines, unless quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[checkpoint] {message}", flush=True)

    def connected(self, client: CodexClient, args: argparse.Namespace) -> None:
        """Initialize (at once, to fail fast) and report the server."""
        init = client.initialize()
        self(f"connected: {endpoint(args)}")
        self(
            f"initialized: codex app-server {init.server_version or 'unknown'}"
            f" ({init.platform_os or 'unknown os'})"
        )


def step_summary(step: ConversationStep) -> Dict[str, Any]:
    """The interesting fields of a step's item, for ``--show-data``."""
    item = step.data.get("item") if isinstance(step.data, dict) else None
    if not isinstance(item, dict):
        return {"item_type": step.item_type, "item_id": step.item_id}
    if step.item_type == "commandExecution":
        keys = ("command", "cwd", "status", "exitCode", "durationMs")
    elif step.item_type == "mcpToolCall":
        keys = ("server", "tool", "status", "error")
    elif step.item_type == "fileChange":
        changes = item.get("changes")
        return {"status": item.get("status"), "changes": len(changes) if isinstance(changes, list) else None}
    else:
        return {"item_type": step.item_type, "item_id": step.item_id}
    return {key: item.get(key) for key in keys}


def command_output(step: ConversationStep) -> str:
    """The output an ``exec`` step's command printed (``""`` for other steps)."""
    item = step.data.get("item") if isinstance(step.data, dict) else None
    output = item.get("aggregatedOutput") if isinstance(item, dict) else None
    return output.strip() if isinstance(output, str) else ""


def print_step(step: ConversationStep, *, show_data: bool = False) -> None:
    """One line per step, ``[type] text``; an exec step's output indented below it."""
    print(f"[{step.step_type}] {(step.text or '').strip()}", flush=True)
    for line in command_output(step).splitlines()[:20]:
        print(f"    > {line}", flush=True)
    if show_data:
        print(f"    data: {json.dumps(step_summary(step), sort_keys=True)}", flush=True)


def warn_inactive(exc: CodexTurnInactiveError, action: str) -> None:
    """The ``[warn]`` line (on stderr) for a turn that went quiet."""
    idle = f"{exc.idle_seconds:.1f}s" if exc.idle_seconds is not None else "unknown time"
    c = exc.continuation
    print(
        f"[warn] turn inactive for {idle} (thread_id={c.thread_id} turn_id={c.turn_id}); {action}",
        file=sys.stderr,
        flush=True,
    )


def chat_once_resuming(target: Union[CodexClient, ThreadHandle], prompt: str, **turn_args: Any) -> ChatResult:
    """``target.chat_once(prompt, **turn_args)`` (a client or a thread handle), resuming
    the same turn each time it stays inactive longer than the inactivity timeout."""
    try:
        return target.chat_once(prompt, **turn_args)
    except CodexTurnInactiveError as exc:
        continuation = exc.continuation
        warn_inactive(exc, "resuming...")
    while True:
        try:
            return target.chat_once(continuation=continuation)
        except CodexTurnInactiveError as exc:
            continuation = exc.continuation
            warn_inactive(exc, "resuming...")


def main(run: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser) -> None:
    """Parse the arguments, call ``run(args)`` and exit with its status.

    A :class:`CodexError` prints one ``error: <Type>: <message>`` line on
    stderr and exits 1; Ctrl-C exits 130.
    """
    args = parser.parse_args()
    try:
        status = run(args)
    except CodexError as exc:
        lines = str(exc).strip().splitlines()
        print(f"error: {type(exc).__name__}: {lines[0] if lines else 'failed'}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("\n[interrupt] cancelled by the user", file=sys.stderr)
        status = 130
    sys.exit(status)


def run_session(args: argparse.Namespace, label: str, default_prompts: List[str]) -> int:
    """The chat_session_* examples: turns on one thread, printing answers and metadata."""
    checkpoint = Checkpoints(args.quiet)
    thread_id = None
    with connect(args) as client:
        checkpoint.connected(client, args)
        for index, prompt in enumerate(args.prompts or default_prompts, start=1):
            if not args.quiet:
                print(f"\n[user:{index}] {prompt}", flush=True)
            result = chat_once_resuming(
                client,
                prompt,
                thread_id=thread_id,
                user=args.user,
                metadata={"example": label, "turn_index": index, "client": "codex_sync"},
            )
            if thread_id is None:
                checkpoint(f"thread started: {result.thread_id}")
            thread_id = result.thread_id
            if args.quiet:
                print(result.final_text, flush=True)
                continue
            print(f"[assistant:{index}] {result.final_text}")
            print(
                f"[meta] thread_id={result.thread_id} turn_id={result.turn_id}"
                f" steps={len(result.steps)} events={len(result.raw_events)}",
                flush=True,
            )
        checkpoint(f"session done: {thread_id}")
    return 0
