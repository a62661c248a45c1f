"""Answer every request the server sends, off the reader thread, on a bounded pool.

The server waits for ever for an answer to an approval or a question, so
every server request gets one: from a handler (turn over thread over client),
from a person through ``chat()`` (manual mode), or from a safe default
(approvals declined with one warning; an error reply otherwise; ``-32601``
for methods we do not know).

The reader calls :meth:`ServerRequestDispatcher.dispatch`, which only wraps
the message and queues it. Up to :data:`SERVER_REQUEST_WORKERS` worker
threads (``codex-sync-server-request``, started as needed and kept) run the
handlers, so one that blocks (a terminal prompt) or calls the client back
holds up nothing else; more requests than workers wait in order.
:meth:`ServerRequestDispatcher.close` stops the workers. Requests reach their
turn through :class:`TurnLookup` and are answered through a
:class:`~codex_sync.approvals.Responder`: this module knows neither the
client nor the connection.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, List, Optional, Tuple

from typing_extensions import Protocol

from . import protocol
from .approvals import (
    MANUAL,
    Responder,
    ServerRequestView,
    check_handler,
    default_answer,
    make_request_view,
    run_handler,
)
from .protocol import ServerRequest

log = logging.getLogger("codex_sync.server_requests")

SERVER_REQUEST_WORKERS = 8
_STOP_JOIN_SECONDS = 2.0

Handlers = Tuple[Any, Any]  # (approval handler, user-input handler); None falls back


class TurnOfRequest(Protocol):
    """What the dispatcher needs of the running turn a request belongs to."""

    handlers: Optional[Handlers]

    def touch(self) -> None:
        """Restart the turn's idle clock."""

    def add_request(self, request: Any) -> bool:
        """Queue ``request`` for the turn's reader; ``False`` if the turn is over."""


class TurnLookup(Protocol):
    """How the dispatcher finds a request's turn and thread handlers (the turn registry)."""

    def turn_of_thread(self, thread_id: Optional[str]) -> Optional[TurnOfRequest]:
        """The turn this client runs on ``thread_id`` now, if any. Must not block."""

    def thread_handlers(self, thread_id: Optional[str]) -> Optional[Handlers]:
        """The handlers set for ``thread_id`` (a :class:`ThreadHandle`'s), if any."""


class ServerRequestDispatcher:
    """Routes server requests to handlers on a bounded pool of worker threads."""

    def __init__(
        self,
        responder: Responder,
        turns: TurnLookup,
        *,
        approval_handler: Any,
        user_input_handler: Any,
    ) -> None:
        check_handler(approval_handler, "approval_handler")
        check_handler(user_input_handler, "user_input_handler")
        self._responder = responder
        self._turns = turns
        self.approval_handler = approval_handler
        self.user_input_handler = user_input_handler
        self._jobs: queue.SimpleQueue[Optional[Tuple[ServerRequestView, Optional[TurnOfRequest]]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()  # guards _workers, _idle and _closed
        self._workers: List[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def dispatch(self, message: ServerRequest) -> None:
        """On the reader: note the turn's activity and queue the request. Never blocks long."""
        view = make_request_view(self._responder, message)
        state = self._turns.turn_of_thread(view.thread_id)
        if state is not None:
            state.touch()
        with self._lock:
            if self._closed:
                return  # the connection is going away: nobody could send the answer
            if self._idle <= 0 and len(self._workers) < SERVER_REQUEST_WORKERS:
                worker = threading.Thread(target=self._work, name="codex-sync-server-request", daemon=True)
                self._workers.append(worker)
                self._idle += 1
                worker.start()
            self._idle -= 1
        self._jobs.put((view, state))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._answer(*job)
            finally:
                with self._lock:
                    self._idle += 1

    def _handler_for(self, view: ServerRequestView, state: Optional[TurnOfRequest]) -> Any:
        kind = view.handler_kind
        if kind is None:
            return None
        index = 0 if kind == "approval" else 1
        turn_handlers = state.handlers if state is not None else None
        if turn_handlers and turn_handlers[index] is not None:
            return turn_handlers[index]
        thread_handlers = self._turns.thread_handlers(view.thread_id)
        if thread_handlers and thread_handlers[index] is not None:
            return thread_handlers[index]
        return self.approval_handler if index == 0 else self.user_input_handler

    def _answer(self, view: ServerRequestView, state: Optional[TurnOfRequest]) -> None:
        try:
            handler = self._handler_for(view, state)
            if handler == MANUAL and state is not None and state.add_request(view):
                return  # chat() yields it as an "approval" step; the caller answers
            if handler is None or handler == MANUAL:
                default_answer(view)
            else:
                run_handler(view, handler)
        except Exception as exc:  # never leave the server waiting
            log.exception("answering %s failed", view.method)
            try:
                view.answer_error(protocol.INTERNAL_ERROR, f"client failed to answer: {exc}")
            except Exception:
                log.debug("could not send the error answer to %s", view.method, exc_info=True)

    def close(self) -> None:
        """Stop the workers once they finish the handler they run. Idempotent, any thread.

        Waits up to 2 s per worker (never for the calling thread itself); a
        handler blocked longer (a terminal prompt) is left to end by itself.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
        for _ in workers:
            self._jobs.put(None)
        current = threading.current_thread()
        for worker in workers:
            if worker is not current:
                worker.join(_STOP_JOIN_SECONDS)
