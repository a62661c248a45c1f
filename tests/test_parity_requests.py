"""Issue 12, item 1: the async SDK's approval and user-input API, against an in-memory server.

Handlers set on the client, the ``approval_requests()``/``user_input_requests()``
iterators, answers by hand that raise once a request is no longer pending,
``approval_mode``, ``user_input_response_timeout``, and the snake_case
decisions (``"accept_for_session"`` used to be declined).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List

import pytest

import codex_sync
from codex_sync import (
    CodexClient,
    CodexProtocolError,
    CommandApprovalRequest,
    CommandApprovalWithExecpolicyAmendment,
    FileChangeApprovalRequest,
    UserInputAnswer,
    UserInputRequest,
    UserInputResponse,
)

from .memory_transport import ScriptedTransport, agent_message, item_completed, turn_completed

COMMAND = "item/commandExecution/requestApproval"
FILE_CHANGE = "item/fileChange/requestApproval"
ASK = "item/tool/requestUserInput"
IDS = {"threadId": "thread-a", "turnId": "turn-a", "itemId": "item-a"}
QUESTION = {"id": "q1", "header": "Plan", "question": "Proceed?", "isOther": True, "isSecret": False,
            "options": [{"label": "yes", "description": "go"}, {"label": "no", "description": "stop"}]}


def _client(**options: Any) -> tuple[CodexClient, ScriptedTransport]:
    transport = ScriptedTransport()
    client = CodexClient(transport, **options)
    client.initialize()
    return client, transport


def _first(iterator: Any, timeout: float = 5.0) -> Any:
    """``next(iterator)`` in a helper thread, failing the test if it blocks longer than ``timeout``."""
    got: List[Any] = []
    worker = threading.Thread(target=lambda: got.append(next(iterator)), daemon=True)
    worker.start()
    worker.join(timeout)
    assert got, f"next() still blocked after {timeout}s"
    return got[0]


def test_an_unhandled_approval_is_declined_and_listed() -> None:
    client, server = _client()
    with client:
        server.ask(101, COMMAND, {**IDS, "command": "rg TODO", "cwd": "/tmp", "approvalId": "ap-1",
                                  "commandActions": [{"type": "search"}]})
        request = _first(client.approval_requests())
        assert isinstance(request, CommandApprovalRequest)
        assert (request.request_id, request.thread_id, request.turn_id, request.item_id) == (101, *IDS.values())
        assert (request.command, request.cwd, request.approval_id) == ("rg TODO", "/tmp", "ap-1")
        assert request.command_actions == [{"type": "search"}]
        answer = server.answer_to(101)
        assert answer is not None and answer["result"] == {"decision": "decline"}
        assert not request.pending


@pytest.mark.parametrize("decision, wire", [
    ("accept_for_session", "acceptForSession"),  # the async SDK's spelling: declined before this issue
    ("acceptForSession", "acceptForSession"),
    ("accept", "accept"),
    (True, "accept"),
    ("cancel", "cancel"),
    (CommandApprovalWithExecpolicyAmendment(["uv", "run"]),
     {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["uv", "run"]}}),
])
def test_a_handler_set_on_the_client_answers_with_either_spelling(decision: Any, wire: Any) -> None:
    seen: List[Any] = []
    client, server = _client()
    with client:
        client.set_approval_handler(lambda request: seen.append(request) or decision)
        server.ask(7, COMMAND, dict(IDS))
        answer = server.answer_to(7)
    assert answer is not None and answer["result"] == {"decision": wire}
    assert isinstance(seen[0], CommandApprovalRequest)


def test_set_handler_none_goes_back_to_the_default_and_a_bad_one_is_refused() -> None:
    client, server = _client(approval_handler=codex_sync.approve_all)
    with client:
        client.set_approval_handler(None)
        server.ask(8, FILE_CHANGE, dict(IDS))
        answer = server.answer_to(8)
        assert answer is not None and answer["result"] == {"decision": "decline"}
        with pytest.raises(TypeError):
            client.set_approval_handler("accept")
        with pytest.raises(TypeError):
            client.set_user_input_handler(42)


def test_manual_mode_holds_an_approval_for_a_person_and_answers_once() -> None:
    client, server = _client(approval_mode="manual")
    with client:
        assert client.approval_mode == "manual"
        server.ask(42, FILE_CHANGE, {**IDS, "reason": "needs write access", "grantRoot": "/w"})
        request = _first(client.approval_requests())
        assert isinstance(request, FileChangeApprovalRequest) and request.grant_root == "/w"
        assert server.answer_to(42, timeout=0.3) is None  # nobody answered by itself
        assert request.pending
        client.approve_approval(request)
        answer = server.answer_to(42)
        assert answer is not None and answer["result"] == {"decision": "accept"}
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.approve_approval(request)
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.respond_approval(request, "decline")
        request.decline()  # the request's own methods still ignore a second answer


ANSWERS: Dict[str, Any] = {
    "approve": (COMMAND, lambda c, r: c.approve_approval(r), "accept"),
    "approve_for_session": (COMMAND, lambda c, r: c.approve_approval(r, for_session=True), "acceptForSession"),
    "approve_file_for_session": (FILE_CHANGE, lambda c, r: c.approve_approval(r, for_session=True),
                                 "acceptForSession"),
    "approve_with_amendment": (COMMAND, lambda c, r: c.approve_approval(r, execpolicy_amendment=["pytest", "-q"]),
                               {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["pytest", "-q"]}}),
    "decline": (COMMAND, lambda c, r: c.decline_approval(r), "decline"),
    "cancel": (FILE_CHANGE, lambda c, r: c.cancel_approval(r), "cancel"),
    "respond_snake_case": (COMMAND, lambda c, r: c.respond_approval(r, "accept_for_session"), "acceptForSession"),
    "respond_camel_case": (COMMAND, lambda c, r: c.respond_approval(r, "acceptForSession"), "acceptForSession"),
}


@pytest.mark.parametrize("way", sorted(ANSWERS))
def test_each_way_of_answering_by_hand_sends_its_decision(way: str) -> None:
    method, answer_with, expected = ANSWERS[way]
    client, server = _client(approval_mode="manual")
    with client:
        server.ask(9, method, dict(IDS))
        answer_with(client, _first(client.approval_requests()))
        answer = server.answer_to(9)
    assert answer is not None and answer["result"] == {"decision": expected}


def test_a_file_change_takes_no_execpolicy_amendment_and_unknown_decisions_are_refused() -> None:
    client, server = _client(approval_mode="manual")
    with client:
        server.ask(9, FILE_CHANGE, dict(IDS))
        request = _first(client.approval_requests())
        with pytest.raises(ValueError):
            client.approve_approval(request, execpolicy_amendment=["uv", "run"])
        with pytest.raises(ValueError):
            client.respond_approval(request, "accept_forever")
        with pytest.raises(TypeError):
            client.respond_approval("not a request", "accept")  # type: ignore[arg-type]
        assert request.pending  # nothing was sent
        client.decline_approval(request)


def test_a_request_the_server_resolved_is_no_longer_pending() -> None:
    client, server = _client(approval_mode="manual")
    with client:
        server.ask(42, COMMAND, dict(IDS))
        request = _first(client.approval_requests())
        server.notify("serverRequest/resolved", {"threadId": "thread-a", "requestId": 42})
        client.request("test/barrier")  # its reply comes after the notification
        assert not request.pending
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.approve_approval(request)
    assert server.answer_to(42, timeout=0.1) is None


def test_the_iterators_share_the_requests_across_threads_and_end_at_close() -> None:
    client, server = _client(approval_mode="manual", user_input_response_timeout=None)
    got: List[Any] = []
    ended = threading.Event()

    def read(iterator: Any) -> None:
        for request in iterator:
            got.append(request.request_id)
        ended.set()

    readers = [threading.Thread(target=read, args=(client.approval_requests(),), daemon=True) for _ in range(2)]
    for reader in readers:
        reader.start()
    questions = client.user_input_requests()
    for n in range(6):
        server.ask(n, COMMAND, dict(IDS))
    deadline = time.monotonic() + 5
    while len(got) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(got) == list(range(6))  # each request to one iterator
    client.close()
    for reader in readers:
        reader.join(5)
        assert not reader.is_alive()
    assert list(questions) == []  # an iterator made before close ends too


def test_a_handler_answers_while_the_request_is_still_listed() -> None:
    client, server = _client(approval_mode="manual", approval_handler=lambda request: "accept")
    with client:
        server.ask(7, COMMAND, dict(IDS))
        answer = server.answer_to(7)
        assert answer is not None and answer["result"] == {"decision": "accept"}
        listed = _first(client.approval_requests())
        assert listed.request_id == 7 and not listed.pending


def test_approval_mode_takes_auto_or_manual_only() -> None:
    with pytest.raises(ValueError, match="approval_mode must be 'auto' or 'manual'"):
        CodexClient(ScriptedTransport(), approval_mode="sometimes")


# -- questions -----------------------------------------------------------------


def test_an_unanswered_question_gets_an_error_after_the_response_timeout() -> None:
    client, server = _client(user_input_response_timeout=0.2)
    with client:
        started = time.monotonic()
        server.ask(501, ASK, {**IDS, "questions": [QUESTION]})
        assert server.answer_to(501, timeout=0.1) is None  # held for an answer first
        answer = server.answer_to(501)
        assert answer is not None and answer["error"]["code"] == -32000
        assert time.monotonic() - started >= 0.2
        request = _first(client.user_input_requests())
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.respond_user_input_other(request, question_id="q1", freeform="too late")
        expiry = [t for t in threading.enumerate() if t.name == "codex-sync-expiry"]
        assert expiry  # one clock thread for the client's held questions
    assert not any(t.is_alive() for t in expiry)  # joined by close()


def test_zero_response_timeout_answers_an_error_at_once_and_none_waits_for_ever() -> None:
    client, server = _client(user_input_response_timeout=0)
    with client:
        server.ask(1, ASK, {**IDS, "questions": [QUESTION]})
        answer = server.answer_to(1, timeout=2)
        assert answer is not None and answer["error"]["code"] == -32000
    client, server = _client(user_input_response_timeout=None)
    with client:
        server.ask(2, ASK, {**IDS, "questions": [QUESTION]})
        request = _first(client.user_input_requests())
        assert server.answer_to(2, timeout=0.4) is None
        client.respond_user_input_choice(request, question_id="q1", selections=["yes"])
        answer = server.answer_to(2)
        assert answer is not None and answer["result"] == {"answers": {"q1": {"answers": ["yes"]}}}


def test_questions_read_as_attributes_and_as_dicts() -> None:
    client, server = _client(user_input_response_timeout=None)
    with client:
        server.ask(3, ASK, {**IDS, "questions": [QUESTION]})
        request = _first(client.user_input_requests())
        assert isinstance(request, UserInputRequest)
        question = request.questions[0]
        assert (question.id, question.header, question.question, question.is_other, question.is_secret) == (
            "q1", "Plan", "Proceed?", True, False)
        assert question.options is not None and [o.label for o in question.options] == ["yes", "no"]
        assert question["question"] == "Proceed?" and question.options[1].description == "stop"
        client.respond_user_input_other(request, question_id="q1", freeform="only the tests")
        answer = server.answer_to(3)
    assert answer is not None and answer["result"] == {"answers": {"q1": {"answers": ["only the tests"]}}}


def test_respond_user_input_takes_a_response_object_once() -> None:
    client, server = _client(user_input_response_timeout=None)
    with client:
        server.ask(4, ASK, {**IDS, "questions": [QUESTION]})
        request = _first(client.user_input_requests())
        client.respond_user_input(request, UserInputResponse(answers={"q1": UserInputAnswer(answers=["no"])}))
        answer = server.answer_to(4)
        assert answer is not None and answer["result"] == {"answers": {"q1": {"answers": ["no"]}}}
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.respond_user_input(request, UserInputResponse(answers={}))
        with pytest.raises(TypeError):
            client.respond_user_input_choice(request, question_id="q1", selections="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("returns", [
    UserInputResponse({"q1": UserInputAnswer(["yes"])}),
    {"q1": "yes"},
    {"q1": ["yes"]},
])
def test_a_user_input_handler_may_return_a_response_object_or_a_dict(returns: Any) -> None:
    client, server = _client()
    with client:
        client.set_user_input_handler(lambda request: returns)
        server.ask("uid-1", ASK, {**IDS, "questions": [QUESTION]})
        answer = server.answer_to("uid-1")
    assert answer is not None and answer["result"] == {"answers": {"q1": {"answers": ["yes"]}}}


# -- the chat() loop and the iterator together ------------------------------------


def _turn_that_asks(server: ScriptedTransport) -> Callable[[str, str], List[dict]]:
    def events(thread_id: str, turn_id: str) -> List[dict]:
        return [{"id": 77, "method": COMMAND, "params": {"threadId": thread_id, "turnId": turn_id, "itemId": "c-1",
                                                         "command": "touch x"}}]
    return events


def test_a_manual_step_in_chat_is_also_listed_and_a_turn_end_makes_it_not_pending() -> None:
    server = ScriptedTransport()
    server.turn_events = _turn_that_asks(server)
    with CodexClient(server) as client:
        stream = client.chat("make a file", approval_handler=codex_sync.MANUAL)
        step = next(stream)
        assert step.step_type == "approval" and step.request.pending
        listed = _first(client.approval_requests())
        assert listed is step.request
        client.respond_approval(listed, "accept_for_session")
        answer = server.answer_to(77)
        assert answer is not None and answer["result"] == {"decision": "acceptForSession"}
        server.feed(item_completed("thread-1", "turn-1", agent_message("m-1", "made it")),
                    turn_completed("thread-1", "turn-1"))
        assert [s.text for s in stream] == ["made it"]

        server.turn_events = _turn_that_asks(server)  # a second turn asks again, then ends unanswered
        stream = client.chat("again", thread_id="thread-1", approval_handler=codex_sync.MANUAL)
        pending = next(stream).request
        server.feed(turn_completed("thread-1", "turn-2", status="interrupted"))
        with pytest.raises(codex_sync.CodexTurnInterruptedError):
            list(stream)
        assert not pending.pending
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.decline_approval(pending)
