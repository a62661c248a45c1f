"""Ways to hang or wedge the client found by attacking it (the reliability issue's list), each bounded.

Against the real server where it can show the attack (both transports where
they differ), against the stand-in server where only a misbehaving server
can. Every wait here has its own bound: a regression fails in seconds.
"""

from __future__ import annotations

import _thread
import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest

import codex_sync
from codex_sync import (
    CodexClient,
    CodexForkError,
    CodexTimeoutError,
    CodexTurnFailedError,
)
from codex_sync.listeners import Listeners
from codex_sync.protocol import Notification
from codex_sync.testing import ScriptedModel, exec_command, hang, text

STAND_IN = str(Path(__file__).with_name("stand_in_server.py"))
ON_REQUEST = pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")


def stand_in(mode: str, arg: str = "", **options: Any) -> CodexClient:
    command = [sys.executable, STAND_IN, mode] + ([arg] if arg else [])
    return CodexClient.connect_stdio(command, **options)


def _bounded(target: Any, seconds: float) -> List[Any]:
    """Run ``target`` in a thread; fail the test if it is still running after ``seconds``."""
    out: List[Any] = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as exc:
            out.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still blocked after {seconds}s"
    return out


# 1 --------------------------------------------------------------------------------------------
def test_ctrl_c_and_timeout_during_the_first_initialize_leave_the_client_usable() -> None:
    with stand_in("slow_initialize", "1.0") as client:
        with pytest.raises(CodexTimeoutError):
            client.initialize(timeout=0.3)
        assert client.initialize(timeout=5).user_agent == "stand-in/0.0.1 (test)"
        assert client.list_threads()["data"] == []
    with stand_in("slow_initialize", "1.0") as client:
        timer = threading.Timer(0.3, _thread.interrupt_main)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            client.initialize(timeout=5)
        assert client.initialize(timeout=5).user_agent == "stand-in/0.0.1 (test)"
        assert client.list_threads()["data"] == []


# 2, 4 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [
    {"metadata": {"tags": {"a", "b"}}},
    {"text": [{"type": "text", "text": b"bytes"}]},
    {"text": "caf\udce9 (a lone surrogate, as os.fsdecode makes)"},
])
def test_a_turn_argument_that_cannot_be_sent_raises_and_leaves_the_thread_free(
    codex_client: CodexClient, bad: dict
) -> None:
    thread_id = codex_client.chat_once("first").thread_id
    kwargs = {"text": "hi", **bad}
    with pytest.raises((TypeError, ValueError)) as info:
        codex_client.chat(thread_id=thread_id, **kwargs)
    assert not isinstance(info.value, UnicodeEncodeError)
    if "surrogate" in str(kwargs["text"]):
        assert "surrogate" in str(info.value) and "replace" in str(info.value)
    out = _bounded(lambda: codex_client.chat_once("second", thread_id=thread_id), 20)
    assert getattr(out[0], "final_text", out[0]) == "echo: second"


