"""The turn registry and the session, in memory: the test plays the server, no process, no socket."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Dict, List, Optional

import pytest

from codex_sync.config import TurnOverrides
from codex_sync.errors import CodexProtocolError, CodexTransportError
from codex_sync.session import Session
from codex_sync.turn_registry import TurnRegistry
from codex_sync.turns import TurnState

from .memory_transport import MemoryTransport, wait_until


def _session(transport: MemoryTransport) -> Session:
    session = Session(transport, overload_retries=0, on_unrouted=lambda m: None, wants_unrouted_deltas=lambda: False)
    session.start()
    session.mark_loaded("T", resumable=True)  # as thread/start or thread/resume would have
    return session


def _completed(turn_id: str, status: str = "completed") -> Dict[str, Any]:
    return {"method": "turn/completed", "params": {"threadId": "T", "turn": {"id": turn_id, "status": status}}}


def _item(turn_id: str, text: str) -> Dict[str, Any]:
    return {"method": "item/completed", "params": {
        "threadId": "T", "turnId": turn_id, "item": {"type": "agentMessage", "id": f"m-{text}", "text": text}}}


class Starter(threading.Thread):
    """Calls ``registry.start`` in a thread of its own and keeps what it returned or raised."""

    def __init__(self, registry: TurnRegistry, params: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(daemon=True)
        self.registry = registry
        self.params = params if params is not None else {"threadId": "T", "input": []}
        self.state: Optional[TurnState] = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.state = self.registry.start("T", "turn/start", self.params, timeout=5, with_overrides=True)
        except BaseException as exc:
            self.error = exc


def test_turns_on_one_thread_run_one_at_a_time_and_deferred_settings_go_with_the_next() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    registry.defer_overrides("T", TurnOverrides(model="m1"))
    registry.defer_overrides("T", TurnOverrides(effort="low"))  # merged, not replaced
    first = Starter(registry)
    first.start()
    sent = transport.next_sent()
    assert sent["method"] == "turn/start" and sent["params"]["model"] == "m1" and sent["params"]["effort"] == "low"
    transport.feed({"id": sent["id"], "result": {"turn": {"id": "U1"}}})
    first.join(5)
    assert first.state is not None and first.state.turn_id == "U1"
    second = Starter(registry)
    second.start()
    with pytest.raises(queue.Empty):  # the second waits for the thread: nothing is sent yet
        transport.next_sent(timeout=0.5)
    transport.feed(_completed("U1"))
    sent = transport.next_sent()
    assert "model" not in sent["params"]  # the settings went with the first turn
    transport.feed({"id": sent["id"], "result": {"turn": {"id": "U2"}}})
    second.join(5)
    assert second.state is not None and second.state.turn_id == "U2"


def test_a_refused_start_frees_the_thread_at_once_and_keeps_the_deferred_settings() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    registry.defer_overrides("T", TurnOverrides(model="m1"))
    starter = Starter(registry)
    starter.start()
    sent = transport.next_sent()
    transport.feed({"id": sent["id"], "error": {"code": -32602, "message": "input too large"}})
    starter.join(5)
    assert isinstance(starter.error, CodexProtocolError) and starter.error.code == -32602
    assert registry.running() == []
    again = Starter(registry)
    again.start()
    sent = transport.next_sent()  # at once: nothing holds the thread
    assert sent["params"]["model"] == "m1"  # the settings wait for a turn that starts
    transport.feed({"id": sent["id"], "result": {"turn": {"id": "U"}}})
    again.join(5)
    assert again.state is not None


def test_an_unencodable_argument_raises_and_leaves_nothing_claimed() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    with pytest.raises(TypeError):
        registry.start("T", "turn/start", {"threadId": "T", "metadata": {"tags": {1, 2}}}, timeout=5)
    assert registry.running() == []
    with pytest.raises(ValueError, match="lone surrogate"):
        registry.start("T", "turn/start", {"threadId": "T", "input": [{"type": "text", "text": "\udce9"}]}, timeout=5)
    assert registry.running() == []


def test_a_stop_requested_while_the_start_reply_is_on_its_way_interrupts_the_turn_once_it_has_an_id() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    starter = Starter(registry)
    starter.start()
    start = transport.next_sent()
    wait_until(lambda: len(registry.running()) == 1)
    state = registry.running()[0]
    stopper = threading.Thread(target=registry.stop, args=(state, "test"), daemon=True)
    stopper.start()
    time.sleep(0.2)
    assert transport.sent.empty()  # no interrupt without a turn id
    transport.feed({"id": start["id"], "result": {"turn": {"id": "U"}}})
    interrupt = transport.next_sent()
    assert interrupt["method"] == "turn/interrupt" and interrupt["params"] == {"threadId": "T", "turnId": "U"}
    transport.feed({"id": interrupt["id"], "result": {}}, _completed("U", "interrupted"))
    stopper.join(5)
    starter.join(5)
    assert not stopper.is_alive() and state.status == "interrupted" and registry.running() == []


def test_cancel_racing_natural_completion_returns_the_unread_steps_and_says_completed() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    starter = Starter(registry)
    starter.start()
    start = transport.next_sent()
    transport.feed({"id": start["id"], "result": {"turn": {"id": "U"}}}, _item("U", "one"))
    starter.join(5)
    state = starter.state
    assert state is not None
    outcome: List[Any] = []
    canceller = threading.Thread(target=lambda: outcome.append(registry.cancel(state, 0, 5)), daemon=True)
    canceller.start()
    interrupt = transport.next_sent()
    # the turn ends on its own before the server handles the interrupt, which then finds no turn
    transport.feed(_item("U", "two"), _completed("U"))
    transport.feed({"id": interrupt["id"], "error": {"code": -32600, "message": "no active turn"}})
    canceller.join(5)
    assert len(outcome) == 1
    result = outcome[0]
    assert [s.text for s in result.steps] == ["one", "two"]
    assert result.was_completed and not result.was_interrupted
    assert registry.running() == []
    # and once more, after the end: nothing is interrupted, the same answer comes back
    again = registry.cancel(state, 1, 5)
    assert [s.text for s in again.steps] == ["two"] and again.was_completed
    assert transport.sent.empty()


def test_stop_later_takes_no_lock_so_a_finalizer_holding_one_cannot_deadlock() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    starter = Starter(registry)
    starter.start()
    start = transport.next_sent()
    transport.feed({"id": start["id"], "result": {"turn": {"id": "U"}}})
    starter.join(5)
    assert starter.state is not None
    with registry._lock:  # what a finalizer run by the GC inside a locked section would hold
        registry.stop_later(starter.state)  # returns at once
    interrupt = transport.next_sent()  # the janitor does the work once the lock is free
    assert interrupt["method"] == "turn/interrupt"
    transport.feed({"id": interrupt["id"], "result": {}}, _completed("U", "interrupted"))
    wait_until(lambda: registry.running() == [])
    assert registry.running() == []


def test_concurrent_deferred_settings_are_never_lost() -> None:
    transport = MemoryTransport()
    registry = TurnRegistry(_session(transport))
    names = [f"m{n}" for n in range(200)]
    threads = [threading.Thread(target=registry.defer_overrides, args=("T", TurnOverrides(model=n))) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = registry._take_overrides("T")
    assert taken is not None and taken.model in names  # one of them, merged under one lock
    assert registry._take_overrides("T") is None


class BlockingOpen(MemoryTransport):
    """A transport whose ``open`` waits for ``release`` (a server that is slow to start)."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release
        self.fresh_ones: List[BlockingOpen] = []
        self.opened = False

    def open(self) -> None:
        assert self.release.wait(10)
        self.opened = True

    def fresh(self) -> BlockingOpen:
        transport = BlockingOpen(self.release)
        self.fresh_ones.append(transport)
        return transport


