"""Answer every request the server sends, off the reader thread.

The server waits for ever for an answer to an approval or a question, so
every server request gets one: from a handler (turn over thread over client),
from a person through ``chat()`` (manual mode), or from a safe default
(approvals declined with one warning; an error reply otherwise; ``-32601``
for methods we do not know). Handlers run on a thread of their own, so one
that blocks (a terminal prompt) or calls the client back holds up nothing else.

Notifications that belong to no running turn go to ``on_notification``
listeners on one worker thread, or are dropped at once when nobody listens.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from . import protocol
from .approvals import (
    MANUAL,
    ServerRequestView,
    check_handler,
    default_answer,
    make_request_view,
    run_handler,
)
from .protocol import Notification, ServerRequest

if TYPE_CHECKING:  # pragma: no cover
    from .client import CodexClient
    from .turns import TurnState

log = logging.getLogger("codex_sync.server_requests")

NotificationCallback = Callable[[Notification], None]
LISTENER_QUEUE_LIMIT = 10_000


class ServerRequestDispatcher:
    """Routes server requests to handlers and unrouted notifications to listeners."""

    def __init__(
        self,
        client: CodexClient,
        *,
        approval_handler: Any,
        user_input_handler: Any,
    ) -> None:
        check_handler(approval_handler, "approval_handler")
        check_handler(user_input_handler, "user_input_handler")
        self._client = client
        self.approval_handler = approval_handler
        self.user_input_handler = user_input_handler
        self._thread_handlers: Dict[str, Tuple[Any, Any]] = {}
        self._listeners: List[Tuple[Optional[str], NotificationCallback]] = []
        self._listener_lock = threading.Lock()
        self._queue: queue.Queue[Optional[Notification]] = queue.Queue(LISTENER_QUEUE_LIMIT)
        self._worker: Optional[threading.Thread] = None
        self._dropped = 0

    # -- server requests ------------------------------------------------------
    def set_thread_handlers(self, thread_id: str, approval: Any, user_input: Any) -> None:
        """Handlers for one codex thread (``None`` falls back to the client's)."""
        if approval is None and user_input is None:
            self._thread_handlers.pop(thread_id, None)
        else:
            self._thread_handlers[thread_id] = (approval, user_input)

    def dispatch(self, message: ServerRequest) -> None:
        """On the reader: note the activity and hand the request to its own thread."""
        view = make_request_view(self._client, message)
        state = self._client._turn_state_of_thread(view.thread_id)
        if state is not None:
            state.touch()
        threading.Thread(
            target=self._answer, args=(view, state), name="codex-sync-server-request", daemon=True
        ).start()

    def _handler_for(self, view: ServerRequestView, state: Optional[TurnState]) -> Any:
        kind = view.handler_kind
        if kind is None:
            return None
        index = 0 if kind == "approval" else 1
        turn_handlers = state.handlers if state is not None else None
        if turn_handlers and turn_handlers[index] is not None:
            return turn_handlers[index]
        thread_handlers = self._thread_handlers.get(view.thread_id or "")
        if thread_handlers and thread_handlers[index] is not None:
            return thread_handlers[index]
        return self.approval_handler if index == 0 else self.user_input_handler

    def _answer(self, view: ServerRequestView, state: Optional[TurnState]) -> None:
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
            view.answer_error(protocol.INTERNAL_ERROR, f"client failed to answer: {exc}")

    # -- notifications outside turns --------------------------------------------
    def add_listener(self, method: Optional[str], callback: NotificationCallback) -> Callable[[], None]:
        """Register a listener; returns the function that removes it."""
        entry = (method, callback)
        with self._listener_lock:
            self._listeners.append(entry)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run_listeners, name="codex-sync-callbacks", daemon=True
                )
                self._worker.start()

        def unsubscribe() -> None:
            with self._listener_lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return unsubscribe

    def has_listeners(self) -> bool:
        """Whether any ``on_notification`` listener is registered (reader thread; no lock)."""
        return bool(self._listeners)

    def notify_listeners(self, message: Notification) -> None:
        """On the reader: queue ``message`` for listeners that want it (never blocks)."""
        listeners = self._listeners
        if not listeners or not any(m is None or m == message.method for m, _ in listeners):
            return
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._dropped += 1
            if self._dropped in (1, 100, 10_000):
                log.warning("on_notification callbacks are too slow: %d notifications dropped", self._dropped)

    def _run_listeners(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            with self._listener_lock:
                listeners = list(self._listeners)
            for method, callback in listeners:
                if method is None or method == message.method:
                    try:
                        callback(message)
                    except Exception:
                        log.exception("on_notification callback for %s raised", message.method)

    def close(self) -> None:
        """Stop the listener worker (it finishes the callback it is in)."""
        if self._worker is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # pragma: no cover
                pass
