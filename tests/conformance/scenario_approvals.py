"""Approval requests from the server: the seed's callback, stream and manual-answer API.

Scenarios of the seed's ``test_approval_requests.py`` and the approval part of
its ``test_client_correctness.py``, plus the rest of the approval API that
issue 12 lists (``approve_approval(for_session=, execpolicy_amendment=)``,
``decline_approval``, ``cancel_approval``, ``respond_approval`` with
snake_case decisions, ``approval_mode``).
"""

from __future__ import annotations

import time

import pytest

from tests.conformance.fakes import Peer, client_for, within

COMMAND = "item/commandExecution/requestApproval"
FILE_CHANGE = "item/fileChange/requestApproval"
IDS = {"threadId": "thread-a", "turnId": "turn-a", "itemId": "item-a"}


def test_unhandled_approval_is_declined_and_still_listed() -> None:
    from codex_sync import CommandApprovalRequest

    peer = Peer()
    with client_for(peer, request_timeout=1.0) as client:
        peer.ask(101, COMMAND, {**IDS, "command": "rg TODO", "cwd": "/tmp/project"})
        request = within(1.0, lambda: next(iter(client.approval_requests())))
        assert isinstance(request, CommandApprovalRequest)
        assert (request.thread_id, request.turn_id, request.item_id) == ("thread-a", "turn-a", "item-a")
        answer = peer.wait_answer(101)
        assert answer["result"]["decision"] == "decline"


def test_handler_decision_accept_for_session_goes_out_camel_case() -> None:
    from codex_sync import FileChangeApprovalRequest

    seen = []

    def decide(request):
        seen.append(request)
        return "accept_for_session"

    peer = Peer()
    with client_for(peer, request_timeout=1.0) as client:
        client.set_approval_handler(decide)
        peer.ask(202, FILE_CHANGE, {**IDS, "reason": "needs write access"})
        answer = peer.wait_answer(202)
    assert answer["result"]["decision"] == "acceptForSession"
    assert len(seen) == 1 and isinstance(seen[0], FileChangeApprovalRequest)


def test_handler_can_answer_with_an_execpolicy_amendment() -> None:
    from codex_sync import CommandApprovalRequest, CommandApprovalWithExecpolicyAmendment

    def decide(request):
        assert isinstance(request, CommandApprovalRequest)
        return CommandApprovalWithExecpolicyAmendment(["uv", "run"])

    peer = Peer()
    with client_for(peer, request_timeout=1.0) as client:
        client.set_approval_handler(decide)
        peer.ask("approval-303", COMMAND, dict(IDS))
        answer = peer.wait_answer("approval-303")
    decision = answer["result"]["decision"]
    assert decision == {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["uv", "run"]}}


def test_unknown_server_request_gets_method_not_found() -> None:
    peer = Peer()
    with client_for(peer, request_timeout=1.0):
        peer.ask(404, "unknown/request", {})
        answer = peer.wait_answer(404)
    assert answer["error"]["code"] == -32601


def test_stream_is_observational_when_a_handler_answers() -> None:
    peer = Peer()
    with client_for(peer, request_timeout=1.0, approval_mode="manual") as client:
        client.set_approval_handler(lambda request: "accept")
        peer.ask(7, COMMAND, dict(IDS))
        assert peer.wait_answer(7)["result"] == {"decision": "accept"}
        listed = within(1.0, lambda: next(iter(client.approval_requests())))
        assert listed.request_id == 7


@pytest.mark.parametrize("method", [COMMAND, FILE_CHANGE], ids=["command", "file_change"])
def test_manual_approval_waits_for_the_human_then_answers_once(method: str) -> None:
    from codex_sync import CodexProtocolError

    peer = Peer()
    with client_for(peer, approval_mode="manual") as client:
        peer.ask(42, method, dict(IDS))
        request = within(1.0, lambda: next(iter(client.approval_requests())))
        time.sleep(0.05)  # a human thinks
        assert peer.snapshot() == [], "manual mode must not answer by itself"
        client.approve_approval(request)
        assert peer.snapshot() == [{"jsonrpc": "2.0", "id": 42, "result": {"decision": "accept"}}]
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.approve_approval(request)


def test_manual_approval_resolved_by_the_server_cannot_be_answered() -> None:
    from codex_sync import CodexProtocolError

    peer = Peer()
    with client_for(peer, approval_mode="manual") as client:
        peer.ask(42, FILE_CHANGE, dict(IDS))
        request = within(1.0, lambda: next(iter(client.approval_requests())))
        peer.notify("serverRequest/resolved", {"threadId": "thread-a", "requestId": 42})
        client.request("test/barrier")  # its reply comes after the notification
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.approve_approval(request)


ANSWER_WAYS = {
    "approve": (COMMAND, lambda c, r: c.approve_approval(r), "accept"),
    "approve_for_session": (COMMAND, lambda c, r: c.approve_approval(r, for_session=True), "acceptForSession"),
    "approve_file_for_session": (FILE_CHANGE, lambda c, r: c.approve_approval(r, for_session=True), "acceptForSession"),
    "approve_with_amendment": (
        COMMAND,
        lambda c, r: c.approve_approval(r, execpolicy_amendment=["pytest", "-q"]),
        {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["pytest", "-q"]}},
    ),
    "decline": (COMMAND, lambda c, r: c.decline_approval(r), "decline"),
    "cancel": (FILE_CHANGE, lambda c, r: c.cancel_approval(r), "cancel"),
    "respond_snake_case": (COMMAND, lambda c, r: c.respond_approval(r, "accept_for_session"), "acceptForSession"),
}


@pytest.mark.parametrize("way", sorted(ANSWER_WAYS))
def test_manual_answer_helpers_send_the_seed_decisions(way: str) -> None:
    method, answer_with, expected = ANSWER_WAYS[way]
    peer = Peer()
    with client_for(peer, approval_mode="manual") as client:
        peer.ask(9, method, dict(IDS))
        request = within(1.0, lambda: next(iter(client.approval_requests())))
        answer_with(client, request)
        assert peer.wait_answer(9)["result"] == {"decision": expected}


def test_file_change_approval_refuses_an_execpolicy_amendment() -> None:
    peer = Peer()
    with client_for(peer, approval_mode="manual") as client:
        peer.ask(9, FILE_CHANGE, dict(IDS))
        request = within(1.0, lambda: next(iter(client.approval_requests())))
        with pytest.raises(ValueError):
            client.approve_approval(request, execpolicy_amendment=["uv", "run"])


def test_approval_mode_accepts_only_auto_or_manual() -> None:
    from codex_sync import CodexClient

    for mode in ("auto", "manual"):
        CodexClient.connect_stdio(command=["codex", "app-server"], approval_mode=mode)
        CodexClient.connect_websocket(url="ws://127.0.0.1:9", approval_mode=mode)
    with pytest.raises(ValueError, match="approval_mode must be 'auto' or 'manual'"):
        client_for(Peer(), approval_mode="sometimes")
