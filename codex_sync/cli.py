"""``python -m codex_sync`` / ``codex-sync``: chat with a server, or run the offline demo."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Sequence

from .client import CodexClient
from .config import ThreadConfig
from .errors import CodexError, CodexTurnInactiveError
from .values import ConversationStep, TextDelta


def _add_connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transport", choices=["stdio", "websocket"], default="stdio")
    parser.add_argument("--cmd", help="app-server command for stdio (default: $CODEX_APP_SERVER_CMD or `codex app-server`)")
    parser.add_argument("--url", help="websocket URL (default: $CODEX_APP_SERVER_WS_URL or ws://127.0.0.1:8765)")
    parser.add_argument("--token", help="websocket bearer token (default: $CODEX_APP_SERVER_TOKEN); write --token=VALUE if it starts with -")
    parser.add_argument("--inactivity-timeout", type=float, default=None, help="seconds of silence before resuming")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = argparse.ArgumentParser(prog="codex-sync", description="A synchronous client for codex app-server.")
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="run one prompt (or several, in one thread) and print the steps")
    chat.add_argument("prompt", nargs="+", help="the prompt(s); several run as turns of one thread")
    _add_connection_flags(chat)
    chat.add_argument("--thread-id", help="continue this thread instead of starting one")
    chat.add_argument("--cwd", help="working directory of a new thread")
    chat.add_argument("--model", help="model of a new thread")
    chat.add_argument("--developer-instructions")
    chat.add_argument("--base-instructions")
    chat.add_argument("--show-data", action="store_true", help="print each step's raw item")
    chat.add_argument("--quiet", action="store_true", help="print only the final answer")
    chat.add_argument("--cancel-on-timeout", action="store_true", help="cancel instead of resuming an inactive turn")
    sub.add_parser("demo", help="run a real app-server against a scripted fake model (no account needed)")
    return parser


def _connect(args: argparse.Namespace) -> CodexClient:
    options = {"inactivity_timeout": args.inactivity_timeout}
    if args.transport == "websocket":
        return CodexClient.connect_websocket(args.url, token=args.token, **options)
    return CodexClient.connect_stdio(args.cmd, **options)


def print_step(step: ConversationStep, show_data: bool = False) -> None:
    """Print one step as ``[type] text``."""
    print(f"[{step.step_type}] {step.text}", flush=True)
    output = (step.data.get("item") or {}).get("aggregatedOutput") if step.step_type == "exec" else None
    if isinstance(output, str) and output.strip():
        for line in output.strip().splitlines()[:20]:
            print(f"    > {line}", flush=True)
    if show_data:
        print(f"    data: {step.data.get('item')}", flush=True)


def run_turns(client: CodexClient, prompts: Sequence[str], args: argparse.Namespace) -> int:
    """Run each prompt as a turn of one thread, resuming across inactivity timeouts."""
    thread_id: Optional[str] = getattr(args, "thread_id", None)
    config = ThreadConfig(
        **{k: v for k, v in (("cwd", args.cwd), ("model", args.model),
                             ("developer_instructions", args.developer_instructions),
                             ("base_instructions", args.base_instructions)) if v is not None}
    )
    for prompt in prompts:
        stream = client.chat(prompt, thread_id=thread_id, thread_config=None if thread_id else config,
                             on_delta=None if args.quiet else _no_delta)
        thread_id = stream.thread_id
        if not args.quiet:
            print(f"--- thread {stream.thread_id} turn {stream.turn_id}", flush=True)
        final = ""
        while True:
            try:
                for step in stream:
                    if step.step_type == "codex":
                        final = step.text
                    if not args.quiet:
                        print_step(step, args.show_data)
                break
            except CodexTurnInactiveError as exc:
                if args.cancel_on_timeout:
                    result = client.cancel(exc.continuation)
                    print(f"[cancelled] turn {result.turn_id} after {exc.idle_seconds:.1f}s idle", flush=True)
                    break
                print(f"[waiting] turn inactive for {exc.idle_seconds:.1f}s; resuming", flush=True)
                stream = client.chat(continuation=exc.continuation)
        if final:
            print(final if args.quiet else f"=== {final}", flush=True)
    return 0


def _no_delta(delta: TextDelta) -> None:
    """Deltas are not printed: steps are (kept so the hook is exercised)."""


def run_demo() -> int:
    """Start a real app-server on a scripted model and show one rich turn."""
    from .testing import AppServer, ScriptedModel, exec_command, reasoning, text

    with ScriptedModel() as model, AppServer(model) as server:
        model.on(
            "Show me",
            exec_command("echo hello from a real codex app-server"),
            text(
                "The command printed a greeting: the whole turn ran offline.",
                reasoning=reasoning("I should run a command, then report what it printed."),
            ),
        )
        with server.client() as client:
            init = client.initialize()
            print(f"codex app-server {init.server_version} ({init.platform_os}), scripted model at {model.url}")
            for step in client.chat("Show me what you can do."):
                print_step(step)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status (errors print one line, status 1)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return run_demo()
        with _connect(args) as client:
            return run_turns(client, args.prompt, args)
    except CodexError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"codex-sync: error: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("codex-sync: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:  # e.g. the demo's runtime binary is missing
        print(f"codex-sync: error: {exc}", file=sys.stderr)
        return 1
