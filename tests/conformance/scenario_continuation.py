"""Inactivity timeouts, continuations and ``cancel``.

Scenarios of the seed's ``test_chat_continuation.py``: a continuation knows
the API that stopped (``mode`` ``"once"`` or ``"stream"``), resuming gives no
step twice, ``cancel`` returns the unread steps and frees the thread, and a
continuation refuses turn arguments with the seed's messages.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List

import pytest

from tests.conformance.fakes import Peer, client_for, item_completed, message, turn_completed, within

T = "thread-1"


class SlowFinish(Peer):
    """One turn: a thinking step at once, the rest ``delay`` seconds later."""

    def __init__(self, delay: float = 0.3) -> None:  # the seed waits 0.05 s; more margin on a busy machine
        super().__init__()
        self.delay = delay
        self.timers: List[threading.Timer] = []

    def on_request(self, request: Dict[str, Any]) -> None:
        method = request["method"]
        if method in ("thread/start", "thread/resume"):
            self.reply(request, {"thread": {"id": T}})
        elif method == "turn/start":
            self.reply(request, {"turn": {"id": "turn-1", "status": "inProgress", "items": []}})
            self.push(item_completed(T, "turn-1", {"id": "reason-1", "type": "reasoning",
                                                   "summary": ["Preparing response"]}))
            timer = threading.Timer(self.delay, self.push, args=(
                item_completed(T, "turn-1", {"id": "cmd-1", "type": "commandExecution",
                                             "command": "git status --short"}),
                item_completed(T, "turn-1", message("msg-1", "Final answer")),
                turn_completed(T, "turn-1"),
            ))
            timer.daemon = True
            timer.start()
            self.timers.append(timer)
        elif method == "thread/read":
            self.reply(request, {"thread": {"id": T, "turns": [
                {"id": "turn-1", "items": [message("msg-1", "Final answer")]}]}})
        else:
            super().on_request(request)


class InterruptibleTurns(Peer):
    """``turn-1`` stays open until interrupted; later turns answer at once."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = 0
        self.interrupts: List[Dict[str, Any]] = []

    def on_request(self, request: Dict[str, Any]) -> None:
        method = request["method"]
        if method in ("thread/start", "thread/resume"):
            self.reply(request, {"thread": {"id": T}})
        elif method == "turn/start":
            self.turns += 1
            turn = f"turn-{self.turns}"
            self.reply(request, {"turn": {"id": turn, "status": "inProgress", "items": []}})
            if turn == "turn-1":
                self.push(item_completed(T, turn, {"id": "reason-1", "type": "reasoning",
                                                   "summary": ["Long-running step"]}))
            else:
                self.push(item_completed(T, turn, message(f"msg-{turn}", "second turn ok")), turn_completed(T, turn))
        elif method == "turn/interrupt":
            self.interrupts.append(request["params"])
            self.reply(request, {})
            self.push(
                item_completed(T, "turn-1", {"id": "cmd-1", "type": "commandExecution", "command": "echo interrupted"}),
                item_completed(T, "turn-1", message("msg-1", "turn interrupted")),
                turn_completed(T, "turn-1", status="interrupted"),
            )
        else:
            super().on_request(request)


def _inactive_once(client: Any) -> Any:
    from codex_sync import CodexTurnInactiveError

    with pytest.raises(CodexTurnInactiveError) as caught:
        within(5, lambda: client.chat_once("Hello"))
    return caught.value.continuation


def _inactive_stream(client: Any, seen: List[str]) -> Any:
    from codex_sync import CodexTurnInactiveError

    def read() -> None:
        for step in client.chat("Hello"):
            seen.append(step.step_type)

    with pytest.raises(CodexTurnInactiveError) as caught:
        within(5, read)
    return caught.value.continuation


def test_chat_once_resumes_from_its_continuation() -> None:
    with client_for(SlowFinish(), request_timeout=1.0, inactivity_timeout=0.01) as client:
        continuation = _inactive_once(client)
        assert continuation.mode == "once"
        result = within(5, lambda: client.chat_once(continuation=continuation, inactivity_timeout=1.0))
    assert (result.final_text, result.turn_id) == ("Final answer", "turn-1")


def test_chat_resumes_from_its_continuation_without_repeating_steps() -> None:
    seen: List[str] = []
    with client_for(SlowFinish(), request_timeout=1.0, inactivity_timeout=0.01) as client:
        continuation = _inactive_stream(client, seen)
        assert continuation.mode == "stream"
        within(5, lambda: seen.extend(s.step_type for s in client.chat(continuation=continuation,
                                                                        inactivity_timeout=1.0)))
    assert seen == ["thinking", "exec", "codex"]


def test_cancel_returns_the_unread_steps_and_frees_the_thread() -> None:
    from codex_sync import CodexTurnInactiveError

    peer = InterruptibleTurns()
    with client_for(peer, request_timeout=1.0, inactivity_timeout=0.01) as client:
        thread_id = None
        with pytest.raises(CodexTurnInactiveError) as caught:
            for step in within(5, lambda: client.chat("first")):
                thread_id = step.thread_id
        continuation = caught.value.continuation
        assert continuation.thread_id == T
        cancelled = within(5, lambda: client.cancel(continuation))
        assert peer.interrupts == [{"threadId": T, "turnId": "turn-1"}]
        assert cancelled.was_interrupted is True
        assert [step.step_type for step in cancelled.steps] == ["exec", "codex"]
        assert cancelled.turn_id == "turn-1"
        result = within(5, lambda: client.chat_once("second", thread_id=continuation.thread_id))
    assert (result.final_text, result.thread_id) == ("second turn ok", T)
    assert thread_id in (None, T)


CONFLICTS = [
    ({"thread_id": "thread-x"}, "thread_id cannot be used with continuation"),
    ({"user": "alice"}, "user cannot be used with continuation"),
    ({"metadata": {"source": "test"}}, "metadata cannot be used with continuation"),
]


def test_chat_once_continuation_refuses_turn_arguments() -> None:
    with client_for(SlowFinish(), request_timeout=1.0, inactivity_timeout=0.01) as client:
        continuation = _inactive_once(client)
        for kwargs, expected in CONFLICTS:
            with pytest.raises(ValueError) as caught:
                client.chat_once(continuation=continuation, **kwargs)
            assert str(caught.value) == expected


def test_chat_continuation_refuses_turn_arguments() -> None:
    with client_for(SlowFinish(), request_timeout=1.0, inactivity_timeout=0.01) as client:
        continuation = _inactive_stream(client, [])
        for kwargs, expected in CONFLICTS:
            with pytest.raises(ValueError) as caught:
                for _ in client.chat(continuation=continuation, **kwargs):
                    pass
            assert str(caught.value) == expected
