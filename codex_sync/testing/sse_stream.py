"""Server-sent events over one HTTP response: the :class:`ReplyStream` the model hands a reply.

:class:`HttpReplyStream` turns the calls of a
:class:`~codex_sync.testing.Reply` into bytes on the wire: an error answer,
or ``200 text/event-stream`` sent with chunked transfer encoding, one chunk
per event (:func:`encode_event`), ended by the last chunk.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any, Callable, Mapping, Optional

from .request import ModelRequest

__all__ = ["HttpReplyStream", "encode_event", "chunk"]


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One SSE event: ``event: <type>`` and ``data: <json>``, ended by a blank line."""
    kind = str(event.get("type", "message"))
    return f"event: {kind}\ndata: {json.dumps(event)}\n\n".encode()


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked HTTP body (``b""`` gives the last chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class HttpReplyStream:
    """The :class:`~codex_sync.testing.ReplyStream` of one request.

    ``new_id`` draws ids from the model's counter; ``stopping`` is set when
    the model closes, which ends sleeps at once and refuses further events.
    Used only by the handler thread serving the request.
    """

    def __init__(
        self,
        handler: http.server.BaseHTTPRequestHandler,
        request: ModelRequest,
        new_id: Callable[[str], str],
        stopping: threading.Event,
    ) -> None:
        """Wrap ``handler``; nothing is sent until the first event or error."""
        self._handler = handler
        self._request = request
        self._new_id = new_id
        self._stopping = stopping
        self.started = False  # headers sent
        self.broken = False

    @property
    def request(self) -> ModelRequest:
        """The request being answered."""
        return self._request

    def new_id(self, prefix: str) -> str:
        """A fresh ``"<prefix>_<N>"`` from the model's counter."""
        return self._new_id(prefix)

    def _drop(self) -> None:
        self.broken = True
        self._handler.close_connection = True

    def _write(self, data: bytes) -> bool:
        if self.broken:
            return False
        try:
            self._handler.wfile.write(data)
            self._handler.wfile.flush()
            return True
        except OSError:
            self._drop()
            return False

    def send_error(self, status: int, body: str, headers: Optional[Mapping[str, str]] = None) -> None:
        """Answer HTTP ``status`` with ``body`` (JSON or plain text). Raises ``RuntimeError`` once started."""
        if self.started:
            raise RuntimeError("send_error() after the reply has started")
        self.started = True
        data = body.encode("utf-8")
        ctype = "application/json" if body.strip()[:1] in ("{", "[") else "text/plain"
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        try:
            handler.end_headers()
        except OSError:
            self._drop()
            return
        self._write(data)

    def _start(self) -> bool:
        if not self.started:
            self.started = True
            handler = self._handler
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            handler.send_header("Cache-Control", "no-cache")
            handler.send_header("Transfer-Encoding", "chunked")
            try:
                handler.end_headers()
            except OSError:
                self._drop()
        return not self.broken

    def event(self, event: Mapping[str, Any]) -> bool:
        """Send one event (headers first); ``False`` once the peer is gone or the model closes."""
        if self._stopping.is_set():
            self._drop()
            return False
        if not self._start():
            return False
        return self._write(chunk(encode_event(event)))

    def sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds``; ``False`` (at once) if the model is closing."""
        return not self._stopping.wait(max(0.0, seconds))

    def finish(self) -> None:
        """End the response: last chunk of a stream, or an empty stream if nothing was sent."""
        if self._stopping.is_set() and not self.started:
            self._handler.close_connection = True
            return
        if not self.started:
            self._start()
        if self.started and not self.broken:
            self._write(chunk(b""))
