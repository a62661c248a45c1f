"""What ``chat_once`` returns and what ``chat`` yields.

Scenarios of the seed's ``test_chat_assembly_completed_item.py``,
``test_client_chat_once.py`` and ``test_chat_steps.py``, plus issue 12's
points on ``ChatResult``: ``completion_source`` literals, ``assistant_item_id``
after the fallback, a stripped ``final_text``, ``raw_events`` that include
deltas, an empty answer raising ``CodexProtocolError``.
"""

from __future__ import annotations

import pytest

from tests.conformance.fakes import (
    OneTurnPeer,
    agent_delta,
    client_for,
    item_completed,
    message,
    turn_completed,
    within,
)

T, U = "thread-1", "turn-1"


def _deltas_then(*events):
    return [agent_delta(T, U, "msg-1", "a"), agent_delta(T, U, "msg-1", " a"), agent_delta(T, U, "msg-1", " a"),
            *events, turn_completed(T, U)]


def test_final_text_is_the_completed_item_text_not_the_deltas() -> None:
    peer = OneTurnPeer(_deltas_then(item_completed(T, U, message("msg-1", "a a a"))))
    with client_for(peer) as client:
        result = within(5, lambda: client.chat_once("repeat"))
    assert result.final_text == "a a a"
    assert result.completion_source == "item_completed"
    assert result.assistant_item_id == "msg-1"


def test_final_text_falls_back_to_thread_read() -> None:
    peer = OneTurnPeer(_deltas_then())
    peer.read_result = {"thread": {"id": T, "turns": [
        {"id": U, "status": "completed", "items": [message("msg-fallback", "1. alpha\n\n2. beta")]},
    ]}}
    with client_for(peer) as client:
        result = within(5, lambda: client.chat_once("fallback"))
    assert result.final_text == "1. alpha\n\n2. beta"
    assert result.completion_source == "thread_read_fallback"
    assert result.assistant_item_id == "msg-fallback"


def test_chat_once_initializes_first_and_collects_the_answer() -> None:
    peer = OneTurnPeer([item_completed(T, U, message("msg-1", "Hello world")), turn_completed(T, U)])
    with client_for(peer, request_timeout=1.0, inactivity_timeout=1.0) as client:
        result = within(5, lambda: client.chat_once("Hi"))
    first = peer.snapshot()[0]
    assert first["method"] == "initialize"
    assert "codex/event/agent_message_content_delta" in first["params"]["capabilities"]["optOutNotificationMethods"]
    assert (result.thread_id, result.turn_id, result.final_text) == (T, U, "Hello world")


def test_chat_yields_completed_items_as_steps() -> None:
    items = [
        {"id": "reason-1", "type": "reasoning", "summary": ["Inspecting repository changes"],
         "content": ["Drafting a clear commit message"]},
        {"id": "cmd-1", "type": "commandExecution", "command": "git diff --cached", "status": "completed",
         "cwd": "/tmp/x", "commandActions": []},
        message("msg-1", "Commit message: feat: improve transport behavior"),
    ]
    peer = OneTurnPeer([item_completed(T, U, item) for item in items] + [turn_completed(T, U)])
    with client_for(peer, request_timeout=1.0, inactivity_timeout=1.0) as client:
        steps = within(5, lambda: list(client.chat("hi")))
    assert [step.step_type for step in steps] == ["thinking", "exec", "codex"]
    assert steps[0].text == "Inspecting repository changes\nDrafting a clear commit message"
    assert steps[1].text == "git diff --cached"
    assert steps[2].text == "Commit message: feat: improve transport behavior"


def test_final_text_is_stripped() -> None:
    peer = OneTurnPeer([item_completed(T, U, message("msg-1", "  Paris.\n\n")), turn_completed(T, U)])
    with client_for(peer) as client:
        result = within(5, lambda: client.chat_once("capital?"))
    assert result.final_text == "Paris."


def test_raw_events_are_a_list_with_every_notification_of_the_turn_deltas_included() -> None:
    peer = OneTurnPeer(_deltas_then(item_completed(T, U, message("msg-1", "a a a"))))
    with client_for(peer) as client:
        result = within(5, lambda: client.chat_once("repeat"))
    assert isinstance(result.raw_events, list), f"raw_events is a {type(result.raw_events).__name__}"
    assert [event["method"] for event in result.raw_events] == [
        "item/agentMessage/delta", "item/agentMessage/delta", "item/agentMessage/delta",
        "item/completed", "turn/completed",
    ]


def test_empty_answer_raises_protocol_error() -> None:
    from codex_sync import CodexProtocolError

    peer = OneTurnPeer([turn_completed(T, U)])
    with client_for(peer) as client:
        with pytest.raises(CodexProtocolError, match="no final assistant message"):
            within(5, lambda: client.chat_once("say nothing"))
