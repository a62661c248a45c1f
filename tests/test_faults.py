"""Faults no real server produces on purpose, from the stand-in server script."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from codex_sync import (
    CodexClient,
    CodexOverloadedError,
    CodexTimeoutError,
    CodexTransportError,
    CodexTurnInactiveError,
)

STAND_IN = str(Path(__file__).with_name("stand_in_server.py"))


def stand_in(mode: str, arg: str = "", **options: object) -> CodexClient:
    command = [sys.executable, STAND_IN, mode] + ([arg] if arg else [])
    return CodexClient.connect_stdio(command, **options)  # type: ignore[arg-type]


def test_garbage_on_the_wire_is_skipped_and_the_turn_completes() -> None:
    with stand_in("garbage") as client:
        result = client.chat_once("hi")
    assert result.final_text == "stand-in answer"
    assert all(step.text != "wrong" for step in result.steps)


def test_a_20_mb_line_goes_through() -> None:
    with stand_in("huge", str(20 * 1024 * 1024)) as client:
        result = client.chat_once("hi")
    assert len(result.final_text) == 20 * 1024 * 1024


def test_a_10_mb_stderr_flood_does_not_deadlock() -> None:
    with stand_in("stderr_flood", str(10 * 1024 * 1024), request_timeout=30) as client:
        assert client.initialize().user_agent == "stand-in/0.0.1 (test)"
        assert client.chat_once("hi").final_text == "stand-in answer"


def test_crash_mid_turn_fails_at_once_with_exit_code_and_stderr() -> None:
    client = stand_in("crash_mid_turn").start()
    started = time.monotonic()
    with pytest.raises(CodexTransportError) as info:
        client.chat_once("hi")
    assert time.monotonic() - started < 3
    assert info.value.exit_code == 3 and "crashing mid-turn" in info.value.stderr_tail
    started = time.monotonic()
    with pytest.raises(CodexTransportError):
        client.request("thread/list")
    assert time.monotonic() - started < 0.5
    client.close()


def test_crash_mid_request() -> None:
    client = stand_in("crash_on", "thread/start").start()
    with pytest.raises(CodexTransportError) as info:
        client.chat_once("hi")
    assert info.value.exit_code == 4 and "crashing on thread/start" in str(info.value)
    client.close()


def test_silent_request_times_out_at_its_deadline() -> None:
    with stand_in("silent", "thread/list") as client:
        started = time.monotonic()
        with pytest.raises(CodexTimeoutError):
            client.request("thread/list", timeout=0.5)
        assert 0.45 < time.monotonic() - started < 2
        assert client.chat_once("hi").final_text == "stand-in answer"  # still usable


def test_silent_turn_raises_inactivity_with_a_continuation() -> None:
    with stand_in("silent_turn") as client:
        with pytest.raises(CodexTurnInactiveError) as info:
            client.chat_once("hi", inactivity_timeout=0.5)
        assert info.value.continuation.turn_id == "turn-1"
        assert info.value.idle_seconds is not None and info.value.idle_seconds >= 0.5
        cancelled = client.cancel(info.value.continuation, timeout=5)
        assert cancelled.was_interrupted


def test_overload_is_retried_then_reported() -> None:
    with stand_in("overload", "2") as client:
        assert client.request("thread/list")["overloadsSent"] == 2
    with stand_in("overload", "10", overload_retries=2) as client:
        with pytest.raises(CodexOverloadedError) as info:
            client.request("thread/list")
        assert info.value.code == -32001


def test_unknown_server_request_gets_method_not_found_and_the_turn_completes() -> None:
    with stand_in("unknown_request") as client:
        assert client.chat_once("hi").final_text == "client answered with error -32601"


def test_final_text_falls_back_to_thread_read() -> None:
    with stand_in("no_item_completed") as client:
        result = client.chat_once("hi")
    assert result.final_text == "answer from thread/read"
    assert result.completion_source == "thread_read_fallback"  # the async SDK's literal (was "thread/read")
    assert result.assistant_item_id == "read-item"  # the fallback message's id (was None)


@pytest.mark.parametrize("wait_first", [False, True], ids=["dies-during-initialize", "died-before-initialize"])
def test_losing_the_codex_home_start_up_race_is_retried(tmp_path: Path, wait_first: bool) -> None:
    marker = tmp_path / "raced"
    client = stand_in("startup_race", str(marker)).start()
    if wait_first:
        time.sleep(0.5)  # the first server is already dead when initialize runs
    try:
        assert client.chat_once("hi").final_text == "stand-in answer"
        assert marker.exists()
    finally:
        client.close()


def test_other_start_up_deaths_are_not_retried() -> None:
    client = stand_in("crash_on", "initialize").start()
    with pytest.raises(CodexTransportError) as info:
        client.initialize()
    assert info.value.exit_code == 4
    client.close()


def test_unread_completed_turns_are_retained_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from codex_sync import turn_registry

    monkeypatch.setattr(turn_registry, "RETAINED_TURN_LIMIT", 2)
    with stand_in("normal") as client:
        continuations = []
        for n in range(4):
            stream = client.chat(f"turn {n}")  # started, never read: as if abandoned after a timeout
            stream._detached = True  # what CodexTurnInactiveError does: the continuation owns the turn
            assert stream._state.wait_finished(time.monotonic() + 5)
            continuations.append(stream.continuation)
            del stream
        with pytest.raises(ValueError, match="expired"):
            client.chat_once(continuation=continuations[0])
        assert client.chat_once(continuation=continuations[-1]).final_text == "stand-in answer"


@pytest.mark.skipif(sys.platform == "win32", reason="a real SIGINT to this process")
def test_ctrl_c_while_a_big_request_goes_out_leaves_the_stream_whole() -> None:
    # The stand-in reads slowly, so the 5 MB line takes over a second to go
    # out; a real SIGINT arrives in the middle. The caller gets its
    # KeyboardInterrupt, the line still goes out whole, and the next request
    # is answered (a cut line would swallow it: the stand-in skips non-JSON).
    with stand_in("slow_reader", request_timeout=30) as client:
        client.initialize()
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.request("thread/list", {"padding": "x" * 5_000_000})
        finally:
            timer.join()
        after = client.request("thread/list", {}, timeout=30)
        assert after["badLines"] == 0
