"""Turn routing, terminal states, interrupts and cancel ownership.

Scenarios of the seed's ``test_client_correctness.py`` (its approval part is
in ``scenario_approvals.py``), plus issue 12's: a failed turn's
``CodexProtocolError`` carries ``.code``/``.data``, ``cancel`` of an unknown
continuation raises ``CodexProtocolError``, a drain timeout raises
``CodexTurnInactiveError`` with the continuation.
"""

from __future__ import annotations

import queue
from importlib.metadata import version
from typing import Any, Dict, List

import pytest

from tests.conformance.fakes import Background, Peer, client_for, within

WAIT = 1.0
IDLE = 0.01
A, B = "thread-a", "thread-b"
FAILURE = "controlled server failure"


class Controlled(Peer):
    """Turns whose id is their thread's id; the test says when and how they end."""

    def __init__(self) -> None:
        super().__init__()
        self.started: queue.Queue[str] = queue.Queue()
        self.interrupt_error = False
        self.complete_interrupt = True
        self.complete_before_response = False
        self.bad_interrupts: List[Dict[str, Any]] = []

    def on_request(self, request: Dict[str, Any]) -> None:
        method, params = request["method"], request.get("params") or {}
        result: Dict[str, Any] = {}
        if method == "initialize":
            result = {"userAgent": "test-server"}
        elif method == "turn/start":
            thread_id = params["threadId"]
            result = {"turn": {"id": thread_id, "status": "inProgress"}}
            self.started.put(thread_id)
            if self.complete_before_response:
                self.finish(thread_id)
        elif method == "turn/interrupt":
            if params.get("threadId") != params.get("turnId"):
                self.bad_interrupts.append(params)
            if self.interrupt_error:
                self.reply_error(request, -32602, FAILURE)
                return
            if self.complete_interrupt:
                self.finish(params["threadId"], status="interrupted")
        self.reply(request, result)

    def finish(self, thread_id: str, status: str = "completed") -> None:
        self.notify("item/completed", {"threadId": thread_id, "turnId": thread_id,
                                       "item": {"id": thread_id, "type": "agentMessage", "text": thread_id}})
        error = {"message": FAILURE} if status == "failed" else None
        self.notify("turn/completed", {"threadId": thread_id, "turn": {"id": thread_id, "status": status,
                                                                       "items": [], "error": error}})

    def wait_started(self) -> str:
        return self.started.get(timeout=WAIT)


def _continuation(client: Any) -> Any:
    from codex_sync import CodexTurnInactiveError

    with pytest.raises(CodexTurnInactiveError) as caught:
        within(5, lambda: client.chat_once("wait", A, inactivity_timeout=IDLE))
    return caught.value.continuation


@pytest.mark.parametrize("mode", ["once", "stream"])
@pytest.mark.parametrize("status", ["failed", "interrupted"])
def test_failed_or_interrupted_turn_raises_protocol_error(mode: str, status: str) -> None:
    from codex_sync import CodexProtocolError

    peer = Controlled()
    with client_for(peer) as client:
        if mode == "once":
            call = Background(lambda: client.chat_once("test", A))
        else:
            call = Background(lambda: list(client.chat("test", A)))
        peer.wait_started()
        peer.finish(A, status=status)
        with pytest.raises(CodexProtocolError, match=FAILURE if status == "failed" else "interrupted"):
            call.result(WAIT)


def test_failed_turn_error_carries_code_and_the_terminal_turn() -> None:
    from codex_sync import CodexProtocolError

    peer = Controlled()
    with client_for(peer) as client:
        call = Background(lambda: client.chat_once("test", A))
        peer.wait_started()
        peer.finish(A, status="failed")
        with pytest.raises(CodexProtocolError) as caught:
            call.result(WAIT)
    assert caught.value.code is None
    assert caught.value.data["status"] == "failed"
    assert caught.value.data["error"] == {"message": FAILURE}


def test_concurrent_turns_each_get_their_own_events() -> None:
    import codex_sync

    peer = Controlled()
    with client_for(peer) as client:
        first = Background(lambda: client.chat_once("first", A))
        second = Background(lambda: client.chat_once("second", B))
        peer.wait_started()
        peer.wait_started()
        client.request("test/barrier")
        peer.finish(B)
        peer.finish(A)
        results = [first.result(WAIT), second.result(WAIT)]
    assert [result.final_text for result in results] == [A, B]
    methods = peer.methods()
    assert methods.count("initialize") == 1
    assert methods[:2] == ["initialize", "initialized"]
    sent_version = peer.snapshot()[0]["params"]["clientInfo"]["version"]
    assert sent_version == version("codex-sync") == codex_sync.__version__


