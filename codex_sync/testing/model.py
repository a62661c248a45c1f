"""A scripted fake of the OpenAI Responses API, served on 127.0.0.1.

:class:`ScriptedModel` answers the ``POST /v1/responses`` requests that a real
``codex app-server`` makes when its ``config.toml`` points a model provider at
:attr:`ScriptedModel.url` (see :mod:`codex_sync.testing.launcher`). Each
request is recorded as a :class:`~codex_sync.testing.request.ModelRequest`
and answered with a :class:`~codex_sync.testing.replies.Reply` taken from the
script. The HTTP plumbing is in :mod:`~codex_sync.testing.http_server`, the
event stream in :mod:`~codex_sync.testing.sse_stream`.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Dict, List, Optional, Set, Tuple, Union
from urllib.parse import urlsplit

from .http_server import BAD_BODY_ERRORS, ModelHandler, ModelHTTPServer, read_json_body
from .replies import echo
from .reply_base import Reply
from .request import ModelRequest
from .sse_stream import HttpReplyStream

__all__ = ["ModelRequest", "ScriptedModel", "Fallback"]

#: What ``ScriptedModel.fallback`` may be: a reply, or a function of the request.
Fallback = Union[Reply, Callable[[ModelRequest], Reply]]


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
        self._server: Optional[ModelHTTPServer] = None
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
            server = ModelHTTPServer(
                (self._host, self._port),
                on_post=self._serve,
                on_connection=self._track,
                on_error=self._error,
            )
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

    def _stream(self, handler: ModelHandler, request: ModelRequest) -> HttpReplyStream:
        return HttpReplyStream(handler, request, self._new_id, self._stopping)

    def _serve(self, handler: ModelHandler) -> None:
        if urlsplit(handler.path).path.rstrip("/") != "/v1/responses":
            handler.not_found()
            return
        try:
            body = read_json_body(handler)
        except BAD_BODY_ERRORS as exc:
            self._error(f"bad request: {exc!r}")
            self._stream(handler, ModelRequest(body={})).send_error(400, str(exc))
            handler.close_connection = True
            return
        request = ModelRequest.from_body(body, dict(handler.headers.items()))
        stream = self._stream(handler, request)
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