# 3 --------------------------------------------------------------------------------------------
@ON_REQUEST
def test_an_approval_answer_that_cannot_be_sent_is_declined_instead_of_hanging(
    codex_client: CodexClient, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    target = tmp_path / "never.txt"
    scripted_model.on("make file", exec_command(f"touch {target}", escalated=True, justification="ok?"),
                      text("done either way"))
    out = _bounded(lambda: codex_client.chat_once(
        "make file please", approval_handler=lambda request: {"decision": {"weird", "set"}}), 30)
    assert getattr(out[0], "final_text", out[0]) == "done either way"
    assert not target.exists()  # failed closed: declined


@ON_REQUEST
def test_a_manual_answer_that_cannot_be_sent_can_be_corrected(
    codex_client: CodexClient, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    target = tmp_path / "manual.txt"
    scripted_model.on("make file", exec_command(f"touch {target}", escalated=True, justification="ok?"),
                      text("answered"))

    def run() -> List[str]:
        seen = []
        for step in codex_client.chat("make file please", approval_handler=codex_sync.MANUAL, inactivity_timeout=20):
            seen.append(step.step_type)
            if step.request is not None:
                with pytest.raises(TypeError):
                    step.request.decide({"acceptWithExecpolicyAmendment": {"execpolicy_amendment": {"x"}}})
                assert not step.request.answered
                step.request.decline()
        return seen

    out = _bounded(run, 30)
    assert "approval" in out[0] and not target.exists()


# 5 --------------------------------------------------------------------------------------------
def test_a_stream_collected_in_a_cycle_while_the_registry_lock_is_held_does_not_deadlock(
    codex_client: CodexClient, scripted_model: ScriptedModel
) -> None:
    scripted_model.on("hang please", hang(30))
    stream = codex_client.chat("hang please", on_delta=lambda d: None)
    thread_id = stream.thread_id
    cycle: List[Any] = [stream]
    cycle.append(cycle)  # only the cyclic collector can free it
    next(stream)
    del stream, cycle

    def collect_while_locked() -> None:
        with codex_client._turns._lock:
            gc.collect()  # runs ChatStream.__del__ right here

    _bounded(collect_while_locked, 5)
    out = _bounded(lambda: codex_client.chat_once("after", thread_id=thread_id), 20)
    assert getattr(out[0], "final_text", out[0]) == "echo: after"


# 7 --------------------------------------------------------------------------------------------
def test_turn_completed_before_the_turn_start_reply_ends_the_turn() -> None:
    with stand_in("complete_before_reply") as client:
        out = _bounded(lambda: client.chat_once("hi"), 10)
    assert isinstance(out[0], CodexTurnFailedError) and "refused at once" in str(out[0])


# 8, 15 --------------------------------------------------------------------------------------
def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _reap_and_check(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return _pid_gone(pid)


def test_ctrl_c_inside_close_then_close_again_finishes_the_job() -> None:
    client = stand_in("stubborn").start()
    client.initialize()
    pid = client._session.transport.pid  # type: ignore[attr-defined]
    timer = threading.Timer(0.5, _thread.interrupt_main)  # while close waits for the server to exit
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        client.close()
    assert not _pid_gone(pid)  # cut short: the server still runs
    _bounded(client.close, 15)
    deadline = time.monotonic() + 5
    while not _reap_and_check(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pid_gone(pid)


def test_every_concurrent_close_returns_only_when_the_server_is_gone() -> None:
    client = stand_in("stubborn").start()
    client.initialize()
    proc = client._session.transport._proc  # type: ignore[attr-defined]
    returned_while_running: List[bool] = []

    def close() -> None:
        client.close()
        returned_while_running.append(proc.poll() is None)

    closers = [threading.Thread(target=close, daemon=True) for _ in range(3)]
    for t in closers:
        t.start()
    for t in closers:
        t.join(15)
    assert returned_while_running == [False, False, False]


# 9 --------------------------------------------------------------------------------------------
def test_cancel_just_after_the_turn_ended_says_it_completed(codex_client: CodexClient) -> None:
    stream = codex_client.chat("quick one")
    steps = list(stream)
    assert steps[-1].text == "echo: quick one"
    result = stream.cancel()
    assert result.was_completed and not result.was_interrupted and list(result.steps) == []


# 10 -------------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_fork_error_from_streams_and_continuations(
    stdio_app_server: Any, scripted_model: ScriptedModel
) -> None:
    scripted_model.on("hang please", hang(30))
    with stdio_app_server.client() as client:
        stream = client.chat("hang please")
        continuation = stream.continuation
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what each call raised, then leave at once
            outcomes = []
            for call in (lambda: next(stream), lambda: client.chat(continuation=continuation),
                         lambda: client.chat_once(continuation=continuation)):
                try:
                    call()
                    outcomes.append("returned")
                except CodexForkError:
                    outcomes.append("fork-error")
                except BaseException as exc:
                    outcomes.append(type(exc).__name__)
            os.write(write_end, ",".join(outcomes).encode())
            os._exit(0)
        os.close(write_end)
        deadline = time.monotonic() + 10
        data = b""
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child blocked")
        data = os.read(read_end, 1000)
        os.close(read_end)
        stream.close()
    assert data.decode() == "fork-error,fork-error,fork-error"


# 11 -------------------------------------------------------------------------------------------
def test_ctrl_c_while_a_refused_turn_start_is_in_flight_surfaces_fast_and_frees_the_thread() -> None:
    with stand_in("refuse_first_turn", "0.6") as client:
        thread_id = client.start_thread().thread_id
        timer = threading.Timer(0.2, _thread.interrupt_main)
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.chat_once("too big", thread_id=thread_id)
        assert time.monotonic() - started < 3
        out = _bounded(lambda: client.chat_once("next", thread_id=thread_id), 10)
    assert getattr(out[0], "final_text", out[0]) == "stand-in answer"


# 13 -------------------------------------------------------------------------------------------
def test_close_with_the_listener_queue_full_stops_every_callback() -> None:
    listeners = Listeners()
    release = threading.Event()
    calls: List[int] = []

    def slow(message: Notification) -> None:
        calls.append(1)
        release.wait(10)

    listeners.add(None, slow)
    note = Notification("thread/started", {}, {"method": "thread/started", "params": {}})
    for _ in range(10_050):  # more than the queue holds
        listeners.offer(note)
    closer = threading.Thread(target=listeners.close, daemon=True)
    closer.start()
    time.sleep(0.1)
    release.set()  # let the callback that is running return
    closer.join(5)
    assert not closer.is_alive()
    after_close = len(calls)
    time.sleep(0.3)
    assert len(calls) == after_close == 1  # nothing ran after close() returned


# 14 -------------------------------------------------------------------------------------------
def test_nan_timeouts_are_refused_everywhere() -> None:
    nan = float("nan")
    for name in ("request_timeout", "inactivity_timeout"):
        with pytest.raises(ValueError, match=name):
            CodexClient.connect_stdio(["true"], **{name: nan})
    client = CodexClient.connect_stdio(["true"])
    with pytest.raises(ValueError, match="timeout"):
        client.request("thread/list", {}, timeout=nan)
    with pytest.raises(ValueError, match="inactivity_timeout"):
        client.chat("hi", inactivity_timeout=nan)
    with pytest.raises(ValueError, match="timeout"):
        client.initialize(timeout=nan)
    client.close()


# 16 -------------------------------------------------------------------------------------------
def test_ctrl_c_while_the_server_spawns_leaves_no_server_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    from codex_sync.transports import stdio

    spawned: List[subprocess.Popen] = []
    real_popen = subprocess.Popen
    real_thread = stdio.threading.Thread

    class Popen(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            spawned.append(self)

    class InterruptedThread(real_thread):  # type: ignore[misc, valid-type]
        def start(self) -> None:  # Ctrl-C right after Popen, as the stderr drain starts
            monkeypatch.setattr(stdio.threading, "Thread", real_thread)
            raise KeyboardInterrupt

    monkeypatch.setattr(stdio.subprocess, "Popen", Popen)
    monkeypatch.setattr(stdio.threading, "Thread", InterruptedThread)
    client = stand_in("normal")
    with pytest.raises(KeyboardInterrupt):
        client.start()
    assert len(spawned) == 1 and spawned[0].poll() is not None  # the half-started server was stopped
    assert client.chat_once("hi").final_text == "stand-in answer"  # a fresh one serves
    assert len(spawned) == 2
    client.close()
    assert spawned[1].poll() is not None


# 12, and a wrapper that dies while the real server lives on ------------------------------------
def _fails_fast_when_killed(client: CodexClient, kill_pid: int) -> BaseException:
    client.initialize()
    outcome: List[BaseException] = []

    def waiter() -> None:
        try:
            client.request("thread/list", {}, timeout=60)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=waiter, daemon=True)
    worker.start()
    time.sleep(0.3)
    os.kill(kill_pid, signal.SIGKILL)
    worker.join(4)  # the watch gives the stream 2 x 0.8 s to end by itself
    assert not worker.is_alive(), "the waiter was not failed"
    return outcome[0]


def test_a_wrapper_killed_while_its_child_keeps_the_pipes_fails_every_waiter(tmp_path: Path) -> None:
    wrapper = tmp_path / "codex-wrapper.sh"
    wrapper.write_text(f"#!/bin/sh\n{sys.executable} {STAND_IN} silent thread/list\n")  # no exec: sh stays the parent
    wrapper.chmod(0o755)
    client = CodexClient.connect_stdio([str(wrapper)]).start()
    error = _fails_fast_when_killed(client, client._session.transport.pid)  # type: ignore[attr-defined]
    assert isinstance(error, codex_sync.CodexTransportError) and error.exit_code == -signal.SIGKILL
    _bounded(client.close, 5)


def test_a_server_killed_while_a_detached_process_holds_its_output_fails_waiters_and_closes(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "stray.pid"
    client = stand_in("spawn_detached", str(pid_file)).start()
    try:
        error = _fails_fast_when_killed(client, client._session.transport.pid)  # type: ignore[attr-defined]
        assert isinstance(error, codex_sync.CodexTransportError) and error.exit_code == -signal.SIGKILL
        _bounded(client.close, 8)
        with pytest.raises(codex_sync.CodexTransportError):
            client.request("thread/list", {}, timeout=1)
    finally:
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


# 6 --------------------------------------------------------------------------------------------
def test_a_server_that_stops_reading_costs_each_caller_only_its_timeout(stdio_app_server: Any) -> None:
    client = stdio_app_server.client().start()
    client.initialize()
    pid = client._session.transport.pid  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGSTOP)  # hung: reads nothing more
    try:
        outcomes: List[Any] = []

        def big() -> None:  # more than a pipe holds
            try:
                client.request("thread/list", {"searchTerm": "x" * 300_000}, timeout=2)
            except BaseException as exc:
                outcomes.append(("big", exc))

        def small() -> None:
            time.sleep(0.2)  # behind the big one
            try:
                client.request("thread/list", {}, timeout=2)
            except BaseException as exc:
                outcomes.append(("small", exc))

        started = time.monotonic()
        workers = [threading.Thread(target=f, daemon=True) for f in (big, small)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(6)
        assert not any(w.is_alive() for w in workers), "a caller outlived its timeout"
        assert time.monotonic() - started < 6
        kinds = dict(outcomes)
        assert isinstance(kinds["big"], (CodexTimeoutError, codex_sync.CodexTransportError))
        assert isinstance(kinds["small"], (CodexTimeoutError, codex_sync.CodexTransportError))
        if isinstance(kinds["big"], codex_sync.CodexTransportError):  # cut in the middle: the stream is closed
            assert "cut" in str(kinds["big"]) and client.closed
    finally:
        os.kill(pid, signal.SIGCONT)
        _bounded(client.close, 10)
