"""The HTTP server of the fake Responses API: threads, connections, request bodies.

:class:`ModelHTTPServer` is a :class:`http.server.ThreadingHTTPServer` that
knows nothing of scripts: it hands every ``POST`` to a callback (the
:class:`~codex_sync.testing.ScriptedModel`), reports the connections it opens
and closes (so the model can drop them on close) and answers every other
method with 404. :func:`read_json_body` reads and decodes a request body.
"""

from __future__ import annotations

import gzip
import http.server
import json
import socket
import sys
import zlib
from typing import Any, Callable, Dict, List, Tuple

__all__ = ["ModelHTTPServer", "ModelHandler", "read_json_body", "drain_body", "BAD_BODY_ERRORS"]

#: What :func:`read_json_body` raises for a body that cannot be read or decoded.
BAD_BODY_ERRORS = (OSError, ValueError, EOFError, zlib.error)


class ModelHTTPServer(http.server.ThreadingHTTPServer):
    """Serves the fake model on daemon threads, one per connection.

    ``on_post(handler)`` answers each ``POST`` on its connection's thread;
    ``on_connection(sock, opened)`` is called when a connection opens
    (``True``) and when it ends (``False``); ``on_error(message)`` receives
    failures of handler threads other than dropped connections.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: Tuple[str, int],
        *,
        on_post: Callable[[ModelHandler], None],
        on_connection: Callable[[socket.socket, bool], None],
        on_error: Callable[[str], None],
    ) -> None:
        """Bind ``address`` (raises ``OSError`` if it cannot); serve nothing until ``serve_forever``."""
        self.on_post = on_post
        self.on_connection = on_connection
        self.on_error = on_error
        super().__init__(address, ModelHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record the error instead of printing a traceback (peers hang up often)."""
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.on_error(f"handler failed: {exc!r}")


class ModelHandler(http.server.BaseHTTPRequestHandler):
    """One connection of :class:`ModelHTTPServer` (HTTP/1.1, keep-alive)."""

    protocol_version = "HTTP/1.1"
    server: ModelHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet (the stdlib logs every request to stderr)."""

    def setup(self) -> None:
        """Set up the connection and report it open."""
        super().setup()
        self.server.on_connection(self.connection, True)

    def finish(self) -> None:
        """Finish the connection and report it closed."""
        try:
            super().finish()
        finally:
            self.server.on_connection(self.connection, False)

    def do_POST(self) -> None:
        """Hand the request to the server's ``on_post``."""
        self.server.on_post(self)

    def not_found(self) -> None:
        """Read and drop the body, then answer ``404 not found``."""
        drain_body(self)
        self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "9")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"not found")

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = not_found


def _read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    """The raw body: chunked or ``Content-Length`` (none: empty)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: List[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def drain_body(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Read and drop the body; on a malformed one, close the connection after the answer."""
    try:
        _read_body(handler)
    except (OSError, ValueError):
        handler.close_connection = True


def read_json_body(handler: http.server.BaseHTTPRequestHandler) -> Dict[str, Any]:
    """Read the body, undo its ``Content-Encoding`` (gzip, deflate) and parse it as a JSON object.

    Raises one of :data:`BAD_BODY_ERRORS` when the body cannot be read, is
    compressed some other way, is not JSON or not an object. Runs on the
    handler's thread.
    """
    raw = _read_body(handler)
    encoding = handler.headers.get("Content-Encoding", "identity").lower()
    if encoding == "gzip":
        raw = gzip.decompress(raw)
    elif encoding == "deflate":
        raw = zlib.decompress(raw)
    elif encoding not in ("identity", ""):
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    body = json.loads(raw.decode("utf-8"))
    if not isinstance(body, dict):
        raise ValueError("request body is not a JSON object")
    return body
