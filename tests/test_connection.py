"""The connection layer over an in-memory transport: routing, timeouts, death, junk."""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Dict, List

import pytest

from codex_sync.errors import CodexProtocolError, CodexTimeoutError, CodexTransportError
from codex_sync.protocol import Notification

from .memory_transport import connected, wait_until


class Recorder:
    def __init__(self) -> None:
        self.delivered: List[Notification] = []
        self.failed: List[CodexTransportError] = []

    def deliver(self, message: Notification) -> bool:
        self.delivered.append(message)
        return True

    def fail(self, error: CodexTransportError) -> None:
        self.failed.append(error)


def test_concurrent_requests_each_get_their_own_reply() -> None:
    conn, transport, _, _ = connected()
    results: Dict[int, Any] = {}
    errors: List[BaseException] = []

    def caller(n: int) -> None:
        try:
            results[n] = conn.request("echo", {"n": n}, timeout=10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    received = [transport.next_sent() for _ in range(32)]
    assert len({m["id"] for m in received}) == 32  # ids are unique
    random.shuffle(received)  # the server answers out of order
    for m in received:
        transport.feed({"id": m["id"], "result": {"n": m["params"]["n"]}})
    for t in threads:
        t.join(10)
    assert not errors
    assert results == {n: {"n": n} for n in range(32)}
    conn.close()


def test_error_reply_and_timeout_and_late_reply() -> None:
    conn, transport, _, _ = connected()
    t = threading.Thread(target=lambda: transport.feed({"id": transport.next_sent()["id"], "error": {"code": -32600, "message": "nope"}}))
    t.start()
    with pytest.raises(CodexProtocolError) as info:
        conn.request("thread/read", {}, timeout=5)
    assert info.value.code == -32600 and info.value.method == "thread/read"
    started = time.monotonic()
    with pytest.raises(CodexTimeoutError):
        conn.request("slow", {}, timeout=0.3)
    assert 0.25 < time.monotonic() - started < 2
    late = transport.next_sent()
    transport.feed({"id": late["id"], "result": {}})  # reply after the deadline: ignored
    t2 = threading.Thread(target=lambda: transport.feed({"id": transport.next_sent()["id"], "result": "ok"}))
    t2.start()
    assert conn.request("after", {}, timeout=5) == "ok"
    conn.close()


def test_junk_is_skipped_and_the_pump_keeps_going() -> None:
    conn, transport, unrouted, requests = connected()
    transport.feed(b"garbage\n", b"\n", b"[1]\n", b"\xff\xfe\n", {"id": 12345, "result": 1}, {"weird": True})
    transport.feed({"method": "some/notification", "params": {"threadId": "T"}})
    transport.feed({"id": 7, "method": "item/tool/requestUserInput", "params": {}})
    wait_until(lambda: bool(unrouted and requests))
    assert [n.method for n in unrouted] == ["some/notification"]
    assert [r.id for r in requests] == [7]
    assert conn.alive
    conn.close()


def test_routing_by_thread_and_on_reply_runs_before_later_messages() -> None:
    conn, transport, unrouted, _ = connected()
    sub = Recorder()
    conn.subscribe("T1", sub)
    seen_at_first_event: List[int] = []
    hook_calls: List[Any] = []

    original_deliver = sub.deliver

    def deliver(message: Notification) -> bool:
        seen_at_first_event.append(len(hook_calls))
        return original_deliver(message)

    sub.deliver = deliver  # type: ignore[method-assign]

    def server() -> None:
        m = transport.next_sent()
        transport.feed(
            {"id": m["id"], "result": {"turn": {"id": "U1"}}},
            {"method": "turn/started", "params": {"threadId": "T1", "turn": {"id": "U1"}}},
            {"method": "turn/started", "params": {"threadId": "T2", "turn": {"id": "U2"}}},
        )

    threading.Thread(target=server).start()
    conn.request("turn/start", {}, timeout=5, on_reply=lambda result, error: hook_calls.append(result))
    wait_until(lambda: len(unrouted) >= 1)
    assert seen_at_first_event == [1]  # the hook ran before the next notification
    assert [m.thread_id for m in sub.delivered] == ["T1"]
    assert [m.thread_id for m in unrouted] == ["T2"]
    conn.close()


def test_end_of_stream_fails_every_waiter_at_once_and_later_calls_fast() -> None:
    conn, transport, _, _ = connected()
    sub = Recorder()
    conn.subscribe("T", sub)
    outcomes: List[BaseException] = []

    def caller() -> None:
        try:
            conn.request("never", {}, timeout=60)
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(5)]
    for t in threads:
        t.start()
    for _ in range(5):
        transport.next_sent()
    started = time.monotonic()
    transport.end()
    for t in threads:
        t.join(5)
    assert time.monotonic() - started < 2
    assert len(outcomes) == 5 and all(isinstance(e, CodexTransportError) for e in outcomes)
    assert len(sub.failed) == 1
    started = time.monotonic()
    with pytest.raises(CodexTransportError):
        conn.request("later", {}, timeout=60)
    assert time.monotonic() - started < 0.5
    late = Recorder()
    conn.subscribe("T2", late)  # subscribing after death fails at once
    assert len(late.failed) == 1


def test_close_from_another_thread_wakes_a_blocked_request() -> None:
    conn, transport, _, _ = connected()
    threading.Timer(0.3, conn.close).start()
    started = time.monotonic()
    with pytest.raises(CodexTransportError, match="closed"):
        conn.request("never", {}, timeout=None)
    assert time.monotonic() - started < 3
    conn.close()  # twice is fine


def test_deltas_nobody_reads_live_are_handed_over_unparsed() -> None:
    conn, transport, unrouted, _ = connected()

    class Skipping(Recorder):
        skipped = 0
        taken: list = []

        def take_raw_delta(self, data: object) -> bool:
            self.skipped += 1
            self.taken.append(data)
            return True

    skipping, reading = Skipping(), Recorder()
    reading.take_raw_delta = lambda data: False  # type: ignore[attr-defined]
    conn.subscribe("A", skipping)
    conn.subscribe("B", reading)
    delta = '{"method":"item/agentMessage/delta","params":{"threadId":"%s","turnId":"U","itemId":"i","delta":"d"}}'
    transport.feed(delta % "A", delta % "B", delta % "C", {"method": "done", "params": {}})
    wait_until(lambda: bool(unrouted))
    assert skipping.skipped == 1 and skipping.delivered == []
    assert [bytes(d) if isinstance(d, (bytes, bytearray)) else d.encode() for d in skipping.taken] == [
        (delta % "A").encode()
    ]
    assert [m.method for m in reading.delivered] == ["item/agentMessage/delta"]
    assert [m.method for m in unrouted] == ["item/agentMessage/delta", "done"]  # default: listeners may want it
    conn.close()
