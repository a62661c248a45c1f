"""Transports in the async SDK's shape: ``connect()``, ``send(dict)``, ``recv() -> dict``, ``close()``.

For code ported from the async SDK's ``transport`` module, synchronous here:

- :class:`Transport`, the abstract shape, which your own transports may
  implement (a test double that plays the server, a custom pipe);
- :class:`StdioTransport` and :class:`WebSocketTransport`, the same
  connections as ``CodexClient.connect_stdio()`` / ``connect_websocket()``
  in that shape;
- :class:`SeedTransportAdapter`, which lets ``CodexClient`` run over any
  object of that shape. ``CodexClient(transport)`` wraps such an object by
  itself; for the two classes here it uses the connection underneath
  directly, so nothing is decoded twice.

codex_sync's own transport interface (one JSON text in, one out) is
:class:`codex_sync.transports.base.Transport`.
"""

from __future__ import annotations

import abc
import inspect
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Dict, Optional, Union

from .errors import CodexTransportError
from .transports import base
from .transports.stdio import StdioTransport as _LineStdio
from .transports.websocket import WebSocketTransport as _LineWebSocket

__all__ = ["Transport", "StdioTransport", "WebSocketTransport", "SeedTransportAdapter", "as_line_transport"]


def _dumps(payload: Mapping[str, Any]) -> str:
    return json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False)


class Transport(abc.ABC):
    """A message pipe to one app-server, in the async SDK's shape (synchronous).

    ``recv`` is called by one thread (the client's reader) and must raise
    (:class:`CodexTransportError`) once the stream has ended; ``send`` by one
    thread at a time; ``close`` from any thread, and it must make a blocked
    ``recv`` raise.
    """

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection (spawn, dial). Blocks until connected."""

    @abc.abstractmethod
    def send(self, payload: Mapping[str, Any]) -> None:
        """Send one JSON-RPC message."""

    @abc.abstractmethod
    def recv(self) -> Dict[str, Any]:
        """Block for the next message, decoded."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""


class _LineBacked(Transport):
    """A seed-shaped transport over one of codex_sync's own (which ``CodexClient`` uses directly)."""

    def __init__(self, line_transport: base.Transport) -> None:
        self.line_transport = line_transport
        self._connected = False

    def connect(self) -> None:
        """Open the connection; idempotent. Raises :class:`CodexTransportError`."""
        if not self._connected:
            self.line_transport.open()
            self._connected = True

    def send(self, payload: Mapping[str, Any]) -> None:
        """Send one message. Raises :class:`CodexTransportError` if not connected or gone."""
        if not self._connected:
            raise CodexTransportError(f"{self.line_transport.describe()} is not connected")
        self.line_transport.send(_dumps(payload))

    def recv(self) -> Dict[str, Any]:
        """Block for the next message. Raises :class:`CodexTransportError` at the end or on bad JSON."""
        if not self._connected:
            raise CodexTransportError(f"{self.line_transport.describe()} is not connected")
        data = self.line_transport.receive()
        if data is None:
            raise self.line_transport.failure("the app-server closed the connection")
        try:
            message = json.loads(data)
        except ValueError as exc:
            raise CodexTransportError(f"received a message that is not JSON: {exc}") from exc
        if not isinstance(message, dict):
            raise CodexTransportError(f"received a message that is not a JSON object: {type(message).__name__}")
        return message

    def close(self) -> None:
        """Close; idempotent, any thread (wakes a blocked :meth:`recv`)."""
        self.line_transport.close()


