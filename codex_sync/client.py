"""``CodexClient``: the blocking facade over one connection to an app-server."""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Dict, List, Optional, Union

from . import protocol
from ._version import __version__
from .approvals import MANUAL
from .chat import ChatStream, DeltaCallback
from .config import UNSET, ThreadConfig, TurnOverrides, check_config
from .connection import Connection
from .errors import (
    CodexEmptyAnswerError,
    CodexError,
    CodexForkError,
    CodexOverloadedError,
    CodexProtocolError,
    CodexTimeoutError,
    CodexTransportError,
)
from .inputs import InputArg, to_input_items
from .protocol import Notification, ServerRequest
from .server_ops import ServerOpsMixin
from .server_requests import ServerRequestDispatcher
from .thread_ops import ThreadOpsMixin
from .transports.base import Transport
from .transports.stdio import StdioTransport
from .transports.websocket import WebSocketTransport
from .turns import TurnState
from .values import CancelResult, ChatContinuation, ChatResult, InitializeResult

log = logging.getLogger("codex_sync")

DEFAULT_INITIALIZE_PARAMS: Dict[str, Any] = {
    "protocolVersion": "1",
    "clientInfo": {"name": "codex_sync", "version": __version__},
    "capabilities": {
        "optOutNotificationMethods": [
            "codex/event/agent_message_content_delta",
            "codex/event/reasoning_content_delta",
            "codex/event/item_started",
            "codex/event/item_completed",
            "codex/event/task_started",
            "codex/event/task_complete",
        ]
    },
}

# A completed turn nobody reads any more is kept this long, and at most this many.
RETAINED_TURN_SECONDS = 600.0
RETAINED_TURN_LIMIT = 64
# A server that loses the CODEX_HOME start-up race is started again this often.
STARTUP_RACE_RETRIES = 3
# Ctrl-C and early exit wait this long at most for the interrupted turn to end.
STOP_DRAIN_SECONDS = 10.0

_live_clients: weakref.WeakSet[CodexClient] = weakref.WeakSet()


@atexit.register
def _close_clients_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    for client in list(_live_clients):
        try:
            client.close()
        except Exception:
            pass


