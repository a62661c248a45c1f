"""A scripted fake of the OpenAI Responses API, served on 127.0.0.1.

:class:`ScriptedModel` answers the ``POST /v1/responses`` requests that a real
``codex app-server`` makes when its ``config.toml`` points a model provider at
:attr:`ScriptedModel.url` (see :mod:`codex_sync.testing.launcher`). Each
request is recorded as a :class:`ModelRequest` and answered with a
:class:`~codex_sync.testing.replies.Reply` taken from the script.
"""

from __future__ import annotations

import gzip
import http.server
import json
import socket
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
    Union,
)
from urllib.parse import urlsplit

from .replies import Reply, echo

__all__ = ["ModelRequest", "ScriptedModel", "Fallback"]

#: What ``ScriptedModel.fallback`` may be: a reply, or a function of the request.
Fallback = Union[Reply, Callable[["ModelRequest"], Reply]]

# User-role messages that codex adds itself (context, not a prompt). Checked
# against the start of each text part, after leading whitespace.
_CONTEXT_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions",
    "<INSTRUCTIONS>",
    "<turn_aborted>",
    "<user_shell_command>",
    "<skill>",
)


def _texts(content: Any) -> List[str]:
    """The text parts of a message ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return [content]
    out: List[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
    return out


def _is_context(parts: List[str]) -> bool:
    return bool(parts) and all(p.lstrip().startswith(_CONTEXT_PREFIXES) for p in parts)


@dataclass(frozen=True)
class ModelRequest:
    """One ``POST /v1/responses`` received by the fake model (immutable record).

    ``body`` is the decoded JSON body; ``input`` its ``input`` list (the whole
    conversation so far, as codex resends it on every request).
    ``user_texts`` holds the text of each user message the user typed, in
    order, with the context messages codex adds itself (``<environment_context>``,
    AGENTS.md instructions, ...) left out; ``last_user_text`` is the last of
    them (``""`` if none). In codex 0.163 the base instructions and the
    developer instructions both arrive as ``role: "developer"`` messages,
    whose text parts are in ``developer_texts``; ``instructions`` is the
    top-level ``instructions`` field, ``None`` when absent (as it is with an
    unknown model such as ``mock-model``). ``function_calls`` and
    ``function_call_outputs`` list the tool calls and their outputs found in
    ``input`` (dicts with ``call_id``, ``name``, ``arguments`` /
    ``call_id``, ``output``). ``headers`` are the HTTP headers, names
    lower-cased.
    """

    body: Dict[str, Any]
    headers: Dict[str, str] = field(default_factory=dict)
    model: Optional[str] = None
    input: List[Any] = field(default_factory=list)
    instructions: Optional[str] = None
    developer_texts: Tuple[str, ...] = ()
    user_texts: Tuple[str, ...] = ()
    last_user_text: str = ""
    function_calls: List[Dict[str, Any]] = field(default_factory=list)
    function_call_outputs: List[Dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_body(cls, body: Dict[str, Any], headers: Optional[Mapping[str, str]] = None) -> ModelRequest:
        """Build a record from a decoded request body. Pure; any thread."""
        items = body.get("input")
        input_list: List[Any] = items if isinstance(items, list) else []
        developer: List[str] = []
        users: List[str] = []
        calls: List[Dict[str, Any]] = []
        outputs: List[Dict[str, Any]] = []
        for item in input_list:
            if not isinstance(item, dict):
                continue
            kind = item.get("type", "message")
            if kind == "message":
                parts = _texts(item.get("content"))
                if item.get("role") == "developer":
                    developer.extend(parts)
                elif item.get("role") == "user" and parts and not _is_context(parts):
                    users.append("\n".join(parts))
            elif kind == "function_call":
                calls.append(
                    {
                        "call_id": item.get("call_id"),
                        "name": item.get("name"),
                        "arguments": item.get("arguments"),
                    }
                )
            elif kind == "function_call_output":
                outputs.append({"call_id": item.get("call_id"), "output": item.get("output")})
        instructions = body.get("instructions")
        model = body.get("model")
        return cls(
            body=body,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            model=model if isinstance(model, str) else None,
            input=input_list,
            instructions=instructions if isinstance(instructions, str) else None,
            developer_texts=tuple(developer),
            user_texts=tuple(users),
            last_user_text=users[-1] if users else "",
            function_calls=calls,
            function_call_outputs=outputs,
        )


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    model: ScriptedModel

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record the error instead of printing a traceback (peers hang up often)."""
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.model._error(f"handler failed: {exc!r}")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet (the stdlib logs every request to stderr)."""

    def setup(self) -> None:
        super().setup()
        self.server.model._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.model._track(self.connection, False)

    def do_POST(self) -> None:
        self.server.model._serve(self)

    def _not_found(self) -> None:
        self.server.model._drain_body(self)
        self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "9")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"not found")

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_found


class _Stream:
    """The :class:`~codex_sync.testing.replies.ReplyStream` of one request."""

    def __init__(self, handler: _Handler, request: ModelRequest, model: ScriptedModel):
        self._handler = handler
        self._request = request
        self._model = model
        self.started = False  # headers sent
        self.broken = False

    @property
    def request(self) -> ModelRequest:
        return self._request

    def new_id(self, prefix: str) -> str:
        return self._model._new_id(prefix)

    def _write(self, data: bytes) -> bool:
        if self.broken:
            return False
        try:
            self._handler.wfile.write(data)
            self._handler.wfile.flush()
            return True
        except OSError:
            self.broken = True
            self._handler.close_connection = True
            return False

    def send_error(self, status: int, body: str, headers: Optional[Mapping[str, str]] = None) -> None:
        if self.started:
            raise RuntimeError("send_error() after the reply has started")
        self.started = True
        data = body.encode("utf-8")
        stripped = body.strip()
        ctype = "application/json" if stripped[:1] in ("{", "[") else "text/plain"
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        try:
            handler.end_headers()
        except OSError:
            self.broken = True
            handler.close_connection = True
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
                self.broken = True
                handler.close_connection = True
        return not self.broken

    def event(self, event: Mapping[str, Any]) -> bool:
        if self._model._stopping.is_set():
            self.broken = True
            self._handler.close_connection = True
            return False
        if not self._start():
            return False
        kind = str(event.get("type", "message"))
        data = (f"event: {kind}\ndata: {json.dumps(event)}\n\n").encode()
        return self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def sleep(self, seconds: float) -> bool:
        return not self._model._stopping.wait(max(0.0, seconds))

    def finish(self) -> None:
        """End the response: last chunk of a stream, or an empty stream if nothing was sent."""
        if self._model._stopping.is_set() and not self.started:
            self._handler.close_connection = True
            return
        if not self.started:
            self._start()
        if self.started and not self.broken:
            self._write(b"0\r\n\r\n")


class ScriptedModel:
    """A fake OpenAI Responses API on ``127.0.0.1`` that answers from a script.

    Each ``POST /v1/responses`` is recorded (:attr:`requests`) and answered by
    the first reply found in this order:

    1. :meth:`on` queues: the earliest registered key that is a substring of
       the request's :attr:`ModelRequest.last_user_text` and still has
       replies. Follow-up requests within one turn (after a tool call) keep the
       same last user text, so one key can script a whole turn:
       ``model.on("run it", exec_command("echo hi"), text("done"))``.
    2. :meth:`add`: one global queue, first in first out.
    3. :attr:`fallback`: a reply, or a function of the :class:`ModelRequest`
       returning one; default :func:`~codex_sync.testing.replies.echo`,
       ``"echo: <last user text>"``.

    Any other path or method gets 404. Requests are served on daemon threads
    of a :class:`http.server.ThreadingHTTPServer`, concurrently.

    Usage: ``with ScriptedModel() as model: ... model.url ...``. All methods
    are thread-safe and may be called from any thread, including while codex
    is making requests; :meth:`start` and :meth:`close` should be called by
    the owner.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fallback: Optional[Fallback] = None,
    ) -> None:
        """Create a stopped model. Binds nothing until :meth:`start`."""
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._keyed: List[Tuple[str, List[Reply]]] = []
        self._queue: List[Reply] = []
        self._fallback: Fallback = fallback if fallback is not None else echo()
        self._requests: List[ModelRequest] = []
        self._errors: List[str] = []
        self._counters: Dict[str, int] = {}
        self._connections: Set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    # ---------------------------------------------------------- lifecycle

    def start(self) -> ScriptedModel:
        """Bind the port and start serving on a daemon thread; return ``self``.

        Does not block beyond binding. Raises ``RuntimeError`` if already
        started or closed, ``OSError`` if the port cannot be bound.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("ScriptedModel is closed; create a new one")
            if self._server is not None:
                raise RuntimeError("ScriptedModel is already started")
            server = _Server((self._host, self._port), _Handler)
            server.model = self
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="codex_sync-scripted-model",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and drop open connections. Idempotent.

        Slow or hanging replies wake at once (their sleeps wait on a stop
        event) and their connections are shut down, so codex sees the stream
        break. Blocks at most about four seconds: two for the serving thread,
        two for handler threads to finish. Any thread, except a reply's own handler thread.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            server, thread = self._server, self._thread
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=2.0)
        deadline = time.monotonic() + 2.0
        with self._changed:
            while self._connections and time.monotonic() < deadline:
                self._changed.wait(max(0.0, min(0.1, deadline - time.monotonic())))

    def __enter__(self) -> ScriptedModel:
        """Start the model (unless already started) and return it."""
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the model."""
        self.close()

    @property
    def url(self) -> str:
        """The base URL for codex, ``"http://127.0.0.1:PORT/v1"``.

        Raises ``RuntimeError`` before :meth:`start`.
        """
        server = self._server
        if server is None:
            raise RuntimeError("ScriptedModel is not started")
        host, port = server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}/v1"

    # ------------------------------------------------------------- script

    def on(self, match: str, *replies: Reply) -> ScriptedModel:
        """Queue ``replies`` for requests whose last user text contains ``match``.

        Calling it again with the same ``match`` appends to that key's queue;
        keys keep the order of their first registration. Returns ``self``.
        Raises ``TypeError`` if a reply is not a :class:`Reply`.
        """
        _check(replies)
        with self._lock:
            for key, queue in self._keyed:
                if key == match:
                    queue.extend(replies)
                    break
            else:
                self._keyed.append((match, list(replies)))
        return self

    def add(self, *replies: Reply) -> ScriptedModel:
        """Append ``replies`` to the global queue (used when no :meth:`on` key matches).

        Returns ``self``. Raises ``TypeError`` if a reply is not a :class:`Reply`.
        """
        _check(replies)
        with self._lock:
            self._queue.extend(replies)
        return self

    @property
    def fallback(self) -> Fallback:
        """The reply (or ``ModelRequest -> Reply`` function) used when the script is empty.

        Settable at any time. A function runs on the handler thread; if it
        raises, the request is answered 500 and the error recorded in
        :attr:`errors`.
        """
        with self._lock:
            return self._fallback

    @fallback.setter
    def fallback(self, value: Fallback) -> None:
        if not isinstance(value, Reply) and not callable(value):
            raise TypeError("fallback must be a Reply or a callable returning one")
        with self._lock:
            self._fallback = value

    @property
    def pending(self) -> int:
        """How many queued replies (keyed and global) have not been served yet."""
        with self._lock:
            return len(self._queue) + sum(len(q) for _, q in self._keyed)

    # ---------------------------------------------------------- inspection

    @property
    def requests(self) -> List[ModelRequest]:
        """A copy of the requests received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests recorded so far (long tests: each holds a whole prompt)."""
        with self._lock:
            self._requests.clear()

    @property
    def errors(self) -> List[str]:
        """Errors met while serving (bad bodies, replies that raised), as strings."""
        with self._lock:
            return list(self._errors)

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> List[ModelRequest]:
        """Block until at least ``n`` requests have arrived; return them all.

        Waits at most ``timeout`` seconds, then raises ``TimeoutError``. Any
        thread other than a handler thread.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"ScriptedModel got {len(self._requests)} request(s), "
                        f"expected {n} within {timeout:.1f} s"
                    )
                self._changed.wait(min(left, 0.25))
            return list(self._requests)

    # ------------------------------------------------------------ internals

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            n = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = n
        return f"{prefix}_{n}"

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._changed:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
                self._changed.notify_all()

    def _error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def _pick(self, request: ModelRequest) -> Fallback:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()
            for key, queue in self._keyed:
                if queue and key in request.last_user_text:
                    return queue.pop(0)
            if self._queue:
                return self._queue.pop(0)
            return self._fallback

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
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

    def _drain_body(self, handler: _Handler) -> None:
        try:
            self._read_body(handler)
        except (OSError, ValueError):
            handler.close_connection = True

    def _serve(self, handler: _Handler) -> None:
        if urlsplit(handler.path).path.rstrip("/") != "/v1/responses":
            handler._not_found()
            return
        try:
            raw = self._read_body(handler)
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
        except (OSError, ValueError, EOFError, zlib.error) as exc:
            self._error(f"bad request: {exc!r}")
            _Stream(handler, ModelRequest(body={}), self).send_error(400, str(exc))
            handler.close_connection = True
            return
        request = ModelRequest.from_body(body, dict(handler.headers.items()))
        stream = _Stream(handler, request, self)
        try:
            chosen = self._pick(request)
            reply = chosen if isinstance(chosen, Reply) else chosen(request)
            if not isinstance(reply, Reply):
                raise TypeError(f"fallback returned {reply!r}, not a Reply")
            reply.write(stream)
        except Exception as exc:  # a user reply or fallback failed
            self._error(f"reply failed: {exc!r}")
            if not stream.started:
                stream.send_error(500, f"scripted reply failed: {exc!r}")
            handler.close_connection = True
            return
        stream.finish()


def _check(replies: Tuple[Reply, ...]) -> None:
    for reply in replies:
        if not isinstance(reply, Reply):
            raise TypeError(f"expected a Reply (see codex_sync.testing.replies), got {reply!r}")
