"""Faults shown with the real server: websocket paths that die, restarts, huge outputs, memory."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import List

import pytest

from codex_sync import CodexClient, CodexTimeoutError, CodexTransportError, CodexTurnInactiveError
from codex_sync.testing import AppServer, ScriptedModel, exec_command, hang, text

pytestmark = pytest.mark.real_server
STAND_IN = str(Path(__file__).with_name("stand_in_server.py"))


class StallingProxy:
    """A TCP proxy on 127.0.0.1 whose far side can stop reading (a dead network path)."""

    def __init__(self, target_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        self.stalled = threading.Event()
        self.sockets: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        self.sockets += [client, upstream]
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    return
                while self.stalled.is_set():  # the path is dead: nothing moves, nothing closes
                    time.sleep(0.05)
                sink.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for s in self.sockets:
            s.close()


def test_dead_network_path_gives_timeouts_not_hangs(
    websocket_app_server: AppServer, scripted_model: ScriptedModel
) -> None:
    port = int(websocket_app_server.url.rsplit(":", 1)[1])
    proxy = StallingProxy(port)
    scripted_model.on("slow", text("slow answer", delay=0.5))
    client = CodexClient.connect_websocket(f"ws://127.0.0.1:{proxy.port}", token=websocket_app_server.token,
                                           request_timeout=2)
    try:
        client.start()
        thread_id = client.chat_once("before").thread_id
        proxy.stalled.set()
        started = time.monotonic()
        with pytest.raises(CodexTimeoutError):
            client.request("thread/list")
        assert time.monotonic() - started < 4
        proxy.stalled.clear()
        with pytest.raises(CodexTurnInactiveError) as info:  # state stays consistent: the turn resumes
            client.chat_once("slow please", thread_id=thread_id, inactivity_timeout=0.2)
        assert client.chat_once(continuation=info.value.continuation).final_text == "slow answer"
        proxy.stalled.set()
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 6
    finally:
        proxy.close()
        client.close()


def test_websocket_server_restart_then_a_new_client_connects(scripted_model: ScriptedModel) -> None:
    first = AppServer(scripted_model, transport="websocket").start()
    client = first.client().start()
    assert client.chat_once("one").final_text == "echo: one"
    scripted_model.on("hang please", hang(30))
    stream = client.chat("hang please")
    first.close()
    started = time.monotonic()
    with pytest.raises(CodexTransportError):
        list(stream)
    assert time.monotonic() - started < 8
    with pytest.raises(CodexTransportError):
        client.request("thread/list")
    client.close()
    with AppServer(scripted_model, transport="websocket") as second, second.client() as fresh:
        assert fresh.chat_once("two").final_text == "echo: two"


def test_50_mb_of_command_output_goes_through(codex_client: CodexClient, scripted_model: ScriptedModel) -> None:
    scripted_model.on("big output", exec_command("head -c 52428800 /dev/zero | tr '\\0' x"), text("big done"))
    result = codex_client.chat_once("big output please", inactivity_timeout=120)
    assert result.final_text == "big done"
    exec_item = [s for s in result.steps if s.step_type == "exec"][0].data["item"]
    assert exec_item["exitCode"] == 0 and len(exec_item["aggregatedOutput"]) >= 1_000_000  # capped by the server


def test_memory_stays_a_small_multiple_of_a_20_mb_message() -> None:
    code = textwrap.dedent(f"""
        import resource, sys
        from codex_sync import CodexClient
        size = 20 * 1024 * 1024
        with CodexClient.connect_stdio([sys.executable, {STAND_IN!r}, "huge", str(size)]) as client:
            client.initialize()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            result = client.chat_once("hi")
            assert len(result.final_text) == size
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print((after - before) / size)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ratio = float(proc.stdout.strip())
    print(f"\npeak RSS growth for a 20 MB line: {ratio:.2f}x the message")
    assert ratio < 5


@pytest.mark.codex_app_server(approval_policy="on-request", sandbox_mode="workspace-write")
def test_server_killed_mid_approval(stdio_app_server: AppServer, scripted_model: ScriptedModel, tmp_path: Path) -> None:
    import os
    import signal

    import codex_sync

    scripted_model.on("approve", exec_command(f"touch {tmp_path}/x", escalated=True, justification="j"), text("no"))
    client = stdio_app_server.client().start()
    stream = client.chat("approve this", approval_handler=codex_sync.MANUAL)
    pending = None
    for step in stream:
        if step.step_type == "approval":
            pending = step.request
            break
    assert pending is not None
    os.kill(client._session.transport.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    started = time.monotonic()
    with pytest.raises(CodexTransportError):
        for _ in stream:
            pass
    assert time.monotonic() - started < 3
    with pytest.raises(CodexTransportError):
        pending.approve()  # the answer has nowhere to go: said, not lost silently
    client.close()