class StdioTransport(_LineBacked):
    """``codex app-server`` as a child process (as ``CodexClient.connect_stdio``), seed-shaped.

    ``command`` is the argv (not empty: :class:`ValueError`); ``env``, ``cwd``
    as for ``connect_stdio``; ``connect_timeout`` is accepted for the async
    SDK's signature (spawning does not wait for the server, so nothing is
    bounded by it).
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        connect_timeout: float = 30.0,
    ) -> None:
        if isinstance(command, str) or not command:
            raise ValueError("the stdio command must be a non-empty list of strings")
        self.connect_timeout = connect_timeout
        super().__init__(_LineStdio(list(command), cwd=cwd, env=env))


class WebSocketTransport(_LineBacked):
    """A websocket to ``codex app-server --listen ws://…`` (as ``CodexClient.connect_websocket``), seed-shaped.

    ``headers`` go with the handshake (put ``Authorization: Bearer …`` there,
    as the async SDK does); ``connect_timeout`` bounds the handshake.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        connect_timeout: float = 30.0,
    ) -> None:
        super().__init__(_LineWebSocket(url, headers=headers, connect_timeout=connect_timeout))
        self.url = url

    def connect(self) -> None:
        """Open the websocket. Raises :class:`CodexTransportError` naming the error underneath."""
        try:
            super().connect()
        except CodexTransportError as exc:
            cause = exc.__cause__
            if cause is None:
                raise
            raise CodexTransportError(f"{exc} ({type(cause).__name__}: {cause})") from cause


class SeedTransportAdapter(base.Transport):
    """codex_sync's transport interface over an object of the async SDK's shape.

    ``connect()`` opens, ``send(dict)`` sends, ``recv()`` returns the next
    message as a dict (and raises once the stream has ended), ``close()``
    closes and must make a blocked ``recv()`` raise. An exception from
    ``recv()`` ends the connection: every waiter gets a
    :class:`CodexTransportError` that says it. The client's reader calls
    :meth:`receive` (it blocks in ``recv()``); :meth:`open` blocks in
    ``connect()``; :meth:`close` may be called from any thread, once in
    effect. Building one raises :class:`TypeError` for an object that lacks
    a method, or whose methods are coroutines. ``CodexClient(obj)`` builds
    it by itself.
    """

    def __init__(self, transport: Any) -> None:
        missing = [name for name in ("connect", "send", "recv", "close") if not callable(getattr(transport, name, None))]
        if missing:
            raise TypeError(f"a transport needs {', '.join(missing)}(); {type(transport).__name__} lacks them")
        if any(inspect.iscoroutinefunction(getattr(transport, n)) for n in ("connect", "send", "recv", "close")):
            raise TypeError(f"{type(transport).__name__} is asynchronous; codex_sync needs blocking methods")
        self._transport = transport
        self._error: Optional[BaseException] = None
        self._close_lock = threading.Lock()
        self._closed = False

    def open(self) -> None:
        try:
            self._transport.connect()
        except CodexTransportError:
            raise
        except Exception as exc:
            raise CodexTransportError(f"cannot connect {self.describe()}: {exc}") from exc

    def send(self, text: str) -> None:
        try:
            self._transport.send(json.loads(text))
        except CodexTransportError:
            raise
        except Exception as exc:
            raise CodexTransportError(f"cannot send to {self.describe()}: {exc}") from exc

    def receive(self) -> Optional[str]:
        try:
            message = self._transport.recv()
        except BaseException as exc:  # the stream has ended, one way or another
            self._error = exc
            return None
        return _dumps(message)

    def failure(self, reason: str) -> CodexTransportError:
        error = self._error
        if error is None:
            return CodexTransportError(reason)
        failure = CodexTransportError(f"{reason}: {error}")
        failure.__cause__ = error
        return failure

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._transport.close()

    def describe(self) -> str:
        return f"{type(self._transport).__name__} transport"


def as_line_transport(transport: Union[base.Transport, Transport, Any]) -> base.Transport:
    """The codex_sync transport to run a client over: as it is, unwrapped, or adapted.

    Raises :class:`TypeError` for an object that is no transport at all.
    """
    if isinstance(transport, base.Transport):
        return transport
    if isinstance(transport, _LineBacked) and not transport._connected:
        return transport.line_transport  # (one already connected is adapted: connect() is idempotent)
    return SeedTransportAdapter(transport)
