"""Split the flood's cost into reader work, consumer work and the cost of two threads.

    python benchmarks/decompose.py [--repeats N] [--deltas N] [--items M]

The flood turn's lines are built in memory (no pipe, no server). Each stage
then runs alone on this thread, timed with ``time.process_time``:

- ``floor``: ``json.loads`` of every line (what any client must do at least).
- ``reader``: codex_sync's read loop (``Connection._read_loop``) over an
  in-memory transport, delivering to a ``TurnState`` nobody waits on; with
  ``wants_deltas`` off (deltas skipped unparsed) and on (``on_delta`` given).
- ``consumer``: a ``ChatStream`` iterating the finished ``TurnState`` (steps,
  raw events, and ``on_delta`` callbacks when deltas were kept).

``reader + consumer`` is the work; the real flood (``run.py``) minus that is
what the hand-off between the reader and the caller costs (lock, notify,
wake-ups, GIL switches). This uses internal classes of codex_sync and may need
touching when they change; it is a diagnostic, not part of ``run.py``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import flood_server  # noqa: E402
from codex_sync.chat import ChatStream  # noqa: E402
from codex_sync.connection import Connection  # noqa: E402
from codex_sync.transports.base import Transport  # noqa: E402
from codex_sync.turns import TurnState  # noqa: E402

THREAD = "019a0001-0000-0000-0000-000000000001"
TURN = "019a0002-0000-0000-0000-000000000001"


class ListTransport(Transport):
    """Hands out prebuilt lines, then ``None`` (end of stream)."""

    def __init__(self, lines: List[bytes]) -> None:
        self._next = iter(lines).__next__

    def open(self) -> None:
        pass

    def send(self, text: str) -> None:
        pass

    def receive(self) -> Optional[Union[bytes, str]]:
        try:
            return self._next()
        except StopIteration:
            return None

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "in-memory"


class _ClientStub:
    """What ``ChatStream`` calls back on its client at the end of a turn."""

    def _forget_turn(self, state: TurnState) -> None:
        pass

    def _stop_turn(self, state: TurnState, reason: str) -> None:
        pass


def flood_lines(deltas: int, items: int) -> List[bytes]:
    template = flood_server.build_flood(deltas, items)
    payload = template.replace(flood_server.THREAD_SLOT.encode(), THREAD.encode())
    payload = payload.replace(flood_server.TURN_SLOT.encode(), TURN.encode())
    return payload.splitlines(keepends=True)


def _cpu(fn: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        gc.collect()
        started = time.process_time()
        fn()
        samples.append(time.process_time() - started)
    return float(statistics.median(samples))


def read_into_state(lines: List[bytes], wants_deltas: bool) -> TurnState:
    """Run the read loop over ``lines`` on this thread; the returned state holds what it kept."""
    conn = Connection(ListTransport(lines), on_server_request=lambda r: None, on_unrouted=lambda n: None)
    state = TurnState(THREAD, lambda s: None)
    state.turn_id = TURN
    if hasattr(state, "wants_deltas"):
        state.wants_deltas = wants_deltas
    conn.subscribe(THREAD, state)
    conn._read_loop()  # returns at the end of the list
    return state


def consume(state: TurnState, with_deltas: bool) -> int:
    sink: List[Any] = []
    on_delta = sink.append if with_deltas else None
    stream = ChatStream(_ClientStub(), state, cursor=0, inactivity_timeout=None,  # type: ignore[arg-type]
                        on_delta=on_delta, mode="chat_once")
    return sum(1 for _ in stream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--deltas", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    lines = flood_lines(args.deltas, args.items)
    loads = json.loads
    rows: Dict[str, float] = {}

    def floor_discard() -> None:
        for line in lines:
            loads(line)

    rows["floor: json.loads of every line"] = _cpu(floor_discard, args.repeats)
    rows["floor, keeping every result"] = _cpu(lambda: [loads(line) for line in lines], args.repeats)
    for wants in (False, True):
        label = "on_delta" if wants else "plain"
        rows[f"reader ({label})"] = _cpu(functools.partial(read_into_state, lines, wants), args.repeats)
        kept = read_into_state(lines, wants)
        rows[f"consumer ({label}, {len(kept.events)} events)"] = _cpu(
            functools.partial(consume, kept, wants), args.repeats)
    width = max(len(k) for k in rows)
    print(f"{len(lines)} lines, CPU per turn (median of {args.repeats}), one thread, no pipe:")
    for name, cpu in rows.items():
        print(f"  {name:<{width}}  {cpu * 1000:7.1f} ms")
    for label in ("plain", "on_delta"):
        reader = rows[f"reader ({label})"]
        consumer = next(v for k, v in rows.items() if k.startswith(f"consumer ({label}"))
        print(f"  {'work, ' + label + ' (reader + consumer)':<{width}}  {(reader + consumer) * 1000:7.1f} ms")
    steps(lines, args.repeats)


def steps(lines: List[bytes], repeats: int) -> None:
    """The reader's steps one at a time over every line (microseconds per line)."""
    from codex_sync import protocol

    decoded = [protocol.decode(line) for line in lines]
    parts: Dict[str, Callable[[], Any]] = {
        "readline-free json.loads": lambda: [json.loads(line) for line in lines],
        "protocol.peek_delta_thread": lambda: [protocol.peek_delta_thread(line) for line in lines],
        "protocol.decode (json + message object)": lambda: [protocol.decode(line) for line in lines],
        "Notification.thread_id": lambda: [m.thread_id for m in decoded],  # type: ignore[union-attr]
        "Notification.turn_id": lambda: [m.turn_id for m in decoded],  # type: ignore[union-attr]
        "TurnState.deliver (one thread, no waiter)": lambda: _deliver_all(decoded),
    }
    print(f"\nreader steps, one at a time over the {len(lines)} lines (us per line):")
    width = max(len(k) for k in parts)
    for name, fn in parts.items():
        print(f"  {name:<{width}}  {_cpu(fn, repeats) / len(lines) * 1e6:6.2f} us")


def _deliver_all(messages: List[Any]) -> None:
    state = TurnState(THREAD, lambda s: None)
    state.turn_id = TURN
    for message in messages:
        state.deliver(message)


if __name__ == "__main__":
    main()
