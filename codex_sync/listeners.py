"""``on_notification`` listeners: notifications outside any turn, run on one worker thread.

The reader hands each notification that no running turn took to
:meth:`Listeners.offer`, which never blocks: it queues the message only when
a listener wants its method, and drops the newest with a warning when the
listeners are :data:`LISTENER_QUEUE_LIMIT` messages behind. One worker thread
(``codex-sync-callbacks``, started with the first listener) runs the
callbacks in order; :meth:`Listeners.close` stops it, and no callback runs
after ``close()`` returns (except one already running, when ``close`` is
called from a callback).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, List, Optional, Tuple

from .protocol import Notification

log = logging.getLogger("codex_sync.listeners")

NotificationCallback = Callable[[Notification], None]
LISTENER_QUEUE_LIMIT = 10_000
_STOP_JOIN_SECONDS = 5.0


class Listeners:
    """The ``on_notification`` callbacks of one client and the worker that runs them."""

    def __init__(self) -> None:
        self._entries: List[Tuple[Optional[str], NotificationCallback]] = []
        self._lock = threading.Lock()  # guards _entries, _worker and _closed
        self._queue: queue.Queue[Optional[Notification]] = queue.Queue(LISTENER_QUEUE_LIMIT)
        self._worker: Optional[threading.Thread] = None
        self._closed = False
        self._dropped = 0

    def add(self, method: Optional[str], callback: NotificationCallback) -> Callable[[], None]:
        """Register ``callback`` for ``method`` (``None``: every method); returns the remover.

        Raises :class:`RuntimeError` after :meth:`close`.
        """
        entry = (method, callback)
        with self._lock:
            if self._closed:
                raise RuntimeError("this client is closed: its notification listeners have stopped")
            self._entries.append(entry)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="codex-sync-callbacks", daemon=True)
                self._worker.start()

        def remove() -> None:
            with self._lock:
                if entry in self._entries:
                    self._entries.remove(entry)

        return remove

    def wanted(self) -> bool:
        """Whether any listener is registered (read by the reader, without the lock)."""
        return bool(self._entries)

    def offer(self, message: Notification) -> None:
        """On the reader: queue ``message`` if a listener wants it. Never blocks."""
        entries = self._entries
        if not entries or self._closed or not any(m is None or m == message.method for m, _ in entries):
            return
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._dropped += 1
            if self._dropped in (1, 100, 10_000):
                log.warning(
                    "on_notification callbacks are too slow: %d notifications dropped (the newest)",
                    self._dropped,
                )

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None or self._closed:
                return
            with self._lock:
                entries = list(self._entries)
            for method, callback in entries:
                if self._closed:
                    return
                if method is None or method == message.method:
                    try:
                        callback(message)
                    except Exception:
                        log.exception("on_notification callback for %s raised", message.method)

    def close(self) -> None:
        """Stop the worker: queued notifications are dropped. Idempotent, any thread.

        Waits (up to 5 s) for a callback that is running to return, unless
        called from that callback.
        """
        with self._lock:
            self._closed = True
            worker = self._worker
        if worker is None:
            return
        while True:  # make room for the stop sign however full the queue is
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        try:
            self._queue.put_nowait(None)
        except queue.Full:  # pragma: no cover - the reader is gone by now; _closed stops the worker
            pass
        if worker is not threading.current_thread():
            worker.join(_STOP_JOIN_SECONDS)
