"""The errors a newcomer meets first say what is wrong and what to do."""

from __future__ import annotations

import http.server
import sys
import threading
from typing import Iterator

import pytest

from codex_sync import CodexClient, CodexTransportError
from codex_sync.testing import codex_binary
from codex_sync.transports import stdio


def test_a_command_that_echoes_is_not_an_app_server() -> None:
    client = CodexClient.connect_stdio(["cat"], request_timeout=10)
    with pytest.raises(CodexTransportError, match="is not a codex app-server.*codex app-server"):
        client.initialize()
    client.close()


@pytest.mark.real_server
def test_forgetting_app_server_in_the_command_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"HOME": str(tmp_path), "CODEX_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    client = CodexClient.connect_stdio([codex_binary()], env=env, request_timeout=20)
    with pytest.raises(CodexTransportError, match="has no `app-server`") as info:
        client.initialize()
    assert "stdin is not a terminal" in info.value.stderr_tail  # and the server's own words are kept
    client.close()


@pytest.fixture
def http_404() -> Iterator[str]:
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"ws://127.0.0.1:{server.server_address[1]}/wrong/path"
    finally:
        server.shutdown()
        server.server_close()


def test_a_websocket_answered_404_says_to_check_the_url(http_404: str) -> None:
    client = CodexClient.connect_websocket(http_404, connect_timeout=5)
    with pytest.raises(CodexTransportError, match="404 Not Found.*codex app-server --listen"):
        client.start()


def test_no_binary_on_this_python_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(stdio.ENV_COMMAND, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(stdio, "_runtime_binary", lambda: (None, None))
    with pytest.raises(CodexTransportError) as info:
        stdio.resolve_command(None)
    if sys.version_info >= (3, 10):
        assert "pip install 'codex-sync[runtime]'" in str(info.value)
    else:  # the extra installs nothing on 3.9: do not suggest it alone
        assert "npm install -g @openai/codex" in str(info.value) and "needs Python >= 3.10" in str(info.value)
