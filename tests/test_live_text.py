"""Live text in memory: deltas kept in runs, passed to ``on_delta`` as they come, once each, across readers."""

from __future__ import annotations

import json
import threading
from typing import Any, List

from codex_sync.chat import ChatStream
from codex_sync.errors import CodexTurnInactiveError
from codex_sync.protocol import DeltaRun
from codex_sync.turn_registry import TurnRegistry
from codex_sync.turns import TurnState

from .memory_transport import MemoryTransport, wait_until
from .test_turn_registry import Starter, _completed, _item, _session


class _Controls:
    request_timeout = 5.0

    def steer_turn(self, **kwargs: Any) -> Any:  # pragma: no cover - not used here
        raise NotImplementedError


def _delta(piece: str) -> bytes:
    return (json.dumps({"method": "item/agentMessage/delta", "params": {
        "threadId": "T", "turnId": "U", "itemId": "m-1", "delta": piece}}, separators=(",", ":")) + "\n").encode()


def _started(registry: TurnRegistry, transport: MemoryTransport) -> TurnState:
    starter = Starter(registry)
    starter.start()
    sent = transport.next_sent()
    transport.feed({"id": sent["id"], "result": {"turn": {"id": "U"}}})
    starter.join(5)
    assert starter.state is not None
    return starter.state


def _stream(registry: TurnRegistry, state: TurnState, got: List[str], cursor: int = 0,
            idle: Any = None) -> ChatStream:
    return ChatStream(registry, state, cursor=cursor, inactivity_timeout=idle,
                      on_delta=lambda d: got.append(d.delta), mode="stream", controls=_Controls())


def test_a_reader_parked_on_an_open_run_gets_each_line_as_it_comes() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    state = _started(registry, transport)
    got: List[str] = []
    stream = _stream(registry, state, got)
    steps: List[Any] = []
    reader = threading.Thread(target=lambda: steps.extend(stream), daemon=True)
    reader.start()
    for n, piece in enumerate(["a", "b", "c"], 1):
        transport.feed(_delta(piece))
        wait_until(lambda n=n: len(got) == n)  # type: ignore[misc]  # passed on before anything else arrives
    runs = [e for e in state.events if isinstance(e, DeltaRun)]
    assert len(runs) == 1 and len(runs[0].lines) == 3  # one run, the lines unparsed in it
    transport.feed(_item("U", "abc"), _delta("late"), _completed("U"))
    reader.join(5)
    assert got == ["a", "b", "c", "late"]
    assert [s.text for s in steps] == ["abc"]
    methods = [e["method"] for e in stream.raw_events]
    assert methods.count("item/agentMessage/delta") == 4 and methods[-1] == "turn/completed"


def test_a_second_reader_of_the_same_turn_never_gets_a_delta_twice() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    state = _started(registry, transport)
    got: List[str] = []
    first = _stream(registry, state, got, idle=0.3)
    transport.feed(_delta("a"), _delta("b"))
    wait_until(lambda: sum(len(e.lines) for e in state.events if isinstance(e, DeltaRun)) == 2)
    try:
        next(first)
        raise AssertionError("expected the reader to go idle")
    except CodexTurnInactiveError as exc:
        continuation = exc.continuation
    assert got == ["a", "b"]
    second = _stream(registry, state, got, cursor=continuation.cursor)
    transport.feed(_delta("c"), _item("U", "abc"), _completed("U"))
    assert [s.text for s in second] == ["abc"]
    assert got == ["a", "b", "c"]
