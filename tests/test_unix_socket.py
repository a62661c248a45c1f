"""``CodexClient.connect_unix``: the app-server listening on a unix socket (websocket over it)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from codex_sync import CodexClient, CodexTransportError
from codex_sync.testing import AppServer, ScriptedModel

pytestmark = pytest.mark.real_server


def test_a_turn_over_a_unix_socket(scripted_model: ScriptedModel, tmp_path: Path) -> None:
    socket_path = tmp_path / "codex.sock"
    with AppServer(scripted_model, transport="stdio") as prepared:  # the home, env and binary of the kit
        server = subprocess.Popen(
            [*prepared.command, "--listen", f"unix://{socket_path}"],
            env={**os.environ, **prepared.env}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 20
            while not socket_path.exists() and time.monotonic() < deadline and server.poll() is None:
                time.sleep(0.05)
            assert socket_path.exists(), "the server did not create its socket"
            with CodexClient.connect_unix(str(socket_path)) as client:
                assert "unix:" in repr(client)
                first = client.chat_once("over a unix socket")
                assert first.final_text == "echo: over a unix socket"
                thread_id = first.thread_id
            with CodexClient.connect_unix(str(socket_path)) as second:  # the server outlives its clients
                assert second.chat_once("again", thread_id=thread_id).final_text == "echo: again"
        finally:
            server.kill()
            server.wait(10)


def test_a_missing_socket_says_what_to_run(tmp_path: Path) -> None:
    client = CodexClient.connect_unix(str(tmp_path / "nothing.sock"), connect_timeout=2)
    with pytest.raises(CodexTransportError, match="--listen unix://"):
        client.start()
