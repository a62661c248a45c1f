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
from .approval_ops import ApprovalOpsMixin
from .config import (
    ThreadConfig,
    check_count,
    check_id,
    check_timeout,
    check_wait,
    resolve_timeout,
)
from .conversation import Conversation, RecordingSession
from .handshake import DEFAULT_INITIALIZE_PARAMS, merge_initialize_params
from .listeners import Listeners
from .protocol import Notification
from .reconnect import Reconnector, ReconnectPolicy
from .server_ops import ServerOpsMixin
from .server_requests import ServerRequestDispatcher
from .thread_ops import ThreadOpsMixin
from .transport import as_line_transport
from .transports.stdio import StdioTransport
from .transports.websocket import WebSocketTransport
from .turn_ops import TurnOpsMixin
from .turn_registry import MAX_LOADED_THREADS, THREAD_IDLE_SECONDS, TurnRegistry
from .values import InitializeResult

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


class CodexClient(TurnOpsMixin, ThreadOpsMixin, ServerOpsMixin, ApprovalOpsMixin, AccountOpsMixin):
    """A blocking client for one ``codex app-server`` (over stdio or a websocket).

    Create it with :meth:`connect_stdio` or :meth:`connect_websocket` (or pass
    a transport: codex_sync's own, or an object of the async SDK's shape, see
    ``codex_sync.transport``), then use it in a ``with`` block (or call
    :meth:`start`/:meth:`close`; the first call that needs the server starts
    it). Every method may be called from any thread, concurrently: requests
    and turns share one connection and each reply reaches exactly its
    caller. Every blocking call has a deadline (``request_timeout``, default
    30 s) or waits on a turn's inactivity timeout (default 180 s), and fails
    at once with :class:`CodexTransportError` if the server dies. Ctrl-C
    works while blocked. A client must not be used in a process forked after
    it started (:class:`CodexForkError`): create one per process.

    Options shared by both constructors, as in the async SDK:
    ``request_timeout`` (seconds; ``None`` or ``codex_sync.NO_TIMEOUT`` = no
    limit), ``inactivity_timeout`` (default for turns; ``None`` or
    ``NO_TIMEOUT`` = no limit), ``approval_mode`` (``"auto"``: approvals no
    handler takes are declined; ``"manual"``: they wait for
    :meth:`respond_approval`), ``user_input_response_timeout`` (how long a
    question no handler takes waits for :meth:`respond_user_input` before an
    error reply; ``None`` = for ever, ``0`` = not at all), ``strict``
    (a ``thread/resume`` the server refuses before a turn raises, instead of
    the turn going ahead). And: ``approval_handler`` and
    ``user_input_handler`` (see ``codex_sync.approvals``), ``experimental_api``
    (ask for experimental methods), ``client_info`` (``{"name": ...,
    "version": ...}`` sent in ``initialize``), ``overload_retries`` (how often
    a -32001 reply is retried), ``max_loaded_threads`` and
    ``thread_idle_seconds`` (a long-lived client unsubscribes the threads it
    used least recently beyond this many, and those idle this long, so the
    server can unload them; the next turn on one resumes it; ``None`` for no
    idle limit), ``reconnect`` (websocket and unix socket: ``True`` or a
    :class:`~codex_sync.reconnect.ReconnectPolicy` re-establishes a dropped
    connection and resumes every running turn in place; see
    ``docs/durable.md``). Raises :class:`TypeError`/:class:`ValueError` for a
    bad option; does not block.
    """

    def __init__(
        self,
        transport: Any,
        *,
        request_timeout: Optional[float] = 30.0,
        inactivity_timeout: Optional[float] = 180.0,
        user_input_response_timeout: Optional[float] = 300.0,
        approval_mode: str = "auto",
        strict: bool = False,
        approval_handler: Optional[Callable[..., Any]] = None,
        user_input_handler: Optional[Callable[..., Any]] = None,
        experimental_api: bool = False,
        client_info: Optional[Mapping[str, Any]] = None,
        overload_retries: int = 4,
        max_loaded_threads: int = MAX_LOADED_THREADS,
        thread_idle_seconds: Optional[float] = THREAD_IDLE_SECONDS,
        reconnect: Union[bool, ReconnectPolicy] = False,
    ) -> None:
        transport = as_line_transport(transport)
        if reconnect and isinstance(transport, StdioTransport):
            raise ValueError("reconnect= needs a server that outlives the connection (websocket or unix socket); "
                             "a stdio server ends with its pipe, and its turns with it")
        self.request_timeout = check_timeout(request_timeout, "request_timeout")
        self.inactivity_timeout = check_timeout(inactivity_timeout, "inactivity_timeout")
        self.user_input_response_timeout = check_wait(user_input_response_timeout, "user_input_response_timeout")
        if not isinstance(experimental_api, bool):
            raise TypeError("experimental_api must be True or False")
        if not isinstance(strict, bool):
            raise TypeError("strict must be True or False")
        if client_info is not None and not isinstance(client_info, Mapping):
            raise TypeError(f"client_info must be a dict or None, not {type(client_info).__name__}")
        check_count(overload_retries, "overload_retries")
        check_count(max_loaded_threads, "max_loaded_threads", 1)
        idle_threads = check_timeout(thread_idle_seconds, "thread_idle_seconds")
        self.experimental_api = experimental_api
        self.client_info = dict(client_info) if client_info else None
        self.connect_timeout: Optional[float] = None  # set by connect_stdio/connect_websocket
        self._listeners = Listeners()
        self._session = RecordingSession(
            transport,
            overload_retries=overload_retries,
            on_unrouted=self._unrouted,
            wants_unrouted_deltas=self._listeners.wanted,
        )
        self._turns = TurnRegistry(
            self._session, max_loaded_threads=max_loaded_threads, thread_idle_seconds=idle_threads
        )
        self._requests = ServerRequestDispatcher(
            self._session, self._turns, approval_handler=approval_handler, user_input_handler=user_input_handler,
            approval_mode=approval_mode, user_input_response_timeout=self.user_input_response_timeout,
        )
        self._session.on_server_request = self._requests.dispatch
        self._conversation = Conversation(self._session, self._turns, self, strict=strict)
        if reconnect:
            policy = reconnect if isinstance(reconnect, ReconnectPolicy) else ReconnectPolicy()
            self._session.on_dropped = Reconnector(self._session, policy, self.request_timeout or 30.0).dropped

    def _unrouted(self, message: Notification) -> None:
        """On the reader: a notification no turn took (``serverRequest/resolved`` is noted first).

        One that names a turn but no thread goes to that turn if it runs here.
        """
        if message.thread_id is None and self._turns.deliver_by_turn(message):
            return
        if message.method == protocol.SERVER_REQUEST_RESOLVED:
            self._requests.resolved(message.params.get("requestId"))
        self._listeners.offer(message)

    @property
    def strict(self) -> bool:
        """Whether a ``thread/resume`` the server refuses before a turn raises (see the class)."""
        return self._conversation.strict

    @property
    def approval_mode(self) -> str:
        """``"auto"`` or ``"manual"``: what happens to an approval no handler takes."""
        return self._requests.approval_mode

    # -- construction ------------------------------------------------------
    @classmethod
    def connect_stdio(
        cls,
        command: Union[str, Sequence[str], None] = None,
        *,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        connect_timeout: float = 30.0,
        request_timeout: Optional[float] = 30.0,
        inactivity_timeout: Optional[float] = 180.0,
        **options: Any,
    ) -> CodexClient:
        """A client that runs the app-server as a child process (not started yet).

        ``command`` (a list, or a string split like a shell would) wins over
        ``$CODEX_APP_SERVER_CMD``, then ``codex app-server`` on ``PATH``, then
        the binary of the ``openai-codex-cli-bin`` package. ``env`` is the
        child's whole environment, as in :class:`subprocess.Popen` (``None``:
        this process's; pass ``{**os.environ, "X": "1"}`` to add to it).
        ``connect_timeout`` is taken (and
        checked) for the async SDK's signature: starting a process does not
        wait for the server, so it bounds nothing here. The other options are
        the constructor's. Does not block.
        """
        client = cls(StdioTransport(command, cwd=cwd, env=env), request_timeout=request_timeout,
                     inactivity_timeout=inactivity_timeout, **options)
        client.connect_timeout = check_wait(connect_timeout, "connect_timeout")
        return client

    @classmethod
    def connect_websocket(
        cls,
        url: Optional[str] = None,
        *,
        token: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        connect_timeout: float = 30.0,
        sslopt: Optional[Dict[str, Any]] = None,
        request_timeout: Optional[float] = 30.0,
        inactivity_timeout: Optional[float] = 180.0,
        **options: Any,
    ) -> CodexClient:
        """A client for ``codex app-server --listen ws://…`` (not connected yet).

        ``url`` defaults to ``$CODEX_APP_SERVER_WS_URL`` or
        ``ws://127.0.0.1:8765``; ``token`` to ``$CODEX_APP_SERVER_TOKEN``.
        ``connect_timeout`` bounds the handshake; ``sslopt`` configures TLS
        for ``wss://``. The other options are the constructor's. Does not block.
        """
        transport = WebSocketTransport(
            url, token=token, headers=headers, connect_timeout=connect_timeout, sslopt=sslopt
        )
        client = cls(transport, request_timeout=request_timeout, inactivity_timeout=inactivity_timeout, **options)
        client.connect_timeout = float(connect_timeout)
        return client

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
        result. Blocks up to ``timeout`` (``None``: ``request_timeout``;
        ``codex_sync.NO_TIMEOUT``: no limit). Raises :class:`CodexTimeoutError`,
        :class:`CodexProtocolError`, :class:`CodexTransportError`. Any thread.
        """
        merged = merge_initialize_params(params)
        if self.experimental_api and isinstance(merged.get("capabilities"), dict):
            merged["capabilities"].setdefault("experimentalApi", True)
        if self.client_info and params is None:
            merged["clientInfo"] = dict(self.client_info)
        result = self._session.initialize(merged, resolve_timeout(timeout, self.request_timeout))
        _live_clients.add(self)
        return result

    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None) -> Any:
        """Send any JSON-RPC request and block for its result (a dict, usually).

        ``params=None`` sends ``{}``. ``timeout``: seconds; ``None`` (the
        default) means the client's ``request_timeout``; ``codex_sync.NO_TIMEOUT``
        means no limit. A -32001 (overloaded) reply is retried with jittered
        backoff, then raises :class:`CodexOverloadedError`. Raises
        :class:`CodexProtocolError` for other error replies,
        :class:`CodexTimeoutError`, :class:`CodexTransportError`. Any thread.
        """
        if not isinstance(method, str) or not method:
            raise TypeError(f"method must be a non-empty string, not {method!r}")
        if params is not None and type(params) is not dict and not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict or None, not {type(params).__name__}")
        wait = resolve_timeout(timeout, self.request_timeout)
        self._ensure_initialized()
        return self._session.request(method, dict(params) if params is not None else None, wait)

    def _ensure_initialized(self, *, experimental: bool = False) -> None:
        """``initialize`` once; with ``experimental`` (a turn asks for plan mode), ask for the experimental API."""
        if self._session.initialize_result is None:
            if experimental and not self.experimental_api:
                log.info("the first turn asks for a collaboration mode: initializing with experimentalApi")
                self.experimental_api = True
            self.initialize()

    def _call(
        self, method: str, params: Dict[str, Any], timeout: Optional[float] = None, *, extra_seconds: float = 0.0
    ) -> Any:
        """``initialize`` if needed, then one request (the mixins' one declared call)."""
        wait = resolve_timeout(timeout, self.request_timeout)
        if wait is not None:
            wait += extra_seconds
        self._ensure_initialized()
        return self._session.request(method, params, wait)

    def _idle_timeout(self, value: Optional[float]) -> Optional[float]:
        """A call's ``inactivity_timeout``: ``None`` means the client's, ``NO_TIMEOUT`` no limit."""
        return resolve_timeout(value, self.inactivity_timeout, "inactivity_timeout")

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
