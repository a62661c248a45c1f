"""A fast stand-in ``codex app-server`` on stdio for the benchmarks.

Run as ``python flood_server.py [--deltas N] [--items M] [--small-deltas K] [--big BYTES]``.
It answers ``initialize``, ``thread/start``, ``thread/resume``, ``thread/read``,
``thread/list``, ``turn/start`` and ``turn/interrupt`` with the message shapes of
PROTOCOL.md §0–§2 (every notification carries ``emittedAtMs``, item and delta
notifications carry ``threadId``/``turnId``).

What a turn does is chosen by the text of the turn's first input item:

- ``flood``: the turn of PROTOCOL.md §2 with ``M`` agentMessage items and ``N``
  ``item/agentMessage/delta`` notifications spread evenly over them.
- ``small:MARKER``: one agentMessage item of ``K`` deltas whose text is
  ``answer to MARKER``.
- ``silent``: ``turn/started`` and then nothing until ``turn/interrupt``.
- ``big``: one agentMessage item whose ``text`` is ``BYTES`` ASCII characters.

Every turn is built from a template prepared at start-up (only the thread
and turn ids, and the marker, are substituted) and written with one
``write`` right after the ``turn/start`` reply, so the server is never the
slow side of a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from typing import Any, BinaryIO, Dict, List, Optional

JsonDict = Dict[str, Any]

THREAD_SLOT = "@@THREAD_ID_SLOT@@"
TURN_SLOT = "@@TURN_ID_SLOT@@"
MARKER_SLOT = "@@MARKER_SLOT@@"
NOW_MS = 1_795_000_000_000
DELTA_WORDS = ("Sure", ", here ", "is the ", "answer ", "you ", "asked ", "for", ". ")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _line(method: str, params: JsonDict) -> bytes:
    return _dumps({"method": method, "params": params, "emittedAtMs": NOW_MS}) + b"\n"


def _uuid(kind: int, n: int) -> str:
    """Deterministic UUID-shaped ids (the real server uses UUIDv7)."""
    return str(uuid.UUID(int=(0x019A << 112) | (kind << 96) | n))


def _turn(turn_id: str, status: str, items: List[JsonDict]) -> JsonDict:
    done = status != "inProgress"
    return {
        "id": turn_id,
        "rootTurnId": turn_id,
        "items": items,
        "itemsView": "summary" if done else "notLoaded",
        "status": status,
        "error": None,
        "startedAt": NOW_MS // 1000,
        "completedAt": NOW_MS // 1000 + 1 if done else None,
        "durationMs": 1000 if done else None,
    }


def _thread(thread_id: str) -> JsonDict:
    return {
        "id": thread_id,
        "sessionId": thread_id,
        "forkedFromId": None,
        "parentThreadId": None,
        "preview": "",
        "ephemeral": True,
        "modelProvider": "mock",
        "model": "mock-model",
        "createdAt": NOW_MS // 1000,
        "updatedAt": NOW_MS // 1000,
        "status": {"type": "idle"},
        "path": None,
        "cwd": "/tmp",
        "cliVersion": "0.169.0",
        "originator": "bench",
        "source": "vscode",
        "name": None,
        "turns": [],
    }


def _agent_item(item_id: str, text: str) -> JsonDict:
    return {
        "type": "agentMessage",
        "id": item_id,
        "text": text,
        "phase": None,
        "memoryCitation": None,
    }


def _usage(turn_slot: str) -> bytes:
    breakdown = {
        "totalTokens": 1200,
        "inputTokens": 1000,
        "cachedInputTokens": 0,
        "outputTokens": 200,
        "reasoningOutputTokens": 0,
    }
    return _line(
        "thread/tokenUsage/updated",
        {
            "threadId": THREAD_SLOT,
            "turnId": turn_slot,
            "tokenUsage": {"total": breakdown, "last": breakdown, "modelContextWindow": 272000},
        },
    )


def _status(state: str) -> bytes:
    status: JsonDict = {"type": state}
    if state == "active":
        status["activeFlags"] = []
    return _line("thread/status/changed", {"threadId": THREAD_SLOT, "status": status})


def _opening(prompt: str) -> List[bytes]:
    """Status, turn/started and the user message, as the real server sends them."""
    user_item = {
        "type": "userMessage",
        "id": "user-" + TURN_SLOT,
        "clientId": None,
        "content": [{"type": "text", "text": prompt, "text_elements": []}],
    }
    base = {"threadId": THREAD_SLOT, "turnId": TURN_SLOT}
    return [
        _status("active"),
        _line("turn/started", {"threadId": THREAD_SLOT, "turn": _turn(TURN_SLOT, "inProgress", [])}),
        _line("item/started", {**base, "item": user_item, "startedAtMs": NOW_MS}),
        _line("item/completed", {**base, "item": user_item, "completedAtMs": NOW_MS}),
    ]


def _closing(final: JsonDict) -> List[bytes]:
    return [
        _usage(TURN_SLOT),
        _line(
            "account/rateLimits/updated",
            {"rateLimits": {"limitId": "codex", "primary": None, "secondary": None, "credits": None}},
        ),
        _status("idle"),
        _line("turn/completed", {"threadId": THREAD_SLOT, "turn": _turn(TURN_SLOT, "completed", [final])}),
    ]


def _agent_message(item_id: str, deltas: List[str]) -> List[bytes]:
    """item/started, the deltas, item/completed of one agentMessage."""
    base = {"threadId": THREAD_SLOT, "turnId": TURN_SLOT}
    lines = [_line("item/started", {**base, "item": _agent_item(item_id, ""), "startedAtMs": NOW_MS})]
    for delta in deltas:
        lines.append(_line("item/agentMessage/delta", {**base, "itemId": item_id, "delta": delta}))
    item = _agent_item(item_id, "".join(deltas))
    lines.append(_line("item/completed", {**base, "item": item, "completedAtMs": NOW_MS}))
    return lines


def build_flood(deltas: int, items: int) -> bytes:
    """The template of the flood turn: ``items`` agentMessages sharing ``deltas`` deltas."""
    lines = _opening("flood")
    final: JsonDict = {}
    for i in range(items):
        count = deltas // items + (1 if i < deltas % items else 0)
        words = [DELTA_WORDS[(i + k) % len(DELTA_WORDS)] for k in range(count)]
        item_id = f"msg_{i:04d}_{TURN_SLOT}"
        lines += _agent_message(item_id, words)
        final = _agent_item(item_id, "".join(words))
    return b"".join(lines + _closing(final))


def build_small(deltas: int) -> bytes:
    """The template of a small turn answering ``answer to MARKER``."""
    text = "answer to " + MARKER_SLOT
    step = max(1, -(-len(text) // max(1, deltas)))
    parts = [text[i * step : (i + 1) * step] for i in range(deltas)]
    parts = [p for p in parts if p] or [text]
    item_id = "msg_" + TURN_SLOT
    lines = _opening("small:" + MARKER_SLOT) + _agent_message(item_id, parts)
    return b"".join(lines + _closing(_agent_item(item_id, text)))


def build_big(size: int) -> List[bytes]:
    """The big turn as (head, body, tail): the body is the ``size``-byte text, never copied."""
    filler = "@@BIG_TEXT_SLOT@@"
    item_id = "msg_big_" + TURN_SLOT
    base = {"threadId": THREAD_SLOT, "turnId": TURN_SLOT}
    completed = _line("item/completed", {**base, "item": _agent_item(item_id, filler), "completedAtMs": NOW_MS})
    head, tail = completed.split(filler.encode())
    opening = _opening("big") + [
        _line("item/started", {**base, "item": _agent_item(item_id, ""), "startedAtMs": NOW_MS})
    ]
    closing = _closing(_agent_item(item_id, "(the big answer)"))
    return [b"".join(opening) + head, b"x" * size, tail + b"".join(closing)]


class Server:
    """The JSON-RPC loop: one request at a time, answers written at once."""

    def __init__(self, args: argparse.Namespace, out: BinaryIO) -> None:
        self.out = out
        self.flood = build_flood(args.deltas, args.items)
        self.small = build_small(args.small_deltas)
        self.big = build_big(args.big) if args.big else None
        self.threads = 0
        self.turns = 0
        self.silent: Dict[str, str] = {}  # thread id -> its running silent turn

    def write(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.out.write(chunk)
        self.out.flush()

    def reply(self, msg_id: Any, result: Any) -> None:
        self.write(_dumps({"id": msg_id, "result": result}) + b"\n")

    def error(self, msg_id: Any, code: int, message: str) -> None:
        self.write(_dumps({"id": msg_id, "error": {"code": code, "message": message}}) + b"\n")

    def handle(self, msg: JsonDict) -> None:
        method, msg_id = msg.get("method"), msg.get("id")
        if msg_id is None:
            return  # a notification (initialized)
        params = msg.get("params")
        if not isinstance(params, dict):
            self.error(msg_id, -32600, "Invalid request: missing field `params`")
            return
        if method == "initialize":
            self.reply(msg_id, {"userAgent": "flood_server/0.169.0 (benchmarks)", "codexHome": "/nonexistent",
                                "platformFamily": "unix", "platformOs": "linux"})
        elif method == "thread/start":
            self.threads += 1
            thread = _thread(_uuid(1, self.threads))
            self.reply(msg_id, {"thread": thread, "model": "mock-model", "modelProvider": "mock",
                                "serviceTier": None, "cwd": "/tmp", "approvalPolicy": "never",
                                "approvalsReviewer": "user", "sandbox": {"type": "dangerFullAccess"},
                                "reasoningEffort": None})
            self.write(_line("thread/started", {"thread": thread}))
        elif method in ("thread/resume", "thread/read"):
            self.reply(msg_id, {"thread": _thread(str(params.get("threadId")))})
        elif method == "thread/list":
            self.reply(msg_id, {"data": [], "nextCursor": None, "backwardsCursor": None})
        elif method == "turn/start":
            self.start_turn(msg_id, params)
        elif method == "turn/interrupt":
            self.interrupt(msg_id, params)
        else:
            self.error(msg_id, -32600, f"Invalid request: unknown variant `{method}`")

    def start_turn(self, msg_id: Any, params: JsonDict) -> None:
        thread_id = str(params.get("threadId"))
        items = params.get("input") or [{}]
        prompt = str(items[0].get("text", "")) if isinstance(items[0], dict) else ""
        self.turns += 1
        turn_id = _uuid(2, self.turns)
        self.reply(msg_id, {"turn": _turn(turn_id, "inProgress", [])})
        thread_b, turn_b = thread_id.encode(), turn_id.encode()
        if prompt == "flood":
            self.write(self.flood.replace(THREAD_SLOT.encode(), thread_b).replace(TURN_SLOT.encode(), turn_b))
        elif prompt.startswith("small:"):
            marker = prompt[len("small:") :].encode()
            payload = self.small.replace(THREAD_SLOT.encode(), thread_b).replace(TURN_SLOT.encode(), turn_b)
            self.write(payload.replace(MARKER_SLOT.encode(), marker))
        elif prompt == "big" and self.big is not None:
            head, body, tail = self.big
            fill = [part.replace(THREAD_SLOT.encode(), thread_b).replace(TURN_SLOT.encode(), turn_b)
                    for part in (head, tail)]
            self.write(fill[0], body, fill[1])
        else:  # silent (or unknown): the turn starts and says nothing more
            self.silent[thread_id] = turn_id
            opening = b"".join(_opening(prompt)[:2])
            self.write(opening.replace(THREAD_SLOT.encode(), thread_b).replace(TURN_SLOT.encode(), turn_b))

    def interrupt(self, msg_id: Any, params: JsonDict) -> None:
        thread_id = str(params.get("threadId"))
        turn_id = self.silent.pop(thread_id, None)
        if turn_id is None or turn_id != params.get("turnId"):
            self.error(msg_id, -32600, "no active turn to interrupt")
            return
        self.reply(msg_id, {})
        turn = _turn(turn_id, "interrupted", [])
        self.write(_status("idle").replace(THREAD_SLOT.encode(), thread_id.encode()),
                   _line("turn/completed", {"threadId": thread_id, "turn": turn}))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=20_000, help="delta notifications of a flood turn")
    parser.add_argument("--items", type=int, default=200, help="agentMessage items of a flood turn")
    parser.add_argument("--small-deltas", type=int, default=5, help="delta notifications of a small turn")
    parser.add_argument("--big", type=int, default=0, help="size in bytes of the big answer (0: none)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    server = Server(args, sys.stdout.buffer)
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict):
            server.handle(msg)


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        # The client went away mid-write: keep the interpreter's exit flush quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
