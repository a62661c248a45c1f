"""Issue 12 against the real app-server: what only the server shows.

Manual approvals and questions answered from the request iterators while
``chat_once`` waits, a handler answering with the async SDK's
``"accept_for_session"``, a failed turn as a ``CodexProtocolError`` carrying
the turn, and a thread with no turn yet taken up by another client.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, List

import pytest

from codex_sync import CodexProtocolError, CodexTurnFailedError, TurnOverrides
from codex_sync.testing import AppServer, ScriptedModel, exec_command, failed, request_user_input, text

pytestmark = pytest.mark.real_server

ON_REQUEST = pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")


def _escalated(path: Path) -> Any:
    return exec_command(f"touch {path}", escalated=True, justification="needs it")


def _in_background(call: Any) -> Any:
    out: List[Any] = []
    worker = threading.Thread(target=lambda: out.append(call()), daemon=True)
    worker.start()
    return worker, out


@ON_REQUEST
def test_manual_approval_answered_from_the_iterator_while_chat_once_waits(
    app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    target = tmp_path / "approved"
    scripted_model.on("touch", _escalated(target), text("Done."))
    with app_server.client(approval_mode="manual") as client:
        worker, result = _in_background(lambda: client.chat_once("touch the file", inactivity_timeout=60))
        request = next(iter(client.approval_requests()))
        assert request.reason == "needs it" and request.pending
        client.approve_approval(request, for_session=True)
        worker.join(60)
        with pytest.raises(CodexProtocolError, match="no longer pending"):
            client.decline_approval(request)
    assert result and result[0].final_text == "Done."
    assert target.exists()


@ON_REQUEST
def test_a_handler_answering_accept_for_session_approves(
    codex_client: Any, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    target = tmp_path / "for-session"
    scripted_model.on("touch", _escalated(target), text("Done."))
    codex_client.set_approval_handler(lambda request: "accept_for_session")  # was declined before issue 12
    assert codex_client.chat_once("touch the file").final_text == "Done."
    assert target.exists()


def test_a_question_answered_from_the_iterator(app_server: AppServer, scripted_model: ScriptedModel) -> None:
    questions = [{"id": "confirm_path", "header": "Confirm", "question": "Proceed?",
                  "options": [{"label": "Yes (Recommended)", "description": "go"}, {"label": "No", "description": "stop"}]}]
    scripted_model.on("ask me", request_user_input(questions), text("thanks for answering"))
    plan = TurnOverrides(collaboration_mode={"mode": "plan", "settings": {
        "model": "mock-model", "reasoning_effort": None, "developer_instructions": None}})
    with app_server.client(experimental_api=True) as client:
        worker, result = _in_background(lambda: client.chat_once("ask me something", turn_overrides=plan))
        request = next(iter(client.user_input_requests()))
        question = request.questions[0]
        assert question.question == "Proceed?" and [o.label for o in question.options or []][0] == "Yes (Recommended)"
        client.respond_user_input_choice(request, question_id=question.id, selections=["Yes (Recommended)"])
        worker.join(60)
    assert result and result[0].final_text == "thanks for answering"
    assert "Yes (Recommended)" in str(scripted_model.requests[-1].function_call_outputs)


def test_a_failed_turn_is_a_protocol_error_with_the_turn(codex_client: Any, scripted_model: ScriptedModel) -> None:
    scripted_model.on("break", failed("the model is down"))
    with pytest.raises(CodexProtocolError, match="the model is down") as caught:
        codex_client.chat_once("break it")
    assert isinstance(caught.value, CodexTurnFailedError) and caught.value.code is None
    assert caught.value.data["status"] == "failed" and caught.value.data["id"] == caught.value.turn_id


def test_a_thread_with_no_turn_yet_from_another_client(websocket_app_server: AppServer) -> None:
    with websocket_app_server.client() as owner, websocket_app_server.client() as other:
        thread = owner.start_thread()
        result = other.chat_once("hello there", thread_id=thread.thread_id)
        assert (result.final_text, result.thread_id) == ("echo: hello there", thread.thread_id)
        assert [s.step_type for s in result.steps] == ["userMessage", "codex"]  # the missed one is backfilled
        assert other.chat_once("again", thread_id=thread.thread_id).final_text == "echo: again"
        assert owner.chat_once("and mine", thread_id=thread.thread_id).final_text == "echo: and mine"
    with websocket_app_server.client(strict=True) as owner, websocket_app_server.client(strict=True) as other:
        thread = owner.start_thread()
        with pytest.raises(CodexProtocolError, match="no rollout found"):
            other.chat_once("hello there", thread_id=thread.thread_id)


PLAN = TurnOverrides(collaboration_mode={"mode": "plan", "settings": {
    "model": "mock-model", "reasoning_effort": None, "developer_instructions": None}})


def test_a_first_turn_in_plan_mode_asks_for_the_experimental_api_itself(app_server: AppServer) -> None:
    with app_server.client() as client:  # experimental_api not given, as in the async SDK's docs
        assert client.experimental_api is False
        assert client.chat_once("plan it", turn_overrides=PLAN).final_text == "echo: plan it"
        assert client.experimental_api is True


def test_plan_mode_on_a_client_initialized_without_it_says_how_to_ask(app_server: AppServer) -> None:
    with app_server.client() as client:
        client.initialize()
        with pytest.raises(CodexProtocolError, match="experimental_api=True") as caught:
            client.chat_once("plan it", turn_overrides=PLAN)
    assert "requires experimentalApi capability" in str(caught.value)  # the server's own words stay