def test_close_during_the_start_up_race_respawn_leaves_no_server_running() -> None:
    release = threading.Event()
    release.set()
    first = BlockingOpen(release)
    session = _session(first)
    release.clear()  # the respawned server will be slow to open
    respawn_error: List[BaseException] = []

    def respawn() -> None:
        try:
            session._respawn()
        except BaseException as exc:
            respawn_error.append(exc)

    worker = threading.Thread(target=respawn, daemon=True)
    worker.start()
    wait_until(lambda: len(first.fresh_ones) == 1)
    closer = threading.Thread(target=session.close, daemon=True)
    closer.start()
    time.sleep(0.2)
    assert closer.is_alive()  # close waits for the respawn's start to finish ...
    release.set()
    closer.join(5)
    worker.join(5)
    assert not closer.is_alive() and not worker.is_alive()
    assert first.fresh_ones[0].closed.is_set()  # ... and then closes the fresh server too
    assert session.closed
    with pytest.raises(CodexTransportError):
        session.request("thread/list", {}, 1)


def test_a_respawn_after_close_starts_nothing() -> None:
    transport = BlockingOpen(threading.Event())
    transport.release.set()
    session = _session(transport)
    session.close()
    with pytest.raises(CodexTransportError, match="closed"):
        session._respawn()
    assert [t.opened for t in transport.fresh_ones] == [False]  # made, never started


