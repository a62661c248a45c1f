"""Answer every request the server sends, off the reader thread, on a bounded pool.

The server waits for ever for an answer to an approval or a question, so
every server request gets one: from a handler (turn over thread over client),
from a person through ``chat()`` (``MANUAL``) or through
``approval_requests()``/``user_input_requests()``, or from a safe default
(approvals declined with one warning unless ``approval_mode="manual"`` holds
them for a person; questions held ``user_input_response_timeout`` seconds for
an answer, then an error reply; an error reply for the rest; ``-32601`` for
methods we do not know).

Every approval and question is also put on a feed (:mod:`codex_sync.pending`)
for ``approval_requests()``/``user_input_requests()``, whoever answers it.

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
import weakref
from typing import Any, List, Optional, Tuple

from typing_extensions import Protocol

from . import protocol
from .approvals import (
    MANUAL,
    ApprovalRequest,
    Responder,
    ServerRequestView,
    UserInputRequest,
    check_handler,
    default_answer,
    make_request_view,
    run_handler,
)
from .pending import Expiry, RequestFeed
from .protocol import RequestId, ServerRequest

log = logging.getLogger("codex_sync.server_requests")

SERVER_REQUEST_WORKERS = 8
_STOP_JOIN_SECONDS = 2.0
NO_ANSWER = -32000  # the error code of a question nobody answered in time (as the async SDK sends)
APPROVAL_MODES = ("auto", "manual")

Handlers = Tuple[Any, Any]  # (approval handler, user-input handler); None falls back


class TurnOfRequest(Protocol):
    """What the dispatcher needs of the running turn a request belongs to."""

    handlers: Optional[Handlers]
    finished: bool
    events: List[Any]

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
        approval_mode: str = "auto",
        user_input_response_timeout: Optional[float] = None,
    ) -> None:
        check_handler(approval_handler, "approval_handler")
        check_handler(user_input_handler, "user_input_handler")
        if approval_mode not in APPROVAL_MODES:
            raise ValueError(f"approval_mode must be 'auto' or 'manual', not {approval_mode!r}")
        self._responder = responder
        self._turns = turns
        self.approval_handler = approval_handler
        self.user_input_handler = user_input_handler
        self.approval_mode = approval_mode
        self.user_input_response_timeout = user_input_response_timeout  # None: hold a question for ever
        self.approvals: RequestFeed[ApprovalRequest] = RequestFeed("approval_requests")
        self.user_inputs: RequestFeed[UserInputRequest] = RequestFeed("user_input_requests")
        self._expiry = Expiry()
        self._open: weakref.WeakValueDictionary[RequestId, ServerRequestView] = weakref.WeakValueDictionary()
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
            view.attach_turn(state)
        with self._lock:
            if self._closed:
                return  # the connection is going away: nobody could send the answer
            self._open[view.id] = view
            if self._idle <= 0 and len(self._workers) < SERVER_REQUEST_WORKERS:
                worker = threading.Thread(target=self._work, name="codex-sync-server-request", daemon=True)
                self._workers.append(worker)
                self._idle += 1
                worker.start()
            self._idle -= 1
        if isinstance(view, ApprovalRequest):
            self.approvals.put(view)
        elif isinstance(view, UserInputRequest):
            self.user_inputs.put(view)
        self._jobs.put((view, state))

    def resolved(self, request_id: Any) -> None:
        """On the reader: ``serverRequest/resolved`` named ``request_id``; it awaits no answer now."""
        with self._lock:
            view = self._open.pop(request_id, None)
        if view is not None:
            view.mark_resolved()

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
                self._unhandled(view)
            else:
                run_handler(view, handler)
        except Exception as exc:  # never leave the server waiting
            log.exception("answering %s failed", view.method)
            try:
                view.answer_error(protocol.INTERNAL_ERROR, f"client failed to answer: {exc}")
            except Exception:
                log.debug("could not send the error answer to %s", view.method, exc_info=True)

    def _unhandled(self, view: ServerRequestView) -> None:
        """No handler and no ``chat()`` loop took it: hold it for a person, or answer the default."""
        if isinstance(view, ApprovalRequest) and self.approval_mode == "manual":
            log.debug("holding %s %r for a manual answer", view.method, view.id)
            return
        if isinstance(view, UserInputRequest):
            wait = self.user_input_response_timeout
            if wait is None:
                return  # held for ever: answered through user_input_requests() or not at all
            if wait > 0:
                self._expiry.at(wait, lambda: self._give_up(view, wait))
            else:
                self._give_up(view, wait)
            return
        default_answer(view)

    @staticmethod
    def _give_up(view: ServerRequestView, waited: float) -> None:
        """Answer a question nobody answered in time with an error (on the expiry thread)."""
        if view.pending:
            try:
                view.answer_error(
                    NO_ANSWER,
                    f"no answer to {view.method} within {waited:g}s: codex_sync has no user_input_handler "
                    "and nobody answered it from client.user_input_requests()",
                )
            except Exception as exc:  # the connection is gone: nobody waits for the answer any more
                log.debug("could not answer %s: %s", view.method, exc)

    def close(self) -> None:
        """Stop the workers once they finish the handler they run. Idempotent, any thread.

        Waits up to 2 s per worker (never for the calling thread itself); a
        handler blocked longer (a terminal prompt) is left to end by itself.
        The ``approval_requests()``/``user_input_requests()`` iterators end
        and held questions are no longer answered.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
        self.approvals.close()
        self.user_inputs.close()
        self._expiry.close()
        for _ in workers:
            self._jobs.put(None)
        current = threading.current_thread()
        for worker in workers:
            if worker is not current:
                worker.join(_STOP_JOIN_SECONDS)
