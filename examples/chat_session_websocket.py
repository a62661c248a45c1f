#!/usr/bin/env python3
"""A short multi-turn chat with a codex app-server reached over a websocket.

Shows:
- the explicit ``initialize`` handshake
- several turns on one thread (the first creates it; the others reuse its id)
- resuming a turn after an inactivity timeout (``continuation``)
- ``user`` and ``metadata`` sent with each turn
- the URL and token: ``--url``/``--token``, else ``$CODEX_APP_SERVER_WS_URL``/``$CODEX_APP_SERVER_TOKEN``

    python examples/chat_session_websocket.py
    python examples/chat_session_websocket.py --url ws://127.0.0.1:8765 --token "$CODEX_APP_SERVER_TOKEN"
"""

from __future__ import annotations

import argparse

from _common import Checkpoints, chat_once_resuming, connect, main, make_parser

DEFAULT_PROMPTS = [
    "I am connected over a websocket. Reply with one sentence.",
    "Give two practical tips for resilient JSON-RPC clients.",
    "Compress those tips into one line.",
]


def run(args: argparse.Namespace) -> int:
    checkpoint = Checkpoints(args.quiet)
    thread_id = None
    with connect(args) as client:
        checkpoint.connected(client, args)
        for index, prompt in enumerate(args.prompts or DEFAULT_PROMPTS, start=1):
            if not args.quiet:
                print(f"\n[user:{index}] {prompt}", flush=True)
            result = chat_once_resuming(
                client,
                prompt,
                thread_id=thread_id,
                user=args.user,
                metadata={"example": "websocket", "turn_index": index, "client": "codex_sync"},
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


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__, transports=("websocket",))
    parser.add_argument("--prompt", action="append", dest="prompts", help="a prompt (repeat for more turns)")
    parser.add_argument("--user", default="example-websocket-user", help="user id sent with each turn")
    return parser


if __name__ == "__main__":
    main(run, build_parser())
