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

from _common import main, make_parser, run_session

DEFAULT_PROMPTS = [
    "I am connected over a websocket. Reply with one sentence.",
    "Give two practical tips for resilient JSON-RPC clients.",
    "Compress those tips into one line.",
]


def run(args: argparse.Namespace) -> int:
    return run_session(args, "websocket", DEFAULT_PROMPTS)


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__, transports=("websocket",))
    parser.add_argument("--prompt", action="append", dest="prompts", help="a prompt (repeat for more turns)")
    parser.add_argument("--user", default="example-websocket-user", help="user id sent with each turn")
    return parser


if __name__ == "__main__":
    main(run, build_parser())
