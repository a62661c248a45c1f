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
from typing import Any, Callable, Dict, Optional, Union

from . import protocol
from ._version import __version__
from .config import UNSET, TurnOverrides, check_timeout
from .connection import Connection
from .conversation import ConversationMixin
from .errors import (
    CodexForkError,
    CodexOverloadedError,
    CodexTimeoutError,
    CodexTransportError,
)
from .protocol import Notification, ServerRequest
from .server_ops import ServerOpsMixin
from .server_requests import ServerRequestDispatcher
from .thread_ops import ThreadOpsMixin
from .transports.base import Transport
from .transports.stdio import StdioTransport
from .transports.websocket import WebSocketTransport
from .turns import TurnState
from .values import InitializeResult

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

# A server that loses the CODEX_HOME start-up race is started again this often.
STARTUP_RACE_RETRIES = 3

_live_clients: weakref.WeakSet[CodexClient] = weakref.WeakSet()


@atexit.register
def _close_clients_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    for client in list(_live_clients):
        try:
            client.close()
        except Exception:
            pass


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


class CodexClient(ConversationMixin, ThreadOpsMixin, ServerOpsMixin):
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
        self.request_timeout = check_timeout(request_timeout, "request_timeout")
        self.inactivity_timeout = check_timeout(inactivity_timeout, "inactivity_timeout")
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
        self._conn = self._new_connection()
        self._state = "unopened"
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._initialize_result: Optional[InitializeResult] = None
        self._turn_lock = threading.Condition(threading.Lock())
        self._active_by_thread: Dict[str, TurnState] = {}
        self._turns: Dict[str, TurnState] = {}
        self._last_prune = time.monotonic()
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
        self._check_pid()  # not _ready(): a server already dead of the start-up race is retried below
        if self._state != "open":
            self.start()
        with self._init_lock:
            if self._initialize_result is None:
                wait = self._timeout_or_default(timeout)
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
        self._conn = self._new_connection()
        self._conn.start()

    def _new_connection(self) -> Connection:
        """A connection over the current transport, wired to this client's dispatcher."""
        return Connection(
            self._transport,
            on_server_request=self._requests.dispatch,
            on_unrouted=self._on_unrouted,
            wants_unrouted_deltas=self._requests.has_listeners,
        )

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

    def _timeout_or_default(self, timeout: Optional[float]) -> Optional[float]:
        """A call's ``timeout`` argument: ``None`` means the client's ``request_timeout``."""
        return self.request_timeout if timeout is None else check_timeout(timeout, "timeout")

    def _call(self, method: str, params: Dict[str, Any], timeout: Optional[float] = None) -> Any:
        """``initialize`` if needed, then the request (``timeout`` as in :meth:`_timeout_or_default`)."""
        self._ensure_initialized()
        return self._request(method, params, self._timeout_or_default(timeout))

    # -- notifications outside turns ---------------------------------------
    def _on_unrouted(self, message: Notification) -> None:
        self._requests.notify_listeners(message)

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
