"""Protocol helpers and transports, as the seed's modules expose them.

Scenarios of the seed's ``test_protocol.py`` and ``test_transport.py``. The
seed replaces ``websockets.connect`` to look at the handshake; here a
listening socket on 127.0.0.1 reads the real handshake instead.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import socket
import threading
from typing import Any, List

import pytest

from codex_sync import CodexTransportError


def _seed_module(name: str) -> Any:
    """``codex_sync.<name>``, where the seed has ``codex_app_server_sdk.<name>``."""
    return importlib.import_module(f"codex_sync.{name}")

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


def test_make_request_builds_the_envelope() -> None:
    make_request = _seed_module("protocol").make_request
    assert make_request(7, "initialize", {"foo": "bar"}) == {
        "jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {"foo": "bar"}}


def test_extract_error_reads_an_error_response() -> None:
    protocol = _seed_module("protocol")
    extract_error, make_error_response = protocol.extract_error, protocol.make_error_response
    error = extract_error(make_error_response(9, -32000, "boom", {"x": 1}))
    assert error is not None
    assert (error["code"], error["message"], error["data"]) == (-32000, "boom", {"x": 1})


def test_stdio_transport_needs_a_command() -> None:
    with pytest.raises(ValueError):
        _seed_module("transport").StdioTransport([])


def test_websocket_transport_cannot_send_before_connecting() -> None:
    transport = _seed_module("transport").WebSocketTransport("ws://127.0.0.1:9999")
    with pytest.raises(CodexTransportError):
        transport.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})


class _Handshake:
    """Accepts one websocket handshake on 127.0.0.1 and keeps the request's header lines."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.lines: List[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            key = next((ln.split(":", 1)[1].strip() for ln in self.lines if ln.lower().startswith("sec-websocket-key:")), "")
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            conn.sendall((
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode())
            try:
                conn.recv(4096)  # until the client closes
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


def test_websocket_handshake_sends_the_headers_and_asks_no_compression() -> None:
    server = _Handshake()
    try:
        transport = _seed_module("transport").WebSocketTransport(server.url, headers={"Authorization": "Bearer token"})
        transport.connect()
        transport.close()
        server.thread.join(5)
    finally:
        server.close()
    lowered = [line.lower() for line in server.lines]
    assert "authorization: bearer token" in lowered
    assert not any(line.startswith("sec-websocket-extensions:") for line in lowered)


def test_websocket_connect_failure_names_the_original_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now
    transport = _seed_module("transport").WebSocketTransport(f"ws://127.0.0.1:{port}")
    with pytest.raises(CodexTransportError) as caught:
        transport.connect()
    cause = caught.value.__cause__ or caught.value.__context__
    assert cause is not None
    assert type(cause).__name__ in str(caught.value)
