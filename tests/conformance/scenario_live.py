"""Scenarios against the real ``codex app-server`` and the scripted model.

The seed's opt-in ``test_live_app_server.py`` (two threads at once, then a
cancelled turn) runs here offline, plus the issue 12 points only a real
server shows: a thread with no turn yet taken up by another client,
manual approvals end to end, a failed turn's error, deltas in ``raw_events``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codex_sync.testing import AppServer, ScriptedModel, exec_command, failed, hang, text
from tests.conformance.fakes import Background, within

pytestmark = pytest.mark.real_server


def test_two_threads_at_once_then_a_cancelled_turn(scripted_model: ScriptedModel, stdio_app_server: AppServer,
                                                   tmp_path: Path) -> None:
    from codex_sync import CodexTurnInactiveError, ThreadConfig, TurnOverrides

    scripted_model.on("LUNA_A", text("LUNA_A"))
    scripted_model.on("LUNA_B", text("LUNA_B"))
    scripted_model.on("LUNA_CANCEL", hang(30))
    config = ThreadConfig(cwd=str(tmp_path), ephemeral=True, sandbox="read-only", approval_policy="never")
    overrides = TurnOverrides(effort="low")
    with stdio_app_server.client() as client:
        first = client.start_thread(config)
        second = client.start_thread(config)
        calls = [Background(lambda: first.chat_once("Reply exactly LUNA_A.", turn_overrides=overrides)),
                 Background(lambda: second.chat_once("Reply exactly LUNA_B.", turn_overrides=overrides))]
        results = [call.result(60) for call in calls]
        assert [result.final_text for result in results] == ["LUNA_A", "LUNA_B"]
        assert results[0].thread_id != results[1].thread_id
        with pytest.raises(CodexTurnInactiveError) as idle:
            within(60, lambda: first.chat_once("Reply exactly LUNA_CANCEL.", turn_overrides=overrides,
                                               inactivity_timeout=0.001))
        cancelled = within(60, lambda: client.cancel(idle.value.continuation))
    assert cancelled.was_interrupted
    assert not cancelled.was_completed


def test_chat_once_on_a_thread_with_no_turn_yet_from_another_client(websocket_app_server: AppServer) -> None:
    with websocket_app_server.client() as owner, websocket_app_server.client() as other:
        thread = owner.start_thread()
        result = within(60, lambda: other.chat_once("hello there", thread_id=thread.thread_id))
    assert result.final_text == "echo: hello there"
    assert result.thread_id == thread.thread_id


@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")
def test_manual_approval_stream_end_to_end(scripted_model: ScriptedModel, stdio_app_server: AppServer,
                                          tmp_path: Path) -> None:
    target = tmp_path / "approved"
    scripted_model.on("touch", exec_command(f"touch {target}", escalated=True, justification="needs it"),
                      text("Done."))
    with stdio_app_server.client(approval_mode="manual") as client:
        seen: Any = []

        def approve_first() -> None:
            for request in client.approval_requests():
                seen.append(request.reason)
                client.approve_approval(request, for_session=True)
                return

        loop = Background(approve_first)
        result = within(60, lambda: client.chat_once("touch the file"))
        loop.result(5)
    assert result.final_text == "Done."
    assert seen == ["needs it"]
    assert target.exists()


def test_failed_turn_raises_protocol_error_with_the_turn(scripted_model: ScriptedModel,
                                                         stdio_app_server: AppServer) -> None:
    from codex_sync import CodexProtocolError

    scripted_model.on("break", failed("the model is down"))
    with stdio_app_server.client() as client:
        with pytest.raises(CodexProtocolError, match="the model is down") as caught:
            within(60, lambda: client.chat_once("break it"))
    assert isinstance(caught.value.data, dict) and caught.value.data.get("status") == "failed"


def test_raw_events_include_the_deltas(scripted_model: ScriptedModel, stdio_app_server: AppServer) -> None:
    scripted_model.on("stream", text("one two three four"))
    with stdio_app_server.client() as client:
        result = within(60, lambda: client.chat_once("stream it"))
    methods = [event.get("method") for event in result.raw_events]
    assert "item/agentMessage/delta" in methods, f"no item/agentMessage/delta among raw_events: {sorted(set(methods))}"
    assert result.final_text == "one two three four"
