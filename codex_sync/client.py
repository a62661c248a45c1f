"""``CodexClient``: the blocking facade, and the composition root of one client's parts.

A client is built from parts that each own one concern (see ``docs/architecture.md``):
:class:`~codex_sync.session.Session` (the current connection, life cycle,
``initialize``, every request), :class:`~codex_sync.turn_registry.TurnRegistry`
(running turns), :class:`~codex_sync.server_requests.ServerRequestDispatcher`
(answers to server requests) and :class:`~codex_sync.listeners.Listeners`
(``on_notification``). Its public methods check their arguments and delegate.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Dict, Optional, Tuple, Union

from . import protocol
from .account_ops import AccountOpsMixin
from .chat import ChatStream, run_to_end
from .config import (
    UNSET,
    ThreadConfig,
    TurnOverrides,
    check_count,
    check_id,
    check_timeout,
)
from .conversation import Conversation
from .inputs import InputArg, to_input_items
from .listeners import Listeners
from .protocol import Notification
from .server_ops import ServerOpsMixin
from .server_requests import ServerRequestDispatcher
from .session import DEFAULT_INITIALIZE_PARAMS, Session, merge_initialize_params
from .thread_ops import ThreadOpsMixin
from .transcript import DeltaCallback
from .transports.base import Transport
from .transports.stdio import StdioTransport
from .transports.websocket import WebSocketTransport
from .turn_args import check_turn_args
from .turn_registry import MAX_LOADED_THREADS, THREAD_IDLE_SECONDS, TurnRegistry
from .values import CancelResult, ChatContinuation, ChatResult, InitializeResult

log = logging.getLogger("codex_sync")

__all__ = ["CodexClient", "DEFAULT_INITIALIZE_PARAMS", "merge_initialize_params"]

_live_clients: weakref.WeakSet[CodexClient] = weakref.WeakSet()


@atexit.register
def _close_clients_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    for client in list(_live_clients):
        try:
            client.close()
        except Exception:
            pass


class CodexClient(ThreadOpsMixin, ServerOpsMixin, AccountOpsMixin):
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
    ``overload_retries`` (how often a -32001 reply is retried),
    ``max_loaded_threads`` and ``thread_idle_seconds`` (a long-lived client
    unsubscribes the threads it used least recently beyond this many, and
    those idle this long, so the server can unload them; the next turn on
    one resumes it; ``None`` for no idle limit).
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
        max_loaded_threads: int = MAX_LOADED_THREADS,
        thread_idle_seconds: Optional[float] = THREAD_IDLE_SECONDS,
    ) -> None:
        if not isinstance(transport, Transport):
            raise TypeError(f"transport must be a Transport, not {type(transport).__name__}")
        self.request_timeout = check_timeout(request_timeout, "request_timeout")
        self.inactivity_timeout = check_timeout(inactivity_timeout, "inactivity_timeout")
        if not isinstance(experimental_api, bool):
            raise TypeError("experimental_api must be True or False")
        if client_info is not None and not isinstance(client_info, Mapping):
            raise TypeError(f"client_info must be a dict or None, not {type(client_info).__name__}")
        check_count(overload_retries, "overload_retries")
        check_count(max_loaded_threads, "max_loaded_threads", 1)
        idle_threads = check_timeout(thread_idle_seconds, "thread_idle_seconds")
        self.experimental_api = experimental_api
        self.client_info = dict(client_info) if client_info else None
        self._listeners = Listeners()
        self._session = Session(
            transport,
            overload_retries=overload_retries,
            on_unrouted=self._listeners.offer,
            wants_unrouted_deltas=self._listeners.wanted,
        )
        self._turns = TurnRegistry(
            self._session, max_loaded_threads=max_loaded_threads, thread_idle_seconds=idle_threads
        )
        self._requests = ServerRequestDispatcher(
            self._session, self._turns, approval_handler=approval_handler, user_input_handler=user_input_handler
        )
        self._session.on_server_request = self._requests.dispatch
        self._conversation = Conversation(self._session, self._turns, self)

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

    @classmethod
    def connect_unix(cls, path: str, *, connect_timeout: float = 10.0, **options: Any) -> CodexClient:
        """A client for ``codex app-server --listen unix://PATH`` (websocket over the socket; not connected yet)."""
        return cls(WebSocketTransport(unix_socket=path, connect_timeout=connect_timeout), **options)

    def __repr__(self) -> str:
        return f"<CodexClient {self._session.describe()}>"

    @property
    def overload_retries(self) -> int:
        """How often a -32001 (overloaded) reply is retried before :class:`CodexOverloadedError`."""
        return self._session.overload_retries

    @overload_retries.setter
    def overload_retries(self, value: int) -> None:
        self._session.overload_retries = value

    # -- life cycle ---------------------------------------------------------
    def start(self) -> CodexClient:
        """Connect (spawn the server or open the socket). Idempotent; returns ``self``.

        Blocks until connected. Raises :class:`CodexTransportError` if it
        cannot, or if the client was closed ("create a new client").
        """
        self._session.start()
        _live_clients.add(self)
        return self

    def close(self) -> None:
        """Close the connection; every waiter raises :class:`CodexTransportError`.

        Idempotent, callable from any thread (also from callbacks). Blocks
        a few seconds at most while the server process exits; a second
        caller returns only once the first one's close is done.
        """
        self._session.close(self._requests.close, self._listeners.close, self._turns.close)
        _live_clients.discard(self)

    def __enter__(self) -> CodexClient:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` was called or the connection died."""
        return self._session.closed

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
        result = self._session.initialize(merged, self._timeout_or_default(timeout))
        _live_clients.add(self)
        return result

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
        if params is not None and type(params) is not dict and not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict or None, not {type(params).__name__}")
        wait = self.request_timeout if timeout is UNSET else check_timeout(timeout, "timeout")
        self._ensure_initialized()
        return self._session.request(method, dict(params) if params is not None else None, wait)

    def _ensure_initialized(self) -> None:
        if self._session.initialize_result is None:
            self.initialize()

    def _timeout_or_default(self, timeout: Optional[float]) -> Optional[float]:
        """A call's ``timeout`` argument: ``None`` means the client's ``request_timeout``."""
        return self.request_timeout if timeout is None else check_timeout(timeout, "timeout")

    def _call(
        self, method: str, params: Dict[str, Any], timeout: Optional[float] = None, *, extra_seconds: float = 0.0
    ) -> Any:
        """``initialize`` if needed, then one request (the mixins' one declared call)."""
        wait = self._timeout_or_default(timeout)
        if wait is not None:
            wait += extra_seconds
        self._ensure_initialized()
        return self._session.request(method, params, wait)

    def _idle_timeout(self, value: Any) -> Optional[float]:
        """A call's ``inactivity_timeout``: ``UNSET`` means the client's."""
        return self.inactivity_timeout if value is UNSET else check_timeout(value, "inactivity_timeout")

    # -- threads ------------------------------------------------------------------
    def set_thread_defaults(self, thread_id: str, overrides: ThreadConfig) -> Dict[str, Any]:
        """Apply thread-level settings between turns.

        For a thread this client has not loaded, ``thread/resume`` loads it
        with the settings and its result is returned. For a loaded thread,
        today's server ignores new settings in ``thread/resume`` (and fails it
        before the first turn), so none is sent: the settings ``turn/start``
        can carry (``model``, ``cwd``, ``approval_policy``,
        ``approvals_reviewer``, ``sandbox``, ``service_tier``, ``personality``)
        go with this client's next turn on the thread, where they stick, and
        ``{}`` is returned. Instructions and the rest are fixed once a thread
        has history (a fork keeps them too): a warning names them; start a
        new thread to change them.
        """
        return self._set_thread_defaults(thread_id, overrides)[0]

    def _set_thread_defaults(self, thread_id: str, overrides: ThreadConfig) -> Tuple[Dict[str, Any], ThreadConfig]:
        if not isinstance(overrides, ThreadConfig):
            raise TypeError(f"overrides must be a ThreadConfig, not {type(overrides).__name__}")
        check_id(thread_id, "thread_id")
        self._ensure_initialized()
        return self._conversation.apply_thread_defaults(thread_id, overrides)

    def _apply_thread_defaults(self, thread_id: str, overrides: ThreadConfig) -> ThreadConfig:
        """:meth:`set_thread_defaults`, returning the settings that took effect (for ``ThreadHandle``)."""
        return self._set_thread_defaults(thread_id, overrides)[1]

    def _set_thread_handlers(self, thread_id: str, approval: Any, user_input: Any) -> None:
        self._turns.set_thread_handlers(thread_id, approval, user_input)

    def compact_thread(self, thread_id: str, timeout: Optional[float] = None) -> None:
        """Compact the thread's context (``thread/compact/start``) and wait for that turn to end.

        The compaction is a turn of its own: it waits for a running turn of
        this client on the thread first, and others wait for it. Blocks up to
        ``timeout`` (default: ``request_timeout``) for it to finish; raises
        :class:`CodexTimeoutError` then. Ctrl-C stops the compaction.
        """
        check_id(thread_id, "thread_id")
        wait = self._timeout_or_default(timeout)
        self._ensure_initialized()
        self._conversation.compact(thread_id, wait)

    # -- turns ----------------------------------------------------------------------
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
        args = check_turn_args(
            text, thread_id, user=user, metadata=metadata, thread_config=thread_config,
            turn_overrides=turn_overrides, continuation=continuation, approval_handler=approval_handler,
            user_input_handler=user_input_handler, on_delta=on_delta,
        )
        idle = self._idle_timeout(inactivity_timeout)
        if args.continuation is None:
            self._ensure_initialized()
        return self._conversation.open_stream("chat", args, idle, on_delta)

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
        interrupts the turn, drains it and re-raises. A server request whose
        handler is ``codex_sync.MANUAL`` gets the default answer here (with a
        warning): answering by hand needs a ``chat()`` loop.
        """
        args = check_turn_args(
            text, thread_id, user=user, metadata=metadata, thread_config=thread_config,
            turn_overrides=turn_overrides, continuation=continuation, approval_handler=approval_handler,
            user_input_handler=user_input_handler, on_delta=on_delta,
        )
        idle = self._idle_timeout(inactivity_timeout)
        if args.continuation is None:
            self._ensure_initialized()
        return run_to_end(self._conversation.open_stream("chat_once", args, idle, on_delta),
                          self._conversation.read_back)

    def cancel(self, continuation: ChatContinuation, timeout: Optional[float] = None) -> CancelResult:
        """Stop a turn left by :class:`CodexTurnInactiveError` and collect what was unread.

        Sends ``turn/interrupt`` if the turn still runs, then waits for
        ``turn/completed`` — one deadline for both, ``timeout`` seconds
        (default: ``request_timeout``). Returns the steps and events after the
        continuation's cursor; the turn is forgotten and its thread can take a
        new turn at once. Raises :class:`CodexTimeoutError` if the turn does
        not end in time, :class:`ValueError` for an unknown continuation.
        """
        state = self._turns.find(continuation)
        return self._turns.cancel(state, continuation.cursor, self._timeout_or_default(timeout))

    def steer_turn(self, *, thread_id: str, expected_turn_id: str, input_items: InputArg) -> str:
        """Add input to the running turn (``turn/steer``); returns the turn id.

        ``input_items`` is a string or a list of input items. Blocks for one
        request; raises :class:`CodexProtocolError` if no such turn is running.
        """
        check_id(thread_id, "thread_id")
        check_id(expected_turn_id, "expected_turn_id")
        items = to_input_items(input_items, "input_items")
        result = self._call(
            protocol.TURN_STEER, {"threadId": thread_id, "expectedTurnId": expected_turn_id, "input": items}
        )
        return str((result or {}).get("turnId") or expected_turn_id)

    def interrupt_turn(
        self, turn_id: str, thread_id: Optional[str] = None, timeout: Optional[float] = None
    ) -> None:
        """Send ``turn/interrupt`` for ``turn_id`` (low level; returns once the server accepts).

        ``thread_id`` may be left out for a turn this client started. The turn
        then ends with ``turn/completed`` (status ``interrupted``) on its own.
        Blocks for one request (``timeout``, default ``request_timeout``).
        """
        check_id(turn_id, "turn_id")
        if thread_id is None:
            thread_id = self._turns.thread_of_turn(turn_id)
            if thread_id is None:
                raise ValueError(f"thread_id is needed: turn {turn_id} is not one this client runs")
        self._call(protocol.TURN_INTERRUPT, {"threadId": thread_id, "turnId": turn_id}, timeout)

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
        The review's findings arrive as an ``exitedReviewMode`` step. Blocks
        until the review has started.
        """
        check_id(thread_id, "thread_id")
        if not isinstance(target, Mapping) or not isinstance(target.get("type"), str):
            raise TypeError("target must be a dict with a 'type', e.g. {'type': 'uncommittedChanges'}")
        if delivery is not None and not isinstance(delivery, str):
            raise TypeError("delivery must be a string or None")
        if on_delta is not None and not callable(on_delta):
            raise TypeError("on_delta must be callable or None")
        idle = self._idle_timeout(inactivity_timeout)
        self._ensure_initialized()
        return self._conversation.open_review(thread_id, target, delivery, idle, on_delta)

    # -- server requests and notifications ------------------------------------------
    def on_notification(
        self, method: Optional[str], callback: Callable[[Notification], None]
    ) -> Callable[[], None]:
        """Call ``callback(notification)`` for notifications outside any turn of ours.

        ``method=None`` means every method. Callbacks run in order on one
        worker thread, never the reader; one that raises is logged. If they
        fall 10,000 notifications behind, the newest are dropped with a
        warning (nothing piles up without bound). Returns a function that
        unsubscribes. Notifications of running turns go to their ``chat()``
        readers. Any thread; does not block.
        """
        if method is not None and not isinstance(method, str):
            raise TypeError("method must be a string or None")
        if not callable(callback):
            raise TypeError("callback must be callable")
        return self._listeners.add(method, callback)
