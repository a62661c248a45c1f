"""``item/tool/requestUserInput``: the seed's handler, stream and answer helpers.

Scenarios of the seed's ``test_user_input_requests.py``, plus
``respond_user_input`` and ``respond_user_input_other`` from issue 12's list.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from tests.conformance.fakes import Peer, client_for, within

ASK = "item/tool/requestUserInput"


def _question(options: Optional[List[Dict[str, str]]]) -> Dict[str, Any]:
    return {"id": "q1", "header": "Plan", "question": "Proceed?", "isOther": True, "isSecret": False,
            "options": options}


def _params(n: int, options: Optional[List[Dict[str, str]]] = None) -> Dict[str, Any]:
    return {"threadId": f"thread-{n}", "turnId": f"turn-{n}", "itemId": f"item-{n}",
            "questions": [_question(options)]}


YES_NO = [{"label": "yes", "description": "Proceed"}, {"label": "no", "description": "Stop"}]


def test_unanswered_question_gets_an_error_after_the_response_timeout() -> None:
    peer = Peer()
    with client_for(peer, request_timeout=1.0, user_input_response_timeout=0.01):
        peer.ask(501, ASK, _params(1, YES_NO))
        answer = peer.wait_answer(501)
    assert answer["error"]["code"] == -32000


def test_user_input_handler_answers_the_question() -> None:
    from codex_sync import UserInputAnswer, UserInputRequest, UserInputResponse

    def answer(request: Any) -> Any:
        assert isinstance(request, UserInputRequest)
        assert request.thread_id == "thread-2"
        return UserInputResponse(answers={"q1": UserInputAnswer(answers=["yes"])})

    peer = Peer()
    with client_for(peer, request_timeout=1.0) as client:
        client.set_user_input_handler(answer)
        peer.ask("uid-502", ASK, _params(2, None))
        reply = peer.wait_answer("uid-502")
    assert reply["result"]["answers"]["q1"]["answers"] == ["yes"]


def test_stream_question_answered_with_a_choice() -> None:
    from codex_sync import UserInputRequest

    peer = Peer()
    with client_for(peer, request_timeout=1.0, user_input_response_timeout=None) as client:
        peer.ask(503, ASK, _params(3, YES_NO[:1]))
        request = within(1.0, lambda: next(iter(client.user_input_requests())))
        assert isinstance(request, UserInputRequest)
        assert request.questions[0].id == "q1"
        assert [option.label for option in request.questions[0].options] == ["yes"]
        client.respond_user_input_choice(request, question_id="q1", selections=["yes"])
        reply = peer.wait_answer(503)
    assert reply["result"] == {"answers": {"q1": {"answers": ["yes"]}}}


def test_stream_question_answered_with_free_text() -> None:
    peer = Peer()
    with client_for(peer, user_input_response_timeout=None) as client:
        peer.ask(504, ASK, _params(4, YES_NO))
        request = within(1.0, lambda: next(iter(client.user_input_requests())))
        client.respond_user_input_other(request, question_id="q1", freeform="only the tests")
        reply = peer.wait_answer(504)
    assert reply["result"] == {"answers": {"q1": {"answers": ["only the tests"]}}}


def test_stream_question_answered_with_a_response_object_once() -> None:
    from codex_sync import CodexProtocolError, UserInputAnswer, UserInputResponse

    peer = Peer()
    with client_for(peer, user_input_response_timeout=None) as client:
        peer.ask(505, ASK, _params(5, YES_NO))
        request = within(1.0, lambda: next(iter(client.user_input_requests())))
        client.respond_user_input(request, UserInputResponse(answers={"q1": UserInputAnswer(answers=["no"])}))
        assert peer.wait_answer(505)["result"] == {"answers": {"q1": {"answers": ["no"]}}}
        try:
            client.respond_user_input(request, UserInputResponse(answers={}))
        except CodexProtocolError as exc:
            assert "no longer pending" in str(exc)
        else:
            raise AssertionError("a second answer to the same question was accepted")
