#!/usr/bin/env python3
"""A short multi-turn chat with a codex app-server started over stdio.

Shows:
- the explicit ``initialize`` handshake
- several turns on one thread (the first creates it; the others reuse its id)
- resuming a turn after an inactivity timeout (``continuation``)
- ``user`` and ``metadata`` sent with each turn
- choosing the server command (``--cmd``, else ``$CODEX_APP_SERVER_CMD``)

    python examples/chat_session_stdio.py
    python examples/chat_session_stdio.py --cmd "codex app-server" --prompt "First" --prompt "Second"
"""

from __future__ import annotations

import argparse

from _common import main, make_parser, run_session

DEFAULT_PROMPTS = [
    "I am testing a Python client for codex app-server.",
    "Give me a short checklist for a robust stdio/websocket client.",
    "Now summarize that checklist in 3 bullets.",
]


def run(args: argparse.Namespace) -> int:
    return run_session(args, "stdio", DEFAULT_PROMPTS)


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__, transports=("stdio",))
    parser.add_argument("--prompt", action="append", dest="prompts", help="a prompt (repeat for more turns)")
    parser.add_argument("--user", default="example-stdio-user", help="user id sent with each turn")
    return parser


if __name__ == "__main__":
    main(run, build_parser())