def test_client_info_name_is_the_distribution_name() -> None:
    peer = Controlled()
    with client_for(peer) as client:
        client.initialize()
    sent = peer.snapshot()[0]["params"]["clientInfo"]
    expected = {"name": "codex-sync", "version": version("codex-sync")}
    assert sent == expected, f"clientInfo {sent} (the seed sends its distribution name and installed version)"


def test_completion_before_the_start_reply_is_kept() -> None:
    peer = Controlled()
    peer.complete_before_response = True
    with client_for(peer) as client:
        result = within(WAIT, lambda: client.chat_once("test", A))
    assert result.final_text == A


@pytest.mark.parametrize("disconnect", [False, True], ids=["close", "disconnect"])
def test_close_or_disconnect_wakes_every_turn(disconnect: bool) -> None:
    from codex_sync import CodexTransportError

    peer = Controlled()
    with client_for(peer, inactivity_timeout=None) as client:
        first = Background(lambda: client.chat_once("first", A))
        second = Background(lambda: client.chat_once("second", B))
        peer.wait_started()
        peer.wait_started()
        if disconnect:
            peer.push(CodexTransportError("disconnected"))
        else:
            client.close()
        outcomes = [first.outcome(WAIT), second.outcome(WAIT)]
    assert all(isinstance(outcome, CodexTransportError) for outcome in outcomes), outcomes


def test_interrupt_turn_finds_the_thread_of_a_tracked_turn() -> None:
    from codex_sync import CodexProtocolError

    peer = Controlled()
    with client_for(peer) as client:
        continuation = _continuation(client)
        with pytest.raises(ValueError, match="does not match"):
            client.interrupt_turn(A, thread_id=B)
        client.interrupt_turn(A)
        with pytest.raises(CodexProtocolError, match="interrupted"):
            within(WAIT, lambda: client.chat_once(continuation=continuation))


def test_interrupt_turn_needs_the_thread_of_an_untracked_turn() -> None:
    peer = Controlled()
    with client_for(peer) as client:
        with pytest.raises(ValueError, match="thread_id is required"):
            client.interrupt_turn(A)
        assert peer.snapshot() == [], "nothing may be sent for a refused call"
        client.interrupt_turn(A, thread_id=A)
    assert peer.requests("turn/interrupt")[0]["params"] == {"threadId": A, "turnId": A}


def test_cancel_of_a_turn_that_already_ended_sends_no_interrupt() -> None:
    peer = Controlled()
    with client_for(peer) as client:
        continuation = _continuation(client)
        peer.finish(A)
        client.request("test/barrier")
        result = within(WAIT, lambda: client.cancel(continuation))
    assert result.was_completed and not result.was_interrupted
    assert "turn/interrupt" not in peer.methods()


def test_cancel_sends_both_ids_and_sees_the_interruption() -> None:
    peer = Controlled()
    with client_for(peer) as client:
        continuation = _continuation(client)
        result = within(WAIT, lambda: client.cancel(continuation))
    assert result.was_interrupted
    assert result.raw_events[-1]["params"]["turn"]["status"] == "interrupted"
    assert peer.bad_interrupts == []


@pytest.mark.parametrize("reject", [False, True], ids=["unconfirmed", "rejected"])
def test_failed_cancel_keeps_the_continuation_usable(reject: bool) -> None:
    from codex_sync import CodexProtocolError, CodexTurnInactiveError

    peer = Controlled()
    peer.interrupt_error = reject
    peer.complete_interrupt = False
    with client_for(peer) as client:
        continuation = _continuation(client)
        with pytest.raises(CodexProtocolError if reject else CodexTurnInactiveError) as caught:
            within(WAIT + 1, lambda: client.cancel(continuation, timeout=IDLE))
        if not reject:
            assert caught.value.continuation == continuation
        peer.finish(A)
        result = within(WAIT, lambda: client.chat_once(continuation=continuation))
    assert result.final_text == A


def test_cancel_of_an_unknown_continuation_raises_protocol_error() -> None:
    from codex_sync import ChatContinuation, CodexProtocolError

    with client_for(Controlled()) as client:
        stranger = ChatContinuation(thread_id=A, turn_id="turn-gone", cursor=0, mode="once")
        with pytest.raises(CodexProtocolError):
            client.cancel(stranger)
