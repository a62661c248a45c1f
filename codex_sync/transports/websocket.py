"""Talk to ``codex app-server --listen ws://…`` over a websocket (websocket-client)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from ..errors import CodexTransportError
from .base import Transport

if TYPE_CHECKING:
    import websocket as websocket_client

# websocket-client, imported when the first websocket is opened (it costs about 15 ms,
# which a client that only ever uses stdio need not pay at `import codex_sync`).
websocket: Any = None


def _load_websocket_client() -> Any:
    global websocket
    if websocket is None:
        import websocket as module

        websocket = module
    return websocket

ENV_URL = "CODEX_APP_SERVER_WS_URL"
ENV_TOKEN = "CODEX_APP_SERVER_TOKEN"
DEFAULT_URL = "ws://127.0.0.1:8765"


class WebSocketTransport(Transport):
    """One websocket connection: one JSON-RPC message per text frame.

    ``url`` defaults to ``$CODEX_APP_SERVER_WS_URL``, else ``ws://127.0.0.1:8765``;
    ``token`` to ``$CODEX_APP_SERVER_TOKEN`` and is sent as
    ``Authorization: Bearer <token>``. No ``Origin`` header is sent (the server
    answers 403 to one) and no compression is negotiated. ``sslopt`` is passed
    to websocket-client for ``wss://`` (e.g. ``{"ca_certs": "/path/ca.pem"}``).
    ``unix_socket``: the path of ``codex app-server --listen unix://PATH``; the
    websocket then runs over that socket (``url`` only names the host).
    """

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        token: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        connect_timeout: float = 10.0,
        sslopt: Optional[Dict[str, Any]] = None,
        unix_socket: Optional[str] = None,
    ) -> None:
        if unix_socket is not None:
            if not isinstance(unix_socket, (str, os.PathLike)):
                raise TypeError(f"unix_socket must be a path, not {type(unix_socket).__name__}")
            url = url or "ws://localhost/"
        if url is not None and not isinstance(url, str):
            raise TypeError(f"url must be a string, not {type(url).__name__}")
        if token is not None and not isinstance(token, str):
            raise TypeError(f"token must be a string, not {type(token).__name__}")
        if headers is not None and not isinstance(headers, Mapping):
            raise TypeError(f"headers must be a mapping of strings, not {type(headers).__name__}")
        if not isinstance(connect_timeout, (int, float)) or connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be a positive number, not {connect_timeout!r}")
        self.url = url or os.environ.get(ENV_URL) or DEFAULT_URL
        if not self.url.startswith(("ws://", "wss://")):
            raise ValueError(f"url must start with ws:// or wss://, not {self.url!r}")
        self._token = token if token is not None else os.environ.get(ENV_TOKEN) or None
        self._headers = dict(headers or {})
        self._connect_timeout = float(connect_timeout)
        self._sslopt = dict(sslopt or {})
        self._unix_socket = None if unix_socket is None else os.fspath(unix_socket)
        self._ws: Optional[websocket_client.WebSocket] = None
        self._closed = False
        self._close_lock = threading.Lock()
        self._close_reason = ""

    def __repr__(self) -> str:  # never shows the token
        return f"WebSocketTransport(url={self.url!r}, token={'***' if self._token else None})"

    def fresh(self) -> WebSocketTransport:
        """A new, unconnected transport to the same URL with the same options."""
        transport = WebSocketTransport(
            self.url, token=self._token, headers=self._headers,
            connect_timeout=self._connect_timeout, sslopt=self._sslopt, unix_socket=self._unix_socket,
        )
        return transport

    def _unix_connection(self) -> socket.socket:
        """A stream socket connected to ``unix_socket`` (within the connect timeout)."""
        assert self._unix_socket is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._connect_timeout)
        try:
            sock.connect(self._unix_socket)
        except OSError as exc:
            sock.close()
            raise CodexTransportError(
                f"cannot connect to the unix socket {self._unix_socket}: {exc}. Is "
                f"`codex app-server --listen unix://{self._unix_socket}` running?"
            ) from exc
        return sock

    def open(self) -> None:
        _load_websocket_client()
        header: List[str] = [f"{k}: {v}" for k, v in self._headers.items()]
        if self._token:
            header.append(f"Authorization: Bearer {self._token}")
        options: Dict[str, Any] = {}
        if self._unix_socket is not None:
            options["socket"] = self._unix_connection()
        try:
            ws = websocket.create_connection(
                self.url,
                timeout=self._connect_timeout,
                header=header,
                suppress_origin=True,
                **options,
                enable_multithread=True,
                sslopt=self._sslopt or None,
            )
        except websocket.WebSocketBadStatusException as exc:
            raise CodexTransportError(self._refusal_message(exc)) from exc
        except (OSError, websocket.WebSocketException) as exc:
            raise CodexTransportError(
                f"cannot connect to {self.url}: {exc or type(exc).__name__}. Is "
                "`codex app-server --listen` running there? (url: connect_websocket(url=...) "
                f"or ${ENV_URL})"
            ) from exc
        ws.settimeout(None)  # the reader blocks; close() wakes it
        self._ws = ws

    def _refusal_message(self, exc: websocket_client.WebSocketBadStatusException) -> str:
        status = getattr(exc, "status_code", None)
        if status == 401:
            given = "a token was sent but the server refused it" if self._token else "no token was sent"
            return (
                f"the websocket server at {self.url} refused the connection (401 Unauthorized): "
                f"{given}. Pass connect_websocket(token=...) or set ${ENV_TOKEN} to the server's "
                "--ws-token-file content"
            )
        if status == 403:
            return (
                f"the websocket server at {self.url} refused the connection (403 Forbidden); "
                "it rejects requests that carry an Origin header"
            )
        if status == 404:
            return (
                f"the server at {self.url} answered 404 Not Found to the websocket handshake: is this "
                "the address of `codex app-server --listen ws://HOST:PORT`? It serves the websocket at "
                "the root path; check the host, the port and the path of the URL"
            )
        return f"the websocket server at {self.url} refused the connection (HTTP {status})"

    def send(self, text: str) -> None:
        ws = self._ws
        if ws is None or self._closed:
            raise self.failure("the app-server connection is closed")
        try:
            ws.send(text)
        except (OSError, websocket.WebSocketException) as exc:
            raise self.failure(f"cannot send to {self.url}: {exc}") from exc

    def receive(self) -> Optional[Union[bytes, str]]:
        ws = self._ws
        if ws is None:
            return None
        try:
            opcode, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            self._close_reason = self._close_reason or "the server closed the websocket"
            return None
        except (OSError, websocket.WebSocketException) as exc:
            self._close_reason = self._close_reason or f"the websocket broke: {exc}"
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self._close_reason = self._close_reason or "the server closed the websocket"
            return None
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        return data if isinstance(data, (bytes, str)) else None

    def failure(self, reason: str) -> CodexTransportError:
        if self._close_reason and self._close_reason not in reason:
            reason = f"{reason}: {self._close_reason}"
        return CodexTransportError(reason)

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        ws = self._ws
        if ws is None:
            return
        self._close_reason = self._close_reason or "the client closed the connection"
        try:  # wake a reader blocked in recv, then release the socket
            if ws.sock is not None:
                ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            if ws.sock is not None:
                ws.sock.close()
        except OSError:  # pragma: no cover
            pass

    def describe(self) -> str:
        return f"unix:{self._unix_socket}" if self._unix_socket is not None else self.url
