#!/usr/bin/env python3
"""Continue an existing thread, by id, in a new connection.

Shows:
- ``client.resume_thread(thread_id)``: load a stored thread and get its ``ThreadHandle``
- ``thread.read(include_turns=True)``: what the thread holds so far
- ``thread.chat_once(...)`` with the whole earlier conversation as context
- resuming the turn after an inactivity timeout (``continuation``)

    python examples/thread_resume_by_id.py --thread-id <existing-thread-id> \\
        --prompt "Continue the previous conversation."
    python examples/thread_resume_by_id.py --thread-id <existing-thread-id> --quiet
"""

from __future__ import annotations

import argparse

from _common import Checkpoints, chat_once_resuming, connect, main, make_parser


def count_turns(snapshot: dict) -> int:
    turns = (snapshot.get("thread") or {}).get("turns")
    return len(turns) if isinstance(turns, list) else 0


def run(args: argparse.Namespace) -> int:
    checkpoint = Checkpoints(args.quiet)
    with connect(args) as client:
        checkpoint.connected(client, args)
        thread = client.resume_thread(args.thread_id)
        before = count_turns(thread.read(include_turns=True))
        checkpoint(f"thread resumed: {thread.thread_id} ({before} earlier turns)")

        result = chat_once_resuming(thread, args.prompt, user=args.user)
        checkpoint(f"turn completed: {result.turn_id}")
        if args.quiet:
            print(result.final_text, flush=True)
        else:
            print(f"[user] {args.prompt}")
            print(f"[assistant] {result.final_text}")
            after = count_turns(thread.read(include_turns=True))
            print(f"[meta] thread_id={result.thread_id} turn_id={result.turn_id} turns={after}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__)
    parser.add_argument("--thread-id", required=True, help="id of the thread to continue")
    parser.add_argument("--prompt", default="Continue the previous conversation.")
    parser.add_argument("--user", default="example-resume-user", help="user id sent with the turn")
    return parser


if __name__ == "__main__":
    main(run, build_parser())
