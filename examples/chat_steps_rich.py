#!/usr/bin/env python3
"""Stream the completed steps of a few turns and print each as a block.

Shows:
- ``client.chat(...)``: an iterator of completed steps (thinking, exec, codex, ...)
- resuming the same turn after an inactivity timeout (``continuation``)
- or, with ``--cancel-on-timeout``, cancelling it and printing the unread steps
- stdio and websocket transports

    python examples/chat_steps_rich.py
    python examples/chat_steps_rich.py --transport websocket --url ws://127.0.0.1:8765
    python examples/chat_steps_rich.py --show-data --cancel-on-timeout
"""

from __future__ import annotations

import argparse
import json
import sys

from _common import Checkpoints, command_output, connect, main, make_parser, step_summary, warn_inactive

from codex_sync import CodexTurnInactiveError, ConversationStep

DEFAULT_PROMPTS = [
    "Look at what changed in this directory and explain your approach briefly.",
    "Run a suitable check command and summarize the result.",
    "Draft a concise commit message.",
]
RULE = "=" * 88


def print_block(step: ConversationStep, *, show_data: bool) -> None:
    """One completed step as a readable block."""
    print(RULE)
    print(f"[{step.step_type}] item_type={step.item_type or '-'} item_id={step.item_id or '-'}")
    print(f"thread={step.thread_id} turn={step.turn_id}")
    print("-" * 88)
    print(step.text or "(no text)")
    output = command_output(step)
    if output:
        print("-" * 88)
        print(output)
    if show_data:
        print("-" * 88)
        print("data:")
        print(json.dumps(step_summary(step), indent=2, sort_keys=True))
    print(RULE, flush=True)


def run(args: argparse.Namespace) -> int:
    checkpoint = Checkpoints(args.quiet)
    thread_id = None
    with connect(args) as client:
        checkpoint.connected(client, args)
        for index, prompt in enumerate(args.prompts or DEFAULT_PROMPTS, start=1):
            if not args.quiet:
                print(f"\n[user:{index}] {prompt}", flush=True)
            stream = client.chat(
                prompt,
                thread_id=thread_id,
                user=args.user,
                metadata={"example": "steps-rich", "turn_index": index, "transport": args.transport},
            )
            if thread_id is None:
                checkpoint(f"thread started: {stream.thread_id}")
            thread_id = stream.thread_id
            checkpoint(f"turn started: {stream.turn_id}")
            steps = 0
            final = ""
            while True:
                try:
                    for step in stream:
                        steps += 1
                        if step.step_type == "codex":
                            final = step.text
                        if not args.quiet:
                            print_block(step, show_data=args.show_data)
                    checkpoint(f"turn completed: {stream.turn_id}")
                    break
                except CodexTurnInactiveError as exc:
                    if not args.cancel_on_timeout:
                        warn_inactive(exc, "resuming the same turn...")
                        stream = client.chat(continuation=exc.continuation)
                        continue
                    warn_inactive(exc, "cancelling it")
                    cancelled = client.cancel(exc.continuation)
                    for step in cancelled.steps:
                        steps += 1
                        if not args.quiet:
                            print_block(step, show_data=args.show_data)
                    print(
                        f"[meta] cancelled turn_id={cancelled.turn_id}"
                        f" unread_steps={len(cancelled.steps)} unread_events={len(cancelled.raw_events)}"
                        f" interrupted={cancelled.was_interrupted}",
                        file=sys.stderr,
                        flush=True,
                    )
                    checkpoint(f"turn cancelled: {cancelled.turn_id}")
                    break
            if args.quiet:
                print(final, flush=True)
            else:
                print(f"[meta] thread_id={thread_id} steps={steps}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__)
    parser.add_argument("--prompt", action="append", dest="prompts", help="a prompt (repeat for more turns)")
    parser.add_argument("--user", default="example-step-stream-user", help="user id sent with each turn")
    parser.add_argument("--show-data", action="store_true", help="print a summary of each step's item")
    parser.add_argument(
        "--cancel-on-timeout", action="store_true", help="cancel an inactive turn instead of resuming it"
    )
    return parser


if __name__ == "__main__":
    main(run, build_parser())
