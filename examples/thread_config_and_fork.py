#!/usr/bin/env python3
"""Thread-scoped configuration and forking with ``ThreadHandle``.

Shows:
- ``client.start_thread(ThreadConfig(cwd=..., base_instructions=..., developer_instructions=..., model=...))``
- ``thread.chat_once(...)`` bound to that thread
- ``thread.update_defaults(ThreadConfig(model=...))`` (``--set-model``): applied with the next turn
- ``thread.fork()``: a new thread with the history and settings so far
- ``forked.chat(..., turn_overrides=TurnOverrides(effort="low"))``

Today's server keeps a thread's instructions once it has history (a fork
keeps them too): start a new thread to change them. The model, cwd, approval
policy and sandbox can change between turns.

    python examples/thread_config_and_fork.py --cwd . \\
        --base-instructions "Be concise." --developer-instructions "Prioritize correctness."
    python examples/thread_config_and_fork.py --transport websocket --url ws://127.0.0.1:8765
    python examples/thread_config_and_fork.py --quiet
"""

from __future__ import annotations

import argparse

from _common import Checkpoints, connect, main, make_parser, print_step

from codex_sync import ThreadConfig, TurnOverrides


def run(args: argparse.Namespace) -> int:
    checkpoint = Checkpoints(args.quiet)
    with connect(args) as client:
        checkpoint.connected(client, args)
        config = ThreadConfig(
            cwd=args.cwd,
            base_instructions=args.base_instructions,
            developer_instructions=args.developer_instructions,
        )
        if args.model:
            config = config.merged(ThreadConfig(model=args.model))
        thread = client.start_thread(config)
        checkpoint(f"thread started: {thread.thread_id} (cwd={args.cwd})")

        first = thread.chat_once(args.prompt)
        checkpoint(f"turn completed: {first.turn_id}")
        print(f"[thread:{thread.thread_id}] {first.final_text}", flush=True)

        if args.set_model:
            thread.update_defaults(ThreadConfig(model=args.set_model))
            checkpoint(f"thread defaults updated: model={args.set_model} (applied with the next turn)")

        forked = thread.fork()
        checkpoint(f"forked: {thread.thread_id} -> {forked.thread_id}")
        print(f"[fork] parent={thread.thread_id} forked={forked.thread_id}", flush=True)

        stream = forked.chat(args.fork_prompt, turn_overrides=TurnOverrides(effort="low"))
        checkpoint(f"turn started on the fork: {stream.turn_id} (effort=low)")
        for step in stream:
            if not args.quiet or step.step_type == "codex":
                print_step(step)
        checkpoint(f"turn completed: {stream.turn_id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__)
    parser.add_argument("--cwd", default=".", help="the thread's working directory")
    parser.add_argument("--model", help="model of the new thread (default: the server's)")
    parser.add_argument("--set-model", help="model to switch the thread to after its first turn")
    parser.add_argument("--base-instructions", default="Be concise and precise.")
    parser.add_argument("--developer-instructions", default="Prefer actionable suggestions.")
    parser.add_argument("--prompt", default="Summarize what this repository appears to do.")
    parser.add_argument(
        "--fork-prompt", default="Now focus on test strategy and suggest 3 concrete test cases."
    )
    return parser


if __name__ == "__main__":
    main(run, build_parser())
