"""Property tests: arbitrary bytes and message interleavings never break the reader, every waiter ends."""

from __future__ import annotations

import json
import threading
from typing import Any, List

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex_sync import protocol
from codex_sync.errors import CodexError, CodexTransportError
from codex_sync.turns import TurnState

from .memory_transport import connected, wait_until


@given(st.binary(max_size=300))
def test_decode_bytes_only_ever_raises_decode_error(data: bytes) -> None:
    try:
        protocol.decode(data)
    except protocol.DecodeError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@given(
    st.text(alphabet=st.sampled_from(list('{}[]":,0123456789.eE-+ntrufalsx \t\n\r\x0c\\é')), max_size=40)
    | st.tuples(st.sampled_from(["", " ", "\t"]), json_values.map(json.dumps), st.sampled_from(["", "\n", "\r\n", " x", "\x0c"]))
    .map("".join)
)
def test_fast_text_parse_agrees_with_json_loads(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except ValueError as exc:
        try:
            protocol._loads(text)
        except ValueError as mine:
            assert str(mine) == str(exc)
        else:
            raise AssertionError(f"{text!r} parsed, json.loads refuses it: {exc}")
    else:
        assert repr(protocol._loads(text)) == repr(expected)


ids = st.one_of(st.integers(min_value=-3, max_value=12), st.sampled_from(["1", "x", ""]), st.none(), st.booleans())
methods = st.sampled_from(["turn/started", "turn/completed", "item/completed", "item/agentMessage/delta",
                           "error", "thread/status/changed", "x/unknown", ""])
thread_ids = st.sampled_from(["T1", "T2", "T3", None, 5])


@st.composite
def messages(draw: Any) -> Any:
    kind = draw(st.sampled_from(["response", "error", "notification", "request", "junk", "value"]))
    if kind == "junk":
        return draw(st.binary(max_size=40))
    if kind == "value":
        return json.dumps(draw(json_values))
    params = draw(st.one_of(json_values, st.fixed_dictionaries({
        "threadId": thread_ids, "turnId": st.sampled_from(["U1", "U2", None]),
        "turn": st.one_of(st.none(), st.fixed_dictionaries({"id": st.sampled_from(["U1", "U2"]),
                                                            "status": st.sampled_from(["completed", "failed", 3])})),
        "item": json_values})))
    if kind == "response":
        return json.dumps({"id": draw(ids), "result": draw(json_values)})
    if kind == "error":
        return json.dumps({"id": draw(ids), "error": draw(st.one_of(json_values, st.fixed_dictionaries(
            {"code": st.integers(), "message": json_values})))})
    message = {"method": draw(methods), "params": params}
    if kind == "request":
        message["id"] = draw(ids)
    return json.dumps(message)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages(), max_size=40), st.integers(min_value=0, max_value=4))
def test_router_survives_any_interleaving_and_every_waiter_ends(feed: List[Any], waiters: int) -> None:
    conn, transport, unrouted, _ = connected()
    turns = {tid: TurnState(tid, lambda s: None) for tid in ("T1", "T2")}
    for tid, state in turns.items():
        conn.subscribe(tid, state)
    outcomes: List[BaseException] = []

    def wait() -> None:
        try:
            conn.request("anything", {}, timeout=30)
        except BaseException as exc:
            outcomes.append(exc)

    callers = [threading.Thread(target=wait) for _ in range(waiters)]
    for t in callers:
        t.start()
    for _ in range(waiters):
        transport.next_sent()
    transport.feed(*feed)
    transport.feed({"id": "sentinel"}, {"method": "probe", "params": {}})
    wait_until(lambda: any(n.method == "probe" for n in unrouted), timeout=10)
    assert any(n.method == "probe" for n in unrouted), "the reader stopped pumping"
    assert conn.alive
    transport.end()
    assert conn.closed_event.wait(5)  # the reader saw the end and failed everything left
    for t in callers:
        t.join(5)
    assert not any(t.is_alive() for t in callers)
    # Each waiter ended: either a reply that happened to carry its id, or the connection's end.
    assert all(isinstance(e, (CodexError, CodexTransportError)) for e in outcomes)
    for state in turns.values():
        assert state.finished  # failed with the connection, or completed by a message
