"""Lifecycle: nothing survives close(), exit never hangs, fork is refused clearly, bad input is named."""

from __future__ import annotations

import _thread
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, List

import pytest

import codex_sync
from codex_sync import CodexClient, CodexForkError, ThreadConfig, per_process_client
from codex_sync.testing import AppServer, ScriptedModel, hang, text

pytestmark = pytest.mark.real_server


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "zombie" not in status.read()
    except FileNotFoundError:
        return False


def test_close_leaves_no_thread_fd_or_process(app_server: AppServer, scripted_model: ScriptedModel) -> None:
    scripted_model.on("slow", text("slow answer", delay=0.2))
    threads_before = set(threading.enumerate())
    fds_before = _fds()
    client = app_server.client(approval_handler=codex_sync.approve_all)
    with client:
        client.on_notification(None, lambda note: None)
        assert client.chat_once("slow").final_text == "slow answer"
        stream = client.chat("hang it")
        next(stream)
        pid = getattr(client._session.transport, "pid", None)
    del stream
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (set(threading.enumerate()) - threads_before or _fds() > fds_before):
        time.sleep(0.05)
    assert set(threading.enumerate()) - threads_before == set()
    assert _fds() <= fds_before
    if pid is not None:
        assert not _alive(pid)


def test_interpreter_exit_with_an_open_client_neither_hangs_nor_prints(stdio_app_server: AppServer) -> None:
    code = textwrap.dedent(f"""
        from codex_sync import CodexClient
        client = CodexClient.connect_stdio({stdio_app_server.command!r})
        client.start()
        print(client.chat_once("bye").final_text)
        stream = client.chat("left running")
        # no close(): the interpreter exits with an open client and a running turn
    """)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, **stdio_app_server.env},
                          capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert proc.returncode == 0 and proc.stdout.strip() == "echo: bye"
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_client_used_after_fork_raises_a_clear_error(stdio_app_server: AppServer) -> None:
    client = stdio_app_server.client().start()
    getter = per_process_client(lambda: stdio_app_server.client())
    parent_client = getter()
    assert parent_client.chat_once("parent").final_text == "echo: parent"
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: report what happened through the pipe, then leave at once
        outcome = []
        try:
            client.request("thread/list")
            outcome.append("no error")
        except CodexForkError as exc:
            outcome.append("fork-error" if "one client per process" in str(exc) else str(exc))
        except BaseException as exc:
            outcome.append(repr(exc))
        try:
            child_client = getter()
            outcome.append("new" if child_client is not parent_client else "same")
            outcome.append(child_client.chat_once("child").final_text)
            child_client.close()
        except BaseException as exc:
            outcome.append(repr(exc))
        client.close()  # must not touch the parent's server
        os.write(write, "|".join(outcome).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    data = os.read(read, 10000).decode()
    os.close(read)
    assert data == "fork-error|new|echo: child"
    assert client.chat_once("parent still works").final_text == "echo: parent still works"
    client.close()
    parent_client.close()


def test_ctrl_c_at_any_point_of_a_turn_leaves_the_client_usable(
    stdio_app_server: AppServer, scripted_model: ScriptedModel
) -> None:
    with stdio_app_server.client() as client:
        thread_id = client.chat_once("start").thread_id
        for delay in (0.0, 0.05, 0.15, 0.4, 0.8):
            scripted_model.on("interrupt me", text("slow", delay=0.3))
            timer = threading.Timer(delay, _thread.interrupt_main)
            try:
                timer.start()
                client.chat_once("interrupt me please", thread_id=thread_id)
                time.sleep(2)  # the turn finished before the interrupt: let it land here
            except KeyboardInterrupt:
                pass
            timer.join()
            assert client.chat_once(f"after {delay}", thread_id=thread_id).final_text == f"echo: after {delay}"


def test_a_slow_handler_does_not_stop_other_turns(app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    from codex_sync.testing import exec_command

    scripted_model.on("needs approval", exec_command(f"touch {tmp_path}/a", escalated=True, justification="x"),
                      text("approved later"))
    release = threading.Event()

    def slow_handler(request: Any) -> bool:
        release.wait(20)
        return True

    server = AppServer(scripted_model, transport=app_server.transport,
                       approval_policy="on-request", sandbox_mode="workspace-write")
    with server, server.client(approval_handler=slow_handler) as client:
        results: List[str] = []
        blocked = threading.Thread(target=lambda: results.append(client.chat_once("needs approval").final_text))
        blocked.start()
        time.sleep(1)
        assert client.chat_once("meanwhile").final_text == "echo: meanwhile"  # the reader kept pumping
        release.set()
        blocked.join(30)
        assert results == ["approved later"]


def test_on_delta_that_raises_stops_the_turn_and_propagates(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.on("deltas", text("one two three", deltas=["one ", "two ", "three"], delay=0.1))

    def bad(delta: Any) -> None:
        raise RuntimeError("callback bug")

    with pytest.raises(RuntimeError, match="callback bug"):
        codex_client.chat_once("deltas please", on_delta=bad)
    assert codex_client.chat_once("next").final_text == "echo: next"


def test_token_never_leaks(websocket_app_server: AppServer, caplog: pytest.LogCaptureFixture) -> None:
    token = websocket_app_server.token
    caplog.set_level(logging.DEBUG)
    with websocket_app_server.client() as client:
        client.chat_once("hello")
        assert token not in repr(client) and token not in repr(client._session.transport)
    bad = CodexClient.connect_websocket(websocket_app_server.url, token=token + "x")
    with pytest.raises(codex_sync.CodexTransportError) as info:
        bad.start()
    assert token not in str(info.value) and token not in caplog.text


BAD_CALLS: List[Any] = [
    (lambda c: c.chat_once(123), TypeError, "text"),
    (lambda c: c.chat_once(""), ValueError, "text"),
    (lambda c: c.chat_once("x", thread_id=5), TypeError, "thread_id"),
    (lambda c: c.chat_once("x", inactivity_timeout=-1), ValueError, "inactivity_timeout"),
    (lambda c: c.chat_once("x", inactivity_timeout="5"), TypeError, "inactivity_timeout"),
    (lambda c: c.chat_once("x", thread_config={"model": "m"}), TypeError, "thread_config"),
    (lambda c: c.chat_once("x", turn_overrides=ThreadConfig()), TypeError, "turn_overrides"),
    (lambda c: c.chat_once("x", metadata=[1]), TypeError, "metadata"),
    (lambda c: c.chat_once("x", on_delta=5), TypeError, "on_delta"),
    (lambda c: c.chat_once("x", approval_handler=5), TypeError, "approval_handler"),
    (lambda c: c.chat_once(continuation="nope"), TypeError, "continuation"),
    (lambda c: c.request(""), TypeError, "method"),
    (lambda c: c.request("thread/list", params=[1]), TypeError, "params"),
    (lambda c: c.request("thread/list", timeout=0), ValueError, "timeout"),
    (lambda c: c.cancel("nope"), TypeError, "continuation"),
    (lambda c: c.steer_turn(thread_id="", expected_turn_id="t", input_items="x"), TypeError, "thread_id"),
    (lambda c: c.interrupt_turn(""), TypeError, "turn_id"),
    (lambda c: c.rollback_thread("t", 0), ValueError, "num_turns"),
    (lambda c: c.list_threads(limit=0), ValueError, "limit"),
    (lambda c: c.start_thread({"cwd": "."}), TypeError, "config"),
    (lambda c: c.start_review(thread_id="t", target="uncommitted"), TypeError, "target"),
    (lambda c: c.on_notification(None, "not callable"), TypeError, "callback"),
    (lambda c: c.exec_command([]), TypeError, "command"),
    (lambda c: c.initialize(params=[1]), TypeError, "params"),
]


@pytest.mark.parametrize("call,error,name", BAD_CALLS, ids=[b[2] + str(i) for i, b in enumerate(BAD_CALLS)])
def test_bad_arguments_raise_named_errors(stdio_app_server: AppServer, call: Callable[[CodexClient], Any],
                                          error: type, name: str) -> None:
    client = stdio_app_server.client()
    try:
        with pytest.raises(error, match=name):
            call(client)
    finally:
        client.close()


@pytest.mark.parametrize("kwargs,error,name", [
    ({"request_timeout": 0}, ValueError, "request_timeout"),
    ({"inactivity_timeout": "x"}, TypeError, "inactivity_timeout"),
    ({"experimental_api": "yes"}, TypeError, "experimental_api"),
    ({"client_info": "me"}, TypeError, "client_info"),
    ({"overload_retries": -1}, ValueError, "overload_retries"),
    ({"approval_handler": 3}, TypeError, "approval_handler"),
    ({"env": ["A=B"]}, TypeError, "env"),
    ({"command": 5}, TypeError, "command"),
])
def test_bad_constructor_arguments(kwargs: dict, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        CodexClient.connect_stdio(**kwargs).start()


def test_bad_websocket_arguments() -> None:
    with pytest.raises(ValueError, match="url"):
        CodexClient.connect_websocket("http://127.0.0.1:1")
    with pytest.raises(TypeError, match="token"):
        CodexClient.connect_websocket("ws://127.0.0.1:1", token=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="connect_timeout"):
        CodexClient.connect_websocket("ws://127.0.0.1:1", connect_timeout=0)


def test_hang_reply_is_used(scripted_model: ScriptedModel) -> None:
    """Guard for the fixtures above: an unmatched hang would make them slow, not wrong."""
    assert hang(1).seconds == 1


def test_close_inside_a_callback_or_handler(stdio_app_server: AppServer, scripted_model: ScriptedModel,
                                            tmp_path: Path) -> None:
    from codex_sync.testing import exec_command

    client = stdio_app_server.client().start()
    closed_from_callback = threading.Event()

    def callback(note: Any) -> None:
        client.close()
        closed_from_callback.set()

    client.on_notification("thread/name/updated", callback)
    thread = client.start_thread()
    thread.set_name("close me")
    assert closed_from_callback.wait(10)
    with pytest.raises(codex_sync.CodexTransportError):
        client.request("thread/list")

    server = AppServer(scripted_model, approval_policy="on-request", sandbox_mode="workspace-write")
    scripted_model.on("approve", exec_command(f"touch {tmp_path}/x", escalated=True, justification="j"), text("no"))
    with server:
        holder: List[CodexClient] = []

        def closing_handler(request: Any) -> bool:
            holder[0].close()
            return True

        holder.append(server.client(approval_handler=closing_handler).start())
        started = time.monotonic()
        with pytest.raises(codex_sync.CodexTransportError):
            holder[0].chat_once("approve this")
        assert time.monotonic() - started < 10