def test_a_thread_the_server_unloaded_is_resumed_and_the_turn_retried_once() -> None:
    transport = MemoryTransport()
    session = _session(transport)
    registry = TurnRegistry(session)
    starter = Starter(registry)
    starter.start()
    first = transport.next_sent()
    assert first["method"] == "turn/start"
    transport.feed({"id": first["id"], "error": {"code": -32600, "message": "thread not found: T"}})
    resume = transport.next_sent()
    assert resume["method"] == "thread/resume" and resume["params"]["threadId"] == "T"
    transport.feed({"id": resume["id"], "result": {"thread": {"id": "T"}}})
    again = transport.next_sent()
    assert again["method"] == "turn/start"
    transport.feed({"id": again["id"], "result": {"turn": {"id": "U"}}})
    starter.join(5)
    assert starter.error is None and starter.state is not None and starter.state.turn_id == "U"
    assert session.is_loaded("T")


def test_thread_closed_from_the_server_drops_the_thread_from_the_loaded_set() -> None:
    transport = MemoryTransport()
    passed_on: List[Any] = []
    session = Session(transport, overload_retries=0, on_unrouted=passed_on.append, wants_unrouted_deltas=lambda: False)
    session.start()
    session.mark_loaded("T", resumable=True)
    transport.feed({"method": "thread/closed", "params": {"threadId": "T"}})
    wait_until(lambda: len(passed_on) == 1)
    assert not session.is_loaded("T") and passed_on[0].method == "thread/closed"  # listeners still get it


def test_unload_candidates_are_the_least_recently_used_resumable_threads() -> None:
    session = _session(MemoryTransport())
    session.mark_unloaded("T")
    for n in range(5):
        session.mark_loaded(f"T{n}", resumable=n != 1)  # T1 never had a turn: it cannot be loaded again
    session.touch_thread("T0")  # used just now
    # least recent first: T1 T2 T3 T4 T0; the 3 over the limit are T1 (skipped: no turn yet), T2, T3
    assert session.unload_candidates(keep=2, idle_seconds=None) == ["T2", "T3"]
    assert session.unload_candidates(keep=10, idle_seconds=None) == []
    time.sleep(0.05)
    session.touch_thread("T4")
    assert session.unload_candidates(keep=10, idle_seconds=0.04) == ["T2", "T3", "T0"]


def test_an_overloaded_start_that_succeeds_on_retry_is_a_running_turn_not_a_refused_one() -> None:
    transport = MemoryTransport()
    session = _session(transport)
    session.overload_retries = 2
    registry = TurnRegistry(session)
    starter = Starter(registry)
    starter.start()
    first = transport.next_sent()
    transport.feed({"id": first["id"], "error": {"code": -32001, "message": "Server overloaded; retry later."}})
    again = transport.next_sent()  # the session retries after a short pause
    assert again["method"] == "turn/start"
    transport.feed({"id": again["id"], "result": {"turn": {"id": "U"}}})
    starter.join(5)
    state = starter.state
    assert starter.error is None and state is not None and state.turn_id == "U"
    assert not state.finished and state.start_error is None  # it runs: its events will come
    transport.feed(_completed("U"))
    wait_until(lambda: state.finished)
    assert state.status == "completed"
