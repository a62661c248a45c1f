"""The session: which connection is current, the client's life cycle, and every request's path.

One :class:`Session` per client owns, under one lock (``_lock``, shared by
start, the start-up-race respawn and close):

- the current :class:`~codex_sync.connection.Connection` and its transport
  (replaced only before ``initialize`` succeeded: a server that lost the
  start-up race on its ``CODEX_HOME``, or a start cut short by Ctrl-C);
- the life cycle (:class:`ClientState`: unopened → open → closed; never back);
- the fork guard (the creating process's pid);
- the set of codex threads loaded on this connection.

It starts lazily, runs ``initialize`` once (``_init_lock`` serialises it), and
sends every request with the overload retry; a successful ``thread/start``,
``thread/resume`` or ``thread/fork`` marks its thread loaded. It is the
:class:`~codex_sync.approvals.Responder` that answers server requests.
"""

from __future__ import annotations

import enum
import logging
import os
import random
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from . import protocol
from .connection import WAIT_SLICE, Connection, ReplyHook, Subscriber
from .errors import (
    CodexForkError,
    CodexOverloadedError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTransportError,
)
from .protocol import Notification, ServerRequest
from .transports.base import Transport
from .values import InitializeResult

log = logging.getLogger("codex_sync")

_DIGITS = re.compile(r"\d+")
_SAID_LIMIT = 1024  # server messages remembered for logging each kind once

# Requests after whose success the thread named in the result is loaded on this connection.
_LOADS_THREAD = frozenset({protocol.THREAD_START, protocol.THREAD_RESUME, protocol.THREAD_FORK})

# Calls made while the connection is being re-established wait this long for it.
RECONNECT_WAIT_SECONDS = 30.0
# A server that loses the CODEX_HOME start-up race is started again this often.
STARTUP_RACE_RETRIES = 3