def _check_timeout(value: Any, name: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive (or None for no limit), not {value!r}")
    return float(value)


def merge_initialize_params(params: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The ``initialize`` params: defaults, then the caller's keys (the seed's rules).

    Top-level keys are shallow-merged. If the caller's ``capabilities`` is a
    dict without ``optOutNotificationMethods``, the default list is added; a
    caller's list is kept; a ``capabilities`` that is ``None`` or not a dict
    is sent as given.
    """
    merged: Dict[str, Any] = {
        key: (dict(value) if isinstance(value, dict) else value)
        for key, value in DEFAULT_INITIALIZE_PARAMS.items()
    }
    if params is None:
        return merged
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict or None, not {type(params).__name__}")
    merged.update(params)
    caps = merged.get("capabilities")
    if isinstance(caps, dict) and "optOutNotificationMethods" not in caps:
        caps = dict(caps)
        caps["optOutNotificationMethods"] = list(
            DEFAULT_INITIALIZE_PARAMS["capabilities"]["optOutNotificationMethods"]
        )
        merged["capabilities"] = caps
    return merged


class CodexClient(ThreadOpsMixin, ServerOpsMixin):
    """A blocking client for one ``codex app-server`` (over stdio or a websocket).

    Create it with :meth:`connect_stdio` or :meth:`connect_websocket`, then use
    it in a ``with`` block (or call :meth:`start`/:meth:`close`; the first call
    that needs the server starts it). Every method may be called from any
    thread, concurrently: requests and turns share one connection and each
    reply reaches exactly its caller. Every blocking call has a deadline
    (``request_timeout``, default 60 s) or waits on a turn's inactivity
    timeout, and fails at once with :class:`CodexTransportError` if the server
    dies. Ctrl-C works while blocked. A client must not be used in a process
    forked after it started (:class:`CodexForkError`): create one per process.

    Options shared by both constructors: ``request_timeout`` (seconds or
    ``None``), ``inactivity_timeout`` (default for turns; ``None`` = no limit),
    ``approval_handler`` and ``user_input_handler`` (see ``codex_sync.approvals``),
    ``experimental_api`` (ask for experimental methods), ``client_info``
    (``{"name": ..., "version": ...}`` sent in ``initialize``),
    ``overload_retries`` (how often a -32001 reply is retried).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        request_timeout: Optional[float] = 60.0,
        inactivity_timeout: Optional[float] = None,
        approval_handler: Optional[Callable[..., Any]] = None,
        user_input_handler: Optional[Callable[..., Any]] = None,
        experimental_api: bool = False,
        client_info: Optional[Mapping[str, Any]] = None,
        overload_retries: int = 4,
    ) -> None:
        if not isinstance(transport, Transport):
            raise TypeError(f"transport must be a Transport, not {type(transport).__name__}")
        self.request_timeout = _check_timeout(request_timeout, "request_timeout")
        self.inactivity_timeout = _check_timeout(inactivity_timeout, "inactivity_timeout")
        if not isinstance(experimental_api, bool):
            raise TypeError("experimental_api must be True or False")
        if client_info is not None and not isinstance(client_info, Mapping):
            raise TypeError(f"client_info must be a dict or None, not {type(client_info).__name__}")
        if isinstance(overload_retries, bool) or not isinstance(overload_retries, int) or overload_retries < 0:
            raise ValueError(f"overload_retries must be an int >= 0, not {overload_retries!r}")
        self.experimental_api = experimental_api
        self.client_info = dict(client_info) if client_info else None
        self.overload_retries = overload_retries
        self._transport = transport
        self._requests = ServerRequestDispatcher(
            self, approval_handler=approval_handler, user_input_handler=user_input_handler
        )
        self._conn = Connection(
            transport,
            on_server_request=self._requests.dispatch,
            on_unrouted=self._on_unrouted,
            wants_unrouted_deltas=self._requests.has_listeners,
        )
        self._state = "unopened"
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._initialize_result: Optional[InitializeResult] = None
        self._turn_lock = threading.Condition(threading.Lock())
        self._active_by_thread: Dict[str, TurnState] = {}
        self._turns: Dict[str, TurnState] = {}
        self._loaded_threads: set[str] = set()
        self._pending_overrides: Dict[str, TurnOverrides] = {}

    # -- construction ------------------------------------------------------
    @classmethod
    def connect_stdio(
        cls,
        command: Union[str, Sequence[str], None] = None,
        *,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        **options: Any,
    ) -> CodexClient:
        """A client that runs the app-server as a child process (not started yet).

        ``command`` (a list, or a string split like a shell would) wins over
        ``$CODEX_APP_SERVER_CMD``, then ``codex app-server`` on ``PATH``, then
        the binary of the ``openai-codex-cli-bin`` package. ``env`` is added to
        ``os.environ`` for the child. Does not block.
        """
        return cls(StdioTransport(command, cwd=cwd, env=env), **options)

    @classmethod
    def connect_websocket(
        cls,
        url: Optional[str] = None,
        *,
        token: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        connect_timeout: float = 10.0,
        sslopt: Optional[Dict[str, Any]] = None,
        **options: Any,
    ) -> CodexClient:
        """A client for ``codex app-server --listen ws://…`` (not connected yet).

        ``url`` defaults to ``$CODEX_APP_SERVER_WS_URL`` or
        ``ws://127.0.0.1:8765``; ``token`` to ``$CODEX_APP_SERVER_TOKEN``.
        ``sslopt`` configures TLS for ``wss://``. Does not block.
        """
        transport = WebSocketTransport(
            url, token=token, headers=headers, connect_timeout=connect_timeout, sslopt=sslopt
        )
        return cls(transport, **options)

    def __repr__(self) -> str:
        return f"<CodexClient {self._transport.describe()} {self._state}>"

    # -- life cycle ---------------------------------------------------------
    def start(self) -> CodexClient:
        """Connect (spawn the server or open the socket). Idempotent; returns ``self``.

        Blocks until connected. Raises :class:`CodexTransportError` if it
        cannot, or if the client was closed ("create a new client").
        """
        self._check_pid()
        with self._start_lock:
            if self._state == "open":
                return self
            if self._state == "closed":
                raise CodexTransportError("this client is closed; create a new one")
            self._conn.start()
            self._state = "open"
            _live_clients.add(self)
        return self

    def close(self) -> None:
        """Close the connection; every waiter raises :class:`CodexTransportError`.

        Idempotent, callable from any thread (also from callbacks). Blocks
        a few seconds at most while the server process exits.
        """
        with self._start_lock:
            was_open = self._state == "open"
            self._state = "closed"
        if was_open and os.getpid() == self._pid:
            self._conn.close()
            self._requests.close()
        _live_clients.discard(self)

    def __enter__(self) -> CodexClient:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` was called or the connection died."""
        return self._state == "closed" or not self._conn.alive

    def _check_pid(self) -> None:
        if os.getpid() != self._pid:
            raise CodexForkError(
                f"this CodexClient was created in process {self._pid} and cannot be used in "
                f"process {os.getpid()} (after fork): create one client per process, e.g. with "
                "codex_sync.per_process_client()"
            )

    def _ready(self) -> None:
        self._check_pid()
        if self._state != "open":
            self.start()
        self._conn.check_alive()

    # -- initialize and requests ------------------------------------------------
    def initialize(
        self, params: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None
    ) -> InitializeResult:
        """Run the ``initialize`` handshake (once) and send ``initialized``.

        Runs by itself before the first request of any kind; call it yourself
        to fail fast or to send custom params (merged with the defaults as
        :func:`merge_initialize_params` says). Later calls return the first
        result. Blocks up to ``timeout`` (default: ``request_timeout``).
        """
        merged = merge_initialize_params(params)
        if self.experimental_api and isinstance(merged.get("capabilities"), dict):
            merged["capabilities"].setdefault("experimentalApi", True)
        if self.client_info and params is None:
            merged["clientInfo"] = dict(self.client_info)
        self._ready()
        with self._init_lock:
            if self._initialize_result is None:
                wait = self.request_timeout if timeout is None else _check_timeout(timeout, "timeout")
                for attempt in range(STARTUP_RACE_RETRIES + 1):
                    try:
                        result = self._conn.request(protocol.INITIALIZE, merged, wait)
                        break
                    except CodexTransportError as exc:
                        if attempt == STARTUP_RACE_RETRIES or not self._lost_startup_race(exc):
                            raise
                        log.info("app-server lost a start-up race on its CODEX_HOME; starting it again")
                        time.sleep(random.uniform(0.1, 0.5) * (attempt + 1))
                        self._respawn()
                self._conn.notify(protocol.INITIALIZED)
                self._initialize_result = InitializeResult.from_result(result or {})
        return self._initialize_result

    @staticmethod
    def _lost_startup_race(error: CodexTransportError) -> bool:
        """Two app-servers initializing one CODEX_HOME at once: one exits (codex 0.163)."""
        return "failed to initialize sqlite state runtime" in error.stderr_tail

    def _respawn(self) -> None:
        """Start a fresh server process (only before ``initialize`` succeeded)."""
        fresh = getattr(self._transport, "fresh", None)
        if fresh is None:
            raise CodexTransportError("the app-server exited during start-up")
        self._conn.close()
        self._transport = fresh()
        self._conn = Connection(
            self._transport, on_server_request=self._requests.dispatch, on_unrouted=self._on_unrouted,
            wants_unrouted_deltas=self._requests.has_listeners,
        )
        self._conn.start()

    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, timeout: Any = UNSET) -> Any:
        """Send any JSON-RPC request and block for its result (a dict, usually).

        ``params=None`` sends ``{}``. ``timeout``: seconds, ``None`` for no
        limit, default the client's ``request_timeout``. A -32001 (overloaded)
        reply is retried with jittered backoff, then raises
        :class:`CodexOverloadedError`. Raises :class:`CodexProtocolError` for
        other error replies, :class:`CodexTimeoutError`, :class:`CodexTransportError`.
        """
        if not isinstance(method, str) or not method:
            raise TypeError(f"method must be a non-empty string, not {method!r}")
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict or None, not {type(params).__name__}")
        wait = self.request_timeout if timeout is UNSET else _check_timeout(timeout, "timeout")
        if self._initialize_result is None:
            self.initialize()
        return self._request(method, dict(params) if params is not None else None, wait)

    def _request(
        self,
        method: str,
        params: Optional[Dict[str, Any]],
        timeout: Optional[float],
        on_result: Optional[Callable[[Any], None]] = None,
    ) -> Any:
        self._ready()
        deadline = None if timeout is None else time.monotonic() + timeout
        attempt = 0
        while True:
            remaining = None if deadline is None else max(0.001, deadline - time.monotonic())
            try:
                return self._conn.request(method, params, remaining, on_result=on_result)
            except CodexOverloadedError as exc:
                attempt += 1
                if attempt > self.overload_retries:
                    raise
                pause = min(2.0, 0.05 * (2 ** attempt)) * random.uniform(0.5, 1.5)
                if deadline is not None and time.monotonic() + pause >= deadline:
                    raise CodexTimeoutError(f"{method}: server overloaded until the deadline") from exc
                log.debug("%s overloaded, retry %d in %.2fs", method, attempt, pause)
                time.sleep(pause)

    def _ensure_initialized(self) -> None:
        if self._initialize_result is None:
            self.initialize()

    # -- notifications outside turns ---------------------------------------
    def _on_unrouted(self, message: Notification) -> None:
        self._requests.notify_listeners(message)

    # -- threads ------------------------------------------------------------
    def _open_thread(self, thread_id: Optional[str], config: Optional[ThreadConfig]) -> str:
        """The thread to run a turn on: started, resumed or as it is."""
        from .config import THREAD_RESUME_KEYS, THREAD_START_KEYS

        if thread_id is None:
            params = config.to_params(THREAD_START_KEYS) if config else {}
            result = self._request(protocol.THREAD_START, params, self.request_timeout)
            new_id = str(result["thread"]["id"])
            self._loaded_threads.add(new_id)
            return new_id
        if thread_id not in self._loaded_threads or (config is not None and not config.is_empty()):
            params = config.to_params(THREAD_RESUME_KEYS) if config else {}
            params["threadId"] = thread_id
            params.setdefault("excludeTurns", True)
            self._request(protocol.THREAD_RESUME, params, self.request_timeout)
            self._loaded_threads.add(thread_id)
        return thread_id

    # -- turns --------------------------------------------------------------
    def _claim_thread(self, thread_id: str) -> TurnState:
        """Wait until no turn of ours runs on ``thread_id``, then own it."""
        with self._turn_lock:
            while thread_id in self._active_by_thread:
                self._conn.check_alive()
                self._turn_lock.wait(0.25)
            state = TurnState(thread_id, self._turn_finished)
            self._active_by_thread[thread_id] = state
        self._conn.subscribe(thread_id, state)
        return state

    def _turn_finished(self, state: TurnState) -> None:
        """Runs (on the reader, usually) when a turn completes or the connection dies."""
        self._conn.unsubscribe(state.thread_id, state)
        with self._turn_lock:
            if self._active_by_thread.get(state.thread_id) is state:
                del self._active_by_thread[state.thread_id]
            self._turn_lock.notify_all()

    def _register_turn(self, state: TurnState) -> None:
        now = time.monotonic()
        with self._turn_lock:
            assert state.turn_id is not None
            self._turns[state.turn_id] = state
            finished = [
                s for s in self._turns.values() if s.finished and s.finished_at is not None
            ]
            stale = [s for s in finished if now - (s.finished_at or now) > RETAINED_TURN_SECONDS]
            finished.sort(key=lambda s: s.finished_at or 0.0)
            stale += finished[: max(0, len(finished) - RETAINED_TURN_LIMIT)]
            for s in stale:
                if s.turn_id is not None:
                    self._turns.pop(s.turn_id, None)

    def _forget_turn(self, state: TurnState) -> None:
        with self._turn_lock:
            if state.turn_id is not None and self._turns.get(state.turn_id) is state:
                del self._turns[state.turn_id]

    def _start_turn(
        self,
        thread_id: str,
        input_items: List[Dict[str, Any]],
        overrides: Optional[TurnOverrides],
        extra: Dict[str, Any],
        handlers: Any = (None, None),
    ) -> TurnState:
        pending = self._pending_overrides.pop(thread_id, None)
        if pending is not None:  # from set_thread_defaults: they stick once sent
            overrides = pending.merged(overrides)
        params: Dict[str, Any] = overrides.to_params() if overrides else {}
        params.update(extra)
        params["threadId"] = thread_id
        params["input"] = input_items
        try:
            return self._run_turn_request(thread_id, protocol.TURN_START, params, handlers)
        except BaseException:
            if pending is not None:
                self._pending_overrides.setdefault(thread_id, pending)
            raise

    def _run_turn_request(
        self, thread_id: str, method: str, params: Dict[str, Any], handlers: Any = (None, None)
    ) -> TurnState:
        """Own the thread, send the request that starts a turn, and track that turn."""
        state = self._claim_thread(thread_id)
        if handlers[0] is not None or handlers[1] is not None:
            state.handlers = tuple(handlers)

        def on_result(result: Any) -> None:  # on the reader: before any later event
            turn = result.get("turn") if isinstance(result, dict) else None
            if isinstance(turn, dict) and isinstance(turn.get("id"), str):
                state.set_turn_id(turn["id"])

        try:
            self._request(method, params, self.request_timeout, on_result=on_result)
        except KeyboardInterrupt:
            self._stop_turn(state, reason="KeyboardInterrupt")
            raise
        except CodexTransportError as exc:
            state.abandon(exc)
            raise
        except CodexError as exc:
            state.abandon(CodexTransportError(f"{method} failed: {exc}"))
            raise
        self._register_turn(state)
        return state

    def _stop_turn(self, state: TurnState, reason: str) -> None:
        """Interrupt a turn we stop reading and wait (bounded) for its end."""
        deadline = time.monotonic() + STOP_DRAIN_SECONDS
        try:
            while state.turn_id is None and not state.finished and time.monotonic() < deadline:
                state.wait_beyond(len(state.events), min(deadline, time.monotonic() + 0.25))
            if not state.finished and state.turn_id is not None and self._conn.alive:
                state.interrupt_requested = True
                try:
                    self._request(
                        protocol.TURN_INTERRUPT,
                        {"threadId": state.thread_id, "turnId": state.turn_id},
                        max(0.1, deadline - time.monotonic()),
                    )
                except CodexProtocolError as exc:  # already over: "no active turn"
                    log.debug("interrupt after %s: %s", reason, exc)
            if not state.wait_finished(deadline):
                log.warning(
                    "turn %s did not end within %.0fs of being interrupted (%s)",
                    state.turn_id, STOP_DRAIN_SECONDS, reason,
                )
        except CodexError as exc:
            log.debug("stopping turn %s after %s: %s", state.turn_id, reason, exc)
        finally:
            self._forget_turn(state)

    def _stop_turn_later(self, state: TurnState) -> None:
        """Interrupt a turn from a background thread (garbage-collected stream)."""
        if state.finished or not self._conn.alive:
            self._forget_turn(state)
            return
        threading.Thread(
            target=self._stop_turn, args=(state, "abandoned"), name="codex-sync-stop", daemon=True
        ).start()

    # -- conversation API ---------------------------------------------------
    def chat(
        self,
        text: Optional[InputArg] = None,
        thread_id: Optional[str] = None,
        *,
        user: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        thread_config: Optional[ThreadConfig] = None,
        turn_overrides: Optional[TurnOverrides] = None,
        inactivity_timeout: Any = UNSET,
        continuation: Optional[ChatContinuation] = None,
        on_delta: Optional[DeltaCallback] = None,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ChatStream:
        """Start a turn (or resume one) and return an iterator of its completed steps.

        Blocks until the turn has started (a ``thread/start`` first when
        ``thread_id`` is ``None``); iteration then blocks per step. ``text`` is
        a string or a list of input items (see ``codex_sync.inputs``).
        ``inactivity_timeout``: seconds of silence before
        :class:`CodexTurnInactiveError`; ``None`` no limit; default the
        client's. ``continuation`` resumes a turn exactly where a previous call
        stopped and excludes every other turn argument (:class:`ValueError`).
        If another call of this client runs a turn on the same thread, this
        one waits for it to end first. ``on_delta`` receives live text
        (:class:`TextDelta`) in the iterating thread. ``approval_handler`` and
        ``user_input_handler`` answer this turn's server requests (over the
        thread's and the client's; ``codex_sync.MANUAL`` yields them as steps).
        """
        return self._chat(
            "chat", text, thread_id, user, metadata, thread_config, turn_overrides,
            inactivity_timeout, continuation, on_delta, (approval_handler, user_input_handler),
        )

    def _chat(
        self,
        mode: str,
        text: Optional[InputArg],
        thread_id: Optional[str],
        user: Optional[str],
        metadata: Optional[Mapping[str, Any]],
        thread_config: Optional[ThreadConfig],
        turn_overrides: Optional[TurnOverrides],
        inactivity_timeout: Any,
        continuation: Optional[ChatContinuation],
        on_delta: Optional[DeltaCallback],
        handlers: Any = (None, None),
    ) -> ChatStream:
        idle = (
            self.inactivity_timeout
            if inactivity_timeout is UNSET
            else _check_timeout(inactivity_timeout, "inactivity_timeout")
        )
        if on_delta is not None and not callable(on_delta):
            raise TypeError("on_delta must be callable or None")
        if continuation is not None:
            given = [
                name
                for name, value in (
                    ("text", text), ("thread_id", thread_id), ("user", user), ("metadata", metadata),
                    ("thread_config", thread_config), ("turn_overrides", turn_overrides),
                    ("approval_handler", handlers[0]), ("user_input_handler", handlers[1]),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"continuation= cannot be combined with {', '.join(given)}: it resumes a turn "
                    "that already started (change settings with thread.update_defaults(...) first)"
                )
            state = self._turn_for(continuation)
            return ChatStream(
                self, state, cursor=continuation.cursor, inactivity_timeout=idle,
                on_delta=on_delta, mode=mode,
            )
        if text is None:
            raise ValueError("text is required (or pass continuation=...)")
        items = to_input_items(text, "text")
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
            raise TypeError(f"thread_id must be a non-empty string or None, not {thread_id!r}")
        if user is not None and not isinstance(user, str):
            raise TypeError(f"user must be a string or None, not {type(user).__name__}")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict or None, not {type(metadata).__name__}")
        check_config(thread_config, ThreadConfig, "thread_config")
        check_config(turn_overrides, TurnOverrides, "turn_overrides")
        self._ensure_initialized()
        thread = self._open_thread(thread_id, thread_config)
        extra: Dict[str, Any] = {}
        if user is not None:
            extra["user"] = user
        if metadata is not None:
            extra["metadata"] = dict(metadata)
        for name, handler in zip(("approval_handler", "user_input_handler"), handlers):
            if handler is not None and handler != MANUAL and not callable(handler):
                raise TypeError(f"{name} must be callable, codex_sync.MANUAL or None")
        state = self._start_turn(thread, items, turn_overrides, extra, handlers)
        return ChatStream(self, state, cursor=0, inactivity_timeout=idle, on_delta=on_delta, mode=mode)

    def _turn_for(self, continuation: ChatContinuation) -> TurnState:
        if not isinstance(continuation, ChatContinuation):
            raise TypeError(
                f"continuation must be a ChatContinuation, not {type(continuation).__name__}"
            )
        with self._turn_lock:
            state = self._turns.get(continuation.turn_id)
        if state is None or state.thread_id != continuation.thread_id:
            raise ValueError(
                f"unknown continuation for turn {continuation.turn_id}: it was issued by another "
                "client, already finished and read, cancelled, or expired "
                f"(completed turns are kept {RETAINED_TURN_SECONDS:.0f}s)"
            )
        if not 0 <= continuation.cursor <= len(state.events):
            raise ValueError(f"continuation cursor {continuation.cursor} is out of range")
        return state

    def chat_once(
        self,
        text: Optional[InputArg] = None,
        thread_id: Optional[str] = None,
        *,
        user: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        thread_config: Optional[ThreadConfig] = None,
        turn_overrides: Optional[TurnOverrides] = None,
        inactivity_timeout: Any = UNSET,
        continuation: Optional[ChatContinuation] = None,
        on_delta: Optional[DeltaCallback] = None,
        approval_handler: Any = None,
        user_input_handler: Any = None,
    ) -> ChatResult:
        """Run one turn to its end and return its :class:`ChatResult`.

        Same arguments as :meth:`chat`. Blocks until ``turn/completed``.
        Raises :class:`CodexTurnInactiveError` (resume with its
        ``continuation``), :class:`CodexTurnFailedError`,
        :class:`CodexTurnInterruptedError`, :class:`CodexEmptyAnswerError`
        (no answer text at all), :class:`CodexTransportError`. Ctrl-C
        interrupts the turn, drains it and re-raises.
        """
        stream = self._chat(
            "chat_once", text, thread_id, user, metadata, thread_config, turn_overrides,
            inactivity_timeout, continuation, on_delta, (approval_handler, user_input_handler),
        )
        for _ in stream:
            pass
        final = stream.final_text
        source = "item/completed"
        if not final:
            final = self._final_text_from_read(stream.thread_id, stream.turn_id)
            source = "thread/read"
        if not final:
            raise CodexEmptyAnswerError(
                f"turn {stream.turn_id} completed without an answer",
                thread_id=stream.thread_id,
                turn_id=stream.turn_id,
            )
        return ChatResult(
            thread_id=stream.thread_id,
            turn_id=stream.turn_id,
            final_text=final,
            raw_events=tuple(stream.raw_events),
            assistant_item_id=stream.assistant_item_id,
            completion_source=source,
            steps=tuple(stream.steps),
            usage=stream.usage,
        )

    def _final_text_from_read(self, thread_id: str, turn_id: str) -> Optional[str]:
        try:
            result = self._request(
                protocol.THREAD_READ, {"threadId": thread_id, "includeTurns": True}, self.request_timeout
            )
        except CodexProtocolError as exc:
            log.debug("thread/read fallback failed: %s", exc)
            return None
        turns = (result.get("thread") or {}).get("turns") or []
        for turn in turns:
            if isinstance(turn, dict) and turn.get("id") == turn_id:
                texts = [
                    item.get("text")
                    for item in turn.get("items") or []
                    if isinstance(item, dict) and item.get("type") == "agentMessage"
                ]
                texts = [t for t in texts if isinstance(t, str) and t]
                return texts[-1] if texts else None
        return None

    def cancel(self, continuation: ChatContinuation, timeout: Optional[float] = None) -> CancelResult:
        """Stop a turn left by :class:`CodexTurnInactiveError` and collect what was unread.

        Sends ``turn/interrupt`` if the turn still runs, then waits for
        ``turn/completed`` — one deadline for both, ``timeout`` seconds
        (default: ``request_timeout``). Returns the steps and events after the
        continuation's cursor; the turn is forgotten and its thread can take a
        new turn at once. Raises :class:`CodexTimeoutError` if the turn does
        not end in time, :class:`ValueError` for an unknown continuation.
        """
        state = self._turn_for(continuation)
        wait = self.request_timeout if timeout is None else _check_timeout(timeout, "timeout")
        deadline = None if wait is None else time.monotonic() + wait
        was_finished = state.finished
        if not state.finished and self._conn.alive:
            state.interrupt_requested = True
            try:
                self._request(
                    protocol.TURN_INTERRUPT,
                    {"threadId": state.thread_id, "turnId": continuation.turn_id},
                    None if deadline is None else max(0.001, deadline - time.monotonic()),
                )
            except CodexProtocolError as exc:  # the turn ended meanwhile
                log.debug("turn/interrupt: %s", exc)
        if not state.wait_finished(deadline):
            raise CodexTimeoutError(
                f"turn {continuation.turn_id} did not end within {wait:g}s of turn/interrupt"
            )
        reader = ChatStream(
            self, state, cursor=continuation.cursor, inactivity_timeout=None, on_delta=None,
            mode="chat",
        )
        reader._detached = True
        try:
            for _ in reader:
                pass
        except CodexError:
            pass  # interrupted / failed: the flags below say how it ended
        self._forget_turn(state)
        if state.failure is not None and state.status is None:
            raise CodexTransportError(
                f"the connection died before turn {continuation.turn_id} ended"
            ) from state.failure
        return CancelResult(
            thread_id=state.thread_id,
            turn_id=continuation.turn_id,
            steps=tuple(reader.steps),
            raw_events=tuple(reader.raw_events),
            was_completed=state.status == "completed" or (was_finished and state.status != "interrupted"),
            was_interrupted=state.status == "interrupted",
        )

    def steer_turn(self, *, thread_id: str, expected_turn_id: str, input_items: InputArg) -> str:
        """Add input to the running turn (``turn/steer``); returns the turn id.

        ``input_items`` is a string or a list of input items. Raises
        :class:`CodexProtocolError` if no such turn is running.
        """
        if not isinstance(thread_id, str) or not thread_id:
            raise TypeError("thread_id must be a non-empty string")
        if not isinstance(expected_turn_id, str) or not expected_turn_id:
            raise TypeError("expected_turn_id must be a non-empty string")
        items = to_input_items(input_items, "input_items")
        self._ensure_initialized()
        result = self._request(
            protocol.TURN_STEER,
            {"threadId": thread_id, "expectedTurnId": expected_turn_id, "input": items},
            self.request_timeout,
        )
        return str((result or {}).get("turnId") or expected_turn_id)

    def interrupt_turn(
        self, turn_id: str, thread_id: Optional[str] = None, timeout: Optional[float] = None
    ) -> None:
        """Send ``turn/interrupt`` for ``turn_id`` (low level; returns once the server accepts).

        ``thread_id`` may be left out for a turn this client started. The turn
        then ends with ``turn/completed`` (status ``interrupted``) on its own.
        """
        if not isinstance(turn_id, str) or not turn_id:
            raise TypeError("turn_id must be a non-empty string")
        if thread_id is None:
            with self._turn_lock:
                state = self._turns.get(turn_id)
            if state is None:
                raise ValueError(f"thread_id is needed: turn {turn_id} is not one this client runs")
            thread_id = state.thread_id
            state.interrupt_requested = True
        wait = self.request_timeout if timeout is None else _check_timeout(timeout, "timeout")
        self._ensure_initialized()
        self._request(protocol.TURN_INTERRUPT, {"threadId": thread_id, "turnId": turn_id}, wait)

    def start_review(
        self,
        *,
        thread_id: str,
        target: Mapping[str, Any],
        delivery: Optional[str] = None,
        inactivity_timeout: Any = UNSET,
        on_delta: Optional[DeltaCallback] = None,
    ) -> ChatStream:
        """Start a review turn (``review/start``) and return its steps as a :class:`ChatStream`.

        ``target`` is e.g. ``{"type": "uncommittedChanges"}``,
        ``{"type": "baseBranch", "branch": "main"}``,
        ``{"type": "commit", "sha": ..., "title": ...}`` or
        ``{"type": "custom", "instructions": ...}``. ``delivery`` may be
        ``"inline"`` (the only value today's server accepts) or ``None``.
        The review's findings arrive as an ``exitedReviewMode`` step.
        """
        if not isinstance(thread_id, str) or not thread_id:
            raise TypeError("thread_id must be a non-empty string")
        if not isinstance(target, Mapping) or not isinstance(target.get("type"), str):
            raise TypeError("target must be a dict with a 'type', e.g. {'type': 'uncommittedChanges'}")
        if delivery is not None and not isinstance(delivery, str):
            raise TypeError("delivery must be a string or None")
        idle = (
            self.inactivity_timeout
            if inactivity_timeout is UNSET
            else _check_timeout(inactivity_timeout, "inactivity_timeout")
        )
        self._ensure_initialized()
        thread = self._open_thread(thread_id, None)
        params: Dict[str, Any] = {"threadId": thread, "target": dict(target)}
        if delivery is not None:
            params["delivery"] = delivery
        state = self._run_turn_request(thread, "review/start", params)
        return ChatStream(self, state, cursor=0, inactivity_timeout=idle, on_delta=on_delta, mode="chat")

    # -- server requests (see server_requests.py) ---------------------------
    def _turn_state_of_thread(self, thread_id: Optional[str]) -> Optional[TurnState]:
        if thread_id is None:
            return None
        with self._turn_lock:
            return self._active_by_thread.get(thread_id)

    def _respond(self, request: ServerRequest, result: Any) -> None:
        self._conn.respond(request.id, result)

    def _respond_error(self, request: ServerRequest, code: int, message: str) -> None:
        self._conn.respond_error(request.id, code, message)
