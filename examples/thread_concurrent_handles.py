#!/usr/bin/env python3
"""Run turns on two fresh threads at the same time over ONE client connection.

Shows:
- ``client.start_thread()`` twice: two new ``ThreadHandle`` objects (no ``thread/resume``)
- one Python thread per handle, each iterating ``handle.chat(...)`` concurrently
- the shared client routing every step to the right caller
- resuming a turn after an inactivity timeout (``continuation``)

    python examples/thread_concurrent_handles.py --transport stdio
    python examples/thread_concurrent_handles.py --prompt "Name a fruit." --prompt "Name a river." --quiet
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Dict, List

from _common import Checkpoints, connect, main, make_parser, warn_inactive

from codex_sync import CodexTurnInactiveError, ThreadHandle

DEFAULT_PROMPTS = [
    "Give one sentence on why thread-safe clients matter.",
    "Give one sentence on what a JSON-RPC notification is.",
]

print_lock = threading.Lock()


def say(line: str) -> None:
    with print_lock:
        print(line, flush=True)


def run_turn(label: str, handle: ThreadHandle, prompt: str, args: argparse.Namespace, out: Dict[str, str]) -> None:
    """One worker: stream one turn on ``handle`` and store its final answer in ``out``."""
    started = time.monotonic()
    stream = handle.chat(prompt, user=args.user, metadata={"example": "concurrent", "label": label})
    final = ""
    while True:
        try:
            for step in stream:
                if step.step_type == "codex":
                    final = step.text
                if not args.quiet:
                    say(f"[{label}] [{step.step_type}] {step.text.strip()}")
            break
        except CodexTurnInactiveError as exc:
            warn_inactive(exc, "resuming...")
            stream = handle.chat(continuation=exc.continuation)
    out[label] = final
    if not args.quiet:
        say(f"[checkpoint] turn completed: {label} {stream.turn_id} ({time.monotonic() - started:.2f}s)")


def run(args: argparse.Namespace) -> int:
    checkpoint = Checkpoints(args.quiet)
    prompts: List[str] = args.prompts or DEFAULT_PROMPTS
    labels = [chr(ord("A") + i) for i in range(len(prompts))]
    with connect(args) as client:
        checkpoint.connected(client, args)
        handles = [client.start_thread() for _ in prompts]
        for label, handle in zip(labels, handles):
            checkpoint(f"thread started: {label}={handle.thread_id}")

        answers: Dict[str, str] = {}
        errors: List[BaseException] = []

        def worker(label: str, handle: ThreadHandle, prompt: str) -> None:
            try:
                run_turn(label, handle, prompt, args, answers)
            except BaseException as exc:  # re-raised below, in the main thread
                errors.append(exc)

        workers = [
            threading.Thread(target=worker, args=(label, handle, prompt), name=f"turn-{label}")
            for label, handle, prompt in zip(labels, handles, prompts)
        ]
        started = time.monotonic()
        checkpoint(f"running {len(workers)} turns concurrently over one connection")
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        if errors:
            raise errors[0]
        checkpoint(f"all turns completed in {time.monotonic() - started:.2f}s")
        for label, handle in zip(labels, handles):
            print(f"[{label}] thread_id={handle.thread_id} answer={answers[label]}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__)
    parser.add_argument(
        "--prompt", action="append", dest="prompts", help="a prompt; one new thread per prompt (default: 2)"
    )
    parser.add_argument("--user", default="example-concurrent-user", help="user id sent with each turn")
    return parser


if __name__ == "__main__":
    main(run, build_parser())