class ClientState(enum.Enum):
    """Where a client is in its life: it only moves forward."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class Session:
    """The current connection of one client, its life cycle, and the request path.

    Every method may be called from any thread.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        overload_retries: int,
        on_unrouted: Callable[[Notification], None],
        wants_unrouted_deltas: Callable[[], bool],
    ) -> None:
        self._transport = transport
        self.overload_retries = overload_retries
        self._on_unrouted = on_unrouted
        self._wants_unrouted_deltas = wants_unrouted_deltas
        # Set by the client before the first start (the dispatcher needs this session first).
        self.on_server_request: Callable[[ServerRequest], None] = self._refuse_server_request
        # Set by the client to reconnect by itself after a dropped connection (websocket, opt-in).
        self.on_dropped: Optional[Callable[[CodexTransportError, Dict[str, Subscriber]], None]] = None
        self._reconnecting = threading.Event()
        self.reconnector_thread: Optional[threading.Thread] = None  # its calls never wait for itself
        self._initialize_params: Optional[Dict[str, Any]] = None
        self._lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._state = ClientState.UNOPENED
        self._pid = os.getpid()
        self._conn = self._new_connection(transport)
        self._initialize_result: Optional[InitializeResult] = None
        self._late_initialize: Optional[Any] = None  # a reply to an initialize nobody waited for
        # Threads loaded on (and subscribed by) this connection, least recently used first.
        self._loaded: OrderedDict[str, float] = OrderedDict()
        self._resumable: Set[str] = set()  # loaded threads with a rollout on disk (thread/resume works)
        self._loaded_lock = threading.Lock()
        self._said: OrderedDict[Tuple[Optional[str], str, str], None] = OrderedDict()  # (reader only)
        self._closer: Optional[threading.Thread] = None
        self._closed = threading.Event()  # set once a close() finished its work

    def _new_connection(self, transport: Transport) -> Connection:
        return Connection(
            transport,
            on_server_request=lambda message: self.on_server_request(message),
            on_unrouted=self._unrouted,
            wants_unrouted_deltas=self._wants_unrouted_deltas,
            on_server_talk=self._server_talk,
            on_dropped=self._dropped,
        )

    def _dropped(self, error: CodexTransportError, subscribers: Dict[str, Subscriber]) -> bool:
        """On the reader, the stream having ended: hand over to the reconnector, unless closed."""
        hook = self.on_dropped
        if hook is None or self._state is not ClientState.OPEN or self._initialize_result is None:
            return False
        self._reconnecting.set()
        hook(error, subscribers)
        return True

    @property
    def reconnecting(self) -> bool:
        """Whether a dropped connection is being re-established."""
        return self._reconnecting.is_set()

    def _unrouted(self, message: Notification) -> None:
        """On the reader: keep the loaded threads true, then pass the notification on."""
        if message.method == protocol.THREAD_CLOSED and message.thread_id:
            self.mark_unloaded(message.thread_id)
        self._on_unrouted(message)

    def _server_talk(self, message: Notification, routed: bool) -> None:
        """On the reader: log what the server says about trouble, once per kind of message and turn.

        Messages that differ only in numbers ("Reconnecting... 2/5") count as
        one. One a turn took goes to the listeners as well.
        """
        params = message.params
        error = params.get("error")
        text = str((error.get("message") if isinstance(error, dict) else None) or params.get("message")
                   or params.get("summary") or params)
        key = (message.turn_id or message.thread_id, message.method, _DIGITS.sub("#", text))
        if key not in self._said:
            self._said[key] = None
            if len(self._said) > _SAID_LIMIT:
                self._said.popitem(last=False)
            retry = " (the server retries)" if params.get("willRetry") else ""
            where = f" (thread {message.thread_id})" if message.thread_id else ""
            log.warning("the app-server says%s: %s: %s%s", where, message.method, text, retry)
        if routed:
            self._on_unrouted(message)  # listeners hear it too

    def _refuse_server_request(self, message: ServerRequest) -> None:  # pragma: no cover - wiring bug
        self._conn.respond_error(message.id, protocol.INTERNAL_ERROR, "no dispatcher")

    # -- what the client shows ----------------------------------------------
    @property
    def state(self) -> ClientState:
        """The life-cycle state."""
        return self._state

    @property
    def transport(self) -> Transport:
        """The current transport (a new one after a respawn)."""
        return self._transport

    @property
    def alive(self) -> bool:
        """``True`` while the current connection can carry requests."""
        return self._conn.alive

    @property
    def closed(self) -> bool:
        """``True`` once closed or once the connection died (and is not being re-established)."""
        return self._state is ClientState.CLOSED or (not self._conn.alive and not self._reconnecting.is_set())

    @property
    def initialize_result(self) -> Optional[InitializeResult]:
        """The ``initialize`` result, once the handshake succeeded."""
        return self._initialize_result

    def describe(self) -> str:
        """For ``repr``: the transport and the state."""
        return f"{self._transport.describe()} {self._state.value}"

    # -- life cycle -----------------------------------------------------------
    def check_pid(self) -> None:
        """Raise :class:`CodexForkError` in a process forked after this client was made."""
        if os.getpid() != self._pid:
            raise CodexForkError(
                f"this CodexClient was created in process {self._pid} and cannot be used in "
                f"process {os.getpid()} (after fork): create one client per process, e.g. with "
                "codex_sync.per_process_client()"
            )

    def start(self) -> None:
        """Connect (spawn the server or open the socket); idempotent. Blocks until connected.

        A start cut short (Ctrl-C, an error) closes what it opened, so the
        next call starts afresh. Raises :class:`CodexTransportError`, or
        :class:`CodexForkError` in a forked child.
        """
        self.check_pid()
        with self._lock:
            if self._state is ClientState.OPEN:
                return
            if self._state is ClientState.CLOSED:
                raise CodexTransportError("this client is closed; create a new one")
            conn = self._conn
            try:
                conn.start()
            except BaseException:
                conn.close("the start was interrupted")
                fresh = self._transport.fresh()
                if fresh is not None:
                    self._transport = fresh
                    self._conn = self._new_connection(fresh)
                raise
            self._state = ClientState.OPEN

    def ready(self) -> Connection:
        """The open, live connection (starting it if needed); raises if it is gone."""
        self.check_pid()
        if self._state is not ClientState.OPEN:
            self.start()
        if self._reconnecting.is_set() and threading.current_thread() is not self.reconnector_thread:
            # wait (bounded) for the reconnector instead of failing at once
            deadline = time.monotonic() + RECONNECT_WAIT_SECONDS
            while self._reconnecting.is_set() and time.monotonic() < deadline:
                time.sleep(WAIT_SLICE / 5)
        conn = self._conn
        conn.check_alive()
        return conn

    def replace_connection(self) -> None:
        """Open a fresh connection to the same server and run ``initialize`` on it (the reconnector's).

        Raises :class:`CodexTransportError` if it cannot (closed meanwhile,
        server unreachable). The loaded threads are forgotten: the new
        connection follows none yet.
        """
        fresh = self._transport.fresh()
        if fresh is None or self._initialize_params is None:
            raise CodexTransportError("this transport cannot reconnect")
        conn = self._new_connection(fresh)
        conn.start()
        try:
            conn.request(protocol.INITIALIZE, self._initialize_params, RECONNECT_WAIT_SECONDS)
            conn.notify(protocol.INITIALIZED)
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if self._state is ClientState.CLOSED:
                conn.close()
                raise CodexTransportError("this client was closed while it reconnected")
            self._transport, self._conn = fresh, conn
        with self._loaded_lock:
            self._loaded.clear()
            self._resumable.clear()

    def reconnected(self) -> None:
        """The reconnector is done (succeeded or gave up): calls go on or fail as the connection says."""
        self._reconnecting.clear()

    def close(self, *also: Callable[[], None]) -> None:
        """Close the connection, then run ``also`` (the client's other parts), once.

        Idempotent and safe from any thread. Every caller returns only after
        the work is done (a second concurrent call waits for the first; one
        made from a thread the first waits on waits a bounded time). If a
        close is cut short (Ctrl-C), the next call does the rest.
        """
        with self._lock:
            self._state = ClientState.CLOSED
            conn = self._conn
            if self._closed.is_set():
                return
            if self._closer is not None and self._closer.is_alive():
                closer: Optional[threading.Thread] = self._closer
            else:
                closer = None
                self._closer = threading.current_thread()
        if closer is not None:
            if closer is not threading.current_thread():
                deadline = time.monotonic() + 30.0
                while not self._closed.wait(WAIT_SLICE) and time.monotonic() < deadline:
                    pass
            return
        try:
            if os.getpid() == self._pid:
                conn.close()
                for part in also:
                    part()
            self._closed.set()
        finally:
            with self._lock:
                self._closer = None

    # -- initialize -------------------------------------------------------------
    def initialize(self, params: Dict[str, Any], timeout: Optional[float]) -> InitializeResult:
        """Run the handshake once (later calls return the first result); send ``initialized``.

        Retries with a fresh server when it lost the start-up race. An
        ``initialize`` interrupted after it was sent is not sent again: its
        late reply is used.
        """
        self.check_pid()
        if self._state is not ClientState.OPEN:
            self.start()
        with self._init_lock:
            if self._initialize_result is not None:
                return self._initialize_result
            for attempt in range(STARTUP_RACE_RETRIES + 1):
                try:
                    result = self._initialize_once(params, timeout)
                    break
                except CodexTransportError as exc:
                    if attempt == STARTUP_RACE_RETRIES or not _lost_startup_race(exc):
                        raise
                    log.info("app-server lost a start-up race on its CODEX_HOME; starting it again")
                    time.sleep(random.uniform(0.1, 0.5) * (attempt + 1))
                    self._respawn()
            self._conn.notify(protocol.INITIALIZED)
            self._initialize_params = params
            self._initialize_result = InitializeResult.from_result(result or {})
            return self._initialize_result

    def _initialize_once(self, params: Dict[str, Any], timeout: Optional[float]) -> Any:
        if self._late_initialize is not None:
            return self._late_initialize
        conn = self._conn
        conn.check_alive()

        def keep_late_reply(result: Any, error: Optional[BaseException]) -> None:
            if error is None:  # (on the reader) for a retry after this caller gave up
                self._late_initialize = result

        try:
            return conn.request(protocol.INITIALIZE, params, timeout, on_reply=keep_late_reply)
        except CodexProtocolError as exc:
            if exc.code == protocol.INVALID_REQUEST and self._late_initialize is not None:
                return self._late_initialize  # "Already initialized": our first one got through
            if exc.code == protocol.METHOD_NOT_FOUND and "not supported by this client" in str(exc):
                raise CodexTransportError(
                    f"{self._transport.describe()} is not a codex app-server: it sent our own initialize "
                    "request back to us (an echo, such as `cat`). Run `codex app-server` (check the command)"
                ) from exc
            raise

    def _respawn(self) -> None:
        """Start a fresh server process (only before ``initialize`` succeeded)."""
        fresh = self._transport.fresh()
        if fresh is None:
            raise CodexTransportError("the app-server exited during start-up")
        with self._lock:
            if self._state is ClientState.CLOSED:
                raise CodexTransportError("this client was closed during start-up")
            self._conn.close()
            conn = self._new_connection(fresh)
            self._transport = fresh
            self._conn = conn
            conn.start()  # close() waits for it, then closes this one

    # -- requests -----------------------------------------------------------------
    def request(
        self,
        method: str,
        params: Optional[Dict[str, Any]],
        timeout: Optional[float],
        on_reply: Optional[ReplyHook] = None,
    ) -> Any:
        """Send one request and block for its result; -32001 is retried with jittered backoff.

        ``timeout`` covers the retries too. Raises what
        :meth:`Connection.request` raises, :class:`CodexOverloadedError`
        after the last retry, :class:`CodexTimeoutError` when the deadline
        comes first.
        """
        conn = self.ready()
        deadline = None if timeout is None else time.monotonic() + timeout
        attempt = 0
        while True:
            remaining = None if deadline is None else max(0.001, deadline - time.monotonic())
            try:
                result = conn.request(method, params, remaining, on_reply=on_reply)
            except CodexOverloadedError as exc:
                attempt += 1
                if attempt > self.overload_retries:
                    raise
                pause = min(2.0, 0.05 * (2 ** attempt)) * random.uniform(0.5, 1.5)
                if deadline is not None and time.monotonic() + pause >= deadline:
                    raise CodexTimeoutError(f"{method}: server overloaded until the deadline") from exc
                log.debug("%s overloaded, retry %d in %.2fs", method, attempt, pause)
                time.sleep(pause)
                continue
            if method in _LOADS_THREAD:
                self._note_loaded(method, params, result)
            return result

    def _note_loaded(self, method: str, params: Optional[Dict[str, Any]], result: Any) -> None:
        thread = result.get("thread") if isinstance(result, dict) else None
        thread_id = thread.get("id") if isinstance(thread, dict) else None
        if method == protocol.THREAD_RESUME and params is not None:
            thread_id = params.get("threadId", thread_id)
        if isinstance(thread_id, str):
            self.mark_loaded(thread_id, resumable=method == protocol.THREAD_RESUME)

    # -- the connection's other parts, for the layers above -----------------------
    def subscribe(self, thread_id: str, subscriber: Subscriber) -> None:
        """Route ``thread_id``'s notifications to ``subscriber`` on the live connection (see :class:`Connection`).

        Waits for a reconnect in progress; raises :class:`CodexTransportError` if the connection is gone.
        """
        self.ready().subscribe(thread_id, subscriber)

    def unsubscribe(self, thread_id: str, subscriber: Subscriber) -> None:
        """Stop routing ``thread_id`` to ``subscriber``."""
        self._conn.unsubscribe(thread_id, subscriber)

    def check_alive(self) -> None:
        """Raise the connection's failure, if it has one."""
        self._conn.check_alive()

    def respond(self, request_id: protocol.RequestId, result: Any) -> None:
        """Answer a server request (the :class:`~codex_sync.approvals.Responder` interface)."""
        self._conn.respond(request_id, result)

    def respond_error(self, request_id: protocol.RequestId, code: int, message: str) -> None:
        """Answer a server request with an error."""
        self._conn.respond_error(request_id, code, message)

    # -- loaded threads ---------------------------------------------------------------
    def mark_loaded(self, thread_id: str, *, resumable: bool = False) -> None:
        """Record that ``thread_id`` is loaded on this connection (and used now).

        ``resumable``: it has a rollout on disk (it was resumed, or a turn ran
        on it), so ``thread/resume`` can load it again after an unsubscribe.
        """
        with self._loaded_lock:
            self._loaded[thread_id] = time.monotonic()
            self._loaded.move_to_end(thread_id)
            if resumable:
                self._resumable.add(thread_id)

    def mark_unloaded(self, thread_id: str) -> None:
        """Record that this connection no longer follows ``thread_id`` (closed or unsubscribed)."""
        with self._loaded_lock:
            self._loaded.pop(thread_id, None)
            self._resumable.discard(thread_id)

    def is_loaded(self, thread_id: str) -> bool:
        """Whether this connection follows ``thread_id``."""
        with self._loaded_lock:
            return thread_id in self._loaded

    def touch_thread(self, thread_id: str) -> None:
        """Note that a turn started on ``thread_id`` now (so it will have a rollout)."""
        with self._loaded_lock:
            if thread_id in self._loaded:
                self._loaded[thread_id] = time.monotonic()
                self._loaded.move_to_end(thread_id)
                self._resumable.add(thread_id)

    def unload_candidates(self, keep: int, idle_seconds: Optional[float]) -> List[str]:
        """Resumable loaded threads beyond the ``keep`` most recently used, or unused for ``idle_seconds``.

        Least recently used first. A thread that never had a turn is never a
        candidate: the server cannot load it again after an unsubscribe.
        """
        now = time.monotonic()
        with self._loaded_lock:
            items = list(self._loaded.items())
            resumable = set(self._resumable)
        surplus = max(0, len(items) - keep)
        return [
            thread_id for n, (thread_id, used) in enumerate(items)
            if thread_id in resumable and (n < surplus or (idle_seconds is not None and now - used > idle_seconds))
        ]

    def loaded_count(self) -> int:
        """How many threads this connection follows."""
        return len(self._loaded)


def _lost_startup_race(error: CodexTransportError) -> bool:
    """Two app-servers initializing one CODEX_HOME at once: one exits (codex 0.163)."""
    return "failed to initialize sqlite state runtime" in error.stderr_tail
